"""Save any plot widget as a figure: PNG (a pixel grab) or SVG (vector, via QSvgGenerator).

pyqtgraph's own SVG exporter fails on Qt ≥ 6.10 ("not enough values to unpack", pyqtgraph issue
#3485: Qt now writes path coordinates in another form), so SVG goes through Qt's generator here.
Both are written to a temporary name and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from ...core.files import atomic_path


def save_figure(widget: QtWidgets.QWidget, path: str | os.PathLike, scale: float = 2.0) -> Path:
    """Write ``widget`` to ``path`` (.png or .svg). Raises OSError with a clear message on failure."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        path = path.with_suffix(".png")
        suffix = ".png"
    with atomic_path(path) as tmp:
        if suffix == ".svg":
            gen = QtSvg.QSvgGenerator()
            gen.setFileName(str(tmp))
            gen.setSize(widget.size())
            gen.setViewBox(QtCore.QRect(QtCore.QPoint(0, 0), widget.size()))
            gen.setTitle(widget.windowTitle() or "Kaleidoscope Studio figure")
            painter = QtGui.QPainter()
            if not painter.begin(gen):
                raise OSError("the SVG could not be started")
            # (a QGraphicsView overrides render with another signature)
            QtWidgets.QWidget.render(widget, painter, QtCore.QPoint(0, 0))
            painter.end()
        else:
            pix = QtGui.QPixmap(widget.size() * scale)
            pix.setDevicePixelRatio(scale)
            pix.fill(QtCore.Qt.GlobalColor.transparent)
            QtWidgets.QWidget.render(widget, pix)
            if not pix.save(str(tmp), "PNG"):
                raise OSError("the PNG could not be encoded")
        if tmp.stat().st_size == 0:
            raise OSError("nothing was written")
    return path


def add_save_action(plot_widget, title: str) -> None:
    """Add "Save figure (PNG or SVG)…" to a pyqtgraph PlotWidget's right-click menu."""
    menu = plot_widget.getPlotItem().vb.menu

    def save():
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            plot_widget, f"Save {title}", f"{title}.svg", "SVG (*.svg);;PNG (*.png)"
        )
        if path:
            try:
                save_figure(plot_widget, path)
            except OSError as e:
                QtWidgets.QMessageBox.warning(plot_widget, "Save figure", str(e))

    menu.addSeparator()
    menu.addAction("Save figure (PNG or SVG)…", save)
