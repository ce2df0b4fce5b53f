"""Runs training in a child process for the window (see ``core/model/train_worker.py`` for why).

The controller lives in the GUI thread: it spawns the worker process, sends it typed commands
(``core.messages.Command``) over a pipe and drains its typed answers (``Progress``, ``Ended``, …)
on its own timer, dispatching on their type and re-emitting them as Qt signals, so slots always
run in the GUI thread; a message of an unknown type is ignored. ``run`` (a :class:`TrainingRun`)
mirrors the worker's progress: step, losses, best loss, and at the end the trained model.
"""

from __future__ import annotations

import math
import os
import queue
import shutil
import tempfile
from dataclasses import asdict, dataclass, field

import numpy as np
from PySide6 import QtCore

from ...core.data.dataset import Dataset
from ...core.errors import CheckpointError, TrainError
from ...core.messages import (
    Command,
    Ended,
    Failed,
    Progress,
    RecoverySaved,
    Snapshot,
    SnapshotFailed,
    TrainWarning,
    close_channel,
    spawn_child,
)
from ...core.model.architectures import ModelSpec
from ...core.model.checkpoint import Checkpoint, load_checkpoint
from ...core.model.recovery import recovery_dir, recovery_prefix
from ...core.model.train import TrainConfig, TrainEvent
from ...core.model.train_worker import cores_for_training, train_worker

# The one refusal of a second training while one runs (the Training dock, the Points tab, Compare depths).
BUSY = "a training is running: stop it first (Training → Stop)"
# How far the training child lowers its priority: below a window that plays, it keeps the frames (issue 31:
# 1–3 fps while training); against an idle window it loses nothing.
TRAINING_NICE = 10


@dataclass
class TrainingRun:
    """What the parent knows of one training run."""

    spec: ModelSpec
    dataset: Dataset
    config: TrainConfig
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    step: int = 0
    best_loss: float = math.inf
    last_event: object = None
    final_path: str | None = None
    recipe: dict = field(default_factory=dict)
    recovery_path: str | None = None  # the worker's latest recovery checkpoint (deleted once the run ends)
    used: bool = False  # its weights became the current model, were saved to a file, or were let go when asked

    def checkpoint(self, path: str | None = None) -> Checkpoint:
        """The trained model (or a snapshot file) as a checkpoint for the chain."""
        return load_checkpoint(path or self.final_path)


def _how_it_ended(exitcode: int | None) -> str:
    """A child process's exit code for people: "killed by SIGKILL: out of memory, or from outside"."""
    import signal

    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    return f"killed by {name}" + (": out of memory, or from outside" if name == "SIGKILL" else "")


class TrainingController(QtCore.QObject):
    """start / pause / resume / stop training; signals come from the GUI thread.

    progress(TrainEvent): at most every ``poll_ms``. finished(TrainEvent): done, stopped or diverged,
    after the trained weights are saved (``run.final_path``). failed(str): could not start, or crashed.
    warning(str): something the user should know that does not stop training (a recovery checkpoint
    could not be written). recoverable(str): the process ended without a word (killed, out of memory) and
    left this recovery checkpoint of its best weights so far (after ``failed``).
    weightsReady(object): a Checkpoint of the current weights, answering :meth:`request_weights`.
    stateChanged(str): idle, running, paused, stopping."""

    progress = QtCore.Signal(object)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    weightsReady = QtCore.Signal(object)
    stateChanged = QtCore.Signal(str)
    warning = QtCore.Signal(str)
    recoverable = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject | None = None, poll_ms: int = 50, recovery_every_s: float = 60.0):
        super().__init__(parent)
        self.recovery_every_s = recovery_every_s  # 0: no recovery checkpoints
        self.run: TrainingRun | None = None
        # A finished run whose weights are shown beside the current model and are in no file (Compare depths'
        # second depth): the unsaved-work guard asks about it before the comparison is closed.
        self.beside: TrainingRun | None = None
        self._proc = None
        self._conn = None
        self._queue = None
        self._dir: str | None = None
        # Every run's folder stays until shutdown: a finished run's weights can still be used after another
        # run (the Points tab's, say) has started.
        self._dirs: list[str] = []
        self._state = "idle"
        self._window_busy = False  # (share_cores) whether the window computes: training shares the cores then
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._drain)

    @property
    def state(self) -> str:
        return self._state

    def is_busy(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _set_state(self, s: str) -> None:
        if s != self._state:
            self._state = s
            self.stateChanged.emit(s)

    def start(
        self,
        spec: ModelSpec,
        dataset: Dataset,
        config: TrainConfig,
        source: tuple[str, tuple[float, float], tuple[int, int]] | None = None,
    ) -> bool:
        """Begin training in a child process; False (and ``failed``) if the settings are refused.

        source: (data-source key, value range, image size) the child re-opens the data from; without
        it the data set's arrays are sent to the child."""
        if self.is_busy():
            self.failed.emit(BUSY)
            return False
        try:
            config.validate()
            if dataset.D != spec.D:
                raise TrainError(f"the model expects D = {spec.D} values per sample but {dataset.name} has {dataset.D}")
        except (TrainError, ValueError) as e:
            self.failed.emit(str(e))
            return False
        self._dir = tempfile.mkdtemp(prefix="kgn-train-")
        self._dirs.append(self._dir)
        job = {
            "spec": spec.to_dict(),
            "config": config.to_dict(),
            "threads": cores_for_training(self._window_busy),
            "nice": TRAINING_NICE,
            "out_dir": self._dir,
            "source": source,
        }
        if source is None:
            job["data"] = {k: v for k, v in asdict(dataset).items()}
        if self.recovery_every_s > 0:
            job["recovery"] = {
                "folder": str(recovery_dir()),
                "every_s": self.recovery_every_s,
                "source": source[0] if source else None,
                "app_pid": os.getpid(),
            }
        self.run = TrainingRun(spec, dataset, config, losses=np.full(config.steps, np.nan, np.float32))
        self._proc, self._queue, self._conn = spawn_child(train_worker, job, "kgn-train")
        self._timer.start()
        self._set_state("running")
        return True

    def _send(self, cmd: Command) -> None:
        if self._conn is not None and self.is_busy():
            try:
                self._conn.send(cmd)
            except (BrokenPipeError, OSError):
                pass

    def _drain(self) -> None:
        latest = None
        # Looked at before reading: whatever the child put before it ended is in the queue by now.
        ended = self._proc is not None and not self._proc.is_alive()
        while self._queue is not None:
            try:
                msg = self._queue.get_nowait()
            except (queue.Empty, EOFError, OSError):
                break
            run = self.run
            match msg:
                case Progress(event=ev, first=first, losses=losses):
                    run.losses[first : first + len(losses)] = losses
                    run.step, run.best_loss, run.last_event = ev.step, ev.best_loss, ev
                    if ev.kind == "progress":
                        latest = ev
                case RecoverySaved(path=path):
                    run.recovery_path = path
                case TrainWarning(message=text):
                    self.warning.emit(text)
                case Ended(event=ev, path=path, recipe=recipe):
                    run.final_path, run.recipe, run.last_event = path, recipe, ev
                    if run.recovery_path:  # the app has the result now: nothing left to recover
                        try:
                            os.unlink(run.recovery_path)
                        except OSError:
                            pass
                    if ev is not None:
                        run.step, run.best_loss = ev.step, ev.best_loss
                    if latest is not None:  # drained together with the end: still shown
                        self.progress.emit(latest)
                    self._finish()
                    if ev is not None:
                        self.finished.emit(ev)
                    return
                case Snapshot(path=path):
                    try:
                        self.weightsReady.emit(run.checkpoint(path))
                    except CheckpointError as e:
                        self.failed.emit(f"could not read the current weights: {e}")
                case SnapshotFailed(message=text):
                    self.failed.emit(text)
                case Failed(message=text):
                    self.failed.emit(text)
                    self._finish()
                    return
                case _:  # an unknown message (another version of the worker): ignored
                    pass
        if latest is not None:
            self.progress.emit(latest)
        if ended and self._state != "idle":
            # The child ended without saying so (killed, out of memory): report it, stay usable, and offer
            # the weights its last recovery checkpoint holds.
            code, kept = self._proc.exitcode, self.run.recovery_path
            self._finish()
            kept = kept if kept and os.path.isfile(kept) else None
            self.failed.emit(f"the training process ended unexpectedly ({_how_it_ended(code)})" + (
                f"; its weights of step {self.run.step:,} or before are kept" if kept else "; no weights were kept"))  # fmt: skip
            if kept:
                self.recoverable.emit(kept)

    def _finish(self) -> None:
        self._timer.stop()
        if self._proc is not None:
            self._proc.join(5.0)
        self._set_state("idle")

    def share_cores(self, window_busy: bool) -> None:
        """The window computes (True: its chains play or a job runs; training keeps all cores but one) or rests
        (False: all of them), from the training's next step; remembered for the next training. Measured on 2
        cores (MNIST recipe): 7.5 steps/s on both alone, 4.1 on one; beside a busy thread 2.2 on both, 3.0 on one."""
        if window_busy != self._window_busy:
            self._window_busy = window_busy
            self._send(Command.SHARE_CORES if window_busy else Command.ALL_CORES)

    def pause(self) -> None:
        if self.is_busy():
            self._send(Command.PAUSE)
            self._set_state("paused")

    def resume(self) -> None:
        if self.is_busy():
            self._send(Command.RESUME)
            self._set_state("running")

    def stop(self) -> None:
        """Stop after the current step (the worker saves the best weights and reports "stopped"). Before the
        worker has reported its first step (it is still starting: importing torch, reading the data) there
        is nothing to keep: the process is ended at once and "stopped" is reported without weights."""
        if not self.is_busy():
            return
        run = self.run
        if run is not None and run.last_event is None and self._queue is not None and self._queue.empty():
            self._proc.terminate()
            self._proc.join(5.0)
            self._finish()
            self.finished.emit(
                TrainEvent(
                    "stopped",
                    0,
                    run.config.steps,
                    math.nan,
                    math.inf,
                    0.0,
                    math.inf,
                    0.0,
                    "cancelled while the training process was starting",
                )
            )
            return
        self._send(Command.STOP)
        self._set_state("stopping")

    def finish_now(self, timeout_s: float = 60.0) -> TrainingRun | None:
        """Stop the run and wait (at most ``timeout_s``) until the worker has saved its best weights; the run
        (``final_path`` set), or None when it ended without weights or did not end in time."""
        import time

        run = self.run
        if not self.is_busy():
            return run if run is not None and run.final_path else None
        self.stop()
        deadline = time.monotonic() + timeout_s
        while self._state != "idle" and time.monotonic() < deadline:
            self._drain()
            time.sleep(0.02)
        return run if run is not None and run.final_path else None

    def request_weights(self) -> bool:
        """Ask the worker for its current weights; ``weightsReady`` brings them. False when not training."""
        if not self.is_busy():
            return False
        self._send(Command.SNAPSHOT)
        return True

    def shutdown(self, timeout_s: float = 10.0, *, keep_recovery: bool = True) -> bool:
        """Stop the worker and wait for it (on window close). True when the process has ended. The worker
        leaves a recovery checkpoint of its best weights as it stops (the next start offers it);
        ``keep_recovery=False`` (the user chose to discard the run) removes it once the process has ended."""
        pid = self._proc.pid if self._proc is not None else None
        if self._proc is not None:
            self._send(Command.STOP)
            self._proc.join(timeout_s)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(2.0)
        self._timer.stop()
        close_channel(self._conn, self._queue)
        self._conn = self._queue = None
        self._set_state("idle")
        self._cleanup_dir()
        ended = self._proc is None or not self._proc.is_alive()
        if not keep_recovery and pid is not None and ended:
            for path in recovery_dir().glob(f"{recovery_prefix(pid)}*"):
                path.unlink(missing_ok=True)
        return ended

    def _cleanup_dir(self) -> None:
        for d in self._dirs:
            shutil.rmtree(d, ignore_errors=True)
        self._dirs.clear()
        self._dir = None
