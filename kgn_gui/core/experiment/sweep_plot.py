"""The depth sweep's chart: small multiples of each measure against depth (mean and t-interval over seeds),
drawn with Pillow into sweep.png; plotted_keys chooses what the rows can show."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..files import atomic_path
from ..measure.registry import finite, recovery_sigma

PLOTTED = (
    "train_loss",
    "steps_trained",
    "converged",
    "copy_fraction",
    "distinct",
    "nearest_mean",
    "top_basin_share",
    "class_entropy",
    "confidence",
    "frechet",
    "kid",
    "precision",
    "recall",
    "attractor_fraction",
    "rho_median",
    "saturated",
)


def plotted_keys(rows: list[dict], keys: tuple[str, ...] = PLOTTED) -> list[str]:
    """The panels of the chart: each key of ``keys`` with a finite value in some row, then the recovery
    rates."""
    got = [k for k in keys if any(finite(r.get(k)) for r in rows)]
    return got + [k for k in (rows[0] if rows else {}) if recovery_sigma(k) is not None]


def plot_rows(
    rows: list[dict],
    x_key: str,
    path: Path,
    title: str = "",
    keys: tuple[str, ...] = PLOTTED,
    runs: list[dict] | None = None,
) -> Path:
    """Small multiples: each measure in ``keys`` (present in the rows) against ``x_key``, as a PNG drawn
    with Pillow (no plotting library needed headless): the mean (a line), its interval ``k_lo`` … ``k_hi``
    as an error bar, each run of ``runs`` as a grey dot, and the real-data baseline ``k_real`` (its mean
    over the rows) as a dashed orange line."""
    from PIL import Image, ImageDraw

    keys = plotted_keys(rows, keys)
    cols = 4
    pw, ph = 260, 180
    rows_n = max(1, math.ceil(len(keys) / cols))
    img = Image.new("RGB", (cols * pw, rows_n * ph + 30), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((8, 3), title, fill=(0, 0, 0))
    d.text(
        (8, 16),
        "line: mean over seeds; bars: 95 % t-interval (clipped to the measure's range); grey dots: each seed; "
        "dashed orange: real data",
        fill=(90, 90, 90),
    )
    xs = np.array([float(r[x_key]) for r in rows])
    blue, grey, orange = (31, 119, 180), (170, 170, 170), (230, 120, 20)

    def col(rs, k) -> np.ndarray:
        return np.array([float(r[k]) if finite(r.get(k)) else np.nan for r in rs])

    for i, k in enumerate(keys):
        ox, oy = (i % cols) * pw, 30 + (i // cols) * ph
        ys, lo, hi = col(rows, k), col(rows, f"{k}_lo"), col(rows, f"{k}_hi")
        real = col(rows, f"{k}_real")
        base = float(np.nanmean(real)) if np.isfinite(real).any() else None
        each = [(float(r[x_key]), float(r[k])) for r in runs or [] if finite(r.get(k))]
        ok = np.isfinite(ys)
        d.text((ox + 10, oy + 4), k if base is None else f"{k}  (real {base:.3g})", fill=(0, 0, 0))
        left, t, r_, b = ox + 48, oy + 22, ox + pw - 12, oy + ph - 26
        d.rectangle((left, t, r_, b), outline=(180, 180, 180))
        if not ok.any():
            continue
        span = np.concatenate([ys, lo, hi, [base if base is not None else np.nan], [v for _, v in each]])
        span = span[np.isfinite(span)]
        y0, y1 = float(span.min()), float(span.max())
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5 * max(abs(y0), 1e-3), y1 + 0.5 * max(abs(y1), 1e-3)
        x0, x1 = float(xs.min()), float(xs.max()) if xs.max() > xs.min() else float(xs.min()) + 1
        # a little room at both ends so the end points' bars are not on the frame
        pad = 0.04 * (x1 - x0)

        def px(x, left=left, x0=x0, x1=x1, pad=pad, r_=r_):
            return left + (np.asarray(x, float) - x0 + pad) / (x1 - x0 + 2 * pad) * (r_ - left)

        def py(y, b=b, t=t, y0=y0, y1=y1):
            return b - (np.asarray(y, float) - y0) / (y1 - y0) * (b - t)

        if base is not None:
            yb = float(py(base))
            for a in range(int(left), int(r_), 8):
                d.line([(a, yb), (min(a + 4, r_), yb)], fill=orange, width=1)
        for xv, v in each:
            a, c = float(px(xv)), float(py(v))
            d.ellipse((a - 2, c - 2, a + 2, c + 2), fill=grey)
        for xv, l_, h_ in zip(xs, lo, hi):
            if np.isfinite(l_) and np.isfinite(h_) and h_ > l_:
                a = float(px(xv))
                cl, ch = float(py(l_)), float(py(h_))
                d.line([(a, cl), (a, ch)], fill=blue, width=1)
                d.line([(a - 4, cl), (a + 4, cl)], fill=blue, width=1)
                d.line([(a - 4, ch), (a + 4, ch)], fill=blue, width=1)
        pts = [(float(px(a)), float(py(c))) for a, c, o in zip(xs, ys, ok) if o]
        if len(pts) > 1:
            d.line(pts, fill=blue, width=2)
        for a, c in pts:
            d.ellipse((a - 3, c - 3, a + 3, c + 3), fill=blue)
        d.text((ox + 4, t - 2), f"{y1:.3g}", fill=(90, 90, 90))
        d.text((ox + 4, b - 10), f"{y0:.3g}", fill=(90, 90, 90))
        for xv in xs:
            d.text((float(px(xv)) - 4, b + 4), f"{xv:g}", fill=(90, 90, 90))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path
