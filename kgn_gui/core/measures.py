"""What came out of a kaleidoscope, measured (numpy + torch; no Qt).

Distances are RMS per value, ‖·‖/√D, in the model's value units (as in :mod:`metrics`). For a chain
x_0, x_1, … the noise-free residual is r_t = ‖clamp(f(x_t)) − x_t‖/√D: how far x_t is from being a fixed
point of f, whatever noise the chain adds.

Convergence (one test for every noise kind)
    tol            ``converge_tolerance`` = 0.025 × the value range's span (0.05 on [−1, 1]), the same for
                   ``none``, ``normal``, ``uniform`` and the published code's noise
    converged      fraction of chains whose residual at the last step is below tol
    burn-in        the first t after which the median residual over chains stays below tol (None if it
                   ends above)
    cycles         fraction of chains that are not converged but whose noise-free continuation from x_T
                   returns within tol of x_T after k = 2 … 8 steps (periods: the least such k; 1 = converged)
    contraction    q_t = r_t / r_{t−1}, median over chains (< 1: the chain contracts)
Memorization and coverage
    nearest        each chain's nearest training example j and distance d; ``nearest_mean`` = mean d
    copy fraction  fraction of chains with d < ``copy_tol``
    distinct       number of distinct training examples that are some chain's nearest
    occupancy      how many chains fell into each of those (sorted counts)
Distribution measures, in the feature space of the model's own data set (:mod:`features`: the bundled
MNIST classifier, a classifier trained on demand on another labelled set, or a PCA of an unlabelled one)
    class entropy  H(argmax labels) / log C (1 = every class equally often); confidence = mean top probability
    Fréchet        ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}) between Gaussians fitted to the features of the
                   samples and of the reference set — FID-style, NOT comparable with Inception FID
    KID            unbiased MMD² with the cubic polynomial kernel k(a, b) = (a·b/F + 1)³ (Bińkowski et al.
                   2018): unbiased at any n, unlike the Fréchet distance
    precision      share of samples inside the reference's k-NN manifold (the union of balls around each
                   reference point reaching its k-th nearest reference neighbour, k = 3; Kynkäänniemi et al.
                   2019); recall: share of reference points inside the samples' manifold
    The reference set is the real pool (held-out data where the data set has it) less n real samples that
    are measured the same way as a **baseline** (``m_real``): what real, unseen data score at this n.
    Intervals ``m_ci``: bootstrap 95 % intervals over 200 resamples of the samples (the reference fixed):
    the 2.5 and 97.5 percentiles of the resampled values, shifted so that their median sits on the
    estimate (resampling with repeats biases the Fréchet distance and KID); for recall a resample's repeats
    count once.
Mixing
    after burn-in, how often each chain's nearest class (``mixing_class``) and nearest training example
    (``mixing_nearest``) change, per 100 steps, looked at every ``stride`` steps
Attractors
    refine a training example to a fixed point x* (iterate f without noise), keep those whose residual is
    below ``FIXED_TOL``, then the spectral radius ρ of the Jacobian J_f(x*) there: exact eigenvalues
    (torch.func.jacrev) for D ≤ 1024, else Arnoldi with Jacobian-vector products. The attractor fraction
    counts ρ < 1 over those fixed points only (ρ where f has no fixed point means nothing).
Basin recovery
    corrupt training examples by N(0, σ²) per value (clamped), iterate T steps without noise; recovered =
    the end state lies within tol of the clean example's own noise-free end state after T steps (σ = 0
    recovers by construction).
Over-generalization
    outputs f(z) for z uniform over the whole input box: the fraction of output values inside the training
    data's per-value [min, max] and the fraction saturated at the bounds (within 1e-3 of the span), each
    beside the identity map's value for the same inputs (its baseline: on MNIST the identity already
    scores ~0.86 inside the range).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .chain.chain import Chain, ChainConfig, start_states
from .chain.curves import nearest_training
from .chain.sampler import Sampler
from .errors import Cancelled
from .registry import clip

RESIDUAL_TOL_SPAN = 0.025  # the convergence tolerance as a share of the value range's span
FIXED_TOL = 1e-4  # residual (RMS per value) below which a refined point counts as a fixed point
PR_K = 3  # the k of precision and recall
BOOT = 200  # bootstrap resamples of the intervals
REFERENCE_MAX = 2000  # reference points of precision, recall and KID (the Fréchet distance uses all)
MIN_POOL = 100  # fewer real samples than this: no distribution measures
POOL_MAX = 10_000  # real samples drawn from a bigger pool (seeded): their features are computed once
INTERVAL = f"bootstrap 95 % interval ({BOOT} resamples of the samples, percentiles recentred on the estimate)"
DISTRIBUTION = ("class_entropy", "frechet", "kid", "precision", "recall")


def _check(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise Cancelled("cancelled")


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _rms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
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
    dev = _device(model)
    xt = torch.as_tensor(np.asarray(x, np.float32) if not torch.is_tensor(x) else x).to(dev)
    return _rms(model(xt).clamp(*value_range), xt).float().cpu().numpy()


@torch.no_grad()
def cycle_periods(model, x, value_range, tol: float, k_max: int = 8) -> np.ndarray:
    """Per row of x: the least k ≤ k_max with ‖f^k(x) − x‖/√D < tol along the noise-free map, else 0
    (1: x is within tol of a fixed point)."""
    dev = _device(model)
    x0 = torch.as_tensor(np.asarray(x, np.float32)).to(dev)
    periods = np.zeros(len(x0), np.int64)
    y = x0
    for k in range(1, k_max + 1):
        y = model(y).clamp(*value_range)
        hit = (periods == 0) & (_rms(y, x0).float().cpu().numpy() < tol)
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


def nearest_other(x: np.ndarray, train: np.ndarray, exclude: np.ndarray | None = None, chunk: int = 4096) -> np.ndarray:
    """‖x_i − nearest row of train‖/√D per row of x, skipping row ``exclude[i]`` of train (leave-one-out:
    the distance of a real sample to the nearest *other* training example)."""
    xt = torch.as_tensor(np.asarray(x, np.float32))
    tr = torch.as_tensor(np.asarray(train, np.float32))
    D = xt.shape[1]
    xx = (xt * xt).sum(1, keepdim=True)
    best = torch.full((len(xt),), float("inf"))
    for s in range(0, len(tr), chunk):
        t = tr[s : s + chunk]
        d2 = torch.addmm(xx + (t * t).sum(1)[None], xt, t.T, alpha=-2).clamp_min_(0)
        if exclude is not None:
            rows = torch.arange(len(xt))
            cols = torch.as_tensor(exclude) - s
            ok = (cols >= 0) & (cols < len(t))
            d2[rows[ok], cols[ok]] = float("inf")
        best = torch.minimum(best, d2.min(1).values)
    return (best / D).sqrt().numpy()


# --- class make-up and distribution measures ------------------------------------------------------


def class_makeup(probs: np.ndarray) -> dict:
    """Class histogram of argmax labels, entropy / log C, mean top-class confidence."""
    probs = np.asarray(probs, np.float64)
    C = probs.shape[1]
    hist = np.bincount(probs.argmax(1), minlength=C)
    return {
        "histogram": hist,
        "entropy": _entropy(hist, C),
        "confidence": float(probs.max(1).mean()) if len(probs) else float("nan"),
    }


def _entropy(hist: np.ndarray, C: int) -> float:
    p = hist / max(1, hist.sum())
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / math.log(C)) if C > 1 else float("nan")


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _frechet_stats(mu1, s1, mu2, s2, r2) -> float:
    """The Fréchet distance from the means and covariances, with r2 = Σ₂^{1/2}: tr((Σ₁Σ₂)^{1/2}) is
    tr((Σ₂^{1/2} Σ₁ Σ₂^{1/2})^{1/2}), symmetric and stable."""
    w = np.linalg.eigvalsh(r2 @ s1 @ r2)
    tr_sqrt = np.sqrt(np.clip(w, 0, None)).sum()
    return float(max(0.0, ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt))


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples)."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    s2 = np.atleast_2d(np.cov(f2, rowvar=False))
    return _frechet_stats(f1.mean(0), np.atleast_2d(np.cov(f1, rowvar=False)), f2.mean(0), s2, _sqrtm_psd(s2))


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.asarray(a, np.float64) @ np.asarray(b, np.float64).T / a.shape[1] + 1.0) ** 3


def kid(f1: np.ndarray, f2: np.ndarray) -> float:
    """Kernel Inception-style distance: the unbiased MMD² between two feature sets with the cubic
    polynomial kernel (a·b/F + 1)³. Its expectation is 0 when both come from one distribution (so a
    single estimate can be slightly negative), at any sample size."""
    kxx, kyy, kxy = _kernel(f1, f1), _kernel(f2, f2), _kernel(f1, f2)
    n, m = len(f1), len(f2)
    if n < 2 or m < 2:
        return float("nan")
    txx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    tyy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(txx + tyy - 2 * kxy.mean())


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.clip(d2, 0, None))


def _knn_radii(d_self: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest other point (from a square distance matrix)."""
    n = len(d_self)
    if n < 2:
        return np.zeros(n)
    kk = min(k, n - 1)
    return np.partition(d_self, kk, axis=1)[:, kk]  # column 0 is the point itself (distance 0)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_K) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): precision = share of ``fake`` inside the
    union of balls around each real point with the radius of its k-th nearest real neighbour; recall =
    share of ``real`` inside the same manifold of the fake points."""
    d_rr, d_ff, d_fr = _pairwise(real, real), _pairwise(fake, fake), _pairwise(fake, real)
    r_real, r_fake = _knn_radii(d_rr, k), _knn_radii(d_ff, k)
    precision = float((d_fr <= r_real[None]).any(1).mean())
    recall = float((d_fr <= r_fake[:, None]).any(0).mean())
    return precision, recall


def _ci(values, center: float | None = None) -> list[float] | None:
    """The 95 % percentile interval of bootstrap values; with ``center`` (the estimate itself) recentred so
    that the resamples' median sits on it: resampling with repeats biases the Fréchet distance and KID, and
    an interval that leaves out its own estimate says nothing."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    lo, mid, hi = np.percentile(v, [2.5, 50, 97.5])
    shift = 0.0 if center is None or not math.isfinite(center) else float(center) - float(mid)
    return [float(lo + shift), float(hi + shift)]


@dataclass
class Reference:
    """The real side of the distribution measures of one data set, at one sample size n: the feature
    space, the reference features (the real pool less the baseline samples) and the baseline — the same
    measures of n real samples (keys ``m_real``, ``m_real_ci``)."""

    space: object  # features.FeatureSpace
    what: str  # what the baseline samples are
    value_range: tuple[float, float]
    n: int
    feats: np.ndarray = field(repr=False)  # the reference set's features (all of it: the Fréchet distance)
    sub: np.ndarray = field(repr=False)  # at most REFERENCE_MAX of them: precision, recall, KID
    baseline: dict = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        f = np.asarray(self.feats, np.float64)
        self.mu = f.mean(0)
        self.cov = np.atleast_2d(np.cov(f, rowvar=False))
        self.cov_sqrt = _sqrtm_psd(self.cov)
        d_ss = _pairwise(self.sub, self.sub)
        self.sub_radii = _knn_radii(d_ss, PR_K)
        kss = _kernel(self.sub, self.sub)
        m = len(self.sub)
        self.kyy = float((kss.sum() - np.trace(kss)) / (m * (m - 1))) if m > 1 else float("nan")

    @property
    def classes(self) -> int:
        return int(getattr(self.space, "classes", 0) or 0)

    def measure(self, x: np.ndarray, *, boot: int = BOOT, seed: int = 0) -> tuple[dict, np.ndarray | None]:
        """The distribution measures of samples x (value units) with their intervals, and the class
        probabilities (None without classes)."""
        probs, feats = self.space.predict(np.asarray(x, np.float32), self.value_range)
        return self.measure_features(feats, probs, boot=boot, seed=seed), probs

    def measure_features(self, feats, probs=None, *, boot: int = BOOT, seed: int = 0) -> dict:
        f = np.asarray(feats, np.float64)
        n = len(f)
        if n < 2:
            return {}
        labels = None if probs is None else np.asarray(probs).argmax(1)
        d_ff = _pairwise(f, f)
        d_fs = _pairwise(f, self.sub)
        inside = (d_fs <= self.sub_radii[None]).any(1)  # precision's per-sample indicator
        kff = _kernel(f, f)
        kfs = _kernel(f, self.sub).mean(1)

        def stats(idx: np.ndarray) -> dict:
            g = f[idx]
            cov = np.atleast_2d(np.cov(g, rowvar=False))
            out = {"frechet": _frechet_stats(g.mean(0), cov, self.mu, self.cov, self.cov_sqrt)}
            k = kff[np.ix_(idx, idx)]
            out["kid"] = float((k.sum() - np.trace(k)) / (n * (n - 1)) + self.kyy - 2 * kfs[idx].mean())
            out["precision"] = float(inside[idx].mean())
            u = np.unique(idx)
            radii = _knn_radii(d_ff[np.ix_(u, u)], PR_K)
            out["recall"] = float((d_fs[u] <= radii[:, None]).any(0).mean())
            if labels is not None and self.classes > 1:
                out["class_entropy"] = _entropy(np.bincount(labels[idx], minlength=self.classes), self.classes)
            return out

        point = stats(np.arange(n))
        rng = np.random.default_rng(seed)
        draws = [stats(rng.integers(0, n, n)) for _ in range(boot)]
        for key in list(point):
            ci = _ci([d[key] for d in draws], point[key])
            point[f"{key}_ci"] = None if ci is None else list(clip(key, ci[0], ci[1]))  # to the measure's range
        return point


def make_reference(
    space, pool, n: int, train_x: np.ndarray, value_range, *, seed: int = 0, boot: int = BOOT
) -> Reference | None:
    """The Reference of a feature space and a real pool (:class:`features.RealPool`) for n samples:
    n real samples (seeded) become the baseline, the rest the reference set. None when the pool is too
    small (fewer than ``MIN_POOL`` real samples). ``pool.x`` is in ``value_range``, the model's."""
    M = len(pool.x)
    n = int(min(n, M // 2))
    if M < MIN_POOL or n < 2:
        return None
    rng = np.random.default_rng(seed)
    perm = rng.permutation(M)[: max(POOL_MAX, 2 * n)]  # a seeded 10,000 of a bigger pool: features cost time
    base, rest = np.sort(perm[:n]), np.sort(perm[n:])
    x = pool.x[np.sort(perm)]
    pos = {int(j): i for i, j in enumerate(np.sort(perm))}
    base_local = np.array([pos[int(j)] for j in base])
    rest_local = np.array([pos[int(j)] for j in rest])
    vr = (float(value_range[0]), float(value_range[1]))
    probs, feats = space.predict(x, vr)
    base_global = base
    base, rest_idx = base_local, rest_local
    sub = rest_idx if len(rest_idx) <= REFERENCE_MAX else np.sort(rng.choice(rest_idx, REFERENCE_MAX, replace=False))
    ref = Reference(
        space=space,
        what=f"{n} of {pool.what}",
        value_range=vr,
        n=n,
        feats=feats[rest_idx],
        sub=np.asarray(feats[sub], np.float64),
        seed=seed,
    )
    got = ref.measure_features(feats[base], None if probs is None else probs[base], boot=boot, seed=seed)
    ref.baseline = {f"{k.removesuffix('_ci')}_real{'_ci' if k.endswith('_ci') else ''}": v for k, v in got.items()}
    # the nearest distance of real samples: to the training data, or (no held-out split) to the nearest other
    d = nearest_other(x[base], train_x, exclude=None if pool.held_out else base_global)
    ref.baseline["nearest_mean_real"] = float(d.mean())
    ref.baseline["nearest_mean_real_ci"] = _ci([d[rng.integers(0, n, n)].mean() for _ in range(boot)])
    return ref


_REF_LOCK = threading.Lock()
_REFS: dict = {}


def reference_for(
    ds, n: int, *, seed: int = 0, train: bool = True, progress=None, cancelled=None, log=None
) -> Reference | None:
    """The Reference that measures samples of a model trained on ``ds`` (n at a time): its feature space
    (:func:`features.feature_space_for`, which may train a classifier on demand) and real pool
    (:func:`features.real_pool`). None when the data set has no feature space or too few samples.
    Cached per data set (the same array), n and seed, for the life of the process."""
    from .features import feature_space_for, real_pool

    key = (id(ds.x), ds.name, int(n), int(seed))
    with _REF_LOCK:
        hit = _REFS.get(key)
        if hit is not None and hit[0]() is ds.x:
            return hit[1]
    space = feature_space_for(ds, train=train, progress=progress, cancelled=cancelled, log=log)
    if space is None:
        return None
    _check(cancelled)
    pool = real_pool(ds)
    if pool is None:
        return None
    ref = make_reference(space, pool, n, ds.x, ds.value_range, seed=seed)
    with _REF_LOCK:
        _REFS[key] = (weakref.ref(ds.x), ref)
    return ref


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
        _check(cancelled)
        nx = model(x).clamp_(lo, hi)
        moved = _rms(nx, x)
        x = nx
        if float(moved.max()) < tol:
            break
    return x, _rms(model(x).clamp(lo, hi), x)


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
    dev = _device(model)
    x0 = torch.from_numpy(np.asarray(train_x[idx], np.float32)).to(dev)
    xs, res = refine_fixed_points(model, x0.clone(), value_range, steps=refine_steps, cancelled=cancelled)
    drift = _rms(xs, x0).float().cpu().numpy()
    res = res.float().cpu().numpy()
    rho = np.full(len(idx), np.nan)
    for k in range(len(idx)):
        _check(cancelled)
        if res[k] < tol:
            rho[k] = spectral_radius(model, xs[k])
        if progress is not None:
            progress(k + 1, len(idx))
    return AttractorAudit(rho=rho, residual=res, drift=drift, indices=idx, tol=tol)


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
    tol: float | None = None,
    progress=None,
    cancelled=None,
) -> np.ndarray:
    """Recovery rate for each σ: corrupt ``n`` training examples (seeded) by N(0, σ²) per value, iterate T
    steps of f without noise, and count those that end within ``tol`` (default
    :func:`converge_tolerance`) of where the clean example itself ends after T steps."""
    lo, hi = value_range
    tol = converge_tolerance(value_range) if tol is None else float(tol)
    dev = _device(model)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(train_x), size=min(n, len(train_x)), replace=False)
    x0 = torch.from_numpy(np.asarray(train_x[idx], np.float32)).to(dev)

    def run(x):
        for _ in range(T):
            x = model(x).clamp_(lo, hi)
        return x

    clean = run(x0.clone())
    g = torch.Generator().manual_seed(seed)
    rates = []
    for k, sigma in enumerate(sigmas):
        _check(cancelled)
        noise = torch.randn(x0.shape, generator=g).to(dev)
        x = run((x0 + float(sigma) * noise).clamp_(lo, hi)) if sigma > 0 else clean
        rates.append(float((_rms(x, clean) < tol).float().mean()))
        if progress is not None:
            progress(k + 1, len(sigmas))
    return np.asarray(rates)


# --- over-generalization --------------------------------------------------------------------------


@torch.no_grad()
def over_generalization(model, value_range, train_x: np.ndarray, n: int = 2048, seed: int = 0) -> dict:
    """f over inputs uniform on the whole box, against the training data's range; the identity map's
    values for the same inputs as the baseline."""
    lo, hi = value_range
    g = torch.Generator().manual_seed(seed)
    D = train_x.shape[1]
    z = lo + (hi - lo) * torch.rand(n, D, generator=g)  # drawn on the CPU: the same inputs on every device
    y = model(z.to(_device(model))).float().cpu().numpy()
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


# --- mixing ---------------------------------------------------------------------------------------


def switch_rate(labels: np.ndarray, stride: int) -> float:
    """labels: K×N (a label per chain at K looks, ``stride`` steps apart) → changes per 100 steps per chain."""
    lab = np.asarray(labels)
    if lab.ndim != 2 or len(lab) < 2 or stride < 1:
        return float("nan")
    return float((lab[1:] != lab[:-1]).mean() * 100.0 / stride)


@dataclass
class Looks:
    """Each chain's nearest class and nearest training example, every ``stride`` steps."""

    stride: int
    t: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    nearest: list = field(default_factory=list)

    def add(self, t: int, x: torch.Tensor, train_t: torch.Tensor, reference: Reference | None) -> None:
        xc = x.float().cpu()
        self.t.append(t)
        self.nearest.append(nearest_training(xc, train_t)[0].numpy())
        if reference is not None and reference.classes > 1:
            probs, _ = reference.space.predict(xc.numpy(), reference.value_range)
            self.classes.append(np.asarray(probs).argmax(1))

    def rates(self, after: int) -> tuple[float, float]:
        """(class changes, nearest-example changes) per 100 steps per chain over the looks at t ≥ after."""
        keep = [i for i, t in enumerate(self.t) if t >= after]
        near = switch_rate(np.stack([self.nearest[i] for i in keep]), self.stride) if len(keep) > 1 else math.nan
        cls = (
            switch_rate(np.stack([self.classes[i] for i in keep]), self.stride)
            if self.classes and len(keep) > 1
            else math.nan
        )
        return cls, near


# --- everything about one chain run ---------------------------------------------------------------


@dataclass
class Analysis:
    """Measures of one chain run (see the module docstring for each formula)."""

    steps: int
    n: int
    tol: float
    residual_median: np.ndarray  # median r_t over chains, t = 0 … steps (the last: the final states)
    contraction: np.ndarray  # median q_t
    burn_in: int | None
    converged: float
    periods: np.ndarray
    final_residual: np.ndarray
    memo: dict
    classes: dict | None = None
    distribution: dict | None = None
    reference: Reference | None = field(default=None, repr=False)
    overgen: dict | None = None
    mixing: tuple[float, float] | None = None
    final: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict:
        """Flat numbers for tables, CSV and JSON (intervals as [lo, hi] lists)."""
        per = self.periods
        d = self.memo["distance"]
        out = {
            "chains": self.n,
            "steps": self.steps,
            "tol": self.tol,
            "burn_in": self.burn_in if self.burn_in is not None else float("nan"),
            "converged": self.converged,
            "cycles": float((per > 1).mean()) if len(per) else float("nan"),
            "residual_median": float(np.median(self.final_residual)) if len(self.final_residual) else math.nan,
            "contraction_last": float(self.contraction[-1]) if len(self.contraction) else float("nan"),
            "copy_fraction": self.memo["copy_fraction"],
            "distinct": self.memo["distinct"],
            "top_basin_share": float(self.memo["occupancy"][0] / self.n) if self.n else float("nan"),
            "nearest_mean": float(d.mean()),
            "nearest_mean_ci": _ci([d[i].mean() for i in _boot_indices(len(d), BOOT)]) if len(d) > 1 else None,
        }
        ref = self.reference
        if ref is not None:
            out["nearest_mean_real"] = ref.baseline.get("nearest_mean_real")
            out["nearest_mean_real_ci"] = ref.baseline.get("nearest_mean_real_ci")
        if self.distribution:
            for m in DISTRIBUTION:
                if m in self.distribution:
                    out[m] = self.distribution[m]
                    out[f"{m}_ci"] = self.distribution.get(f"{m}_ci")
                    out[f"{m}_real"] = ref.baseline.get(f"{m}_real") if ref is not None else None
                    out[f"{m}_real_ci"] = ref.baseline.get(f"{m}_real_ci") if ref is not None else None
        if self.classes is not None:
            out["confidence"] = self.classes["confidence"]
            out.update({f"class_{c}": int(v) for c, v in enumerate(self.classes["histogram"])})
        if self.mixing is not None:
            out["mixing_class"], out["mixing_nearest"] = self.mixing
        if self.overgen is not None:
            for k in ("inside_training_range", "inside_training_range_identity", "saturated", "saturated_identity"):
                out[k] = self.overgen[k]
        out["feature_space"] = ref.space.name if ref is not None else None
        out["classifier"] = ref.space.info() if ref is not None else None
        out["real"] = ref.what if ref is not None else None
        out["interval"] = INTERVAL
        return out


def _boot_indices(n: int, boot: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, n) for _ in range(boot)]


def _run(
    model, spec, cfg: ChainConfig, steps: int, start_array, train_t, reference, progress, cancelled, stride, lab=None
):
    """Run a chain (its ε schedule, damping and ``lab`` included): (final states on the device, residual per
    step T+1×N, looks for mixing)."""
    dev = _device(model)
    if lab is not None:
        lab.check(cfg.n, spec.D)
    chain = Chain.from_config(model, spec.value_range, cfg, dev, lab=lab)
    x = start_states(cfg, spec.D, spec.value_range, shape=spec.shape, start_array=start_array, device=dev)
    x = chain.begin(x)
    r = np.zeros((steps + 1, cfg.n), np.float32)
    looks = Looks(stride)
    for t in range(steps):
        _check(cancelled)
        nx, fx = chain.step_with_f(x, t)
        r[t] = _rms(fx.clamp(*spec.value_range), x).float().cpu().numpy()
        if stride and t % stride == 0:
            looks.add(t, x, train_t, reference)
        x = nx
        if progress is not None and (t % 10 == 0 or t == steps - 1):
            progress(t + 1, steps)
    if stride and steps % stride == 0:
        looks.add(steps, x, train_t, reference)
    r[steps] = residuals(model, x, spec.value_range)
    return x, r, looks


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
    reference: Reference | None = None,
    start_array: np.ndarray | None = None,
    stride: int | None = None,
    progress=None,
    cancelled=None,
    lab=None,
) -> Analysis:
    """Run the chain ``steps`` steps from its start (with the core.lab.Lab ``lab``) and measure it, with its
    mixing (looks every ``stride`` steps, default steps/50). ``reference``: :func:`reference_for` of the training data (the
    distribution measures and their baselines; None: without them). ``tol``: the convergence tolerance
    (default :func:`converge_tolerance`)."""
    tol = converge_tolerance(spec.value_range) if tol is None else float(tol)
    train_t = torch.from_numpy(np.asarray(train_x, np.float32))
    stride = max(1, steps // 50) if stride is None else int(stride)
    x, r, looks = _run(model, spec, cfg, steps, start_array, train_t, reference, progress, cancelled, stride, lab)
    a = measure_states(
        model, spec, x.float().cpu().numpy(), r[:-1], train_x, tol=tol, copy_tol=copy_tol,
        reference=reference, n_chains=cfg.n, train_t=train_t, final_residual=r[-1],
    )  # fmt: skip
    a.mixing = looks.rates(a.burn_in if a.burn_in is not None else steps // 2)
    return a


def measure_states(
    model,
    spec,
    final: np.ndarray,
    residual_curve: np.ndarray,
    train_x: np.ndarray,
    *,
    tol: float,
    copy_tol: float = 0.05,
    reference: Reference | None = None,
    n_chains: int | None = None,
    train_t: torch.Tensor | None = None,
    final_residual: np.ndarray | None = None,
) -> Analysis:
    """The measures from what a run left: the states at the last step (N×D) and the residual of every
    step before it (T×N' for N' ≤ N chains: the window's curves keep the first chains)."""
    final = np.asarray(final, np.float32)
    rc = np.asarray(residual_curve, np.float32).reshape(len(residual_curve), -1) if len(residual_curve) else None
    fr = residuals(model, final, spec.value_range) if final_residual is None else np.asarray(final_residual)
    med = np.median(rc, axis=1) if rc is not None and rc.shape[1] else np.zeros(0)
    med = np.append(med, np.median(fr))
    if train_t is None:
        train_t = torch.from_numpy(np.asarray(train_x, np.float32))
    n = n_chains or len(final)
    per = cycle_periods(model, final, spec.value_range, tol)
    per[fr < tol] = 1
    a = Analysis(
        steps=len(med) - 1,
        n=n,
        tol=tol,
        residual_median=med,
        contraction=contraction(rc) if rc is not None and len(rc) > 1 else np.zeros(0),
        burn_in=burn_in(med, tol),
        converged=float((fr < tol).mean()),
        periods=per,
        final_residual=fr,
        memo=memorization(final, train_t, copy_tol),
        reference=reference,
        final=final,
    )
    if reference is not None:
        a.distribution, probs = reference.measure(final)
        if probs is not None:
            a.classes = class_makeup(probs)
    a.overgen = over_generalization(model, spec.value_range, np.asarray(train_x, np.float32))
    return a


@torch.no_grad()
def mixing_scan(
    model,
    spec,
    cfg: ChainConfig,
    steps: int,
    train_x: np.ndarray,
    reference: Reference | None = None,
    eps_list=(0.0, 0.003, 0.01, 0.03, 0.1),
    kinds=("normal", "uniform", "none"),
    *,
    stride: int | None = None,
    start_array: np.ndarray | None = None,
    progress=None,
    cancelled=None,
) -> list[dict]:
    """Is a chain a sampler or a retrieval? For each noise kind and ε (``none``: once, at ε = 0), run the
    chains of ``cfg`` (its start, n and seed) ``steps`` steps and count, after burn-in, how often each
    chain's nearest class and nearest training example change (per 100 steps per chain)."""
    from dataclasses import replace

    tol = converge_tolerance(spec.value_range)
    train_t = torch.from_numpy(np.asarray(train_x, np.float32))
    stride = max(1, steps // 50) if stride is None else int(stride)
    runs = [(k, float(e)) for k in kinds if k != "none" for e in eps_list if e > 0]
    runs = ([("none", 0.0)] if "none" in kinds or 0 in eps_list else []) + runs
    rows = []
    for i, (kind, eps) in enumerate(runs):
        c = replace(cfg, sampler=replace(cfg.sampler, noise=kind, eps=eps, schedule=None))  # the scan's own ε, constant
        _, r, looks = _run(model, spec, c, steps, start_array, train_t, reference, None, cancelled, stride)
        b = burn_in(np.median(r, axis=1), tol)
        cls, near = looks.rates(b if b is not None else steps // 2)
        rows.append({"noise": kind, "eps": eps, "burn_in": b, "mixing_class": cls, "mixing_nearest": near})
        if progress is not None:
            progress(i + 1, len(runs))
    return rows


def condition_match(
    model,
    spec,
    images: np.ndarray,
    labels: np.ndarray,
    classifier,
    region: str,
    *,
    chains: int = 4,
    steps: int = 100,
    noise: str = "normal",
    eps: float = 0.01,
    seed: int = 0,
    progress=None,
) -> dict:
    """How often a conditioned completion's class matches its source's (issue 20). Each of the M images
    (M×D in the model's value range, ``labels`` M) keeps its ``region`` (core.lab.region_mask) known, and
    ``chains`` chains from uniform noise fill in the rest for ``steps`` steps (core.lab.Condition, one known
    image per chain). The baseline ("free"): the same chains from the same start — the known pixels set once
    at step 0, the rest the same noise — that are not conditioned after it. The class of a final state is
    the classifier's argmax. Returns the match rates with bootstrap 95 % intervals over the images (a
    completion of one image is not independent of the others of it)."""
    from dataclasses import replace

    from .chain.chain import ChainConfig, run_chain, start_states
    from .chain.lab import Condition, Lab, region_mask
    from .classifier import to_unit

    images = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    M = len(images)
    mask = region_mask(region, spec.shape)
    known = np.repeat(images, chains, axis=0)
    cfg = ChainConfig(n=M * chains, start="uniform", seed=seed, sampler=Sampler(noise=noise, eps=eps))
    cond = Condition(known, mask, region=region)
    x0 = cond.apply_(start_states(cfg, spec.D, spec.value_range)).numpy()  # the conditioned chains' own start
    free_cfg = replace(cfg, start="array")
    rates = {}
    runs = (("conditioned", cfg, None, Lab(cond)), ("free", free_cfg, x0, None))
    for k, (name, c, start, lab) in enumerate(runs):
        final = None
        for t, x in run_chain(model, spec, c, steps, start_array=start, keep=[steps], lab=lab):
            final = x
            if progress is not None and t % 10 == 0:
                progress(k * (steps + 1) + t, 2 * (steps + 1))
        pred = classifier.predict(to_unit(final, spec.value_range))[0].argmax(1)
        per_image = (pred == np.repeat(labels, chains)).reshape(M, chains).mean(1)
        rates[name] = float(per_image.mean())
        rates[f"{name}_ci"] = _ci([per_image[i].mean() for i in _boot_indices(M, BOOT, seed)])
    return {"region": region, "images": M, "chains": chains, "steps": steps, "noise": noise, "eps": eps, **rates}
