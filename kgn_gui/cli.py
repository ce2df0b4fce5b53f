"""``kgn``: Kaleidoscope Studio headless.

    kgn train  --data mnist --L 10 --H 500 --bound tanh --lr 1e-4 --batch 1000 --steps 10000 -o models/mnist.safetensors
    kgn sample MODEL -n 64 --steps 300 --noise normal --eps 0.01 --seed 0 -o out/   (final states .npy + PNG grid)
    kgn export MODEL --steps 0:300:1 --format gif|apng|mp4|webm|png|npz -o OUT
    kgn info   MODEL

Exit code 0 on success, 2 for bad arguments, 1 for anything else, with a one-line error.

Every command checks before its long work (core.preflight): its outputs are none of its inputs (the model,
data, start array, bundle: by device and inode, so also through links), their folders exist and are
writable, a model file has room on its disk, and every option that sizes memory fits. Folder outputs
(``sample -o DIR``, PNG frames) land whole (core.files.atomic_folder).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from functools import partial
from pathlib import Path

from .core import lists
from .core.files import WriteError, atomic_write_text, check_not_input, check_own_folder, existing_paths


class CLIError(Exception):
    """A user error reported as one line."""


def _typed(read, *args, **kw):
    """An argparse type of a core.lists reader (with its bounds): a bad value exits 2 with its one line."""

    def parse(text: str):
        from .core.lists import ListError

        try:
            return read(text, *args, **kw)
        except ListError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = read.__name__  # argparse says "invalid integer value", not "invalid parse value"
    return parse


positive_int, nonneg_int = _typed(lists.integer, 1), _typed(lists.integer, 0)
seed_list = _typed(lists.seeds, lists.MAX_SEEDS)


class Progress:
    """A one-line progress bar on a terminal; plain lines, at most one a second, when piped."""

    def __init__(self, stream=None, min_interval_s: float = 1.0):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.min_interval_s = min_interval_s
        self._last = -math.inf

    def update(self, done: int, total: int, text: str, final: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            width = 30
            fill = int(width * done / max(total, 1))
            self.stream.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} {text}\x1b[K")
            if final:
                self.stream.write("\n")
        elif final or now - self._last >= self.min_interval_s:
            self.stream.write(f"{done}/{total} {text}\n")
        else:
            return
        self._last = now
        self.stream.flush()


def _add_arch_options(p: argparse.ArgumentParser, depth: bool = True) -> None:
    from .core.model.architectures import ARCH_DEFAULTS, ARCHITECTURES

    p.add_argument(
        "--arch",
        default="mlp",
        choices=ARCHITECTURES,
        help="mlp (the paper's), cnn (conv autoencoder), unet or transformer (image data only)",
    )
    if depth:
        p.add_argument(
            "--L",
            type=positive_int,
            default=None,
            help="depth: " + "; ".join(f"{a} {d['L_means']} (default {d['L']})" for a, d in ARCH_DEFAULTS.items()),
        )
    p.add_argument(
        "--H",
        type=positive_int,
        default=None,
        help="width: " + "; ".join(f"{a} {d['H_means']} (default {d['H']})" for a, d in ARCH_DEFAULTS.items()),
    )
    p.add_argument(
        "--bottleneck",
        type=nonneg_int,
        default=0,
        help="cnn: width of a fully connected bottleneck between encoder and decoder (0: none)",
    )
    p.add_argument("--patch", type=nonneg_int, default=0, help="transformer: patch side (0: ≤ 64 patches)")
    p.add_argument("--heads", type=nonneg_int, default=0, help="transformer: attention heads (0: H/32)")


def _add_measure_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audit", type=nonneg_int, default=32, help="training examples in the attractor audit (0: skip)")
    _add_fixed_points_option(p)
    sigmas = "corruption levels σ (value units) for basin recovery (σ = 0 recovers by construction)"
    p.add_argument("--sigmas", type=_typed(lists.sigmas), default=[0.0, 0.05, 0.1, 0.2, 0.4], help=sigmas)


def _add_fixed_points_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fixed-points", type=nonneg_int, default=0, metavar="N",
        help="root-find fixed points (Newton) from N training examples and N chain ends, classify each by "
        "its Jacobian's spectrum (0: skip; ~1 min per 8 starts for the MNIST model on 2 cores)",
    )  # fmt: skip


def _objective(text: str) -> str:
    """--objective, checked by core's parse_objective: a bad one exits 2 with its one line."""
    from .core.errors import TrainError
    from .core.model.train import parse_objective

    try:
        parse_objective(text)
    except TrainError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text.strip()


_objective.__name__ = "objective"


def _inputs(args, *texts) -> list[Path]:
    """The files a command reads (its outputs must be none of them): ``texts`` (the model, the data), the
    start and the condition."""
    from .core.chain.lab import condition_files
    from .core.chain.start import start_files

    return [*existing_paths(*texts), *start_files(args.start), *condition_files(args.condition, args.known)]


def cmd_train(args) -> int:
    from .api import train
    from .core.errors import RecipeError, SpecError
    from .core.model.train import format_duration, join_process_group, world_size

    bar = Progress()

    def progress(ev) -> None:
        rate = f"{ev.samples_per_s * world:,.0f} samples/s ETA {format_duration(ev.eta_s)}"
        bar.update(ev.step, ev.steps, f"loss {ev.loss:.3e} best {ev.best_loss:.3e} {rate}", final=ev.kind != "progress")

    device, rank = join_process_group(args.device)
    world = world_size()
    options = ("arch", "output", "name", "save_every", "subset", "image_size", "eval_size", "eval_every", "precision")
    options += ("L", "H", "bound", "lr", "batch", "steps", "schedule", "warmup", "seed", "bottleneck", "patch", "heads")
    options += ("objective", "half")
    try:
        model = train(
            args.data, args.preset, device=device, graphs=not args.no_graphs, progress=progress,
            log=lambda line: print(line, file=sys.stderr), **{k: getattr(args, k) for k in options},
        )  # fmt: skip
    except (RecipeError, SpecError) as e:
        raise CLIError(str(e)) from None
    finally:
        if rank is not None:
            import torch.distributed as dist

            dist.destroy_process_group()
    r = model.checkpoint.meta["recipe"]
    if model.path is not None:
        print(
            f"saved {model.path} (best evaluation loss {r['best_eval_loss']:.4e}, last batch loss "
            f"{r['final_batch_loss']:.4e}, {r['elapsed_s']:.1f} s)"
        )
    return 1 if model.trained.kind == "diverged" else 0


_SAMPLER_OPTIONS = {"noise": "--noise", "eps": "--eps", "eps_schedule": "--eps-schedule", "damping": "--damping"}


def _sampler_from_args(args, steps: int):
    """core.sampler.Sampler.of ``--sampler`` / ``--preset`` or of --noise, --eps, --eps-schedule and
    --damping. A whole sampler and one of its settings together is an error (which would win is not obvious)."""
    from .core.chain.sampler import Sampler

    given = [flag for key, flag in _SAMPLER_OPTIONS.items() if getattr(args, key) is not None]
    whole = [f"--{k} {getattr(args, k)}" for k in ("sampler", "preset") if getattr(args, k, None)]
    if whole and (given or len(whole) > 1):
        raise CLIError(f"{whole[0]} sets {', '.join(given or ['the sampler'])}: give it or the option, not both")
    settings = dict(noise=args.noise, eps=args.eps, schedule=args.eps_schedule, damping=args.damping)
    return Sampler.of(args.sampler or args.preset, steps, **settings)


def _run_from_args(args, ck, steps: int, sampler_steps: int | None = None, progress=None, **analyze):
    """kgn_gui.sample (or, with ``analyze``'s options, kgn_gui.analyze) of the shared chain options: the
    start, the sampler (a schedule without its T runs over ``sampler_steps``, by default ``steps``) and the
    condition."""
    from . import api
    from .core.chain.lab import condition_of
    from .core.chain.start import parse_start
    from .core.data.sources import open_source

    start = parse_start(args.start, ck.value_range, n=args.n, seed=args.seed, sigma=args.sigma, mask=args.mask)
    sampler = _sampler_from_args(args, sampler_steps if sampler_steps is not None else steps)
    cond = condition_of(args.condition, args.known, ck.spec.shape, ck.value_range, open_source=open_source)
    if analyze:
        return api.analyze(
            api.Model(ck), n=start.n, steps=steps, seed=start.seed, sampler=sampler, start=start, condition=cond,
            progress=progress, **analyze,
        )  # fmt: skip
    from .core.export.as_code import parse_edits, parse_sampler_from

    later = [parse_sampler_from(t, sampler_steps or steps) for t in getattr(args, "sampler_from", None) or ()]
    edits = parse_edits(args.edits) if getattr(args, "edits", None) else []
    return api.sample(
        api.Model(ck), n=start.n, steps=steps, seed=start.seed, sampler=sampler, start=start, condition=cond,
        progress=progress, sampler_from=later, edits=edits,
    )  # fmt: skip


def _add_yes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--yes", action="store_true", help="run even when the steps would take over 10 minutes here (timed on a "
        "step of these chains before the work; without --yes such a run is refused with the estimate)",
    )  # fmt: skip


def cmd_export(args) -> int:
    from .core.export.options import frame_count_duration, parse_steps
    from .core.export.targets import export_target
    from .core.model.checkpoint import load_checkpoint
    from .core.preflight import TIME_LIMIT_S

    steps = parse_steps(args.steps)  # before anything is loaded: 0:10**12:1 is refused at once
    inputs = _inputs(args, args.model)
    fmt, target = export_target(args.output, args.format, args.bundle)
    check_not_input(target, inputs)
    ck = load_checkpoint(args.model)
    if args.size is not None and len(ck.spec.shape) != 1:
        raise CLIError("--size is the picture size of a 1-D or 2-D points model; an image model's is set by --scale")
    run = _run_from_args(args, ck, 0, max(steps))
    bar = Progress()
    options = dict(
        fps=args.fps, scale=args.scale, overlay=not args.no_overlay, chain=args.chain, gif_hold=args.gif_hold
    )
    options["max_seconds"] = None if args.yes else TIME_LIMIT_S  # steps that would take longer: refused first
    frames = lambda d, n: bar.update(d, n, "frames", final=d == n)  # noqa: E731
    if args.bundle:
        path = run.bundle(
            args.output, steps, progress=frames, inputs=inputs, fmt=fmt if fmt != "npz" else "gif", **options
        )
        print(f"wrote run bundle {path}")
        return 0
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    path = run.export(target, steps, fmt=fmt, progress=frames, inputs=inputs, log=say, size=args.size, **options)
    print(f"wrote {path} ({len(steps)} steps of {run.n} chains)" if fmt == "npz" else
          f"wrote {path} ({frame_count_duration(len(steps), args.fps)})")  # fmt: skip
    return 0


def _add_chain_options(s: argparse.ArgumentParser, n: int = 64) -> None:
    s.add_argument("-n", type=positive_int, default=n, help="number of chains")
    s.add_argument("--start", default="uniform", help="uniform, normal, data:SOURCE#INDEX or a .npy file")
    s.add_argument("--sigma", type=float, default=0.0, help="Gaussian corruption of a data start")
    s.add_argument("--mask", type=nonneg_int, default=0, help="side of a masked square on a data start")
    _add_sampler_options(s)
    s.add_argument(
        "--condition",
        default=None,
        metavar="IMAGE",
        help="inpaint: the known image (data:SOURCE#INDEX, a .npy state or an image file); with --known",
    )
    s.add_argument(
        "--known",
        default=None,
        metavar="REGION",
        help="the known pixels of --condition: top, bottom, left, right or a mask image (white = known)",
    )
    s.add_argument("--seed", type=nonneg_int, default=0, help="seeds the start and every step's noise")


def _add_cache_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cache", default=None, metavar="DIR", help="the data cache: image folders, IDX and image arrays are "
        "decoded once into DIR and mapped after (shared storage for a cluster; off: none; default: "
        "$KGN_CACHE, else ~/.cache/kgn-gui/data)",
    )  # fmt: skip


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    """How an experiment's trials run (core.experiment.engines.make_engine reads them)."""
    from .core.experiment.engines import ENGINES

    p.add_argument(
        "--engine", default="local", choices=ENGINES, help="local: child processes on this machine; "
        'ray: Ray tasks, on a cluster with --address (pip install "kgn-gui[cluster]"; docs/cluster.md)',
    )  # fmt: skip
    p.add_argument(
        "--workers", type=positive_int, default=None, help="trials at once (local: default 1, one after "
        "another in this process, else child processes with the cores shared out; ray: the most in flight)",
    )  # fmt: skip
    p.add_argument(
        "--address", default=None, help="ray: the cluster to join, auto or HOST:PORT "
        "(default: a local Ray started for the run and stopped after it)",
    )  # fmt: skip
    p.add_argument(
        "--cpus-per-trial", type=_typed(lists.number, 0.0, 1024.0, lo_open=True), default=None,
        help="ray: CPUs each trial asks for, and its torch threads (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--gpus-per-trial", type=_typed(lists.number, 0.0, 64.0), default=None,
        help="ray: GPUs each trial asks for; a fraction shares a GPU, e.g. 0.25 (default 0)",
    )  # fmt: skip


def _engine_options(args) -> dict:
    """The engine options as the API's keyword arguments (core.experiment.engines.make_engine reads them)."""
    keys = ("engine", "workers", "address", "cpus_per_trial", "gpus_per_trial")
    return {k: getattr(args, k) for k in keys}


def _add_sampler_options(s: argparse.ArgumentParser) -> None:
    from .core.chain.sampler import NOISE_KINDS, PRESETS, Sampler

    paper = Sampler.PAPER  # each sampler option unset: the paper's (core.sampler), never a copy here
    s.add_argument(
        "--sampler",
        default=None,
        metavar="TEXT",
        help="the whole sampler as text: a preset name and/or KEY=VALUE settings, e.g. diverse,eps=0.02 or "
        "noise=uniform,eps=0.05,schedule=cosine:0.05:0.005:300,damping=0.5 (docs/api.md)",
    )
    s.add_argument("--noise", default=None, choices=NOISE_KINDS, help=f"per-step noise kind (default: {paper.noise})")
    s.add_argument("--eps", type=float, default=None, help=f"per-step noise scale ε (default: {paper.eps:g})")
    s.add_argument(
        "--eps-schedule",
        default=None,
        metavar="KIND:START:END[:T]",
        help="ε(t) instead of a constant ε: constant, linear, cosine or exp from START to END over T steps "
        "(default T: the run's steps), e.g. cosine:0.05:0.005",
    )
    s.add_argument(
        "--damping",
        type=float,
        default=None,
        metavar="α",
        help=f"damped step x ← (1 − α)·x + α·f(x) + ε·n, α in (0, 1] (default: {paper.damping:g}, the paper's step)",
    )
    s.add_argument(
        "--preset",
        default=None,
        choices=list(PRESETS),
        help="named sampler settings (--noise, --eps, --eps-schedule, --damping): paper, the published sampler; "
        "diverse, the sampler search's best (docs/sampler_search.md); the same as --sampler NAME",
    )


def cmd_reproduce(args) -> int:
    from .core.export.bundle import bundle_files, reproduce

    check_not_input(args.output, bundle_files(args.bundle))  # reproduce checks the suffixed name too
    bar = Progress()
    path = reproduce(args.bundle, args.output, progress=lambda d, n: bar.update(d, n, "frames", final=d == n))
    print(f"reproduced {args.bundle} → {path}")
    return 0


def cmd_sample(args) -> int:
    from .api import SAMPLE_FILES, SAMPLE_WHAT
    from .core.chain.lab import parse_branch
    from .core.export.options import parse_steps
    from .core.model.checkpoint import load_checkpoint
    from .core.preflight import MAX_GRID_ROWS, TIME_LIMIT_S

    if args.bundle:
        return cmd_reproduce(args)
    if not args.model:
        raise CLIError("give a MODEL, or --bundle PATH")
    branch = parse_branch(args.branch) if args.branch else None
    if branch is not None and branch[0] > args.steps:
        raise CLIError(f"--branch {args.branch}: the branch step must lie in [0, {args.steps}]")
    out = Path(args.output)
    check_not_input(out, _inputs(args, args.model))
    try:
        check_own_folder(out, SAMPLE_FILES.__contains__, SAMPLE_WHAT)  # a folder of other files: a bad -o
    except WriteError as e:
        raise CLIError(str(e)) from None
    grid_steps = parse_steps(args.grid_steps, limit=MAX_GRID_ROWS, what="grid rows") if args.grid_steps else None
    if grid_steps and grid_steps[-1] > args.steps:
        raise CLIError(f"grid steps must lie in [0, {args.steps}]")
    ck = load_checkpoint(args.model)
    run = _run_from_args(args, ck, 0, args.steps)  # the steps are computed as the result is written
    bar = Progress()
    meta = run.save(
        out, args.steps, branch=branch, grid_steps=grid_steps, grid_n=args.grid_n, model=str(args.model),
        progress=lambda d, n: bar.update(d, args.steps, "steps", final=d == args.steps),
        max_seconds=None if args.yes else TIME_LIMIT_S,
    )  # fmt: skip
    image = len(ck.spec.shape) == 3
    print(f"wrote {out / 'final_states.npy'}" + (f" and {out / 'grid.png'}" if image else ""))
    if branch is not None:
        (b, K), div = branch, meta["divergence"]
        print(
            f"{run.n} chains × {K} branches from step {b}: divergence {div[0][1]:.4g} → {div[-1][1]:.4g} "
            f"(mean pairwise RMS distance; {out / 'divergence.csv'})"
        )
    return 0


def cmd_info(args) -> int:
    from .core.jsonsafe import dumps_strict
    from .core.model.checkpoint import describe_metadata, read_metadata

    if args.list:
        return cmd_models(args)
    if not args.model:
        raise CLIError("give a MODEL (a .safetensors file or a bundled model's name), or --list")
    meta = read_metadata(args.model)
    print(dumps_strict(meta, indent=2) if args.json else "\n".join(describe_metadata(meta)))
    return 0


def cmd_analyze(args) -> int:
    from . import api
    from .core.errors import DataError
    from .core.jsonsafe import dumps_strict
    from .core.model.checkpoint import load_checkpoint
    from .core.preflight import TIME_LIMIT_S, check_output_file

    inputs = _inputs(args, args.model, args.data, args.against)
    if args.json:
        check_not_input(args.json, inputs, "--json file")
        check_output_file(args.json)
    if args.seeds is not None:
        return _analyze_seeds(args)
    if args.engine != "local" or args.workers or args.address:
        raise CLIError("--engine, --workers and --address are for --seeds (one seed runs here)")
    ck = load_checkpoint(args.model)
    bar = Progress()
    options = api.MEASURE_OPTIONS
    try:
        out = _run_from_args(
            args, ck, args.steps, mixing=args.mixing or (),
            progress=lambda stage, d, n: bar.update(d, n, stage, final=d == n),
            log=lambda s: print(s, file=sys.stderr), baselines=args.baselines, over_t=args.over_t, against=args.against,
            max_seconds=None if args.yes else TIME_LIMIT_S,
            **{k: getattr(args, k) for k in options},
        )  # fmt: skip
    except DataError as e:  # the model's own data cannot be had here
        raise CLIError(f"{e}; pass --data" if args.data is None else str(e)) from None
    out["model"] = str(args.model)  # as the command line named it
    if args.json:
        check_not_input(args.json, inputs, "--json file")
        atomic_write_text(args.json, dumps_strict(out, indent=1, default=float))
    print("\n".join(out.lines()))
    return 0


def _print_search(rows: list[dict], key: str) -> None:
    """One line per row of search.csv: the search's measures, each the mean over seeds [95 % interval]."""
    from .api import SEARCH_KEYS
    from .core.measure.registry import MEASURE

    for r in rows:
        got = [
            f"{MEASURE[k].label if k in MEASURE else k} {r[k]:.3g} [{r[f'{k}_lo']:.3g}, {r[f'{k}_hi']:.3g}]"
            for k in SEARCH_KEYS
            if isinstance(r.get(k), (int, float)) and r.get(f"{k}_lo") is not None and r[k] == r[k]
        ]
        print(f"{r[key]} ({r['seeds']} seeds): " + ", ".join(got))


def cmd_search(args) -> int:
    from . import api

    samplers = [t.strip() for t in args.samplers.split(";") if t.strip()]
    check_not_input(args.output, existing_paths(args.model, args.data))
    bar = Progress()
    rows = api.search(
        args.output, args.model, samplers, seeds=args.seeds, steps=args.steps, n=args.n,
        data=args.data, audit=args.audit, fixed_points=args.fixed_points, resume=args.resume,
        log=lambda s: print(s, file=sys.stderr),
        progress=lambda f: bar.update(int(f * 1000), 1000, "search", final=f >= 1), **_engine_options(args),
    )  # fmt: skip
    _print_search(rows, "sampler")
    out = Path(args.output)
    print(f"wrote {out / 'search.csv'} ({len(rows)} samplers) and {out / 'search_runs.csv'}")
    return 0


def _analyze_seeds(args) -> int:
    """kgn analyze --seeds: the measures of each seed's chains as trials on the engine, then their mean and
    95 % t-interval over seeds (kgn_gui.search with one sampler and no folder)."""
    from . import api

    alone = {"--start": args.start != "uniform", "--sigma": args.sigma, "--mask": args.mask, "--mixing": args.mixing}
    alone.update({"--condition": getattr(args, "condition", None), "--seed": args.seed})
    given = [k for k, v in alone.items() if v]
    if given:
        raise CLIError(f"{given[0]} is not for --seeds (each seed's chains start uniform; give the seeds there)")
    measure = {k: getattr(args, k) for k in api.MEASURE_OPTIONS}
    bar = Progress()
    (row,) = api.search(
        None, args.model, [_sampler_from_args(args, args.steps)], seeds=args.seeds,
        steps=args.steps, n=args.n, log=lambda s: print(s, file=sys.stderr),
        progress=lambda f: bar.update(int(f * 1000), 1000, "seeds", final=f >= 1), **_engine_options(args), **measure,
    )  # fmt: skip
    if args.json:
        from .core.jsonsafe import dumps_strict

        atomic_write_text(args.json, dumps_strict(row, indent=1, default=float))
    _print_search([row], "sampler")
    return 0


def cmd_sweep(args) -> int:
    from dataclasses import fields

    from . import api
    from .core.experiment.sweep import SweepConfig

    given = {f.name: getattr(args, f.name) for f in fields(SweepConfig) if hasattr(args, f.name)}
    given.update(source=args.data, chains=args.n, seeds=args.seeds)
    given.update(sampler=_sampler_from_args(args, args.sample_steps))
    bar = Progress()
    rows = api.sweep(
        args.output, **_engine_options(args), resume=args.resume, log=lambda s: print(s, file=sys.stderr),
        progress=lambda f: bar.update(int(f * 1000), 1000, "sweep", final=f >= 1), **given,
    )  # fmt: skip
    out, runs = Path(args.output), len(given["depths"]) * len(given["seeds"])
    print(f"wrote {out / 'sweep.csv'} ({len(rows)} depths), {out / 'sweep_runs.csv'} ({runs} runs) and "
          f"{out / 'sweep.png'}")  # fmt: skip
    return 0


class OneLineErrorParser(argparse.ArgumentParser):
    """Bad options get one line (what is wrong, and where the help is), not the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default (unless the help already says it, or there is none)."""

    def _get_help_string(self, action):
        h = action.help or ""
        d = action.default
        if "default" in h.lower() or d is None or d is False or d is argparse.SUPPRESS or not action.option_strings:
            return h
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__
    from .core.export.options import FORMATS
    from .core.model.architectures import BOUNDS
    from .core.model.recipes import PRESET_NAMES, about_presets
    from .core.model.train import DEVICES, PRECISIONS, SCHEDULES

    ap = OneLineErrorParser(
        prog="kgn",
        description="Generative Kaleidoscopic Networks, headless. A MODEL is a .safetensors file or the name of a "
        "bundled model (kgn models lists them).",
    )
    ap.add_argument("--version", action="version", version=f"kgn {__version__}")
    sub = ap.add_subparsers(
        dest="cmd", required=True, parser_class=partial(OneLineErrorParser, formatter_class=_DefaultsFormatter)
    )

    t = sub.add_parser("train", help="train a kaleidoscopic network f(x) ≈ x")
    t.add_argument(
        "--data",
        default="mnist",
        help="mnist, mnist:test, points:PRESET|0.2,0.8, a .npz/.npy, IDX file/folder or image folder",
    )
    _add_cache_option(t)
    _add_arch_options(t)
    t.add_argument(
        "--bound",
        default=None,
        choices=BOUNDS,
        help="output bound: tanh → [-1,1], sigmoid → [0,1] (default: the preset's: tanh for images, the paper's "
        "for each point set)",
    )
    t.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam learning rate (default: the preset's: mlp 1e-4 as in the paper, cnn 1e-3, unet 3e-4, "
        "transformer 1e-3; 1e-3 for points and for the fast preset)",
    )
    t.add_argument("--batch", type=positive_int, default=None, help="minibatch size (default: the preset's)")
    t.add_argument("--steps", type=positive_int, default=None, help="optimizer steps (default: the preset's)")
    t.add_argument("--preset", choices=PRESET_NAMES, default=None, help=about_presets())
    t.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help="learning rate: constant (the paper's) or linear warm-up then cosine decay to 0",
    )
    t.add_argument("--warmup", type=nonneg_int, default=None, help="warm-up steps of the cosine schedule")
    t.add_argument(
        "--objective", default=None, metavar="OBJ", type=_objective,
        help="what f is fitted to: manifold (the paper's f(x) ≈ x, the default), denoise:σ (f(x + σn) ≈ x, "
        "a denoising autoencoder: f − id estimates the score) or contractive:λ (plus λ‖J_f‖²/D)",
    )  # fmt: skip
    t.add_argument(
        "--half", type=int, choices=(0, 1), default=None,
        help="train on one of two disjoint halves of the data (seeded): the two-halves test (kgn analyze --against)",
    )  # fmt: skip
    t.add_argument(
        "--seed", type=nonneg_int, default=None, help="initial weights and batch draws (default: the preset's)"
    )
    t.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} or cuda:N (auto: CUDA, then MPS, then CPU)")
    t.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32: the paper's arithmetic (default); tf32: CUDA tensor-core float32 products; "
        "bf16: bfloat16 autocast of the forward pass (weights and Adam stay float32)",
    )
    t.add_argument(
        "--save-every",
        type=nonneg_int,
        default=300,
        metavar="SECONDS",
        help="write the weights so far to the output every this many seconds while training, so a "
        "crash or kill loses at most that much (0: only at the end; default 300)",
    )
    t.add_argument(
        "--no-graphs",
        action="store_true",
        help="on CUDA, run the step eagerly instead of replaying it as a captured CUDA graph",
    )
    t.add_argument("--subset", type=nonneg_int, default=0, help="train on a random subset of this many samples")
    t.add_argument("--image-size", type=positive_int, default=28, help="image folders are resized to this square size")
    t.add_argument("--eval-size", type=positive_int, default=1000, help="samples in the fixed evaluation subset")
    t.add_argument("--eval-every", type=positive_int, default=100, help="steps between evaluations of the loss")
    t.add_argument(
        "--name", default=None, type=_typed(lists.one_line, 200), help="the model's name (default: the file's)"
    )
    t.add_argument("-o", "--output", required=True, help="model file (.safetensors)")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="run kaleidoscopic chains from a model (or reproduce a run bundle)")
    s.add_argument("model", nargs="?", help="a .safetensors file or a bundled model's name (kgn models lists them)")
    s.add_argument("--bundle", default=None, help="reproduce this run bundle's frames into -o OUT")
    s.add_argument("--steps", type=nonneg_int, default=100, help="chain steps to run")
    _add_chain_options(s)
    s.add_argument("--grid-steps", default="", help="steps shown as rows of the PNG grid: 0,10,30 or 0:300:50")
    s.add_argument("--grid-n", type=positive_int, default=16, help="chains per row of the PNG grid")
    s.add_argument(
        "--branch",
        default=None,
        metavar="STEP:K",
        help="from STEP on, each chain goes on K ways that differ only in their noise seed (row i·K + k); "
        "writes divergence.csv, the branches' mean pairwise distance per step",
    )
    s.add_argument(
        "--sampler-from", action="append", default=None, metavar="STEP:SAMPLER",
        help="from STEP on, step with SAMPLER (its text, as --sampler); repeat for more changes",
    )  # fmt: skip
    s.add_argument(
        "--edits", default=None, metavar="JSON",
        help="live edits (brush, erase, kick), each at its step: a JSON list as sample.json's lab.edits records",
    )  # fmt: skip
    s.add_argument("-o", "--output", default="kgn-sample", help="output folder")
    _add_yes_option(s)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("export", help="export a chain's animation: GIF, APNG, MP4, WebM or PNG frames")
    e.add_argument("model", help="a .safetensors file or a bundled model's name (kgn models lists them)")
    e.add_argument("--steps", default="0:100:1", help="FROM:TO:EVERY (TO inclusive) or a list 0,10,30")
    e.add_argument(
        "--format",
        default=None,
        choices=[*FORMATS, "npz"],
        help="an animation, a folder of PNG frames, or npz: the states themselves with their metadata "
        "(default: the one -o's extension names, else gif; an extension naming another format is an error)",
    )
    e.add_argument("--fps", type=float, default=20.0, help="frames per second of the animation")
    e.add_argument("--scale", type=positive_int, default=4, help="whole-number nearest-neighbour zoom")
    e.add_argument("--no-overlay", action="store_true", help="leave out the step number")
    e.add_argument(
        "--gif-hold",
        type=int,
        choices=range(17),
        metavar="LEVELS",
        default=3,
        help="grey GIFs: a pixel keeps its grey while its value stays within this many of the 248 grey levels "
        "(≤ 1.4 %% of the range at 3; ε-noise flicker is not sent again each frame: 4.9× smaller on noisy "
        "MNIST chains); 0: every frame exact (default 3; other formats are always exact)",
    )
    e.add_argument(
        "--chain",
        type=int,
        default=None,
        help="export only this chain, enlarged; a 1-D points model: the chain whose cobweb is drawn (default 0)",
    )
    e.add_argument(
        "--size",
        type=_typed(lists.picture_size),
        default=None,
        help="a 1-D or 2-D points model: the picture's WIDTHxHEIGHT at scale 1 (default 320x320); --scale "
        "draws it that many times larger, sharp",
    )
    e.add_argument(
        "--bundle",
        action="store_true",
        help="write a run bundle (model, settings, metrics.csv, animation) to -o (a new folder or .zip)",
    )
    _add_chain_options(e)
    e.add_argument(
        "-o", "--output", required=True, help="file (the format's extension added if it has none) or, for png, a folder"
    )
    _add_yes_option(e)
    e.set_defaults(func=cmd_export)

    a = sub.add_parser("analyze", help="measure a model's kaleidoscope: convergence, copies, classes, attractors")
    a.add_argument("model", help="a .safetensors file or a bundled model's name (kgn models lists them)")
    a.add_argument("--steps", type=nonneg_int, default=300, help="chain steps before measuring")
    _add_chain_options(a)
    a.add_argument("--data", default=None, help="reference training data (default: the one the model file names)")
    _add_cache_option(a)
    a.add_argument(
        "--tol",
        type=_typed(lists.number, 0.0, 10.0, lo_open=True),
        default=None,
        help="noise-free residual ‖f(x) − x‖/√D (RMS per value) below which a chain has converged, the same for "
        "every noise kind (default: 0.025 × the value range's span, 0.05 on [−1, 1])",
    )
    a.add_argument(
        "--copy-tol",
        type=_typed(lists.number, 0.0, 10.0, lo_open=True),
        default=0.05,
        help="distance (RMS per value) below which a sample is a copy",
    )
    _add_measure_options(a)
    a.add_argument(
        "--baselines", action="store_true",
        help="also measure retrieval, PCA-Gaussian and GMM samples the same way (same n, same feature space)",
    )  # fmt: skip
    a.add_argument(
        "--over-t", type=_typed(lists.steps_list), default=(), metavar="STEPS",
        help="also measure the distribution (Fréchet, KID, precision, recall, class entropy, memorized) at "
        "these earlier steps, e.g. 25,100,300: does it still change?",
    )  # fmt: skip
    a.add_argument(
        "--against", default=None, metavar="MODEL",
        help="the two-halves test: run MODEL's chains from the same starts, seed and sampler and say how close "
        "the two models' samples are, against random pairs (train them with kgn train --half 0 and --half 1)",
    )  # fmt: skip
    a.add_argument("--recovery-n", type=positive_int, default=200, help="training examples in basin recovery")
    a.add_argument("--recovery-T", type=positive_int, default=50, help="steps each corrupted example runs")
    a.add_argument(
        "--mixing",
        type=_typed(lists.eps_values),
        default=None,
        metavar="EPS,…",
        help="also scan mixing: chains with normal, uniform and no noise at each ε given (e.g. 0,0.01,0.03,0.1)",
    )
    a.add_argument(
        "--seeds", type=seed_list, default=None, help="measure the chains of each of these seeds (e.g. 0,1,2), one trial each on "
        "the engine, and print the mean and 95 %% interval over seeds (--json: those numbers)",
    )  # fmt: skip
    _add_engine_options(a)
    a.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    _add_yes_option(a)
    a.set_defaults(func=cmd_analyze)

    r = sub.add_parser("search", help="measure a model under many samplers and seeds: search_runs.csv + search.csv")
    r.add_argument("model", help="a .safetensors file or a bundled model's name (kgn models lists them)")
    r.add_argument(
        "--samplers", default="paper;diverse", help="samplers separated by ';', each as --sampler takes it "
        "(a preset, or noise=…,eps=…,schedule=…,damping=…)",
    )  # fmt: skip
    r.add_argument(
        "--seeds",
        type=seed_list,
        default="0,1,2",
        help="chain seeds, a comma list (at most 16): one trial per sampler and seed",
    )
    r.add_argument("-n", type=positive_int, default=256, help="chains per trial")
    r.add_argument("--steps", type=nonneg_int, default=300, help="chain steps before measuring")
    r.add_argument("--data", default=None, help="reference training data (default: the one the model file names)")
    _add_cache_option(r)
    r.add_argument("--audit", type=nonneg_int, default=0, help="training examples in the attractor audit (0: skip)")
    _add_fixed_points_option(r)
    _add_engine_options(r)
    r.add_argument("--resume", action="store_true", help="continue the search in -o (the same options)")
    r.add_argument("-o", "--output", required=True, help="a new folder for search_runs.csv and search.csv")
    r.set_defaults(func=cmd_search)

    w = sub.add_parser("sweep", help="train one model per depth and seed and measure each: CSVs + PNG")
    w.add_argument("--data", default="mnist", help="the training data (as kgn train --data)")
    _add_cache_option(w)
    w.add_argument(
        "--depths", type=_typed(lists.depths), default=[1, 2, 4, 6, 8, 10], help="depths L to train, e.g. 1,2,4,8"
    )
    _add_arch_options(w, depth=False)
    w.add_argument("--bound", default="tanh", choices=BOUNDS, help="the output bound")
    w.add_argument(
        "--steps",
        type=positive_int,
        default=2000,
        help="training steps per model (with --target-loss: the most steps a model may take)",
    )
    w.add_argument(
        "--target-loss",
        type=_typed(lists.number, 0.0, 1e6, lo_open=True),
        default=None,
        help="train each model until its best evaluation loss is at most this (default: a fixed --steps)",
    )
    w.add_argument("--eval-every", type=positive_int, default=100, help="steps between evaluations of the loss")
    w.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: 1e-3; U-Net 3e-4)")
    w.add_argument("--batch", type=positive_int, default=256, help="minibatch size")
    w.add_argument("--subset", type=nonneg_int, default=10_000, help="train on this many samples (0: all)")
    w.add_argument(
        "--seeds",
        type=seed_list,
        default="0,1,2",
        help="training seeds, a comma list of whole numbers ≥ 0 (at most 16): one model per depth and seed",
    )
    w.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    w.add_argument("--n", type=positive_int, default=256, help="chains sampled per model")
    w.add_argument("--sample-steps", type=positive_int, default=200, help="chain steps before measuring")
    _add_sampler_options(w)
    _add_measure_options(w)
    _add_engine_options(w)
    w.add_argument(
        "--resume", action="store_true", help="continue the sweep in -o: the trials its sweep_runs.csv holds "
        "are not run again (the same options as the first run)",
    )  # fmt: skip
    w.add_argument(
        "-o", "--output", required=True, help="a new folder for the models, sweep.csv, sweep_runs.csv and sweep.png"
    )
    w.set_defaults(func=cmd_sweep)

    i = sub.add_parser("info", help="show a model file's metadata (--list: the bundled models)")
    i.add_argument("model", nargs="?", help="a .safetensors file or a bundled model's name (kgn models lists them)")
    i.add_argument("--json", action="store_true", help="the whole metadata as JSON")
    i.add_argument("--list", action="store_true", help="list the bundled models, one line each")
    i.set_defaults(func=cmd_info)

    m = sub.add_parser("models", help="list the bundled models, one line each (a name works wherever a MODEL does)")
    m.set_defaults(func=cmd_models)
    return ap


def cmd_models(args) -> int:
    from .core.bundled import bundled_models, model_summary

    models = bundled_models()
    if not models:
        raise CLIError("no bundled models found (an installation without its models folder)")
    width = max(map(len, models))
    for name, path in models.items():
        print(f"{name:<{width}}  {model_summary(path)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    from .core.errors import (
        ChainError,
        CheckpointError,
        DataError,
        EngineError,
        ExportError,
        ExportOptionError,
        LabError,
        PreflightError,
        SamplerError,
        SpecError,
        StartError,
        TrainError,
    )
    from .core.files import OutputIsInputError

    # exit 2: what the command line asks for cannot be (options are read before any work)
    bad_option = (CLIError, PreflightError, OutputIsInputError, ExportOptionError, StartError, SamplerError, LabError)
    bad_option += (EngineError,)
    if getattr(args, "model", None):
        from .core.bundled import resolve_model

        args.model = resolve_model(args.model)  # a bundled model's name → its file
        if not os.path.lexists(args.model):
            from .core.bundled import bundled_models

            names = ", ".join(bundled_models()) or "none found"
            print(f"kgn {args.cmd}: error: {args.model}: no such file, nor a bundled model ({names})", file=sys.stderr)
            return 2
    try:
        if getattr(args, "cache", None):
            from .core.data.cache import use_cache_folder

            use_cache_folder(args.cache)  # this process and every worker it starts
        return args.func(args)
    except (*bad_option, CheckpointError, DataError, SpecError, TrainError, ChainError, ExportError) as e:
        print(f"kgn {args.cmd}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, bad_option) else 1
    except KeyboardInterrupt:
        print(f"kgn {args.cmd}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"kgn {args.cmd}: error: out of memory", file=sys.stderr)
        return 1
    except (ValueError, OSError, RuntimeError, KeyError) as e:  # still one line, never a traceback
        msg = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        where = f" ({e.filename})" if isinstance(e, OSError) and e.filename else ""
        print(f"kgn {args.cmd}: error: {msg}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
