"""Runs the depth sweep (core's :func:`~kgn_gui.core.sweep.run_sweep`, the same function as ``kgn sweep``) in
a child process for the window: training many models in the GUI's process would stall its event loop (see
controllers/training.py).

The child (``core/sweep_worker.py``) reports typed events (``core/messages.py``) on a queue; the run drains
it on its own timer in the GUI thread and re-emits them as Qt signals. Cancel sends ``Command.STOP``: the
child stops at its next check (between training steps and chain steps); one that has not ended
``cancel_grace_s`` seconds later is terminated.
"""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

from PySide6 import QtCore

from ...core.messages import (
    Command,
    SweepCancelled,
    SweepDone,
    SweepFailed,
    SweepLog,
    SweepProgress,
    close_channel,
    spawn_child,
)
from ...core.sweep import SweepConfig, check_output_folder
from ...core.sweep_worker import sweep_worker


class SweepRun(QtCore.QObject):
    """progress(permille), message(line), finished(folder), failed(message; "cancelled" when cancelled).

    One run: :meth:`start` it once. Settings the sweep refuses (or an output folder that is not empty) are
    reported by ``failed`` from the event loop, after :meth:`start` returns. ``rows`` holds the sweep's CSV
    rows once it has finished."""

    progress = QtCore.Signal(int)
    message = QtCore.Signal(str)
    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)

    def __init__(
        self,
        config: SweepConfig,
        out: str | Path,
        parent: QtCore.QObject | None = None,
        poll_ms: int = 50,
        cancel_grace_s: float = 5.0,
    ):
        super().__init__(parent)
        self.config = config
        self.out = str(out)
        self.cancel_grace_s = cancel_grace_s
        self.rows: list[dict] = []
        self._proc = None
        self._conn = None
        self._queue = None
        self._started = False
        self._ended = False
        self._cancelled_at: float | None = None
        self._refusal = ""
        self._permille = -1
        self._stage = ""
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._drain)
        self._kill_timer = QtCore.QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    @property
    def process(self):
        """The child process (a ``multiprocessing`` Process), None before :meth:`start`."""
        return self._proc

    def start(self) -> SweepRun:
        if self._started:
            return self
        self._started = True
        try:
            self.config.validate()
            check_output_folder(self.out)
        except ValueError as e:  # no process for settings that cannot run; said from the event loop
            self._refusal = str(e)
            self._ended = True
            QtCore.QTimer.singleShot(0, self._refuse)
            return self
        job = {"config": self.config, "out_dir": self.out, "threads": max(1, (os.cpu_count() or 2) - 1)}
        self._proc, self._queue, self._conn = spawn_child(sweep_worker, job, "kgn-sweep")
        self._timer.start()
        return self

    def cancel(self) -> None:
        """Ask the sweep to stop; ``failed("cancelled")`` follows (at once when it has not started)."""
        if not self.running() or self._cancelled_at is not None:
            return
        self._cancelled_at = time.monotonic()
        if self._proc is None:
            self._end()
            self.failed.emit("cancelled")
            return
        try:
            self._conn.send(Command.STOP)
        except (BrokenPipeError, OSError):
            pass
        self._kill_timer.start(int(self.cancel_grace_s * 1000))

    def running(self) -> bool:
        """Started and not yet ended (finished or failed not yet emitted)."""
        return self._started and not self._ended

    def wait(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` seconds for the child to end, delivering its messages (on window close).
        A cancelled sweep that outlives its grace period is terminated meanwhile. True when no child runs."""
        deadline = time.monotonic() + timeout_s
        while self._proc is not None and not self._ended:
            self._drain()
            if self._ended:
                break
            if self._cancelled_at is not None and time.monotonic() - self._cancelled_at >= self.cancel_grace_s:
                self._kill()
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._proc.join(min(0.05, left))
        return self._proc is None or not self._proc.is_alive()

    def _refuse(self) -> None:
        self.failed.emit(self._refusal)

    def _drain(self) -> None:
        if self._ended or self._queue is None:
            return
        dead = not self._proc.is_alive()  # looked at first: what it put before it ended is in the queue now
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            except (EOFError, OSError):
                break
            except Exception:  # a message that cannot be read (another version of the worker): skipped
                continue
            match msg:
                case SweepProgress(fraction=f, message=text):
                    pm = int(1000 * min(1.0, max(0.0, f)))
                    if pm != self._permille:
                        self._permille = pm
                        self.progress.emit(pm)
                    if text != self._stage:
                        self._stage = text
                        self.message.emit(text)
                case SweepLog(line=line):
                    self.message.emit(line)
                case SweepDone(rows=rows):
                    self.rows = list(rows)
                    self._end()
                    if self._permille != 1000:
                        self._permille = 1000
                        self.progress.emit(1000)
                    self.finished.emit(self.out)
                    return
                case SweepFailed(message=text):
                    self._end()
                    self.failed.emit(text)
                    return
                case SweepCancelled():
                    self._end()
                    self.failed.emit("cancelled")
                    return
                case _:  # an unknown message: ignored
                    pass
        if dead:  # ended without saying so (killed, out of memory)
            code = self._proc.exitcode
            self._end()
            if self._cancelled_at is not None:
                self.failed.emit("cancelled")
            else:
                self.failed.emit(f"the sweep process ended unexpectedly (exit status {code})")

    def _kill(self) -> None:
        """The grace period after Cancel is over: end the child. Its queue is not read any more (a process
        terminated while writing may leave half a message in it)."""
        if self._ended:
            return
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(2.0)
        else:
            self._drain()  # it ended on its own just now: its last word is in the queue
            if self._ended:
                return
        self._end()
        self.failed.emit("cancelled")

    def _end(self) -> None:
        self._ended = True
        self._timer.stop()
        self._kill_timer.stop()
        if self._proc is not None:
            self._proc.join(5.0)
        close_channel(self._conn, self._queue)
        self._conn = self._queue = None
