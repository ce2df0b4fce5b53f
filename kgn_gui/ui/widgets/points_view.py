"""The Points workspace: the paper's 1-D and 2-D experiments, by hand.

Edit the training points (click to add, drag to move, right-click to remove, or a preset), train,
and watch over-generalization: in 1-D the output manifold f(x) against the identity with its flat
(many-to-one) regions shaded, the loss manifold (f(x) − x)² beneath, the chains as dots moving
along the x-axis, a cobweb of the selected chain and a histogram of chain positions; in 2-D the
loss landscape or the basin map as a background, the vector field f(x) − x, and the chains as dots
with fading trails. The transport bar drives it like the image grid.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...core.data.sources import POINT_PRESETS
from ...core.picture.points import (
    basin_map,
    basin_occupancy,
    flat_regions,
    loss_landscape,
    loss_manifold,
    output_manifold,
    output_of,
    vector_field,
)
from .plots import TrailImage, nice_ticks, plain_axes, set_title

BASIN_COLOURS = [
    (76, 201, 240),
    (247, 37, 133),
    (144, 190, 109),
    (155, 93, 229),
    (67, 97, 238),
    (241, 91, 181),
    (0, 187, 249),
    (254, 228, 64),
]
TRAIL = 8


NO_MODEL = (
    "No points model loaded (this tab shows 1-D and 2-D points models): pick a preset, or click to place points "
    "and train."
)


def trail_alpha(k: int) -> int:
    """The opacity of a chain's position k steps back (1 … TRAIL): fading with age."""
    return int(180 * (1 - k / (TRAIL + 1)))


class EditViewBox(pg.ViewBox):
    """A ViewBox whose left-drag moves the training point under the mouse (and does not pan)."""

    def __init__(self, owner: PointsView, **kw):
        super().__init__(**kw)
        self.owner = owner
        self._drag = None

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._drag = None if self.owner.read_only else self.owner.point_near(p.x(), p.y())
            if self._drag is None:
                ev.ignore()
                return
        ev.accept()
        if self._drag is not None:
            self.owner.move_point(self._drag, p.x(), p.y(), final=ev.isFinish())
            if ev.isFinish():
                self._drag = None


class PointsView(QtWidgets.QWidget):
    """Shows a points model; edits the training points. ``pointsChanged`` after every edit."""

    pointsChanged = QtCore.Signal()
    trainRequested = QtCore.Signal(str)  # the preset name, or "" for hand-made points
    presetPicked = QtCore.Signal(str)  # a person picked a preset in the box (not a model setting it)
    compareRequested = QtCore.Signal(int, int)  # depths L_a, L_b

    def __init__(self, parent=None, read_only: bool = False):
        super().__init__(parent)
        self.read_only = read_only
        self.points = np.array(POINT_PRESETS["1d-sigmoid"][0], np.float32)
        self.value_range = POINT_PRESETS["1d-sigmoid"][1]
        self.preset = "1d-sigmoid"
        self.model = None
        self.dim = 1
        self.selected_chain = 0
        self._trails: list[np.ndarray] = []

        self.preset_box = QtWidgets.QComboBox()
        self.preset_box.addItems(list(POINT_PRESETS) + ["custom 1-D", "custom 2-D"])
        self.preset_box.setToolTip(
            "The paper's point sets, or your own: click to add a point, drag to move it, right-click to remove it"
        )
        self.preset_box.currentTextChanged.connect(self.load_preset)
        self.preset_box.textActivated.connect(self.presetPicked)
        self.train_button = QtWidgets.QPushButton("Train on these points")
        self.train_button.setToolTip("Train with the paper's recipe for this kind of experiment (Training dock)")
        self.train_button.clicked.connect(lambda: self.trainRequested.emit(self.preset))
        self.background = QtWidgets.QComboBox()
        self.background.addItems(["loss landscape", "basins"])
        self.background.setToolTip(
            "2-D background: ‖f(x) − x‖² (dark = fixed points), or the basin map: the "
            "training point each grid point's noise-free chain reaches (grey: none)"
        )
        self.background.currentTextChanged.connect(lambda _: self._draw_background())
        self.info = QtWidgets.QLabel("")
        self.info.setWordWrap(True)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("Points"))
        bar.addWidget(self.preset_box)
        bar.addWidget(self.train_button)
        self.depth_a, self.depth_b = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        for box, v in ((self.depth_a, 2), (self.depth_b, 7)):
            box.setRange(1, 32)
            box.setValue(v)
            box.setPrefix("L=")
        self.compare_button = QtWidgets.QPushButton("Compare depths")
        self.compare_button.setToolTip(
            "Train two networks of these depths on the same points and show them side "
            "by side: same start, same seed, one timeline (the paper: deeper "
            "networks over-generalize more)"
        )
        self.compare_button.clicked.connect(
            lambda: self.compareRequested.emit(self.depth_a.value(), self.depth_b.value())
        )
        self.cobweb_chain = QtWidgets.QSpinBox()
        self.cobweb_chain.setRange(0, 1_000_000)
        self.cobweb_chain.setPrefix("cobweb chain #")
        self.cobweb_chain.setToolTip("1-D: which chain's cobweb x_t → f(x_t) → identity is drawn")
        self.cobweb_chain.valueChanged.connect(lambda v: setattr(self, "selected_chain", v))
        bar.addStretch(1)
        self.background_label = QtWidgets.QLabel("2-D background")
        bar2 = QtWidgets.QHBoxLayout()  # the 1-D cobweb or the 2-D background, then the depths to compare
        bar2.addWidget(self.cobweb_chain)
        bar2.addWidget(self.background_label)
        bar2.addWidget(self.background)
        bar2.addSpacing(12)
        bar2.addWidget(self.depth_a)
        bar2.addWidget(QtWidgets.QLabel("vs"))
        bar2.addWidget(self.depth_b)
        bar2.addWidget(self.compare_button)
        bar2.addStretch(1)
        self.title = QtWidgets.QLabel("")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: bold")
        self.title.hide()
        # The controls sit above both views when two depths are compared (the window places them, see
        # MainWindow._build_layout), so the two plots share the width evenly; a read-only view has none.
        self.controls = QtWidgets.QWidget(self)
        bars = QtWidgets.QVBoxLayout(self.controls)
        bars.setContentsMargins(2, 2, 2, 0)
        bars.addLayout(bar)
        bars.addLayout(bar2)
        if read_only:
            self.controls.hide()
            self.title.show()

        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground("#1e1e1e")
        self.layout_widget.setMinimumHeight(250)  # the 1-D view's three plots stay readable on a laptop screen
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.title)
        lay.addWidget(self.layout_widget, 1)
        lay.addWidget(self.info)
        self._build(1)
        self._draw_model()  # the note of an empty view (an image model loaded, say)
        self.layout_widget.scene().sigMouseClicked.connect(self._clicked)

    # ------------------------------------------------------------------ plots
    def _build(self, dim: int) -> None:
        self.dim = dim
        self.layout_widget.setMinimumHeight(250 if dim == 1 else 160)  # 2-D: one square plot; its caption fits
        self.cobweb_chain.setVisible(dim == 1)
        self.background_label.setVisible(dim == 2)
        self.background.setVisible(dim == 2)
        lw = self.layout_widget
        lw.clear()
        lo, hi = self.value_range
        self.vb = EditViewBox(self)
        self.main = lw.addPlot(row=0, col=0, viewBox=self.vb)
        plain_axes(self.main)
        self.main.showGrid(x=True, y=True, alpha=0.2)
        self.main.setXRange(lo, hi, padding=0.02)
        self.main.setYRange(lo, hi, padding=0.02)
        self.vb.setMouseEnabled(x=False, y=False)
        self.vb.setMenuEnabled(False)
        self.train_scatter = pg.ScatterPlotItem(size=14, pen=pg.mkPen("w", width=1.5), brush=pg.mkBrush(255, 209, 102))
        self.train_scatter.setZValue(20)
        self.chain_scatter = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(255, 159, 28, 230))
        self.chain_scatter.setZValue(25)  # over the training markers: a converged chain sits on its point (#5)
        if dim == 1:
            set_title(self.main, "f(x) against the identity (dashed); shaded: flat, many-to-one")
            self.main.setLabel("left", "f(x)")
            self.identity = self.main.plot(
                [lo, hi], [lo, hi], pen=pg.mkPen("#bbbbbb", style=QtCore.Qt.PenStyle.DashLine)
            )
            self.manifold = self.main.plot(pen=pg.mkPen("#4cc9f0", width=2.5))
            self.cobweb_curve = self.main.plot(pen=pg.mkPen("#ff9f1c", width=1.2))
            self.flat_items: list = []
            self.main.addItem(self.train_scatter)
            self.main.addItem(self.chain_scatter)
            self.loss_plot = lw.addPlot(row=1, col=0)
            plain_axes(self.loss_plot)
            set_title(self.loss_plot, "loss manifold (f(x) − x)²")
            self.loss_plot.setLogMode(y=True)
            self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
            self.loss_plot.setXLink(self.main)
            self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#f72585", width=2))
            self.hist_plot = lw.addPlot(row=2, col=0)
            plain_axes(self.hist_plot)
            set_title(self.hist_plot, "chain positions at the current step")
            self.hist_plot.setXLink(self.main)
            self.hist_curve = self.hist_plot.plot(
                stepMode="center", fillLevel=0, brush=(255, 159, 28, 150), pen=pg.mkPen("#ff9f1c")
            )
            # One x axis, under the last of the three (they share x, the manifold's axes say it is x): the
            # manifold gets the height.
            self.main.hideAxis("bottom")
            self.loss_plot.hideAxis("bottom")
            # Minimum heights that fill the view at 1366×768 (325 px), the rest shared 3 : 1 : 1: capped at 75
            # and 95 px, the loss and position plots were 43 and 25 px of data on any screen, their y ticks
            # over each other. Their few ticks are set with the data (_y_ticks).
            for row, (plot, least) in enumerate(((self.main, 120), (self.loss_plot, 75), (self.hist_plot, 95))):
                plot.setMinimumHeight(least)
                lw.ci.layout.setRowStretchFactor(row, 3 if row == 0 else 1)
            self._hist_top = 0
        else:
            set_title(self.main, "chains (orange) over f(x) − x")
            self.main.setAspectLocked(True)
            self.bg = pg.ImageItem(axisOrder="row-major")
            self.bg.setZValue(-10)
            self.main.addItem(self.bg)
            self.arrows = self.main.plot(pen=pg.mkPen((230, 230, 230, 170), width=1), connect="pairs")
            self.heads = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(230, 230, 230, 170))
            self.main.addItem(self.heads)
            # The trails: the chains' last TRAIL steps, fading with age, drawn into one image (plots.TrailImage:
            # a scatter per age cost ~35 ms a frame at 1,024 chains).
            self.trails = TrailImage((255, 159, 28), self.value_range)
            self.trails.setZValue(14)
            self.main.addItem(self.trails)
            self.main.addItem(self.train_scatter)
            self.main.addItem(self.chain_scatter)
        self._draw_points()

    # ------------------------------------------------------------------ model
    def set_model(self, model, points: np.ndarray | None, value_range, name: str = "") -> None:
        """Show a points model (None clears). ``points``: its training points, if known; ``name``: its data set.
        The manifolds, vector field and basin map are computed here, once per model: the same model again
        (new chains of it) keeps them."""
        same = (
            model is not None
            and model is self.model
            and tuple(value_range) == tuple(self.value_range)
            and (points is None or np.array_equal(np.asarray(points, np.float32).reshape(len(points), -1), self.points))
        )
        if same:
            return
        self.model = model
        dim = next(model.parameters()).shape[1] if model is not None else self.points.shape[1]
        if points is not None:
            self.points = np.asarray(points, np.float32).reshape(len(points), -1)
        if self.points.shape[1] != dim:  # training points unknown (e.g. a model trained elsewhere)
            self.points = np.zeros((0, dim), np.float32)
        self.preset = name if name in POINT_PRESETS else ""
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentText(self.preset or ("custom 2-D" if self.points.shape[1] == 2 else "custom 1-D"))
        self.preset_box.blockSignals(False)
        self.value_range = tuple(value_range)
        self._build(dim)
        self._trails = []
        self._draw_model()

    def _draw_model(self) -> None:
        if self.model is None:
            self.info.setText(NO_MODEL)
            return
        lo, hi = self.value_range
        if self.dim == 1:
            x, fx = output_manifold(self.model, self.value_range)
            self.manifold.setData(x, fx)
            _, loss = loss_manifold(self.model, self.value_range)
            self.loss_curve.setData(x, np.maximum(loss, 1e-16))
            lg = np.log10(np.maximum(loss, 1e-16))
            self.loss_plot.setYRange(float(lg.min()), float(lg.max()), padding=0.05)
            self._y_ticks(self.loss_plot, float(lg.min()), float(lg.max()), log=True)
            for item in self.flat_items:
                self.main.removeItem(item)
            self.flat_items = []
            flats = flat_regions(x, fx)
            for a, b in flats:
                r = pg.LinearRegionItem((a, b), movable=False, brush=pg.mkBrush(76, 201, 240, 40), pen=pg.mkPen(None))
                r.setZValue(-10)
                self.main.addItem(r)
                self.flat_items.append(r)
            if not len(self.points):
                self.info.setText(
                    "flat regions: "
                    + (", ".join(f"[{a:.2f}, {b:.2f}]" for a, b in flats) or "none")
                    + " · training points unknown for this model: no basins"
                )
                return
            basins = basin_map(self.model, self.points, self.value_range, n=201, steps=50)
            occ = basin_occupancy(basins, len(self.points))
            self.info.setToolTip(
                "Flat regions: where f is flat (many-to-one). Basins: the share of the line whose noise-free chain "
                "reaches each point"
            )
            self.info.setText(  # short: in Compare's half-width views a long caption ran over the plots (#5)
                "flat: "
                + (", ".join(f"[{a:.2f}, {b:.2f}]" for a, b in flats) or "none")
                + " · basins: "
                + " · ".join(f"{p[0]:.2f} {100 * o:.0f}%" for p, o in zip(self.points, occ))
                + f" · none {100 * occ[-1]:.0f}%"
            )
        else:
            P, V = vector_field(self.model, self.value_range, n=21)
            seg = np.empty((2 * len(P), 2), np.float32)
            seg[0::2], seg[1::2] = P, P + V
            self.arrows.setData(seg[:, 0], seg[:, 1])
            self.heads.setData((P + V)[:, 0], (P + V)[:, 1])
            self._landscape = loss_landscape(self.model, self.value_range, n=101)
            if not len(self.points):
                self._basins = np.full((101, 101), -1)
                self.info.setText("training points unknown for this model: no basins")
                self._draw_background()
                return
            self._basins = basin_map(self.model, self.points, self.value_range, n=101, steps=50)
            occ = basin_occupancy(self._basins, len(self.points))
            self.info.setText(  # short: in Compare's half-width views a long caption ran over the axis (#5)
                "basins: "
                + " · ".join(f"({p[0]:.2f}, {p[1]:.2f}) {100 * o:.0f}%" for p, o in zip(self.points, occ))
                + f" · none {100 * occ[-1]:.0f}%"
            )
            self.info.setToolTip("Basin occupancy: the share of the plane whose noise-free chain reaches each point")
            self._draw_background()

    def _draw_background(self) -> None:
        if self.dim != 2 or self.model is None:
            return
        lo, hi = self.value_range
        if self.background.currentText() == "basins":
            rgb = np.full(self._basins.shape + (3,), 70, np.uint8)
            for i in range(len(self.points)):
                rgb[self._basins == i] = BASIN_COLOURS[i % len(BASIN_COLOURS)]
            self.bg.setImage(rgb, autoLevels=False, levels=(0, 255))
        else:
            L = np.log10(self._landscape + 1e-8)
            self.bg.setImage(L, autoLevels=True)
            self.bg.setColorMap(pg.colormap.get("viridis"))
        n = self._basins.shape[0]
        step = (hi - lo) / (n - 1)
        self.bg.setRect(QtCore.QRectF(lo - step / 2, lo - step / 2, (hi - lo) + step, (hi - lo) + step))

    # ------------------------------------------------------------------ chains
    def show_states(self, x: np.ndarray, t: int, history=None) -> None:
        """x: N×d chain states at step t. history(t) → states, for the trails and the cobweb. None while the
        view shows points without a model (a preset picked with no shipped model): no chain is theirs."""
        if x.ndim != 2 or x.shape[1] != self.dim or self.model is None:
            return
        lo, hi = self.value_range
        if self.dim == 1:
            pos = x[:, 0]
            self.chain_scatter.setData(pos, np.full_like(pos, lo), brush=pg.mkBrush(255, 159, 28, 200))
            counts, edges = np.histogram(pos, bins=60, range=(lo, hi))
            self.hist_curve.setData(edges, counts)
            top = int(counts.max(initial=0))
            if top > self._hist_top or top < self._hist_top / 4:  # re-laid out only when the counts outgrow it
                self._hist_top = max(4, int(top * 1.5))
                self.hist_plot.setYRange(0, self._hist_top, padding=0.02)
                self._y_ticks(self.hist_plot, 0, self._hist_top)
            if self.model is not None and history is not None and len(x):
                # The selected chain's own path (noise included) over its last ≤ 60 steps:
                # (x_s, x_s) → (x_s, f(x_s)) → (x_{s+1}, x_{s+1}) → …
                i = min(self.selected_chain, len(x) - 1)
                s0 = max(0, t - 60)
                xs = np.array([history(s)[i, 0] for s in range(s0, t + 1)], np.float32)
                fx = output_of(self.model, xs)
                verts = [(xs[0], xs[0])]
                for k in range(len(xs) - 1):
                    verts += [(xs[k], fx[k]), (xs[k + 1], xs[k + 1])]
                path = np.asarray(verts, np.float32)
                self.cobweb_curve.setData(path[:, 0], path[:, 1])
        else:
            self.chain_scatter.setData(x[:, 0], x[:, 1])
            layers = []
            for k in range(TRAIL, 0, -1):  # oldest first: a newer step's dot lies over an older one's
                if history is not None and t - k >= 0:
                    layers.append((history(t - k), trail_alpha(k)))
            self.trails.set_layers(layers, px=int(min(self.vb.width(), self.vb.height())) or 300)

    @staticmethod
    def _y_ticks(plot, lo: float, hi: float, log: bool = False) -> None:
        """Two or three labelled y ticks (whole decades on a log axis, a few apart), so a short plot's labels
        never run into each other."""
        ticks = nice_ticks(lo, hi, log)
        if log:  # decades clear of the ends: pyqtgraph leaves out a label that would cross the axis's end
            inner = [t for t in ticks if lo + 0.1 * (hi - lo) <= t[0] <= hi - 0.1 * (hi - lo)]
            ticks = inner if len(inner) >= 2 else ticks
        if log and len(ticks) > 3:
            k = -(-(len(ticks) - 1) // 2)  # every k-th decade: three ticks at most
            ticks = ticks[::-1][::k][::-1]
        elif len(ticks) > 3:
            ticks = ticks[::2]
        plot.getAxis("left").setTicks([ticks, []])

    # ------------------------------------------------------------------ editing
    def load_preset(self, name: str) -> None:
        if name in POINT_PRESETS:
            pts, vr = POINT_PRESETS[name]
            self.preset = name
            self.points = np.array(pts, np.float32)
            self.value_range = vr
        elif name == "custom 1-D":
            self.preset, self.points, self.value_range = "", np.array([[0.5]], np.float32), (0.0, 1.0)
        else:
            self.preset, self.points, self.value_range = "", np.array([[0.5, 0.5]], np.float32), (0.0, 1.0)
        self.model = None
        self._build(self.points.shape[1])
        self._draw_model()
        self.pointsChanged.emit()

    def _draw_points(self) -> None:
        if self.dim == 1:
            self.train_scatter.setData(self.points[:, 0], self.points[:, 0])
        else:
            self.train_scatter.setData(self.points[:, 0], self.points[:, 1])

    def _view_xy(self, x: float, y: float) -> np.ndarray:
        lo, hi = self.value_range
        x = float(np.clip(x, lo, hi))
        return np.array([x], np.float32) if self.dim == 1 else np.array([x, float(np.clip(y, lo, hi))], np.float32)

    def point_near(self, x: float, y: float, radius_px: float = 12.0) -> int | None:
        """Index of the training point within ``radius_px`` pixels of view coordinates (x, y), if any."""
        if not len(self.points):
            return None
        shown = np.stack([self.points[:, 0], self.points[:, 0] if self.dim == 1 else self.points[:, 1]], axis=1)
        px = self.vb.viewPixelSize()
        d = np.hypot((shown[:, 0] - x) / px[0], (shown[:, 1] - y) / px[1])
        i = int(np.argmin(d))
        return i if d[i] <= radius_px else None

    def add_point(self, x: float, y: float) -> None:
        self.points = np.vstack([self.points, self._view_xy(x, y)[None]])
        self._edited()

    def move_point(self, i: int, x: float, y: float, final: bool = True) -> None:
        self.points[i] = self._view_xy(x, y)
        self._draw_points()
        if final:
            self._edited()

    def remove_point(self, i: int) -> None:
        if len(self.points) > 1:
            self.points = np.delete(self.points, i, axis=0)
            self._edited()

    def _edited(self) -> None:
        self.preset = ""
        self._draw_points()
        self.pointsChanged.emit()

    def _clicked(self, ev) -> None:
        if self.read_only or not self.main.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = self.vb.mapSceneToView(ev.scenePos())
        i = self.point_near(p.x(), p.y())
        if ev.button() == QtCore.Qt.MouseButton.RightButton and i is not None:
            self.remove_point(i)
            ev.accept()
        elif ev.button() == QtCore.Qt.MouseButton.LeftButton and i is None:
            self.add_point(p.x(), p.y())
            ev.accept()
