"""The GIF encoder: one palette for all frames (grey data: 248 exact greys; colour: Pillow's octree palette of
the first frame, no dithering); after the first frame only the changed rectangle is drawn (gif_piece), and
grey ε-noise flicker within ``gif_hold`` levels is not sent again (hold_greys)."""

from __future__ import annotations

import collections
import itertools
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ExportError
from .mosaic import OVERLAY_RGB, Mosaic, as_rgb
from .options import ExportOptions

_GREY_INDEX = np.rint(np.arange(256) * (247 / 255)).astype(np.uint8)  # grey level → nearest of 248 greys


TRANSPARENT = 255  # the grey GIF palette's index for "unchanged since the last frame"


def _grey_palette() -> np.ndarray:
    """256×3: 248 evenly spaced greys (error ≤ 0.5 level), 7 shades of the label's amber, and index 255
    (black), the transparent index of frames after the first."""
    greys = np.rint(np.arange(248) * (255 / 247))
    pal = np.zeros((256, 3), np.uint8)
    pal[:248] = greys[:, None]
    pal[248:255] = np.rint(OVERLAY_RGB[None] * (np.arange(1, 8)[:, None] / 7))
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


# Frames a held pixel looks ahead when it must be redrawn (hold_greys): 16 took the issue-31 MNIST GIF from 3.36
# to 2.64 MB with the same bound (32: 2.63 MB); the buffer is 16 of the 1× index grids.
HOLD_AHEAD = 16


def hold_greys(ahead, shown: np.ndarray | None, hold: int) -> np.ndarray:
    """The grey indices to show for ``ahead[0]``, the true indices of a frame (``ahead``: K h × w arrays, that
    frame and the next K − 1): a pixel within ``hold`` levels of the one ``shown`` last frame (None: none yet) keeps
    it; any other is redrawn with the grey that stays within ``hold`` levels of its true index for the most
    frames ahead (the fewest redraws, so the fewest pixels sent), a multiple of 2·hold + 1 where one does (fewer
    distinct greys, so longer LZW strings). What is shown never strays more than ``hold`` levels from the true
    index, as when a redrawn pixel took its true grey; hold 0 is exact."""
    now = ahead[0]
    if hold <= 0 or (shown is not None and shown.shape != now.shape):
        return now.astype(np.uint8)
    if shown is None:
        out, redraw = np.empty(now.shape, np.int16), np.ones(now.shape, bool)
    else:
        out = shown.astype(np.int16)
        redraw = np.abs(now.astype(np.int16) - out) > hold
    if redraw.any():
        true = np.stack([a[redraw] for a in ahead]).astype(np.int16)
        out[redraw] = _longest_held(true, hold)
    return out.astype(np.uint8)


def _longest_held(true: np.ndarray, hold: int) -> np.ndarray:
    """For each column of ``true`` (K × n grey indices, frame by frame), a grey within ``hold`` of its first
    L values for the largest L (greedy from the first frame on: the fewest redraws over the frames seen)."""
    hi = np.maximum.accumulate(true, axis=0)
    lo = np.minimum.accumulate(true, axis=0)
    last = np.count_nonzero(hi - lo <= 2 * hold, axis=0) - 1  # ≥ 0: a spread that grows as frames are added
    cols = np.arange(true.shape[1])
    top, bottom = hi[last, cols] - hold, lo[last, cols] + hold  # the greys within hold of all of them
    top, bottom = np.maximum(top, 0), np.minimum(bottom, 247)
    mid = (top + bottom) // 2
    step = 2 * hold + 1
    coarse = (mid + hold) // step * step  # the multiple of step nearest mid (ties up)
    coarse = np.where(coarse > 247, coarse - step, coarse)
    return np.where((coarse >= top) & (coarse <= bottom), coarse, mid).astype(np.int16)


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


def write_gif(frames, tmp_dir: Path, opts: ExportOptions, n_frames: int = 0, whole_frames: bool = False) -> Path:
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

        hold = opts.gif_hold if grey and not whole_frames else 0
        ahead: collections.deque = collections.deque()  # (band, small, scale) not yet written, HOLD_AHEAD at most

        def sized(f):
            band, small, scale = indices(f)
            if band.shape[0] + small.shape[0] * scale != height or small.shape[1] * scale != width:
                raise ExportError("every frame of an animation must have the same size")
            return band, small, scale

        try:
            prev = None
            for f in itertools.chain((f for _, f in itertools.chain([first], frames)), [None]):
                if f is not None:
                    ahead.append(sized(f))
                    if hold and len(ahead) < HOLD_AHEAD:
                        continue
                while ahead and (f is None or len(ahead) >= (HOLD_AHEAD if hold else 1)):
                    band, small, scale = ahead[0]
                    if hold:
                        small = hold_greys([a[1] for a in ahead], None if prev is None else prev[1], hold)
                    ahead.popleft()
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
