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

import numpy as np
from PySide6 import QtCore, QtWidgets


class ChainViews(QtCore.QObject):
    """inspected: the chain shown in the inspector (None: none). rate_label: the status bar's note of a chain
    slower than the speed asked."""

    curves_interval_s = 0.35  # while playing, the plots follow at most this often
    slider_interval_s = 0.066  # … and the timeline slider (it paints in Python) at ~15 Hz

    def __init__(self, window, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        w = self.w = window
        self.inspected: int | None = None
        self._last_curves = self._last_slider = self._last_inspect = 0.0
        w.chain.stepShown.connect(self.show_step)
        w.chain.sessionChanged.connect(self.reset)
        w.chain.replaying.connect(self._replaying)
        w.chain.provisional.connect(self._provisional)
        w.chain.playingChanged.connect(w.transport.set_playing)
        w.models.modelChanged.connect(self.set_model)
        w.points.comparisonChanged.connect(self._comparison)
        w.grid.tileClicked.connect(self.inspect)
        self.rate_label = QtWidgets.QLabel()
        self.rate_label.setObjectName("slow_chain_note")
        self.rate_label.setMinimumWidth(80)  # a long note is cut, never widens the window past a small screen
        self.rate_label.hide()
        w.statusBar().insertPermanentWidget(0, self.rate_label)
        w.chain.rateNote.connect(self._rate_note)

    # -- a new session or model
    def reset(self) -> None:
        """New chains: nothing of the old ones stays on screen."""
        w = self.w
        w.plots.reset()
        self.inspected = None
        w.grid.select(None)
        w.inspector.clear()
        w.lab.refresh()  # the timeline's marks and ε(t); the projection view gets the new session
        self._last_curves = self._last_slider = 0.0

    def set_model(self, ck) -> None:
        w = self.w
        train = w.models.train_data
        w.grid.set_geometry(ck.spec.shape, ck.value_range)
        w.start_panel.set_model_geometry(ck.spec.shape, ck.value_range)
        w.start_panel.set_dataset(train)
        w.plots.histogram.set_training(train.x if train is not None else None, ck.value_range)
        w.inspector.set_image_model(len(ck.spec.shape) == 3)
        w.projection_view.set_data(train if len(ck.spec.shape) == 3 else None, ck.spec.shape, ck.value_range)
        if len(ck.spec.shape) == 1 and ck.spec.D <= 2:
            pts = train.x if train is not None else None
            w.points_view.set_model(ck.model, pts, ck.value_range, name=str(ck.meta.get("dataset", "")))
            w.views.setCurrentWidget(w.points_tab)
        else:
            w.views.setCurrentWidget(w.grid)

    def _comparison(self, session) -> None:
        w = self.w
        if session is None:
            w.compare_view.hide()
            w.points_view.title.hide()
            return
        first, second = w.models.checkpoint, w.points.second  # the model is current before its chains start
        pts = w.models.train_data.x if w.models.train_data is not None else None
        w.compare_view.set_model(second.model, pts, second.value_range, name=w.points_view.preset)
        w.compare_view.title.setText(f"L = {second.spec.L} (right) · same points, start and seed")
        w.points_view.title.setText(f"L = {first.spec.L} (left)")
        w.points_view.title.show()
        w.compare_view.show()
        w.share_compare_width()
        w.chain.redraw()

    # -- each shown step
    def show_step(self, t: int) -> None:
        w = self.w
        s = w.chain.session
        if s is None:
            return
        playing = w.chain.playing
        x = s.state(t)
        if len(s.shape) == 3:
            w.grid.show_states(x, t)
        else:
            w.points_view.show_states(x, t, history=s.state)
            second = w.points.state(t)  # one locked timeline: the second depth follows the same step
            if second is not None:
                w.compare_view.show_states(second, t, history=w.points.comparison.state)
        now = time.perf_counter()
        if not playing or now - self._last_slider > self.slider_interval_s:
            self._last_slider = now
            w.transport.show_position(t, s.t_max)
        else:
            w.transport.step_label.setText(f"step {t} / {s.t_max}")
        if not playing or now - self._last_curves > self.curves_interval_s:
            self._last_curves = now
            w.plots.set_step(t, x)
            w.plots.update_curves(s.curves)
            if w.views.currentWidget() is w.projection_view:
                w.projection_view.show_step(t)
        if (
            self.inspected is not None
            and w.inspector_dock.isVisible()
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
        w, near = self.w, self.w.chain.provisional_state
        s = w.chain.session
        if s is None or near is None or near[0] != k or w.chain.view_t != t:
            return
        x = near[1]
        if len(s.shape) == 3:
            w.grid.show_states(x, k)
        else:
            w.points_view.show_states(x, k)
        w.transport.step_label.setToolTip(
            f"showing step {k}, the nearest stored state, while step {t} is replayed from it; step {t} follows"
        )
        w.transport.step_label.setText(f"step {k} → {t} · replaying…")

    def _replaying(self, t: int) -> None:
        self.w.transport.step_label.setToolTip("replaying from the nearest stored keyframe; the step shows when ready")
        self.w.transport.step_label.setText(f"step {t} / {self.w.chain.t_max} · replaying…")

    # -- the inspector
    def inspect(self, i: int | None) -> None:
        w = self.w
        self.inspected = i
        w.grid.select(i)
        if i is not None:
            w.grid.set_page(i // w.grid.max_tiles)  # the inspected chain's tile is in sight
        if i is None or w.chain.session is None:
            w.inspector.clear()
            return
        w.inspector_dock.show()
        w.inspector_dock.raise_()
        t = w.chain.view_t
        self._inspect_step(t, w.chain.session.state(t))

    def _inspect_step(self, t: int, x: np.ndarray) -> None:
        w = self.w
        s, ck, i, train = w.chain.session, w.models.checkpoint, self.inspected, w.models.train_data
        if s is None or ck is None or i is None or i >= s.n or len(ck.spec.shape) != 3:
            return
        nearest = None
        if train is not None:
            j, d = s.nearest(i, t)
            lab = int(train.labels[j]) if train.labels is not None else None
            nearest = (j, d, train.x[j], lab)
        w.inspector.show_chain(i, t, x[i], ck.spec.shape, ck.value_range, nearest, s.curves)
        w.inspector.show_edits(*w.lab.settle_note(i))
