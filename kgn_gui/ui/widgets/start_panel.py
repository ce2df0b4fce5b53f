"""Start input: random noise, a painting, or a (corrupted) data-set image, requested as a core.chain.start.Start."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.chain.lab import KNOWN_REGIONS, Condition, load_mask, parse_condition, region_mask
from ...core.chain.start import NOISE_STARTS, Start, data_start
from ...core.errors import DataError, LabError, StartError
from ...core.wording import count
from .paint import PaintCanvas
from .ranges import guard_ranges

MAX_DRAWN = 256


def grey_pixmap(img: np.ndarray, side: int) -> QtGui.QPixmap:
    """An H×W picture of values in [0, 1] as a grey pixmap, scaled to side × side."""
    a = np.ascontiguousarray((np.clip(img, 0.0, 1.0) * 255).astype(np.uint8))
    q = QtGui.QImage(a.data, a.shape[1], a.shape[0], a.shape[1], QtGui.QImage.Format.Format_Grayscale8).copy()
    return QtGui.QPixmap.fromImage(q).scaled(side, side)


def _preview_label() -> QtWidgets.QLabel:
    """A 112-pixel preview on the theme's dark background."""
    label = QtWidgets.QLabel()
    label.setFixedSize(112, 112)
    label.setBackgroundRole(QtGui.QPalette.ColorRole.Dark)  # follows the theme
    label.setAutoFillBackground(True)
    return label


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
    conditionRequested = QtCore.Signal(object, bool)  # (a core.chain.lab.Condition or None, start new chains)

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
        self.preview = _preview_label()
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

        # Condition (inpainting: the known pixels are reset to the known image after every step)
        cnd = QtWidgets.QWidget()
        f3 = QtWidgets.QFormLayout(cnd)
        self.cond_source = QtWidgets.QComboBox()
        self.cond_source.setObjectName("condition_source")
        self.cond_source.addItems(["data-set image", "the painting", "image or .npy file…"])
        self.cond_source.setToolTip(
            "The known image: a data-set image (index below), the Paint tab's canvas, or a file (an image, or a\n"
            ".npy of one state), read as kgn sample --condition FILE reads it"
        )
        self.cond_file = ""
        self.cond_source.textActivated.connect(self._pick_known_file)
        self.cond_index = _spin(0, 0, 0, "Which data-set image is known")
        self.cond_data = QtWidgets.QLabel("no data set")
        self.cond_data.setToolTip("The data set the index is in: the model's training data")
        self.cond_region = QtWidgets.QComboBox()
        self.cond_region.setObjectName("condition_region")
        self.cond_region.addItems([*KNOWN_REGIONS, "mask file…"])
        self.cond_region.setToolTip(
            "The known pixels: a half of the image, or a mask image (white = known) or .npy (non-zero = known)"
        )
        self.mask_path = ""
        self.cond_region.textActivated.connect(self._pick_mask)
        self.cond_preview = _preview_label()
        self.cond_preview.setToolTip("The known image; the pixels the chains fill in are dimmed")
        for w in (self.cond_source, self.cond_region):
            w.currentIndexChanged.connect(self._update_condition_preview)
        self.cond_index.valueChanged.connect(self._update_condition_preview)
        f3.addRow("Known image", self.cond_source)
        index_row = QtWidgets.QHBoxLayout()
        index_row.addWidget(self.cond_index)
        index_row.addWidget(self.cond_data, 1)
        f3.addRow("Index", index_row)
        f3.addRow("Known pixels", self.cond_region)
        f3.addRow("", self.cond_preview)
        go = QtWidgets.QPushButton("Start conditioned chains")
        go.setObjectName("start_conditioned")
        go.setToolTip(
            "New chains from the Random tab's noise; after every step the known pixels are reset to the known "
            "image and the chains fill in the rest"
        )
        go.clicked.connect(lambda: self._request_condition(restart=True))
        now = QtWidgets.QPushButton("Condition the current chains")
        now.setToolTip("The chains now running, conditioned from their start (their history is recomputed)")
        now.clicked.connect(lambda: self._request_condition(restart=False))
        off = QtWidgets.QPushButton("Stop conditioning")
        off.setObjectName("stop_conditioning")
        off.clicked.connect(lambda: self.conditionRequested.emit(None, False))
        f3.addRow(go)
        f3.addRow(now)
        f3.addRow(off)
        tabs.addTab(cnd, "Condition")

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(tabs)
        guard_ranges(self)  # each bounded field says its range and a value it refuses

    # -- configuration
    def set_model_geometry(self, shape: tuple[int, ...], value_range: tuple[float, float]) -> None:
        self.shape, self.value_range = tuple(shape), value_range
        if len(shape) == 3:
            self.canvas.resize_canvas(shape[1], shape[2])

    def set_dataset(self, ds) -> None:
        self.dataset = ds
        if ds is None:
            self.data_label.setText("no data set")
            self.cond_data.setText("no data set")
            self.index.setRange(0, 0)
            return
        self.data_label.setText(f"{ds.name} ({ds.M:,})")
        self.cond_data.setText(f"of {ds.name} ({count(ds.M, 'image')})")
        self.index.setRange(0, ds.M - 1)
        self.cond_index.setRange(0, ds.M - 1)
        self._update_preview()
        self._update_condition_preview()

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
        self.preview.setPixmap(grey_pixmap(img.mean(0), 112))
        if self.dataset.labels is not None:
            self.preview.setToolTip(f"label {self.dataset.labels[self.index.value()]}")

    def _copy_to_canvas(self) -> None:
        img = self._image(self.index.value())
        if img is not None:
            self.canvas.set_ink(img.mean(0))
            self.tabs.setCurrentIndex(1)

    # -- the Condition tab
    def _pick_mask(self, text: str) -> None:
        if text != "mask file…":
            return
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Known-pixel mask", "", "Masks (*.png *.jpg *.jpeg *.bmp *.gif *.npy);;All files (*)"
        )
        if path:
            self.mask_path = path
            self.cond_region.setItemText(len(KNOWN_REGIONS), f"mask: {path.rsplit('/', 1)[-1]}")
            self._update_condition_preview()
        elif not self.mask_path:
            self.cond_region.setCurrentIndex(0)

    def _pick_known_file(self, text: str) -> None:
        if text != self.cond_source.itemText(2):
            return
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Known image", "", "Images or states (*.png *.jpg *.jpeg *.bmp *.gif *.npy);;All files (*)"
        )
        if path:
            self.cond_file = path
            self.cond_source.setItemText(2, f"file: {path.rsplit('/', 1)[-1]}")
            self._update_condition_preview()
        elif not self.cond_file:
            self.cond_source.setCurrentIndex(0)

    def condition(self) -> Condition:
        """The Condition the tab describes (raises LabError with one line)."""
        if len(self.shape) != 3:
            raise LabError("conditions are for image models")
        region = self.cond_region.currentIndex()
        if region == len(KNOWN_REGIONS) and not self.mask_path:
            raise LabError("choose a mask file")
        if self.cond_source.currentIndex() == 2:  # a file, read as kgn --condition FILE --known … reads it
            if not self.cond_file:
                raise LabError("choose the known image's file")
            known = KNOWN_REGIONS[region] if region < len(KNOWN_REGIONS) else self.mask_path
            try:
                return parse_condition(self.cond_file, known, self.shape, self.value_range)
            except (DataError, StartError) as e:
                raise LabError(str(e)) from None
        if self.cond_source.currentIndex() == 0:
            ds, i = self.dataset, self.cond_index.value()
            if ds is None or self._image(i) is None:
                raise LabError("load a data set whose images fit this model first, or use the painting")
            known, source = np.asarray(ds.x[i], np.float32), f"{ds.source or ds.name}#{i}"  # (a source: a --start)
        else:
            known, source = self.painted_state(), "painting"
        if region < len(KNOWN_REGIONS):
            name = KNOWN_REGIONS[region]
            mask = region_mask(name, self.shape)
        else:
            name = self.mask_path.rsplit("/", 1)[-1]
            mask = load_mask(self.mask_path, self.shape)
        lo, hi = self.value_range
        return Condition(np.clip(known, lo, hi), mask, source=source, region=name)

    def _update_condition_preview(self, *_) -> None:
        try:
            c = self.condition()
        except (LabError, ValueError):
            self.cond_preview.clear()
            return
        lo, hi = self.value_range
        img = ((c.known - lo) / (hi - lo)).reshape(self.shape).mean(0)
        m = c.mask.reshape(self.shape)[0]
        shown = np.where(m, img, 0.25 + 0.35 * img)  # the unknown part dimmed and lifted: visibly not known
        self.cond_preview.setPixmap(grey_pixmap(shown, 112))

    def _request_condition(self, restart: bool) -> None:
        try:
            c = self.condition()
        except LabError as e:
            QtWidgets.QMessageBox.information(self, "Condition", str(e))
            return
        self.conditionRequested.emit(c, restart)

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
                ds, i, n=self.n.value(), seed=self.seed.value(), sigma=self.sigma.value(), mask=self.mask.value(),
                key=ds.source,
            )  # fmt: skip
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
