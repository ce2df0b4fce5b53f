"""Preflight: what a long piece of work needs is checked before it starts (no Qt).

``kgn train`` and the window's Training start, ``kgn sample``, ``export``, ``analyze`` and ``sweep`` call these
functions before the first training or chain step, so a run never trains to the end and only then finds that
its output cannot be written, and an option that sizes memory is refused before anything is allocated:

* the output: its folder exists and is a folder, a file can really be created in it (a probe file, made and
  removed: this catches read-only file systems and ACLs as well as permissions), and its disk has room for
  the file (a model: parameter count × 4 bytes + 1 MB of header slack);
* memory: chains, the grid of ``kgn sample``, image sizes, the network's size (L × H, as a parameter count,
  with Adam's state and the batch's activations), frames held by an encoder and per-step records are
  estimated and compared with :data:`MEMORY_FRACTION` of the memory the system can give
  (:func:`kgn_gui.core.chain.chain.available_memory_bytes`, or a CUDA device's free memory). Step lists and
  ranges are counted before they are built (:func:`kgn_gui.core.export.options.parse_steps`).

Every refusal is a :class:`PreflightError` (a ValueError) of one line that says what fits. The estimates
err high (a check that passes leaves headroom); they are estimates, not measurements.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from .chain.chain import MAX_CHAINS, available_memory_bytes
from .errors import PreflightError

MEMORY_FRACTION = 0.8  # of the available memory, as chain.check_chain_memory uses
HEADER_SLACK = 1 << 20  # bytes a model file holds beyond its float32 weights (header, metadata)
FLOAT = 4
MAX_GRID_ROWS = 10_000  # rows (steps) of ``kgn sample``'s PNG grid


def size_text(b: float) -> str:
    if b >= 2**30:
        return f"{b / 2**30:,.1f} GB"
    if b >= 2**20:
        return f"{b / 2**20:.0f} MB"
    return f"{max(b, 0) / 2**10:.0f} kB"


# -- memory --------------------------------------------------------------------------------------------


def _wants_cuda(device: str | None) -> bool:
    if not device:
        return False
    if device.startswith("cuda"):
        return True
    if device == "auto":
        import torch

        return torch.cuda.is_available()
    return False


def available_bytes(available: int | None = None, device: str | None = None) -> int:
    """The memory work may take: ``available`` when given (tests), else the free memory of a CUDA ``device``
    (when it names one and CUDA is there), else what the system can give without swapping."""
    if available is not None:
        return int(available)
    if _wants_cuda(device):
        import torch

        if torch.cuda.is_available():
            index = int(device.split(":", 1)[1]) if device.startswith("cuda:") and device[5:].isdigit() else None
            try:
                free, _ = torch.cuda.mem_get_info(index)
                return int(free)
            except (RuntimeError, AssertionError, ValueError):
                pass
    return available_memory_bytes()


def _budget(avail: int) -> int:
    return int(MEMORY_FRACTION * avail)


def _refuse_if(need: int, avail: int, what: str, fits: str) -> None:
    if need > _budget(avail):
        raise PreflightError(f"{what} need about {size_text(need)}, and {size_text(avail)} of memory is free: {fits}")


# -- outputs -------------------------------------------------------------------------------------------


TIME_LIMIT_S = 600.0  # compute a command may take before it asks: longer needs --yes (the window asks)


def duration_text(seconds: float) -> str:
    """Seconds for people: "40 s", "12 min", "3.5 h", "41 days"."""
    if not math.isfinite(seconds):
        return "forever"
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            v = seconds / size
            return f"{v:,.0f} {unit}" if v >= 10 else f"{v:.1f} {unit}"
    return f"{seconds:.0f} s"


def check_time(
    what: str, steps: int, step_s: float, *, chains: int, yes: bool = False, limit_s: float = TIME_LIMIT_S
) -> float:
    """Refuse (PreflightError, one line) compute that would take longer than ``limit_s``: ``steps`` chain
    steps of ``chains`` chains at ``step_s`` seconds a step, measured here on these chains (``Run.step_seconds``).
    ``yes``: run it anyway. Returns the estimate in seconds."""
    est = float(steps) * float(step_s)
    if est > limit_s and not yes:
        raise PreflightError(
            f"{what}: {steps:,} steps of {chains:,} chains at {step_s * 1e3:.3g} ms a step would take about "
            f"{duration_text(est)}, over the {duration_text(limit_s)} limit: ask for fewer steps, or pass --yes"
        )
    return est


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def check_writable_folder(folder: str | os.PathLike, size_bytes: int = 0, for_path=None) -> Path:
    """``folder`` exists, is a folder, takes a new file (made and removed here) and its disk has ``size_bytes``
    free. ``for_path``: the output named in the message (default the folder)."""
    folder = Path(folder)
    name = for_path if for_path is not None else folder
    if not folder.exists():
        raise PreflightError(f"cannot write {name}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise PreflightError(f"cannot write {name}: {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".kgn-preflight.", suffix=".part", dir=folder)
    except OSError as e:
        raise PreflightError(f"cannot write {name}: the folder {folder} is not writable ({e.strerror or e})") from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    if size_bytes > 0:
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = None
        if free is not None and free < size_bytes:
            raise PreflightError(
                f"cannot write {name}: its disk has {size_text(free)} free and the output needs about "
                f"{size_text(size_bytes)}"
            )
    return folder


def check_output_file(path: str | os.PathLike, size_bytes: int = 0) -> Path:
    """A file output: not a folder; its folder exists, is writable and has ``size_bytes`` free."""
    path = Path(path)
    if path.is_dir():
        raise PreflightError(f"cannot write {path}: it is a folder")
    check_writable_folder(_folder_of(path), size_bytes, for_path=path)
    return path


def check_output_folder(path: str | os.PathLike, size_bytes: int = 0) -> Path:
    """A folder output (made beside it and swapped in, or filled in place): its parent folder exists, is
    writable and has ``size_bytes`` free; an existing ``path`` must be a folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PreflightError(f"cannot write {path}: it exists and is not a folder")
    check_writable_folder(_folder_of(path), size_bytes, for_path=path)
    return path


# -- training ------------------------------------------------------------------------------------------


def model_file_bytes(spec) -> int:
    """The size of a model file of ``spec``, bounded above: parameter count × 4 bytes + 1 MB of header."""
    from .model.architectures import spec_parameter_count

    return spec_parameter_count(spec) * FLOAT + HEADER_SLACK


def _activation_floats(spec, B: int) -> int:
    """Floats a training step keeps for the backward pass (an estimate that errs high)."""
    D, L, H = spec.D, spec.L, spec.H
    if spec.arch == "mlp":
        return 3 * B * (2 * D + L * H)
    pixels = D // spec.shape[0] if len(spec.shape) == 3 and spec.shape[0] else D
    if spec.arch in ("cnn", "unet"):
        return 12 * B * H * pixels + 3 * B * D
    tokens = 64
    if spec.patch and len(spec.shape) == 3:
        tokens = math.ceil(spec.shape[1] / spec.patch) * math.ceil(spec.shape[2] / spec.patch)
    heads = spec.heads or max(1, H // 32)
    return 12 * B * L * tokens * (H + heads * tokens) + 3 * B * D


def training_memory_bytes(spec, batch: int, M: int, eval_size: int = 0) -> int:
    """Memory a training run takes beyond its data: five copies of the weights (weights, gradients, Adam's two
    moments, the best so far) and the batch's activations, plus the evaluation subset."""
    from .model.architectures import spec_parameter_count

    B = max(1, min(batch, M))
    return FLOAT * (5 * spec_parameter_count(spec) + _activation_floats(spec, B) + min(eval_size, M) * spec.D)


def _largest_width(spec, batch: int, M: int, eval_size: int, budget: int) -> int:
    """The largest H at this L whose training fits ``budget`` (0 when none): MLP only."""
    lo, hi = 0, max(1, spec.H)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if training_memory_bytes(replace(spec, H=mid), batch, M, eval_size) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_training(spec, M: int, batch: int, eval_size: int = 0, *, available=None, device=None) -> None:
    """Refuse a network, batch and data that would not fit the training device's memory."""
    from .model.architectures import spec_parameter_count

    avail = available_bytes(available, device)
    need = training_memory_bytes(spec, batch, M, eval_size)
    if need <= _budget(avail):
        return
    if spec.arch == "mlp":
        h = _largest_width(spec, batch, M, eval_size, _budget(avail))
        fits = f"at L = {spec.L} at most H = {h:,} fits" if h else f"L = {spec.L} does not fit at any width"
        fits += f" (batch {min(batch, M):,})"
    else:
        fits = "choose a smaller L, H or batch"
    P = spec_parameter_count(spec)
    _refuse_if(need, avail, f"training {spec.describe()} ({P:,} parameters, batch {min(batch, M):,}) would", fits)


def check_train_output(path: str | os.PathLike, spec=None) -> Path:
    """``kgn train``'s model file: its folder exists and is writable, and (with ``spec``) its disk has room."""
    return check_output_file(path, model_file_bytes(spec) if spec is not None else 0)


# -- data ----------------------------------------------------------------------------------------------


def _image_suffixes() -> set[str]:
    from .data.images import IMAGE_SUFFIXES

    return IMAGE_SUFFIXES


def image_folder_count(source: str) -> int | None:
    """How many image files an image-folder data source holds (as ``data.open_source`` would read them), or
    None when ``source`` is not an image folder (a keyword, a file, an IDX folder)."""
    p = Path(source)
    try:
        if not p.is_dir():
            return None
        sub = p / "raw" if (p / "raw").is_dir() else p
        if any("ubyte" in q.name or "idx" in q.name for q in sub.iterdir()):
            return None
        suffixes = _image_suffixes()
        n = 0
        for _root, _dirs, names in os.walk(p):
            n += sum(1 for f in names if not f.startswith(".") and Path(f).suffix.lower() in suffixes)
        return n
    except OSError:
        return None


def check_image_size(side: int, n_images: int, channels: int = 3, *, available=None) -> None:
    """Images resized to side × side: n_images of them as float32 (twice: the list and the stacked array)
    must fit; the message says the largest side that does."""
    avail = available_bytes(available)
    per_pixel = channels * (2 * FLOAT + 1)
    need = max(1, n_images) * side * side * per_pixel
    fit = math.isqrt(max(0, _budget(avail)) // (max(1, n_images) * per_pixel))
    _refuse_if(need, avail, f"{n_images:,} images at {side:,}×{side:,} pixels", f"at most --image-size {fit:,} fits")


def check_image_source(source: str, side: int, *, available=None) -> None:
    """Before an image folder is read at ``side`` × ``side``: the resized images fit in memory."""
    n = image_folder_count(source)
    if n:
        check_image_size(side, n, available=available)


# -- chains --------------------------------------------------------------------------------------------


def check_chains(n: int, D: int, *, per_chain_bytes: int = 0, available=None, option: str = "-n") -> None:
    """N chains of D values: a step holds four N×D float32 arrays (x, f(x), the noise, the next x), plus
    ``per_chain_bytes`` of records per chain (kept states, per-step numbers). At most MAX_CHAINS."""
    avail = available_bytes(available)
    per = 4 * FLOAT * D + per_chain_bytes
    fit = min(MAX_CHAINS, _budget(avail) // max(1, per))
    if n > fit:
        if fit == MAX_CHAINS and n * per <= _budget(avail):
            raise PreflightError(f"{option} {n:,}: at most {MAX_CHAINS:,} chains")
        raise PreflightError(
            f"{option} {n:,}: {n:,} chains of {D:,} values need about {size_text(n * per)}, and "
            f"{size_text(avail)} of memory is free: at most {fit:,} chains fit"
        )


def _mosaic_size(k: int, shape, pad: int = 1, cols: int | None = None) -> tuple[int, int]:
    _, H, W = shape
    cols = cols or max(1, math.ceil(math.sqrt(k)))
    rows = max(1, math.ceil(k / cols))
    return rows * (H + pad) + pad, cols * (W + pad) + pad


def check_sample(n: int, D: int, shape, *, grid_rows: int = 0, grid_n: int = 0, scale: int = 2, available=None) -> None:
    """``kgn sample``: the chains; for an image model the states kept for the grid (grid_rows × min(grid_n, n)
    chains) and the grid picture (grid_rows rows of grid_n tiles, zoomed ``scale``×, RGB, about three copies
    while it is drawn and encoded)."""
    check_chains(n, D, available=available)
    if len(shape) != 3 or not grid_rows:
        return
    avail = available_bytes(available)
    _, H, W = shape
    row = 9 * scale * scale * (H + 2)  # bytes of one pixel column of a grid row, three RGB copies
    kept = grid_rows * FLOAT * D * min(grid_n, n)
    need = grid_rows * row * (grid_n * (W + 1) + 1 + 48) + kept
    fit = max(0, (_budget(avail) - kept - grid_rows * row * 49) // (grid_rows * row * (W + 1)))
    _refuse_if(
        need,
        avail,
        f"a grid of {grid_rows:,} rows of {grid_n:,} chains would",
        f"at most --grid-n {fit:,} fits at {grid_rows:,} rows",
    )


def check_analysis(
    n: int,
    D: int,
    steps: int,
    *,
    M: int = 0,
    recovery_n: int = 0,
    audit: int = 0,
    k_max: int = 8,
    available=None,
    option: str = "-n",
    steps_option: str = "--steps",
) -> None:
    """``kgn analyze`` (and each depth of a sweep): the chains with their per-step sizes (steps × n floats) and
    last k_max + 1 states; basin recovery's min(recovery_n, M) corrupted examples (a few copies each) and the
    audit's examples with their Jacobian (exact up to 1024 values)."""
    check_chains(n, D, per_chain_bytes=FLOAT * (k_max + 1) * D, available=available, option=option)
    avail = available_bytes(available)
    per = 4 * FLOAT * D + FLOAT * (k_max + 1) * D
    if n * (per + FLOAT * steps) > _budget(avail):  # the chains fit: the step sizes are what does not
        fit = max(0, (_budget(avail) - n * per) // (FLOAT * n))
        raise PreflightError(
            f"{steps_option} {steps:,}: the step sizes of {n:,} chains over {steps:,} steps need about "
            f"{size_text(n * steps * FLOAT)}, and {size_text(avail)} of memory is free: at most {fit:,} steps fit"
        )
    rec = min(recovery_n, M) if M else recovery_n
    aud = min(audit, M) if M else audit
    jac = 24 * min(D, 1024) ** 2 if aud else 0
    per = 4 * FLOAT * D
    need = per * (rec + aud) + jac
    fit = max(0, (_budget(avail) - jac) // per - aud)
    _refuse_if(
        need, avail, f"basin recovery of {rec:,} examples of {D:,} values would", f"at most --recovery-n {fit:,} fits"
    )


# -- exports -------------------------------------------------------------------------------------------


def frame_bytes(n_chains: int, shape, scale: int, chain: int | None = None, max_tiles: int = 256) -> int:
    """Bytes of one RGB frame of an export (the grid of up to max_tiles chains, or one chain, zoomed)."""
    if len(shape) != 3:
        return 0
    if chain is not None:
        h, w = _mosaic_size(1, shape, pad=0, cols=1)
    else:
        h, w = _mosaic_size(min(n_chains, max_tiles), shape)
    return 3 * h * w * scale * scale


# Frames an encoder holds at once: APNG all of them (Pillow writes them at the end); GIF up to 16 pending + the
# queue; video and PNG a few.
_FRAMES_HELD = {"gif": 24, "mp4": 8, "webm": 8, "png": 4}


def check_export(
    n_frames: int,
    n_chains: int,
    D: int,
    shape,
    fmt: str,
    scale: int = 4,
    chain: int | None = None,
    *,
    max_step: int = 0,
    bundle: bool = False,
    available=None,
) -> None:
    """An export of ``n_frames`` frames: the chains, the frames the encoder holds (APNG: all) and, for a bundle,
    the curves of every step up to ``max_step`` (mean and band of each measure, per chain for up to 256);
    fmt "npz": the states of every step."""
    from .chain.curves import CURVES

    check_chains(n_chains, D, available=available)
    avail = available_bytes(available)
    if fmt == "npz":  # every step's states, stacked (and held once more while they are gathered)
        per = 2 * n_chains * D * FLOAT
        fit = _budget(avail) // max(1, per)
        _refuse_if(n_frames * per, avail, f"the states of {n_frames:,} steps would", f"at most {fit:,} steps fit")
        return
    fb = frame_bytes(n_chains, shape, scale, chain)
    held = n_frames if fmt == "apng" else min(n_frames, _FRAMES_HELD.get(fmt, 4))
    frames_need = 2 * held * fb
    if fmt == "apng":
        fit = max(0, _budget(avail) // max(1, 2 * fb))
        _refuse_if(
            frames_need, avail, f"{n_frames:,} APNG frames of {size_text(fb)} would", f"at most {fit:,} frames fit"
        )
    else:
        _refuse_if(
            frames_need, avail, f"frames of {size_text(fb)} each would", "choose a smaller --scale or fewer chains"
        )
    if bundle:
        per_step = 2 * len(CURVES) * (3 * 8 + FLOAT * min(256, n_chains))
        need = (max_step + 1) * per_step + frames_need
        fit = max(0, (_budget(avail) - frames_need) // per_step)
        _refuse_if(need, avail, f"a bundle's curves of {max_step + 1:,} steps would", f"at most {fit:,} steps fit")


# -- sweeps --------------------------------------------------------------------------------------------


def source_dims(source: str, value_range=(-1.0, 1.0)) -> tuple[int, tuple[int, ...], int]:
    """(D, shape, M) of a data source: the bundled MNIST without reading it, anything else by opening it."""
    if source in ("mnist", "mnist:train", "mnist:test"):
        return 784, (1, 28, 28), 10_000 if source.endswith("test") else 60_000
    from .data.sources import open_source

    ds = open_source(source, value_range)
    return ds.D, tuple(ds.shape), ds.M


def check_sweep(cfg, out, *, dims=None, available=None, workers: int = 1) -> None:
    """``kgn sweep``: the deepest network trains in memory, each depth's chains, records and recovery fit, and
    the output folder takes every depth's model file. ``dims``: (D, shape, M) of the data (else read).
    ``workers`` trials at once on this machine share its memory: each must fit in its share."""
    from types import SimpleNamespace

    from .errors import SpecError

    if workers > 1:
        available = available_bytes(available, cfg.device) // workers

    D, shape, M = dims if dims is not None else source_dims(cfg.source)
    if cfg.subset:
        M = min(M, cfg.subset)
    ds = SimpleNamespace(D=D, shape=shape)
    try:
        specs = [cfg.spec(L, ds) for L in sorted(set(cfg.depths))]
    except SpecError as e:
        raise PreflightError(str(e)) from None
    check_training(specs[-1], M, cfg.batch, min(1000, M), available=available, device=cfg.device)
    check_analysis(
        cfg.chains,
        D,
        cfg.sample_steps,
        M=M,
        recovery_n=cfg.recovery_n,
        audit=cfg.audit,
        available=available,
        option="--n",
        steps_option="--sample-steps",
    )
    size = sum(model_file_bytes(cfg.spec(L, ds)) for L in cfg.depths) + HEADER_SLACK
    out = Path(out)
    if out.is_dir():
        check_writable_folder(out, size, for_path=out)
    else:
        check_output_folder(out, size)
