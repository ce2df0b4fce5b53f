"""The public Python API of Kaleidoscope Studio: ``import kgn_gui as kgn``.

One set of calls that ``kgn`` (the CLI), the window, notebooks and engines share, so the same request gives
the same answer everywhere (docs/api.md has runnable examples):

* :func:`load` — a bundled model by name, or a ``.safetensors`` file → :class:`Model`;
* :class:`~kgn_gui.core.chain.sampler.Sampler` — how a chain steps (noise kind, ε, ε(t) schedule, damping);
* :func:`sample` — N chains of a model → :class:`Run`, whose :meth:`Run.state` is exact for any step;
* :func:`analyze` — the measures of a model's chains (the numbers ``kgn analyze`` prints and writes);
* :func:`train` — a model trained on a data source by a named recipe (what ``kgn train`` runs);
* :func:`sweep` — one model per (depth, seed), each trained, sampled and measured, on the local engine or
  Ray (what ``kgn sweep`` runs);
* :func:`search` — one model's measures under many samplers and seeds, on the same engines (``kgn search``,
  ``kgn analyze --seeds``).

Nothing here imports Qt. Every error is a one-line ``ValueError`` (or ``OSError`` for files) that says why.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .core.bundled import resolve_model
from .core.chain.chain import ChainConfig
from .core.chain.lab import Condition, Edit, Lab
from .core.chain.sampler import Sampler
from .core.chain.session import ChainSession
from .core.chain.start import Start, parse_start
from .core.errors import ChainError
from .core.measure.registry import Measures
from .core.model.checkpoint import Checkpoint, load_checkpoint

__all__ = [
    "Measures",
    "Model",
    "Run",
    "Sampler",
    "analyze",
    "load",
    "sample",
    "search",
    "settings_of",
    "sweep",
    "train",
    "train_recipe",
]

Progress = Callable[[int, int], None]  # (done, total)


class Model:
    """A trained network and what its file says of it. ``spec``: its architecture (core.model.architectures.ModelSpec);
    ``name``; ``value_range``: (lo, hi) of its inputs and outputs; ``data``: its reference data (the training
    set it is measured against, loaded on first use); ``checkpoint``: the core object underneath."""

    def __init__(self, checkpoint: Checkpoint, trained=None):
        self.checkpoint = checkpoint
        self.trained = trained  # how :func:`train` ended (core.model.train.TrainEvent); None for a loaded model
        self._data = None

    spec = property(lambda self: self.checkpoint.spec)
    name = property(lambda self: self.checkpoint.name)
    path = property(lambda self: self.checkpoint.path)
    value_range = property(lambda self: self.checkpoint.value_range)
    network = property(lambda self: self.checkpoint.model)

    @property
    def data(self):
        """The reference data (core.data.Dataset) the model's file names; raises DataError when it cannot be
        had here."""
        if self._data is None:
            from .core.data.sources import reference_data

            ck = self.checkpoint
            self._data = reference_data(str(ck.meta.get("dataset", "")), ck.spec.D, ck.value_range)
        return self._data

    def save(self, path: str | os.PathLike, name: str | None = None) -> Path:
        """Write the model, with its metadata, to ``path`` (.safetensors, atomically)."""
        return self.checkpoint.save(path, name=name)

    def __repr__(self) -> str:
        return f"<kgn Model {self.name!r}: {self.spec.describe()}, values in {list(self.value_range)}>"


def load(model: str | os.PathLike | Model, device: str = "cpu") -> Model:
    """A bundled model's name (``mnist``, ``2d-corners``, …; ``kgn models`` lists them) or the path of a
    ``.safetensors`` file → a :class:`Model`. Model files are read as tensors and JSON, never unpickled."""
    if isinstance(model, Model):
        return model
    path = resolve_model(str(model))
    if not os.path.lexists(path):
        from .core.bundled import bundled_models

        names = ", ".join(bundled_models()) or "none found"
        raise FileNotFoundError(f"{model}: no such file, nor a bundled model ({names})")
    return Model(load_checkpoint(path, device=device))


def _start(model: Model, start, n: int, seed: int, sigma: float = 0.0, mask: int = 0) -> Start:
    """A Start of n chains seeded ``seed`` from what :func:`sample` was given (``sigma`` and ``mask``: the
    corruption of a data start given as text, as ``kgn sample --sigma --mask``)."""
    if start is None and not (sigma or mask):
        return Start("uniform", n=n, seed=seed)
    if isinstance(start, Start):
        return start.with_chains(n, seed)
    if isinstance(start, np.ndarray):
        return Start("array", n=n, seed=seed, array=np.asarray(start, np.float32))
    text = "uniform" if start is None else str(start)
    return parse_start(text, model.value_range, n=n, seed=seed, sigma=float(sigma), mask=int(mask))


def _chains(model, n: int, steps: int, seed: int, sampler: Sampler | str, start) -> tuple[Model, Start, ChainConfig]:
    """(the model, the start, the chain config) of :func:`sample`'s and :func:`analyze`'s arguments; a
    sampler's text is read with the run's steps (the T of a schedule given without one)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ChainError(f"steps must be a whole number ≥ 0, got {steps!r}")
    m = load(model)
    if isinstance(sampler, str):
        sampler = Sampler.parse(sampler, steps=steps)
    st = _start(m, start, n, seed)
    return m, st, st.chain_config(sampler)  # (checked where it is used: the session, or after analyze's preflight)


def settings_of(config: ChainConfig, lab: Lab | None) -> dict:
    """What a result file (sample.json, kgn analyze's JSON) records of a run's sampler and lab beyond noise and
    ε: the ε schedule and damping when set, the condition and the edits when there are any."""
    out = {}
    sampler = config.sampler
    if sampler.schedule is not None:
        out["eps_schedule"] = sampler.schedule.text()
    if sampler.damping != 1.0:
        out["damping"] = sampler.damping
    if lab is not None and not lab.empty:
        out["lab"] = lab.to_dict()
    return out


SAMPLE_FILES = ("final_states.npy", "grid.png", "sample.json", "divergence.csv")
SAMPLE_WHAT = "a previous kgn sample result"


class Run:
    """N chains of a model from a start, stepped by a sampler: x_t for any step t, exact (computed on demand,
    kept as keyframes and replayed, so a long run takes bounded memory).

    ``model``, ``steps`` (the steps asked of :func:`sample`), ``start`` (core.chain.start.Start), and from the
    chains themselves ``config`` (core.chain.ChainConfig: n, start, sampler, seed), ``sampler`` and ``lab`` (a
    snapshot of the condition and the edits)."""

    def __init__(self, model: Model, session: ChainSession, steps: int, start: Start, events=()):
        self.model, self._session, self.steps, self.start = model, session, int(steps), start
        # (step, 0, Sampler) sampler changes and (step, 1, Edit) edits not applied yet, in order: each is
        # applied when the chains reach its step
        self._events = sorted(events, key=lambda ev: ev[:2])

    n = property(lambda self: self._session.n)
    config = property(lambda self: self._session.config)
    sampler = property(lambda self: self._session.config.sampler)
    lab = property(lambda self: self._session.lab.copy())

    def advance(self, t: int, progress: Progress | None = None) -> None:
        """Compute the steps up to t (``progress(done, t)`` as they come)."""
        s = self._session
        while True:
            due = self._events[0][0] if self._events and self._events[0][0] <= t else None
            goal = t if due is None else due
            while s.t_max < goal:
                s.advance(min(goal - s.t_max, 16))
                if progress is not None:
                    progress(s.t_max, t)
            if due is None:
                return
            _, kind, what = self._events.pop(0)  # a sampler change at a step, then the edits at it
            if kind == 0:
                s.set_sampler(what, at=due)
            else:
                s.add_edit(what)

    def _check_time(self, steps: int, max_seconds: float | None) -> None:
        """Refuse (PreflightError, with the estimate) ``steps`` more steps of these chains that would take over
        ``max_seconds`` here (None: no check): one step is timed first (:meth:`step_seconds`)."""
        from .core.preflight import check_time

        if max_seconds is not None and steps - self._session.t_max > 2:
            check_time("--steps", steps - self._session.t_max, self.step_seconds(), chains=self.n, limit_s=max_seconds)

    def step_seconds(self) -> float:
        """Seconds one step of these chains takes on this machine, timed on the next step to compute (the first
        step, which pays for warm-up, is computed before; the run keeps both): what a time check multiplies."""
        import time

        s = self._session
        if s.t_max == 0:
            self.advance(1)
        t0 = time.perf_counter()
        self.advance(s.t_max + 1)
        return time.perf_counter() - t0

    def state(self, t: int | None = None) -> np.ndarray:
        """x_t (N×D float32, a copy) for any step t ≥ 0 (default: the run's last step)."""
        t = self.steps if t is None else int(t)
        if t < 0:
            raise ChainError(f"step {t}: steps are ≥ 0")
        self.advance(t)
        return np.array(self._session.state(t))

    def images(self, t: int | None = None) -> np.ndarray:
        """x_t shaped as the model's data (N×C×H×W for images, N×D for points)."""
        return self.state(t).reshape(self.n, *self.model.spec.shape)

    # -- what a run can be asked to do
    def branch(self, t: int, k: int, rows: Iterable[int] | None = None) -> Run:
        """K continuations of chains ``rows`` (default all) from step t, differing only in their noise seeds:
        a Run of len(rows)·K chains (row i·K + k: chain rows[i], branch k) whose step 0 is step t of this one."""
        self.advance(t)
        b = self._session.branch(int(t), None if rows is None else list(rows), int(k))
        start = Start("array", n=b.n, seed=self.config.seed, array=b.state(0))
        return Run(self.model, b, max(0, self.steps - int(t)), start)

    def edit(self, edit: Edit) -> Run:
        """Apply a live edit (core.chain.lab.Edit) at its step; later steps follow from the edited state. Returns self."""
        self.advance(int(edit.t))
        self._session.add_edit(edit)
        return self

    def measures(self, t: int | None = None, **kw) -> dict:
        """:func:`analyze` of these chains after t steps (default: the run's steps)."""
        return analyze(self, steps=self.steps if t is None else int(t), **kw)

    def export(
        self,
        path: str | os.PathLike,
        steps: Iterable[int] | None = None,
        *,
        fmt: str | None = None,
        progress: Progress | None = None,
        inputs: Iterable = (),
        log: Callable[[str], None] | None = None,
        max_seconds: float | None = None,
        **options,
    ) -> Path:
        """Write the chains at ``steps`` (default 0 … the run's steps) as an animation, mosaic or states file:
        ``fmt`` (gif, webp, apng, mp4, webm, png, npz), else the one the path's extension names, else gif.
        ``options``: fps, scale, overlay, chain, size, gif_hold (core.export.ExportOptions). Checked before any
        frame is drawn (an option the model cannot take: ExportOptionError; more than memory holds:
        PreflightError; steps that would take over ``max_seconds`` here: PreflightError). ``inputs``: files the
        caller read, which the output may not be. The frames ``kgn export`` writes (it is this call)."""
        from .core.export.animation import check_points_options, export_session, export_states
        from .core.export.options import ExportOptions
        from .core.export.targets import format_of, output_for
        from .core.preflight import check_export

        steps = list(range(self.steps + 1)) if steps is None else [int(t) for t in steps]
        fmt = fmt or format_of(path) or "gif"
        target = output_for(path, fmt)
        ck = self.model.checkpoint
        inputs = [*([ck.path] if ck.path else []), *inputs]
        points_model = len(ck.spec.shape) == 1
        opts = ExportOptions(fmt="gif" if fmt == "npz" else fmt, **options)
        if points_model and fmt != "npz":
            check_points_options(ck.spec.shape, self.n, opts)
        opts.validate()
        check_export(len(steps), self.n, ck.spec.D, ck.spec.shape, fmt, opts.scale, opts.chain, max_step=max(steps))
        self._check_time(max(steps), max_seconds)
        if fmt == "npz":
            return export_states(
                ck.model, ck.spec, self.config, steps, target, start_array=self.start.array,
                meta={"model": str(ck.path), "model_name": ck.name}, inputs=inputs, lab=self.lab,
            )  # fmt: skip
        points = None
        if points_model:  # a points model's pictures show its training points, when they can be had
            from .core.errors import DataError

            try:
                points = self.model.data.x
            except DataError as e:
                (log or (lambda line: None))(f"note: training points not drawn ({e})")
        self.advance(max(steps))
        return export_session(self._session, steps, target, opts, points=points, progress=progress, inputs=inputs)

    def bundle(
        self,
        path: str | os.PathLike,
        steps: Iterable[int] | None = None,
        *,
        progress: Progress | None = None,
        inputs: Iterable = (),
        max_seconds: float | None = None,
        **options,
    ) -> Path:
        """A run bundle (a folder, or a .zip) that ``kgn sample --bundle`` reproduces frame for frame: the model,
        the chains' settings, metrics.csv and the animation (``options`` as for :meth:`export`; fmt gif by
        default). For image models only."""
        from .core.errors import ExportOptionError
        from .core.export.bundle import MAX_STEP, write_bundle
        from .core.export.options import ExportOptions
        from .core.preflight import check_export

        steps = list(range(self.steps + 1)) if steps is None else [int(t) for t in steps]
        ck = self.model.checkpoint
        if max(steps) > MAX_STEP:
            raise ExportOptionError(f"a run bundle's steps go up to {MAX_STEP:,}; the steps asked go to {max(steps):,}")
        if len(ck.spec.shape) == 1:
            raise ExportOptionError("run bundles are made for image models; export the animation without --bundle")
        opts = ExportOptions(**{"fmt": "gif", **options})
        opts.validate()
        check_export(len(steps), self.n, ck.spec.D, ck.spec.shape, opts.fmt, opts.scale, opts.chain,
                     max_step=max(steps), bundle=True)  # fmt: skip
        self._check_time(max(steps), max_seconds)
        return write_bundle(
            path, ck, self.config, steps, opts, start_array=self.start.array, lab=self.lab, progress=progress,
            inputs=list(inputs),
        )  # fmt: skip

    def save(
        self,
        out: str | os.PathLike,
        steps: int | None = None,
        *,
        branch: tuple[int, int] | None = None,
        grid_steps: Iterable[int] | None = None,
        grid_n: int = 16,
        model: str | None = None,
        progress: Progress | None = None,
        max_seconds: float | None = None,
    ) -> dict:
        """Write the result folder ``kgn sample`` writes (it is this call): final_states.npy (the states at step
        ``steps``, default the run's steps; computed as needed), grid.png (image models: ``grid_n`` chains at each of ``grid_steps``, default the first
        and the last step) and sample.json (the settings). ``branch`` = (b, K): from step b on each chain goes on
        K ways that differ only in their noise seed (row i·K + k), and divergence.csv is their mean pairwise
        distance per step. ``out`` is replaced whole, and only when it holds a previous result (or nothing).
        Returns sample.json's dict; with a branch its "divergence" is the (step, divergence) list. Steps that
        would take over ``max_seconds`` here are refused first (PreflightError)."""
        import json

        from .core.chain.lab import divergence
        from .core.files import atomic_folder, atomic_write_text, check_own_folder
        from .core.picture.render import save_png, states_to_grid
        from .core.preflight import MAX_GRID_ROWS, check_output_folder, check_sample

        out, ck = Path(out), self.model.checkpoint
        T = self.steps if steps is None else int(steps)
        owned = SAMPLE_FILES.__contains__
        check_own_folder(out, owned, SAMPLE_WHAT)  # a folder of other files is refused before the chains run
        grid_steps = [0, T] if grid_steps is None else [int(t) for t in grid_steps]
        if len(grid_steps) > MAX_GRID_ROWS or not all(0 <= t <= T for t in grid_steps):
            raise ChainError(f"grid steps must lie in [0, {T}], at most {MAX_GRID_ROWS} of them")
        b, K = branch if branch is not None else (T, 1)
        if not 0 <= b <= T:
            raise ChainError(f"the branch step must lie in [0, {T}]")
        check_sample(self.n * K, ck.spec.D, ck.spec.shape, grid_rows=len(grid_steps), grid_n=grid_n)
        out.parent.mkdir(parents=True, exist_ok=True)  # -o a/b/c makes a/b
        check_output_folder(out)
        self._check_time(b + (T - b) * K, max_seconds)  # (a branch's K rows a chain cost K steps a step)
        self.advance(b, progress)
        br = self.branch(b, K) if branch is not None else None
        if br is not None:
            br.advance(T - b, None if progress is None else (lambda d, n: progress(b + d, T)))

        def state(t: int):
            return self.state(t) if br is None or t < b else br.state(t - b)

        meta = {"model": model or str(ck.path or ck.name), "chain": self.config.to_dict(), "steps": T}
        meta.update(grid_steps=grid_steps, **settings_of(self.config, self.lab))
        # made in a folder beside OUT and swapped in together: a failure on the way leaves OUT as it was
        with atomic_folder(out, owned=owned, what=SAMPLE_WHAT) as tmp:
            with open(tmp / "final_states.npy", "wb") as f:
                np.save(f, state(T))
            if len(ck.spec.shape) == 3:
                rows = [
                    states_to_grid(state(t)[:grid_n], ck.spec.shape, ck.value_range, cols=grid_n) for t in grid_steps
                ]
                save_png(tmp / "grid.png", rows, labels=[f"t={t}" for t in grid_steps])
            div = None
            if br is not None:
                div = [(t, divergence(br.state(t - b), K)) for t in range(b, T + 1)]
                meta["branch"] = {"step": b, "K": K, "rows": "chain i's branch k is row i·K + k"}
                meta["divergence_final"] = div[-1][1]
                text = "t,divergence\n" + "".join(f"{t},{d:.6g}\n" for t, d in div)
                atomic_write_text(tmp / "divergence.csv", text)
            atomic_write_text(tmp / "sample.json", json.dumps(meta, indent=2))
        return meta if div is None else {**meta, "divergence": div}

    # -- display
    def _repr_html_(self) -> str:
        """An animated GIF of the run (up to 64 chains, every step up to 120 frames), for Jupyter."""
        import tempfile

        steps = np.unique(np.linspace(0, self.steps, min(self.steps + 1, 120)).round().astype(int)).tolist()
        with tempfile.TemporaryDirectory(prefix="kgn-run-") as tmp:
            path = self.export(Path(tmp) / "run.gif", steps=steps, fps=20, scale=2, max_tiles=64)
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        what = f"{self.n} chains of {self.model.name}, steps 0 … {self.steps}, sampler {self.sampler.text()}"
        return f'<img src="data:image/gif;base64,{data}" alt="{what}" title="{what}"/>'

    def __repr__(self) -> str:
        return f"<kgn Run: {self.n} chains of {self.model.name!r}, {self.steps} steps, {self.sampler.text()}>"


def sample(
    model: str | os.PathLike | Model,
    n: int = 64,
    steps: int = 300,
    seed: int = 0,
    sampler: Sampler | str = Sampler.PAPER,
    start=None,
    condition: Condition | str | None = None,
    progress: Progress | None = None,
    *,
    known: str | None = None,
    sigma: float = 0.0,
    mask: int = 0,
    sampler_from: Iterable[tuple[int, Sampler | str]] = (),
    edits: Iterable[Edit | dict] = (),
) -> Run:
    """Run ``n`` chains of ``model`` for ``steps`` steps and return the :class:`Run`.

    sampler: a Sampler or its text (``"diverse"``, ``"noise=uniform,eps=0.05"``; a schedule without its T runs
    over ``steps``). start: None (uniform noise), ``"normal"``, ``"data:mnist:test#3"``, a .npy path, an array
    (one state or one per chain) or a core.chain.start.Start; its chain count and seed are ``n`` and ``seed``.
    condition: a core.chain.lab.Condition (inpainting), or its text (``data:SOURCE#INDEX``, a .npy or an image)
    with ``known`` (top, bottom, left, right or a mask file). sigma, mask: a data start's corruption.
    sampler_from: (step, sampler) pairs, each sampler stepping from its step on. edits: live edits
    (core.chain.lab.Edit, or their dicts as sample.json records them), each at its step. ``progress(done,
    total)`` as steps are computed. The same states as ``kgn sample MODEL -n N --steps STEPS --seed SEED``
    (with ``--sampler-from``, ``--edits``, …) bit for bit: core.export.as_code writes both forms of a run."""
    from .core.chain.lab import condition_of
    from .core.data.sources import open_source
    from .core.preflight import check_chains

    m = load(model)
    m, st, cfg = _chains(m, n, steps, seed, sampler, _start(m, start, n, seed, sigma, mask))
    ck = m.checkpoint
    if isinstance(condition, str) or known is not None:
        condition = condition_of(condition, known, ck.spec.shape, ck.value_range, open_source=open_source)
    check_chains(cfg.n, ck.spec.D)  # the chains fit in memory, before they are made
    session = ChainSession(
        ck.model, ck.spec.shape, ck.value_range, cfg, start_array=st.array, lab=Lab(condition)
    )  # fmt: skip
    events = [(int(t), 0, Sampler.parse(x, steps=steps) if isinstance(x, str) else x) for t, x in sampler_from]
    events += [(int(e.t), 1, e) for e in (x if isinstance(x, Edit) else Edit.from_dict(x) for x in edits)]
    run = Run(m, session, steps, st, events)
    run.advance(steps, progress)
    return run


def analyze(
    model_or_run: str | os.PathLike | Model | Run,
    *,
    steps: int = 300,
    n: int = 64,
    seed: int = 0,
    sampler: Sampler | str = Sampler.PAPER,
    start=None,
    condition: Condition | None = None,
    data=None,
    tol: float | None = None,
    copy_tol: float = 0.05,
    audit: int = 0,
    fixed_points: int = 0,
    baselines: bool = False,
    over_t: Iterable[int] = (),
    against: str | os.PathLike | Model | None = None,
    sigmas: Iterable[float] = (),
    recovery_n: int = 200,
    recovery_T: int = 50,
    mixing: Iterable[float] = (),
    max_seconds: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Measures:
    """The measures of a model's chains after ``steps`` steps: convergence, memorization, the distribution
    measures against the reference data with their real-data baselines and intervals, and (when asked) the
    attractor audit of ``audit`` training examples, the fixed points root-found from ``fixed_points`` training
    examples and as many chain ends (core.measure.fixed_points), the generative baselines (``baselines``:
    retrieval, PCA-Gaussian and GMM samples measured as the chains are, core.measure.baselines), the
    distribution measures at each step of ``over_t`` (``over_t`` rows: is the chain stationary?), the
    two-halves test against the model ``against`` (its chains from the same starts, seed and sampler;
    ``halves``: core.measure.distribution.halves), basin recovery at each σ of ``sigmas`` and the mixing scan
    over the ε of ``mixing``. ``max_seconds``: refuse (PreflightError, with the estimate) chains whose steps
    would take longer, timed on a step of these chains first (``kgn analyze`` without --yes: 10 minutes). data: a data source (``kgn analyze --data``) or a core.data.Dataset to measure
    against (default: the model's reference data). Given a :class:`Run`, its chains (model, start, sampler, seed, condition and
    edits) are measured. The dict ``kgn analyze --json`` writes, as core.measure.registry.Measures (``estimate(key)``:
    a value with its interval; ``lines()``: what ``kgn analyze`` prints). ``progress(stage, done, total)``."""
    from .core.measure.analysis import analyze_chain, mixing_scan
    from .core.measure.distribution import reference_for
    from .core.measure.dynamics import attractor_audit, recovery_census
    from .core.preflight import check_analysis

    if isinstance(model_or_run, Run):
        run = model_or_run
        m, cfg, lab, start_array = run.model, run.config, run.lab, run.start.array
    else:
        m, st, cfg = _chains(model_or_run, n, steps, seed, sampler, start)
        lab, start_array = Lab(condition), st.array
    ck = m.checkpoint
    sigmas, mixing = [float(s) for s in sigmas], [float(e) for e in mixing]
    # Every argument is checked before any work (a bad one once came after minutes of chains and audit).
    from .core.chain.sampler import MAX_EPS
    from .core.lists import MAX_SIGMA

    if not all(math.isfinite(s) and 0 <= s <= MAX_SIGMA for s in sigmas):
        raise ChainError(f"σ levels must be numbers in [0, {MAX_SIGMA:g}], got {sigmas}")
    if not all(math.isfinite(e) and 0 <= e <= MAX_EPS for e in mixing):
        raise ChainError(f"the mixing scan's ε must be in [0, {MAX_EPS:g}], got {mixing}")
    other = None if against is None else load(against)
    if other is not None and other.checkpoint.spec.D != ck.spec.D:
        raise ChainError(f"--against: that model has D = {other.checkpoint.spec.D}, this one {ck.spec.D}")
    say = (lambda stage: None) if progress is None else (lambda stage: lambda d, t: progress(stage, d, t))
    if isinstance(data, str):
        from .core.data.sources import reference_data

        ds = reference_data(str(ck.meta.get("dataset", "")), ck.spec.D, ck.value_range, source=data)
    else:
        ds = m.data if data is None else data
    if ds.D != ck.spec.D:
        raise ChainError(f"the reference data has {ds.D} values per sample, the model {ck.spec.D}")
    check_analysis(cfg.n, ck.spec.D, steps, M=ds.M, recovery_n=recovery_n if sigmas else 0, audit=audit)
    if max_seconds is not None and steps > 2:  # memory first (it runs nothing), then time (one step is timed)
        from .core.measure.analysis import step_seconds
        from .core.preflight import check_time

        runs = 1 + (1 + 2 * sum(e > 0 for e in mixing) if mixing else 0) + (other is not None)  # mixing: none, 2 a ε
        per = step_seconds(ck.model, ck.spec, cfg, start_array)
        check_time("--steps", steps * runs, per, chains=cfg.n, limit_s=max_seconds)
    ref = reference_for(ds, cfg.n, seed=cfg.seed, progress=say(f"feature classifier for {ds.name}"), log=log)
    lab = None if lab is None or lab.empty else lab
    a = analyze_chain(
        ck.model, ck.spec, cfg, steps, ds.x, tol=tol, copy_tol=copy_tol, reference=ref,
        start_array=start_array, progress=say("chain steps"), lab=lab, over_t=tuple(int(t) for t in over_t),
    )  # fmt: skip
    out = a.summary()
    if audit:
        out.update(
            attractor_audit(
                ck.model, ck.value_range, ds.x, n=audit, seed=cfg.seed, progress=say("attractor audit")
            ).summary()
        )
    if fixed_points:
        from .core.measure.fixed_points import fixed_point_census

        ends = None if a.final is None else np.asarray(a.final)[:fixed_points]
        census = fixed_point_census(
            ck.model, ds.x, n=fixed_points, seed=cfg.seed, chain_ends=ends, progress=say("fixed points")
        )
        out.update(census.summary())
    if other is not None:
        from .core.measure.distribution import halves

        theirs = sample(other, cfg.n, steps, cfg.seed, cfg.sampler, start=start if start is not None else start_array)
        out["halves"] = {"against": str(other.checkpoint.path or other.checkpoint.name)}
        out["halves"].update(halves(a.final, theirs.state(steps).reshape(cfg.n, -1), seed=cfg.seed))
    if baselines:
        from .core.measure.baselines import measure_baselines

        if progress is not None:
            progress("baselines", 0, 1)
        out["baselines"] = measure_baselines(ref, ds.x, cfg.n, ck.value_range, sampler=cfg.sampler, seed=cfg.seed)
        if progress is not None:
            progress("baselines", 1, 1)
    if sigmas:
        rec = recovery_census(
            ck.model, ck.value_range, ds.x, sigmas, n=recovery_n, T=recovery_T, seed=cfg.seed,
            progress=say("basin recovery"),
        )  # fmt: skip
        out.update(rec.summary())
    head = {"model": str(ck.path) if ck.path else ck.name, "reference": ds.name}
    head.update(noise=cfg.sampler.noise, eps=cfg.sampler.eps, **settings_of(cfg, lab))
    out = {**head, **out}
    if mixing:
        out["mixing_scan"] = mixing_scan(
            ck.model, ck.spec, cfg, steps, ds.x, ref, eps_list=mixing, kinds=("normal", "uniform", "none"),
            start_array=start_array, progress=say("mixing scan"),
        )  # fmt: skip
    return Measures(out)


def _existing(*paths) -> list[Path]:
    return [Path(p) for p in paths if p and os.path.lexists(p)]


def train_recipe(source: str, preset: str | None = "fast", *, arch: str = "mlp", **overrides):
    """The recipe (core.model.recipes.Recipe) that :func:`train` runs for a data source: the preset's, with each
    override that is not None in its place (``kgn train`` and the window's training form plan the same)."""
    from .core.model.recipes import recipe_for

    return recipe_for(source, preset, arch=arch).with_overrides(**overrides)


def train(
    data,
    preset: str = "fast",
    *,
    arch: str = "mlp",
    output: str | os.PathLike | None = None,
    name: str | None = None,
    save_every: float = 0.0,
    subset: int = 0,
    half: int | None = None,
    image_size: int = 28,
    device: str = "auto",
    eval_size: int = 1000,
    eval_every: int = 100,
    precision: str = "fp32",
    graphs: bool = True,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
    **overrides,
) -> Model:
    """Train a network on ``data`` by the named recipe and return the :class:`Model` (its best weights).

    data: a data source (``mnist``, ``fashion-mnist``, ``points:2d-corners``, a .npy/.npz/IDX file or an image
    folder) or a core.data.Dataset. preset: ``fast`` or ``paper`` (core.recipes); ``overrides`` replace the
    recipe's L, H, bound, lr, batch, steps, schedule, warmup, seed, bottleneck, patch, heads, objective
    (core.model.train.parse_objective). half: train on half 0 or 1 of the data (core.data.dataset.half_of,
    the two-halves test), before ``subset``. output: also
    write the model file there (atomically), and with ``save_every`` seconds the best weights so far while it
    trains. ``progress(event)`` with each core.model.train.TrainEvent (step, steps, loss, best_loss, samples_per_s,
    eta_s); ``log(line)`` for what is said once (the data, the network, a warning). Ctrl-C ends the training
    with the best weights so far; how it ended is ``model.trained``. The same weights as ``kgn train`` with the
    same options, bit for bit. Under ``torchrun`` each process trains its share; only rank 0 writes."""
    from .core.data.dataset import Dataset
    from .core.data.sources import open_source
    from .core.errors import CheckpointError, PreflightError
    from .core.model.architectures import spec_parameter_count
    from .core.model.train import Trainer, TrainHooks
    from .core.preflight import check_image_source, check_train_output, check_training

    say = log or (lambda line: None)
    out = None if output is None else Path(output)
    source = data.name if isinstance(data, Dataset) else str(data)
    if out is not None:
        from .core.files import check_not_input

        if out.suffix != ".safetensors":
            raise PreflightError(f"output must end in .safetensors: {out}")
        if not out.parent.exists():
            raise PreflightError(f"output folder does not exist: {out.parent}")
        check_not_input(out, [] if isinstance(data, Dataset) else _existing(source), "output")
        check_train_output(out)  # the folder takes a file: before the data is read
    recipe = train_recipe(source, preset, arch=arch, **overrides)
    if isinstance(data, Dataset):
        ds = data
    else:
        check_image_source(source, image_size)  # before an image folder is resized into memory
        ds = open_source(source, recipe.value_range, image_size=(image_size, image_size))
        if ds.skipped:
            say(ds.import_report())
    if half is not None:  # before the subset: the halves are of the whole data, whatever the subset
        from .core.data.dataset import half_of

        ds = half_of(ds, int(half))
    if subset:
        ds = ds.subset(subset, seed=recipe.seed)
    spec = recipe.spec(ds.D, ds.shape)
    cfg = recipe.train_config(
        device=device, eval_size=eval_size, eval_every=eval_every, precision=precision, graphs=graphs
    )
    # Preflight, before the first step: the network fits the device, and the file fits its disk.
    check_training(spec, ds.M, cfg.batch, cfg.eval_size, device=device)
    tr = Trainer(spec, ds, cfg)
    lead = tr.rank == 0  # one process reports and writes the file
    label = name or (out.stem if out is not None else f"{source} {preset}")
    if lead:
        if out is not None:
            check_train_output(out, spec)
        procs = f" × {tr.world} processes" if tr.world > 1 else ""
        say(f"{ds.describe()}\nmodel: {spec.describe()}, {spec_parameter_count(spec):,} parameters, "
            f"device {tr.device}{procs}, {cfg.precision}")  # fmt: skip

    def save_partial(tr) -> None:
        # the best weights so far, as the final save writes them: a kill loses at most save_every seconds
        try:
            tr.save(out, name=label, extra={"partial": {"step": tr.step}})
        except CheckpointError as e:  # a failed write is a warning, never the end of the run
            say(f"warning: could not save the weights so far: {e}")

    partial = save_partial if lead and out is not None else None
    hooks = TrainHooks(progress if lead else None, partial, float(save_every or 0), interrupt_stops=True)
    final = tr.run(hooks)
    if lead and final.kind != "done":  # diverged, or stopped by Ctrl-C: the best weights are kept all the same
        say(("warning: " if final.kind == "diverged" else "") + final.message)
    if lead and out is not None:
        tr.save(out, name=label)
    meta = {"name": label, "dataset": ds.name, "data_shape": list(ds.shape), "recipe": tr.recipe()}
    meta["value_range"] = list(spec.value_range)
    return Model(Checkpoint(model=tr.model.eval(), spec=spec, meta=meta, path=out if lead else None), final)


def sweep(
    output: str | os.PathLike,
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
    **settings,
) -> list[dict]:
    """The depth sweep (core.experiment.sweep): one model per (depth, seed) of ``settings`` (the fields of
    core.experiment.sweep.SweepConfig: source, depths, seeds, H, steps, chains, sample_steps, sampler, …), each
    a trial of ``engine``: ``local`` (``workers`` child processes on this machine; 1, the default, in this
    process) or ``ray`` (Ray tasks of ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs on the cluster at
    ``address``, or a local Ray for the run; docs/cluster.md). ``output``: a new folder (or, with ``resume``,
    one a sweep of the same settings began) for the models, sweep_runs.csv (one row per trial, written as
    each finishes), sweep.csv and sweep.png. Returns sweep.csv's rows (one per depth: the mean over seeds
    and its 95 % interval). Everything is checked before any training: a one-line ValueError says what
    cannot be. ``kgn sweep`` makes this call."""
    from .core.errors import EngineError, PreflightError
    from .core.experiment.engines import make_engine
    from .core.experiment.sweep import SweepConfig, check_output_folder, finished_runs, run_sweep
    from .core.files import OutputIsInputError, check_not_input, existing_paths
    from .core.preflight import check_sweep

    try:
        cfg = SweepConfig(**settings)
        cfg.validate()
        if gpus_per_trial and cfg.device == "cpu":
            raise PreflightError("--gpus-per-trial needs --device cuda (or auto): the trials would not use the GPUs")
        runner = make_engine(
            engine, workers=workers, address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial
        )
        check_not_input(output, existing_paths(cfg.source))
        out = Path(output) if resume else check_output_folder(output)
        if resume:
            finished_runs(out, cfg)  # a folder of another sweep is refused before any work
        check_sweep(cfg, out, workers=(workers or 1) if engine == "local" else 1)
    except (EngineError, PreflightError, OutputIsInputError):
        raise
    except (TypeError, ValueError) as e:  # a setting that cannot be: before any work, as an option error
        raise PreflightError(str(e)) from None
    return run_sweep(cfg, out, log=log, progress=progress, engine=runner, resume=resume)


SEARCH_KEYS = ("class_entropy", "precision", "recall", "kid", "converged", "copy_fraction", "distinct")


MEASURE_OPTIONS = (
    "data",
    "tol",
    "copy_tol",
    "audit",
    "fixed_points",
    "sigmas",
    "recovery_n",
    "recovery_T",
)  # of analyze


def search_trial(model: str, sampler: str, seed: int, steps: int, n: int, **measure) -> dict:
    """One trial of :func:`search`: :func:`analyze` of ``model`` with ``sampler`` (its text), ``seed`` and
    the measure options (:data:`MEASURE_OPTIONS`), as one flat row (intervals as ``…_lo`` / ``…_hi``)."""
    from .core.experiment.sweep import flatten

    m = analyze(model, steps=steps, n=n, seed=seed, sampler=sampler, **measure)
    flat = flatten({k: v for k, v in m.items() if k not in ("model", "mixing_scan", "sampler", "seed")})
    return {"sampler": sampler, "seed": seed, **flat}


def search(
    output: str | os.PathLike | None,
    model: str | os.PathLike,
    samplers: Iterable[str | Sampler] = ("paper",),
    *,
    seeds: Iterable[int] = (0,),
    steps: int = 300,
    n: int = 256,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
    **measure,
) -> list[dict]:
    """A search over samplers and seeds: one trial per (sampler, seed), each :func:`analyze` of ``model``
    with ``n`` chains measured after ``steps`` steps (and ``measure``: analyze's data, tol, copy_tol, audit,
    sigmas, recovery_n, recovery_T; default: no audit, no recovery), run by ``engine`` as :func:`sweep` runs
    its trials.
    ``output``: a new folder (or, with ``resume``, one a search of the same settings began) for
    search_runs.csv (one row per trial, written as each finishes) and search.csv (one row per sampler: the
    mean over seeds and its 95 % t-interval); None writes nothing (``kgn analyze --seeds``). Returns
    search.csv's rows. Samplers are texts (``paper``, ``noise=normal,eps=0.05``, ``diverse,damping=0.3``)
    or :class:`Sampler` s; all are read before any trial. ``kgn search`` makes this call."""
    from .core.errors import PreflightError
    from .core.experiment.engines import make_engine
    from .core.experiment.grid import finished_rows, measured, run_grid, write_csv
    from .core.experiment.sweep import MAX_SEEDS, aggregate, check_output_folder

    try:
        path = str(Path(resolve_model(str(model))).resolve())
        load_checkpoint(path)  # a model that cannot be read fails here, once, not in every trial
        texts = [s.text() if isinstance(s, Sampler) else Sampler.parse(str(s), steps).text() for s in samplers]
        seeds = tuple(int(s) for s in seeds)
        if not texts or len(set(texts)) != len(texts):
            raise PreflightError("give one or more samplers, none twice")
        if not seeds or len(set(seeds)) != len(seeds) or len(seeds) > MAX_SEEDS or min(seeds) < 0:
            raise PreflightError(f"seeds must be 1 … {MAX_SEEDS} different whole numbers ≥ 0")
        if steps < 0 or n < 1:
            raise PreflightError("steps must be ≥ 0 and n ≥ 1")
        if set(measure) - set(MEASURE_OPTIONS):
            raise PreflightError(f"unknown measure options: {', '.join(sorted(set(measure) - set(MEASURE_OPTIONS)))}")
        measure = {"audit": 0, "sigmas": (), **measure}
        measure["sigmas"] = tuple(float(x) for x in measure["sigmas"])
        runner = make_engine(
            engine, workers=workers, address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial
        )
        out = None if output is None else Path(output)
        if out is not None:
            out = out if resume else check_output_folder(out)
            out.mkdir(parents=True, exist_ok=True)
        settings = f"# search model={path} samplers={'|'.join(texts)} seeds={','.join(map(str, seeds))} "
        settings += f"steps={steps} n={n} " + " ".join(f"{k}={measure[k]}" for k in sorted(measure))
        if resume and out is not None:
            finished_rows(out / "search_runs.csv", settings, "a search")
    except (TypeError, ValueError) as e:
        if isinstance(e, PreflightError):
            raise
        raise PreflightError(str(e)) from None
    plan = [(t, s) for t in texts for s in seeds]
    args = dict(model=path, steps=steps, n=n, **measure)
    summary = None if out is None else out / "search.csv"
    runs = run_grid(
        search_trial, plan, ("sampler", "seed"), lambda key: dict(sampler=key[0], seed=key[1], **args),
        engine=runner, runs_csv=None if out is None else out / "search_runs.csv", settings=settings,
        resume=resume, log=log, progress=progress,
        written=None if summary is None else (lambda done: write_csv(aggregate(measured(done), by="sampler"), summary, settings)),
    )  # fmt: skip
    return aggregate(measured(runs), by="sampler")
