"""The current model: load, save, recent files, the unsaved flag, and the data it is measured against.

Signals (GUI thread):

* ``modelChanged(Checkpoint)``: a new model (or new weights) is current; views that depend on the model
  reset from it. ``referenceChanged(Dataset | None)`` follows with its training data (or None).
* ``dirtyChanged(bool)``: the current weights came from training or a recovery and are not saved yet.
* ``recentChanged(list[str])``: the recent-files list, newest first.
* ``error(title, message)``: a one-line reason why a file could not be opened or saved.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from ...core.data.dataset import Dataset
from ...core.data.sources import open_source, reference_data
from ...core.errors import Cancelled, CheckpointError, DataError
from ...core.model.checkpoint import Checkpoint, load_checkpoint
from ..jobs import Job

MAX_RECENT = 8


class ModelController(QtCore.QObject):
    modelChanged = QtCore.Signal(object)
    referenceChanged = QtCore.Signal(object)
    dirtyChanged = QtCore.Signal(bool)
    recentChanged = QtCore.Signal(list)
    error = QtCore.Signal(str, str)

    def __init__(self, settings: QtCore.QSettings, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.checkpoint: Checkpoint | None = None
        self.train_data: Dataset | None = None
        self.dirty = False
        self.last_error = ""
        self._datasets: dict[tuple, Dataset] = {}
        self.known: list[Dataset] = []  # data sets in hand that no source key names (just trained on)
        self.accept = lambda ck, train: True  # set by the window: start the chains, False to refuse

    # -- data sets
    def dataset(self, key: str, value_range: tuple[float, float]) -> Dataset:
        """A data source in a value range, opened once (raises DataError)."""
        k = (key, (float(value_range[0]), float(value_range[1])))
        if k not in self._datasets:
            self._datasets[k] = open_source(key, k[1])
        return self._datasets[k]

    def open_job(self, key: str, value_range: tuple[float, float]) -> Job:
        """A Job that opens a data source off the GUI thread (a folder of images or a large file can take
        seconds; a read never blocks the window); its Dataset is cached when it is done."""
        k = (key, (float(value_range[0]), float(value_range[1])))

        def work(progress, cancelled):
            ds = self._datasets.get(k) or open_source(key, k[1])
            if cancelled():
                raise Cancelled(f"import of {Path(key).name} cancelled")
            return ds

        job = Job(work, "import", self)
        job.done.connect(lambda ds: self._datasets.__setitem__(k, ds))
        return job

    def remember(self, ds: Dataset) -> None:
        """A data set in hand that no source key opens again (hand-placed points just trained on)."""
        self.known = [d for d in self.known if d.name != ds.name] + [ds]

    def reference_for(self, ck: Checkpoint) -> Dataset | None:
        """The training data of ``ck`` (core.data.reference_data with what is in hand), or None."""
        known = [*reversed(self.known), *self._datasets.values()]
        try:
            return reference_data(
                str(ck.meta.get("dataset", "")), ck.spec.D, ck.value_range, known=known, opener=self.dataset
            )
        except DataError:
            return None

    # -- models
    def set_checkpoint(self, ck: Checkpoint, dirty: bool = False, train: Dataset | None = None) -> bool:
        """Make ``ck`` current. ``accept(ck, train)`` (the window's) starts its chains; when it refuses,
        the old model stays. ``train``: its training data when known (else looked up)."""
        train = train if train is not None and train.D == ck.spec.D else self.reference_for(ck)
        old = (self.checkpoint, self.train_data)
        # Current before the chains start, so that whatever resets on the new session reads the new model.
        self.checkpoint, self.train_data = ck, train
        if not self.accept(ck, train):
            self.checkpoint, self.train_data = old
            return False
        self.modelChanged.emit(ck)
        self.referenceChanged.emit(train)
        self._set_dirty(dirty)
        return True

    def load(self, path: str | Path, quiet: bool = False) -> bool:
        """Open a model file; False (and ``error``, unless ``quiet``; ``last_error`` either way) if it cannot."""
        self.last_error = ""
        try:
            ck = load_checkpoint(path)
        except Exception as e:  # CheckpointError, or anything a hostile file provokes: one line, never a traceback
            self.last_error = (
                str(e) if isinstance(e, CheckpointError) else f"{Path(path).name}: {type(e).__name__}: {e}"
            )
            if not quiet:
                self.error.emit("Cannot open model", self.last_error)
            return False
        if not self.set_checkpoint(ck, dirty=False):
            return False
        full = str(Path(path).resolve())
        self.add_recent(full)
        self.settings.setValue("chain/last_model", full)
        return True

    def save(self, path: str | Path) -> Path | None:
        ck = self.checkpoint
        if ck is None:
            return None
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        try:
            ck.save(path, name=path.stem)
        except (CheckpointError, OSError) as e:
            self.error.emit("Cannot save model", str(e) if isinstance(e, CheckpointError) else f"{path}: {e}")
            return None
        ck.path = path
        ck.meta["name"] = path.stem
        self._set_dirty(False)
        self.add_recent(str(path.resolve()))
        return path

    def _set_dirty(self, dirty: bool) -> None:
        self.dirty = dirty
        self.dirtyChanged.emit(dirty)  # also when unchanged: the title names the new model

    def title(self) -> str:
        ck = self.checkpoint
        name = ck.name if ck is not None else "no model"
        return f"{name}{'*' if self.dirty else ''} – Kaleidoscope Studio"

    # -- recent files
    def recent(self) -> list[str]:
        # QSettings (INI) hands back a one-item list as a plain string.
        v = self.settings.value("chain/recent", []) or []
        return [v] if isinstance(v, str) else [str(p) for p in v]

    def add_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent() if p != path][: MAX_RECENT - 1]
        self.settings.setValue("chain/recent", recent)
        self.recentChanged.emit(recent)
