"""Turn chain states into pictures (numpy + Pillow; no Qt)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..files import atomic_path


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


def to_rgb32(mosaic: np.ndarray) -> np.ndarray:
    """H×W grey or H×W×3 uint8 → H×W uint32 0xFFRRGGBB (QImage.Format_RGB32, little-endian BGRA)."""
    if mosaic.ndim == 2:
        g = mosaic.astype(np.uint32)
        return (0xFF000000 | (g << 16) | (g << 8) | g).astype(np.uint32)
    r, g, b = (mosaic[..., i].astype(np.uint32) for i in range(3))
    return (0xFF000000 | (r << 16) | (g << 8) | b).astype(np.uint32)


def pixel_text(v: np.ndarray) -> str:
    """One pixel's value: ``0.82`` (grey) or ``(0.10, 0.52, 0.90)`` (colour)."""
    if v.size == 1:
        return f"{float(v.reshape(-1)[0]):.2f}"
    return "(" + ", ".join(f"{float(c):.2f}" for c in v.reshape(-1)) + ")"


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


# ---------------------------------------------------------------------------------------------- points views
# The Points view of a 1-D or 2-D model, drawn with Pillow (the window's Points export and ``kgn export`` on a
# points model draw through this one class, so both give the same frames). Colours are the window's.
POINTS_BG = (30, 30, 30)
POINTS_GRID = (62, 62, 62)
POINTS_FRAME = (110, 110, 110)
IDENTITY_RGB = (187, 187, 187)
CURVE_RGB = (76, 201, 240)
FLAT_RGB = (37, 49, 54)  # the window's (76, 201, 240, 40) over the background
ARROW_RGB = (181, 181, 181)  # the window's (230, 230, 230, 170) over the background
CHAIN_RGB = (255, 159, 28)
COBWEB_RGB = (255, 159, 28)
TRAINING_RGB = (255, 209, 102)
POINTS_SIZE = (320, 320)  # width, height of a points export at scale 1 unless asked otherwise
MAX_POINTS_SIDE = 8192  # pixels, after the scale
TRAIL = 8  # 2-D: the steps before the one shown, drawn as fading dots
COBWEB_STEPS = 60  # 1-D: the cobweb's chain over its last steps
MARGIN = 8  # pixels at scale 1 between the picture's edge and the plot box


def _blend(rgb, alpha: float) -> tuple[int, int, int]:
    return tuple(int(round(b + (c - b) * alpha)) for c, b in zip(rgb, POINTS_BG))


class PointsPicture:
    """What the window's Points view shows of a D = 1 or 2 model at each step, drawn at ``size`` (width, height
    at 1×) × ``scale`` (sharp, not zoomed: lines and dots scale with it). The model's part is computed once:
    1-D: the output manifold f(x) (501 points over [lo, hi]) against the identity y = x, its flat regions
    shaded, the training points on the identity; 2-D: the vector field f(x) − x (21×21 arrows) and the training
    points. :meth:`draw` adds a step's chains: 1-D: the chains as dots on the x axis (y = lo) and the cobweb of
    chain ``cobweb_chain`` over its last COBWEB_STEPS steps; 2-D: the chains as dots with TRAIL fading dots of
    their last steps. The loss manifold, the histogram and the 2-D background of the window are left out.

    Data coordinates map linearly onto the plot box: the view is [lo − 0.02·span, hi + 0.02·span] on both axes;
    its ends land on the pixel centres ``box`` = (left, top, right, bottom) (x grows right, y grows up); the
    box is square in 2-D (centred), the picture less MARGIN·scale on each side in 1-D."""

    def __init__(
        self,
        model,
        value_range: tuple[float, float],
        dim: int,
        points: np.ndarray | None = None,
        size: tuple[int, int] = POINTS_SIZE,
        scale: int = 1,
        cobweb_chain: int = 0,
    ):
        from PIL import Image, ImageDraw

        from .points import flat_regions, output_manifold, vector_field

        if dim not in (1, 2):
            raise ValueError("a points picture shows 1-D or 2-D models")
        self.model, self.dim, self.scale, self.cobweb_chain = model, dim, scale, cobweb_chain
        self.width, self.height = size[0] * scale, size[1] * scale
        lo, hi = float(value_range[0]), float(value_range[1])
        self.value_range = (lo, hi)
        pad = 0.02 * (hi - lo)
        self.view = (lo - pad, hi + pad)
        m = MARGIN * scale
        left, top, right, bottom = m, m, self.width - 1 - m, self.height - 1 - m
        if dim == 2:
            side = min(right - left, bottom - top)
            left, top = (self.width - 1 - side) // 2, (self.height - 1 - side) // 2
            right, bottom = left + side, top + side
        self.box = (left, top, right, bottom)

        img = Image.new("RGB", (self.width, self.height), POINTS_BG)
        d = ImageDraw.Draw(img)
        if dim == 1:
            x, fx = output_manifold(model, self.value_range)
            for a, b in flat_regions(x, fx):
                (xa, _), (xb, _) = self.to_pixel(np.array([[a, 0.0], [b, 0.0]]))
                d.rectangle([xa, top, xb, bottom], fill=FLAT_RGB)
        for k in range(5):
            v = lo + k * (hi - lo) / 4
            (gx, gy) = self.to_pixel(np.array([[v, v]]))[0]
            d.line([(gx, top), (gx, bottom)], fill=POINTS_GRID, width=1)
            d.line([(left, gy), (right, gy)], fill=POINTS_GRID, width=1)
        d.rectangle([left, top, right, bottom], outline=POINTS_FRAME, width=1)
        if dim == 1:
            self._dashed(d, self.to_pixel(np.array([[lo, lo], [hi, hi]])), IDENTITY_RGB, max(1, scale))
            curve = self.to_pixel(np.stack([x, fx], axis=1))
            d.line([tuple(p) for p in curve], fill=CURVE_RGB, width=max(1, round(2.5 * scale + 0.01)), joint="curve")
        else:
            P, V = vector_field(model, self.value_range, n=21)
            a, b = self.to_pixel(P), self.to_pixel(P + V)
            for p, q in zip(a, b):
                d.line([tuple(p), tuple(q)], fill=ARROW_RGB, width=max(1, scale))
            self._dots(d, b, 1.5 * scale, ARROW_RGB)
        self._static = img
        # The training points go over the chains (as in the window): a layer of their own, pasted last.
        self._top = Image.new("RGBA", (self.width, self.height), (0, 0, 0, 0))
        pts = np.zeros((0, dim), np.float32) if points is None else np.asarray(points, np.float32).reshape(-1, dim)
        self.points = pts
        if len(pts):
            xy = np.stack([pts[:, 0], pts[:, 0] if dim == 1 else pts[:, 1]], axis=1)
            self._dots(ImageDraw.Draw(self._top), self.to_pixel(xy), 7 * scale, TRAINING_RGB, outline=(255, 255, 255))

    def to_pixel(self, xy: np.ndarray) -> np.ndarray:
        """K×2 data coordinates (x, y) → K×2 int pixel (column, row), rounded to the nearest pixel centre."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        v0, v1 = self.view
        left, top, right, bottom = self.box
        col = left + (xy[:, 0] - v0) / (v1 - v0) * (right - left)
        row = bottom - (xy[:, 1] - v0) / (v1 - v0) * (bottom - top)
        return np.rint(np.stack([col, row], axis=1)).astype(np.int64)

    @staticmethod
    def _dots(d, pix: np.ndarray, r: float, fill, outline=None) -> None:
        for c, rr in pix:
            d.ellipse([c - r, rr - r, c + r, rr + r], fill=fill, outline=outline, width=1)

    @staticmethod
    def _dashed(d, ends: np.ndarray, fill, width: int, dash: int = 6) -> None:
        (c0, r0), (c1, r1) = ends.astype(np.float64)
        n = max(1, int(math.hypot(c1 - c0, r1 - r0) // (dash * width)))
        for k in range(0, n, 2):
            a, b = k / n, min(1.0, (k + 1) / n)
            d.line([(c0 + a * (c1 - c0), r0 + a * (r1 - r0)), (c0 + b * (c1 - c0), r0 + b * (r1 - r0))], fill, width)

    def draw(self, x: np.ndarray, t: int, history=None) -> np.ndarray:
        """The picture at step t: ``x`` the N×dim chain states, ``history(s)`` the states of an earlier step s
        (t − TRAIL ≤ s < t in 2-D, t − COBWEB_STEPS ≤ s < t in 1-D). Returns height×width×3 uint8."""
        from PIL import ImageDraw

        from .points import output_of

        img = self._static.copy()
        d = ImageDraw.Draw(img)
        s = self.scale
        lo = self.value_range[0]
        x = np.asarray(x, np.float32).reshape(-1, self.dim)
        if self.dim == 1:
            if history is not None and len(x):
                i = min(self.cobweb_chain, len(x) - 1)
                xs = np.array([history(k)[i, 0] for k in range(max(0, t - COBWEB_STEPS), t)] + [x[i, 0]], np.float32)
                if len(xs) > 1:
                    fx = output_of(self.model, xs)
                    verts = [(xs[0], xs[0])]
                    for k in range(len(xs) - 1):
                        verts += [(xs[k], fx[k]), (xs[k + 1], xs[k + 1])]
                    pix = self.to_pixel(np.asarray(verts))
                    d.line([tuple(p) for p in pix], fill=COBWEB_RGB, width=max(1, round(1.2 * s)))
            pix = self.to_pixel(np.stack([x[:, 0], np.full(len(x), lo, np.float32)], axis=1))
            self._dots(d, pix, 3 * s, CHAIN_RGB)
        else:
            if history is not None:
                for k in range(min(TRAIL, t), 0, -1):  # the oldest first: newer dots over older ones
                    self._dots(d, self.to_pixel(history(t - k)), 2 * s, _blend(CHAIN_RGB, 0.7 * (1 - k / (TRAIL + 1))))
            self._dots(d, self.to_pixel(x), 3 * s, CHAIN_RGB)
        img.paste(self._top, (0, 0), self._top)
        return np.asarray(img)
