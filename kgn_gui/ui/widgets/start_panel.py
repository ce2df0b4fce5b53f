"""Start input: random noise, a painting, or a (corrupted) data-set image, requested as a core.start.Start."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.start import NOISE_STARTS, Start, StartError, data_start
from .paint import PaintCanvas

MAX_DRAWN = 256


def _spin(lo, hi, value, tip, suffix="", double=False, decimals=3, step=None):
    w = QtWidgets.QDoubleSpinBox() if double else QtWidgets.QSpinBox()
    if double:
        w.setDecimals(decimals)
    w.setRange(lo, hi)
    w.setValue(value)
    if step:
        w.setSingleStep(step)
    if suffix:
        w.setSuffix(suffix)
    w.setToolTip(tip)
    return w


class StartPanel(QtWidgets.QWidget):
    """Emits ``startRequested(Start)``; saves and restores its own settings."""

    startRequested = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.value_range = (-1.0, 1.0)
        self.shape: tuple[int, ...] = (1, 28, 28)
        self.dataset = None
        tabs = QtWidgets.QTabWidget()
        self.tabs = tabs

        # Random
        rnd = QtWidgets.QWidget()
        f = QtWidgets.QFormLayout(rnd)
        self.kind = QtWidgets.QComboBox()
        self.kind.addItems(list(NOISE_STARTS))
        self.kind.setToolTip(
            "uniform: U(lo, hi) on the value range. normal: the paper's N(0.5, 0.5) on [0,1] "
            "or N(0, 1) on [−1,1], clipped to the range."
        )
        self.seed = _spin(0, 2**31 - 1, 0, "Seeds the start and every step's noise: same seed, same chain")
        self.n = _spin(1, 1024, 64, f"Number of chains (1–1024); the grid draws the first {MAX_DRAWN}")
        f.addRow("Noise", self.kind)
        f.addRow("Seed", self.seed)
        f.addRow("Chains", self.n)
        b = QtWidgets.QPushButton("Randomize")
        b.setToolTip("Start all chains from fresh noise (Ctrl+Shift+R)")
        b.clicked.connect(self.request_random)
        new_seed = QtWidgets.QPushButton("New seed")
        new_seed.setToolTip("Pick the next seed and randomize")
        new_seed.clicked.connect(lambda: (self.seed.setValue(self.seed.value() + 1), self.request_random()))
        row = QtWidgets.QHBoxLayout()
        row.addWidget(b)
        row.addWidget(new_seed)
        f.addRow(row)
        tabs.addTab(rnd, "Random")

        # Paint
        pnt = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(pnt)
        self.canvas = PaintCanvas()
        v.addWidget(self.canvas, 1)
        tools = QtWidgets.QHBoxLayout()
        self.brush = _spin(0.5, 8.0, 1.5, "Brush radius in model pixels", double=True, decimals=1, step=0.5)
        self.brush.valueChanged.connect(lambda r: setattr(self.canvas, "brush", r))
        self.eraser = QtWidgets.QCheckBox("Eraser")
        self.eraser.toggled.connect(lambda on: setattr(self.canvas, "eraser", on))
        clear = QtWidgets.QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        inv = QtWidgets.QPushButton("Invert")
        inv.clicked.connect(self.canvas.invert)
        tools.addWidget(QtWidgets.QLabel("Brush"))
        tools.addWidget(self.brush)
        tools.addWidget(self.eraser)
        tools.addWidget(clear)
        tools.addWidget(inv)
        v.addLayout(tools)
        go = QtWidgets.QHBoxLayout()
        one = QtWidgets.QPushButton("Start one chain")
        one.setToolTip("A single chain from the painting: watch where f takes it (an attractor?)")
        one.clicked.connect(lambda: self.request_paint(all_chains=False))
        allc = QtWidgets.QPushButton("Start all chains")
        allc.setToolTip("Every chain starts from the painting; the per-step noise makes them diverge")
        allc.clicked.connect(lambda: self.request_paint(all_chains=True))
        go.addWidget(one)
        go.addWidget(allc)
        v.addLayout(go)
        tabs.addTab(pnt, "Paint")

        # From data
        dat = QtWidgets.QWidget()
        f2 = QtWidgets.QFormLayout(dat)
        self.data_label = QtWidgets.QLabel("no data set")
        self.index = _spin(0, 0, 0, "Which data-set image to start from")
        self.sigma = _spin(
            0.0,
            2.0,
            0.3,
            "Gaussian corruption σ (value units) added to the image, independently for each chain",
            double=True,
            step=0.05,
        )
        self.mask = _spin(
            0, 64, 0, "Side in pixels of a square set to the background at a random place (one per chain)"
        )
        self.preview = QtWidgets.QLabel()
        self.preview.setFixedSize(112, 112)
        self.preview.setBackgroundRole(QtGui.QPalette.ColorRole.Dark)  # follows the theme
        self.preview.setAutoFillBackground(True)
        self.index.valueChanged.connect(self._update_preview)
        f2.addRow("Data", self.data_label)
        f2.addRow("Index", self.index)
        f2.addRow("", self.preview)
        f2.addRow("Noise σ", self.sigma)
        f2.addRow("Mask", self.mask)
        use = QtWidgets.QPushButton("Start chains from this image")
        use.setToolTip("Corrupt the image (σ, mask) and start every chain from it: does f restore it?")
        use.clicked.connect(self.request_data)
        paint_it = QtWidgets.QPushButton("Copy to canvas")
        paint_it.clicked.connect(self._copy_to_canvas)
        f2.addRow(use)
        f2.addRow(paint_it)
        tabs.addTab(dat, "From data")

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(tabs)

    # -- configuration
    def set_model_geometry(self, shape: tuple[int, ...], value_range: tuple[float, float]) -> None:
        self.shape, self.value_range = tuple(shape), value_range
        if len(shape) == 3:
            self.canvas.resize_canvas(shape[1], shape[2])

    def set_dataset(self, ds) -> None:
        self.dataset = ds
        if ds is None:
            self.data_label.setText("no data set")
            self.index.setRange(0, 0)
            return
        self.data_label.setText(f"{ds.name} ({ds.M:,})")
        self.index.setRange(0, ds.M - 1)
        self._update_preview()

    def _image(self, i: int) -> np.ndarray | None:
        ds = self.dataset
        if ds is None or ds.D != int(np.prod(self.shape)) or not 0 <= i < ds.M:
            return None
        lo, hi = ds.value_range
        return ((ds.x[i] - lo) / (hi - lo)).reshape(self.shape)

    def _update_preview(self) -> None:
        img = self._image(self.index.value())
        if img is None or len(self.shape) != 3:
            self.preview.clear()
            return
        a = np.ascontiguousarray((img.mean(0) * 255).astype(np.uint8))
        q = QtGui.QImage(a.data, a.shape[1], a.shape[0], a.shape[1], QtGui.QImage.Format.Format_Grayscale8).copy()
        self.preview.setPixmap(QtGui.QPixmap.fromImage(q).scaled(112, 112))
        if self.dataset.labels is not None:
            self.preview.setToolTip(f"label {self.dataset.labels[self.index.value()]}")

    def _copy_to_canvas(self) -> None:
        img = self._image(self.index.value())
        if img is not None:
            self.canvas.set_ink(img.mean(0))
            self.tabs.setCurrentIndex(1)

    # -- requests
    def random_start(self) -> Start:
        """The Random tab's start: fresh noise of the chosen kind, chain count and seed."""
        return Start(self.kind.currentText(), n=self.n.value(), seed=self.seed.value())

    def request_random(self) -> None:
        self.startRequested.emit(self.random_start())

    def painted_state(self) -> np.ndarray:
        """The canvas as one state in the model's value range (ink 1 → hi, background → lo)."""
        lo, hi = self.value_range
        C = self.shape[0] if len(self.shape) == 3 else 1
        img = np.repeat(self.canvas.ink[None], C, axis=0)
        return (lo + (hi - lo) * img).astype(np.float32).reshape(-1)

    def request_paint(self, all_chains: bool = True) -> None:
        n = self.n.value() if all_chains else 1
        self.startRequested.emit(Start("painted", n=n, seed=self.seed.value(), array=self.painted_state()))

    def request_data(self) -> None:
        ds = self.dataset
        i = self.index.value()
        if ds is None or self._image(i) is None:
            QtWidgets.QMessageBox.information(self, "No data", "Load a data set whose images fit this model first.")
            return
        try:
            start = data_start(
                ds, i, n=self.n.value(), seed=self.seed.value(), sigma=self.sigma.value(), mask=self.mask.value()
            )
        except StartError as e:
            QtWidgets.QMessageBox.information(self, "No data", str(e))
            return
        self.startRequested.emit(start)

    # -- settings
    def save_settings(self, st) -> None:
        st.setValue("chain/n", self.n.value())
        st.setValue("chain/seed", self.seed.value())
        st.setValue("chain/start", self.kind.currentText())

    def restore_settings(self, st) -> None:
        for box, key, default in ((self.n, "chain/n", 64), (self.seed, "chain/seed", 0)):
            try:
                box.setValue(int(st.value(key, default)))
            except (TypeError, ValueError):
                box.setValue(default)
        kind = str(st.value("chain/start", "uniform"))
        self.kind.setCurrentText(kind if kind in NOISE_STARTS else "uniform")
