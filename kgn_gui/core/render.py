"""Turn chain states into pictures (numpy + Pillow; no Qt)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .files import atomic_path


def to_uint8(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Values in [lo, hi] → uint8 0…255."""
    lo, hi = value_range
    u = (np.asarray(x, dtype=np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(u), 0, 255).astype(np.uint8)


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


def states_to_grid(
    x: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float], cols: int | None = None, pad: int = 1
) -> np.ndarray:
    """N×D image states → one H×W (grey) or H×W×3 (colour) uint8 mosaic, ``cols`` tiles a row
    (default: as square as possible), ``pad`` pixels of black between tiles."""
    C, H, W = shape
    n = x.shape[0]
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    imgs = to_uint8(x.reshape(n, C, H, W), value_range)
    out = np.zeros((rows * (H + pad) + pad, cols * (W + pad) + pad, C), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = pad + r * (H + pad), pad + c * (W + pad)
        out[y0 : y0 + H, x0 : x0 + W] = imgs[i].transpose(1, 2, 0)
    return out[..., 0] if C == 1 else out


def save_png(path: str | Path, rows: list[np.ndarray], labels: list[str] | None = None, scale: int = 2) -> Path:
    """Stack mosaics vertically (one per row), upscale by ``scale`` (nearest), label each row, save."""
    from PIL import Image, ImageDraw

    rows = [r if r.ndim == 3 else np.repeat(r[..., None], 3, axis=2) for r in rows]
    width = max(r.shape[1] for r in rows)
    label_w = 48 if labels else 0
    blocks = []
    for r in rows:
        b = np.zeros((r.shape[0], width, 3), dtype=np.uint8)
        b[:, : r.shape[1]] = r
        blocks.append(b)
    img = Image.fromarray(np.concatenate(blocks, axis=0))
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    if labels:
        canvas = Image.new("RGB", (img.width + label_w, img.height), (24, 24, 24))
        canvas.paste(img, (label_w, 0))
        d = ImageDraw.Draw(canvas)
        y = 0
        for r, lab in zip(rows, labels):
            d.text((4, y + 4), lab, fill=(230, 230, 230))
            y += r.shape[0] * scale
        img = canvas
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path
