"""The depth sweep: one model per (depth, seed), all on the same data with the same width and recipe, each
sampled the same way and measured (no Qt). ``kgn sweep`` calls :func:`run_sweep` directly; the window runs
it in a child process (``core/experiment/sweep_worker.py``) that reports typed events (``core/messages.py``).

Training. With ``target_loss`` None every model trains a fixed budget of ``steps`` (a constant learning
rate, the paper's); with a number, each trains until its best evaluation loss (``Trainer.best_loss``, the
loss on a fixed evaluation subset, checked every ``eval_every`` steps) is ≤ ``target_loss``, with ``steps``
as the cap, so that every depth is compared at the same fit. The rate is constant: no schedule is tied to a
step count that is not known in advance. A row records ``steps_trained`` and ``reached_target``.

Seeds. Each seed sets a model's initial weights and minibatch order, its chains' starts and noise, the
examples of its attractor audit and basin recovery, and the real samples its baselines are measured on.
The training data are the same for every seed (a ``subset`` is drawn with seed 0), so the seeds show how
much a measure moves between training runs of one recipe.

Output folder:

* ``depth_L_seed_S.safetensors``: every model;
* ``sweep_runs.csv``: one row per run (depth, seed): every measure;
* ``sweep.csv``: one row per depth: for every numeric measure m, ``m`` (the mean over seeds) and ``m_lo``,
  ``m_hi``: the 95 % t-interval over seeds, mean ± t₀.₉₇₅,ₙ₋₁·sd/√n (with one seed lo = hi = the value),
  clipped to the range the measure can take (:func:`clip_to_range`);
  ``seeds`` = n. A value that is not defined for some seed (a burn-in that never came, say) is left out of
  that measure's statistics and named in ``missing`` ("burn_in:1"). The per-run bootstrap intervals
  (``…_ci_lo``, ``…_ci_hi``) are in sweep_runs.csv only;
* ``sweep.png``: each measure against depth: the mean, its interval as an error bar, each seed as a dot,
  and the real-data baseline (``m_real``) as a dashed line where there is one.

Both CSVs start with a comment line of the settings, are rewritten whole (atomically) after every run, and
so always hold every finished run and nothing half-written.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..chain.chain import ChainConfig
from ..chain.sampler import Sampler
from ..errors import Cancelled
from ..lists import MAX_SEEDS
from ..measure.analysis import analyze_chain
from ..measure.distribution import reference_for
from ..measure.dynamics import attractor_audit, recovery_census
from ..measure.fixed_points import fixed_point_census
from ..measure.registry import MEASURE, clip, finite
from ..wording import count
from . import grid
from .grid import finished_rows, measured, read_csv, run_grid
from .sweep_plot import plot_rows

if TYPE_CHECKING:
    from ..model.architectures import ModelSpec

DATA_SEED = 0  # the seed of the training subset: the same data for every seed


@dataclass
class SweepConfig:
    """What to train (data, width, bound, recipe), for how long, on which seeds, and how to sample and
    measure each model."""

    source: str = "mnist"
    depths: tuple[int, ...] = (1, 2, 4, 6, 8, 10)
    H: int | None = None  # None: 256 for the MLP, the architecture's default width for the others
    bound: str = "tanh"
    steps: int = 2000  # the budget of every model, or with target_loss the most steps one may take
    lr: float | None = None  # None: 1e-3 for the MLP (short runs), the architecture's default for the others
    arch: str = "mlp"
    bottleneck: int = 0
    patch: int = 0
    heads: int = 0
    batch: int = 256
    seeds: tuple[int, ...] = (0, 1, 2)
    target_loss: float | None = None  # None: a fixed budget of ``steps``; else train until best eval loss ≤ it
    eval_every: int = 100
    subset: int = 10_000
    chains: int = 256
    sample_steps: int = 200
    sampler: Sampler = Sampler.PAPER  # how every model's chains step (core.sampler)
    audit: int = 32
    fixed_points: int = 0  # training examples (and as many chain ends) to root-find fixed points from
    objective: str = "manifold"  # what each model is fitted to (core.model.train.parse_objective)
    sigmas: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4)
    recovery_n: int = 200
    recovery_T: int = 50
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ..model.architectures import ARCH_DEFAULTS

        if self.arch not in ARCH_DEFAULTS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCH_DEFAULTS)}")
        if self.H is None:
            self.H = 256 if self.arch == "mlp" else ARCH_DEFAULTS[self.arch]["H"]
        if self.lr is None:
            self.lr = 1e-3 if self.arch == "mlp" else ARCH_DEFAULTS[self.arch]["lr"]
        if isinstance(self.seeds, int):
            self.seeds = (self.seeds,)
        self.seeds = tuple(self.seeds)
        self.depths = tuple(self.depths)
        self.sigmas = tuple(self.sigmas)
        if isinstance(self.sampler, str):
            self.sampler = Sampler.parse(self.sampler, steps=self.sample_steps)

    def spec(self, L: int, ds) -> ModelSpec:
        """The model spec of depth ``L`` for data set ``ds``."""
        from ..model.architectures import ModelSpec

        return ModelSpec(
            D=ds.D,
            L=L,
            H=self.H,
            bound=self.bound,
            arch=self.arch,
            shape=ds.shape,
            bottleneck=self.bottleneck,
            patch=self.patch,
            heads=self.heads,
        )

    @property
    def runs(self) -> list[tuple[int, int]]:
        """Every (depth, seed) in the order they run: each depth's seeds, depth by depth."""
        return [(L, s) for L in self.depths for s in self.seeds]

    def validate(self) -> None:
        if not self.depths or any(not _whole(d) or d < 1 or d > 64 for d in self.depths):
            raise ValueError("depths must be whole numbers in 1 … 64")
        if len(set(self.depths)) != len(self.depths):
            raise ValueError("depths must not repeat")
        if not self.seeds or any(not _whole(s) or s < 0 or s >= 2**63 for s in self.seeds):
            raise ValueError("seeds must be whole numbers ≥ 0, e.g. 0,1,2")
        if len(self.seeds) > MAX_SEEDS:
            raise ValueError(f"at most {MAX_SEEDS} seeds, got {len(self.seeds)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must not repeat")
        if self.target_loss is not None and not (
            isinstance(self.target_loss, (int, float)) and math.isfinite(self.target_loss) and self.target_loss > 0
        ):
            raise ValueError(f"the target loss must be a number > 0, got {self.target_loss!r}")
        for name in ("H", "steps", "batch", "chains", "sample_steps", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1")

    def settings_line(self) -> str:
        """The settings as one comment line for the CSVs: "# source=mnist depths=1,2,4 … seeds=0,1,2"."""

        def text(v) -> str:
            return ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v) if isinstance(v, tuple) else str(v)

        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return "# " + " ".join(f"{k}={v.text() if isinstance(v, Sampler) else text(v)}" for k, v in values.items())


def _whole(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_output_folder(out_dir: str | os.PathLike) -> Path:
    """The sweep's output folder: it must be new or empty (ValueError otherwise)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not empty")
    return out


def model_name(L: int, seed: int) -> str:
    """The file name of the model of depth ``L`` and seed ``seed``."""
    return f"depth_{L}_seed_{seed}.safetensors"


# --- training -------------------------------------------------------------------------------------


def train_run(
    cfg: SweepConfig,
    spec,
    ds,
    seed: int,
    *,
    cancelled: Callable[[], bool] | None = None,
    on_step: Callable[[int, int], None] | None = None,
):
    """Train one model of the sweep: ``steps`` steps, or with ``target_loss`` until the best evaluation loss
    is ≤ it (at most ``steps``). Returns (trainer, facts): the trainer holds the best weights; facts:
    train_loss (the best evaluation loss), steps_trained, best_step, train_seconds and, with a target,
    reached_target. ``on_step(step, cap)`` after every step; Cancelled when ``cancelled()``."""
    from ..model.train import TrainConfig, Trainer, TrainHooks

    tc = TrainConfig(
        lr=cfg.lr,
        batch=cfg.batch,
        steps=cfg.steps,
        seed=seed,
        device=cfg.device,
        eval_size=min(1000, ds.M),
        eval_every=cfg.eval_every,
        report_interval_s=0.0,  # an event after every step read back: the target is checked at each evaluation
        objective=cfg.objective,
        eval_on="heldout",  # a sweep's loss (and best weights) on samples never trained on, where there are any
    )
    tr = Trainer(spec, ds, tc)
    target = cfg.target_loss
    t0 = time.time()
    progress = None if on_step is None else (lambda ev: on_step(ev.step, ev.steps))
    diverged = tr.run(TrainHooks(progress, target_loss=target, cancelled=cancelled)).kind == "diverged"
    if cancelled is not None and cancelled():
        raise Cancelled("sweep cancelled")
    facts = {
        "train_loss": float(tr.best_loss),
        "steps_trained": int(tr.step),
        "best_step": int(tr.best_step),
        "train_seconds": round(time.time() - t0, 1),
    }
    if target is not None:
        facts["reached_target"] = bool(tr.best_loss <= target)
    facts["diverged"] = diverged  # the loss became NaN or infinite: the best weights before it were kept
    return tr, facts


# --- measuring ------------------------------------------------------------------------------------


def measure_run(
    cfg: SweepConfig,
    model,
    spec,
    ds,
    seed: int,
    *,
    reference=None,
    begin: Callable[[str], None] = lambda s: None,
    where: str = "",
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> dict:
    """The measures of one trained model (flat: numbers, and a few words): its chains' analysis (with the
    distribution measures and their real baselines when ``reference``, :func:`measures.reference_for` of the
    data, is given), the attractor audit and basin recovery, all seeded by ``seed``. ``progress(fraction of
    this run's measuring)``."""
    vr = spec.value_range
    chain = ChainConfig(n=cfg.chains, seed=seed, sampler=cfg.sampler)
    begin(f"{where}: sampling {count(cfg.chains, 'chain', commas=False)}")
    a = analyze_chain(
        model,
        spec,
        chain,
        cfg.sample_steps,
        ds.x,
        reference=reference,
        cancelled=cancelled,
        progress=None if progress is None else (lambda d, m: progress(0.67 * d / m)),
    )
    row = flatten(a.summary())
    if cfg.audit:
        begin(f"{where}: attractor audit")
        row.update(attractor_audit(model, vr, ds.x, n=cfg.audit, seed=seed, cancelled=cancelled).summary())
    if cfg.fixed_points:
        begin(f"{where}: fixed points")
        ends = None if a.final is None else np.asarray(a.final)[: cfg.fixed_points]
        census = fixed_point_census(model, ds.x, n=cfg.fixed_points, seed=seed, chain_ends=ends, cancelled=cancelled)
        row.update(census.summary())
    if progress is not None:
        progress(0.85)
    if cfg.sigmas:
        begin(f"{where}: basin recovery")
        rec = recovery_census(
            model, vr, ds.x, cfg.sigmas, n=cfg.recovery_n, T=cfg.recovery_T, seed=seed, cancelled=cancelled
        )
        row.update(rec.summary())
    return row


def flatten(summary: dict) -> dict:
    """A summary as flat CSV columns: an interval [lo, hi] under ``k`` becomes ``k_lo``, ``k_hi``; a dict
    ``k`` becomes ``k_<key>`` for each of its plain values; numpy numbers become Python numbers."""
    out: dict = {}
    for k, v in summary.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                if vv is None or isinstance(vv, (str, bool, int, float, np.number, np.bool_)):
                    out[f"{k}_{kk}"] = _plain(vv)
        elif isinstance(v, (list, tuple, np.ndarray)):
            if len(v) == 2:
                out[f"{k}_lo"], out[f"{k}_hi"] = _plain(v[0]), _plain(v[1])
        else:
            out[k] = _plain(v)
    return out


def _plain(v):
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


# --- the sweep ------------------------------------------------------------------------------------

_DATA: dict = {}  # (source, bound, subset) → the sweep's data set, opened once for a sweep's trials


def sweep_data(cfg: SweepConfig):
    """The data every model of the sweep trains on: the source in the bound's range, the seeded subset."""
    from ..data.sources import open_source
    from ..model.architectures import BOUNDS

    key = (cfg.source, cfg.bound, cfg.subset)
    if key not in _DATA:
        # a cached image source gives only the subset's rows: a worker's memory follows --subset
        ds = open_source(cfg.source, BOUNDS[cfg.bound], subset=(cfg.subset, DATA_SEED) if cfg.subset else None)
        _DATA.clear()
        _DATA[key] = ds
    return _DATA[key]


def sweep_trial(
    cfg: SweepConfig,
    L: int,
    seed: int,
    out_dir: str,
    *,
    log: Callable[[str], None] | None = None,
    stage: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> dict:
    """One trial of the sweep, in whatever process runs it: train the model of depth ``L`` with ``seed``,
    save it, sample and measure it. Returns its row of sweep_runs.csv. progress(fraction of this trial)."""
    from ..model.architectures import spec_parameter_count

    say, begin = log or (lambda s: None), stage or (lambda s: None)
    ds = sweep_data(cfg)
    spec = cfg.spec(L, ds)
    reference = reference_for(ds, cfg.chains, seed=seed, cancelled=cancelled, log=say)
    where = f"depth {L}, seed {seed}"
    params = spec_parameter_count(spec)
    begin(f"{where}: training")
    how = (
        f"until its evaluation loss is ≤ {cfg.target_loss:g} (at most {cfg.steps} steps)"
        if cfg.target_loss is not None
        else f"for {cfg.steps} steps"
    )
    say(f"{where}: training {params:,} parameters {how}")
    tr, facts = train_run(
        cfg,
        spec,
        ds,
        seed,
        cancelled=cancelled,
        on_step=None if progress is None else (lambda s, cap: progress(0.7 * s / max(1, cap))),
    )
    model = tr.model.eval().cpu()
    tr.save(Path(out_dir) / model_name(L, seed), name=f"sweep depth {L} seed {seed}")
    reached = (
        ""
        if "reached_target" not in facts
        else (", target reached" if facts["reached_target"] else ", target NOT reached")
    )
    say(
        f"{where}: evaluation loss {facts['train_loss']:.3g} after {count(facts['steps_trained'], 'step', commas=False)}{reached}"
    )
    measured = measure_run(
        cfg,
        model,
        spec,
        ds,
        seed,
        reference=reference,
        begin=begin,
        where=where,
        progress=None if progress is None else (lambda f: progress(0.7 + 0.3 * f)),
        cancelled=cancelled,
    )
    return {"depth": L, "seed": seed, "parameters": params, **facts, **measured}


def finished_runs(out_dir: str | os.PathLike, cfg: SweepConfig) -> list[dict]:
    """The runs a folder's sweep_runs.csv holds (for ``resume``): [] without one; ValueError when it was
    written for other settings (its rows would not belong to this sweep)."""
    return finished_rows(Path(out_dir) / "sweep_runs.csv", cfg.settings_line(), "a sweep")


def run_sweep(
    cfg: SweepConfig,
    out_dir: str | os.PathLike,
    *,
    log: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    stage: Callable[[str], None] | None = None,
    workers: int = 1,
    engine=None,
    resume: bool = False,
    on_trial: Callable[[dict, int, int], None] | None = None,
) -> list[dict]:
    """Train, sample and measure every (depth, seed); write the models, both CSVs and the PNG into
    ``out_dir``; return the rows of sweep.csv (one per depth). Each (depth, seed) is a trial
    (:func:`sweep_trial`) run by ``engine`` (core.experiment.engines.make_engine; None: in this process with
    ``workers=1``, else that many worker processes on this machine) through core.experiment.grid.run_grid:
    each finished trial's row is written to sweep_runs.csv (whole, with where and how long it ran) before
    the next is awaited, so an interrupted sweep loses only the trials that ran; ``resume`` skips the
    trials the folder's sweep_runs.csv already holds. log(line): what
    ``kgn sweep`` prints; progress(fraction done); stage(what runs now) as each stage begins; cancelled() is
    polled between training steps and chain steps (then :class:`~kgn_gui.core.errors.Cancelled` is raised;
    the CSVs hold the runs finished before)."""
    from .engine import InProcess
    from .engines import make_engine

    cfg.validate()
    engine = make_engine("local", workers=workers) if engine is None else engine
    here = isinstance(engine, InProcess)  # progress, stages and cancelling reach inside a trial
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = log or (lambda s: None)
    begin = stage or (lambda s: None)
    ds = sweep_data(cfg)
    for L in cfg.depths:
        cfg.spec(L, ds)  # a spec the data cannot take fails before any training
    if resume:
        finished_runs(out, cfg)  # a folder of another sweep is refused before any work
    if here:
        # the feature space and the real-data baselines of each seed (the same for every depth), before
        # any training: a classifier trained on demand for labelled data that are not MNIST, or a PCA; None
        # for data too small for distribution measures
        for seed in cfg.seeds:
            begin(f"seed {seed}: feature space and real-data baselines")
            ref = reference_for(ds, cfg.chains, seed=seed, cancelled=cancelled, log=say)
            if seed == cfg.seeds[0]:
                say(
                    f"measured in {ref.space.name}; baselines: {ref.what}"
                    if ref is not None
                    else f"no feature space for {ds.name}: no distribution measures"
                )
    plan = cfg.runs
    n = len(plan)
    order = {key: k for k, key in enumerate(plan)}

    def kwargs(key) -> dict:
        args = dict(cfg=cfg, L=key[0], seed=key[1], out_dir=str(out))
        if here:  # what only reaches inside a trial run in this process
            at = None if progress is None else (lambda f, k=order[key]: progress((k + f) / n))
            args.update(log=say, stage=begin, progress=at, cancelled=cancelled)
        return args

    def trial_done(row: dict, done: int, total: int) -> None:
        if not row.get("error"):
            say(f"depth {row['depth']}, seed {row['seed']}: " + ", ".join(_said(row)))
        if on_trial is not None:
            on_trial(row, done, total)

    try:
        runs = run_grid(
            sweep_trial, plan, ("depth", "seed"), kwargs, engine=engine, runs_csv=out / "sweep_runs.csv",
            settings=cfg.settings_line(), resume=resume, log=say, cancelled=cancelled, on_trial=trial_done,
            written=lambda done: write_csv(aggregate(measured(done)), out / "sweep.csv", cfg),
            progress=progress,
        )  # fmt: skip
    finally:
        _DATA.clear()  # its trials shared the data set; the sweep's caller need not keep it
    if cancelled is not None and cancelled():
        raise Cancelled("sweep cancelled")
    rows = aggregate(measured(runs))
    begin("drawing the chart")
    how = (
        f"to eval loss ≤ {cfg.target_loss:g} (cap {cfg.steps})" if cfg.target_loss is not None else f"{cfg.steps} steps"
    )
    plot_rows(
        rows,
        "depth",
        out / "sweep.png",
        title=f"depth sweep on {ds.name} ({cfg.arch}, H={cfg.H}, {how}, {len(cfg.seeds)} seeds)",
        runs=measured(runs),
    )
    return rows


def _said(row: dict) -> list[str]:
    """The log line's numbers of one run."""
    got = []
    for k, fmt in (
        ("converged", ".2f"),
        ("copy_fraction", ".2f"),
        ("distinct", "d"),
        ("frechet", ".3g"),
        ("precision", ".2f"),
        ("recall", ".2f"),
    ):
        if finite(row.get(k)):
            got.append(f"{MEASURE[k].label} {row[k]:{fmt}}")
    if finite(row.get("attractor_fraction")):
        got.append(f"attractors {row['attractor_fraction']:.2f} of {row['audit_fixed']} fixed of {row['audit_n']}")
    return got


# --- over seeds -----------------------------------------------------------------------------------

# two-sided 95 % quantiles of Student's t, t_{0.975, df} for df = 1 … MAX_SEEDS − 1
T975 = (
    12.7062047,
    4.30265273,
    3.18244631,
    2.77644511,
    2.57058184,
    2.44691185,
    2.36462425,
    2.30600414,
    2.26215716,
    2.22813885,
    2.20098516,
    2.17881283,
    2.16036866,
    2.14478669,
    2.13144955,
)


def t_interval(values) -> tuple[float, float, float]:
    """(mean, lo, hi): the 95 % t-interval of the mean, mean ± t_{0.975, n−1}·sd/√n (sd with n − 1); one
    value gives lo = hi = it; no values give NaNs."""
    v = np.asarray([float(x) for x in values], np.float64)
    if len(v) == 0:
        return (math.nan,) * 3
    m = float(v.mean())
    if len(v) == 1:
        return m, m, m
    df = len(v) - 1
    t = T975[df - 1] if df <= len(T975) else 1.959964
    half = t * float(v.std(ddof=1)) / math.sqrt(len(v))
    return m, m - half, m + half


# columns that are settings of a depth, not measures: written once, no interval
SETTING_COLUMNS = ("parameters", "chains", "steps", "tol", "audit_n", "audit_tol")


def _number(v) -> bool:
    return isinstance(v, (int, float, np.number, np.bool_)) or v is None


def aggregate(runs: list[dict], by: str = "depth") -> list[dict]:
    """One row per value of ``by`` (in the order first seen): ``seeds`` (the runs), then for every numeric
    column m the mean over its runs as ``m`` and the 95 % t-interval as ``m_lo``, ``m_hi`` (bools count as
    0/1: ``reached_target`` is the fraction that reached it). Settings (:data:`SETTING_COLUMNS`) are written
    once; a text column keeps its text when every run has the same; per-run intervals (``…_ci_lo``,
    ``…_ci_hi``) and ``seed`` are left out. Values that are missing or not finite are left out of their
    measure's statistics and counted in ``missing`` ("burn_in:1 frechet:2")."""
    groups: dict = {}
    for r in runs:
        groups.setdefault(r[by], []).append(r)
    out = []
    for value, rs in groups.items():
        row: dict = {by: value, "seeds": len(rs)}
        missing = []
        keys = list(dict.fromkeys(k for r in rs for k in r))
        for k in keys:
            if k in (by, "seed") or k.endswith(("_ci_lo", "_ci_hi")):
                continue
            vals = [r.get(k) for r in rs]
            if (k in SETTING_COLUMNS and len({repr(v) for v in vals}) == 1) or all(v is None for v in vals):
                row[k] = vals[0]  # a setting, or a measure that does not apply (no feature space, say)
            elif all(_number(v) for v in vals):
                ok = [float(v) for v in vals if v is not None and math.isfinite(float(v))]
                if len(ok) < len(vals):
                    missing.append(f"{k}:{len(vals) - len(ok)}")
                m, lo, hi = t_interval(ok)
                lo, hi = clip(k, lo, hi)  # to the range the measure can take (registry)
                row[k], row[f"{k}_lo"], row[f"{k}_hi"] = m, lo, hi
            else:
                texts = list(dict.fromkeys(str(v) for v in vals))
                row[k] = texts[0] if len(texts) == 1 else " | ".join(texts)
        row["missing"] = " ".join(missing)
        out.append(row)
    return out


# --- files ----------------------------------------------------------------------------------------


def write_csv(rows: list[dict], path: Path, cfg: SweepConfig | None = None, settings: str | None = None) -> None:
    """Rows → CSV (atomically), with the sweep's settings (``cfg``'s, or the line ``settings``) as a
    leading comment line."""
    grid.write_csv(rows, path, cfg.settings_line() if cfg is not None else settings)


def rebuild(folder: str | os.PathLike) -> list[dict]:
    """sweep.csv and sweep.png again from a folder's sweep_runs.csv (after a change to the statistics, or
    of a sweep that was stopped part-way): the runs are read back, aggregated and drawn; the settings line
    is kept. Returns the rows of sweep.csv."""
    folder = Path(folder)
    with open(folder / "sweep_runs.csv", newline="") as f:
        settings = f.readline().rstrip("\n")
    runs = measured([{k: grid.value(v) for k, v in r.items()} for r in read_csv(folder / "sweep_runs.csv")])
    rows = aggregate(runs)
    write_csv(rows, folder / "sweep.csv", settings=settings)
    title = "depth sweep: " + settings.lstrip("# ")[:150]
    plot_rows(rows, "depth", folder / "sweep.png", title=title, runs=runs)
    return rows
