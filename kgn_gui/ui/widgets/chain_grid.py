"""The grid of chains at the current step, nearest-neighbour scaled, with the step number in a
corner. Clicking a tile emits ``tileClicked(index)``.

A plain QWidget that blits one RGB32 QImage: per frame that is one numpy conversion and one
scaled ``drawImage`` in C++, a few times cheaper than a pyqtgraph scene (which matters: the
display shares two cores with the chain worker)."""

from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.render import states_to_grid


def _to_rgb32(mosaic: np.ndarray) -> np.ndarray:
    """H×W grey or H×W×3 uint8 → H×W uint32 0xFFRRGGBB (QImage.Format_RGB32, little-endian BGRA)."""
    if mosaic.ndim == 2:
        g = mosaic.astype(np.uint32)
        return (0xFF000000 | (g << 16) | (g << 8) | g).astype(np.uint32)
    r, g, b = (mosaic[..., i].astype(np.uint32) for i in range(3))
    return (0xFF000000 | (r << 16) | (g << 8) | b).astype(np.uint32)


class ChainGrid(QtWidgets.QWidget):
    """Shows N image states as a mosaic (up to ``max_tiles`` of them)."""

    tileClicked = QtCore.Signal(int)

    def __init__(self, parent=None, max_tiles: int = 256):
        super().__init__(parent)
        self.max_tiles = max_tiles
        self._shape: tuple[int, ...] | None = None
        self._range = (0.0, 1.0)
        self._cols = 1
        self._n = 0
        self._pad = 1
        self._mosaic: np.ndarray | None = None
        self._rgb: np.ndarray | None = None
        self._qimage: QtGui.QImage | None = None
        self._label = ""
        self._message = ""
        self._selected: int | None = None
        self.setMinimumSize(QtCore.QSize(200, 200))
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setToolTip("The chains at the current step. Click a tile to inspect that chain.")

    def set_geometry(self, shape: tuple[int, ...], value_range: tuple[float, float]) -> None:
        self._shape, self._range = tuple(shape), value_range
        self._mosaic = self._qimage = self._rgb = None
        self._selected = None
        self._message = ""
        self.update()

    def show_states(self, x: np.ndarray, step: int | None = None) -> None:
        """x: N×D states in the model's value range (only the first ``max_tiles`` are drawn)."""
        if self._shape is None:
            return
        if step is not None:
            self._label = f"t = {step}"
        if len(self._shape) != 3:
            self._mosaic = self._qimage = None
            self._message = f"A {self._shape[0]}-D points model: the curves and the histogram follow its chains."
            self.update()
            return
        x = x[: self.max_tiles]
        self._n = x.shape[0]
        self._cols = max(1, math.ceil(math.sqrt(self._n)))
        self._mosaic = states_to_grid(x, self._shape, self._range, cols=self._cols, pad=self._pad)
        self._rgb = np.ascontiguousarray(_to_rgb32(self._mosaic))
        h, w = self._rgb.shape
        self._qimage = QtGui.QImage(self._rgb.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGB32)
        self.update()

    def current_image(self) -> np.ndarray | None:
        """The mosaic last shown (uint8, H×W grey or H×W×3)."""
        return self._mosaic

    # -- geometry
    def _target(self) -> QtCore.QRectF:
        if self._rgb is None:
            return QtCore.QRectF()
        h, w = self._rgb.shape
        s = min((self.width() - 8) / w, (self.height() - 8) / h)
        if s >= 1:
            s = math.floor(s) if s >= 2 else s  # whole-number zoom keeps pixels square
        return QtCore.QRectF((self.width() - w * s) / 2, (self.height() - h * s) / 2, w * s, h * s)

    def tile_rect(self, i: int) -> QtCore.QRectF:
        """Tile i in mosaic pixel coordinates."""
        _, H, W = self._shape
        r, c = divmod(i, self._cols)
        return QtCore.QRectF(self._pad + c * (W + self._pad), self._pad + r * (H + self._pad), W, H)

    def tile_at(self, x: float, y: float) -> int | None:
        """The tile under mosaic pixel coordinates (x, y), or None."""
        if self._shape is None or len(self._shape) != 3:
            return None
        _, H, W = self._shape
        c, r = int(x // (W + self._pad)), int(y // (H + self._pad))
        if x < 0 or y < 0 or c >= self._cols:
            return None
        i = r * self._cols + c
        return i if i < self._n else None

    @property
    def selected(self) -> int | None:
        """The tile marked as inspected (None: none)."""
        return self._selected

    def select(self, i: int | None) -> None:
        self._selected = i
        self.update()

    # -- events
    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        t = self._target()
        if t.isEmpty() or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        h, w = self._rgb.shape
        p = ev.position()
        i = self.tile_at((p.x() - t.x()) * w / t.width(), (p.y() - t.y()) * h / t.height())
        if i is not None:
            self.select(i)
            self.tileClicked.emit(i)

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("#181818"))
        if self._qimage is not None:
            t = self._target()
            p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawImage(t, self._qimage)
            if self._selected is not None and self._selected < self._n:
                h, w = self._rgb.shape
                r = self.tile_rect(self._selected)
                sx, sy = t.width() / w, t.height() / h
                p.setPen(QtGui.QPen(QtGui.QColor("#ff9f1c"), 2))
                p.drawRect(
                    QtCore.QRectF(
                        t.x() + r.x() * sx - 1, t.y() + r.y() * sy - 1, r.width() * sx + 2, r.height() * sy + 2
                    )
                )
        if self._message:
            p.setPen(QtGui.QColor("#dddddd"))
            p.drawText(self.rect().adjusted(20, 20, -20, -20), QtCore.Qt.TextFlag.TextWordWrap, self._message)
        if self._label:
            f = p.font()
            f.setFamily("monospace")
            f.setPointSize(max(9, f.pointSize()))
            p.setFont(f)
            fm = QtGui.QFontMetrics(f)
            box = QtCore.QRect(8, 8, fm.horizontalAdvance(self._label) + 12, fm.height() + 6)
            p.fillRect(box, QtGui.QColor(0, 0, 0, 170))
            p.setPen(QtGui.QColor("#ffd166"))
            p.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, self._label)
        p.end()
