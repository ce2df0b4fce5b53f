"""Frames of a chain → GIF, APNG, MP4 (H.264), WebM (VP9) or a folder of PNG frames (no Qt).

Frames are recomputed deterministically from (model, start, noise, ε, seed), so any step range can be
exported whether or not a window ever showed it. Every output is written under a temporary name in
the target's folder and renamed at the end: a cancelled or failed export leaves nothing behind.

GIF and APNG use Pillow (GIF frames share one palette, built once from the first frame with the fast
octree quantizer and no dithering). MP4 and WebM use PyAV, whose wheels carry FFmpeg with libx264
(GPL) and libvpx.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .chain import ChainConfig, run_chain
from .render import states_to_grid

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


def compose_frame(x: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float], t: int,
                  opts: ExportOptions) -> np.ndarray:
    """One H×W×3 uint8 frame: the grid (or one chain) at step t, zoomed, with the step overlay."""
    if len(shape) != 3:
        raise ExportError("only image models can be exported as animations")
    if opts.chain is not None:
        if not 0 <= opts.chain < len(x):
            raise ExportError(f"there is no chain {opts.chain} (0 … {len(x) - 1})")
        mosaic = states_to_grid(x[opts.chain:opts.chain + 1], shape, value_range, cols=1, pad=0)
    else:
        mosaic = states_to_grid(x[: opts.max_tiles], shape, value_range)
    if mosaic.ndim == 2:
        mosaic = np.repeat(mosaic[..., None], 3, axis=2)
    s = opts.scale
    frame = np.ascontiguousarray(np.repeat(np.repeat(mosaic, s, axis=0), s, axis=1))
    if opts.overlay:
        _overlay(frame, f"t = {t}")
    return frame


def _overlay(frame: np.ndarray, text: str) -> None:
    """Draw ``text`` in the top-left corner on a black box, sized to the frame (in place)."""
    from PIL import Image, ImageDraw, ImageFont

    size = max(10, min(frame.shape[0] // 22, 28))
    try:
        font = ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError):
        font = ImageFont.load_default()
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    w, h = min(frame.shape[1], right + 2 * (size // 3)), min(frame.shape[0], bottom + size // 3)
    box = Image.new("RGB", (w, h), (0, 0, 0))
    ImageDraw.Draw(box).text((size // 3, size // 6), text, fill=(255, 209, 102), font=font)
    frame[:h, :w] = np.asarray(box)


def chain_frames(model, spec, cfg: ChainConfig, steps: list[int], opts: ExportOptions, *,
                 start_array: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Recompute the chain from its start and yield (t, frame) for each requested step."""
    want = set(steps)
    for t, x in run_chain(model, spec, cfg, max(steps), start_array=start_array, keep=want):
        if t in want:
            yield t, compose_frame(x, spec.shape, spec.value_range, t, opts)


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


def write_frames(frames: Iterator[tuple[int, np.ndarray]], n_frames: int, out: str | os.PathLike,
                 opts: ExportOptions, progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Path:
    """Encode frames to ``out`` (atomically). progress(done, total) after each frame; cancelled() is
    polled before each frame and, when it returns True, the partial output is removed and
    ExportCancelled raised. Returns the path written."""
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
        if opts.fmt == "png":
            if path.exists():
                path.rmdir()
            os.replace(produced, path)
        else:
            os.replace(produced, path)
        return path
    except ExportError:
        raise
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _write_gif(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    from PIL import Image

    out = tmp_dir / "out.gif"
    palette = None
    images = []
    for _, f in frames:
        if opts.grey:
            images.append(_grey_indexed(f))
            continue
        im = Image.fromarray(f)
        if palette is None:  # colour data: one palette for every frame, from the first one
            palette = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        images.append(im.quantize(palette=palette, dither=Image.Dither.NONE))
    if not images:
        raise ExportError("no frames to write")
    images[0].save(out, save_all=True, append_images=images[1:], duration=max(10, round(1000 / opts.fps)),
                   loop=0, optimize=False, disposal=1)
    return out


_OVERLAY_RGB = np.array([255, 209, 102], np.float32)


def _grey_palette_list() -> list[int]:
    """248 evenly spaced greys (error ≤ 0.5 level) then 8 shades of the overlay colour."""
    greys = [round(i * 255 / 247) for i in range(248)]
    pal = [c for g in greys for c in (g, g, g)]
    for k in range(1, 9):
        pal += [round(float(c) * k / 8) for c in _OVERLAY_RGB]
    return pal


def _grey_indexed(f: np.ndarray):
    """An RGB frame of grey data (plus the coloured overlay) as a "P" image on the fixed palette, mapped
    exactly in numpy (Pillow's palette lookup rounds to a coarse colour cube: errors of 4 levels)."""
    from PIL import Image

    g = f[..., 0].astype(np.float32)
    idx = np.rint(g * (247 / 255)).astype(np.uint8)
    colour = (f[..., 0] != f[..., 1]) | (f[..., 1] != f[..., 2])
    if colour.any():
        k = np.clip(np.rint(f[colour][:, 0].astype(np.float32) / 255 * 8), 1, 8).astype(np.uint8)
        idx[colour] = 247 + k
    im = Image.fromarray(idx, mode="P")
    im.putpalette(_grey_palette_list())
    return im


def _write_apng(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    from PIL import Image

    out = tmp_dir / "out.png"
    images = [Image.fromarray(f) for _, f in frames]
    if not images:
        raise ExportError("no frames to write")
    images[0].save(out, format="PNG", save_all=True, append_images=images[1:],
                   duration=max(1, round(1000 / opts.fps)), loop=0)
    return out


def _write_video(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
    try:
        import av
    except ImportError:
        raise ExportError("MP4/WebM export needs PyAV (pip install av)") from None
    from fractions import Fraction

    out = tmp_dir / f"out.{opts.fmt}"
    codec = "libx264" if opts.fmt == "mp4" else "libvpx-vp9"
    container = av.open(str(out), "w")
    stream = None
    n = 0
    try:
        for _, f in frames:
            if stream is None:
                h, w = f.shape[:2]
                stream = container.add_stream(codec, rate=Fraction(opts.fps).limit_denominator(1000))
                stream.width, stream.height = w + (w % 2), h + (h % 2)  # yuv420p needs even sizes
                stream.pix_fmt = "yuv420p"
                stream.options = ({"preset": "ultrafast", "crf": "17"} if codec == "libx264"
                                  else {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"})
            if f.shape[0] != stream.height or f.shape[1] != stream.width:
                f = np.pad(f, ((0, stream.height - f.shape[0]), (0, stream.width - f.shape[1]), (0, 0)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
            n += 1
        if stream is None:
            raise ExportError("no frames to write")
        for packet in stream.encode():
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
        Image.fromarray(f).save(folder / f"frame_{t:06d}.png")
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
            yield t, compose_frame(session.state(t), shape, vr, t, opts)
            continue
        if x is None:
            x, t_x = torch.from_numpy(session.state(t_max).copy()).to(session.device), t_max
        chain = session.timeline.chain_at(t_max)
        while t_x < t:
            x = chain.step(x, t_x)
            t_x += 1
        yield t, compose_frame(x.cpu().numpy(), shape, vr, t, opts)


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
