"""How chains move under f, without noise: the convergence test (one tolerance for every noise kind), cycles
and contraction; fixed points refined from training examples and the spectral radius there (the attractor
audit); basin recovery of corrupted examples; over-generalization of f over the whole input box. The
glossary of every measure is the package's docstring."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import Cancelled

RESIDUAL_TOL_SPAN = 0.025  # the convergence tolerance as a share of the value range's span
FIXED_TOL = 1e-4  # residual (RMS per value) below which a refined point counts as a fixed point


def check_cancelled(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise Cancelled("cancelled")


def device_of(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def rms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).mean(1).sqrt()


# --- convergence ----------------------------------------------------------------------------------


def converge_tolerance(value_range) -> float:
    """The residual below which a chain has converged: 0.025 × the span of the value range (0.05 on
    [−1, 1], 0.025 on [0, 1]), for every noise kind."""
    return RESIDUAL_TOL_SPAN * (float(value_range[1]) - float(value_range[0]))


def burn_in(median: np.ndarray, tol: float) -> int | None:
    """The first t after which the median residual stays below tol (None when its last value is not)."""
    m = np.asarray(median, np.float64)
    above = np.flatnonzero(~(m < tol))
    if not len(m) or (len(above) and above[-1] == len(m) - 1):
        return None
    return int(above[-1] + 1) if len(above) else 0


def contraction(r: np.ndarray) -> np.ndarray:
    """q_t = r_t / r_{t−1} for a T×N array → T−1 medians over chains (NaN where r_{t−1} = 0)."""
    s = np.asarray(r, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = s[1:] / s[:-1]
    q[~np.isfinite(q)] = np.nan
    out = np.full(q.shape[0], np.nan)
    ok = ~np.all(np.isnan(q), axis=1)
    out[ok] = np.nanmedian(q[ok], axis=1)
    return out


@torch.no_grad()
def residuals(model, x, value_range) -> np.ndarray:
    """‖clamp(f(x)) − x‖/√D per row (x: N×D, numpy or tensor), on the model's device."""
    dev = device_of(model)
    xt = torch.as_tensor(np.asarray(x, np.float32) if not torch.is_tensor(x) else x).to(dev)
    return rms(model(xt).clamp(*value_range), xt).float().cpu().numpy()


@torch.no_grad()
def cycle_periods(model, x, value_range, tol: float, k_max: int = 8) -> np.ndarray:
    """Per row of x: the least k ≤ k_max with ‖f^k(x) − x‖/√D < tol along the noise-free map, else 0
    (1: x is within tol of a fixed point)."""
    dev = device_of(model)
    x0 = torch.as_tensor(np.asarray(x, np.float32)).to(dev)
    periods = np.zeros(len(x0), np.int64)
    y = x0
    for k in range(1, k_max + 1):
        y = model(y).clamp(*value_range)
        hit = (periods == 0) & (rms(y, x0).float().cpu().numpy() < tol)
        periods[hit] = k
    return periods


# --- attractors -----------------------------------------------------------------------------------


@torch.no_grad()
def refine_fixed_points(
    model, x: torch.Tensor, value_range, steps: int = 1000, tol: float = 1e-7, cancelled=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Iterate x ← clamp(f(x)) without noise up to ``steps`` times (stopping early when every row
    moves less than tol; :class:`Cancelled` when ``cancelled()``, checked every step). Returns (x*,
    residual ‖clamp(f(x*)) − x*‖/√D per row)."""
    lo, hi = value_range
    for _ in range(steps):
        check_cancelled(cancelled)
        nx = model(x).clamp_(lo, hi)
        moved = rms(nx, x)
        x = nx
        if float(moved.max()) < tol:
            break
    return x, rms(model(x).clamp(lo, hi), x)


def spectral_radius(model, x: torch.Tensor, exact_max_d: int = 1024, krylov: int = 30, seed: int = 0) -> float:
    """ρ(J_f(x)) at one point x (a D vector): exact eigenvalues for D ≤ exact_max_d, else the largest
    Ritz value of ``krylov`` Arnoldi steps with Jacobian-vector products (matrix-free)."""
    from torch.func import jacrev, jvp

    def f(v):
        return model(v[None])[0]

    D = x.numel()
    x = x.detach().reshape(D)
    if D <= exact_max_d:
        J = jacrev(f)(x).detach().double().cpu()
        return float(torch.linalg.eigvals(J).abs().max())
    k = min(krylov, D)
    g = torch.Generator().manual_seed(seed)
    Q = torch.zeros(k + 1, D, dtype=torch.float64)
    Hm = torch.zeros(k + 1, k, dtype=torch.float64)
    q = torch.randn(D, generator=g, dtype=torch.float64)
    Q[0] = q / q.norm()
    m = k
    for j in range(k):
        _, w = jvp(f, (x,), (Q[j].to(x.dtype).to(x.device),))
        w = w.detach().double().cpu()
        for i in range(j + 1):  # modified Gram–Schmidt
            Hm[i, j] = Q[i] @ w
            w = w - Hm[i, j] * Q[i]
        Hm[j + 1, j] = w.norm()
        if Hm[j + 1, j] < 1e-12:
            m = j + 1
            break
        Q[j + 1] = w / Hm[j + 1, j]
    return float(torch.linalg.eigvals(Hm[:m, :m]).abs().max())


@dataclass
class AttractorAudit:
    rho: np.ndarray  # spectral radius at each refined point that is a fixed point (NaN elsewhere)
    residual: np.ndarray  # ‖f(x*) − x*‖/√D after refinement
    drift: np.ndarray  # ‖x* − x_train‖/√D: how far the refined point lies from its example
    indices: np.ndarray  # training examples audited
    tol: float = FIXED_TOL  # residual below which a refined point is a fixed point

    @property
    def fixed(self) -> np.ndarray:
        return self.residual < self.tol

    @property
    def n_fixed(self) -> int:
        return int(self.fixed.sum())

    @property
    def attractor_fraction(self) -> float:
        """Fraction of the refined points that are fixed points (residual < tol) and attract (ρ < 1)."""
        r = self.rho[self.fixed]
        return float((r < 1).mean()) if len(r) else float("nan")

    def histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        r = self.rho[self.fixed]
        hi = max(2.0, float(r.max()) if len(r) else 2.0)
        return np.histogram(r, bins=bins, range=(0.0, hi))

    def summary(self) -> dict:
        r = self.rho[self.fixed]
        return {
            "attractor_fraction": self.attractor_fraction,
            "audit_n": int(len(self.residual)),
            "audit_fixed": self.n_fixed,
            "audit_tol": self.tol,
            "rho_median": float(np.median(r)) if len(r) else float("nan"),
            "rho_max": float(r.max()) if len(r) else float("nan"),
            "residual_max": float(self.residual.max()) if len(self.residual) else float("nan"),
        }


def attractor_audit(
    model,
    value_range,
    train_x: np.ndarray,
    n: int = 64,
    seed: int = 0,
    refine_steps: int = 1000,
    tol: float = FIXED_TOL,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> AttractorAudit:
    """Audit ``n`` training examples drawn at random (seeded): refine each toward a fixed point; ρ at those
    whose residual fell below ``tol``."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(train_x), size=min(n, len(train_x)), replace=False))
    dev = device_of(model)
    x0 = torch.from_numpy(np.asarray(train_x[idx], np.float32)).to(dev)
    xs, res = refine_fixed_points(model, x0.clone(), value_range, steps=refine_steps, cancelled=cancelled)
    drift = rms(xs, x0).float().cpu().numpy()
    res = res.float().cpu().numpy()
    rho = np.full(len(idx), np.nan)
    for k in range(len(idx)):
        check_cancelled(cancelled)
        if res[k] < tol:
            rho[k] = spectral_radius(model, xs[k])
        if progress is not None:
            progress(k + 1, len(idx))
    return AttractorAudit(rho=rho, residual=res, drift=drift, indices=idx, tol=tol)


# --- basin recovery -------------------------------------------------------------------------------


@dataclass
class Recovery:
    """Basin recovery at each σ: ``rates`` (the fraction of corrupted examples that end within tol of their
    own clean example's end), ``chance`` (the fraction that end within tol of a *random other* example's
    clean end: what recovery scores when f forgets which example it started from — 1 for a constant map)
    and ``distinct_ends`` (how many distinct end points the clean examples reach, merged within tol)."""

    sigmas: list[float]
    rates: np.ndarray
    chance: np.ndarray
    distinct_ends: int
    n: int

    def summary(self) -> dict:
        out = {f"recovery_{s:g}": float(r) for s, r in zip(self.sigmas, self.rates)}
        out.update({f"recovery_chance_{s:g}": float(c) for s, c in zip(self.sigmas, self.chance)})
        out["recovery_distinct_ends"] = self.distinct_ends
        return out


def noise_seed(seed: int, sigma: float) -> int:
    """The seed of basin recovery's noise at σ: one stream per (seed, σ), so the same σ gets the same noise
    whatever the other σ of the list."""
    bits = int(np.float64(sigma).view(np.uint64))  # σ's exact bits: any finite σ, huge ones included
    return int(np.random.SeedSequence([int(seed), bits]).generate_state(1)[0])


@torch.no_grad()
def recovery_census(
    model,
    value_range,
    train_x: np.ndarray,
    sigmas,
    n: int = 200,
    T: int = 50,
    seed: int = 0,
    tol: float | None = None,
    progress=None,
    cancelled=None,
) -> Recovery:
    """Corrupt ``n`` training examples (seeded) by N(0, σ²) per value (a noise stream per σ: :func:`noise_seed`),
    iterate T steps of f without noise, and compare each end with the clean example's own end after T steps
    (recovered: within ``tol``, default :func:`converge_tolerance`) and with every other clean end (chance)."""
    lo, hi = value_range
    tol = converge_tolerance(value_range) if tol is None else float(tol)
    dev = device_of(model)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(train_x), size=min(n, len(train_x)), replace=False)
    x0 = torch.from_numpy(np.asarray(train_x[idx], np.float32)).to(dev)
    m = len(idx)

    def run(x):
        for _ in range(T):
            x = model(x).clamp_(lo, hi)
        return x

    clean = run(x0.clone())
    D = clean.shape[1]
    cc = torch.cdist(clean.double(), clean.double()) / math.sqrt(D)
    same = cc < tol  # which clean ends coincide
    seen = torch.zeros(m, dtype=torch.bool, device=same.device)
    distinct = 0
    for i in range(m):  # greedy: each unseen end and those within tol of it are one end point
        if not seen[i]:
            distinct += 1
            seen |= same[i]
    rates, chance = [], []
    off = ~torch.eye(m, dtype=torch.bool, device=same.device)
    for k, sigma in enumerate(sigmas):
        check_cancelled(cancelled)
        g = torch.Generator().manual_seed(noise_seed(seed, sigma))
        noise = torch.randn(x0.shape, generator=g).to(dev)
        x = run((x0 + float(sigma) * noise).clamp_(lo, hi)) if sigma > 0 else clean
        near = (torch.cdist(x.double(), clean.double()) / math.sqrt(D)) < tol
        rates.append(float(near.diagonal().float().mean()))
        chance.append(float((near & off).float().sum() / max(1, m * (m - 1))))
        if progress is not None:
            progress(k + 1, len(sigmas))
    return Recovery([float(s) for s in sigmas], np.asarray(rates), np.asarray(chance), distinct, m)


def basin_recovery(model, value_range, train_x, sigmas, n=200, T=50, seed=0, tol=None, progress=None, cancelled=None):
    """The recovery rate at each σ (:func:`recovery_census`'s ``rates``)."""
    return recovery_census(model, value_range, train_x, sigmas, n, T, seed, tol, progress, cancelled).rates


# --- over-generalization --------------------------------------------------------------------------


@torch.no_grad()
def over_generalization(model, value_range, train_x: np.ndarray, n: int = 2048, seed: int = 0) -> dict:
    """f over inputs uniform on the whole box, against the training data's range; the identity map's
    values for the same inputs as the baseline."""
    lo, hi = value_range
    g = torch.Generator().manual_seed(seed)
    D = train_x.shape[1]
    z = lo + (hi - lo) * torch.rand(n, D, generator=g)  # drawn on the CPU: the same inputs on every device
    y = model(z.to(device_of(model))).float().cpu().numpy()
    z = z.numpy()
    tmin, tmax = train_x.min(0), train_x.max(0)
    tol = 1e-3 * (hi - lo)

    def inside(v):
        return float(((v >= tmin - tol) & (v <= tmax + tol)).mean())

    def saturated(v):
        return float(((v <= lo + tol) | (v >= hi - tol)).mean())

    return {
        "output_min": float(y.min()),
        "output_max": float(y.max()),
        "train_min": float(tmin.min()),
        "train_max": float(tmax.max()),
        "inside_training_range": inside(y),
        "inside_training_range_identity": inside(z),
        "saturated": saturated(y),
        "saturated_identity": saturated(z),
    }
