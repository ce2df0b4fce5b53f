"""File → Export animation: what, which steps, format, speed, scale; runs off the GUI thread."""
from __future__ import annotations

import queue
import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ...core.export import FORMATS, SUFFIX, ExportError, ExportOptions, session_frames, write_frames

FORMAT_LABELS = {"gif": "GIF", "apng": "APNG (lossless PNG animation)", "mp4": "MP4 (H.264)",
                 "webm": "WebM (VP9)", "png": "folder of PNG frames"}


class ExportDialog(QtWidgets.QDialog):
    """Asks for the export settings. ``values()`` after ``exec()`` returns them."""

    def __init__(self, parent, t_max: int, n_chains: int, selected: int | None, start_dir: str):
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        f = QtWidgets.QFormLayout(self)
        self.first, self.last, self.every = QtWidgets.QSpinBox(), QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        for w in (self.first, self.last):
            w.setRange(0, 10_000_000)
        self.every.setRange(1, 100_000)
        self.last.setValue(max(t_max, 100))
        self.last.setToolTip("Steps past the last one reached are computed on, deterministically")
        row = QtWidgets.QHBoxLayout()
        for lab, w in (("from", self.first), ("to", self.last), ("every", self.every)):
            row.addWidget(QtWidgets.QLabel(lab))
            row.addWidget(w)
        f.addRow("Steps", row)
        self.what = QtWidgets.QComboBox()
        self.what.addItem(f"the grid ({min(n_chains, 256)} chains)", None)
        if selected is not None:
            self.what.addItem(f"the selected chain (#{selected})", selected)
        f.addRow("Draw", self.what)
        self.fmt = QtWidgets.QComboBox()
        for k in FORMATS:
            self.fmt.addItem(FORMAT_LABELS[k], k)
        f.addRow("Format", self.fmt)
        self.fps = QtWidgets.QDoubleSpinBox()
        self.fps.setRange(0.5, 120)
        self.fps.setValue(20)
        self.fps.setSuffix(" frames/s")
        f.addRow("Speed", self.fps)
        self.scale = QtWidgets.QSpinBox()
        self.scale.setRange(1, 32)
        self.scale.setValue(4)
        self.scale.setSuffix("×")
        self.scale.setToolTip("Nearest-neighbour zoom: pixels stay sharp squares")
        f.addRow("Scale", self.scale)
        self.overlay = QtWidgets.QCheckBox("step number in a corner")
        self.overlay.setChecked(True)
        f.addRow("", self.overlay)
        self.path = QtWidgets.QLineEdit(str(Path(start_dir) / "kaleidoscope"))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        prow = QtWidgets.QHBoxLayout()
        prow.addWidget(self.path, 1)
        prow.addWidget(browse)
        f.addRow("Save to", prow)
        bb = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                        | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        f.addRow(bb)

    def _browse(self) -> None:
        fmt = self.fmt.currentData()
        if fmt == "png":
            p = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for the frames", self.path.text())
        else:
            p, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export to", self.path.text(),
                                                         f"{FORMAT_LABELS[fmt]} (*{SUFFIX[fmt]})")
        if p:
            self.path.setText(p)

    def values(self) -> tuple[list[int], ExportOptions, str]:
        a, b, k = self.first.value(), self.last.value(), self.every.value()
        if b < a:
            raise ExportError("the last step comes before the first")
        opts = ExportOptions(fmt=self.fmt.currentData(), fps=self.fps.value(), scale=self.scale.value(),
                             overlay=self.overlay.isChecked(), chain=self.what.currentData())
        return list(range(a, b + 1, k)), opts, self.path.text().strip()


class ExportJob(QtCore.QObject):
    """One export in a worker thread; ``progress(done, total)``, then ``finished(path)`` or ``failed(msg)``
    (cancelled included), all emitted from the GUI thread by polling."""

    progress = QtCore.Signal(int, int)
    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)

    def __init__(self, session, steps, opts: ExportOptions, out: str, parent=None):
        super().__init__(parent)
        self._q: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        opts.grey = len(session.shape) == 3 and session.shape[0] == 1

        def work():
            try:
                frames = session_frames(session, steps, opts)
                path = write_frames(frames, len(steps), out, opts, progress=lambda d, n: self._q.put(("p", d, n)),
                                    cancelled=self._cancel.is_set)
                self._q.put(("done", str(path)))
            except ExportError as e:  # ExportCancelled included
                self._q.put(("fail", str(e)))
            except Exception as e:  # never a traceback in a dialog
                self._q.put(("fail", f"export failed: {type(e).__name__}: {e}"))

        self._thread = threading.Thread(target=work, name="kgn-export", daemon=True)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        self._thread.start()
        self._timer.start()

    def cancel(self) -> None:
        self._cancel.set()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
        self._poll()

    def _poll(self) -> None:
        last = None
        while True:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                break
            if msg[0] == "p":
                last = msg
            elif msg[0] == "done":
                self._timer.stop()
                self.finished.emit(msg[1])
            else:
                self._timer.stop()
                self.failed.emit(msg[1])
        if last is not None:
            self.progress.emit(last[1], last[2])
