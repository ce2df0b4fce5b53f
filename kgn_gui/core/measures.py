"""What came out of a kaleidoscope, measured (numpy + torch; no Qt).

Distances are RMS per value, ‖·‖/√D, in the model's value units (as in :mod:`metrics`). For a chain
x_0, x_1, … with s_t = ‖x_{t+1} − x_t‖/√D:

Convergence
    burn-in        first t where the median over chains of s_t falls below ``tol`` (steps; None if never)
    converged      fraction of chains whose last step size s_T < tol
    period         per chain, the least k ≤ k_max with ‖x_T − x_{T−k}‖/√D < tol (1 = a fixed point,
                   2 = a 2-cycle, …; 0 = none found)
    contraction    q_t = s_t / s_{t−1}, median over chains (< 1: the chain contracts)
Memorization and coverage
    nearest        each chain's nearest training example j and distance d
    copy fraction  fraction of chains with d < ``copy_tol``
    distinct       number of distinct training examples that are some chain's nearest
    occupancy      how many chains fell into each of those (sorted counts)
Class make-up and quality (labelled data, a classifier trained by the project)
    class histogram of the argmax labels, entropy H / log C (1 = all classes equally often,
    0 = one class), mean top-class confidence, and a Fréchet distance between Gaussians fitted to
    the classifier's 128-d penultimate features of the samples and of the test set:
    ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}). It is FID-style but NOT comparable with Inception FID
    numbers (different network, different features, 28×28 digits).
Attractors
    refine a training example to a fixed point x* (iterate f without noise), then the spectral radius
    ρ of the Jacobian J_f(x*): exact eigenvalues (torch.func.jacrev) for D ≤ 1024, else Arnoldi with
    Jacobian-vector products. ρ < 1: x* attracts its neighbourhood.
Basin recovery
    corrupt training examples with Gaussian noise of standard deviation σ (value units, clamped to the
    range), iterate T steps without noise; recovered = the end state's nearest training example is
    the one it started from. Recovery rate against σ.
Over-generalization
    outputs f(z) for z uniform over the whole input box: the range of their values against the
    training data's, the fraction of output values inside the training data's per-value [min, max],
    and the fraction saturated at the bounds (within 1e-3 of the range's span).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .chain import Chain, ChainConfig, start_states
from .metrics import nearest_training


class Cancelled(Exception):
    """A long measurement was cancelled."""


def _check(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise Cancelled("cancelled")


# --- convergence ----------------------------------------------------------------------------------


def burn_in(step_median: np.ndarray, tol: float) -> int | None:
    """First t where the median step size s_t falls below tol."""
    below = np.flatnonzero(np.asarray(step_median) < tol)
    return int(below[0]) if len(below) else None


def contraction(steps: np.ndarray) -> np.ndarray:
    """q_t = s_t / s_{t−1} for a T×N array of step sizes → T−1 medians over chains (NaN where s_{t−1}=0)."""
    s = np.asarray(steps, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = s[1:] / s[:-1]
    q[~np.isfinite(q)] = np.nan
    out = np.full(q.shape[0], np.nan)
    ok = ~np.all(np.isnan(q), axis=1)
    out[ok] = np.nanmedian(q[ok], axis=1)
    return out


def cycle_periods(tail: np.ndarray, tol: float, k_max: int = 8) -> np.ndarray:
    """tail: the last K states (K×N×D, K > k_max). Per chain, the least period k ≤ k_max with
    ‖x_T − x_{T−k}‖/√D < tol, else 0."""
    tail = np.asarray(tail, np.float32)
    K, N, D = tail.shape
    periods = np.zeros(N, np.int64)
    last = tail[-1]
    for k in range(1, min(k_max, K - 1) + 1):
        d = np.sqrt(((last - tail[-1 - k]) ** 2).mean(axis=1))
        hit = (periods == 0) & (d < tol)
        periods[hit] = k
    return periods


# --- memorization ---------------------------------------------------------------------------------


def memorization(x: np.ndarray, train: torch.Tensor, copy_tol: float) -> dict:
    """Nearest training example of each row of x, the copy fraction, distinct examples and occupancy."""
    idx, d = nearest_training(torch.as_tensor(np.asarray(x, np.float32)), train)
    idx, d = idx.numpy(), d.numpy()
    uniq, counts = np.unique(idx, return_counts=True)
    return {
        "nearest": idx,
        "distance": d,
        "copy_fraction": float((d < copy_tol).mean()),
        "distinct": int(len(uniq)),
        "occupancy": np.sort(counts)[::-1],
        "occupancy_index": uniq[np.argsort(counts)[::-1]],
    }


# --- class make-up and quality --------------------------------------------------------------------


def class_makeup(probs: np.ndarray) -> dict:
    """Class histogram of argmax labels, entropy / log C, mean top-class confidence."""
    probs = np.asarray(probs, np.float64)
    C = probs.shape[1]
    hist = np.bincount(probs.argmax(1), minlength=C)
    p = hist / max(1, hist.sum())
    nz = p[p > 0]
    return {
        "histogram": hist,
        "entropy": float(-(nz * np.log(nz)).sum() / math.log(C)),
        "confidence": float(probs.max(1).mean()) if len(probs) else float("nan"),
    }


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples).
    tr((Σ₁Σ₂)^{1/2}) is computed as tr((Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}), symmetric and stable."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    r1 = _sqrtm_psd(s1)
    w = np.linalg.eigvalsh(r1 @ s2 @ r1)
    tr_sqrt = np.sqrt(np.clip(w, 0, None)).sum()
    return float(max(0.0, ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt))


# --- attractors -----------------------------------------------------------------------------------


@torch.no_grad()
def refine_fixed_points(
    model, x: torch.Tensor, value_range, steps: int = 200, tol: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Iterate x ← clamp(f(x)) without noise up to ``steps`` times (stopping early when every row
    moves less than tol). Returns (x*, residual ‖f(x*) − x*‖/√D per row)."""
    lo, hi = value_range
    for _ in range(steps):
        nx = model(x).clamp_(lo, hi)
        moved = (nx - x).pow(2).mean(1).sqrt()
        x = nx
        if float(moved.max()) < tol:
            break
    return x, (model(x).clamp(lo, hi) - x).pow(2).mean(1).sqrt()


def spectral_radius(model, x: torch.Tensor, exact_max_d: int = 1024, krylov: int = 30, seed: int = 0) -> float:
    """ρ(J_f(x)) at one point x (a D vector): exact eigenvalues for D ≤ exact_max_d, else the largest
    Ritz value of ``krylov`` Arnoldi steps with Jacobian-vector products (matrix-free)."""
    from torch.func import jacrev, jvp

    def f(v):
        return model(v[None])[0]

    D = x.numel()
    x = x.detach().reshape(D)
    if D <= exact_max_d:
        J = jacrev(f)(x).detach().double()
        return float(torch.linalg.eigvals(J).abs().max())
    k = min(krylov, D)
    g = torch.Generator().manual_seed(seed)
    Q = torch.zeros(k + 1, D, dtype=torch.float64)
    Hm = torch.zeros(k + 1, k, dtype=torch.float64)
    q = torch.randn(D, generator=g, dtype=torch.float64)
    Q[0] = q / q.norm()
    m = k
    for j in range(k):
        _, w = jvp(f, (x,), (Q[j].to(x.dtype),))
        w = w.detach().double()
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
    rho: np.ndarray  # spectral radius at each refined fixed point
    residual: np.ndarray  # ‖f(x*) − x*‖/√D after refinement
    drift: np.ndarray  # ‖x* − x_train‖/√D: how far the fixed point lies from its example
    indices: np.ndarray  # training examples audited

    @property
    def attractor_fraction(self) -> float:
        """Fraction of audited examples whose refined fixed point attracts (ρ < 1)."""
        return float((self.rho < 1).mean()) if len(self.rho) else float("nan")

    def histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        hi = max(2.0, float(np.nanmax(self.rho)) if len(self.rho) else 2.0)
        return np.histogram(self.rho, bins=bins, range=(0.0, hi))


def attractor_audit(
    model,
    value_range,
    train_x: np.ndarray,
    n: int = 64,
    seed: int = 0,
    refine_steps: int = 200,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> AttractorAudit:
    """Audit ``n`` training examples drawn at random (seeded): refine each to a fixed point, then ρ."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(train_x), size=min(n, len(train_x)), replace=False))
    x0 = torch.from_numpy(np.asarray(train_x[idx], np.float32))
    xs, res = refine_fixed_points(model, x0.clone(), value_range, steps=refine_steps)
    drift = (xs - x0).pow(2).mean(1).sqrt().numpy()
    rho = np.zeros(len(idx))
    for k in range(len(idx)):
        _check(cancelled)
        rho[k] = spectral_radius(model, xs[k])
        if progress is not None:
            progress(k + 1, len(idx))
    return AttractorAudit(rho=rho, residual=res.numpy(), drift=drift, indices=idx)


# --- basin recovery -------------------------------------------------------------------------------


@torch.no_grad()
def basin_recovery(
    model,
    value_range,
    train_x: np.ndarray,
    sigmas,
    n: int = 200,
    T: int = 50,
    seed: int = 0,
    reference: torch.Tensor | None = None,
    progress=None,
    cancelled=None,
) -> np.ndarray:
    """Recovery rate for each σ: corrupt ``n`` training examples (seeded) by N(0, σ²) per value, iterate
    T steps of f without noise, and count those whose nearest training example (in ``reference``,
    default ``train_x``) is the one they started from."""
    lo, hi = value_range
    ref = torch.as_tensor(np.asarray(train_x if reference is None else reference, np.float32))
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(train_x), size=min(n, len(train_x)), replace=False)
    x0 = torch.from_numpy(np.asarray(train_x[idx], np.float32))
    g = torch.Generator().manual_seed(seed)
    rates = []
    for k, sigma in enumerate(sigmas):
        _check(cancelled)
        x = (x0 + float(sigma) * torch.randn(x0.shape, generator=g)).clamp_(lo, hi)
        for _ in range(T):
            x = model(x).clamp_(lo, hi)
        j, _ = nearest_training(x, ref)
        rates.append(float((j.numpy() == idx).mean()))
        if progress is not None:
            progress(k + 1, len(sigmas))
    return np.asarray(rates)


# --- over-generalization --------------------------------------------------------------------------


@torch.no_grad()
def over_generalization(model, value_range, train_x: np.ndarray, n: int = 2048, seed: int = 0) -> dict:
    """f over inputs uniform on the whole box, against the training data's range."""
    lo, hi = value_range
    g = torch.Generator().manual_seed(seed)
    D = train_x.shape[1]
    z = lo + (hi - lo) * torch.rand(n, D, generator=g)  # drawn on the CPU: the same inputs on every device
    device = next(model.parameters()).device
    with torch.no_grad():
        y = model(z.to(device)).float().cpu().numpy()
    tmin, tmax = train_x.min(0), train_x.max(0)
    tol = 1e-3 * (hi - lo)
    return {
        "output_min": float(y.min()),
        "output_max": float(y.max()),
        "train_min": float(tmin.min()),
        "train_max": float(tmax.max()),
        "inside_training_range": float(((y >= tmin - tol) & (y <= tmax + tol)).mean()),
        "saturated": float(((y <= lo + tol) | (y >= hi - tol)).mean()),
    }


# --- everything about one chain run ---------------------------------------------------------------


@dataclass
class Analysis:
    """Measures of one chain run (see the module docstring for each formula)."""

    steps: int
    n: int
    tol: float
    step_median: np.ndarray  # median s_t over chains, t = 0 … steps−1
    contraction: np.ndarray  # median q_t
    burn_in: int | None
    converged: float
    periods: np.ndarray
    memo: dict
    classes: dict | None = None
    frechet: float | None = None
    overgen: dict | None = None
    final: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict:
        """Flat numbers for tables and CSV."""
        per = self.periods
        out = {
            "chains": self.n,
            "steps": self.steps,
            "burn_in": self.burn_in if self.burn_in is not None else float("nan"),
            "converged": self.converged,
            "fixed_points": float((per == 1).mean()),
            "cycles": float((per > 1).mean()),
            "contraction_last": float(self.contraction[-1]) if len(self.contraction) else float("nan"),
            "copy_fraction": self.memo["copy_fraction"],
            "distinct": self.memo["distinct"],
            "nearest_mean": float(self.memo["distance"].mean()),
            "top_basin_share": float(self.memo["occupancy"][0] / self.n) if self.n else float("nan"),
        }
        if self.classes is not None:
            out.update(
                class_entropy=self.classes["entropy"],
                confidence=self.classes["confidence"],
                **{f"class_{c}": int(v) for c, v in enumerate(self.classes["histogram"])},
            )
        if self.frechet is not None:
            out["frechet"] = self.frechet
        if self.overgen is not None:
            out.update(inside_training_range=self.overgen["inside_training_range"], saturated=self.overgen["saturated"])
        return out


def auto_tolerance(cfg: ChainConfig, value_range) -> float:
    """A convergence tolerance above the noise floor: 1e-3 + 2·ε·r, where ε·r is the RMS per value
    of the per-step noise (r = half the range's span), since a noisy chain never moves less."""
    if cfg.noise == "none" or cfg.eps <= 0:
        return 1e-3
    return 1e-3 + 2 * cfg.eps * (value_range[1] - value_range[0]) / 2


@torch.no_grad()
def analyze_chain(
    model,
    spec,
    cfg: ChainConfig,
    steps: int,
    train_x: np.ndarray,
    *,
    tol: float | None = None,
    copy_tol: float = 0.05,
    k_max: int = 8,
    classifier=None,
    test_features: np.ndarray | None = None,
    start_array: np.ndarray | None = None,
    progress=None,
    cancelled=None,
) -> Analysis:
    """Run the chain ``steps`` steps from its start and measure it. ``classifier``: a
    :class:`~kgn_gui.core.classifier.LoadedClassifier` (image models with 784 values) for the class
    make-up and, with ``test_features``, the Fréchet distance. ``tol``: the convergence tolerance
    (default :func:`auto_tolerance`)."""
    if tol is None:
        tol = auto_tolerance(cfg, spec.value_range)
    dev = next(model.parameters()).device
    chain = Chain(model, spec.value_range, cfg.noise, cfg.eps, cfg.seed, dev)
    x = start_states(cfg, spec.D, spec.value_range, shape=spec.shape, start_array=start_array, device=dev)
    s = np.zeros((steps, cfg.n), np.float32)
    tail = []
    for t in range(steps):
        _check(cancelled)
        nx = chain.step(x, t)
        s[t] = (nx - x).pow(2).mean(1).sqrt().cpu().numpy()
        x = nx
        if t >= steps - k_max - 1:
            tail.append(x.cpu().numpy())
        if progress is not None and (t % 10 == 0 or t == steps - 1):
            progress(t + 1, steps)
    return measure_states(
        model,
        spec,
        x.cpu().numpy(),
        np.stack(tail) if tail else None,
        s,
        train_x,
        tol=tol,
        copy_tol=copy_tol,
        k_max=k_max,
        classifier=classifier,
        test_features=test_features,
        n_chains=cfg.n,
    )


def measure_states(
    model,
    spec,
    final: np.ndarray,
    tail: np.ndarray | None,
    s: np.ndarray,
    train_x: np.ndarray,
    *,
    tol: float,
    copy_tol: float = 0.05,
    k_max: int = 8,
    classifier=None,
    test_features: np.ndarray | None = None,
    n_chains: int | None = None,
    train_t: torch.Tensor | None = None,
) -> Analysis:
    """The measures from what a run left: the states at the last step (N×D), the K states before it
    (K×N×D, for cycles; None to skip), the step sizes so far (T×N' for N' ≤ N chains)."""
    steps = len(s)
    med = np.median(s, axis=1) if steps and s.shape[1] else np.zeros(0)
    if train_t is None:
        train_t = torch.from_numpy(np.asarray(train_x, np.float32))
    n = n_chains or len(final)
    a = Analysis(
        steps=steps,
        n=n,
        tol=tol,
        step_median=med,
        contraction=contraction(s) if steps > 1 else np.zeros(0),
        burn_in=burn_in(med, tol),
        converged=float((s[-1] < tol).mean()) if steps else 0.0,
        periods=cycle_periods(tail, tol, k_max)
        if tail is not None and len(tail) > 1
        else np.zeros(len(final), np.int64),
        memo=memorization(final, train_t, copy_tol),
        final=final,
    )
    if classifier is not None and spec.D == 784:
        from .classifier import to_unit

        probs, feats = classifier.predict(to_unit(final, spec.value_range))
        a.classes = class_makeup(probs)
        if test_features is not None and len(final) > 1:
            a.frechet = frechet_distance(feats, test_features)
    a.overgen = over_generalization(model, spec.value_range, np.asarray(train_x, np.float32))
    return a
