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
from pathlib import Path

from .core.files import WriteError, atomic_write_text, check_not_input, check_own_folder


class CLIError(Exception):
    """A user error reported as one line."""


MAX_INT = 2**53  # the largest whole number JSON (and so a model file's metadata) keeps exactly


def int_at_least(lo: int, hi: int = MAX_INT):
    """An argparse type: an integer in [lo, hi] (bad values exit 2 with a one-line message)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text[:40]!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be ≥ {lo}, got {v}")
        if v > hi:
            raise argparse.ArgumentTypeError(f"must be ≤ {hi:,}, got a number of {len(str(v))} digits")
        return v

    return parse


def text_at_most(limit: int):
    """An argparse type: one line of printable text of at most ``limit`` characters."""

    def parse(text: str) -> str:
        if len(text) > limit or not text.isprintable():
            raise argparse.ArgumentTypeError(f"one line of at most {limit} printable characters")
        return text

    return parse


def float_in(lo: float, hi: float, lo_open: bool = False):
    """An argparse type: a finite number in [lo, hi] ((lo, hi] with ``lo_open``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
        if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo):
            raise argparse.ArgumentTypeError(f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {text[:40]}")
        return v

    return parse


positive_int, nonneg_int = int_at_least(1), int_at_least(0)


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
    from .core.models import ARCH_DEFAULTS, ARCHITECTURES

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


def _existing(*texts) -> list[Path]:
    """The strings among ``texts`` that name an existing file or folder: a command's inputs."""
    out = []
    for t in texts:
        if t and (Path(t).exists() or Path(t).is_symlink()):
            out.append(Path(t))
    return out


def _start_inputs(text: str | None) -> list[Path]:
    """The file a ``--start`` reads: a .npy, or the source of data:SOURCE#INDEX."""
    if not text:
        return []
    if text.startswith("data:"):
        return _existing(text[len("data:") :].rsplit("#", 1)[0])
    return _existing(text)


def cmd_train(args) -> int:
    from .api import train
    from .core.models import SpecError
    from .core.recipes import RecipeError
    from .core.train import format_duration, join_process_group, world_size

    bar = Progress()

    def progress(ev) -> None:
        rate = f"{ev.samples_per_s * world:,.0f} samples/s ETA {format_duration(ev.eta_s)}"
        bar.update(ev.step, ev.steps, f"loss {ev.loss:.3e} best {ev.best_loss:.3e} {rate}", final=ev.kind != "progress")

    device, rank = join_process_group(args.device)
    world = world_size()
    options = ("L", "H", "bound", "lr", "batch", "steps", "schedule", "warmup", "seed", "bottleneck", "patch", "heads")
    try:
        model = train(
            args.data,
            args.preset,
            arch=args.arch,
            output=args.output,
            name=args.name,
            save_every=args.save_every,
            subset=args.subset,
            image_size=args.image_size,
            device=device,
            eval_size=args.eval_size,
            eval_every=args.eval_every,
            precision=args.precision,
            graphs=not args.no_graphs,
            progress=progress,
            log=lambda line: print(line, file=sys.stderr),
            **{k: getattr(args, k) for k in options},
        )
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


def _start_from_args(args, ck):
    """The chains' start (core.start.Start) from the shared chain options of ``sample``, ``export`` and
    ``analyze``; the ChainConfig is ``start.chain_config(sampler)``."""
    from .core.start import StartError, parse_start

    try:
        return parse_start(args.start, ck.value_range, n=args.n, seed=args.seed, sigma=args.sigma, mask=args.mask)
    except StartError as e:
        raise CLIError(str(e)) from None


_SAMPLER_OPTIONS = {"noise": "--noise", "eps": "--eps", "eps_schedule": "--eps-schedule", "damping": "--damping"}


def _sampler_from_args(args, steps: int):
    """The core.sampler.Sampler of ``--sampler`` / ``--preset`` or of --noise, --eps, --eps-schedule and
    --damping (each unset one: the paper's). A whole sampler and one of its settings together is an error
    (which would win is not obvious)."""
    from .core.sampler import Sampler, SamplerError, parse_schedule

    given = [flag for key, flag in _SAMPLER_OPTIONS.items() if getattr(args, key) is not None]
    whole = [f"--{k} {getattr(args, k)}" for k in ("sampler", "preset") if getattr(args, k, None)]
    if whole and (given or len(whole) > 1):
        raise CLIError(f"{whole[0]} sets {', '.join(given or ['the sampler'])}: give it or the option, not both")
    try:
        if whole:
            return Sampler.parse(args.sampler or args.preset, steps=steps)
        paper = Sampler.PAPER
        return Sampler(
            noise=paper.noise if args.noise is None else args.noise,
            eps=paper.eps if args.eps is None else args.eps,
            schedule=parse_schedule(args.eps_schedule or "", steps),
            damping=paper.damping if args.damping is None else args.damping,
        )
    except SamplerError as e:
        raise CLIError(str(e)) from None


def _lab_from_args(args, ck):
    """The core.lab.Lab of ``--condition`` / ``--known``, or None."""
    from .core.data import open_source
    from .core.lab import Condition, Lab, LabError, parse_condition

    if not args.condition:
        if args.known:
            raise CLIError("--known needs --condition (the known image: data:SOURCE#INDEX, a .npy or an image)")
        return None
    try:
        cond: Condition = parse_condition(
            args.condition, args.known, ck.spec.shape, ck.value_range, open_source=open_source
        )
    except LabError as e:
        raise CLIError(str(e)) from None
    return Lab(cond)


def _lab_inputs(args) -> list[Path]:
    """The files --condition and --known read."""
    from .core.lab import KNOWN_REGIONS

    known = [] if args.known is None or args.known in KNOWN_REGIONS else _existing(args.known)
    return [*_start_inputs(args.condition), *known]


def _parse_steps(text: str, **kw) -> list[int]:
    """core.export.parse_steps (counted before it is built); a bad text is a bad option (exit 2)."""
    from .core.export import ExportError, parse_steps

    try:
        return parse_steps(text, **kw)
    except ExportError as e:
        raise CLIError(str(e)) from None


def _export_target(args) -> tuple[str, Path]:
    """(format, output path) of ``kgn export``: --format, else the format -o's extension names, else GIF; an
    extension that names another format than --format is a bad option (exit 2), one without an extension
    gets the format's (core.export.output_for). A bundle's -o is the bundle (a folder or .zip)."""
    from .core.export import OutputNameError, format_of, output_for

    if args.bundle:
        return args.format or "gif", Path(args.output)
    fmt = args.format or format_of(args.output) or "gif"
    try:
        return fmt, output_for(args.output, fmt)
    except OutputNameError as e:
        raise CLIError(str(e)) from None


def _picture_size(text: str) -> tuple[int, int]:
    """ "WIDTHxHEIGHT" (or W×H) → (width, height), whole numbers of pixels."""
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not WIDTHxHEIGHT: {text!r} (e.g. 640x480)") from None
    if min(w, h) < 16 or max(w, h) > 8192:
        raise argparse.ArgumentTypeError(f"{w}x{h}: each side from 16 to 8192 pixels")
    return w, h


def cmd_export(args) -> int:
    from .core.checkpoint import load_checkpoint
    from .core.export import frame_count_duration

    steps = _parse_steps(args.steps)  # before anything is loaded: 0:10**12:1 is refused at once
    inputs = [*_existing(args.model), *_start_inputs(args.start), *_lab_inputs(args)]
    fmt, target = _export_target(args)
    check_not_input(target, inputs)
    ck = load_checkpoint(args.model)
    if args.size is not None and len(ck.spec.shape) != 1:
        raise CLIError("--size is the picture size of a 1-D or 2-D points model; an image model's is set by --scale")
    run = _run_from_args(args, ck, 0, max(steps))
    bar = Progress()
    options = dict(
        fps=args.fps, scale=args.scale, overlay=not args.no_overlay, chain=args.chain, gif_hold=args.gif_hold
    )
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


def _run_from_args(args, ck, steps: int, sampler_steps: int | None = None, progress=None):
    """kgn_gui.sample of the shared chain options (a schedule without its T runs over ``sampler_steps``, by
    default the run's ``steps``)."""
    from . import api

    start, sampler = (
        _start_from_args(args, ck),
        _sampler_from_args(args, sampler_steps if sampler_steps is not None else steps),
    )
    lab = _lab_from_args(args, ck)
    return api.sample(
        api.Model(ck), n=start.n, steps=steps, seed=start.seed, sampler=sampler, start=start,
        condition=lab.condition if lab is not None else None, progress=progress,
    )  # fmt: skip


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


def _add_sampler_options(s: argparse.ArgumentParser) -> None:
    from .core.sampler import NOISE_KINDS, PRESETS, Sampler

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
    from .core.bundle import bundle_files, reproduce

    check_not_input(args.output, bundle_files(args.bundle))  # reproduce checks the suffixed name too
    bar = Progress()
    path = reproduce(args.bundle, args.output, progress=lambda d, n: bar.update(d, n, "frames", final=d == n))
    print(f"reproduced {args.bundle} → {path}")
    return 0


def cmd_sample(args) -> int:
    from .api import SAMPLE_FILES, SAMPLE_WHAT
    from .core.checkpoint import load_checkpoint
    from .core.lab import LabError, parse_branch
    from .core.preflight import MAX_GRID_ROWS

    if args.bundle:
        return cmd_reproduce(args)
    if not args.model:
        raise CLIError("give a MODEL, or --bundle PATH")
    try:
        branch = parse_branch(args.branch) if args.branch else None
    except LabError as e:
        raise CLIError(str(e)) from None
    if branch is not None and branch[0] > args.steps:
        raise CLIError(f"--branch {args.branch}: the branch step must lie in [0, {args.steps}]")
    out = Path(args.output)
    check_not_input(out, [*_existing(args.model), *_start_inputs(args.start), *_lab_inputs(args)])
    try:
        check_own_folder(out, SAMPLE_FILES.__contains__, SAMPLE_WHAT)  # a folder of other files: a bad -o
    except WriteError as e:
        raise CLIError(str(e)) from None
    grid_steps = _parse_steps(args.grid_steps, limit=MAX_GRID_ROWS, what="grid rows") if args.grid_steps else None
    if grid_steps and grid_steps[-1] > args.steps:
        raise CLIError(f"grid steps must lie in [0, {args.steps}]")
    ck = load_checkpoint(args.model)
    run = _run_from_args(args, ck, 0, args.steps)  # the steps are computed as the result is written
    bar = Progress()
    meta = run.save(
        out, args.steps, branch=branch, grid_steps=grid_steps, grid_n=args.grid_n, model=str(args.model),
        progress=lambda d, n: bar.update(d, args.steps, "steps", final=d == args.steps),
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
    from .core.checkpoint import describe_metadata, read_metadata
    from .core.jsonsafe import dumps_strict

    if args.list:
        return cmd_models(args)
    if not args.model:
        raise CLIError("give a MODEL (a .safetensors file or a bundled model's name), or --list")
    meta = read_metadata(args.model)
    print(dumps_strict(meta, indent=2) if args.json else "\n".join(describe_metadata(meta)))
    return 0


def _listed(parse):
    """An argparse type of a core.lists parser: a bad list exits 2 with its one line."""

    def read(text: str):
        from .core.lists import ListError

        try:
            return parse(text)
        except ListError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return read


def cmd_analyze(args) -> int:
    from . import api
    from .core.checkpoint import load_checkpoint
    from .core.data import DataError
    from .core.jsonsafe import dumps_strict
    from .core.preflight import check_output_file

    inputs = [*_existing(args.model, args.data), *_start_inputs(args.start), *_lab_inputs(args)]
    if args.json:
        check_not_input(args.json, inputs, "--json file")
        check_output_file(args.json)
    ck = load_checkpoint(args.model)
    start, sampler = _start_from_args(args, ck), _sampler_from_args(args, args.steps)
    lab = _lab_from_args(args, ck)
    bar = Progress()
    try:
        out = api.analyze(
            api.Model(ck), steps=args.steps, n=args.n, seed=args.seed, sampler=sampler, start=start,
            condition=lab.condition if lab is not None else None, data=args.data,
            tol=args.tol, copy_tol=args.copy_tol, audit=args.audit, sigmas=args.sigmas, recovery_n=args.recovery_n,
            recovery_T=args.recovery_T, mixing=args.mixing or (),
            progress=lambda stage, d, n: bar.update(d, n, stage, final=d == n),
            log=lambda s: print(s, file=sys.stderr),
        )  # fmt: skip
    except DataError as e:  # the model's own data cannot be had here
        raise CLIError(f"{e}; pass --data" if args.data is None else str(e)) from None
    out["model"] = str(args.model)  # as the command line named it
    if args.json:
        check_not_input(args.json, inputs, "--json file")
        atomic_write_text(args.json, dumps_strict(out, indent=1, default=float))
    print("\n".join(out.lines()))
    return 0


def cmd_sweep(args) -> int:
    from dataclasses import fields

    from .core import lists
    from .core.preflight import check_sweep
    from .core.sweep import MAX_SEEDS, SweepConfig, check_output_folder, run_sweep

    given = {f.name: getattr(args, f.name) for f in fields(SweepConfig) if hasattr(args, f.name)}
    try:
        given.update(source=args.data, chains=args.n, seeds=lists.seeds(args.seeds, MAX_SEEDS))
        given.update(sampler=_sampler_from_args(args, args.sample_steps))
        cfg = SweepConfig(**given)
        cfg.validate()
        check_not_input(args.output, _existing(args.data))
        out = check_output_folder(args.output)
        check_sweep(cfg, out)
    except ValueError as e:
        raise CLIError(str(e)) from None
    bar = Progress()
    say = lambda s: print(s, file=sys.stderr)  # noqa: E731
    rows = run_sweep(cfg, out, log=say, progress=lambda f: bar.update(int(f * 1000), 1000, "sweep", final=f >= 1))
    print(f"wrote {out / 'sweep.csv'} ({len(rows)} depths), {out / 'sweep_runs.csv'} ({len(cfg.runs)} runs) and "
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


class _HelpWithDefaults(OneLineErrorParser):
    def __init__(self, *a, **kw):
        kw.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*a, **kw)


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__
    from .core.export import FORMATS
    from .core.lists import depths, eps_values, sigmas
    from .core.models import BOUNDS
    from .core.recipes import PRESET_NAMES
    from .core.train import DEVICES, PRECISIONS, SCHEDULES

    ap = OneLineErrorParser(
        prog="kgn",
        description="Generative Kaleidoscopic Networks, headless. A MODEL is a .safetensors file or the name of a "
        "bundled model (kgn models lists them).",
    )
    ap.add_argument("--version", action="version", version=f"kgn {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_HelpWithDefaults)

    t = sub.add_parser("train", help="train a kaleidoscopic network f(x) ≈ x")
    t.add_argument(
        "--data",
        default="mnist",
        help="mnist, mnist:test, points:PRESET|0.2,0.8, a .npz/.npy, IDX file/folder or image folder",
    )
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
    t.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default=None,
        help="paper (default): the published recipe of the data set — images: MLP L=10 H=500 Tanh, Adam 1e-4, "
        "batch 1000, 10,000 steps; points:1d-sigmoid L=6 H=10 Sigmoid, 1d-tanh L=10 H=10 Tanh, 2d-corners L=6 "
        "H=50 Sigmoid, 2d-center L=2 H=50 Sigmoid, Adam 1e-3, full batch, 2000 steps. fast (images): Adam 1e-3 "
        "with 400 warm-up steps and cosine decay, batch 256, 8,000 steps (reaches the paper recipe's loss on "
        "its network with ~10%% of the samples). Options given explicitly win",
    )
    t.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help="learning rate: constant (the paper's) or linear warm-up then cosine decay to 0",
    )
    t.add_argument("--warmup", type=nonneg_int, default=None, help="warm-up steps of the cosine schedule")
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
    t.add_argument("--name", default=None, type=text_at_most(200), help="the model's name (default: the file's)")
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
    s.add_argument("-o", "--output", default="kgn-sample", help="output folder")
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
        "(≤ 1.4 %% of the range at 3; ε-noise flicker is not sent again each frame: 3.4× smaller on noisy "
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
        type=_picture_size,
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
    e.set_defaults(func=cmd_export)

    a = sub.add_parser("analyze", help="measure a model's kaleidoscope: convergence, copies, classes, attractors")
    a.add_argument("model", help="a .safetensors file or a bundled model's name (kgn models lists them)")
    a.add_argument("--steps", type=nonneg_int, default=300, help="chain steps before measuring")
    _add_chain_options(a)
    a.add_argument("--data", default=None, help="reference training data (default: the one the model file names)")
    a.add_argument(
        "--tol",
        type=float_in(0.0, 10.0, lo_open=True),
        default=None,
        help="noise-free residual ‖f(x) − x‖/√D (RMS per value) below which a chain has converged, the same for "
        "every noise kind (default: 0.025 × the value range's span, 0.05 on [−1, 1])",
    )
    a.add_argument(
        "--copy-tol",
        type=float_in(0.0, 10.0, lo_open=True),
        default=0.05,
        help="distance (RMS per value) below which a sample is a copy",
    )
    a.add_argument("--audit", type=nonneg_int, default=32, help="training examples in the attractor audit (0: skip)")
    a.add_argument(
        "--sigmas",
        type=_listed(sigmas),
        default=[0.0, 0.05, 0.1, 0.2, 0.4],
        help="corruption levels σ (value units) for basin recovery (σ = 0 recovers by construction)",
    )
    a.add_argument("--recovery-n", type=positive_int, default=200, help="training examples in basin recovery")
    a.add_argument("--recovery-T", type=positive_int, default=50, help="steps each corrupted example runs")
    a.add_argument(
        "--mixing",
        type=_listed(eps_values),
        default=None,
        metavar="EPS,…",
        help="also scan mixing: chains with normal, uniform and no noise at each ε given (e.g. 0,0.01,0.03,0.1)",
    )
    a.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    a.set_defaults(func=cmd_analyze)

    w = sub.add_parser("sweep", help="train one model per depth and seed and measure each: CSVs + PNG")
    w.add_argument("--data", default="mnist", help="the training data (as kgn train --data)")
    w.add_argument(
        "--depths", type=_listed(depths), default=[1, 2, 4, 6, 8, 10], help="depths L to train, e.g. 1,2,4,8"
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
        type=float_in(0.0, 1e6, lo_open=True),
        default=None,
        help="train each model until its best evaluation loss is at most this (default: a fixed --steps)",
    )
    w.add_argument("--eval-every", type=positive_int, default=100, help="steps between evaluations of the loss")
    w.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: 1e-3; U-Net 3e-4)")
    w.add_argument("--batch", type=positive_int, default=256, help="minibatch size")
    w.add_argument("--subset", type=nonneg_int, default=10_000, help="train on this many samples (0: all)")
    w.add_argument(
        "--seeds",
        default="0,1,2",
        help="training seeds, a comma list of whole numbers ≥ 0 (at most 16): one model per depth and seed",
    )
    w.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    w.add_argument("--n", type=positive_int, default=256, help="chains sampled per model")
    w.add_argument("--sample-steps", type=positive_int, default=200, help="chain steps before measuring")
    _add_sampler_options(w)
    w.add_argument("--audit", type=nonneg_int, default=32, help="training examples in the attractor audit (0: skip)")
    w.add_argument(
        "--sigmas",
        type=_listed(sigmas),
        default=[0.0, 0.05, 0.1, 0.2, 0.4],
        help="corruption levels σ of basin recovery",
    )
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
    from .core.chain import ChainError
    from .core.checkpoint import CheckpointError
    from .core.data import DataError
    from .core.export import ExportError, ExportOptionError
    from .core.files import OutputIsInputError
    from .core.models import SpecError
    from .core.preflight import PreflightError
    from .core.train import TrainError

    bad_option = (
        CLIError,
        PreflightError,
        OutputIsInputError,
        ExportOptionError,
    )  # exit 2: the command line asks for it
    if getattr(args, "model", None):
        from .core.bundled import resolve_model

        args.model = resolve_model(args.model)  # a bundled model's name → its file
        if not os.path.lexists(args.model):
            from .core.bundled import bundled_models

            names = ", ".join(bundled_models()) or "none found"
            print(f"kgn {args.cmd}: error: {args.model}: no such file, nor a bundled model ({names})", file=sys.stderr)
            return 2
    try:
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
