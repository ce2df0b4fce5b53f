"""The grid of chains at the current step: one pyqtgraph ImageItem, nearest-neighbour scaled,
with the step number drawn in a corner. Clicking a tile emits ``tileClicked(index)``."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from ...core.render import states_to_grid


class ChainGrid(pg.GraphicsLayoutWidget):
    """Shows N image states as a mosaic (up to ``max_tiles`` of them)."""

    tileClicked = QtCore.Signal(int)

    def __init__(self, parent=None, max_tiles: int = 256):
        super().__init__(parent)
        self.max_tiles = max_tiles
        self.setBackground("#181818")
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.label = pg.TextItem("", color="#ffd166", anchor=(0, 0), fill=pg.mkBrush(0, 0, 0, 170))
        self.label.setZValue(10)
        self.view.addItem(self.label)
        self.selection = pg.QtWidgets.QGraphicsRectItem()
        self.selection.setPen(pg.mkPen("#ff9f1c", width=2))
        self.selection.setZValue(9)
        self.selection.hide()
        self.view.addItem(self.selection)
        self._shape: tuple[int, ...] | None = None
        self._range = (0.0, 1.0)
        self._cols = 1
        self._n = 0
        self._pad = 1
        self.setMinimumSize(QtCore.QSize(280, 280))
        self.setToolTip("The chains at the current step. Click a tile to inspect that chain.")
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_geometry(self, shape: tuple[int, ...], value_range: tuple[float, float]) -> None:
        self._shape, self._range = tuple(shape), value_range
        self.image.clear()
        self.selection.hide()

    def show_states(self, x: np.ndarray, step: int | None = None) -> None:
        """x: N×D states in the model's value range (only the first ``max_tiles`` are drawn)."""
        if self._shape is None:
            return
        if len(self._shape) != 3:
            self.image.clear()
            self.label.setText(f"t = {step}: a {self._shape[0]}-D points model. The curves and histogram "
                               "below follow its chains.")
            return
        x = x[: self.max_tiles]
        self._n = x.shape[0]
        self._cols = max(1, math.ceil(math.sqrt(self._n)))
        mosaic = states_to_grid(x, self._shape, self._range, cols=self._cols, pad=self._pad)
        first = self.image.image is None or self.image.image.shape != mosaic.shape
        self.image.setImage(mosaic, autoLevels=False, levels=(0, 255))
        if first:
            self.view.autoRange(padding=0.01)
        if step is not None:
            self.label.setText(f"t = {step}")

    def current_image(self) -> np.ndarray | None:
        return self.image.image

    def tile_rect(self, i: int) -> QtCore.QRectF:
        _, H, W = self._shape
        r, c = divmod(i, self._cols)
        return QtCore.QRectF(self._pad + c * (W + self._pad), self._pad + r * (H + self._pad), W, H)

    def select(self, i: int | None) -> None:
        if i is None or self._shape is None or i >= self._n:
            self.selection.hide()
            return
        self.selection.setRect(self.tile_rect(i).adjusted(-0.5, -0.5, 0.5, 0.5))
        self.selection.show()

    def tile_at(self, x: float, y: float) -> int | None:
        """The tile under image coordinates (x, y), or None."""
        if self._shape is None:
            return None
        _, H, W = self._shape
        c, r = int(x // (W + self._pad)), int(y // (H + self._pad))
        if c < 0 or r < 0 or c >= self._cols:
            return None
        i = r * self._cols + c
        return i if i < self._n else None

    def _clicked(self, ev) -> None:
        p = self.view.mapSceneToView(ev.scenePos())
        i = self.tile_at(p.x(), p.y())
        if i is not None:
            self.select(i)
            self.tileClicked.emit(i)
