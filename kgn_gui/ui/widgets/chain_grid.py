"""The grid of chains at the current step: one pyqtgraph ImageItem, nearest-neighbour scaled."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from ...core.render import states_to_grid


class ChainGrid(pg.GraphicsLayoutWidget):
    """Shows N image states as a mosaic (up to ``max_tiles`` of them)."""

    def __init__(self, parent=None, max_tiles: int = 256):
        super().__init__(parent)
        self.max_tiles = max_tiles
        self.setBackground("#181818")
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self._shape = None
        self._range = (0.0, 1.0)
        self.setMinimumSize(QtCore.QSize(320, 320))

    def set_geometry(self, shape: tuple[int, ...], value_range: tuple[float, float]) -> None:
        self._shape, self._range = tuple(shape), value_range

    def show_states(self, x: np.ndarray) -> None:
        """x: N×D states in the model's value range."""
        if self._shape is None or len(self._shape) != 3:
            return
        mosaic = states_to_grid(x[: self.max_tiles], self._shape, self._range)
        first = self.image.image is None or self.image.image.shape != mosaic.shape
        self.image.setImage(mosaic, autoLevels=False, levels=(0, 255))
        if first:
            self.view.autoRange(padding=0.01)

    def current_image(self) -> np.ndarray | None:
        return self.image.image
