"""One background-job class for all off-thread work of the window: exports, run bundles, state exports,
measures, the attractor audit and basin recovery.

A :class:`Job` runs ``fn(progress, cancelled)`` in a thread. ``progress(done, total, text="")`` may be called
from that thread as often as it likes (``text``: what runs now, a one-line message); ``cancelled()`` says whether Cancel was asked (the work checks it between
stages and raises :class:`Cancelled`, or any exception whose message says "cancelled"). The job polls its
queue on a GUI-thread timer and emits, in the GUI thread: ``progress(done, total)`` (the latest only), ``message(text)`` (each text given),
then exactly one of ``done(result)`` or ``failed(message)``; a cancelled job fails with a message that
says so and sets ``was_cancelled``. Exceptions become one-line messages, never tracebacks. A job's thread runs
below the chain worker and the event loop (JOB_NICE).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable

from PySide6 import QtCore

from ..core.errors import Cancelled

# How far a job's thread lowers its priority (Linux: a thread is a task of its own). A measure, audit or export
# yields the cores to the chain worker and the event loop while they play, and loses nothing when they rest;
# at launch the Analysis dock's first measure (13 s: its feature space made once) took a third of the frames.
JOB_NICE = 10


def below_the_display() -> None:
    """Lower the calling thread's priority by JOB_NICE, where the system allows it (never raised back: each
    job has a thread of its own)."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + JOB_NICE))


class _Running(QtCore.QObject):
    """How many jobs run now (``count``); ``changed(count)`` in the GUI thread when a job starts or ends (the
    window gives a training all cores only while nothing of its own computes)."""

    changed = QtCore.Signal(int)

    def __init__(self):
        super().__init__()
        self.count = 0

    def add(self, k: int) -> None:
        self.count += k
        self.changed.emit(self.count)


RUNNING = _Running()


class Job(QtCore.QObject):
    """fn(progress, cancelled) → result, in a thread; GUI-thread signals progress/done/failed."""

    progress = QtCore.Signal(int, int)
    message = QtCore.Signal(str)
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, fn: Callable, title: str = "", parent: QtCore.QObject | None = None, poll_ms: int = 50):
        super().__init__(parent)
        self.title = title
        self.was_cancelled = False
        self._fn = fn
        self._q: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._work, name=f"kgn-job-{title or 'work'}", daemon=True)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    def _work(self) -> None:
        below_the_display()
        try:
            result = self._fn(self._progress, self._cancel.is_set)
            self._q.put(("done", result))
        except Cancelled as e:
            self._q.put(("cancel", str(e) or f"{self.title or 'the job'} cancelled"))
        except Exception as e:  # a message, never a traceback
            msg = str(e) or type(e).__name__
            kind = "cancel" if self._cancel.is_set() and "cancel" in msg else "fail"
            named = msg if isinstance(e, (ValueError, RuntimeError, OSError)) else f"{type(e).__name__}: {msg}"
            self._q.put((kind, named))

    def _progress(self, done: int, total: int, text: str = "") -> None:
        self._q.put(("p", int(done), int(total)))
        if text:
            self._q.put(("m", str(text)))

    def start(self) -> Job:
        self._thread.start()
        self._timer.start()
        RUNNING.add(1)
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def running(self) -> bool:
        """True until done or failed has been emitted."""
        return not self._ended

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends (or ``timeout`` seconds), then deliver what it left. True if ended."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._poll()
        return not self._thread.is_alive()

    def _poll(self) -> None:
        last = None
        while True:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                break
            if msg[0] == "p":
                last = msg
                continue
            if msg[0] == "m":
                self.message.emit(msg[1])
                continue
            if last is not None:
                self.progress.emit(last[1], last[2])
                last = None
            self._timer.stop()
            self._ended = True
            RUNNING.add(-1)
            if msg[0] == "done":
                self.done.emit(msg[1])
            else:
                self.was_cancelled = msg[0] == "cancel"
                self.failed.emit(msg[1])
            return
        if last is not None:
            self.progress.emit(last[1], last[2])
