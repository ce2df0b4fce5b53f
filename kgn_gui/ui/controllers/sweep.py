"""Runs ``kgn sweep`` (the same core function as the command line) in a child process for the window:
training many models in the GUI's process would stall its event loop (see controllers/training.py).
Progress comes from the command's plain "done/total" lines; Cancel kills the process."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PySide6 import QtCore

_PROGRESS = re.compile(r"^(\d+)/(\d+) sweep")


class SweepRun(QtCore.QObject):
    """progress(permille), message(line), finished(folder), failed(message)."""

    progress = QtCore.Signal(int)
    message = QtCore.Signal(str)
    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)

    def __init__(self, args: list[str], out: str | Path, parent=None):
        super().__init__(parent)
        self.out = str(out)
        self._cancelled = False
        self._err: list[str] = []
        self.proc = QtCore.QProcess(self)
        self.proc.setProgram(sys.executable)
        self.proc.setArguments(["-m", "kgn_gui.cli", "sweep", *args, "-o", self.out])
        self.proc.setWorkingDirectory(str(Path(__file__).resolve().parents[3]))
        self.proc.readyReadStandardOutput.connect(self._read_out)
        self.proc.readyReadStandardError.connect(self._read_err)
        self.proc.finished.connect(self._done)
        self.proc.errorOccurred.connect(self._error)

    def start(self) -> SweepRun:
        self.proc.start()
        return self

    def cancel(self) -> None:
        self._cancelled = True
        self.proc.kill()

    def running(self) -> bool:
        return self.proc.state() != QtCore.QProcess.ProcessState.NotRunning

    def _lines(self, data) -> list[str]:
        return [ln.strip() for ln in bytes(data).decode("utf-8", "replace").splitlines() if ln.strip()]

    def _read_out(self) -> None:
        for ln in self._lines(self.proc.readAllStandardOutput()):
            self._parse(ln)

    def _read_err(self) -> None:
        for ln in self._lines(self.proc.readAllStandardError()):
            if not self._parse(ln):
                self._err.append(ln)
                self.message.emit(ln)

    def _parse(self, ln: str) -> bool:
        m = _PROGRESS.match(ln)
        if m:
            self.progress.emit(int(1000 * int(m.group(1)) / max(1, int(m.group(2)))))
        return bool(m)

    def _done(self, code: int, _status) -> None:
        if self._cancelled:
            self.failed.emit("cancelled")
        elif code == 0:
            self.finished.emit(self.out)
        else:
            errors = [ln for ln in self._err if "error" in ln]
            self.failed.emit((errors or self._err or [f"the sweep stopped (exit status {code})"])[-1])

    def _error(self, err) -> None:
        if err == QtCore.QProcess.ProcessError.FailedToStart:
            self.failed.emit("could not start the sweep process")
