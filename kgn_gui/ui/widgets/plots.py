"""Convergence curves and the output-range histogram (pyqtgraph).

Three curves against the step — step size, residual, distance to the nearest training
example — each as the mean over chains with its 10–90 % band, and a cursor at the current
step. Beside them, the histogram of the chain values at the current step over the histogram
of the training data, and the fraction of values saturated at the bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.chain.curves import CURVE_TITLES, CURVES, saturation_fraction, value_histogram
from ...core.measure.registry import finite
from .figure import add_save_action

TRAIN_HIST_ROWS = 5000
COLOURS = {"step": "#4cc9f0", "residual": "#f72585", "nearest": "#90be6d"}
# The step cursor and the hover readout in each theme (ui/theme.py recolours backgrounds and axes itself).
CURSOR_COLOURS = {"light": "#c77800", "dark": "#ffd166"}
READOUT_COLOURS = {"light": "#202020", "dark": "#dddddd"}
CURVE_TIPS = {
    "step": "How far one step moves a chain (RMS per value). It falls as chains settle: the burn-in is over "
    "when it is small; with noise it stays near ε·σ.",
    "residual": "‖f(x) − x‖/√D: zero exactly at a fixed point of f. Over-generalization makes f flat "
    "(many-to-one) around training points, so chains land where this is small.",
    "nearest": "RMS distance to the closest of 2,000 training examples: near zero means the chain is copying a "
    "training example (memorization); larger means something new.",
}


def nice_ticks(lo: float, hi: float, log: bool = False) -> list[tuple[float, str]]:
    """Two to five labelled major ticks inside [lo, hi] (view units: log10 of the value on a log axis), so a
    short plot never shows a single tick: round values of a 1-2-5 step on a linear axis, whole decades on a
    log axis (half decades when fewer than two whole ones fit)."""
    import math

    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return []
    if log:
        ticks = [float(e) for e in range(math.ceil(lo), math.floor(hi) + 1)]
        if len(ticks) < 2:
            ticks = [e / 2 for e in range(math.ceil(lo * 2), math.floor(hi * 2) + 1)]
        return [(t, f"{10**t:.2g}") for t in ticks]
    raw = (hi - lo) / 3
    mag = 10 ** math.floor(math.log10(raw))
    # The 1-2-5 steps from the first one ≥ a third of the range down, the first that puts two ticks inside
    # (0.08 … 0.9 holds one multiple of 0.5, four of 0.2): every tick stays a round value.
    steps = [m * mag for m in (10, 5, 2, 1, 0.5, 0.2, 0.1)]
    steps = steps[max(k for k, step in enumerate(steps) if step >= raw) :]
    for step in steps:
        ticks = [round(k * step, 12) for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
        if len(ticks) >= 2:
            break
    top = math.floor(math.log10(max(abs(lo), abs(hi))))  # the labels' digits: whole numbers in full, and
    digits = max(1, top + 1, top - math.floor(math.log10(step)) + 1)  # down to the step's last digit
    return [(t, f"{t:.{min(digits, 12)}g}") for t in ticks]


def plain_axes(plot: pg.PlotWidget) -> None:
    """No SI-prefix scaling ("step t (x0.001)") on any axis."""
    for name in ("bottom", "left"):
        axis = plot.getAxis(name)
        axis.setSIPrefixEnableRanges(())  # pyqtgraph 0.14 scales by 1000 whenever a range fits in [0, 1]
        axis.enableAutoSIPrefix(False)
        # Kept as a pixmap between changes: replaying an axis's ticks and labels cost ~2 ms a paint, and every
        # new frame of a plot repaints its whole view (a Points frame repainted its axes 30 times a second).
        axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


class TrailImage(pg.ImageItem):
    """Fading dots of one colour over a square [lo, hi]², drawn into one RGBA image with numpy: the Points
    view's trails (eight ages of 1,024 chains a frame). As pyqtgraph items they cost 30–70 ms a frame to set
    and paint (a scatter's Python per point, or stroking thousands of round caps); one image costs ~1 ms."""

    def __init__(self, colour: tuple[int, int, int], value_range: tuple[float, float], dot_px: int = 3):
        super().__init__(axisOrder="row-major")
        self.colour = np.asarray(colour, np.uint8)
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.dot_px = int(dot_px)
        self.layers: list[tuple[np.ndarray, int]] = []

    def set_layers(self, layers: list[tuple[np.ndarray, int]], px: int) -> None:
        """``layers``: (N×2 points, alpha 0–255), drawn in order (a later layer over an earlier); ``px``: the
        image's side in pixels (about the view's, so a dot stays ``dot_px`` wide)."""
        self.layers = layers
        lo, hi = self.value_range
        px = int(min(max(px, 32), 2048))
        img = np.zeros((px, px, 4), np.uint8)
        img[..., :3] = self.colour
        alpha = img[..., 3]
        r = self.dot_px // 2
        for pts, a in layers:
            if not len(pts):
                continue
            ij = np.rint((np.asarray(pts, np.float64) - lo) / (hi - lo) * (px - 1)).astype(np.int64)
            ix, iy = ij[:, 0], ij[:, 1]
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    alpha[np.clip(iy + dy, 0, px - 1), np.clip(ix + dx, 0, px - 1)] = a
        self.setImage(img, autoLevels=False, levels=(0, 255))
        step = (hi - lo) / (px - 1)
        self.setRect(QtCore.QRectF(lo - step / 2, lo - step / 2, (hi - lo) + step, (hi - lo) + step))


def set_title(plot, text: str, size: str = "9pt") -> None:
    """A plot title that never widens the plot: pyqtgraph makes a title's width the plot's minimum (again on
    every resize), so a long title in a narrow view pushed the plot past its widget's edge (clipped axes).
    The title is clipped at the plot's edges instead, and its whole text is the tooltip."""
    item = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
    label = item.titleLabel
    MIN = QtCore.Qt.SizeHint.MinimumSize

    def update_min() -> None:  # pg.LabelItem.updateMin, less the width
        pg.LabelItem.updateMin(label)
        label.setMinimumWidth(0)
        label._sizeHint[MIN] = (0, label._sizeHint[MIN][1])
        label.updateGeometry()

    label.updateMin = update_min
    item.setTitle(text, size=size)
    label.setToolTip(text)


def fit_y_range(plot: pg.PlotWidget, lo: float, hi: float, current: tuple | None) -> tuple:
    """Auto-range on y with hysteresis; returns the new state to pass back next time.

    The range changes only when the data leave it or use less than a third of it (on a log axis, when
    they span a decade less than it), so the axis is rarely laid out again — re-laying out ticks is most
    of a pyqtgraph plot's repaint cost. Log axes span at least ~2.5 decades: under that pyqtgraph labels
    its minor ticks and they crowd."""
    log = plot.getPlotItem().ctrl.logYCheck.isChecked()
    if log:
        lo, hi = np.log10(max(lo, 1e-9)), np.log10(max(hi, 1e-9))
    span = max(hi - lo, 1e-12)
    if (
        current is not None
        and current[2] == log
        and current[0] <= lo
        and hi <= current[1]
        and (current[1] - current[0]) < 3 * span + (1.0 if log else 0.0)
    ):
        return current
    pad = 0.25 if log else 0.1 * span
    if log and hi - lo < 2.0:
        mid = (hi + lo) / 2
        lo, hi = mid - 1.0, mid + 1.0
    plot.setYRange(lo - pad, hi + pad, padding=0)
    plot.getAxis("left").setTicks([nice_ticks(lo - pad, hi + pad, log), []])
    return (lo - pad, hi + pad, log)


class CurvePlot(pg.PlotWidget):
    """Mean curve + 10–90 % band of one measure, with a step cursor and a hover readout."""

    def __init__(self, key: str, parent=None):
        super().__init__(parent)
        self.key = key
        self.setBackground("default")  # the theme's (ui/theme.py sets pyqtgraph's default)
        self.setTitle(CURVE_TITLES[key], size="9pt")
        self.setToolTip(CURVE_TIPS[key])
        self.setLabel("bottom", "step t")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.getAxis("left").setStyle(maxTextLevel=0)  # major tick labels only: the plots are short
        col = pg.mkColor(COLOURS[key])
        band = pg.mkColor(COLOURS[key])
        band.setAlpha(60)
        # Band edges with a faint pen (a PlotDataItem with pen=None draws no curve, so the fill between them
        # would have nothing to follow).
        edge = pg.mkColor(COLOURS[key])
        edge.setAlpha(90)
        self.lo = self.plot(pen=pg.mkPen(edge, width=1))
        self.hi = self.plot(pen=pg.mkPen(edge, width=1))
        self.fill = pg.FillBetweenItem(self.lo, self.hi, brush=band)
        self.addItem(self.fill)
        self.mean = self.plot(pen=pg.mkPen(col, width=2), name="mean")
        # Compare with… / Compare depths: the second model's mean, dashed, over the first's
        self.second = self.plot(pen=pg.mkPen(col, width=2, style=QtCore.Qt.PenStyle.DashLine), name="second model")
        self.second.setDownsampling(auto=True, method="peak")
        self._second_shown = False  # nothing to clear each refresh while there is no second model
        for item in (self.lo, self.hi, self.mean):
            item.setDownsampling(auto=True, method="peak")
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(CURSOR_COLOURS["dark"], width=1))
        self.addItem(self.cursor)
        self.readout = pg.TextItem("", color=READOUT_COLOURS["dark"], anchor=(1, 0))
        self.readout.setParentItem(self.getPlotItem().vb)
        self.readout.setPos(0, 0)
        self._data = (np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
        self._x_hi = 0
        self._y_range = None
        self.enableAutoRange(x=False, y=False)
        plain_axes(self)
        self.setXRange(0, 16, padding=0.01)  # step 0: a range of steps ahead, not −400…400
        self.scene().sigMouseMoved.connect(self._hover)
        self.setMinimumHeight(140)  # room for the title, two labelled y ticks and the step axis
        self.setMinimumWidth(150)
        add_save_action(self, key)

    def set_theme(self, name: str) -> None:
        """The cursor and readout in the colours of theme ``name`` ("light" or "dark"); called by ui/theme.py."""
        self.cursor.setPen(pg.mkPen(CURSOR_COLOURS[name], width=1))
        self.readout.setColor(READOUT_COLOURS[name])

    def set_data(self, t, mean, p10, p90) -> None:
        self._data = (t, mean, p10, p90)
        # Grow the x range in steps of 1.5× instead of following every new step: an axis whose range
        # changes must re-lay out its ticks on every repaint, which is most of a plot's drawing cost.
        n = len(t)
        if n > self._x_hi or n < self._x_hi / 3:
            self._x_hi = max(16, int(n * 1.5))
            self.setXRange(0, self._x_hi, padding=0.01)
        kw = dict(skipFiniteCheck=True)
        ok = np.isfinite(mean)
        if not ok.all():
            t, mean, p10, p90 = t[ok], mean[ok], p10[ok], p90[ok]
        if len(t) == 0:  # a new session, or no training data attached: no nearest distances
            self._clear_items()
            self.empty_range()
            return
        # A floor keeps exact zeros (a chain at a fixed point, no noise) drawable on log axes.
        mean, p10, p90 = (np.maximum(a, 1e-9) for a in (mean, p10, p90))
        self.lo.setData(t, p10, **kw)
        self.hi.setData(t, p90, **kw)
        self.mean.setData(t, mean, **kw)
        self._fit_y(float(p10.min()), float(p90.max()))

    def set_second(self, t, mean) -> None:
        """The second model's mean curve (dashed); t None: none."""
        if t is None or len(t) == 0:
            if self._second_shown:
                self.second.setData([], [])
                self._second_shown = False
            return
        self._second_shown = True
        ok = np.isfinite(mean)
        self.second.setData(t[ok], np.maximum(mean[ok], 1e-9), skipFiniteCheck=True)

    def _clear_items(self) -> None:
        for item in (self.lo, self.hi, self.mean, self.second):
            item.setData([], [])
        # The band follows its edge curves only when they have points: with none it would keep the old path.
        self.fill.setPath(QtGui.QPainterPath())

    def reset(self) -> None:
        """No data, the cursor at 0: a new session (start, model or weights) begins."""
        self._data = (np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
        self._clear_items()
        self._x_hi = 0
        self._y_range = None
        self.setXRange(0, 16, padding=0.01)
        self.cursor.setValue(0)
        self.readout.setText("")

    def empty_range(self) -> None:
        """Before there is a value to show: y over 0.01 … 1 with labelled ticks, not pyqtgraph's default range,
        whose minor ticks it labels on a log axis until they overlap."""
        if self._y_range is None:
            self._fit_y(0.01, 1.0)

    def _fit_y(self, lo: float, hi: float) -> None:
        self._y_range = fit_y_range(self, lo, hi, self._y_range)

    def set_cursor(self, t: int) -> None:
        self.cursor.setValue(t)

    def value_at(self, t: int) -> tuple[float, float, float] | None:
        ts, mean, p10, p90 = self._data
        if 0 <= t < len(ts):
            return float(mean[t]), float(p10[t]), float(p90[t])
        return None

    def _hover(self, pos) -> None:
        vb = self.getPlotItem().vb
        if not self.sceneBoundingRect().contains(pos) and not vb.sceneBoundingRect().contains(pos):
            return
        p = vb.mapSceneToView(pos)
        t = int(round(p.x()))
        v = self.value_at(t)
        if v is None:
            self.readout.setText("")
            return
        self.readout.setText(f"t={t}  mean {v[0]:.4g}  [10%: {v[1]:.3g}, 90%: {v[2]:.3g}]")
        self.readout.setPos(vb.width(), 0)


class HistogramPlot(pg.PlotWidget):
    """Density of chain values at the current step over the training data's density."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("default")
        self.setTitle("output-range histogram", size="9pt")
        self.setToolTip(
            "Values of every chain at the current step (bars) against the training data (line). "
            "Over-generalization: f maps any input into the range it saw in training, so the two "
            "come to match."
        )
        self.setLabel("bottom", "value")
        self.setLabel("left", "density")
        plain_axes(self)
        self.chain_curve = self.plot(
            stepMode="center", fillLevel=0, brush=(255, 159, 28, 120), pen=pg.mkPen("#ff9f1c"), name="chains at t"
        )
        self.train_curve = self.plot(stepMode="center", pen=pg.mkPen("#4cc9f0", width=2), name="training data")
        # The key and the saturated share sit in a line under the plot (PlotsPanel), never over the bars.
        self.key = QtWidgets.QLabel(
            '<span style="color:#ff9f1c">■</span> chains at t &nbsp; <span style="color:#4cc9f0">■</span> training data'
        )
        self.sat_text = QtWidgets.QLabel("")
        self.sat_text.setToolTip("Share of the chains' values within 1e-3 of the span from either bound")
        self.log = False
        self.value_range = (0.0, 1.0)
        self.saturation = 0.0
        self.chain_density = np.zeros(0)
        self.setMinimumHeight(70)
        add_save_action(self, "histogram")

    def set_log(self, on: bool) -> None:
        self.log = on
        self.setLogMode(y=on)
        # On a log axis a fill down to 0 would fill down to 10^0; fill to the floor instead.
        self.chain_curve.setFillLevel(-4 if on else 0)

    def set_training(self, x: np.ndarray | None, value_range) -> None:
        self.value_range = value_range
        if x is None:
            self.train_curve.setData([], [])
            return
        if len(x) > TRAIN_HIST_ROWS:
            # 5,000 random samples draw the same density (within 0.1 % on MNIST) as all 60,000, in 1/12 of
            # the 0.46 s the full set took at every launch and model switch.
            x = x[np.random.default_rng(0).choice(len(x), TRAIN_HIST_ROWS, replace=False)]
        edges, dens = value_histogram(x, value_range)
        self.train_curve.setData(edges, self._floor(dens))

    def set_chains(self, x: np.ndarray) -> None:
        edges, dens = value_histogram(x, self.value_range)
        self.chain_density = dens
        self.chain_curve.setData(edges, self._floor(dens))
        self.saturation = saturation_fraction(x, self.value_range)
        self.sat_text.setText(f"saturated: {100 * self.saturation:.1f} %")

    def _floor(self, d: np.ndarray) -> np.ndarray:
        # Log axes cannot show zero; a tiny floor keeps empty bins drawable.
        return np.maximum(d, 1e-4) if self.log else d


class PlotsPanel(QtWidgets.QWidget):
    """The three curves stacked, the histogram beside them."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves = {k: CurvePlot(k) for k in CURVES}
        self.histogram = HistogramPlot()
        self.log_box = QtWidgets.QCheckBox("log counts")
        self.log_box.setToolTip("Logarithmic density axis for the histogram")
        self.log_box.toggled.connect(self._set_log)
        self.log_curves = QtWidgets.QCheckBox("log curves")
        self.log_curves.setToolTip("Logarithmic y axes for the step-size and residual curves")
        self.log_curves.toggled.connect(self._set_log_curves)
        # Side by side, not stacked: a dock a third of a laptop screen tall leaves a stacked curve ~60 px,
        # one y tick; in a row each plot gets the dock's whole height.
        left = QtWidgets.QHBoxLayout()
        for k in CURVES:
            left.addWidget(self.curves[k], 1)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.histogram, 1)
        key = QtWidgets.QHBoxLayout()
        key.addWidget(self.histogram.key)
        key.addStretch(1)
        key.addWidget(self.histogram.sat_text)
        right.addLayout(key)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.log_box)
        row.addWidget(self.log_curves)
        row.addStretch(1)
        right.addLayout(row)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(left, 3)
        lay.addLayout(right, 1)
        self._last_x = None
        # Log axes by default: the curves span decades once chains settle, and the histogram's spikes at
        # the bounds would otherwise hide everything in between.
        self.log_curves.setChecked(True)
        self.log_box.setChecked(True)

    def _set_log_curves(self, on: bool) -> None:
        for key, c in self.curves.items():
            # The nearest distance stays within a decade (≈0.1–1.5): a log axis would only crowd it.
            c.setLogMode(y=on and key != "nearest")
            c._y_range = None
            if len(c._data[0]):
                c.set_data(*c._data)
            else:
                c.empty_range()

    def _set_log(self, on: bool) -> None:
        self.histogram.set_log(on)
        if self._last_x is not None:
            self.histogram.set_chains(self._last_x)

    def update_curves(self, curves) -> None:
        for k in CURVES:
            self.curves[k].set_data(*curves.arrays(k))

    def set_second(self, curves) -> None:
        """The second model's mean curves (Compare with… / Compare depths) dashed over the first's; None: none."""
        for k in CURVES:
            self.curves[k].set_second(*(curves.arrays(k)[:2] if curves is not None else (None, None)))

    def reset(self) -> None:
        """Every curve and the chains' histogram emptied (a new session); the training density stays."""
        for c in self.curves.values():
            c.reset()
        self._last_x = None
        h = self.histogram
        h.chain_curve.setData([], [])
        h.chain_density = np.zeros(0)
        h.saturation = 0.0
        h.sat_text.setText("")

    def set_step(self, t: int, x: np.ndarray) -> None:
        for c in self.curves.values():
            c.set_cursor(t)
        self._last_x = x
        self.histogram.set_chains(x)


def eps_positions(eps) -> dict[float, float]:
    """x positions of ε values on a log axis, with ε = 0 one step left of the smallest positive ε."""
    pos = sorted({float(e) for e in eps if float(e) > 0})
    out = {e: math.log10(e) for e in pos}
    if any(float(e) <= 0 for e in eps):
        out[0.0] = (math.log10(pos[0]) - 0.6) if pos else 0.0
    return out


KIND_COLOURS = {"normal": "#4c9be8", "uniform": "#f0a04b", "none": "#50b060", "reference": "#c060c0"}


def draw_mixing(p: pg.PlotWidget, rows: list[dict]) -> str:
    """The mixing scan on ``p``: changes per 100 steps after burn-in against ε, one curve per noise kind. At
    ε = 0 every kind is the same noise-free chain (the scan runs it once, as ``none``): each kind's curve starts
    from that point. Returns what changes ("class" or "nearest-example")."""
    use = "mixing_class" if any(finite(r.get("mixing_class")) for r in rows) else "mixing_nearest"
    what = "class" if use == "mixing_class" else "nearest-example"
    p.clear()
    p.setLabel("left", f"{what} changes per 100 steps")
    pos = eps_positions([r["eps"] for r in rows])
    p.getAxis("bottom").setTicks([[(x, "0" if e == 0 else f"{e:g}") for e, x in sorted(pos.items())]])
    at_zero = [r.get(use) for r in rows if float(r["eps"]) <= 0 and finite(r.get(use))]
    top = 0.0
    for kind in dict.fromkeys(r["noise"] for r in rows):
        pts = {float(r["eps"]): r.get(use) for r in rows if r["noise"] == kind}
        if kind != "none" and 0.0 not in pts and at_zero:
            pts[0.0] = at_zero[0]  # ε = 0: no noise of any kind
        pts = sorted((e, float(y)) for e, y in pts.items() if finite(y))
        colour = KIND_COLOURS.get(kind, "#888888")
        name = "none (ε = 0)" if kind == "none" and all(e <= 0 for e, _ in pts) else kind
        pen = None if len(pts) < 2 else pg.mkPen(colour, width=2)
        item = p.plot([pos[max(e, 0.0)] for e, _ in pts], [y for _, y in pts], pen=pen, symbol="o",
                      symbolBrush=colour, symbolSize=9, name=name)  # fmt: skip
        item.setZValue(2 if kind == "none" else 1)  # the shared ε = 0 point on top of the curves from it
        top = max([top] + [y for _, y in pts])
    if pos:
        p.setXRange(min(pos.values()) - 0.15, max(pos.values()) + 0.15)
    p.setYRange(0, 1.15 * top if top > 0 else 1, padding=0)  # from 0: a rate, not a difference
    return what
