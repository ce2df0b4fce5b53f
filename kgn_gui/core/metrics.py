"""Per-step measures of a kaleidoscopic chain (numpy + torch; no Qt).

All distances are root-mean-square per value, i.e. ‖·‖/√D, in the model's value units, so
they read the same for 1-D points and for 784-pixel images:

* step size      s_t = ‖x_{t+1} − x_t‖ / √D        (how far one step moves a chain)
* residual       r_t = ‖f(x_t) − x_t‖ / √D          (how far x_t is from being a fixed point of f)
* nearest        d_t = min_i ‖x_t − X_i‖ / √D       (distance to the closest training example)

Curves show, for every step, the mean over chains and the 10–90 % band.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CURVES = ("step", "residual", "nearest")
CURVE_TITLES = {
    "step": "step size ‖x_{t+1} − x_t‖/√D",
    "residual": "residual ‖f(x_t) − x_t‖/√D",
    "nearest": "distance to nearest training example /√D",
}


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise ‖a − b‖/√D for two N×D tensors → N values."""
    return (a - b).pow(2).mean(dim=1).sqrt()


@torch.no_grad()
def nearest_training(x: torch.Tensor, train: torch.Tensor, chunk: int = 8192,
                     train_sq: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of x (N×D), the index of the nearest row of ``train`` (M×D) and its ‖·‖/√D distance.

    Uses ‖x − X‖² = ‖x‖² − 2x·X + ‖X‖² in chunks of ``chunk`` training rows (memory N×chunk);
    ``train_sq`` (‖X_i‖² for every row) may be passed in when the same reference is used often.
    In float32 the expansion cancels: distances below ~1e-3 are at rounding level (recompute
    ‖x − X_j‖ directly where an exact value matters)."""
    D = x.shape[1]
    xx = (x * x).sum(1, keepdim=True)
    if train_sq is None:
        train_sq = (train * train).sum(1)
    best_d = torch.full((x.shape[0],), float("inf"), device=x.device)
    best_i = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    for s in range(0, train.shape[0], chunk):
        t = train[s:s + chunk]
        d2 = torch.addmm(xx + train_sq[None, s:s + chunk], x, t.T, alpha=-2).clamp_min_(0)
        m, i = d2.min(dim=1)
        better = m < best_d
        best_d = torch.where(better, m, best_d)
        best_i = torch.where(better, i + s, best_i)
    return best_i, (best_d / D).sqrt()


def band(values: np.ndarray):
    """(mean, 10th percentile, 90th percentile) along the last axis: three numbers for a 1-D array,
    three arrays for a stack of them (one percentile call for all)."""
    v = np.asarray(values, dtype=np.float64)
    p10, p90 = np.percentile(v, [10, 90], axis=-1)
    return v.mean(axis=-1), p10, p90


def saturation_fraction(x: np.ndarray, value_range: tuple[float, float], tol: float = 1e-3) -> float:
    """Fraction of values within ``tol``·(hi − lo) of either bound."""
    lo, hi = value_range
    w = (hi - lo) * tol
    x = np.asarray(x)
    return float(((x <= lo + w) | (x >= hi - w)).mean())


def value_histogram(x: np.ndarray, value_range: tuple[float, float], bins: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, density) of all values in x over [lo, hi]; the density integrates to 1."""
    counts, edges = np.histogram(np.asarray(x, dtype=np.float32).ravel(), bins=bins, range=value_range)
    width = edges[1] - edges[0]
    total = counts.sum()
    return edges, counts / (total * width) if total else counts.astype(float)


@dataclass
class StepMetrics:
    """Per-chain measures of one step (arrays of N values)."""

    step: np.ndarray
    residual: np.ndarray
    nearest: np.ndarray
    nearest_index: np.ndarray


class ChainCurves:
    """Mean and 10–90 % band of each measure for every step reached; per-chain values for the
    first ``track`` chains (for the inspector). Steps are indexed by t (x_t), so ``step`` and
    ``residual`` at t describe the move from x_t to x_{t+1}. Storage grows by doubling, so
    reading a curve is a slice, not a copy of a Python list."""

    def __init__(self, track: int = 256):
        self.track = track
        self._n = 0
        self._summary = {k: np.zeros((64, 3)) for k in CURVES}
        self._chains: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return self._n

    def append(self, m: StepMetrics) -> None:
        if self._chains is None:
            k = min(self.track, len(m.step))
            self._chains = {c: np.zeros((64, k), np.float32) for c in CURVES}
        if self._n == len(self._summary["step"]):
            for c in CURVES:
                self._summary[c] = np.concatenate([self._summary[c], np.zeros_like(self._summary[c])])
                self._chains[c] = np.concatenate([self._chains[c], np.zeros_like(self._chains[c])])
        V = np.stack([getattr(m, c) for c in CURVES])
        mean, p10, p90 = band(V)
        for i, c in enumerate(CURVES):
            self._summary[c][self._n] = (mean[i], p10[i], p90[i])
            self._chains[c][self._n] = V[i, : self._chains[c].shape[1]]
        self._n += 1

    def truncate(self, n: int) -> None:
        self._n = min(self._n, max(0, n))

    def arrays(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(t, mean, p10, p90) for one measure (views; do not modify)."""
        s = self._summary[key][: self._n]
        return np.arange(self._n), s[:, 0], s[:, 1], s[:, 2]

    def at(self, key: str, t: int) -> tuple[float, float, float] | None:
        """(mean, p10, p90) of a measure at step t, if recorded."""
        return tuple(self._summary[key][t]) if 0 <= t < self._n else None

    def chains(self, key: str) -> np.ndarray:
        """Every tracked chain's values of a measure: a steps × tracked view (do not modify)."""
        if self._chains is None:
            return np.zeros((0, 0), np.float32)
        return self._chains[key][: self._n]

    def chain(self, key: str, i: int) -> np.ndarray:
        """One chain's values of a measure over every recorded step."""
        if self._chains is None or i >= self._chains[key].shape[1]:
            return np.zeros(0, np.float32)
        return self._chains[key][: self._n, i]


@torch.no_grad()
def measure_step(x_t: torch.Tensor, fx_t: torch.Tensor, x_next: torch.Tensor,
                 reference: torch.Tensor | None, reference_sq: torch.Tensor | None = None) -> StepMetrics:
    """The three measures for the move x_t → x_{t+1}, with f(x_t) already computed."""
    s = rms_distance(x_next, x_t)
    r = rms_distance(fx_t, x_t)
    if reference is not None and reference.shape[0] > 0:
        idx, d = nearest_training(x_t, reference, train_sq=reference_sq)
    else:
        idx, d = torch.zeros(x_t.shape[0], dtype=torch.long), torch.full((x_t.shape[0],), float("nan"))
    return StepMetrics(s.cpu().numpy(), r.cpu().numpy(), d.cpu().numpy(), idx.cpu().numpy())
