"""The depth-sweep tables of docs/science.md from a sweep's ``sweep.csv`` (issue 17): every measure as the mean over
seeds with its 95 % t-interval over seeds, and the real-data baseline in a last row.

    python scripts/sweep_tables.py docs/sweep_mnist.csv
    python scripts/sweep_tables.py docs/sweep_corners.csv corners
"""

from __future__ import annotations

import math
import sys

from kgn_gui.core.experiment.sweep import read_csv

MNIST_FIT = [  # header, key, format: how each depth trained and where its chains went
    ("eval loss", "train_loss", "{:.3f}"),
    ("steps", "steps_trained", "{:.0f}"),
    ("converged", "converged", "{:.2f}"),
    ("distinct", "distinct", "{:.0f}"),
    ("largest basin", "top_basin_share", "{:.2f}"),
    ("saturated", "saturated", "{:.2f}"),
    ("fixed of 16", "audit_fixed", "{:.1f}"),
    ("attractors", "attractor_fraction", "{:.2f}"),
    ("median ρ", "rho_median", "{:.2f}"),
    ("recovery σ=0.05", "recovery_0.05", "{:.2f}"),
    ("σ=0.2", "recovery_0.2", "{:.2f}"),
]
MNIST_QUALITY = [  # the distribution measures, with the real-data row
    ("nearest", "nearest_mean", "{:.3f}"),
    ("class entropy", "class_entropy", "{:.2f}"),
    ("confidence", "confidence", "{:.2f}"),
    ("Fréchet", "frechet", "{:.0f}"),
    ("KID", "kid", "{:.0f}"),
    ("precision", "precision", "{:.2f}"),
    ("recall", "recall", "{:.2f}"),
]
CORNERS = [
    ("eval loss", "train_loss", "{:.1e}"),
    ("burn-in", "burn_in", "{:.0f}"),
    ("converged", "converged", "{:.2f}"),
    ("copies", "copy_fraction", "{:.2f}"),
    ("distinct", "distinct", "{:.1f}"),
    ("largest basin", "top_basin_share", "{:.2f}"),
    ("fixed of 4", "audit_fixed", "{:.1f}"),
    ("attractors", "attractor_fraction", "{:.2f}"),
    ("median ρ", "rho_median", "{:.2f}"),
    ("recovery σ=0.05", "recovery_0.05", "{:.2f}"),
    ("σ=0.2", "recovery_0.2", "{:.2f}"),
]


def number(v: str | None) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def cell(r: dict, key: str, fmt: str) -> str:
    """mean [lo, hi] over seeds; the mean alone when the interval is a point."""
    m, lo, hi = (number(r.get(k)) for k in (key, f"{key}_lo", f"{key}_hi"))
    if m is None:
        return "–"
    if lo is None or hi is None or fmt.format(lo) == fmt.format(hi):
        return fmt.format(m)
    return f"{fmt.format(m)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def table(path: str, cols) -> None:
    rows = read_csv(path)
    head = ["L", "parameters"] + [h for h, _, _ in cols]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join("---:" for _ in head) + " |")
    for r in rows:
        cells = [r["depth"], f"{int(float(r['parameters'])):,}"] + [cell(r, k, f) for _, k, f in cols]
        print("| " + " | ".join(cells) + " |")
    real = [cell(r, f"{k}_real", f) for _, k, f in cols for r in rows[:1]]
    if any(c != "–" for c in real):
        print("| real | | " + " | ".join("" if c == "–" else c for c in real) + " |")


if __name__ == "__main__":
    if sys.argv[2:] == ["corners"]:
        table(sys.argv[1], CORNERS)
    else:
        table(sys.argv[1], MNIST_FIT)
        print()
        table(sys.argv[1], MNIST_QUALITY)
