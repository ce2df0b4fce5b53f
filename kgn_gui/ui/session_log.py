"""File → Save session log: every run the window made (each new session of chains: a model, a start, Reset)
with how far it was shown, as the kgn commands or the Python that reproduce them (core.export.as_code)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ..core.errors import LabError
from ..core.export.as_code import LogEntry, run_text, session_log
from ..core.files import atomic_write_text
from ..core.safe_io import reason_of


class SessionLog(QtCore.QObject):
    """Follows the chain controller: a run is logged when the next one replaces it (and the current one when
    the log is written), as far as its chains were shown."""

    def __init__(self, chain, models, parent=None):
        super().__init__(parent)
        self.chain, self.models = chain, models
        self.entries: list[LogEntry] = []
        self._run = None  # (session, start, model path or None, when)
        self._shown = 0  # the furthest step of the current run that was shown
        chain.sessionChanged.connect(self._new_run)
        chain.stepShown.connect(lambda t: setattr(self, "_shown", max(self._shown, int(t))))

    def _entry(self) -> LogEntry | None:
        if self._run is None:
            return None
        s, start, model, when = self._run
        what = f"{s.n} chains of {Path(model).stem if model else 'unsaved weights'} to step {self._shown:,}"
        try:
            text = run_text(model, start, s.sampler_changes(), s.lab, self._shown, n=s.n, seed=s.config.seed)
        except LabError as e:
            return LogEntry(when, what, None, str(e))
        return LogEntry(when, what, text)

    def _new_run(self) -> None:
        done = self._entry()
        if done is not None:
            self.entries.append(done)
        s, ck = self.chain.session, self.models.checkpoint
        model = None if ck is None or ck.path is None or self.models.dirty else str(ck.path)
        self._run = None if s is None else (s, self.chain.start, model, time.strftime("%H:%M:%S"))
        self._shown = 0

    def text(self, form: str = "command") -> str:
        now = self._entry()
        return session_log(self.entries + ([now] if now is not None else []), form)


def save_session_log(w) -> str | None:
    """File → Save session log…: a shell script of kgn commands (.sh) or a Python file (.py)."""
    start = Path(w.settings.value("export/last_dir", str(Path.home())))
    path, filt = QtWidgets.QFileDialog.getSaveFileName(
        w, "Save session log", str(start / "kaleidoscope-session.sh"), "kgn commands (*.sh);;Python (*.py)"
    )
    if not path:
        return None
    form = "python" if path.endswith(".py") or (filt.startswith("Python") and not path.endswith(".sh")) else "command"
    try:
        atomic_write_text(path, w.session_log.text(form))
    except OSError as e:
        w.show_error("Save session log", f"cannot write {Path(path).name}: {reason_of(e)}")
        return None
    w.statusBar().showMessage(f"saved the session log ({len(w.session_log.entries) + 1} runs) to {path}", 8000)
    return path
