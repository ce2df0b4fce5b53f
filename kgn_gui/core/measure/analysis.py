"""Everything about one chain run, measured: analyze_chain runs chains and measures them (Analysis),
measure_states measures given states (the window's shown step), mixing_scan scans ε and noise kinds
(Looks, switch_rate), condition_match compares conditioned completions with the same chains free."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..chain.chain import Chain, ChainConfig, start_states
from ..chain.curves import nearest_training
from ..chain.sampler import Sampler
from .distribution import (
    BOOT,
    DISTRIBUTION,
    INTERVAL,
    MEMORIZED_RATIO,
    Reference,
    bootstrap_interval,
    class_makeup,
    memorization,
    memorization_census,
    wilson_interval,
)
from .dynamics import (
    burn_in,
    check_cancelled,
    contraction,
    converge_tolerance,
    cycle_periods,
    device_of,
    over_generalization,
    residuals,
    rms,
)
from .mixing import PROJECTIONS, mixing_summary

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
    ess: dict | None = None  # mixing.mixing_summary of the chains' principal-component coordinates
    over_t: list | None = None  # the distribution measures at earlier steps: [{"t": t, …}, …]
    second: Analysis | None = field(default=None, repr=False)  # a second model's chains at the same step (window)

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
            "nearest_mean_ci": bootstrap_interval([d[i].mean() for i in _boot_indices(len(d), BOOT)])
            if len(d) > 1
            else None,
        }
        ref = self.reference
        if ref is not None:
            out["nearest_mean_real"] = ref.baseline.get("nearest_mean_real")
            out["nearest_mean_real_ci"] = ref.baseline.get("nearest_mean_real_ci")
        if "ratio" in self.memo:
            within = None if ref is None else ref.baseline.get("novel_within")
            census = memorization_census(self.memo["ratio"], self.memo["d1"], within)
            out["memorized_fraction"] = census["memorized_fraction"]
            out["memorized_fraction_ci"] = wilson_interval(census["memorized"], len(self.memo["ratio"]))
            if ref is not None:
                out["memorized_fraction_real"] = ref.baseline.get("memorized_fraction_real")
                out["memorized_fraction_real_ci"] = ref.baseline.get("memorized_fraction_real_ci")
            out.update({k: census[k] for k in ("memorized", "spurious", "novel")})
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
        if self.ess is not None:
            out.update(self.ess)
        if self.over_t:
            out["over_t"] = self.over_t
        if self.overgen is not None:
            for k in ("inside_training_range", "inside_training_range_identity", "saturated", "saturated_identity"):
                out[k] = self.overgen[k]
        out["feature_space"] = ref.space.name if ref is not None else None
        out["classifier"] = ref.space.info() if ref is not None else None
        out["real"] = ref.what if ref is not None else None
        out["real_heldout"] = ref.baseline.get("real_heldout") if ref is not None else None
        out["real_n"] = ref.baseline.get("real_n") if ref is not None else None
        out["interval"] = INTERVAL
        return out


def _boot_indices(n: int, boot: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, n) for _ in range(boot)]


def _run(
    model, spec, cfg: ChainConfig, steps: int, start_array, train_t, reference, progress, cancelled, stride, lab=None,
    axes=None, keep=(),
):  # fmt: skip
    """Run a chain (its ε schedule, damping and ``lab`` included): (final states on the device, residual per
    step T+1×N, looks for mixing, the states' coordinates on ``axes`` = (mean, P×D components) at every step
    (T+1×N×P, or None), the states at the steps of ``keep`` {t: N×D})."""
    dev = device_of(model)
    if lab is not None:
        lab.check(cfg.n, spec.D)
    chain = Chain.from_config(model, spec.value_range, cfg, dev, lab=lab)
    x = start_states(cfg, spec.D, spec.value_range, shape=spec.shape, start_array=start_array, device=dev)
    x = chain.begin(x)
    r = np.zeros((steps + 1, cfg.n), np.float32)
    looks = Looks(stride)
    coords, kept = None, {}
    if axes is not None:
        mu = torch.as_tensor(axes[0], dtype=torch.float32, device=dev)
        comps = torch.as_tensor(axes[1], dtype=torch.float32, device=dev)
        coords = np.zeros((steps + 1, cfg.n, len(comps)), np.float32)
    for t in range(steps):
        check_cancelled(cancelled)
        if coords is not None:
            coords[t] = ((x.float() - mu) @ comps.T).cpu().numpy()
        if t in keep:
            kept[t] = x.float().cpu().numpy()
        nx, fx = chain.step_with_f(x, t)
        r[t] = rms(fx.clamp(*spec.value_range), x).float().cpu().numpy()
        if stride and t % stride == 0:
            looks.add(t, x, train_t, reference)
        x = nx
        if progress is not None and (t % 10 == 0 or t == steps - 1):
            progress(t + 1, steps)
    if stride and steps % stride == 0:
        looks.add(steps, x, train_t, reference)
    r[steps] = residuals(model, x, spec.value_range)
    if coords is not None:
        coords[steps] = ((x.float() - mu) @ comps.T).cpu().numpy()
    return x, r, looks, coords, kept


@torch.no_grad()
def step_seconds(model, spec, cfg: ChainConfig, start_array=None) -> float:
    """Seconds one step of analyze_chain's chains takes here (f and the residual of ``cfg.n`` chains), timed on
    the second step of a throwaway run: what a time check before an analysis multiplies."""
    import time

    dev = device_of(model)
    chain = Chain.from_config(model, spec.value_range, cfg, dev)
    x = chain.begin(start_states(cfg, spec.D, spec.value_range, shape=spec.shape, start_array=start_array, device=dev))
    x, _ = chain.step_with_f(x, 0)
    t0 = time.perf_counter()
    nx, fx = chain.step_with_f(x, 1)
    rms(fx.clamp(*spec.value_range), x).float().cpu()
    return time.perf_counter() - t0


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
    over_t=(),
) -> Analysis:
    """Run the chain ``steps`` steps from its start (with the core.chain.lab.Lab ``lab``) and measure it, with its
    mixing (looks every ``stride`` steps, default steps/50), the autocorrelation time and effective sample
    size of its principal-component coordinates after the settling step (core.measure.mixing), and the
    distribution measures at each earlier step of ``over_t`` (``over_t`` in the summary). ``reference``: :func:`reference_for` of the training data (the
    distribution measures and their baselines; None: without them). ``tol``: the convergence tolerance
    (default :func:`converge_tolerance`)."""
    tol = converge_tolerance(spec.value_range) if tol is None else float(tol)
    train_t = torch.from_numpy(np.asarray(train_x, np.float32))
    stride = max(1, steps // 50) if stride is None else int(stride)
    keep = {int(t) for t in over_t if 0 <= int(t) < steps}
    x, r, looks, coords, kept = _run(
        model, spec, cfg, steps, start_array, train_t, reference, progress, cancelled, stride, lab,
        axes=principal_axes(train_x, PROJECTIONS), keep=keep,
    )  # fmt: skip
    a = measure_states(
        model, spec, x.float().cpu().numpy(), r[:-1], train_x, tol=tol, copy_tol=copy_tol,
        reference=reference, n_chains=cfg.n, train_t=train_t, final_residual=r[-1],
    )  # fmt: skip
    settled = a.burn_in if a.burn_in is not None else steps // 2
    a.mixing = looks.rates(settled)
    a.ess = mixing_summary(coords, settled)
    if over_t:
        final = x.float().cpu().numpy()
        a.over_t = [_measured_at(t, kept[t] if t in kept else final, train_t, reference) for t in sorted(set(
            min(int(t), steps) for t in over_t if int(t) >= 0))]  # fmt: skip
    return a


def principal_axes(train_x: np.ndarray, k: int, fit_max: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """(mean, top k principal components as rows) of the training data (a seeded 10,000 of a bigger set)."""
    from .baselines import pca

    x = np.asarray(train_x)
    if len(x) > fit_max:
        x = x[np.sort(np.random.default_rng(0).choice(len(x), fit_max, replace=False))]
    mu, comps, _ = pca(x, k)
    return mu.astype(np.float32), comps.astype(np.float32)


HISTORY_STEPS = 200  # the most steps before the shown one that measure_history reads for τ and ESS (each is
# replayed from the timeline: 200 steps of 256 MNIST chains are ~4 s of a core beside a paused window)


def over_t_steps(t: int) -> list[int]:
    """The earlier steps the window measures the distribution at, beside the shown step t: t/10 and t/3."""
    return sorted({s for s in (t // 10, t // 3) if 0 < s < t})


def measure_history(
    state_at, t: int, settled: int | None, train_x: np.ndarray, reference: Reference | None = None, *,
    over_t=(), window: int = HISTORY_STEPS, train_t: torch.Tensor | None = None, cancelled=None,
) -> tuple[dict, list[dict]]:  # fmt: skip
    """What a run's earlier states say about the shown step t, from ``state_at(s)`` (the states N×D at any
    reached step s ≤ t, e.g. ``ChainSession.state``): the autocorrelation time and ESS of the chains' principal
    coordinates (:func:`mixing.mixing_summary`, as :func:`analyze_chain` computes them) over the steps from the
    settling step — the last ``window`` of them at most — to t, and the distribution measures at each step of
    ``over_t`` (rows as in ``Analysis.over_t``). The states are read in order, so a timeline replays each once."""
    begin = max(0, t - int(window)) if settled is None else max(int(settled), t - int(window))
    mu, comps = principal_axes(train_x, PROJECTIONS)
    coords = []
    for s in range(begin, t + 1):
        if s % 32 == 0:
            check_cancelled(cancelled)
        x = np.asarray(state_at(s), np.float32)
        coords.append((x - mu) @ comps.T)
    ess = mixing_summary(np.stack(coords)) if coords else mixing_summary(np.zeros((0, 0, PROJECTIONS)))
    if train_t is None:
        train_t = torch.from_numpy(np.asarray(train_x, np.float32))
    rows = []
    for s in sorted({int(v) for v in over_t if 0 <= int(v) <= t}):
        check_cancelled(cancelled)
        rows.append(_measured_at(s, np.asarray(state_at(s), np.float32), train_t, reference))
    return ess, rows


def _measured_at(t: int, x: np.ndarray, train_t: torch.Tensor, reference: Reference | None) -> dict:
    """The distribution measures (without intervals) and memorized fraction of the states at step t."""
    row: dict = {"t": int(t)}
    if reference is not None:
        got, _ = reference.measure(x, boot=0)
        row.update({k: v for k, v in got.items() if not k.endswith("_ci")})
    m = memorization(x, train_t, 0.05)
    row["memorized_fraction"] = float((m["ratio"] < MEMORIZED_RATIO).mean())
    row["distinct"] = m["distinct"]
    return row


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
    cancelled=None,
) -> Analysis:
    """The measures from what a run left: the states at the last step (N×D) and the residual of every
    step before it (T×N' for N' ≤ N chains: the window's curves keep the first chains). ``cancelled()``,
    asked between the measures, ends it with Cancelled (the window's chains started to play, say)."""
    final = np.asarray(final, np.float32)
    rc = np.asarray(residual_curve, np.float32).reshape(len(residual_curve), -1) if len(residual_curve) else None
    fr = residuals(model, final, spec.value_range) if final_residual is None else np.asarray(final_residual)
    med = np.median(rc, axis=1) if rc is not None and rc.shape[1] else np.zeros(0)
    med = np.append(med, np.median(fr))
    if train_t is None:
        train_t = torch.from_numpy(np.asarray(train_x, np.float32))
    n = n_chains or len(final)
    check_cancelled(cancelled)
    per = cycle_periods(model, final, spec.value_range, tol)
    per[fr < tol] = 1
    check_cancelled(cancelled)
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
    check_cancelled(cancelled)
    if reference is not None:
        a.distribution, probs = reference.measure(final, cancelled=cancelled)
        if probs is not None:
            a.classes = class_makeup(probs)
    check_cancelled(cancelled)
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
        _, r, looks, _, _ = _run(model, spec, c, steps, start_array, train_t, reference, None, cancelled, stride)
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
    train_x: np.ndarray | None = None,
) -> dict:
    """How often a conditioned completion's class matches its source's (issue 20). Each of the M images
    (M×D in the model's value range, ``labels`` M) keeps its ``region`` (core.chain.lab.region_mask) known, and
    ``chains`` chains from uniform noise fill in the rest for ``steps`` steps (core.chain.lab.Condition, one known
    image per chain). The baseline ("free"): the same chains from the same start — the known pixels set once
    at step 0, the rest the same noise — that are not conditioned after it. The class of a final state is
    the classifier's argmax. Baselines that use the same known half and no chain at all: ``blank`` (the
    rest set to the range's low end, the background of MNIST-like data), ``noise`` (the rest the chains'
    uniform start) and, with ``train_x``, ``nearest`` (the rest from the training example nearest on the
    known half). Returns the match rates with bootstrap 95 % intervals over the images (a completion of
    one image is not independent of the others of it)."""
    from dataclasses import replace

    from ..chain.chain import ChainConfig, run_chain, start_states
    from ..chain.lab import Condition, Lab, region_mask
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
    draws = _boot_indices(M, BOOT, seed)

    def score(name: str, final: np.ndarray) -> None:
        pred = classifier.predict(to_unit(final, spec.value_range))[0].argmax(1)
        per_image = (pred == np.repeat(labels, chains)).reshape(M, chains).mean(1)
        rates[name] = float(per_image.mean())
        rates[f"{name}_ci"] = bootstrap_interval([per_image[i].mean() for i in draws])

    for k, (name, c, start, lab) in enumerate(runs):
        final = None
        for t, x in run_chain(model, spec, c, steps, start_array=start, keep=[steps], lab=lab):
            final = x
            if progress is not None and t % 10 == 0:
                progress(k * (steps + 1) + t, 2 * (steps + 1))
        score(name, final)
    keep = mask.reshape(-1).astype(bool)
    blank = np.full_like(known, spec.value_range[0])
    blank[:, keep] = known[:, keep]
    score("blank", blank)
    score("noise", x0)
    if train_x is not None:
        train = np.asarray(train_x, np.float32)
        idx, _ = nearest_training(torch.from_numpy(np.ascontiguousarray(images[:, keep])), torch.from_numpy(
            np.ascontiguousarray(train[:, keep])))  # fmt: skip
        filled = train[idx.numpy()].copy()
        filled[:, keep] = images[:, keep]
        score("nearest", np.repeat(filled, chains, axis=0))
    return {"region": region, "images": M, "chains": chains, "steps": steps, "noise": noise, "eps": eps, **rates}
