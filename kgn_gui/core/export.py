"""Frames of a chain → GIF, APNG, MP4 (H.264), WebM (VP9) or a folder of PNG frames (no Qt).

Frames are recomputed deterministically from (model, start, noise, ε, seed), so any step range can be
exported whether or not a window ever showed it. Every output is written under a temporary name in
the target's folder and renamed at the end: a cancelled or failed export leaves nothing behind. A folder
of PNG frames may replace a previous frame export (a folder holding only ``frame_*.png``): the new folder is
swapped in as a unit, so a failure leaves the old frames whole; a folder holding anything else is refused.
No output may be one of the export's inputs (``inputs=``: the model file, a start array).
Step texts are counted before any list is built (:func:`parse_steps`; at most MAX_FRAMES frames).

Frames travel small (:class:`Mosaic`: the 1× mosaic, the zoom and the label) and are expanded by each
encoder in its own thread, while the chain computes the next ones. GIF, MP4 and WebM use PyAV, whose
wheels carry FFmpeg with libx264 (GPL) and libvpx; GIF frames share one palette (grey data: 248 exact
greys; colour: Pillow's octree palette of the first frame, no dithering). APNG and PNG use Pillow.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import math
import os
import queue
import re
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from .chain.chain import ChainConfig, run_chain
from .errors import ExportCancelled, ExportError, ExportOptionError, OutputNameError
from .files import WriteError, atomic_path, check_not_input, check_own_folder, swap_in
from .picture.render import COBWEB_STEPS, MAX_POINTS_SIDE, POINTS_SIZE, TRAIL, PointsPicture, states_to_grid, zoom

_OVERLAY_RGB = np.array([255, 209, 102], np.float32)  # the step label's amber
FORMATS = ("gif", "apng", "mp4", "webm", "png")
SUFFIX = {"gif": ".gif", "apng": ".png", "mp4": ".mp4", "webm": ".webm", "png": ""}


def count_steps(text: str) -> int:
    """How many steps a step text asks for ("from:to:every", "from:to" or "0,5,10"), counted without building
    the list (a comma list counts its items, repeats included). ExportOptionError (a bad option) when it cannot be read."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) > 3:
                raise ValueError
            a, b = parts[0], parts[1]
            k = parts[2] if len(parts) > 2 else 1
            if a < 0 or b < a or k < 1:
                raise ValueError
            return (b - a) // k + 1
        n = sum(1 for p in text.split(",") if p.strip())
        if not n:
            raise ValueError
        return n
    except ValueError:
        raise ExportOptionError(f"cannot read steps {text!r}: use FROM:TO:EVERY (e.g. 0:300:1) or 0,10,30") from None


def parse_steps(text: str, limit: int | None = None, what: str = "frames per export") -> list[int]:
    """ "from:to:every" (to inclusive), "from:to", or a comma list "0,5,10" → sorted step list. At most ``limit``
    steps (default MAX_FRAMES), checked by count before the list is built: "0:10**12:1" is refused at once."""
    limit = MAX_FRAMES if limit is None else limit
    count = count_steps(text)
    if count > limit:
        raise ExportOptionError(f"steps {text!r} ask for {count:,} steps; at most {limit:,} {what}")
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            return list(range(parts[0], parts[1] + 1, parts[2] if len(parts) > 2 else 1))
        steps = sorted({int(p) for p in text.split(",") if p.strip()})
        if not steps or steps[0] < 0:
            raise ValueError
        return steps
    except ValueError:
        raise ExportOptionError(f"cannot read steps {text!r}: use FROM:TO:EVERY (e.g. 0:300:1) or 0,10,30") from None


@dataclass
class ExportOptions:
    """fmt: one of FORMATS. fps: frames per second. scale: whole-number nearest-neighbour zoom.
    overlay: the step label "t = …" in a band above the grid. chain: export only this chain (enlarged), else the grid of up to
    ``max_tiles`` chains; on a 1-D points model, the chain whose cobweb is drawn (default 0). size: a points
    model's picture, (width, height) pixels at 1× (default POINTS_SIZE; the window passes its Points view's);
    image models are sized by their mosaic and take none."""

    fmt: str = "gif"
    fps: float = 20.0
    scale: int = 4
    overlay: bool = True
    chain: int | None = None
    max_tiles: int = 256
    grey: bool = False  # grey data: GIFs then use a fixed palette of 248 greys + 7 label shades
    size: tuple[int, int] | None = None
    # grey GIFs: a grid pixel keeps the grey it shows while its value stays within this many of the 248
    # grey levels of it (shown − true ≤ gif_hold + ½ level; 3: ≤ 1.4 % of the value range), so that ε-noise
    # flicker of a level or two is not sent again every frame; 0: every frame exact. Other formats are exact.
    gif_hold: int = 3

    def validate(self) -> None:
        if self.fmt not in FORMATS:
            raise ExportOptionError(f"unknown format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        if not 0.1 <= self.fps <= 240:
            raise ExportOptionError("frames per second must be in [0.1, 240]")
        if not isinstance(self.scale, int) or not 1 <= self.scale <= 32:
            raise ExportOptionError("scale must be a whole number in [1, 32]")
        if not isinstance(self.gif_hold, int) or isinstance(self.gif_hold, bool) or not 0 <= self.gif_hold <= 16:
            raise ExportOptionError("the GIF grey hold must be a whole number of grey levels in [0, 16]")
        if self.size is not None:
            w, h = self.size
            if not all(isinstance(v, int) and v >= 16 for v in (w, h)):
                raise ExportOptionError("a points picture's size is whole numbers of pixels, at least 16×16")
            if max(w, h) * self.scale > MAX_POINTS_SIDE:
                raise ExportOptionError(
                    f"{w}×{h} at {self.scale}× is larger than {MAX_POINTS_SIDE} pixels; choose a smaller scale or size"
                )

    def to_dict(self) -> dict:
        return asdict(self)


class Mosaic:
    """One frame kept small: the 1× mosaic (grey H×W or colour H×W×3 uint8), the zoom and the step label.
    The label sits in a black band above the grid (:func:`label_band`), never on a tile. Each encoder
    expands it the way it needs (grey → palette indices or luma directly, with no RGB detour);
    :meth:`rgb` gives the full picture."""

    __slots__ = ("small", "scale", "label")

    def __init__(self, small: np.ndarray, scale: int, label: str | None):
        self.small, self.scale, self.label = small, scale, label

    @property
    def grid_size(self) -> tuple[int, int]:
        """(height, width) of the zoomed grid, without the label band."""
        return self.small.shape[0] * self.scale, self.small.shape[1] * self.scale

    @property
    def band_height(self) -> int:
        return 0 if self.label is None else band_height(*self.grid_size)

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.grid_size
        return h + self.band_height, w

    @property
    def grey(self) -> bool:
        return self.small.ndim == 2

    def patch(self) -> np.ndarray | None:
        """The label's RGB patch (band_height rows, at the band's left; the rest of the band is black), or None."""
        return None if self.label is None else _label_patch(self.label, *self.grid_size)

    def rgb(self) -> np.ndarray:
        small = self.small if self.small.ndim == 3 else np.repeat(self.small[..., None], 3, axis=2)
        grid = zoom(small, self.scale)
        return grid if self.label is None else np.concatenate([label_band(self.label, *self.grid_size), grid])


def band_height(height: int, width: int) -> int:
    """Rows of the label band above a ``height``×``width`` picture: the same for every step of an export
    (sized to the digits' full height, not to one label's), even (whole chroma rows for video)."""
    size = _label_size(height)
    top, bottom = _font(size).getbbox("t = 0123456789")[1::2]
    h = max(bottom, top + 1) + size // 3
    return h + (h & 1)


def label_band(label: str, height: int, width: int) -> np.ndarray:
    """The black band (band_height × width × 3 uint8) with ``label`` in amber at its left, for a
    ``height``×``width`` picture below it."""
    patch = _label_patch(label, height, width)
    band = np.zeros((patch.shape[0], width, 3), np.uint8)
    band[:, : patch.shape[1]] = patch
    return band


def with_label(frame: np.ndarray, label: str) -> np.ndarray:
    """An H×W×3 frame with the step label's band above it: a new ((band + H)×W×3) array."""
    return np.concatenate([label_band(label, frame.shape[0], frame.shape[1]), frame])


def as_rgb(frame) -> np.ndarray:
    return frame.rgb() if isinstance(frame, Mosaic) else frame


def mosaic(
    x: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float], t: int, opts: ExportOptions
) -> Mosaic:
    """The grid (or one chain) at step t as a :class:`Mosaic`."""
    if len(shape) != 3:
        raise ExportError("only image models can be exported as animations")
    if opts.chain is not None:
        if not 0 <= opts.chain < len(x):
            raise ExportError(f"there is no chain {opts.chain} (0 … {len(x) - 1})")
        small = states_to_grid(x[opts.chain : opts.chain + 1], shape, value_range, cols=1, pad=0)
    else:
        small = states_to_grid(x[: opts.max_tiles], shape, value_range)
    return Mosaic(small, opts.scale, f"t = {t}" if opts.overlay else None)


def compose_frame(
    x: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float], t: int, opts: ExportOptions
) -> np.ndarray:
    """One H×W×3 uint8 frame: the grid (or one chain) at step t, zoomed, with the step overlay."""
    return mosaic(x, shape, value_range, t, opts).rgb()


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError):
        return ImageFont.load_default()


def _label_size(height: int) -> int:
    return max(10, min(height // 22, 28))


def _label_patch(text: str, height: int, width: int) -> np.ndarray:
    """``text`` in amber on black, sized to a ``height``×``width`` picture: a band_height × w × 3 uint8 patch
    (w: the text's width, at most ``width``) for the band's left."""
    from PIL import Image, ImageDraw

    size = _label_size(height)
    font = _font(size)
    right = font.getbbox(text)[2]
    w, h = max(1, min(width, right + 2 * (size // 3))), band_height(height, width)
    box = Image.new("RGB", (w, h), (0, 0, 0))
    ImageDraw.Draw(box).text((size // 3, size // 6), text, fill=tuple(int(c) for c in _OVERLAY_RGB), font=font)
    return np.asarray(box)


def chain_frames(
    model,
    spec,
    cfg: ChainConfig,
    steps: list[int],
    opts: ExportOptions,
    *,
    start_array: np.ndarray | None = None,
    lab=None,
) -> Iterator[tuple[int, Mosaic]]:
    """Recompute the chain from its start (with the core.lab.Lab ``lab``) and yield (t, frame) for each
    requested step."""
    want = set(steps)
    for t, x in run_chain(model, spec, cfg, max(steps), start_array=start_array, keep=want, lab=lab):
        if t in want:
            yield t, mosaic(x, spec.shape, spec.value_range, t, opts)


def target_path(out: str | os.PathLike, fmt: str) -> Path:
    """The output path, with the format's suffix added when it has none."""
    p = Path(out)
    suf = SUFFIX[fmt]
    if p.name in ("", ".", ".."):  # a folder, given where a file is written
        if not suf:
            return p.resolve()
        raise ExportError(f"{out}: name the {fmt.upper()} file to write, not a folder")
    return p if (not suf or p.suffix.lower() == suf) else p.with_name(p.name + suf)


# The formats a file name's extension names (``.png`` is an APNG: PNG frames are a folder); npz: states.
FORMAT_OF_SUFFIX = {".gif": "gif", ".png": "apng", ".apng": "apng", ".mp4": "mp4", ".webm": "webm", ".npz": "npz"}


def format_of(out: str | os.PathLike) -> str | None:
    """The format the output's extension names, or None when it names none."""
    return FORMAT_OF_SUFFIX.get(Path(out).suffix.lower())


def output_for(out: str | os.PathLike, fmt: str) -> Path:
    """The path an export of ``fmt`` writes for the name ``out``: the format's suffix added when the name has
    no known extension; OutputNameError (one line) when its extension names another format — ``y.gif`` is
    never written as ``y.gif.mp4``. The rule of ``kgn export -o`` and of the window's export dialog."""
    named = format_of(out)
    if named is not None and named != fmt:
        what = "a folder of PNG frames" if fmt == "png" else f"{fmt.upper()}"
        fix = Path(out).stem if fmt == "png" else Path(out).stem + SUFFIX.get(fmt, ".npz")
        raise OutputNameError(
            f"{Path(out).name} names a{'n' if named[0] in 'ae' else ''} {named.upper()} file but the format is "
            f"{what}: name it {fix} or choose the format {named}"
        )
    if fmt == "npz":
        return Path(out) if named == "npz" else Path(str(out) + ".npz")
    return target_path(out, fmt)


def export_target(out: str | os.PathLike, fmt: str | None = None, bundle: bool = False) -> tuple[str, Path]:
    """(format, path) of an export to ``out``: ``fmt``, else the format ``out``'s extension names, else GIF
    (:func:`output_for`: an extension naming another format is an OutputNameError). A bundle's ``out`` is
    the bundle itself (a folder or .zip)."""
    if bundle:
        return fmt or "gif", Path(out)
    fmt = fmt or format_of(out) or "gif"
    return fmt, output_for(out, fmt)


_FRAME_NAME = re.compile(r"frame_\d+\.png")


def is_frame_name(name: str) -> bool:
    """A name a PNG frame export writes (frame_000012.png)."""
    return _FRAME_NAME.fullmatch(name) is not None


def _check_target(path: Path, fmt: str, inputs=()) -> None:
    """The output's folder exists and is writable; it is none of ``inputs`` (nor, for a folder, holds one); a
    PNG frame folder is new, empty or a previous frame export (replaced as a unit), never a folder of other
    files."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ExportError(f"cannot write {path}: the folder {parent} is not writable")
    try:
        check_not_input(path, inputs)
        if fmt == "png":
            check_own_folder(path, is_frame_name, "a previous frame export")
    except WriteError as e:
        raise ExportError(str(e)) from None


def write_frames(
    frames: Iterator[tuple[int, object]],
    n_frames: int,
    out: str | os.PathLike,
    opts: ExportOptions,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    inputs=(),
) -> Path:
    """Encode frames (each a :class:`Mosaic` or an H×W×3 uint8 array) to ``out``, atomically.
    progress(done, total) after each frame; cancelled() is polled before each frame and, when it
    returns True, the partial output is removed and ExportCancelled raised. Returns the path written.
    ``inputs``: the files the export reads (the model, a start array); ``out`` may be none of them. A PNG
    frame folder that holds a previous export is replaced as a unit: a failure leaves the old one whole.

    The frames are produced in the calling thread (a chain's steps release the GIL) while encoder
    threads (PyAV releases it too) turn earlier frames into bytes, so both cores work."""
    opts.validate()
    path = target_path(out, opts.fmt)
    _check_target(path, opts.fmt, inputs)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        writer = {
            "gif": functools.partial(_write_gif, n_frames=n_frames),
            "apng": _write_apng,
            "mp4": _write_video,
            "webm": _write_video,
            "png": _write_pngs,
        }[opts.fmt]

        def guarded():
            for i, item in enumerate(frames):
                if cancelled is not None and cancelled():
                    raise ExportCancelled("export cancelled; nothing was written")
                yield item
                if progress is not None:
                    progress(i + 1, n_frames)

        produced = writer(guarded(), tmp_dir, opts)
        _check_target(path, opts.fmt, inputs)  # again: the folder may have changed while the frames were made
        if opts.fmt == "png":
            swap_in(produced, path, tmp_dir)
        else:
            os.replace(produced, path)
        return path
    except ExportError:
        raise
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _encode_beside(frames, work: Callable[[object], None]) -> int:
    """Call work(frame) for every frame in one encoder thread, in order, while this thread produces
    them. Returns the number of frames; the first error in either thread stops both and is raised here."""
    q: queue.Queue = queue.Queue(maxsize=4)
    failed: list[BaseException] = []

    def run() -> None:
        while (frame := q.get()) is not None:
            if not failed:
                try:
                    work(frame)
                except BaseException as e:  # re-raised in the producer's thread
                    failed.append(e)

    th = threading.Thread(target=run, name="kgn-encode", daemon=True)
    th.start()
    n = 0
    try:
        for _, frame in frames:
            if failed:
                break
            q.put(frame)
            n += 1
    except BaseException as e:
        failed.append(e)
    finally:
        q.put(None)
        th.join()
    if failed:
        raise failed[0]
    if not n:
        raise ExportError("no frames to write")
    return n


@contextlib.contextmanager
def torch_threads_beside_encoders():
    """While an export runs, the chain's matrix products leave one core to the encoders."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(before, (os.cpu_count() or 2) - 1)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


PNG_LEVEL = 1  # zlib level for PNG/APNG: 1.6× faster than Pillow's default 6 here, files ~40 % larger
_GREY_INDEX = np.rint(np.arange(256) * (247 / 255)).astype(np.uint8)  # grey level → nearest of 248 greys


TRANSPARENT = 255  # the grey GIF palette's index for "unchanged since the last frame"


def _grey_palette() -> np.ndarray:
    """256×3: 248 evenly spaced greys (error ≤ 0.5 level), 7 shades of the label's amber, and index 255
    (black), the transparent index of frames after the first."""
    greys = np.rint(np.arange(248) * (255 / 247))
    pal = np.zeros((256, 3), np.uint8)
    pal[:248] = greys[:, None]
    pal[248:255] = np.rint(_OVERLAY_RGB[None] * (np.arange(1, 8)[:, None] / 7))
    return pal


def _grey_patch_indices(patch: np.ndarray) -> np.ndarray:
    """The label's RGB patch → indices on :func:`_grey_palette`: greys stay greys, the amber label
    goes to its 7 shades."""
    colour = (patch[..., 0] != patch[..., 1]) | (patch[..., 1] != patch[..., 2])
    shade = np.clip(np.rint(patch[..., 0].astype(np.float32) / 255 * 7), 1, 7).astype(np.uint8)
    return np.where(colour, 247 + shade, _GREY_INDEX[patch[..., 0]]).astype(np.uint8)


@dataclass
class GifPiece:
    """What one GIF frame draws: the rectangle at (left, top) of the ``band`` rows (full resolution, may be
    0 rows) over the ``small`` rows (1×, zoomed by ``scale``); ``transparent``: whether its
    TRANSPARENT pixels leave the previous frame's pixel showing."""

    left: int
    top: int
    band: np.ndarray
    small: np.ndarray
    scale: int
    transparent: bool

    @property
    def size(self) -> tuple[int, int]:
        h = self.band.shape[0] + self.small.shape[0] * self.scale
        return h, (self.band.shape[1] if self.band.shape[0] else self.small.shape[1] * self.scale)


# Frames whose changed pixels are fewer than this share of their rectangle mark the unchanged ones
# TRANSPARENT (long runs of one index); above it the noise between them compresses worse than the pixels
# themselves (measured on MNIST chains with ε = 0.01 noise: 0.9× the size), so they are sent as they are.
TRANSPARENT_BELOW = 0.3


def _span(mask: np.ndarray, axis: int) -> tuple[int, int]:
    """[first, last + 1) of the rows (axis 1) or columns (axis 0) of ``mask`` holding a True."""
    idx = np.flatnonzero(mask.any(axis=axis))
    return (int(idx[0]), int(idx[-1]) + 1) if len(idx) else (0, 0)


def gif_piece(
    band: np.ndarray, small: np.ndarray, scale: int, prev: tuple[np.ndarray, np.ndarray] | None, transparency: bool
) -> GifPiece:
    """The smallest rectangle of a frame (``band``: bh×W indices of the label band, ``small``: h×w indices
    of the grid at 1×, W = w·scale) that differs from ``prev`` (the last frame's (band, small)), with its
    unchanged pixels TRANSPARENT when ``transparency`` and few changed; the whole frame when ``prev`` is
    None. Differencing at 1× is exact: nearest zoom repeats each index, so a block changes as a whole."""
    bh = band.shape[0]
    if prev is None:
        return GifPiece(0, 0, band, small, scale, False)
    cb, cs = band != prev[0], small != prev[1]
    b0, b1 = _span(cb, 1)
    s0, s1 = _span(cs, 1)
    if b0 == b1 and s0 == s1:  # nothing changed: one unchanged pixel (a frame needs some image data)
        if transparency:
            return GifPiece(
                0, 0, np.full((0, 1), TRANSPARENT, np.uint8), np.full((1, 1), TRANSPARENT, np.uint8), 1, True
            )
        one = band[:1, :1] if bh else small[:1, :1]
        return GifPiece(0, 0, one if bh else one[:0], one if not bh else one[:0], 1, False)
    # Columns in whole blocks of the zoom, so that the grid part stays a 1× array.
    cols = [(x0 // scale, -(-x1 // scale)) for x0, x1 in [_span(cb, 0)] if x0 != x1]
    cols += [_span(cs, 0)] if s0 != s1 else []
    c0, c1 = min(c[0] for c in cols), max(c[1] for c in cols)
    if b0 == b1:  # the grid alone
        top, band_part, small_part = bh + s0 * scale, band[:0, c0 * scale : c1 * scale], small[s0:s1, c0:c1]
        changed = cs[s0:s1, c0:c1]
        n_changed, n_all = int(changed.sum()) * scale * scale, changed.size * scale * scale
    else:  # the band from its first changed row, then the grid down to its last changed row
        s1 = s1 if s0 != s1 else 0
        top, band_part, small_part = b0, band[b0:, c0 * scale : c1 * scale], small[:s1, c0:c1]
        n_changed = int(cb[b0:, c0 * scale : c1 * scale].sum()) + int(cs[:s1, c0:c1].sum()) * scale * scale
        n_all = band_part.size + small_part.size * scale * scale
    if transparency and n_changed < TRANSPARENT_BELOW * n_all:
        band_part = np.where(cb[top if b0 != b1 else bh :, c0 * scale : c1 * scale], band_part, TRANSPARENT)
        band_part = band_part.astype(np.uint8)
        rows = slice(s0, s1) if b0 == b1 else slice(0, s1)
        small_part = np.where(cs[rows, c0:c1], small_part, TRANSPARENT).astype(np.uint8)
        return GifPiece(c0 * scale, top, band_part, small_part, scale, True)
    return GifPiece(c0 * scale, top, band_part, small_part, scale, False)


def hold_greys(small: np.ndarray, shown: np.ndarray, hold: int) -> np.ndarray:
    """Grey indices ``small`` with every pixel within ``hold`` levels of the one ``shown`` last frame kept
    at that one: what is shown never strays more than ``hold`` levels from the true index, and a pixel that
    moves further is redrawn exactly."""
    if small.shape != shown.shape:
        return small
    near = np.abs(small.astype(np.int16) - shown.astype(np.int16)) <= hold
    return np.where(near, shown, small).astype(np.uint8)


# Exports with fewer pixels than this are encoded in this process: starting workers would cost more.
PROCESS_MIN_PIXELS = 20_000_000


def _gif_encoder(total_pixels: int):
    """Worker processes for long exports (one per core, at most 4), else a thread of this process."""
    from .gif_worker import InProcess, WorkerProcesses

    if total_pixels >= PROCESS_MIN_PIXELS:
        try:
            return WorkerProcesses(max(1, min(4, os.cpu_count() or 1)))
        except OSError:
            pass
    return InProcess()


def _write_gif(frames, tmp_dir: Path, opts: ExportOptions, n_frames: int = 0, whole_frames: bool = False) -> Path:
    """GIF: one palette for all frames (grey data maps exactly onto 248 greys; colour data shares the
    first frame's octree palette). Indices are found at 1× (nearest zoom commutes with a per-pixel
    palette lookup). After the first, each frame draws only the rectangle that changed (:func:`gif_piece`),
    over the last one (disposal 1); on grey data its unchanged pixels are TRANSPARENT when few changed.
    Worker processes zoom the pieces and run Pillow's LZW encoder while this thread computes the chain;
    the pieces are joined in order under one header. ``whole_frames``: every frame whole, as before
    differencing (the benchmark's baseline)."""
    from PIL import Image

    out = tmp_dir / "out.gif"
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ExportError("no frames to write")
    f0 = first[1]
    grey = isinstance(f0, Mosaic) and f0.grey and opts.grey
    if grey:
        palette, quantizer = _grey_palette(), None
    else:
        rgb0 = f0.small if isinstance(f0, Mosaic) and not f0.grey else as_rgb(f0)
        quantizer = Image.fromarray(rgb0).quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        palette = np.zeros((256, 3), np.uint8)
        pal = np.frombuffer(bytes(quantizer.getpalette() or []), np.uint8)[:768].reshape(-1, 3)
        palette[: len(pal)] = pal

    def quantize(rgb: np.ndarray) -> np.ndarray:
        return np.asarray(
            Image.fromarray(np.ascontiguousarray(rgb)).quantize(palette=quantizer, dither=Image.Dither.NONE)
        )

    def indices(f) -> tuple[np.ndarray, np.ndarray, int]:
        """(band indices at full resolution, grid indices at 1×, zoom) of a frame."""
        if not isinstance(f, Mosaic):
            q = quantize(f)
            return q[:0], q, 1
        patch = f.patch()
        width = f.size[1]
        if grey:
            small = _GREY_INDEX[f.small]
            patch_idx = None if patch is None else _grey_patch_indices(patch)
        else:
            small = quantize(f.small if not f.grey else np.repeat(f.small[..., None], 3, axis=2))
            patch_idx = None if patch is None else quantize(patch)
        if patch_idx is None:
            return np.zeros((0, width), np.uint8), small, f.scale
        black = int(_GREY_INDEX[0]) if grey else int(quantize(np.zeros((1, 1, 3), np.uint8))[0, 0])
        band = np.full((patch_idx.shape[0], width), black, np.uint8)
        band[:, : patch_idx.shape[1]] = patch_idx
        return band, small, f.scale

    height, width = f0.size if isinstance(f0, Mosaic) else f0.shape[:2]
    n_pixels = height * width
    pending: collections.deque = collections.deque()
    encoder = _gif_encoder(n_pixels * n_frames)
    cancel = True
    with open(out, "wb") as fh:
        fh.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, 0, 0) + palette.tobytes())
        fh.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop for ever
        n = 0

        def write_oldest() -> None:
            i, piece, fut = pending.popleft()
            # Delays in 1/100 s, rounded so that they add up to the frame rate; 2 is the least that
            # browsers honour. Disposal 1: the next frame draws over this one.
            delay = max(2, round(100 * (i + 1) / opts.fps) - round(100 * i / opts.fps))
            flags = 0x04 | (0x01 if piece.transparent else 0)
            fh.write(b"\x21\xf9\x04" + struct.pack("<BHB", flags, delay, TRANSPARENT) + b"\x00")
            try:
                data = fut.result()
            except RuntimeError as e:  # a worker process died
                raise ExportError(f"GIF encoding failed: {e}") from None
            h, w = piece.size
            fh.write(b"\x2c" + struct.pack("<HHHHB", piece.left, piece.top, w, h, 0) + b"\x08" + data + b"\x00")

        try:
            prev = None
            for _, f in itertools.chain([first], frames):
                band, small, scale = indices(f)
                if band.shape[0] + small.shape[0] * scale != height or small.shape[1] * scale != width:
                    raise ExportError("every frame of an animation must have the same size")
                if grey and opts.gif_hold and prev is not None and not whole_frames:
                    small = hold_greys(small, prev[1], opts.gif_hold)
                piece = gif_piece(band, small, scale, None if whole_frames else prev, transparency=grey)
                prev = (band, small)
                pending.append((n, piece, encoder.encode(piece.band, piece.small, piece.scale)))
                n += 1
                while pending and (pending[0][2].done() or len(pending) > 16):
                    write_oldest()
            while pending:
                write_oldest()
            cancel = False
        finally:
            encoder.close(cancel=cancel)
        fh.write(b"\x3b")
    return out


def _write_apng(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    from PIL import Image

    out = tmp_dir / "out.png"
    images = [Image.fromarray(as_rgb(f)) for _, f in frames]
    if not images:
        raise ExportError("no frames to write")
    images[0].save(
        out,
        format="PNG",
        save_all=True,
        append_images=images[1:],
        duration=max(1, round(1000 / opts.fps)),
        loop=0,
        compress_level=PNG_LEVEL,
    )
    return out


_X264 = {"preset": "ultrafast", "crf": "17"}
_Y_OF_GREY = np.rint(16 + np.arange(256) * (219 / 255)).astype(np.uint8)  # BT.601 limited range


def _yuv420(frame: Mosaic, height: int, width: int) -> np.ndarray:
    """A grey Mosaic → one (height·3/2)×width yuv420p buffer (BT.601, limited range), without RGB; the
    label's band (black, its patch converted on its own) above the grid."""
    bh = frame.band_height
    gh, gw = frame.grid_size
    buf = np.empty((height * 3 // 2, width), np.uint8)
    y = buf[:height]
    if (bh + gh, gw) != (height, width):
        y[:] = 16
    y[:bh] = 16
    zoom(_Y_OF_GREY[frame.small], frame.scale, out=y[bh : bh + gh, :gw])
    buf[height:] = 128
    u = buf[height:].reshape(-1)[: (height // 2) * (width // 2)].reshape(height // 2, width // 2)
    v = buf[height:].reshape(-1)[(height // 2) * (width // 2) :].reshape(height // 2, width // 2)
    patch = frame.patch()
    if patch is not None:
        ph, pw = patch.shape[0] & ~1, patch.shape[1] & ~1  # whole chroma blocks only (the band is even)
        rgb = patch[:ph, :pw].astype(np.float32)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        y[:ph, :pw] = np.clip(np.rint(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255), 0, 255)
        rb = rgb.reshape(ph // 2, 2, pw // 2, 2, 3).mean(axis=(1, 3))
        r, g, b = rb[..., 0], rb[..., 1], rb[..., 2]
        u[: ph // 2, : pw // 2] = np.clip(np.rint(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255), 0, 255)
        v[: ph // 2, : pw // 2] = np.clip(np.rint(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255), 0, 255)
    return buf


def _write_video(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    """MP4 (H.264, libx264 ultrafast, CRF 17) or WebM (VP9 realtime) through PyAV, encoded in a thread
    beside the producer; grey frames go to the encoder as luma directly."""
    try:
        import av
    except ImportError:
        raise ExportError("MP4/WebM export needs PyAV (pip install av)") from None

    out = tmp_dir / f"out.{opts.fmt}"
    codec = "libx264" if opts.fmt == "mp4" else "libvpx-vp9"
    container = av.open(str(out), "w")
    state: dict = {}

    def encode(f) -> None:
        stream = state.get("stream")
        size = f.size if isinstance(f, Mosaic) else f.shape[:2]
        if stream is None:
            h, w = size
            stream = state["stream"] = container.add_stream(codec, rate=Fraction(opts.fps).limit_denominator(1000))
            stream.width, stream.height = w + (w % 2), h + (h % 2)  # yuv420p needs even sizes
            stream.pix_fmt = "yuv420p"
            stream.options = (
                dict(_X264) if codec == "libx264" else {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
            )
            # One core is the producer's (the chain); on 2 cores x264 in one thread used 18 % less CPU.
            stream.codec_context.thread_count = max(1, (os.cpu_count() or 2) - 1)
        if size[0] > stream.height or size[1] > stream.width or size[0] + 1 < stream.height:
            raise ExportError("every frame of an animation must have the same size")
        if isinstance(f, Mosaic) and f.grey:
            vf = av.VideoFrame.from_ndarray(_yuv420(f, stream.height, stream.width), format="yuv420p")
        else:
            rgb = as_rgb(f)
            if rgb.shape[0] != stream.height or rgb.shape[1] != stream.width:
                rgb = np.pad(rgb, ((0, stream.height - rgb.shape[0]), (0, stream.width - rgb.shape[1]), (0, 0)))
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in stream.encode(vf):
            container.mux(packet)

    try:
        _encode_beside(frames, encode)
        for packet in state["stream"].encode():
            container.mux(packet)
    finally:
        container.close()
    return out


def _write_pngs(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    from PIL import Image

    folder = tmp_dir / "frames"
    folder.mkdir()
    n = 0
    for t, f in frames:
        Image.fromarray(as_rgb(f)).save(folder / f"frame_{t:06d}.png", compress_level=PNG_LEVEL)
        n += 1
    if not n:
        raise ExportError("no frames to write")
    return folder


MAX_FRAMES = 100_000


def check_steps(steps) -> list[int]:
    """The steps of an export, checked: at least one, whole numbers ≥ 0, at most MAX_FRAMES; sorted, each once."""
    steps = list(steps)
    if not steps:
        raise ExportError("no steps to export")
    if len(steps) > MAX_FRAMES:
        raise ExportError(f"at most {MAX_FRAMES:,} frames per export, got {len(steps):,}")
    if any(not isinstance(t, int | np.integer) or t < 0 for t in steps):
        raise ExportError("steps are whole numbers ≥ 0")
    return sorted({int(t) for t in steps})


def export_session(
    session,
    steps: list[int],
    out: str | os.PathLike,
    opts: ExportOptions,
    *,
    frames: Iterator[tuple[int, np.ndarray]] | None = None,
    points: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    inputs=(),
) -> Path:
    """Write ``steps`` of a :class:`~kgn_gui.core.chain.session.ChainSession` to ``out`` in ``opts.fmt``: the one
    export entry point of ``kgn export`` and the window. Steps the session has reached come from its
    timeline (what the window showed, noise changes included); later ones are computed on from its head
    without changing it. An image model's frames are its grid (or one chain); a points model's (D = 1 or 2)
    are its Points view drawn by :class:`~kgn_gui.core.picture.render.PointsPicture` at ``opts.size`` × ``opts.scale``,
    with ``points`` (M×D, or None: unknown) as its training points. ``frames``: (t, H×W×3 uint8) pictures
    drawn elsewhere (the whole window), in step order; then only the encoding happens here. It owns the step check, the frame
    cap, grey detection (one-channel images get the 248-grey GIF palette) and torch's thread budget beside
    the encoder threads. ``inputs``: the files the export reads; the output may be none of them. Returns the
    path written (the format's suffix added when missing)."""
    steps = check_steps(steps)
    opts = replace(opts, grey=frames is None and len(session.shape) == 3 and session.shape[0] == 1)
    opts.validate()
    if frames is not None:
        source = frames
    elif len(session.shape) == 3:
        if opts.size is not None:
            raise ExportError("an image model's frames are sized by the scale; a picture size is for points models")
        source = session_frames(session, steps, opts)
    else:
        source = points_frames(session, steps, opts, points)
    with torch_threads_beside_encoders():
        return write_frames(source, len(steps), out, opts, progress=progress, cancelled=cancelled, inputs=inputs)


def export_chain(
    model,
    spec,
    cfg: ChainConfig,
    steps: list[int],
    out: str | os.PathLike,
    opts: ExportOptions,
    *,
    start_array: np.ndarray | None = None,
    points: np.ndarray | None = None,
    progress=None,
    cancelled=None,
    inputs=(),
    lab=None,
) -> Path:
    """A new chain of ``model`` from its start (with the core.lab.Lab ``lab``: a condition, live edits),
    exported with :func:`export_session` (``points``: a points model's training points). Returns the path."""
    from .chain.session import ChainSession

    opts.validate()
    _check_target(target_path(out, opts.fmt), opts.fmt, inputs)  # before the chain's memory is taken
    session = ChainSession(
        model, spec.shape, spec.value_range, cfg, start_array=start_array, lab=None if lab is None else lab.copy()
    )
    return export_session(
        session, steps, out, opts, points=points, progress=progress, cancelled=cancelled, inputs=inputs
    )


def read_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """Decode an exported file (any of FORMATS) back into H×W×3 uint8 frames (for checks and tests)."""
    from PIL import Image, ImageSequence

    p = Path(path)
    if p.is_dir():
        return [np.asarray(Image.open(f).convert("RGB")) for f in sorted(p.glob("frame_*.png"))]
    if p.suffix.lower() in (".gif", ".png"):
        with Image.open(p) as im:
            return [np.asarray(fr.convert("RGB")) for fr in ImageSequence.Iterator(im)]
    import av

    with av.open(str(p)) as c:
        return [fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]


def frame_count_duration(n_frames: int, fps: float) -> str:
    s = n_frames / fps
    return f"{n_frames} frames, {s:.1f} s at {fps:g} fps" if math.isfinite(s) else f"{n_frames} frames"


def session_states(session, steps: list[int], back: int = 0):
    """(t, x_t, history) for each of ``steps`` (sorted) of a live :class:`~kgn_gui.core.chain.session.ChainSession`:
    steps already reached come from its timeline (exactly what the window showed, noise changes included);
    later ones are computed on from its last state with its current step map, without touching the session.
    ``history(s)`` gives the states of any step t − ``back`` ≤ s ≤ t (for trails and cobwebs)."""
    import torch

    t_max = session.t_max
    reached: dict[int, np.ndarray] = {}  # read from the timeline, the last back + 1 asked for
    recent: dict[int, np.ndarray] = {}  # computed past t_max, the last back + 1

    def history(s: int) -> np.ndarray:
        if s > t_max:
            return recent[s]
        if s not in reached:
            reached[s] = session.state(s)
        return reached[s]

    x = t_x = chain = None
    for t in sorted(steps):
        for kept in (reached, recent):
            for s in [s for s in kept if s < t - back]:
                del kept[s]
        if t <= t_max:
            yield t, history(t), history
            continue
        if x is None:
            x, t_x = torch.from_numpy(session.state(t_max).copy()).to(session.device), t_max
            chain = session.timeline.chain_at(t_max)
        while t_x < t:
            x = chain.step(x, t_x)
            t_x += 1
            if t - t_x <= back:
                recent[t_x] = x.cpu().numpy()
        yield t, recent[t], history


def session_frames(session, steps: list[int], opts: ExportOptions) -> Iterator[tuple[int, Mosaic]]:
    """An image model's frames (:func:`mosaic`) from a live session (:func:`session_states`)."""
    shape, vr = session.shape, session.value_range
    for t, x, _ in session_states(session, steps):
        yield t, mosaic(x, shape, vr, t, opts)


def check_points_options(shape: tuple[int, ...], n_chains: int, opts: ExportOptions) -> None:
    """What a points model's export (shape (1,) or (2,)) can be asked: ExportError, one line, for a model of
    another kind, a chain on a 2-D model (its export draws every chain; in 1-D the chain picks the cobweb) or
    a chain that is not there."""
    if len(shape) != 1 or shape[0] not in (1, 2):
        raise ExportOptionError("only image models and 1-D or 2-D points models can be exported as animations")
    if opts.chain is not None:
        if shape[0] == 2:
            raise ExportOptionError(
                "a 2-D points export draws every chain; a chain is chosen for the cobweb of 1-D models"
            )
        if not 0 <= opts.chain < n_chains:
            raise ExportOptionError(f"there is no chain {opts.chain} (0 … {n_chains - 1})")


def points_picture(session, opts: ExportOptions, points: np.ndarray | None = None) -> PointsPicture:
    """The :class:`~kgn_gui.core.picture.render.PointsPicture` of a points session (D = 1 or 2) for ``opts``: its size
    (default POINTS_SIZE) and scale; in 1-D ``opts.chain`` is the cobweb's chain. ExportError, one line, for a
    model of another kind or a chain that is not there."""
    check_points_options(session.shape, session.n, opts)
    if points is not None and np.asarray(points).reshape(len(points), -1).shape[1] != session.D:
        points = None  # training points of another dimension: unknown, as in the window
    return PointsPicture(
        session.model,
        session.value_range,
        session.D,
        points,
        size=opts.size or POINTS_SIZE,
        scale=opts.scale,
        cobweb_chain=opts.chain or 0,
    )


def points_frames(
    session, steps: list[int], opts: ExportOptions, points: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """A points model's frames: its :func:`points_picture` at each step, the step label in a band above."""
    picture = points_picture(session, opts, points)
    back = COBWEB_STEPS if session.D == 1 else TRAIL
    for t, x, history in session_states(session, steps, back=back):
        frame = picture.draw(x, t, history)
        yield t, with_label(frame, f"t = {t}") if opts.overlay else frame


def export_states(
    model,
    spec,
    cfg: ChainConfig,
    steps: list[int],
    out: str | os.PathLike,
    *,
    start_array: np.ndarray | None = None,
    meta: dict | None = None,
    states=None,
    inputs=(),
    lab=None,
) -> Path:
    """The chain's states at ``steps`` to an .npz: ``states`` (len(steps)×N×D float32), ``steps``,
    ``shape`` (one sample's shape), ``value_range`` and ``meta`` (a JSON string: chain settings, model
    name, package version). ``states``, if given, is a callable t → N×D (e.g. a live session's); else
    the chain is recomputed from its start (with ``lab``, a core.lab.Lab). ``inputs``: the files it reads; the output may be none of them.
    Written atomically; loads with allow_pickle=False."""
    import json

    from .._version import __version__

    if not steps:
        raise ExportError("no steps to export")
    path = Path(out)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    _check_target(path, "npz", inputs)
    steps = sorted(set(steps))
    if states is not None:
        arr = np.stack([np.asarray(states(t), np.float32) for t in steps])
    else:
        got = dict(run_chain(model, spec, cfg, max(steps), start_array=start_array, keep=set(steps), lab=lab))
        arr = np.stack([got[t] for t in steps]).astype(np.float32)
    info = {"chain": cfg.to_dict(), "version": __version__, **(meta or {})}
    if lab is not None and not lab.empty:
        info["lab"] = lab.to_dict()
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                states=arr,
                steps=np.asarray(steps, np.int64),
                shape=np.asarray(spec.shape),
                value_range=np.asarray(spec.value_range, np.float32),
                meta=np.asarray(json.dumps(info)),
            )
    except WriteError as e:
        raise ExportError(str(e)) from None
    return path
