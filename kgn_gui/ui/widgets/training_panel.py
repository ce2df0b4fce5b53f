"""Training panel: data source, architecture, recipe, Train / Pause / Resume / Stop, progress and
a live log-scale loss curve. The window wires it to a TrainingController."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...core.data.sources import POINT_PRESETS
from ...core.errors import RecipeError
from ...core.model.architectures import ARCH_DEFAULTS, BOUNDS, ModelSpec, spec_parameter_count
from ...core.model.recipes import PRESET_NAMES, Recipe, about_presets, recipe_for
from ...core.model.train import DEVICES, PRECISIONS, SCHEDULES, TrainConfig, format_duration, format_loss
from .plots import fit_y_range, plain_axes
from .ranges import guard_ranges

SOURCES = [("MNIST train (60,000)", "mnist:train"), ("MNIST test (10,000)", "mnist:test")] + [
    (f"points: {k}", f"points:{k}") for k in POINT_PRESETS
]


class TrainingPanel(QtWidgets.QWidget):
    """Form + buttons + progress + loss plot. Emits requests; shows what the controller reports."""

    trainRequested = QtCore.Signal()
    pauseRequested = QtCore.Signal()
    resumeRequested = QtCore.Signal()
    stopRequested = QtCore.Signal()
    useWeightsRequested = QtCore.Signal()
    importRequested = QtCore.Signal()
    sourceChanged = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QtWidgets.QFormLayout()
        self.source = QtWidgets.QComboBox()
        for label, key in SOURCES:
            self.source.addItem(label, key)
        self.source.setToolTip("What the network learns to copy. Import adds IDX, .npz/.npy or image folders.")
        self.source.currentIndexChanged.connect(lambda _: self.sourceChanged.emit(self.source_key()))
        imp = QtWidgets.QToolButton()
        imp.setText("Import…")
        imp.setToolTip("Import IDX files (MNIST/Fashion-MNIST style), a .npz/.npy array or a folder of images")
        imp.clicked.connect(self.importRequested.emit)
        src_row = QtWidgets.QHBoxLayout()
        src_row.addWidget(self.source, 1)
        src_row.addWidget(imp)
        form.addRow("Data", src_row)

        self.arch = QtWidgets.QComboBox()
        for key, d in ARCH_DEFAULTS.items():
            self.arch.addItem(d["label"], key)
        self.arch.setToolTip(
            "MLP: the paper's network. CNN autoencoder, U-Net and Transformer: the paper says the "
            'kaleidoscope appears in them "to various degrees"; they need image data. Choosing '
            "one fills in its usual depth, width and learning rate."
        )
        self.L = QtWidgets.QSpinBox()
        self.L.setRange(1, 64)
        self.L.setValue(10)
        self.H = QtWidgets.QSpinBox()
        self.H.setRange(1, 8192)
        self.H.setValue(500)
        self.bottleneck = QtWidgets.QSpinBox()
        self.bottleneck.setRange(0, 65536)
        self.bottleneck.setSpecialValueText("none")
        self.bottleneck.setToolTip(
            "CNN: width of a fully connected layer between encoder and decoder. A narrow "
            "bottleneck forces the network to compress, which changes what noise turns into."
        )
        self.patch = QtWidgets.QSpinBox()
        self.patch.setRange(0, 64)
        self.patch.setSpecialValueText("auto")
        self.patch.setToolTip("Transformer: side of the square patches that become tokens (auto: ≤ 64 patches)")
        self.heads = QtWidgets.QSpinBox()
        self.heads.setRange(0, 64)
        self.heads.setSpecialValueText("auto")
        self.heads.setToolTip("Transformer: attention heads; H must be a multiple (auto: H/32)")
        self.bound = QtWidgets.QComboBox()
        self.bound.addItems(list(BOUNDS))
        self.bound.setToolTip(
            "Bounded output: tanh → values in [−1, 1], sigmoid → [0, 1]. The bound is what "
            "squeezes unseen inputs into the training range."
        )
        arch_row = QtWidgets.QHBoxLayout()
        arch_row.addWidget(self.arch, 1)
        arch_row.addWidget(self.bound)
        form.addRow("Network", arch_row)
        arch = QtWidgets.QHBoxLayout()
        self._option_labels = {}
        for lab, w in (
            ("L", self.L),
            ("H", self.H),
            ("bottleneck", self.bottleneck),
            ("patch", self.patch),
            ("heads", self.heads),
        ):
            label = QtWidgets.QLabel(lab)
            self._option_labels[w] = label
            arch.addWidget(label)
            arch.addWidget(w)
        arch.addStretch(1)
        form.addRow("Size", arch)
        self.params_label = QtWidgets.QLabel()
        form.addRow("", self.params_label)

        self.preset = QtWidgets.QComboBox()
        for name in PRESET_NAMES:
            self.preset.addItem(name, name)
        self.preset.setToolTip(
            f"Fill the form with a named recipe for this data (the same as kgn train --preset): {about_presets()}"
        )
        self.apply_preset = QtWidgets.QPushButton("Apply")
        self.apply_preset.setToolTip("Fill in the form from the chosen preset for the chosen data")
        self.apply_preset.clicked.connect(self.fill_preset)
        self.schedule = QtWidgets.QComboBox()
        self.schedule.addItems(list(SCHEDULES))
        self.schedule.setToolTip("Learning rate: constant (the paper's) or linear warm-up, then cosine decay to 0")
        self.warmup = QtWidgets.QSpinBox()
        self.warmup.setRange(0, 10_000_000)
        self.warmup.setPrefix("warm-up ")
        self.warmup.setToolTip("Warm-up steps of the cosine schedule")
        preset_row = QtWidgets.QHBoxLayout()
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(self.apply_preset)
        form.addRow("Preset", preset_row)
        self.lr = QtWidgets.QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setSingleStep(1e-4)
        self.lr.setValue(1e-4)
        self.lr.setToolTip("Adam learning rate (paper: 1e-4 for MNIST, 1e-3 for points)")
        self.batch = QtWidgets.QSpinBox()
        self.batch.setRange(1, 1_000_000)
        self.batch.setValue(1000)
        self.batch.setToolTip("Minibatch size: one random batch per step, no repeats inside it (full batch if ≥ M)")
        self.steps = QtWidgets.QSpinBox()
        self.steps.setRange(1, 10_000_000)
        self.steps.setValue(2000)
        self.steps.setToolTip("Optimizer steps (the paper's MNIST recipe: 10,000)")
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Seed for the initial weights and the batch draws: CPU runs are reproducible")
        self.device = QtWidgets.QComboBox()
        self.device.addItems(list(DEVICES))
        self.device.setToolTip("auto picks CUDA, then MPS, then the CPU")
        self.precision = QtWidgets.QComboBox()
        labels = {"fp32": "fp32 (the paper's)", "bf16": "bf16 autocast", "tf32": "tf32 (CUDA)"}
        for key in PRECISIONS:
            self.precision.addItem(labels.get(key, key), key)
        self.precision.setToolTip(
            "Arithmetic of the training step. fp32: full float32, as in the paper. bf16: the forward pass in "
            "bfloat16 (weights, gradients and Adam stay float32) — about 2× faster on CPUs with AMX and on GPUs, "
            "with a loss curve close to fp32's. tf32: float32 matrix products on CUDA tensor cores."
        )
        for lab, w in (
            ("Learning rate", self.lr),
            ("Batch", self.batch),
            ("Steps", self.steps),
            ("Schedule", self._pair(self.schedule, self.warmup)),
            ("Seed", self.seed),
            ("Device", self.device),
            ("Precision", self.precision),
        ):
            form.addRow(lab, w)
        for w in (self.L, self.H, self.bottleneck, self.patch, self.heads):
            w.valueChanged.connect(self._update_params)
        self.bound.currentTextChanged.connect(self._update_params)
        self.arch.currentIndexChanged.connect(self._arch_changed)

        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train in the background; the window stays live (Ctrl+T)")
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step and keep the best weights so far")
        self.use_button = QtWidgets.QPushButton("Use weights")
        self.use_button.setToolTip(
            "Switch the chain to this model: the current weights while training, the best weights when done"
        )
        self.train_button.clicked.connect(self.trainRequested.emit)
        self.pause_button.clicked.connect(self._pause_clicked)
        self.stop_button.clicked.connect(self.stopRequested.emit)
        self.use_button.clicked.connect(self.useWeightsRequested.emit)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.stop_button, self.use_button):
            buttons.addWidget(b)

        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)

        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setBackground("#1e1e1e")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setTitle("training loss (MSE per value)", size="9pt")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_plot.setToolTip(
            "Batch loss: the manifold loss (1/(B·D)) Σ‖x − f(x)‖² of each minibatch, log scale.\n"
            "The best evaluation loss (in the line above) is the same loss on a fixed subset of the training\n"
            "data, checked every few steps; it picks the weights that are kept, and, being measured on\n"
            "other samples than the last batch, can sit above the batch loss."
        )
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#f72585", width=1.5))
        self.loss_curve.setDownsampling(auto=True, method="peak")
        self.loss_curve.setClipToView(True)
        self.loss_plot.setMinimumHeight(90)
        self.zero_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen("#aaaaaa", width=1, style=QtCore.Qt.PenStyle.DashLine),
            label="exact 0",
            labelOpts={"position": 0.05, "color": "#aaaaaa", "anchors": [(0, 1), (0, 1)]},
        )
        self.zero_line.setVisible(False)
        self.loss_plot.addItem(self.zero_line)
        plain_axes(self.loss_plot)
        self.loss_plot.enableAutoRange(y=False)
        self.loss_plot.setYRange(-3, 0, padding=0)  # log10 units: 1e-3 … 1 until a run sets its own range
        self._y_state = None

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.loss_plot, 1)
        self.set_state("idle")
        self._D, self._shape = 784, (1, 28, 28)
        self.set_recipe(recipe=recipe_for("mnist", "paper"))
        self._show_arch_options()
        self._update_params()
        guard_ranges(self)  # each bounded field says its range and a value it refuses

    # -- values
    def source_key(self) -> str:
        return self.source.currentData()

    def add_source(self, label: str, key: str) -> None:
        i = self.source.findData(key)
        if i < 0:
            self.source.addItem(label, key)
            i = self.source.count() - 1
        self.source.setCurrentIndex(i)

    def set_data_dimension(self, D: int, shape: tuple[int, ...] | None = None) -> None:
        self._D, self._shape = D, tuple(shape) if shape else (D,)
        self._update_params()

    def arch_key(self) -> str:
        return self.arch.currentData()

    def set_arch(self, key: str, defaults: bool = True) -> None:
        """Choose the architecture; with ``defaults`` its usual depth, width and learning rate too."""
        i = self.arch.findData(key)
        if i < 0:
            raise ValueError(f"unknown architecture {key!r}")
        self.arch.blockSignals(True)
        self.arch.setCurrentIndex(i)
        self.arch.blockSignals(False)
        if defaults:
            d = ARCH_DEFAULTS[key]
            self.L.setValue(d["L"])
            self.H.setValue(d["H"])
            self.lr.setValue(d["lr"])
        self._show_arch_options()
        self._update_params()

    def _arch_changed(self, _index: int) -> None:  # the person picked another architecture
        self.set_arch(self.arch_key())

    def _show_arch_options(self) -> None:
        key = self.arch_key()
        d = ARCH_DEFAULTS[key]
        self.L.setToolTip(
            f"L, depth: {d['L_means']}. The paper's claim: deeper networks over-generalize more "
            f"and give better samples (its MNIST MLP used L = 10)."
        )
        self.H.setToolTip(f"H, width: {d['H_means']} (the paper's MNIST MLP used 500)")
        for w, show in (
            (self.bottleneck, key == "cnn"),
            (self.patch, key == "transformer"),
            (self.heads, key == "transformer"),
        ):
            w.setVisible(show)
            self._option_labels[w].setVisible(show)

    @staticmethod
    def _pair(a: QtWidgets.QWidget, b: QtWidgets.QWidget) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(a, 1)
        row.addWidget(b, 1)
        return w

    def set_recipe(self, source: str | None = None, recipe: Recipe | None = None, **fields) -> None:
        """Fill in the form from a core Recipe and/or single fields (L, H, bound, lr, batch, steps, schedule,
        warmup, seed, arch, bottleneck, patch, heads); what is not given keeps its value. ``source`` is a
        data-source key already in the list."""
        if source is not None:
            i = self.source.findData(source)
            if i < 0:
                raise ValueError(f"no data source {source!r} in the list")
            self.source.setCurrentIndex(i)
        values = {
            **(recipe.to_dict() if recipe is not None else {}),
            **{k: v for k, v in fields.items() if v is not None},
        }
        if "arch" in values:
            self.set_arch(values["arch"], defaults=False)
        boxes = {
            "L": self.L,
            "H": self.H,
            "lr": self.lr,
            "batch": self.batch,
            "steps": self.steps,
            "warmup": self.warmup,
            "seed": self.seed,
            "bottleneck": self.bottleneck,
            "patch": self.patch,
            "heads": self.heads,
        }
        for k, v in values.items():
            if k in boxes:
                boxes[k].setValue(v)
        if "bound" in values:
            self.bound.setCurrentText(values["bound"])
        if "schedule" in values:
            self.schedule.setCurrentText(values["schedule"])

    def fill_preset(self) -> None:
        """The chosen preset's recipe for the chosen data and architecture (core.model.recipes.recipe_for)."""
        try:
            r = recipe_for(self.source_key(), self.preset.currentData(), arch=self.arch_key())
        except RecipeError as e:
            self.show_message(str(e))
            return
        self.set_recipe(recipe=r)
        self.show_message(f"{self.preset.currentData()} recipe for {self.source_key()} filled in")

    def recipe(self) -> Recipe:
        """The form as a core Recipe."""
        return Recipe(
            arch=self.arch_key(),
            L=self.L.value(),
            H=self.H.value(),
            bound=self.bound.currentText(),
            lr=float(self.lr.value()),
            batch=self.batch.value(),
            steps=self.steps.value(),
            schedule=self.schedule.currentText(),
            warmup=self.warmup.value(),
            seed=self.seed.value(),
            **self.arch_options(),
        )

    def arch_options(self) -> dict:
        """bottleneck, patch and heads as the chosen architecture uses them (0 where it does not)."""
        key = self.arch_key()
        return {
            "bottleneck": self.bottleneck.value() if key == "cnn" else 0,
            "patch": self.patch.value() if key == "transformer" else 0,
            "heads": self.heads.value() if key == "transformer" else 0,
        }

    def spec_for(self, D: int, shape) -> ModelSpec:
        return self.recipe().spec(D, shape)

    def config(self) -> TrainConfig:
        return self.recipe().train_config(
            device=self.device.currentText(), report_interval_s=0.1, precision=self.precision.currentData()
        )

    def reset_loss(self) -> None:
        """An empty loss plot for a new run."""
        self.loss_curve.setData([], [])
        self.zero_line.setVisible(False)
        self._y_state = None

    # -- settings
    _SETTINGS = ("L", "H", "lr", "batch", "steps", "warmup", "seed", "bottleneck", "patch", "heads")

    def save_settings(self, st) -> None:
        for key in self._SETTINGS:
            st.setValue(f"train/{key}", getattr(self, key).value())
        st.setValue("train/arch", self.arch_key())
        st.setValue("train/bound", self.bound.currentText())
        st.setValue("train/schedule", self.schedule.currentText())
        st.setValue("train/precision", self.precision.currentData())
        st.setValue("train/device", self.device.currentText())
        st.setValue("train/preset", self.preset.currentData())

    def restore_settings(self, st) -> None:
        """The form as it was; what is missing or unreadable keeps the paper's MNIST recipe."""
        paper = recipe_for("mnist", "paper")
        arch = str(st.value("train/arch", paper.arch))
        self.set_arch(arch if self.arch.findData(arch) >= 0 else "mlp", defaults=False)
        for key in self._SETTINGS:
            box = getattr(self, key)
            try:
                v = type(box.value())(st.value(f"train/{key}", getattr(paper, key)))
            except (TypeError, ValueError):
                v = getattr(paper, key)
            box.setValue(v)
        for box, key, default in (
            (self.bound, "bound", paper.bound),
            (self.schedule, "schedule", paper.schedule),
            (self.device, "device", "auto"),
        ):
            v = str(st.value(f"train/{key}", default))
            box.setCurrentText(v if box.findText(v) >= 0 else default)
        for box, key, default in ((self.precision, "precision", "fp32"), (self.preset, "preset", "paper")):
            box.setCurrentIndex(max(0, box.findData(str(st.value(f"train/{key}", default)))))

    def _update_params(self) -> None:
        try:
            spec = self.spec_for(self._D, self._shape)
            n = spec_parameter_count(spec)
            shape = "×".join(map(str, self._shape))
            self.params_label.setText(f"{n:,} parameters ({shape} data)")
            self.params_label.setToolTip(spec.describe())
            self.params_label.setStyleSheet("")
        except ValueError as e:
            self.params_label.setText(str(e))
            self.params_label.setStyleSheet("color: #ff9f43")

    # -- state
    def set_state(self, state: str) -> None:
        busy = state in ("running", "paused", "stopping")
        self.train_button.setEnabled(not busy)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        for w in (
            self.source,
            self.arch,
            self.L,
            self.H,
            self.bottleneck,
            self.patch,
            self.heads,
            self.bound,
            self.lr,
            self.batch,
            self.steps,
            self.seed,
            self.device,
            self.precision,
            self.preset,
            self.apply_preset,
            self.schedule,
            self.warmup,
        ):
            w.setEnabled(not busy)
        if state == "paused":
            self.progress.setFormat("paused – %p%")
        self._state = state

    def _pause_clicked(self) -> None:
        (self.resumeRequested if self._state == "paused" else self.pauseRequested).emit()

    def show_progress(self, ev, losses: np.ndarray | None = None, run=None, about: str = "") -> None:
        """A run's progress; ``about`` names a run the form did not start (its batch is the run's, not the form's)."""
        self.progress.setValue(int(1000 * ev.step / max(ev.steps, 1)))
        self.progress.setFormat(f"step {ev.step:,}/{ev.steps:,} – %p%")
        batch = run.config.batch if run is not None else self.batch.value()
        self.status.setText(
            (f"Training {about}. " if about else "")
            + f"batch loss {format_loss(ev.loss)} · best evaluation loss {format_loss(ev.best_loss)} · "
            f"{ev.samples_per_s:,.0f} samples/s "
            f"({ev.samples_per_s / max(1, batch):.1f} steps/s) · ETA {format_duration(ev.eta_s)}"
        )
        if losses is not None:
            n = ev.step
            y = np.asarray(losses[:n], np.float64)
            fin = np.isfinite(y)
            pos = fin & (y > 0)
            zero = fin & (y == 0)
            if pos.any() or zero.any():
                # Exact zeros cannot sit on a log axis: they are drawn on a marked floor a decade below the
                # smallest loss above zero (or at 1e-12), with a dashed line saying so.
                floor = float(y[pos].min()) / 10 if pos.any() else 1e-12
                self.zero_line.setValue(np.log10(floor))
                self.zero_line.setVisible(bool(zero.any()))
                shown = np.where(zero, floor, y)
                ok = pos | zero
                self.loss_curve.setData(np.arange(1, n + 1)[ok], shown[ok], skipFiniteCheck=True)
                self._y_state = fit_y_range(
                    self.loss_plot, float(shown[ok].min()), float(shown[ok].max()), self._y_state
                )

    def show_message(self, text: str) -> None:
        self.status.setText(text)
