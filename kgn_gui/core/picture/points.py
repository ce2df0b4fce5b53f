"""Views of a 1-D or 2-D kaleidoscopic network over its whole input box (no Qt).

The paper's first figures: for points on a line, the *output manifold* f(x) against x (flat,
many-to-one regions around the training points — over-generalization) and the *loss manifold*
(f(x) − x)²; for points in the plane, the vector field f(x) − x, the loss landscape ‖f(x) − x‖²
and the *basin map*: which training point the noise-free chain from each grid point reaches.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def _f(model: nn.Module, x: np.ndarray) -> np.ndarray:
    dev = next(model.parameters()).device
    return model(torch.as_tensor(x, dtype=torch.float32, device=dev)).cpu().numpy()


def output_of(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """1-D model: f at each value of x (a 1-D array)."""
    return _f(model, np.asarray(x, np.float32).reshape(-1, 1))[:, 0]


def output_manifold(model: nn.Module, value_range: tuple[float, float], n: int = 501) -> tuple[np.ndarray, np.ndarray]:
    """1-D model: (x, f(x)) at n evenly spaced x over [lo, hi]."""
    lo, hi = value_range
    x = np.linspace(lo, hi, n, dtype=np.float32)
    return x, _f(model, x[:, None])[:, 0]


def loss_manifold(model: nn.Module, value_range: tuple[float, float], n: int = 501) -> tuple[np.ndarray, np.ndarray]:
    """1-D model: (x, (f(x) − x)²)."""
    x, fx = output_manifold(model, value_range, n)
    return x, (fx - x) ** 2


def grid_2d(value_range: tuple[float, float], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, P): n evenly spaced values per axis and the n²×2 grid points, row-major (P[i·n + j] = (xs[j], ys[i]))."""
    lo, hi = value_range
    xs = np.linspace(lo, hi, n, dtype=np.float32)
    X, Y = np.meshgrid(xs, xs)
    return xs, xs.copy(), np.stack([X.ravel(), Y.ravel()], axis=1)


def vector_field(model: nn.Module, value_range: tuple[float, float], n: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """2-D model: (P, V) with P the n²×2 grid points and V = f(P) − P, the step a chain takes from each."""
    _, _, P = grid_2d(value_range, n)
    return P, _f(model, P) - P


def loss_landscape(model: nn.Module, value_range: tuple[float, float], n: int = 101) -> np.ndarray:
    """2-D model: ‖f(x) − x‖² on an n×n grid, as an n×n array indexed [y, x]."""
    _, _, P = grid_2d(value_range, n)
    return ((_f(model, P) - P) ** 2).sum(axis=1).reshape(n, n)


def basin_map(
    model: nn.Module,
    points: np.ndarray,
    value_range: tuple[float, float],
    n: int = 101,
    steps: int = 50,
    tol: float = 0.02,
) -> np.ndarray:
    """2-D (or 1-D) model: for every grid point, the index of the training point its noise-free chain
    is within ``tol`` (Euclidean) of after ``steps`` steps, or −1 when it reaches none.

    Returns an n×n int array indexed [y, x] for 2-D models, an n array for 1-D ones."""
    lo, hi = value_range
    points = np.asarray(points, np.float32)
    d = points.shape[1]
    if d == 2:
        _, _, P = grid_2d(value_range, n)
    else:
        P = np.linspace(lo, hi, n, dtype=np.float32)[:, None]
    x = P
    for _ in range(steps):
        x = np.clip(_f(model, x), lo, hi)
    dist = np.linalg.norm(x[:, None, :] - points[None, :, :], axis=2)
    idx = dist.argmin(axis=1)
    idx[dist[np.arange(len(x)), idx] > tol] = -1
    return idx.reshape(n, n) if d == 2 else idx


def basin_occupancy(basins: np.ndarray, n_points: int) -> np.ndarray:
    """Fraction of grid points in each training point's basin (length n_points), then the fraction in none."""
    b = basins.ravel()
    counts = np.array([(b == i).sum() for i in range(n_points)] + [(b == -1).sum()], dtype=np.float64)
    return counts / max(len(b), 1)


def cobweb(
    model: nn.Module, x0: float, steps: int, value_range: tuple[float, float], noise: np.ndarray | None = None
) -> np.ndarray:
    """1-D model: the cobweb path of a chain from x0: (x0, x0) → (x0, f(x0)) → (x1, x1) → (x1, f(x1)) → …

    ``noise`` (length ≥ steps, already scaled by ε) is added after each f, as in the chain.
    Returns a (2·steps + 1)×2 array of vertices."""
    lo, hi = value_range
    x = float(x0)
    verts = [(x, x)]
    for t in range(steps):
        fx = float(_f(model, np.array([[x]], np.float32))[0, 0])
        verts.append((x, fx))
        x = float(np.clip(fx + (noise[t] if noise is not None else 0.0), lo, hi))
        verts.append((x, x))
    return np.asarray(verts, dtype=np.float32)


def flat_regions(x: np.ndarray, fx: np.ndarray, slope: float = 0.1) -> list[tuple[float, float]]:
    """Intervals of x where |df/dx| < slope: the many-to-one regions of a 1-D output manifold."""
    g = np.abs(np.gradient(fx, x))
    flat = g < slope
    out, start = [], None
    for i, f in enumerate(flat):
        if f and start is None:
            start = i
        if (not f or i == len(flat) - 1) and start is not None:
            end = i if f else i - 1
            if end > start:
                out.append((float(x[start]), float(x[end])))
            start = None
    return out
