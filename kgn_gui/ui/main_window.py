"""The main window. This first version shows the bundled model's chain and plays it; the full
explorer (training, painting, plots, timeline) builds on it."""
from __future__ import annotations

import time
from pathlib import Path

import torch
from PySide6 import QtCore, QtGui, QtWidgets

from ..core.chain import Chain, ChainConfig, start_states
from ..core.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from ..core.timeline import Timeline
from .widgets.chain_grid import ChainGrid

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "mnist.safetensors"


class MainWindow(QtWidgets.QMainWindow):
    """Plays N kaleidoscopic chains of one model: Space play/pause, → one step, R reset."""

    stepChanged = QtCore.Signal(int)

    def __init__(self, model_path: str | Path | None = None, n_chains: int = 64):
        super().__init__()
        self.setWindowTitle("Kaleidoscope Studio")
        self.checkpoint: Checkpoint | None = None
        self.timeline: Timeline | None = None
        self.config = ChainConfig(n=n_chains, start="uniform", noise="normal", eps=0.01, seed=0)
        self.grid = ChainGrid()
        self.setCentralWidget(self._build_central())
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self.step_forward)
        self._steps_done = 0
        self._t_started = time.perf_counter()
        self._build_actions()
        self.resize(760, 800)
        self.load_model(model_path or DEFAULT_MODEL)

    # -- layout
    def _build_central(self) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(w)
        lay.addWidget(self.grid, 1)
        bar = QtWidgets.QHBoxLayout()
        self.play_button = QtWidgets.QPushButton("Play")
        self.play_button.setToolTip("Apply f again and again to every chain (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button = QtWidgets.QPushButton("Step")
        self.step_button.setToolTip("One step: x ← clamp(f(x) + ε·n) (→)")
        self.step_button.clicked.connect(self.step_forward)
        self.reset_button = QtWidgets.QPushButton("New noise")
        self.reset_button.setToolTip("Restart every chain from fresh uniform noise (R)")
        self.reset_button.clicked.connect(self.reset_chain)
        self.step_label = QtWidgets.QLabel("step 0")
        self.step_label.setMinimumWidth(90)
        for b in (self.play_button, self.step_button, self.reset_button):
            bar.addWidget(b)
        bar.addStretch(1)
        bar.addWidget(self.step_label)
        lay.addLayout(bar)
        return w

    def _build_actions(self) -> None:
        for key, slot in ((QtCore.Qt.Key.Key_Space, self.toggle_play), (QtCore.Qt.Key.Key_Right, self.step_forward),
                          (QtCore.Qt.Key.Key_R, self.reset_chain)):
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            sc.activated.connect(slot)
        m = self.menuBar().addMenu("&File")
        act = m.addAction("&Open model…")
        act.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        act.triggered.connect(self.open_model_dialog)
        m.addAction("&Quit", QtGui.QKeySequence.StandardKey.Quit, self.close)
        h = self.menuBar().addMenu("&Help")
        h.addAction("&About", self.show_about)

    # -- model and chain
    def load_model(self, path: str | Path) -> bool:
        try:
            ck = load_checkpoint(path)
        except CheckpointError as e:
            QtWidgets.QMessageBox.warning(self, "Cannot open model", str(e))
            self.statusBar().showMessage(f"no model: {e}")
            return False
        if len(ck.spec.shape) != 3:
            QtWidgets.QMessageBox.warning(self, "Cannot show model",
                                          f"{Path(path).name} is a {len(ck.spec.shape)}-D points model; "
                                          "this view shows image models.")
            return False
        self.checkpoint = ck
        self.grid.set_geometry(ck.spec.shape, ck.value_range)
        self.reset_chain()
        params = sum(p.numel() for p in ck.model.parameters())
        self.statusBar().showMessage(f"{ck.name}: MLP L={ck.spec.L} H={ck.spec.H} {ck.spec.bound}, "
                                     f"{params:,} parameters, cpu")
        return True

    def reset_chain(self) -> None:
        if self.checkpoint is None:
            return
        ck = self.checkpoint
        self.config.seed = self.config.seed + 1 if self.timeline is not None else self.config.seed
        chain = Chain(ck.model, ck.value_range, self.config.noise, self.config.eps, self.config.seed)
        x0 = start_states(self.config, ck.spec.D, ck.value_range, shape=ck.spec.shape)
        self.timeline = Timeline(chain, x0)
        self._show(0)

    @property
    def step(self) -> int:
        return self.timeline.t_max if self.timeline else 0

    def step_forward(self) -> None:
        if self.timeline is None:
            return
        self.timeline.advance(1)
        self._steps_done += 1
        self._show(self.timeline.t_max)

    def _show(self, t: int) -> None:
        self.grid.show_states(self.timeline.state(t))
        self.step_label.setText(f"step {t}")
        self.stepChanged.emit(t)

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.play_button.setText("Play")
        else:
            self.timer.start()
            self.play_button.setText("Pause")

    # -- dialogs
    def open_model_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open model", str(DEFAULT_MODEL.parent),
                                                        "Kaleidoscope models (*.safetensors)")
        if path:
            self.load_model(path)

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self, "About Kaleidoscope Studio", ABOUT_HTML)

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        super().closeEvent(ev)


ABOUT_HTML = """<h3>Kaleidoscope Studio</h3>
<p>A deep ReLU network with bounded outputs, trained so that f(x) ≈ x, maps unseen inputs into the
range it saw in training (over-generalization). Applied again and again to noise, f(f(…f(z)…)), its
iterates come to look like training samples: a kaleidoscope of the data set.</p>
<p>H. Shrivastava, <i>Generative Kaleidoscopic Networks</i>, arXiv:2402.11793 (2024).</p>
<p>Bundled data: MNIST by Y. LeCun, C. Cortes and C. Burges, under CC BY-SA 3.0.</p>"""
