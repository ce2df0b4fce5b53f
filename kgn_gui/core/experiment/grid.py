"""An experiment's grid of trials, run by an engine, each finished row written whole (no Qt).

The sweep (one model per depth and seed), the sampler search (one sampler and seed per trial) and a
many-seed analysis all run here: a plan of keys in order, one trial per key, and a runs CSV that gets
each finished trial's row (with where and how long it ran, :data:`RUN_COLUMNS`) before the next is awaited.
The CSV starts with a comment line of the experiment's settings; ``resume`` keeps the rows a CSV of the
same settings holds and runs only the other keys (a CSV of other settings is refused).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

from ..files import atomic_path
from ..wording import count

RUN_COLUMNS = ("host", "worker", "trial_seconds", "attempts", "error")  # where and how a trial ran


def write_csv(rows: list[dict], path: Path, settings: str | None = None) -> None:
    """Rows → CSV (atomically), with ``settings`` as a leading comment line."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        if settings:
            f.write(settings + "\n")
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def read_csv(path: str | os.PathLike) -> list[dict]:
    """A runs or summary CSV back as rows of text (the comment line skipped)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(ln for ln in f if not ln.startswith("#")))


def value(text: str):
    """A CSV cell back as what it was: a number, True/False, None (empty) or the text."""
    if text in ("", "None"):
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def finished_rows(path: str | os.PathLike, settings: str, what: str = "an experiment") -> list[dict]:
    """The rows a runs CSV holds (for ``resume``): [] without one; ValueError when it was written for other
    settings (its rows would not belong to this experiment)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        first = f.readline().rstrip("\n")
    if first != settings:
        raise ValueError(f"{path} holds {what} of other settings: resume it with the same options")
    return [{k: value(v) for k, v in r.items()} for r in read_csv(path)]


def measured(runs: list[dict]) -> list[dict]:
    """The runs that have measures (failed trials left out), without the columns of where they ran."""
    return [{k: v for k, v in r.items() if k not in RUN_COLUMNS} for r in runs if not r.get("error")]


def run_grid(
    fn: Callable[..., dict],
    plan: list[tuple],
    names: tuple[str, ...],
    kwargs: Callable[[tuple], dict],
    *,
    engine,
    runs_csv: Path | None = None,
    settings: str = "",
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    written: Callable[[list[dict]], None] | None = None,
    on_trial: Callable[[dict, int, int], None] | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[dict]:
    """Run ``fn(**kwargs(key))`` for every key of ``plan`` (tuples named by ``names``, e.g. ("depth",
    "seed")) on ``engine`` and return the rows in the plan's order. After each finished trial (its row, or
    for a failed one its key and ``error``, with :data:`RUN_COLUMNS`) ``runs_csv`` is rewritten whole,
    then ``written(rows so far)``, ``on_trial(row, done, total)`` and ``progress(done / total)`` are
    called. ``resume``: the rows ``runs_csv`` holds without an error are kept and their keys not run
    ("K of N trials already done" to ``log``). A trial run again after its worker died is said to ``log``."""
    say = log or (lambda s: None)
    n = len(plan)
    held = finished_rows(runs_csv, settings) if resume and runs_csv is not None else []
    key_of = lambda r: tuple(r.get(k) for k in names)  # noqa: E731
    rows: dict = {key_of(r): r for r in held if not r.get("error") and key_of(r) in set(plan)}
    if resume:
        say(f"{len(rows)} of {count(n, 'trial', commas=False)} already done")
    from .engine import Trial

    trials = [Trial(key, kwargs(key)) for key in plan if key not in rows]

    def where(key: tuple) -> str:
        return ", ".join(f"{k} {v}" for k, v in zip(names, key))

    def finished(o) -> None:
        row = o.row if o.ok else {**dict(zip(names, o.trial.key)), "error": o.error}
        row.update(host=o.host, worker=o.worker, trial_seconds=round(o.seconds, 1), attempts=o.attempts)
        rows[o.trial.key] = row
        if not o.ok:
            say(f"{where(o.trial.key)}: failed: {o.error}")
        done = [rows[key] for key in plan if key in rows]
        if runs_csv is not None:
            write_csv(done, runs_csv, settings)
        if written is not None:
            written(done)
        if on_trial is not None:
            on_trial(dict(row), len(done), n)
        if progress is not None:
            progress(len(done) / n)

    retried = lambda t, line: say(f"{where(t.key)}: {line}")  # noqa: E731
    engine.run(fn, trials, finished, cancelled=cancelled, on_retry=retried)
    return [rows[key] for key in plan if key in rows]
