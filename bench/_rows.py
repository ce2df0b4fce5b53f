"""What every benchmark returns: rows of (measure, value, baseline measured in the same run, ratio,
target), printed by the benchmark and collected into one table by ``python -m bench``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def row(
    measure: str,
    value: float,
    baseline: float | None = None,
    *,
    unit: str = "",
    baseline_is: str = "",
    target: str = "",
    ratio: float | None = None,
) -> dict:
    """One line of the table. ``ratio`` defaults to value / baseline."""
    if ratio is None and baseline:
        ratio = value / baseline
    return {
        "measure": measure,
        "value": float(value),
        "unit": unit,
        "baseline": None if baseline is None else float(baseline),
        "baseline_is": baseline_is,
        "ratio": None if ratio is None else float(ratio),
        "target": target,
    }


def add_json_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file (python -m bench uses it)")


def finish(rows: list[dict], json_path: str | None) -> list[dict]:
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))
    return rows
