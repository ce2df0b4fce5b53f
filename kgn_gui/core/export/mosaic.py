"""Frames that travel small: a Mosaic is the 1× mosaic of a step, its zoom and its label, expanded by each
encoder in its own thread; the step label sits in a band above the grid, never on a tile."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from ..chain.chain import ChainConfig, run_chain
from ..errors import ExportError
from ..picture.render import states_to_grid, zoom
from .options import ExportOptions

OVERLAY_RGB = np.array([255, 209, 102], np.float32)  # the step label's amber


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
    ImageDraw.Draw(box).text((size // 3, size // 6), text, fill=tuple(int(c) for c in OVERLAY_RGB), font=font)
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
    """Recompute the chain from its start (with the core.chain.lab.Lab ``lab``) and yield (t, frame) for each
    requested step."""
    want = set(steps)
    for t, x in run_chain(model, spec, cfg, max(steps), start_array=start_array, keep=want, lab=lab):
        if t in want:
            yield t, mosaic(x, spec.shape, spec.value_range, t, opts)
