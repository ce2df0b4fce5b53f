"""Frames of a chain → GIF, APNG, MP4 (H.264), WebM (VP9) or a folder of PNG frames (no Qt).

Frames are recomputed deterministically from (model, start, noise, ε, seed), so any step range can be
exported whether or not a window ever showed it. Every output is written under a temporary name in
the target's folder and renamed at the end: a cancelled or failed export leaves nothing behind.

Frames travel small (:class:`Mosaic`: the 1× mosaic, the zoom and the label) and are expanded by each
encoder in its own thread, while the chain computes the next ones. GIF, MP4 and WebM use PyAV, whose
wheels carry FFmpeg with libx264 (GPL) and libvpx; GIF frames share one palette (grey data: 248 exact
greys; colour: Pillow's octree palette of the first frame, no dithering). APNG and PNG use Pillow.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import queue
import shutil
import struct
import tempfile
import threading
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .chain import ChainConfig, run_chain
from .render import states_to_grid

_OVERLAY_RGB = np.array([255, 209, 102], np.float32)  # the step label's amber
FORMATS = ("gif", "apng", "mp4", "webm", "png")
SUFFIX = {"gif": ".gif", "apng": ".png", "mp4": ".mp4", "webm": ".webm", "png": ""}


class ExportError(RuntimeError):
    """An export that cannot be done; the message says why."""


class ExportCancelled(ExportError):
    """The export was cancelled; nothing was written."""


def parse_steps(text: str) -> list[int]:
    """"from:to:every" (to inclusive), "from:to", or a comma list "0,5,10" → sorted step list."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            a, b = parts[0], parts[1]
            k = parts[2] if len(parts) > 2 else 1
            if a < 0 or b < a or k < 1:
                raise ValueError
            return list(range(a, b + 1, k))
        steps = sorted({int(p) for p in text.split(",") if p.strip()})
        if not steps or steps[0] < 0:
            raise ValueError
        return steps
    except ValueError:
        raise ExportError(f"cannot read steps {text!r}: use FROM:TO:EVERY (e.g. 0:300:1) or 0,10,30") from None


@dataclass
class ExportOptions:
    """fmt: one of FORMATS. fps: frames per second. scale: whole-number nearest-neighbour zoom.
    overlay: draw "t = …" in a corner. chain: export only this chain (enlarged), else the grid of up to
    ``max_tiles`` chains."""

    fmt: str = "gif"
    fps: float = 20.0
    scale: int = 4
    overlay: bool = True
    chain: int | None = None
    max_tiles: int = 256
    grey: bool = False  # grey data: GIFs then use a fixed palette of 248 greys + 8 overlay shades

    def validate(self) -> None:
        if self.fmt not in FORMATS:
            raise ExportError(f"unknown format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        if not 0.1 <= self.fps <= 240:
            raise ExportError("frames per second must be in [0.1, 240]")
        if not isinstance(self.scale, int) or not 1 <= self.scale <= 32:
            raise ExportError("scale must be a whole number in [1, 32]")

    def to_dict(self) -> dict:
        return asdict(self)


def zoom(a: np.ndarray, s: int, out: np.ndarray | None = None) -> np.ndarray:
    """Nearest-neighbour zoom of an H×W or H×W×C array by a whole factor, in one pass, into ``out``
    (an (H·s)×(W·s)… array, e.g. a view of a larger buffer) or a new array."""
    h, w = a.shape[:2]
    rest = a.shape[2:]
    if out is not None and not out.flags.c_contiguous:  # a strided view cannot be reshaped in place
        out[...] = zoom(a, s)
        return out
    if out is None:
        out = np.empty((h * s, w * s, *rest), a.dtype)
    # Columns with np.repeat, then whole rows by broadcasting: 5–7× faster than broadcasting both at
    # once (whose innermost loop is only s long).
    out.reshape(h, s, w * s, *rest)[...] = np.repeat(a, s, axis=1)[:, None]
    return out


class Mosaic:
    """One frame kept small: the 1× mosaic (grey H×W or colour H×W×3 uint8), the zoom and the overlay
    label. Each encoder expands it the way it needs (grey → palette indices or luma directly, with no
    RGB detour); :meth:`rgb` gives the full picture."""

    __slots__ = ("small", "scale", "label")

    def __init__(self, small: np.ndarray, scale: int, label: str | None):
        self.small, self.scale, self.label = small, scale, label

    @property
    def size(self) -> tuple[int, int]:
        return self.small.shape[0] * self.scale, self.small.shape[1] * self.scale

    @property
    def grey(self) -> bool:
        return self.small.ndim == 2

    def patch(self) -> np.ndarray | None:
        """The overlay's RGB patch (drawn at the frame's top-left), or None."""
        return None if self.label is None else _label_patch(self.label, *self.size)

    def rgb(self) -> np.ndarray:
        small = self.small if self.small.ndim == 3 else np.repeat(self.small[..., None], 3, axis=2)
        frame = zoom(small, self.scale)
        return frame if self.label is None else stamp(frame, self.label)


def stamp(frame: np.ndarray, label: str) -> np.ndarray:
    """Draw the step label into an H×W×3 frame's top-left corner (in place); returns the frame."""
    patch = _label_patch(label, frame.shape[0], frame.shape[1])
    frame[:patch.shape[0], :patch.shape[1]] = patch
    return frame


def as_rgb(frame) -> np.ndarray:
    return frame.rgb() if isinstance(frame, Mosaic) else frame


def mosaic(x: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float], t: int,
           opts: ExportOptions) -> Mosaic:
    """The grid (or one chain) at step t as a :class:`Mosaic`."""
    if len(shape) != 3:
        raise ExportError("only image models can be exported as animations")
    if opts.chain is not None:
        if not 0 <= opts.chain < len(x):
            raise ExportError(f"there is no chain {opts.chain} (0 … {len(x) - 1})")
        small = states_to_grid(x[opts.chain:opts.chain + 1], shape, value_range, cols=1, pad=0)
    else:
        small = states_to_grid(x[: opts.max_tiles], shape, value_range)
    return Mosaic(small, opts.scale, f"t = {t}" if opts.overlay else None)


def compose_frame(x: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float], t: int,
                  opts: ExportOptions) -> np.ndarray:
    """One H×W×3 uint8 frame: the grid (or one chain) at step t, zoomed, with the step overlay."""
    return mosaic(x, shape, value_range, t, opts).rgb()


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError):
        return ImageFont.load_default()


def _label_patch(text: str, height: int, width: int) -> np.ndarray:
    """``text`` in amber on a black box sized to the frame: an h×w×3 uint8 patch for its top-left."""
    from PIL import Image, ImageDraw

    size = max(10, min(height // 22, 28))
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    w, h = min(width, right + 2 * (size // 3)), min(height, bottom + size // 3)
    box = Image.new("RGB", (w, h), (0, 0, 0))
    ImageDraw.Draw(box).text((size // 3, size // 6), text, fill=tuple(int(c) for c in _OVERLAY_RGB), font=font)
    return np.asarray(box)


def chain_frames(model, spec, cfg: ChainConfig, steps: list[int], opts: ExportOptions, *,
                 start_array: np.ndarray | None = None) -> Iterator[tuple[int, Mosaic]]:
    """Recompute the chain from its start and yield (t, frame) for each requested step."""
    want = set(steps)
    for t, x in run_chain(model, spec, cfg, max(steps), start_array=start_array, keep=want):
        if t in want:
            yield t, mosaic(x, spec.shape, spec.value_range, t, opts)


def target_path(out: str | os.PathLike, fmt: str) -> Path:
    """The output path, with the format's suffix added when it has none."""
    p = Path(out)
    suf = SUFFIX[fmt]
    return p if (not suf or p.suffix.lower() == suf) else p.with_name(p.name + suf)


def _check_target(path: Path, fmt: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ExportError(f"cannot write {path}: the folder {parent} is not writable")
    if fmt == "png" and path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ExportError(f"{path} exists and is not an empty folder")


def write_frames(frames: Iterator[tuple[int, object]], n_frames: int, out: str | os.PathLike,
                 opts: ExportOptions, progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Path:
    """Encode frames (each a :class:`Mosaic` or an H×W×3 uint8 array) to ``out``, atomically.
    progress(done, total) after each frame; cancelled() is polled before each frame and, when it
    returns True, the partial output is removed and ExportCancelled raised. Returns the path written.

    The frames are produced in the calling thread (a chain's steps release the GIL) while encoder
    threads (PyAV releases it too) turn earlier frames into bytes, so both cores work."""
    opts.validate()
    path = target_path(out, opts.fmt)
    _check_target(path, opts.fmt)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        writer = {"gif": _write_gif, "apng": _write_apng, "mp4": _write_video, "webm": _write_video,
                  "png": _write_pngs}[opts.fmt]

        def guarded():
            for i, item in enumerate(frames):
                if cancelled is not None and cancelled():
                    raise ExportCancelled("export cancelled; nothing was written")
                yield item
                if progress is not None:
                    progress(i + 1, n_frames)

        produced = writer(guarded(), tmp_dir, opts)
        if opts.fmt == "png" and path.exists():
            path.rmdir()
        os.replace(produced, path)
        return path
    except ExportError:
        raise
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def encoder_threads() -> int:
    """GIF encoder threads beside the producing thread: one per core, 2 … 4 (the producer mostly
    waits on the chain's matrix products, which release the GIL)."""
    return max(2, min(4, os.cpu_count() or 2))


def _fan_out(frames, lanes: int, work: Callable[[int, int, object], None]) -> int:
    """Call work(lane, i, frame) for every frame in ``lanes`` threads, each taking the next frame
    when it is free (with one lane, in order), while this thread produces them. Returns the number
    of frames; the first error in a lane, or in the producer, stops all and is raised here."""
    q: queue.Queue = queue.Queue(maxsize=2 * lanes + 2)
    failed: list[BaseException] = []

    def run(lane: int) -> None:
        while (item := q.get()) is not None:
            if not failed:
                try:
                    work(lane, *item)
                except BaseException as e:  # re-raised in the producer's thread
                    failed.append(e)

    threads = [threading.Thread(target=run, args=(k,), name=f"kgn-encode-{k}", daemon=True) for k in range(lanes)]
    for th in threads:
        th.start()
    n = 0
    try:
        for i, (_, frame) in enumerate(frames):
            if failed:
                break
            q.put((i, frame))
            n += 1
    except BaseException as e:
        failed.append(e)
    finally:
        for _ in threads:
            q.put(None)
        for th in threads:
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


def _grey_palette() -> np.ndarray:
    """256×3: 248 evenly spaced greys (error ≤ 0.5 level) then 8 shades of the overlay colour."""
    greys = np.rint(np.arange(248) * (255 / 247))
    pal = np.zeros((256, 3), np.uint8)
    pal[:248] = greys[:, None]
    pal[248:] = np.rint(_OVERLAY_RGB[None] * (np.arange(1, 9)[:, None] / 8))
    return pal


def _grey_indices(frame: Mosaic) -> np.ndarray:
    """A grey Mosaic → palette indices on :func:`_grey_palette`, mapped exactly at 1× then zoomed."""
    idx = zoom(_GREY_INDEX[frame.small], frame.scale)
    patch = frame.patch()
    if patch is not None:
        h, w = patch.shape[:2]
        region = _GREY_INDEX[patch[..., 0]]  # black box (and any grey) stays grey
        colour = (patch[..., 0] != patch[..., 1]) | (patch[..., 1] != patch[..., 2])
        shade = np.clip(np.rint(patch[..., 0].astype(np.float32) / 255 * 8), 1, 8).astype(np.uint8)
        idx[:h, :w] = np.where(colour, 247 + shade, region)
    return idx


def _gif_blocks(packet: bytes, lane_palette: list) -> bytes:
    """The image block (descriptor, local palette, LZW data) out of one GIF encoder packet, which may
    start with a file header whose global palette is remembered in ``lane_palette``. An image without
    its own palette gets the lane's as a local one when it differs from ours (set in lane_palette[1])."""
    p = memoryview(packet)
    i = 0
    if bytes(p[:4]) == b"GIF8":
        flags = p[10]
        i = 13
        if flags & 0x80:
            n = 3 << ((flags & 7) + 1)
            lane_palette[0] = bytes(p[i:i + n])
            i += n
    out = bytearray()
    while i < len(p):
        b = p[i]
        if b == 0x21:  # extension: our own graphic control blocks replace the encoder's
            i += 2
            while p[i]:
                i += p[i] + 1
            i += 1
        elif b == 0x2C:
            start = i
            flags = p[i + 9]
            i += 10
            local = b""
            if flags & 0x80:
                i += 3 << ((flags & 7) + 1)
            elif lane_palette[0] is not None and lane_palette[0] != lane_palette[1]:
                local = lane_palette[0]
            i += 1  # LZW minimum code size
            # The LZW data runs to the packet's end (FFmpeg puts one image in a packet); walking its
            # 255-byte sub-blocks in Python would cost more than the encoding.
            end = len(p) - 1 if p[-1] == 0x3B else len(p)
            if p[end - 1] != 0:
                while p[i]:
                    i += p[i] + 1
                end = i + 1
            i = end
            block = bytearray(p[start:i])
            if local:
                block[9] = (block[9] & 0x78) | 0x80 | ((len(local) // 3).bit_length() - 2)
                block[10:10] = local
            out += block
        elif b == 0x3B:
            break
        else:
            raise ExportError(f"unexpected GIF block 0x{b:02x} from the encoder")
    return bytes(out)


def _write_gif(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    """GIF: each frame's LZW stream is encoded on its own (no inter-frame transparency) by one of
    several threads with FFmpeg's encoder (PyAV releases the GIL, so they run beside each other and
    beside the chain's matrix products; Pillow's encoder is faster alone but holds the GIL and starves
    the chain), then all are joined under one header with one palette (grey data maps exactly onto 248
    greys; colour data shares the first frame's octree palette)."""
    import itertools

    import av
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
        quantizer = Image.fromarray(as_rgb(f0)).quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                                         dither=Image.Dither.NONE)
        palette = np.zeros((256, 3), np.uint8)
        pal = np.frombuffer(bytes(quantizer.getpalette() or []), np.uint8)[:768].reshape(-1, 3)
        palette[:len(pal)] = pal
    ours = palette.tobytes()
    height, width = (f0.size if isinstance(f0, Mosaic) else f0.shape[:2])
    lanes = encoder_threads()
    ctxs: list = [None] * lanes
    lane_pal = [[None, ours] for _ in range(lanes)]
    blocks: dict[int, bytes] = {}
    argb = np.concatenate([np.full((256, 1), 255, np.uint8), palette], axis=1)

    def encode(lane: int, i: int, f) -> None:
        if grey:
            idx = _grey_indices(f)
        else:
            idx = np.asarray(Image.fromarray(as_rgb(f)).quantize(palette=quantizer, dither=Image.Dither.NONE))
        if idx.shape != (height, width):
            raise ExportError("every frame of an animation must have the same size")
        ctx = ctxs[lane]
        if ctx is None:
            ctx = ctxs[lane] = av.CodecContext.create("gif", "w")
            ctx.width, ctx.height, ctx.pix_fmt = width, height, "pal8"
            ctx.time_base = Fraction(1, 100)
            ctx.options = {"gifflags": "-transdiff-offsetting"}  # every frame whole and on its own
        vf = av.VideoFrame.from_ndarray((np.ascontiguousarray(idx), argb), format="pal8")
        vf.pts = i
        blocks[i] = _gif_blocks(b"".join(bytes(pk) for pk in ctx.encode(vf)), lane_pal[lane])

    n = _fan_out(itertools.chain([first], frames), lanes, encode)
    if any(len(blocks.get(i, b"")) == 0 for i in range(n)):
        raise ExportError("the GIF encoder held back a frame")
    with open(out, "wb") as fh:
        fh.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, 0, 0) + ours)
        fh.write(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop for ever
        for i in range(n):
            # Delays in 1/100 s, rounded so that they add up to the frame rate; 2 is the least
            # that browsers honour.
            delay = max(2, round(100 * (i + 1) / opts.fps) - round(100 * i / opts.fps))
            fh.write(b"\x21\xF9\x04\x04" + struct.pack("<H", delay) + b"\x00\x00")
            fh.write(blocks.pop(i))
        fh.write(b"\x3B")
    return out


def _write_apng(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    from PIL import Image

    out = tmp_dir / "out.png"
    images = [Image.fromarray(as_rgb(f)) for _, f in frames]
    if not images:
        raise ExportError("no frames to write")
    images[0].save(out, format="PNG", save_all=True, append_images=images[1:],
                   duration=max(1, round(1000 / opts.fps)), loop=0, compress_level=PNG_LEVEL)
    return out


_Y_OF_GREY = np.rint(16 + np.arange(256) * (219 / 255)).astype(np.uint8)  # BT.601 limited range


def _yuv420(frame: Mosaic, height: int, width: int) -> np.ndarray:
    """A grey Mosaic → one (height·3/2)×width yuv420p buffer (BT.601, limited range), without RGB;
    the overlay's patch is converted on its own."""
    h0, w0 = frame.size
    buf = np.empty((height * 3 // 2, width), np.uint8)
    y = buf[:height]
    if (h0, w0) != (height, width):
        y[:] = 16
    zoom(_Y_OF_GREY[frame.small], frame.scale, out=y[:h0, :w0])
    buf[height:] = 128
    u = buf[height:].reshape(-1)[: (height // 2) * (width // 2)].reshape(height // 2, width // 2)
    v = buf[height:].reshape(-1)[(height // 2) * (width // 2):].reshape(height // 2, width // 2)
    patch = frame.patch()
    if patch is not None:
        ph, pw = patch.shape[0] & ~1, patch.shape[1] & ~1  # whole chroma blocks only
        rgb = patch[:ph, :pw].astype(np.float32)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        y[:ph, :pw] = np.clip(np.rint(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255), 0, 255)
        rb = rgb.reshape(ph // 2, 2, pw // 2, 2, 3).mean(axis=(1, 3))
        r, g, b = rb[..., 0], rb[..., 1], rb[..., 2]
        u[:ph // 2, :pw // 2] = np.clip(np.rint(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255), 0, 255)
        v[:ph // 2, :pw // 2] = np.clip(np.rint(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255), 0, 255)
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

    def encode(_lane: int, _i: int, f) -> None:
        stream = state.get("stream")
        size = f.size if isinstance(f, Mosaic) else f.shape[:2]
        if stream is None:
            h, w = size
            stream = state["stream"] = container.add_stream(codec, rate=Fraction(opts.fps).limit_denominator(1000))
            stream.width, stream.height = w + (w % 2), h + (h % 2)  # yuv420p needs even sizes
            stream.pix_fmt = "yuv420p"
            stream.options = ({"preset": "ultrafast", "crf": "17"} if codec == "libx264"
                              else {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"})
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
        _fan_out(frames, 1, encode)
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


def export_chain(model, spec, cfg: ChainConfig, steps: list[int], out: str | os.PathLike, opts: ExportOptions, *,
                 start_array: np.ndarray | None = None, progress=None, cancelled=None) -> Path:
    """Recompute a chain and write the requested steps to ``out`` in ``opts.fmt``. Returns the path."""
    opts.validate()
    opts.grey = len(spec.shape) == 3 and spec.shape[0] == 1
    if not steps:
        raise ExportError("no steps to export")
    if len(steps) > 100_000:
        raise ExportError("at most 100,000 frames per export")
    frames = chain_frames(model, spec, cfg, steps, opts, start_array=start_array)
    with torch_threads_beside_encoders():
        return write_frames(frames, len(steps), out, opts, progress=progress, cancelled=cancelled)


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


def session_frames(session, steps: list[int], opts: ExportOptions) -> Iterator[tuple[int, np.ndarray]]:
    """Frames from a live :class:`~kgn_gui.core.session.ChainSession`: steps already reached come from its
    timeline (exactly what the window showed, noise changes included); later ones are computed on from its
    last state with its current step map, without touching the session."""
    import torch

    shape, vr = session.shape, session.value_range
    t_max = session.t_max
    x = None
    t_x = None
    for t in sorted(steps):
        if t <= t_max:
            yield t, mosaic(session.state(t), shape, vr, t, opts)
            continue
        if x is None:
            x, t_x = torch.from_numpy(session.state(t_max).copy()).to(session.device), t_max
        chain = session.timeline.chain_at(t_max)
        while t_x < t:
            x = chain.step(x, t_x)
            t_x += 1
        yield t, mosaic(x.cpu().numpy(), shape, vr, t, opts)


def export_states(model, spec, cfg: ChainConfig, steps: list[int], out: str | os.PathLike, *,
                  start_array: np.ndarray | None = None, meta: dict | None = None, states=None) -> Path:
    """The chain's states at ``steps`` to an .npz: ``states`` (len(steps)×N×D float32), ``steps``,
    ``shape`` (one sample's shape), ``value_range`` and ``meta`` (a JSON string: chain settings, model
    name, package version). ``states``, if given, is a callable t → N×D (e.g. a live session's); else
    the chain is recomputed from its start. Written atomically; loads with allow_pickle=False."""
    import json

    from .. import __version__

    if not steps:
        raise ExportError("no steps to export")
    path = Path(out)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    _check_target(path, "npz")
    steps = sorted(set(steps))
    if states is not None:
        arr = np.stack([np.asarray(states(t), np.float32) for t in steps])
    else:
        got = dict(run_chain(model, spec, cfg, max(steps), start_array=start_array, keep=set(steps)))
        arr = np.stack([got[t] for t in steps]).astype(np.float32)
    info = {"chain": cfg.to_dict(), "version": __version__, **(meta or {})}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, states=arr, steps=np.asarray(steps, np.int64), shape=np.asarray(spec.shape),
                                value_range=np.asarray(spec.value_range, np.float32), meta=np.asarray(json.dumps(info)))
        os.replace(tmp, path)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
