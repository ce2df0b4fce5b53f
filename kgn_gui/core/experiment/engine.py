"""Engines that run an experiment's trials (no Qt): one call per trial, each with its own seed.

An experiment is a list of :class:`Trial` s; a trial is one call of a module-level function with picklable
keyword arguments that returns one row (a dict). The engine runs them and hands each :class:`Outcome` to
``on_outcome`` as it finishes, in the order they finish:

* ``InProcess`` runs them one after another in this process (the window's sweep child, ``--workers 1``):
  progress and cancellation reach inside a trial.
* ``LocalEngine(workers=N)`` runs up to N at a time, each in a child process of its own (spawned), with
  ``torch`` threads set so that the workers together never ask for more than this machine's cores. A child
  that dies (killed, out of memory) costs its trial one attempt: the trial is run again, at most
  ``retries`` more times, then recorded as failed with a one-line reason; the other trials go on. A trial
  that raises fails at once with its one-line message (running it again would raise again).

Every outcome says where and how long the trial ran (host, worker pid, seconds, attempts); ``on_retry(trial,
line)`` hears of each trial that runs again, and why.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import printable

RETRIES = 2  # a trial whose worker died runs again at most this many more times


@dataclass(frozen=True)
class Trial:
    """key: what names the trial in the rows (e.g. (depth, seed)); kwargs: the trial function's arguments."""

    key: tuple
    kwargs: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Outcome:
    """One finished trial: its row, or the one-line reason it failed."""

    trial: Trial
    row: dict | None
    error: str | None = None
    host: str = ""
    worker: int = 0
    seconds: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """torch threads for each of ``workers`` trials running at once: the cores shared out, at least one."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def reason(e: BaseException) -> str:
    """An exception as the one line a failed trial's row keeps: printable (terminal colours, as Ray puts in
    its messages, taken out), at most 300 characters."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(e)).split()) or type(e).__name__
    return printable(text)[:300]


def _run_here(fn: Callable[..., dict], trial: Trial, threads: int | None) -> Outcome:
    """The trial in this process (torch threads set for it, then put back)."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    t0 = time.monotonic()
    try:
        row = fn(**trial.kwargs)
        return Outcome(trial, row, host=socket.gethostname(), worker=os.getpid(), seconds=time.monotonic() - t0)
    finally:
        torch.set_num_threads(before)


def run_in_worker(fn: Callable[..., dict], trial: Trial, threads: int) -> Outcome:
    """One trial in a worker (a child process, a Ray task): its outcome, an error as its one line."""
    try:
        return _run_here(fn, trial, threads)
    except BaseException as e:  # noqa: BLE001 - a trial's failure is a row of the experiment, never a traceback
        return Outcome(trial, None, error=reason(e), host=socket.gethostname(), worker=os.getpid())


def _serve(fn, threads: int, jobs, out_q) -> None:
    """A worker process's main: trials from ``jobs`` one after another until None, each outcome on
    ``out_q``. What a trial opened (its data set, a feature space) stays for the next. Ctrl-C is the
    parent's to handle: it stops the workers."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (trial := jobs.get()) is not None:
        out_q.put(run_in_worker(fn, trial, threads))


class InProcess:
    """Trials one after another in this process. ``threads``: torch threads for each (None: as they are)."""

    name = "local"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def run(
        self,
        fn: Callable[..., dict],
        trials: Iterable[Trial],
        on_outcome: Callable[[Outcome], None],
        cancelled: Callable[[], bool] | None = None,
        on_retry: Callable[[Trial, str], None] | None = None,
    ) -> None:
        """Exceptions of a trial propagate (the caller stops, as a sweep in one process always has)."""
        for trial in trials:
            if cancelled is not None and cancelled():
                return
            on_outcome(_run_here(fn, trial, self.threads))


class LocalEngine:
    """Up to ``workers`` trials at once on this machine, in as many spawned worker processes that each run
    trial after trial (torch imported and the data opened once per worker, not per trial)."""

    name = "local"

    def __init__(self, workers: int = 2, retries: int = RETRIES, threads: int | None = None, poll_s: float = 0.05):
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        self.workers, self.retries, self.poll_s = workers, retries, poll_s
        self.threads = threads or threads_per_worker(workers)

    def run(
        self,
        fn: Callable[..., dict],
        trials: Iterable[Trial],
        on_outcome: Callable[[Outcome], None],
        cancelled: Callable[[], bool] | None = None,
        on_retry: Callable[[Trial, str], None] | None = None,
    ) -> None:
        """Returns when every trial has an outcome, or (the workers stopped) when ``cancelled()``."""
        ctx = mp.get_context("spawn")
        out_q = ctx.Queue()
        todo = list(trials)
        attempts: dict[tuple, int] = {}
        slots: list[_Slot] = []

        def finished(out: Outcome) -> None:
            slot = next((s for s in slots if s.proc.pid == out.worker and s.trial is not None), None)
            if slot is None or slot.trial.key != out.trial.key:
                return  # a late outcome of a worker already counted as dead (its trial runs again)
            slot.trial = None
            out.attempts = attempts[out.trial.key]
            on_outcome(out)

        try:
            while todo or any(s.trial is not None for s in slots):
                if cancelled is not None and cancelled():
                    return
                while len(slots) < min(self.workers, len(todo) + sum(s.trial is not None for s in slots)):
                    slots.append(_Slot.start(ctx, fn, self.threads, out_q))
                for slot in slots:
                    if slot.trial is None and todo:
                        slot.trial = todo.pop(0)
                        attempts[slot.trial.key] = attempts.get(slot.trial.key, 0) + 1
                        slot.jobs.put(slot.trial)
                try:
                    finished(out_q.get(timeout=self.poll_s))
                    continue
                except queue.Empty:
                    pass
                dead = [s for s in slots if not s.proc.is_alive()]
                if not dead:
                    continue
                try:  # an outcome put just before its process ended
                    finished(out_q.get(timeout=1.0))
                    continue
                except queue.Empty:
                    pass
                for slot in dead:  # ended without an outcome: killed, or out of memory
                    slots.remove(slot)
                    slot.stop()
                    trial = slot.trial
                    if trial is None:
                        continue
                    if attempts[trial.key] <= self.retries:
                        todo.insert(0, trial)
                        if on_retry is not None:
                            a = attempts[trial.key]
                            on_retry(trial, f"its worker died (exit code {slot.proc.exitcode}); running it "
                                     f"again (attempt {a + 1} of {self.retries + 1})")  # fmt: skip
                        continue
                    code = slot.proc.exitcode
                    why = f"its worker died {attempts[trial.key]} times (last exit code {code})"
                    if code == 1:  # a spawned child that could not start: the usual cause, said once
                        why += '; a script that starts workers must do so under `if __name__ == "__main__":`'
                    on_outcome(Outcome(trial, None, error=why, worker=slot.proc.pid or 0, attempts=attempts[trial.key]))
        finally:
            for slot in slots:
                slot.stop()
            out_q.close()
            out_q.join_thread()


@dataclass
class _Slot:
    """One worker process of the local engine, its queue of trials and the trial it runs (None: idle)."""

    proc: mp.Process
    jobs: object
    trial: Trial | None = None

    @classmethod
    def start(cls, ctx, fn, threads: int, out_q) -> _Slot:
        jobs = ctx.Queue()
        proc = ctx.Process(target=_serve, args=(fn, threads, jobs, out_q), daemon=True)
        proc.start()
        return cls(proc, jobs)

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(5)
        self.jobs.close()
        self.jobs.cancel_join_thread()
