"""Runs a :class:`~kgn_gui.core.train.Trainer` in a background thread for the window.

The worker is a plain Python thread that iterates the core training generator and puts its
events on a queue; this controller lives in the GUI thread and drains the queue on its own
timer, re-emitting each event as a Qt signal. No Qt object ever crosses threads, so slots
connected to these signals always run in the GUI thread (DESIGN.md, "Threads").
"""
from __future__ import annotations

import copy
import queue
import threading
import time

from PySide6 import QtCore

from ...core.data import Dataset
from ...core.models import ModelSpec
from ...core.train import TrainConfig, Trainer, TrainError


class TrainingController(QtCore.QObject):
    """start / pause / resume / stop training; signals come from the GUI thread.

    progress(TrainEvent): at most every ``poll_ms``. finished(TrainEvent): done, stopped or diverged.
    failed(str): training could not start or crashed. stateChanged(str): idle, running, paused, stopping.
    """

    progress = QtCore.Signal(object)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    stateChanged = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject | None = None, poll_ms: int = 50):
        super().__init__(parent)
        self.trainer: Trainer | None = None
        self._thread: threading.Thread | None = None
        self._events: queue.Queue = queue.Queue()
        self._state = "idle"
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._drain)

    @property
    def state(self) -> str:
        return self._state

    def is_busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _set_state(self, s: str) -> None:
        if s != self._state:
            self._state = s
            self.stateChanged.emit(s)

    def start(self, spec: ModelSpec, dataset: Dataset, config: TrainConfig) -> bool:
        """Begin training in the background; False (and ``failed``) if the settings are refused."""
        if self.is_busy():
            self.failed.emit("training is already running")
            return False
        try:
            self.trainer = Trainer(spec, dataset, config)
        except (TrainError, ValueError) as e:
            self.failed.emit(str(e))
            return False
        self._events = queue.Queue()
        self._thread = threading.Thread(target=self._work, args=(self.trainer, self._events),
                                        name="kgn-train", daemon=True)
        self._thread.start()
        self._timer.start()
        self._set_state("running")
        return True

    @staticmethod
    def _work(trainer: Trainer, events: queue.Queue) -> None:
        try:
            for ev in trainer.run():
                events.put(("event", ev))
        except Exception as e:  # report, never crash the app from a worker thread
            events.put(("error", f"training failed: {type(e).__name__}: {e}"))
        events.put(("end", None))

    def _drain(self) -> None:
        latest = None
        while True:
            try:
                kind, payload = self._events.get_nowait()
            except queue.Empty:
                break
            if kind == "event":
                if payload.kind == "progress":
                    latest = payload
                else:
                    self.finished.emit(payload)
            elif kind == "error":
                self.failed.emit(payload)
            elif kind == "end":
                self._timer.stop()
                self._set_state("idle")
        if latest is not None:
            self.progress.emit(latest)

    def pause(self) -> None:
        if self.trainer is not None and self.is_busy():
            self.trainer.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self.trainer is not None and self.is_busy():
            self.trainer.resume()
            self._set_state("running")

    def stop(self) -> None:
        if self.trainer is not None and self.is_busy():
            self.trainer.stop()
            self._set_state("stopping")

    def current_weights(self):
        """A copy of the model as it is now (for "use current weights" during training)."""
        if self.trainer is None:
            return None
        return copy.deepcopy(self.trainer.model).cpu().eval()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop and wait for the worker (on window close). True when the thread has ended."""
        if self.trainer is not None:
            self.trainer.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._timer.stop()
        self._drain()
        return self._thread is None or not self._thread.is_alive()
