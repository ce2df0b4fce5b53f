"""The branch window (issue 20): K continuations of some chains from one step, side by side on one timeline,
and their divergence — the mean pairwise RMS distance between a chain's branches (core.chain.lab.divergence) — over
the steps. A worker thread steps the branch session (core.chain.session.ChainSession.branch); the window reads it."""

from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.chain.lab import divergence
from ...core.picture.render import states_to_grid
from .plots import plain_axes


class BranchWindow(QtWidgets.QDialog):
    """session: the branch session (rows·K chains, row i·K + k: chain rows[i]'s branch k). info: rows, K,
    steps (how far to run) and t (the global step it branched from)."""

    def __init__(self, session, info: dict, shape, value_range, parent=None):
        super().__init__(parent)
        self.session, self.info = session, info
        self.shape, self.value_range = tuple(shape), value_range
        self.K, self.t0, self.steps = int(info["K"]), int(info["t"]), int(info["steps"])
        rows = info["rows"]
        who = f"chain {rows[0]}" if len(rows) == 1 else f"chains {', '.join(map(str, rows))}"
        self.setWindowTitle(f"Branches of {who} from step {self.t0} (K = {self.K})")
        self.setObjectName("branch_window")
        self.div: list[float] = [divergence(session.state(0), self.K)]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.error: str | None = None  # the worker's failure, shown by _poll

        self.picture = QtWidgets.QLabel()
        self.picture.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(240, 120)
        self.picture.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._show)
        self.label = QtWidgets.QLabel()
        self.plot = pg.PlotWidget()
        plain_axes(self.plot)
        self.plot.setLabel("bottom", "step t")
        self.plot.setLabel("left", "divergence")
        self.plot.setToolTip("Mean pairwise RMS distance between each chain's K branches, averaged over chains")
        self.curve = self.plot.plot(pen=pg.mkPen("#ffd166", width=2))
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#e84855"))
        self.plot.addItem(self.cursor)
        self.plot.setMinimumHeight(140)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.picture, 3)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        lay.addLayout(row)
        lay.addWidget(self.plot, 2)
        self.resize(720, 560)
        self._thread = threading.Thread(target=self._work, name="kgn-branch", daemon=True)
        self._thread.start()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._poll)
        self.timer.start()
        self._follow = True
        self._show(0)

    def _work(self) -> None:
        s = self.session
        try:
            while not self._stop.is_set() and s.t_max < self.steps:
                s.advance(1)
                d = divergence(s.state(s.t_max), self.K)
                with self._lock:
                    self.div.append(d)
        except Exception as e:  # noqa: BLE001 — a worker must never take the app down
            with self._lock:
                self.error = f"{type(e).__name__}: {e}"

    def _poll(self) -> None:
        with self._lock:
            div, error = list(self.div), self.error
        if error is not None:
            self.timer.stop()
            self.label.setText(f"the branches stopped: {error}")
            return
        n = len(div) - 1
        follow = self.slider.value() == self.slider.maximum()
        self.slider.setMaximum(n)
        if follow and self.slider.value() != n:
            self.slider.setValue(n)
        self.curve.setData(self.t0 + np.arange(len(div)), np.asarray(div))
        if n >= self.steps:
            self.timer.stop()

    def _show(self, t: int) -> None:
        x = self.session.state(int(t))
        if len(self.shape) == 3:
            a = states_to_grid(x, self.shape, self.value_range, cols=self.K)
            a = np.ascontiguousarray(np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3])
            q = QtGui.QImage(a.data, a.shape[1], a.shape[0], 3 * a.shape[1], QtGui.QImage.Format.Format_RGB888)
            pm = QtGui.QPixmap.fromImage(q.copy())
            self.picture.setPixmap(
                pm.scaled(
                    self.picture.size(),
                    QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                    QtCore.Qt.TransformationMode.FastTransformation,
                )
            )
        with self._lock:
            d = self.div[t] if t < len(self.div) else float("nan")
        self.label.setText(f"step {self.t0 + t} · divergence {d:.4f}")
        self.cursor.setValue(self.t0 + t)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._show(self.slider.value())

    def done(self, r: int) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.timer.stop()
        super().done(r)

    def closeEvent(self, ev) -> None:
        self._stop.set()
        self._thread.join(2.0)
        super().closeEvent(ev)
