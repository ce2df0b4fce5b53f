"""The views of the chains — grid, Points view (and the second depth beside it), transport bar, curves,
histogram and inspector — kept on the chain controller's one current step.

:class:`ChainViews` subscribes to the chain, model and points controllers: a new session resets every view
that shows chains (curves and their band, histogram, inspector, selection) before its first frame; a new
model sets their geometry and training data; each shown step redraws them. While playing, the plots and
the inspector follow a few times a second (pyqtgraph costs several ms of Python per plot, better spent on
the grid and the chain); paused or scrubbing, and at once on pause, every view follows every step.

When the chain runs slower than the speed asked, a label in the status bar says so and why (the chain
controller's ``rateNote``); it is hidden while the speed is met.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore, QtWidgets


@dataclass
class ViewWidgets:
    """The widgets that show the chains (ChainViews keeps them on the current step)."""

    grid: object
    points_view: object
    compare_view: object
    transport: object
    plots: object
    inspector: object
    inspector_dock: QtWidgets.QDockWidget
    start_panel: object
    projection_view: object
    views: QtWidgets.QTabWidget  # the central area's pages: grid, Points tab, projection
    points_tab: QtWidgets.QWidget
    status_bar: QtWidgets.QStatusBar
    share_compare_width: Callable[[], None]  # the Points view and the second depth side by side, equal
    compare_grid: object  # File → Compare with…: the second image model's chains
    compare_titles: tuple  # (left title, right title, the grids' splitter)
    images_page: QtWidgets.QWidget  # the Images tab: the grid (and the second grid)


class ChainViews(QtCore.QObject):
    """inspected: the chain shown in the inspector (None: none). rate_label: the status bar's note of a chain
    slower than the speed asked. It follows the chain, model, points and lab controllers and draws on
    ``widgets`` (:class:`ViewWidgets`)."""

    curves_interval_s = 0.35  # while playing, the plots follow at most this often
    slider_interval_s = 0.066  # … and the timeline slider (it paints in Python) at ~15 Hz

    def __init__(self, chain, models, points, lab, widgets: ViewWidgets, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.chain, self.models, self.points, self.lab, self.v = chain, models, points, lab, widgets
        v = widgets
        self.inspected: int | None = None
        self._last_curves = self._last_slider = self._last_inspect = 0.0
        self.chain.stepShown.connect(self.show_step)
        self.chain.sessionChanged.connect(self.reset)
        self.chain.replaying.connect(self._replaying)
        self.chain.provisional.connect(self._provisional)
        self.chain.playingChanged.connect(v.transport.set_playing)
        self.models.modelChanged.connect(self.set_model)
        self.points.comparisonChanged.connect(self._comparison)
        v.grid.tileClicked.connect(self.inspect)
        # the inspector follows the selection whatever moves it (a click, a brush stroke's tile)
        v.grid.selectionChanged.connect(lambda i: None if i == self.inspected else self.inspect(i))
        self.rate_label = QtWidgets.QLabel()
        self.rate_label.setObjectName("slow_chain_note")
        self.rate_label.setMinimumWidth(80)  # a long note is cut, never widens the window past a small screen
        self.rate_label.hide()
        v.status_bar.insertPermanentWidget(0, self.rate_label)
        self.chain.rateNote.connect(self._rate_note)

    # -- a new session or model
    def reset(self) -> None:
        """New chains: nothing of the old ones stays on screen."""
        v = self.v
        v.plots.reset()
        self.inspected = None
        v.grid.select(None)
        v.inspector.clear()
        self.lab.refresh()  # the timeline's marks and ε(t); the projection view gets the new session
        self._last_curves = self._last_slider = 0.0

    def set_model(self, ck) -> None:
        v = self.v
        train = self.models.train_data
        v.grid.set_geometry(ck.spec.shape, ck.value_range)
        v.start_panel.set_model_geometry(ck.spec.shape, ck.value_range)
        v.start_panel.set_dataset(train)
        v.plots.histogram.set_training(train.x if train is not None else None, ck.value_range)
        v.inspector.set_image_model(len(ck.spec.shape) == 3)
        v.projection_view.set_data(train if len(ck.spec.shape) == 3 else None, ck.spec.shape, ck.value_range)
        if len(ck.spec.shape) == 1 and ck.spec.D <= 2:
            pts = train.x if train is not None else None
            v.points_view.set_model(ck.model, pts, ck.value_range, name=str(ck.meta.get("dataset", "")))
            v.views.setCurrentWidget(v.points_tab)
        else:
            v.views.setCurrentWidget(v.images_page)
        v.compare_grid.set_geometry(ck.spec.shape, ck.value_range)

    def _comparison(self, session) -> None:
        from .compare import titles

        v = self.v
        left, right, split = v.compare_titles
        if session is None:
            v.compare_view.hide()
            v.points_view.title.hide()
            for w in (v.compare_grid, left, right):
                w.hide()
            v.plots.set_second(None)
            return
        first, second = self.models.checkpoint, self.points.second  # the model is current before its chains start
        a, b = titles(first, second, self.points.depths)
        if len(second.spec.shape) == 3:  # File → Compare with… of image models: a second grid
            left.setText(a)
            right.setText(b)
            for w in (v.compare_grid, left, right):
                w.show()
            half = max(1, sum(split.sizes()) // 2)
            split.setSizes([half, half])
            v.views.setCurrentWidget(v.images_page)
        else:
            pts = self.models.train_data.x if self.models.train_data is not None else None
            v.compare_view.set_model(second.model, pts, second.value_range, name=v.points_view.preset)
            v.compare_view.title.setText(b)
            v.points_view.title.setText(a)
            v.points_view.title.show()
            v.compare_view.show()
            v.share_compare_width()
        self.chain.redraw()

    # -- each shown step
    def show_step(self, t: int) -> None:
        v = self.v
        s = self.chain.session
        if s is None:
            return
        playing = self.chain.playing
        x = s.state(t)
        second = self.points.state(t)  # one locked timeline: the second model follows the same step
        # A points chain while the Points view shows points no model learned (a preset with no shipped model):
        # neither its dots nor its curves are drawn, or they would read as those points' (issue 30 #25).
        unshown = len(s.shape) != 3 and v.points_view.model is None
        if len(s.shape) == 3:
            v.grid.show_states(x, t)
            if second is not None:
                v.compare_grid.show_states(second, t)
        else:
            v.points_view.show_states(x, t, history=s.state)
            if second is not None:
                v.compare_view.show_states(second, t, history=self.points.comparison.state)
        now = time.perf_counter()
        if not playing or now - self._last_slider > self.slider_interval_s:
            self._last_slider = now
            v.transport.show_position(t, s.t_max)
        else:
            v.transport.step_label.setText(f"step {t} / {s.t_max}")
        if not unshown and (not playing or now - self._last_curves > self.curves_interval_s):
            self._last_curves = now
            v.plots.set_step(t, x)
            v.plots.update_curves(s.curves)
            cs = self.points.comparison
            v.plots.set_second(None if cs is None else cs.curves)  # the second model's means, dashed
            if v.views.currentWidget() is v.projection_view:
                v.projection_view.show_step(t)
        if (
            self.inspected is not None
            and v.inspector_dock.isVisible()
            and (not playing or now - self._last_inspect > 0.25)
        ):
            self._last_inspect = now
            self._inspect_step(t, x)

    def _rate_note(self, note: str) -> None:
        self.rate_label.setText(note)
        self.rate_label.setToolTip(f"The chain runs slower than the speed asked in the transport bar: {note}")
        self.rate_label.setVisible(bool(note))

    def _provisional(self, k: int, t: int) -> None:
        """While step t is replayed: the nearest stored exact state, step k, in the grid or the Points view,
        labelled as step k; the timeline stays at t and says so."""
        v, near = self.v, self.chain.provisional_state
        s = self.chain.session
        if s is None or near is None or near[0] != k or self.chain.view_t != t:
            return
        x = near[1]
        if len(s.shape) == 3:
            v.grid.show_states(x, k)
        else:
            v.points_view.show_states(x, k)
        v.transport.step_label.setToolTip(
            f"showing step {k}, the nearest stored state, while step {t} is replayed from it; step {t} follows"
        )
        v.transport.step_label.setText(f"step {k} → {t} · replaying…")

    def _replaying(self, t: int) -> None:
        self.v.transport.step_label.setToolTip("replaying from the nearest stored keyframe; the step shows when ready")
        self.v.transport.step_label.setText(f"step {t} / {self.chain.t_max} · replaying…")

    # -- the inspector
    def inspect(self, i: int | None) -> None:
        v = self.v
        self.inspected = i
        v.grid.select(i)
        if i is not None:
            v.grid.set_page(i // v.grid.max_tiles)  # the inspected chain's tile is in sight
        if i is None or self.chain.session is None:
            v.inspector.clear()
            return
        v.inspector_dock.show()
        v.inspector_dock.raise_()
        t = self.chain.view_t
        self._inspect_step(t, self.chain.session.state(t))

    def _inspect_step(self, t: int, x: np.ndarray) -> None:
        v = self.v
        s, ck, i, train = self.chain.session, self.models.checkpoint, self.inspected, self.models.train_data
        if s is None or ck is None or i is None or i >= s.n or len(ck.spec.shape) != 3:
            return
        nearest = None
        if train is not None:
            j, d = s.nearest(i, t)
            lab = int(train.labels[j]) if train.labels is not None else None
            nearest = (j, d, train.x[j], lab)
        v.inspector.show_chain(i, t, x[i], ck.spec.shape, ck.value_range, nearest, s.curves)
        v.inspector.show_edits(*self.lab.settle_note(i))
