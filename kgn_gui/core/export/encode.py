"""The encoders other than GIF: APNG and PNG frames (Pillow), MP4 (H.264) and WebM (VP9) through PyAV;
frames are expanded and encoded beside the chain's computing of the next ones."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..picture.render import zoom
from .mosaic import Mosaic, as_rgb
from .options import ExportOptions


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


def write_apng(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
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


def write_video(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
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


def write_pngs(frames, tmp_dir: Path, opts: ExportOptions) -> Path:
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
