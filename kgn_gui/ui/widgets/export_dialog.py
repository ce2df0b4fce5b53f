"""File → Export animation: what, which steps, format, speed, scale; runs off the GUI thread."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.export import (
    FORMATS,
    SUFFIX,
    ExportCancelled,
    ExportError,
    ExportOptions,
    session_frames,
    stamp,
    write_frames,
)

FORMAT_LABELS = {
    "gif": "GIF",
    "apng": "APNG (lossless PNG animation)",
    "mp4": "MP4 (H.264)",
    "webm": "WebM (VP9)",
    "png": "folder of PNG frames",
}


class ExportDialog(QtWidgets.QDialog):
    """Asks for the export settings. ``values()`` after ``exec()`` returns them."""

    def __init__(
        self, parent, t_max: int, n_chains: int, selected: int | None, start_dir: str, image_model: bool = True
    ):
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
        if image_model:
            self.what.addItem(f"the grid ({min(n_chains, 256)} chains)", "grid")
            if selected is not None:
                self.what.addItem(f"the selected chain (#{selected})", selected)
        else:
            self.what.addItem("the Points view (as on screen)", "points")
        self.what.addItem("the whole window (as on screen)", "window")
        self.what.setToolTip(
            "The grid and a chain are drawn pixel for pixel; the Points view and the window are\n"
            "rendered by Qt at each step (the window shows each step while it exports)"
        )
        self.what.currentIndexChanged.connect(self._what_changed)
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
        self.scale.setToolTip(
            "Nearest-neighbour zoom: pixels stay sharp squares.\n"
            "For the Points view or the window: the rendering scale (drawn sharp, not zoomed)"
        )
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
        bb = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        f.addRow(bb)

    def _what_changed(self) -> None:
        if self.target() in ("points", "window") and self.scale.value() > 2:
            self.scale.setValue(1)

    def target(self) -> str:
        """ "grid", "chain", "points" or "window"."""
        d = self.what.currentData()
        return "chain" if isinstance(d, int) else d

    def _browse(self) -> None:
        fmt = self.fmt.currentData()
        if fmt == "png":
            p = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for the frames", self.path.text())
        else:
            p, _ = QtWidgets.QFileDialog.getSaveFileName(
                self, "Export to", self.path.text(), f"{FORMAT_LABELS[fmt]} (*{SUFFIX[fmt]})"
            )
        if p:
            self.path.setText(p)

    def values(self) -> tuple[list[int], ExportOptions, str]:
        a, b, k = self.first.value(), self.last.value(), self.every.value()
        if b < a:
            raise ExportError("the last step comes before the first")
        d = self.what.currentData()
        opts = ExportOptions(
            fmt=self.fmt.currentData(),
            fps=self.fps.value(),
            scale=self.scale.value(),
            overlay=self.overlay.isChecked(),
            chain=d if isinstance(d, int) else None,
        )
        return list(range(a, b + 1, k)), opts, self.path.text().strip()


class ExportJob(QtCore.QObject):
    """One export of the grid or a chain, encoded in a worker thread; ``progress(done, total)``, then
    ``finished(path)`` or ``failed(msg)`` (cancelled included), all emitted from the GUI thread by
    polling."""

    progress = QtCore.Signal(int, int)
    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)

    def __init__(self, session, steps, opts: ExportOptions, out: str, parent=None):
        super().__init__(parent)
        self._q: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._steps, self._opts, self._out = steps, opts, out
        opts.grey = len(session.shape) == 3 and session.shape[0] == 1
        self._session = session
        self._thread = threading.Thread(target=self._work, name="kgn-export", daemon=True)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)

    def frames(self):
        return session_frames(self._session, self._steps, self._opts)

    def _work(self) -> None:
        try:
            path = write_frames(
                self.frames(),
                len(self._steps),
                self._out,
                self._opts,
                progress=lambda d, n: self._q.put(("p", d, n)),
                cancelled=self._cancel.is_set,
            )
            self._q.put(("done", str(path)))
        except ExportError as e:  # ExportCancelled included
            self._q.put(("fail", str(e)))
        except Exception as e:  # never a traceback in a dialog
            self._q.put(("fail", f"export failed: {type(e).__name__}: {e}"))

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


def render_rgb(widget: QtWidgets.QWidget, size: QtCore.QSize, scale: int) -> np.ndarray:
    """``widget`` drawn by Qt at ``scale``× (sharp, not zoomed) into an H×W×3 uint8 array of ``size``×scale."""
    img = QtGui.QImage(size.width() * scale, size.height() * scale, QtGui.QImage.Format.Format_RGB888)
    img.fill(widget.palette().color(QtGui.QPalette.ColorRole.Window))
    p = QtGui.QPainter(img)
    try:
        p.scale(scale, scale)
        widget.render(p, QtCore.QPoint(0, 0))
    finally:
        p.end()
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


class ViewExportJob(ExportJob):
    """Export of what a widget shows (the Points view or the whole window). Qt draws only in the GUI
    thread, so a zero-interval timer there shows each step (``controller.show_now``) and renders the
    widget, a few frames ahead of the encoder thread; the window stays responsive between frames and
    goes back to the step it showed when the export ends."""

    MAX_SIDE = 8192
    AHEAD = 4

    def __init__(self, controller, widget: QtWidgets.QWidget, steps, opts: ExportOptions, out: str, parent=None):
        super().__init__(controller.session, steps, opts, out, parent)
        opts.grey = False
        self._controller, self._widget = controller, widget
        self._size = widget.size()
        if max(self._size.width(), self._size.height()) * opts.scale > self.MAX_SIDE:
            raise ExportError(
                f"{self._size.width()}×{self._size.height()} at {opts.scale}× is larger than "
                f"{self.MAX_SIDE} pixels; choose a smaller scale"
            )
        self._frames: queue.Queue = queue.Queue()  # at most AHEAD frames wait in it
        self._draw_error: str | None = None
        self._next = 0
        self._restore = controller.view_t
        self._drawer = QtCore.QTimer(self)
        self._drawer.setInterval(0)
        self._drawer.timeout.connect(self._draw_next)

    def frames(self):
        while (item := self._frames.get()) is not None:
            yield item
        if self._draw_error:
            raise ExportError(self._draw_error)
        if self._cancel.is_set():
            raise ExportCancelled("export cancelled; nothing was written")

    def start(self) -> None:
        super().start()
        self._drawer.start()

    def _draw_next(self) -> None:
        if self._frames.qsize() >= self.AHEAD and self._thread.is_alive():
            return
        if self._next >= len(self._steps) or self._cancel.is_set() or not self._thread.is_alive():
            self._finish_drawing()
            return
        t = self._steps[self._next]
        try:
            self._controller.show_now(t)
            frame = render_rgb(self._widget, self._size, self._opts.scale)
            if self._opts.overlay:
                stamp(frame, f"t = {t}")
        except Exception as e:  # e.g. the chain failed: end the export with a message
            self._draw_error = f"export failed at step {t}: {type(e).__name__}: {e}"
            self._finish_drawing()
            return
        self._frames.put((t, frame))
        self._next += 1

    def _finish_drawing(self) -> None:
        self._drawer.stop()
        self._frames.put(None)
        self._controller.seek(min(self._restore, self._controller.t_max))

    def wait(self, timeout: float | None = None) -> None:
        if self._drawer.isActive():
            self._cancel.set()
            self._finish_drawing()
        super().wait(timeout)
