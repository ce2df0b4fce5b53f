"""Inspector: one chain enlarged at the current step, its nearest training example with the
distance, and that chain's own curves (x over the chain's steps, the key in a line under the plot)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...core.chain.curves import CURVE_TITLES, CURVES
from ...core.picture.render import to_uint8
from .plots import COLOURS, fit_y_range, plain_axes


class ImageView(pg.GraphicsLayoutWidget):
    """One chain's picture on a dark mat, whatever the theme (theme.restyle_plots leaves it: ``themed``)."""

    themed = False

    def __init__(self, title: str):
        super().__init__()
        self.setBackground("#181818")
        self.vb = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.vb.setMenuEnabled(False)
        self.img = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.img)
        self.title = title
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt's name)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        """About a square (the picture's): taller, it only grew its dark mat and pushed the curves below the
        fold."""
        return max(int(0.85 * width), self.minimumHeight())

    def show(self, state: np.ndarray, shape, value_range) -> None:
        C, H, W = shape
        a = to_uint8(state.reshape(C, H, W), value_range)
        self.img.setImage(a[0] if C == 1 else a.transpose(1, 2, 0), autoLevels=False, levels=(0, 255))
        self.vb.autoRange(padding=0.02)
        super().show()

    def sizeHint(self) -> QtCore.QSize:
        """A square the width of half the dock: pyqtgraph's 600-px-tall default made the inspector 1,000 px
        tall, with the pictures below the fold."""
        return QtCore.QSize(150, 150)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if getattr(self, "img", None) is not None and self.img.image is not None:  # resized while being built too
            self.vb.autoRange(padding=0.02)  # centred in the new size, not where the last size left it


class CurvesPlot(pg.PlotWidget):
    """The chain's curves. Its size hint is the dock's, not QGraphicsView's 640×480: with that the inspector
    asked its scroll area for 714 px and the curves sat below the fold of a 1400×900 window."""

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(300, CURVES_MIN_HEIGHT)


CURVES_MIN_HEIGHT = 170  # the step axis, its label and ~2 decades of labelled log ticks
CLICK_A_TILE = "Click a tile in the grid to inspect its chain."
POINTS_TEXT = (
    "A points model's chains are drawn in the Points tab (the 1-D view traces one chain's cobweb: pick it in "
    "the box above the plots), their curves in the Plots dock; the inspector shows image chains."
)


class Inspector(QtWidgets.QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.chain_view = ImageView("chain")
        self.nearest_view = ImageView("nearest")
        self.caption = QtWidgets.QLabel(CLICK_A_TILE)
        self.caption.setWordWrap(True)
        self.plot = CurvesPlot()
        self.plot.setBackground("#1e1e1e")
        self.plot.setLabel("bottom", "step t")
        self.plot.enableAutoRange(x=False)  # the chain's steps, set with each step shown
        self.plot.setXRange(0, 16, padding=0.02)
        plain_axes(self.plot)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLogMode(y=True)
        self.plot.setToolTip("This chain's step size, residual and nearest-example distance over the steps")
        self.lines = {k: self.plot.plot(pen=pg.mkPen(COLOURS[k], width=1.5), name=k) for k in CURVES}
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ffd166"))
        self.plot.addItem(self.cursor)
        self.plot.setMinimumHeight(CURVES_MIN_HEIGHT)
        # The key in a line under the plot: a legend over the plot covered the curves of a narrow dock.
        self.key = QtWidgets.QLabel(" &nbsp; ".join(f'<span style="color:{COLOURS[k]}">■</span> {k}' for k in CURVES))
        self.key.setToolTip("\n".join(f"{k}: {CURVE_TITLES[k]}" for k in CURVES))
        self.images = QtWidgets.QWidget()
        imgs = QtWidgets.QHBoxLayout(self.images)
        imgs.setContentsMargins(0, 0, 0, 0)
        for lab, v in (("chain", self.chain_view), ("nearest training example", self.nearest_view)):
            col = QtWidgets.QVBoxLayout()
            col.addWidget(QtWidgets.QLabel(lab))
            col.addWidget(v, 1)
            imgs.addLayout(col)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.images, 2)
        lay.addWidget(self.caption)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.key)
        self.index: int | None = None
        self.image_model = True
        self._y_range = None
        self._edit_lines: list[pg.InfiniteLine] = []

    def show_chain(self, i: int, t: int, state: np.ndarray, shape, value_range, nearest, curves) -> None:
        """nearest: (index, distance, image, label) or None."""
        self.index = i
        self.chain_view.show(state, shape, value_range)
        if nearest is not None:
            j, d, img, label = nearest
            self.nearest_view.show(img, shape, value_range)
            lab = f", label {label}" if label is not None else ""
            self.caption.setText(
                f"chain {i} at step {t}: nearest training example #{j}{lab}, distance {d:.4f} RMS per value"
            )
        else:
            self.caption.setText(f"chain {i} at step {t} (no training data attached for the nearest example)")
        lo, hi, last = np.inf, -np.inf, t
        for k in CURVES:
            y = curves.chain(k, i)
            x = np.arange(len(y))
            ok = np.isfinite(y) & (y > 0)
            self.lines[k].setData(x[ok], y[ok])
            if ok.any():
                lo, hi = min(lo, float(y[ok].min())), max(hi, float(y[ok].max()))
                last = max(last, int(x[ok][-1]))
        # x over the chain's steps, every time: a wheel over the plot (scrolling the dock) had zoomed it out
        # to −400 … 1100 for steps 0 … 574, and pyqtgraph keeps a zoomed view's range.
        self.plot.setXRange(0, max(last, 16), padding=0.02)
        if lo <= hi:  # ≥ 2.5 decades, labelled decades only: pyqtgraph's minor log ticks crowd a small plot
            self._y_range = fit_y_range(self.plot, lo, hi, self._y_range)
        self.cursor.setValue(t)

    def show_edits(self, steps: list[int], note: str) -> None:
        """The steps where the inspected chain was edited (red lines on its curves) and how long it took to
        settle after the last one (in the caption)."""
        for line in self._edit_lines:
            self.plot.removeItem(line)
        self._edit_lines = [
            pg.InfiniteLine(t, angle=90, movable=False, pen=pg.mkPen("#e84855", width=1.5)) for t in steps[-20:]
        ]
        for line in self._edit_lines:
            self.plot.addItem(line)
        if note:
            self.caption.setText(f"{self.caption.text()} · {note}")

    def set_image_model(self, images: bool) -> None:
        """An image model shows the chain's picture and its nearest example; a points model has no pictures
        (its chains are drawn in the Points tab), so the inspector says so instead of showing black."""
        self.image_model = images
        for part in (self.images, self.plot, self.key):  # a points model's curves are in the Plots dock
            part.setVisible(images)
        self.clear()

    def clear(self, text: str | None = None) -> None:
        """Nothing inspected (a new session: the old chain and step are gone); ``text``: the caption (by
        default, what to do next)."""
        if text is None:
            text = CLICK_A_TILE if self.image_model else POINTS_TEXT
        self.index = None
        for view in (self.chain_view, self.nearest_view):
            # A blank picture of the same size, not ImageItem.clear() or a smaller one: the view repaints only
            # what the item covers now, so the old picture stayed on screen (seen under Xvfb).
            old = view.img.image
            blank = np.zeros(old.shape if old is not None else (1, 1), np.uint8)
            view.img.setImage(blank, autoLevels=False, levels=(0, 255))
        self.caption.setText(text)
        for line in self.lines.values():
            line.setData([], [])
        self.show_edits([], "")
        self.cursor.setValue(0)
        self.plot.setXRange(0, 16, padding=0.02)
