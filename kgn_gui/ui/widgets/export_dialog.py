"""File → Export animation: what, which steps, format, speed, scale; runs off the GUI thread. The format and
the file's name are remembered between openings (QSettings export/format and export/name; the caller keeps the
folder as export/last_dir)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ...core.errors import ExportError
from ...core.export.options import FORMATS, SUFFIX, ExportOptions
from ...core.export.targets import output_for

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
            "The grid and a chain are drawn pixel for pixel; the Points view is drawn as kgn export draws it\n"
            "(its chains, trails and field or curve; Compare depths' second panel and the 2-D background are\n"
            "left out); the whole window is rendered by Qt at each step (it shows each step while it exports)"
        )
        self.what.currentIndexChanged.connect(self._what_changed)
        f.addRow("Draw", self.what)
        self.fmt = QtWidgets.QComboBox()
        for k in FORMATS:
            self.fmt.addItem(FORMAT_LABELS[k], k)
        st = QtCore.QSettings()
        self.fmt.setCurrentIndex(max(0, self.fmt.findData(str(st.value("export/format", FORMATS[0])))))
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
        self.overlay = QtWidgets.QCheckBox("step number in a band above the picture")
        self.overlay.setChecked(True)
        f.addRow("", self.overlay)
        name = Path(str(st.value("export/name", "")) or "kaleidoscope").name or "kaleidoscope"
        self.path = QtWidgets.QLineEdit(str(Path(start_dir) / name))
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

    def accept(self) -> None:
        """Remember the format and the file's name for the next opening."""
        st = QtCore.QSettings()
        st.setValue("export/format", self.fmt.currentData())
        name = Path(self.path.text().strip()).name
        if name:
            st.setValue("export/name", name)
        super().accept()

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
        out = self.path.text().strip()
        if not out:
            raise ExportError("name the file to export to")
        output_for(out, opts.fmt)  # y.gif is never written as y.gif.mp4: a clear message, nothing written
        return list(range(a, b + 1, k)), opts, out
