"""A paint canvas at the model's resolution: draw a start input with the mouse."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets


class PaintCanvas(QtWidgets.QWidget):
    """Holds an H×W "ink" array in [0, 1] (0 = background, 1 = full ink), drawn with a round brush.

    Left button paints (or erases in eraser mode), Ctrl+Z undoes the last stroke. ``changed`` is
    emitted after every stroke and edit."""

    changed = QtCore.Signal()

    def __init__(self, height: int = 28, width: int = 28, parent=None):
        super().__init__(parent)
        self.ink = np.zeros((height, width), np.float32)
        self.brush = 1.5
        self.eraser = False
        self._undo: list[np.ndarray] = []
        self._drawing = False
        self.setMinimumSize(168, 168)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.setCursor(QtCore.Qt.CursorShape.CrossCursor)
        self.setToolTip(
            "Draw a start input with the mouse; it starts one chain or all of them. Ctrl+Z / Ctrl+Shift+Z undo "
            "and redo a stroke while the canvas has the keyboard (click it)"
        )
        # Clicking gives it the focus: Edit → Undo / Redo (the window's Ctrl+Z) then act on its strokes.
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self._redo: list[np.ndarray] = []

    # -- editing
    def resize_canvas(self, height: int, width: int) -> None:
        if self.ink.shape != (height, width):
            self.ink = np.zeros((height, width), np.float32)
            self._undo.clear()
            self._redo.clear()
            self.update()

    def _push_undo(self) -> None:
        self._undo.append(self.ink.copy())
        del self._undo[:-50]
        self._redo.clear()

    def undo(self) -> bool:
        """The ink before the last stroke (or clear, invert, image); False when there is none."""
        if not self._undo:
            return False
        self._redo.append(self.ink)
        self.ink = self._undo.pop()
        self.update()
        self.changed.emit()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self.ink)
        self.ink = self._redo.pop()
        self.update()
        self.changed.emit()
        return True

    def clear(self) -> None:
        self._push_undo()
        self.ink[:] = 0
        self.update()
        self.changed.emit()

    def invert(self) -> None:
        self._push_undo()
        self.ink = 1.0 - self.ink
        self.update()
        self.changed.emit()

    def set_ink(self, ink: np.ndarray) -> None:
        self._push_undo()
        self.ink = np.clip(np.asarray(ink, np.float32), 0, 1).reshape(self.ink.shape)
        self.update()
        self.changed.emit()

    def dab(self, cx: float, cy: float) -> None:
        """Apply the brush at canvas-pixel coordinates (cx, cy) (pixel centres at +0.5)."""
        h, w = self.ink.shape
        ys, xs = np.mgrid[0:h, 0:w]
        d = np.hypot(xs + 0.5 - cx, ys + 0.5 - cy)
        # Soft edge one pixel wide, like a pen on MNIST's anti-aliased digits.
        a = np.clip(self.brush + 0.5 - d, 0.0, 1.0)
        self.ink = np.minimum(self.ink, 1 - a) if self.eraser else np.maximum(self.ink, a)

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """Paint a polyline given in canvas-pixel coordinates (one undo step)."""
        self._push_undo()
        for (x0, y0), (x1, y1) in zip(points, points[1:] or points):
            n = max(1, int(np.hypot(x1 - x0, y1 - y0) * 3))
            for k in range(n + 1):
                self.dab(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n)
        self.update()
        self.changed.emit()

    # -- mouse
    def _to_canvas(self, pos: QtCore.QPointF) -> tuple[float, float]:
        r = self._target()
        h, w = self.ink.shape
        return (pos.x() - r.x()) / r.width() * w, (pos.y() - r.y()) / r.height() * h

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            self._push_undo()
            self._drawing = True
            self._last = self._to_canvas(ev.position())
            self.dab(*self._last)
            self.update()

    def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:
        if self._drawing:
            p = self._to_canvas(ev.position())
            n = max(1, int(np.hypot(p[0] - self._last[0], p[1] - self._last[1]) * 3))
            for k in range(1, n + 1):
                self.dab(self._last[0] + (p[0] - self._last[0]) * k / n, self._last[1] + (p[1] - self._last[1]) * k / n)
            self._last = p
            self.update()

    def mouseReleaseEvent(self, ev: QtGui.QMouseEvent) -> None:
        if self._drawing:
            self._drawing = False
            self.changed.emit()

    # -- drawing
    def _target(self) -> QtCore.QRectF:
        h, w = self.ink.shape
        side = min(self.width() / w, self.height() / h)
        tw, th = side * w, side * h
        return QtCore.QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), self.palette().color(QtGui.QPalette.ColorRole.Window))  # the theme's
        a = np.ascontiguousarray((self.ink * 255).astype(np.uint8))
        h, w = a.shape
        img = QtGui.QImage(a.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8)
        p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(self._target(), img)
        p.setPen(QtGui.QPen(QtGui.QColor("#ff9f1c"), 1))
        p.drawRect(self._target())
        p.end()
