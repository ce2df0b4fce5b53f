"""Typed messages between the window and its child processes (training, the depth sweep); no Qt.

The parent sends a :class:`Command` over a pipe; the child answers on a (spawn-context) queue with
one of the frozen dataclasses below. All of them pickle, so they cross the process boundary as they
are; the parent dispatches on the type (``match msg: case Progress(...)``) and ignores what it does
not know, so an old or a foreign message can never crash the window.

Training (``core/model/train_worker.py``): :class:`Progress`, :class:`Snapshot`, :class:`SnapshotFailed`,
:class:`RecoverySaved`, :class:`TrainWarning`, then :class:`Ended` or :class:`Failed` last.

Sweep (``core/experiment/sweep_worker.py``): :class:`SweepProgress`, :class:`SweepLog`, then one of
:class:`SweepDone`, :class:`SweepFailed` or :class:`SweepCancelled` last.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Command(enum.Enum):
    """What the parent asks of a child. The sweep child knows only STOP."""

    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    SNAPSHOT = "snapshot"  # training: save the current weights and answer with Snapshot
    SHARE_CORES = "share"  # training: the window computes (plays, or runs a job), so all cores but one
    ALL_CORES = "all"  # training: the window rests, so every core (from the next step)


# --- training ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: a numpy array has no single truth value
class Progress:
    """A training event; ``losses`` are the per-step losses of steps first+1 … first+len(losses) not sent
    before (``event`` is a :class:`~kgn_gui.core.model.train.TrainEvent`)."""

    event: Any
    first: int
    losses: np.ndarray


@dataclass(frozen=True)
class Ended:
    """Training finished (done, stopped or diverged); its best weights are saved at ``path``. ``event`` is the
    last TrainEvent (None when training ended before its first step)."""

    event: Any
    path: str
    recipe: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RecoverySaved:
    """A recovery checkpoint was written at ``path`` (see ``core/model/recovery.py``)."""

    path: str


@dataclass(frozen=True)
class TrainWarning:
    """Something the user should know that does not stop training (a recovery checkpoint failed)."""

    message: str


@dataclass(frozen=True)
class Snapshot:
    """The current weights, saved as a model file at ``path`` (answering Command.SNAPSHOT)."""

    path: str


@dataclass(frozen=True)
class SnapshotFailed:
    """The current weights could not be saved; training goes on."""

    message: str


@dataclass(frozen=True)
class Failed:
    """Training could not start or crashed; nothing more follows."""

    message: str


# --- depth sweep ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepProgress:
    """``fraction`` done (0 … 1) and what runs now, in one line ("depth 4: training")."""

    fraction: float
    message: str


@dataclass(frozen=True)
class SweepLog:
    """A line of the sweep's log (the lines ``kgn sweep`` prints)."""

    line: str


@dataclass(frozen=True)
class SweepTrial:
    """A trial finished (or failed): its row of sweep_runs.csv (depth, seed, measures, host, worker,
    trial_seconds, attempts; ``error`` when it failed), sent as soon as the row is written; ``done`` of
    ``total`` trials have rows now."""

    row: dict
    done: int
    total: int


@dataclass(frozen=True)
class SweepDone:
    """The sweep finished: models, sweep.csv and sweep.png are in ``folder``; ``rows`` are the CSV's rows."""

    folder: str
    rows: list = field(default_factory=list)


@dataclass(frozen=True)
class SweepFailed:
    """The sweep could not start or failed; nothing more follows."""

    message: str


@dataclass(frozen=True)
class SweepCancelled:
    """The sweep stopped at Command.STOP; nothing more follows."""


def spawn_child(target, job: dict, name: str, daemon: bool = True):
    """Start ``target(job, out_queue, command_pipe)`` in a spawned process (never fork a process that runs Qt
    and torch threads). Returns (process, queue the child answers on, the parent's end of the pipe).
    ``daemon=False`` for a child that starts processes of its own (a daemonic one may not): it must stop
    itself when the pipe closes."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out_q = ctx.Queue()
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=target, args=(job, out_q, child_conn), name=name, daemon=daemon)
    proc.start()
    child_conn.close()
    return proc, out_q, conn


def close_channel(conn, out_q) -> None:
    """Close the parent's ends of a child's pipe and queue (either may be None) without waiting on them."""
    if conn is not None:
        conn.close()
    if out_q is not None:
        out_q.close()
        out_q.cancel_join_thread()
