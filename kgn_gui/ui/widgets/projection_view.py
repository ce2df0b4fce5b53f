"""The projection view (issue 20): the training set in its first two principal components, coloured by class,
with the chains' recent paths drawn over it (older steps fainter), on the chain controller's shown step.

The map (core.projection) is computed once per data set — in a thread, the first time the tab is shown — and
cached; each shown step projects only the drawn chains' states (a P×D by D×2 product). Hovering a training
point shows its picture and class in the corner."""

from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...core.errors import ProjectionError
from ...core.picture.projection import projection_for
from ...core.wording import count
from .plots import plain_axes
from .start_panel import grey_pixmap

CLASS_COLOURS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (160, 160, 160), (188, 189, 34), (23, 190, 207),
]  # fmt: skip
MAX_MAP_POINTS = 6000  # training points drawn (a fixed random subset: pyqtgraph draws ~6,000 quickly)
MAX_PATHS = 64  # chains whose paths are drawn
TRAIL = 60  # steps of each path


class ProjectionView(QtWidgets.QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("projection_plot")
        plain_axes(self.plot)
        self.plot.setAspectLocked(False)
        self.plot.setLabel("bottom", "PC 1")
        self.plot.setLabel("left", "PC 2")
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.classes: list[pg.ScatterPlotItem] = []
        # Colours that read on the light and the dark theme alike: grey paths, orange steps, a yellow head.
        self.paths = pg.PlotCurveItem(pen=pg.mkPen((110, 110, 110, 150), width=1.2), connect="finite")
        self.dots = pg.ScatterPlotItem(size=5, pen=None)
        self.heads = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k", width=1), brush=pg.mkBrush("#ffd166"))
        for item in (self.paths, self.dots, self.heads):
            item.setZValue(10)
            self.plot.addItem(item)
        self.status = QtWidgets.QLabel("open a model with image data to see its projection")
        self.status.setWordWrap(True)  # a long note wraps, never widens the views past the docks
        self.status.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.hover = QtWidgets.QLabel(self.plot)
        self.hover.setObjectName("projection_hover")
        self.hover.setStyleSheet("background: rgba(20,20,20,210); color: white; padding: 3px;")
        self.hover.hide()
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.status)
        self.projection = None
        self.ds = None
        self.shape = None
        self.value_range = (-1.0, 1.0)
        self._paths: dict[int, np.ndarray] = {}  # step → P×2 projected states
        self._brushes: dict[tuple[int, int], list] = {}
        self._session = None
        self._t = 0
        self._want = None  # the data set whose map is being computed
        self._result = None
        self._poll = QtCore.QTimer(self)
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._collect)

    # -- the map
    def set_data(self, ds, shape, value_range) -> None:
        """A new model's training data (None: no map). The map is computed when the tab is first shown."""
        self.ds, self.shape, self.value_range = ds, tuple(shape), value_range
        self.projection = None
        self._paths.clear()
        for item in self.classes:
            self.plot.removeItem(item)
        self.classes.clear()
        self.legend.clear()
        self.status.setText("no training data to project" if ds is None else "the projection is computed when shown")
        if self.isVisible():
            self.compute()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self.projection is None and self.ds is not None and self._want is None:
            self.compute()

    def compute(self) -> None:
        ds = self.ds
        if ds is None or self._want is ds:
            return
        self._want = ds
        self.status.setText(f"computing the projection of {ds.name} ({count(ds.M, 'sample')})…")

        def work():
            try:
                res = projection_for(ds)
            except (ProjectionError, ValueError, MemoryError) as e:
                res = e
            self._result = (ds, res)

        threading.Thread(target=work, name="kgn-projection", daemon=True).start()
        self._poll.start()

    def _collect(self) -> None:
        if self._result is None:
            return
        ds, res = self._result
        self._result, self._want = None, None
        self._poll.stop()
        if ds is not self.ds:
            self.compute()
            return
        if isinstance(res, Exception):
            self.status.setText(f"no projection: {res}")
            return
        self.projection = res
        self._draw_map()

    def _draw_map(self) -> None:
        p = self.projection
        rng = np.random.default_rng(0)
        idx = np.sort(rng.choice(len(p.points), size=min(MAX_MAP_POINTS, len(p.points)), replace=False))
        labels = p.labels[idx] if p.labels is not None else np.zeros(len(idx), int)
        for c in np.unique(labels):
            sel = idx[labels == c]
            rgb = CLASS_COLOURS[int(c) % len(CLASS_COLOURS)]
            item = pg.ScatterPlotItem(
                p.points[sel, 0], p.points[sel, 1], data=sel, size=4, pen=None,
                brush=pg.mkBrush(*rgb, 150), hoverable=True, tip=None, name=str(c) if p.labels is not None else "data",
            )  # fmt: skip
            item.sigHovered.connect(self._hovered)
            self.plot.addItem(item)
            self.classes.append(item)
        ex = p.explained
        self.plot.setLabel("bottom", f"PC 1 ({ex[0]:.0%} of the variance)")
        self.plot.setLabel("left", f"PC 2 ({ex[1]:.0%})")
        self.status.setText(
            f"{p.name}: {len(idx):,} of {len(p.points):,} training samples by class; the paths of the first "
            f"{MAX_PATHS} chains over their last {TRAIL} steps (older steps fainter), the yellow dot the shown step"
        )
        self._redraw()

    def _hovered(self, item, points, ev) -> None:
        if len(points) == 0 or self.ds is None or self.shape is None or len(self.shape) != 3:
            self.hover.hide()
            return
        j = int(points[0].data())
        lo, hi = self.value_range
        img = ((self.ds.x[j] - lo) / (hi - lo)).reshape(self.shape).mean(0)
        label = f"class {self.ds.labels[j]}" if self.ds.labels is not None else ""
        self.hover.setPixmap(grey_pixmap(img, 84))
        self.hover.setToolTip(f"training sample #{j} {label}")
        self.hover.setText("")
        self.hover.adjustSize()
        self.hover.move(60, 8)
        self.hover.show()

    # -- the chains
    def set_session(self, session) -> None:
        self._session = session
        self._paths.clear()
        self.paths.setData([], [])
        self.dots.setData([], [])
        self.heads.setData([], [])

    def show_step(self, t: int) -> None:
        self._t = int(t)  # remembered even before the map is ready: it is drawn at this step when it is
        if self.projection is None or self._session is None or not self.isVisible():
            return
        self._redraw()

    def _project(self, t: int) -> np.ndarray | None:
        if t not in self._paths:
            s = self._session
            if t > s.t_max:
                return None
            x = s.state(t, rows=MAX_PATHS)
            self._paths[t] = self.projection.project(x)
            if len(self._paths) > 20_000:  # a bounded memory of projected steps
                for k in sorted(self._paths)[: len(self._paths) - 10_000]:
                    del self._paths[k]
        return self._paths[t]

    def _redraw(self) -> None:
        s = self._session
        if self.projection is None or s is None:
            return
        t = min(self._t, s.t_max)
        # Only the steps already projected, plus the shown one: a path never replays history to be drawn.
        steps = [k for k in range(max(0, t - TRAIL), t) if k in self._paths] + [t]
        pts = [self._project(k) for k in steps]
        pts = [q for q in pts if q is not None]
        if not pts:
            return
        P = np.stack(pts)  # steps × chains × 2
        L, N = P.shape[0], P.shape[1]
        xs = np.concatenate([P[:, :, 0].T, np.full((N, 1), np.nan)], axis=1).reshape(-1)
        ys = np.concatenate([P[:, :, 1].T, np.full((N, 1), np.nan)], axis=1).reshape(-1)
        self.paths.setData(xs, ys)
        if (L, N) not in self._brushes:  # older steps fainter; made once per path length, not on every frame
            age = np.repeat(np.linspace(0.15, 1.0, L)[:, None], N, axis=1).reshape(-1)
            self._brushes = {(L, N): [pg.mkBrush(230, 110, 20, int(255 * a)) for a in age]}
        self.dots.setData(P[:, :, 0].reshape(-1), P[:, :, 1].reshape(-1), brush=self._brushes[(L, N)])
        self.heads.setData(P[-1, :, 0], P[-1, :, 1])
