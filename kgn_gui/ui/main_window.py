"""The Kaleidoscope Studio main window: chain grid and transport in the centre; training, start
input, plots and inspector in docks. Every view shows the one current step of the chain
controller."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .. import __version__
from ..core.chain import ChainConfig, ChainError
from ..core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from ..core.data import DataError, Dataset, drop_prefetched, make_points, open_source, source_for_name
from ..core.export import ExportError
from ..core.files import WriteError, atomic_path
from ..core.models import count_parameters
from ..core.session import ChainSession
from ..core.timeline import TimelineError
from ..core.train import TrainError
from .controllers.chain import ChainController
from .controllers.sweep import SweepRun
from .controllers.training import TrainingController
from .widgets.analysis_panel import AnalysisPanel, Job
from .widgets.chain_grid import ChainGrid
from .widgets.export_dialog import ExportDialog, ExportJob, ViewExportJob
from .widgets.inspector import Inspector
from .widgets.plots import PlotsPanel
from .widgets.points_view import PointsView
from .widgets.start_panel import StartPanel
from .widgets.training_panel import TrainingPanel
from .widgets.transport import TransportBar

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "mnist.safetensors"
MAX_RECENT = 8


class MainWindow(QtWidgets.QMainWindow):
    """Opens on a model (default: the bundled MNIST one) with 64 chains from uniform noise."""

    modelChanged = QtCore.Signal()

    def __init__(
        self, model_path: str | Path | None = None, n_chains: int | None = None, restore_settings: bool = True
    ):
        super().__init__()
        self.setWindowTitle("Kaleidoscope Studio")
        self.setAcceptDrops(True)
        self.settings = QtCore.QSettings()
        self.checkpoint: Checkpoint | None = None
        self.model_dirty = False  # weights not saved to a file yet
        self._datasets: dict[tuple, Dataset] = {}
        self.train_data: Dataset | None = None
        self._last_curves_draw = 0.0
        self._last_slider_draw = 0.0
        self._inspected: int | None = None
        self._last_inspect = 0.0
        self._errors: list[str] = []
        self._reports: list[str] = []  # import reports shown (tests read them)
        self.curves_interval_s = 0.35  # while playing, the plots follow at most this often

        self.chain = ChainController(self)
        self.training = TrainingController(self)
        self.grid = ChainGrid()
        self.points_view = PointsView()
        self.compare_view = PointsView(read_only=True)  # the second depth, side by side
        self.compare_view.hide()
        self.analysis = AnalysisPanel()
        self._measure_job: Job | None = None
        self._analysis_job: Job | None = None
        self._classifier = None
        self._sweep: SweepRun | None = None
        self._measure_soon = QtCore.QTimer(self)  # measure the shown step once the user stops on it
        self._measure_soon.setSingleShot(True)
        self._measure_soon.setInterval(400)
        self._measure_soon.timeout.connect(lambda: self.analysis_dock.isVisible() and self.measure_now())
        self.compare_session: ChainSession | None = None
        self._compare_pending: list[int] = []
        self._compare_first: Checkpoint | None = None
        self._last_start: dict | None = None  # the start request the chains came from (for reset and bundles)
        self._export_job: ExportJob | None = None
        self._auto_use_training = False
        self.transport = TransportBar()
        self.training_panel = TrainingPanel()
        self.start_panel = StartPanel()
        self.plots = PlotsPanel()
        self.inspector = Inspector()
        self._build_layout()
        self._build_menus()
        self._build_status()
        self._connect()

        if restore_settings:
            self._restore_settings()
        if n_chains:
            self.start_panel.n.setValue(n_chains)
        path = model_path or self.settings.value("chain/last_model", "") or DEFAULT_MODEL
        if not self.load_model(path, quiet=model_path is None) and Path(path) != DEFAULT_MODEL:
            self.load_model(DEFAULT_MODEL)
        drop_prefetched()  # the first model did not need what app.main read ahead: let it go

    # ------------------------------------------------------------------ layout
    def _dock(self, title: str, widget: QtWidgets.QWidget, area, name: str) -> QtWidgets.QDockWidget:
        d = QtWidgets.QDockWidget(title, self)
        d.setObjectName(name)
        d.setWidget(widget)
        self.addDockWidget(area, d)
        return d

    def _build_layout(self) -> None:
        central = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 0)
        self.views = QtWidgets.QTabWidget()
        self.views.setDocumentMode(True)
        self.views.addTab(self.grid, "Images")
        self.points_split = QtWidgets.QSplitter()
        self.points_split.addWidget(self.points_view)
        self.points_split.addWidget(self.compare_view)
        self.views.addTab(self.points_split, "Points")
        self.views.setTabToolTip(1, "The paper's 1-D and 2-D experiments: place points, train, watch the chains")
        v.addWidget(self.views, 1)
        v.addWidget(self.transport)
        self.setCentralWidget(central)
        A = QtCore.Qt.DockWidgetArea
        self.training_dock = self._dock("Training", self.training_panel, A.LeftDockWidgetArea, "training")
        self.start_dock = self._dock("Start input", self.start_panel, A.LeftDockWidgetArea, "start")
        self.tabifyDockWidget(self.training_dock, self.start_dock)
        self.start_dock.raise_()
        self.plots_dock = self._dock("Plots", self.plots, A.BottomDockWidgetArea, "plots")
        self.inspector_dock = self._dock("Inspector", self.inspector, A.RightDockWidgetArea, "inspector")
        self.inspector_dock.hide()
        self.analysis_dock = self._dock("Analysis", self.analysis, A.RightDockWidgetArea, "analysis")
        self.resize(1400, 900)
        self.resizeDocks([self.plots_dock], [300], QtCore.Qt.Orientation.Vertical)
        self.resizeDocks(
            [self.training_dock, self.inspector_dock, self.analysis_dock],
            [330, 380, 330],
            QtCore.Qt.Orientation.Horizontal,
        )
        self._default_state = self.saveState()

    def _action(self, menu, text, slot, shortcut=None, tip=None) -> QtGui.QAction:
        a = menu.addAction(text)
        a.triggered.connect(slot)
        if shortcut is not None:
            a.setShortcut(QtGui.QKeySequence(shortcut))
            a.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        self.addAction(a)
        return a

    def _build_menus(self) -> None:
        K, SK = QtCore.Qt.Key, QtGui.QKeySequence.StandardKey
        m = self.menuBar().addMenu("&File")
        self._action(m, "&Open model…", self.open_model_dialog, SK.Open, "Open a .safetensors model (Ctrl+O)")
        self.recent_menu = m.addMenu("Open &recent")
        self._action(m, "&Save model as…", self.save_model_dialog, SK.Save, "Save the current model (Ctrl+S)")
        m.addSeparator()
        self._action(
            m, "Import &data file…", lambda: self.import_data_dialog(folder=False), tip="IDX (raw or .gz), .npz or .npy"
        )
        self._action(
            m,
            "Import data &folder…",
            lambda: self.import_data_dialog(folder=True),
            tip="A folder of IDX files (e.g. MNIST/raw) or of PNG/JPEG/BMP images, sub-folders as labels",
        )
        m.addSeparator()
        self._action(
            m,
            "&Export animation…",
            self.export_dialog,
            "Ctrl+E",
            "GIF, APNG, MP4, WebM or PNG frames of the chain over a range of steps (Ctrl+E)",
        )
        self._action(
            m,
            "Save run &bundle…",
            self.save_bundle_dialog,
            tip="Model, chain settings, metrics.csv and the animation of every step reached, in one "
            "folder or .zip: `kgn sample --bundle` reproduces it",
        )
        self._action(
            m,
            "Export &states (.npz)…",
            self.export_states_dialog,
            tip="The chains' states at chosen steps, with their settings, as a NumPy .npz",
        )
        self._action(m, "Save grid &image…", self.save_grid_dialog, tip="The chain grid at the current step as PNG")
        m.addSeparator()
        self._action(m, "&Quit", self.close, SK.Quit)

        c = self.menuBar().addMenu("&Chain")
        self.play_action = self._action(c, "&Play / pause", self.chain.toggle, K.Key_Space)
        self._action(c, "Step &forward", lambda: self.chain.step_by(1), K.Key_Right)
        self._action(c, "Step &back", lambda: self.chain.step_by(-1), K.Key_Left)
        self._action(c, "Forward 10", lambda: self.chain.step_by(10), "Shift+Right")
        self._action(c, "Back 10", lambda: self.chain.step_by(-10), "Shift+Left")
        self._action(c, "First step", lambda: self.chain.seek(0), K.Key_Home)
        self._action(c, "Last step reached", self.chain.go_end, K.Key_End)
        c.addSeparator()
        self._action(c, "&Reset to the start input", self.reset_chain, "Ctrl+R")
        self._action(c, "&Randomize", self.start_panel.request_random, "Ctrl+Shift+R")

        an = self.menuBar().addMenu("&Analysis")
        self._action(an, "&Measure the shown step", self.measure_now, "Ctrl+M")
        self._action(an, "&Attractor audit", lambda: self.run_attractor_audit(self.analysis.audit_n.value()))
        self._action(an, "&Basin recovery", self.analysis._recovery_clicked)
        self._action(
            an,
            "&Depth sweep…",
            self.sweep_dialog,
            tip="Train one model per depth on the current training source and measure each (CSV + PNG)",
        )

        t = self.menuBar().addMenu("&Training")
        self._action(t, "&Train", self.start_training, "Ctrl+T")
        self._action(t, "&Stop", self.training.stop, "Ctrl+.")
        self._action(t, "&Use current weights", self.use_trained_weights, "Ctrl+U")

        v = self.menuBar().addMenu("&View")
        for d in (self.training_dock, self.start_dock, self.plots_dock, self.inspector_dock, self.analysis_dock):
            v.addAction(d.toggleViewAction())
        v.addSeparator()
        self._action(v, "Reset &layout", lambda: self.restoreState(self._default_state))

        h = self.menuBar().addMenu("&Help")
        self._action(h, "&About Kaleidoscope Studio", self.show_about)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.model_label = QtWidgets.QLabel("no model")
        self.rate_label = QtWidgets.QLabel("")
        self.rate_label.setToolTip("Chain steps per second (compute) and frames per second (display)")
        sb.addPermanentWidget(self.model_label)
        sb.addPermanentWidget(self.rate_label)
        self._status_timer = QtCore.QTimer(self)
        self._status_timer.setInterval(500)
        self._status_timer.timeout.connect(self._update_rates)
        self._status_timer.start()

    def _connect(self) -> None:
        ch, tr = self.chain, self.transport
        ch.stepShown.connect(self.on_step_shown)
        ch.replaying.connect(self._on_replaying)
        ch.playingChanged.connect(tr.set_playing)
        ch.playingChanged.connect(lambda playing: None if playing else self._measure_soon.start())
        an = self.analysis
        an.measureRequested.connect(self.measure_now)
        an.auditRequested.connect(self.run_attractor_audit)
        an.recoveryRequested.connect(self.run_basin_recovery)
        an.cancelRequested.connect(lambda: self._analysis_job is not None and self._analysis_job.cancel())
        ch.error.connect(lambda msg: self.show_error("Chain stopped", msg))
        tr.playToggled.connect(ch.toggle)
        tr.stepBy.connect(ch.step_by)
        tr.seekRequested.connect(ch.seek)
        tr.resetRequested.connect(self.reset_chain)
        tr.noiseChanged.connect(self.on_noise_changed)
        tr.speedChanged.connect(ch.set_speed)
        self.grid.tileClicked.connect(self.inspect)
        self.points_view.trainRequested.connect(self.train_points)
        self.points_view.compareRequested.connect(self.compare_depths)
        self.start_panel.startRequested.connect(self.start_chains)
        tp, tc = self.training_panel, self.training
        tp.trainRequested.connect(self.start_training)
        tp.pauseRequested.connect(tc.pause)
        tp.resumeRequested.connect(tc.resume)
        tp.stopRequested.connect(tc.stop)
        tp.useWeightsRequested.connect(self.use_trained_weights)
        tp.importRequested.connect(lambda: self.import_data_dialog(folder=False))
        tp.sourceChanged.connect(self._on_source_changed)
        tc.progress.connect(self.on_training_progress)
        tc.finished.connect(self.on_training_finished)
        tc.failed.connect(self._training_failed)
        tc.weightsReady.connect(self._use_checkpoint)
        tc.stateChanged.connect(tp.set_state)
        tc.warning.connect(self._training_warning)

    # ------------------------------------------------------------------ errors
    def show_error(self, title: str, message: str) -> None:
        """A clear dialog (never a traceback); the app stays usable."""
        self._errors.append(message)
        self.statusBar().showMessage(message, 10_000)
        QtWidgets.QMessageBox.warning(self, title, message)

    # ------------------------------------------------------------------ data
    def dataset(self, key: str, value_range: tuple[float, float]) -> Dataset:
        """A data source in a value range, loaded once (raises DataError)."""
        if key == "points:workspace":  # the Points tab's hand-placed points, as they are now
            pv = self.points_view
            lo, hi = pv.value_range
            return make_points(pv.points, (lo, hi), name=pv.preset or "workspace").to_range(tuple(value_range))
        k = (key, tuple(value_range))
        if k not in self._datasets:
            self._datasets[k] = open_source(key, tuple(value_range))
        return self._datasets[k]

    def _training_data_for(self, ck: Checkpoint) -> Dataset | None:
        name = str(ck.meta.get("dataset", ""))
        vr = ck.value_range
        run = self.training.run
        if run is not None and run.dataset.name == name and run.dataset.D == ck.spec.D:
            return run.dataset  # just trained on it (e.g. the Points tab's hand-placed points)
        try:
            key = source_for_name(name)
            if key is not None and (
                key.startswith("mnist") or not any(ds.name == name for ds in self._datasets.values())
            ):
                ds = self.dataset(key, vr)
                return ds if ds.D == ck.spec.D else None
            for (_, r), ds in self._datasets.items():
                if r == tuple(vr) and ds.D == ck.spec.D and ds.name == name:
                    return ds
        except DataError:
            return None
        return None

    def _on_source_changed(self, key: str) -> None:
        vr = (-1.0, 1.0) if self.training_panel.bound.currentText() == "tanh" else (0.0, 1.0)
        try:
            ds = self.dataset(key, vr)
        except DataError as e:
            self.show_error("Data", str(e))
            return
        self.training_panel.set_data_dimension(ds.D, ds.shape)
        if key.startswith("points:"):
            self.training_panel.bound.setCurrentText("sigmoid" if ds.value_range == (0.0, 1.0) else "tanh")

    def import_data_dialog(self, folder: bool = False) -> None:
        start = self.settings.value("data/last_dir", str(Path.home()))
        if folder:
            path = QtWidgets.QFileDialog.getExistingDirectory(self, "Import data folder", start)
        else:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(
                self, "Import data file", start, "Data (*.npz *.npy *ubyte *ubyte.gz *.idx *.gz);;All files (*)"
            )
        if path:
            self.import_data(path)

    def import_data(self, path: str) -> Dataset | None:
        vr = (-1.0, 1.0) if self.training_panel.bound.currentText() == "tanh" else (0.0, 1.0)
        try:
            ds = self.dataset(str(path), vr)
        except DataError as e:
            self.show_error("Import failed", str(e))
            return None
        self.settings.setValue("data/last_dir", str(Path(path).parent))
        self.training_panel.add_source(f"{ds.name} ({ds.M:,}, {'×'.join(map(str, ds.shape))})", str(path))
        self.statusBar().showMessage(f"imported {ds.describe()}", 8000)
        if ds.skipped:  # say what was left out and why (an information, not an error: the rest loaded)
            box = QtWidgets.QMessageBox(
                QtWidgets.QMessageBox.Icon.Information,
                "Import report",
                f"Imported {ds.M:,} samples from {Path(path).name}; skipped {len(ds.skipped):,} files.",
                parent=self,
            )
            box.setDetailedText(ds.import_report(limit=1000))
            self._reports.append(box.detailedText())
            box.exec()
        if self.checkpoint is not None and ds.D == self.checkpoint.spec.D:
            self.start_panel.set_dataset(ds.to_range(self.checkpoint.value_range))
        return ds

    # ------------------------------------------------------------------ models
    def load_model(self, path: str | Path, quiet: bool = False) -> bool:
        try:
            ck = load_checkpoint(path)
        except CheckpointError as e:
            if not quiet:
                self.show_error("Cannot open model", str(e))
            else:
                self.statusBar().showMessage(f"cannot open model: {e}", 10_000)
            return False
        if not self.set_model(ck):
            return False
        self.model_dirty = False
        self._add_recent(str(Path(path).resolve()))
        self.settings.setValue("chain/last_model", str(Path(path).resolve()))
        return True

    def set_model(self, ck: Checkpoint, keep_comparison: bool = False) -> bool:
        """Make ``ck`` the current model and restart the chains from the start panel's settings."""
        if not keep_comparison:
            self.drop_comparison()
        old = self.checkpoint
        self.checkpoint = ck
        self.train_data = self._training_data_for(ck)
        self.grid.set_geometry(ck.spec.shape, ck.value_range)
        self.start_panel.set_model_geometry(ck.spec.shape, ck.value_range)
        self.start_panel.set_dataset(self.train_data)
        self.plots.histogram.set_training(self.train_data.x if self.train_data is not None else None, ck.value_range)
        if not self.reset_chain(show_errors=True):
            self.checkpoint = None
            if old is not None:  # put every view back the way it was
                self.set_model(old, keep_comparison=keep_comparison)
            return False
        if len(ck.spec.shape) == 1 and ck.spec.D <= 2:
            pts = self.train_data.x if self.train_data is not None else None
            self.points_view.set_model(ck.model, pts, ck.value_range, name=str(ck.meta.get("dataset", "")))
            self.views.setCurrentWidget(self.points_split)
        else:
            self.views.setCurrentWidget(self.grid)
        params = count_parameters(ck.model)
        self.model_label.setText(
            f"{ck.name} · {ck.spec.describe()} · {params:,} parameters · {next(ck.model.parameters()).device}"
        )
        self.setWindowTitle(f"{ck.name} – Kaleidoscope Studio")
        self.modelChanged.emit()
        return True

    def open_model_dialog(self) -> None:
        start = self.settings.value("chain/last_dir", str(DEFAULT_MODEL.parent))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open model", start, "Kaleidoscope models (*.safetensors);;All files (*)"
        )
        if path:
            self.settings.setValue("chain/last_dir", str(Path(path).parent))
            self.load_model(path)

    def save_model_dialog(self) -> None:
        if self.checkpoint is None:
            return
        start = self.settings.value("chain/last_dir", str(Path.home()))
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self,
            "Save model",
            str(Path(start) / f"{self.checkpoint.name}.safetensors"),
            "Kaleidoscope models (*.safetensors)",
        )
        if path:
            self.save_model(path)

    def save_model(self, path: str | Path) -> bool:
        ck = self.checkpoint
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        try:
            save_checkpoint(
                path,
                ck.model,
                ck.spec,
                dataset=ck.meta.get("dataset", ""),
                data_shape=tuple(ck.meta.get("data_shape", ck.spec.shape)),
                recipe=ck.meta.get("recipe") or {},
                name=path.stem,
            )
        except CheckpointError as e:
            self.show_error("Cannot save model", str(e))
            return False
        ck.path = path
        ck.meta["name"] = path.stem
        self.model_dirty = False
        self._add_recent(str(path.resolve()))
        self.statusBar().showMessage(f"saved {path}", 8000)
        return True

    def _recent(self) -> list[str]:
        # QSettings (INI) hands back a one-item list as a plain string.
        v = self.settings.value("chain/recent", []) or []
        return [v] if isinstance(v, str) else [str(p) for p in v]

    def _add_recent(self, path: str) -> None:
        recent = [p for p in self._recent() if p != path]
        recent = [path] + recent[: MAX_RECENT - 1]
        self.settings.setValue("chain/recent", recent)
        self._fill_recent(recent)

    def _fill_recent(self, recent) -> None:
        self.recent_menu.clear()
        for p in recent or []:
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self.load_model(p))
        self.recent_menu.setEnabled(bool(recent))

    # drag and drop of model files
    def dragEnterEvent(self, ev: QtGui.QDragEnterEvent) -> None:
        urls = ev.mimeData().urls() if ev.mimeData().hasUrls() else []
        if any(u.toLocalFile().endswith(".safetensors") for u in urls):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev: QtGui.QDropEvent) -> None:
        for u in ev.mimeData().urls():
            if u.toLocalFile().endswith(".safetensors"):
                self.load_model(u.toLocalFile())
                ev.acceptProposedAction()
                return

    # ------------------------------------------------------------------ chains
    def _chain_config(self, req: dict | None = None) -> ChainConfig:
        sp, tr = self.start_panel, self.transport
        req = req or dict(start=sp.kind.currentText(), n=sp.n.value(), seed=sp.seed.value(), sigma=0.0, mask=0)
        return ChainConfig(
            n=int(req["n"]),
            start=req["start"],
            noise=tr.noise.currentText(),
            eps=float(tr.eps.value()),
            seed=int(req["seed"]),
            sigma=float(req.get("sigma", 0.0)),
            mask=int(req.get("mask", 0)),
        )

    def start_chains(self, req: dict, show_errors: bool = True) -> bool:
        """Restart the chains from a start request (see StartPanel)."""
        ck = self.checkpoint
        if ck is None:
            return False
        try:
            cfg = self._chain_config(req)
            session = ChainSession(
                ck.model, ck.spec.shape, ck.value_range, cfg, start_array=req.get("array"), train=self.train_data
            )
        except (ChainError, TimelineError) as e:
            if show_errors:
                self.show_error("Cannot start the chains", str(e))
            return False
        self._last_start = req
        if self.compare_session is not None:
            try:  # same start, same seed, same noise: only the depth differs
                self.compare_session = ChainSession(
                    self.compare_session.model,
                    ck.spec.shape,
                    ck.value_range,
                    cfg,
                    start_array=req.get("array"),
                    train=self.train_data,
                )
            except (ChainError, TimelineError):
                self.drop_comparison()
        self.chain.set_session(session)
        self.inspect(None)
        return True

    def reset_chain(self, show_errors: bool = True) -> bool:
        req = self._last_start
        if (
            req is None
            or self.checkpoint is None
            or (req.get("array") is not None and len(req["array"]) != self.checkpoint.spec.D)
        ):
            sp = self.start_panel
            req = dict(start=sp.kind.currentText(), n=sp.n.value(), seed=sp.seed.value(), array=None)
        return self.start_chains(req, show_errors)

    def on_noise_changed(self, kind: str, eps: float) -> None:
        s = self.session
        if s is not None and s.config.noise == kind and abs(s.config.eps - eps) < 1e-12:
            return  # nothing changed (the ε box fires on every loss of focus): keep the history
        try:
            self.chain.set_noise(kind, eps)
            if self.compare_session is not None:
                self.compare_session.set_noise(kind, eps, at=min(self.chain.view_t, self.compare_session.t_max))
        except ChainError as e:
            self.show_error("Noise", str(e))
        self.settings.setValue("chain/noise", kind)
        self.settings.setValue("chain/eps", eps)

    @property
    def session(self) -> ChainSession | None:
        return self.chain.session

    def on_step_shown(self, t: int) -> None:
        s = self.session
        if s is None:
            return
        if not self.chain.playing:
            self._measure_soon.start()
        x = s.state(t)
        if len(s.shape) == 3:
            self.grid.show_states(x, t)
        else:
            self.points_view.show_states(x, t, history=s.state)
            cs = self.compare_session
            if cs is not None:  # one locked timeline: the second depth follows the same step
                if cs.t_max < t:
                    cs.advance(t - cs.t_max)
                self.compare_view.show_states(cs.state(t), t, history=cs.state)
        now = time.perf_counter()
        # The slider paints in Python (it marks the burn-in): while playing, ~15 Hz is enough for it.
        if not self.chain.playing or now - self._last_slider_draw > 0.066:
            self._last_slider_draw = now
            self.transport.show_position(t, s.t_max)
        else:
            self.transport.step_label.setText(f"step {t} / {s.t_max}")
        # The grid follows every frame; while playing, the plots (histogram, cursors, curves) follow at
        # ~3 Hz: pyqtgraph plots cost several ms of Python each to update and repaint, and that budget on two
        # cores is better spent on the grid and the chain itself (measured back to back: 41–50 → 55–65
        # frames/s with 64 chains, 25–32 → 35–36 with 256, against ~7 Hz). Paused or scrubbing, they follow
        # every step.
        if not self.chain.playing or now - self._last_curves_draw > self.curves_interval_s:
            self._last_curves_draw = now
            self.plots.set_step(t, x)
            self.plots.update_curves(s.curves)
        if (
            self._inspected is not None
            and self.inspector_dock.isVisible()
            and (not self.chain.playing or now - self._last_inspect > 0.25)
        ):
            self._last_inspect = now
            self._update_inspector(t, x)

    def _on_replaying(self, t: int) -> None:
        self.transport.step_label.setText(f"step {t} / {self.chain.t_max} · replaying from a keyframe…")

    def inspect(self, i: int | None) -> None:
        self._inspected = i
        self.grid.select(i)
        if i is None or self.session is None:
            return
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        t = self.chain.view_t
        self._update_inspector(t, self.session.state(t))

    def _update_inspector(self, t: int, x: np.ndarray) -> None:
        s, ck, i = self.session, self.checkpoint, self._inspected
        if s is None or ck is None or i is None or i >= s.n or len(ck.spec.shape) != 3:
            return
        nearest = None
        if self.train_data is not None:
            j, d = s.nearest(i, t)
            lab = int(self.train_data.labels[j]) if self.train_data.labels is not None else None
            nearest = (j, d, self.train_data.x[j], lab)
        self.inspector.show_chain(i, t, x[i], ck.spec.shape, ck.value_range, nearest, s.curves)

    def export_dialog(self) -> None:
        s = self.session
        if s is None:
            self.show_error("Export", "open a model first")
            return
        d = ExportDialog(
            self,
            s.t_max,
            s.n,
            self._inspected,
            self.settings.value("export/last_dir", str(Path.home())),
            image_model=len(s.shape) == 3,
        )
        if d.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        try:
            steps, opts, out = d.values()
            opts.validate()
            self.settings.setValue("export/last_dir", str(Path(out).parent))
            self.start_export(steps, opts, out, target=d.target())
        except ExportError as e:
            self.show_error("Export", str(e))

    def save_bundle_dialog(self) -> None:
        if self.session is None or len(self.session.shape) != 3:
            self.show_error("Run bundle", "run bundles are made for image models; open one first")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self,
            "Save run bundle",
            str(Path(self.settings.value("export/last_dir", str(Path.home()))) / "run.zip"),
            "Zip archive (*.zip);;Folder (*)",
        )
        if path:
            self.save_bundle(path)

    def save_bundle(self, path: str) -> Path | None:
        """A run bundle of the current chain: steps 0 … the furthest reached, as a GIF, with its curves.

        The chain must not have changed noise on the way (a bundle records one setting); then the
        recorded frames and the recomputed ones are the same."""
        from ..core.bundle import write_bundle
        from ..core.export import ExportOptions

        s, ck = self.session, self.checkpoint
        if len(s.timeline.segments) > 1:
            self.show_error(
                "Run bundle",
                "the noise settings changed during this chain; a bundle records one "
                "setting — reset the chain (Ctrl+R) and play it again",
            )
            return None
        start = (self._last_start or {}).get("array")
        steps = list(range(0, max(s.t_max, 1) + 1))
        try:
            out = write_bundle(
                path, ck, s.config, steps, ExportOptions(fmt="gif", scale=4), start_array=start, curves=s.curves
            )
        except ExportError as e:
            self.show_error("Run bundle", str(e))
            return None
        self.statusBar().showMessage(f"saved run bundle {out}", 8000)
        return out

    def export_states_dialog(self) -> None:
        s = self.session
        if s is None:
            return
        text, ok = QtWidgets.QInputDialog.getText(
            self,
            "Export states",
            f"Steps (FROM:TO:EVERY or a list, reached so far: 0 … {s.t_max}):",
            text=f"0:{s.t_max}:1",
        )
        if not ok:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self,
            "Export states",
            str(Path(self.settings.value("export/last_dir", str(Path.home()))) / "states.npz"),
            "NumPy archive (*.npz)",
        )
        if path:
            self.export_states(text, path)

    def export_states(self, steps_text: str, path: str) -> Path | None:
        """Write the session's states at the given steps (all reached) to an .npz with the chain's settings."""
        from ..core.export import export_states, parse_steps

        s, ck = self.session, self.checkpoint
        try:
            steps = parse_steps(steps_text)
            if steps[-1] > s.t_max:
                raise ExportError(f"step {steps[-1]} has not been reached yet (0 … {s.t_max}); play further first")
            out = export_states(
                ck.model,
                ck.spec,
                s.config,
                steps,
                path,
                states=s.state,
                meta={"model_name": ck.name, "model": str(ck.path) if ck.path else None},
            )
        except ExportError as e:
            self.show_error("Export states", str(e))
            return None
        self.statusBar().showMessage(f"exported {out}", 8000)
        return out

    def start_export(self, steps: list[int], opts, out: str, target: str = "grid") -> ExportJob:
        """Export in the background with a progress dialog that can cancel it. ``target``: "grid" or
        "chain" (drawn from the states), "points" or "window" (rendered by Qt step by step)."""
        if target in ("points", "window"):
            widget = self.points_split if target == "points" else self
            if target == "points":
                self.views.setCurrentWidget(self.points_split)
            job = ViewExportJob(self.chain, widget, steps, opts, out, parent=self)
        else:
            job = ExportJob(self.session, steps, opts, out, parent=self)
        dlg = QtWidgets.QProgressDialog("Exporting…", "Cancel", 0, len(steps), self)
        dlg.setWindowTitle("Export animation")
        dlg.setMinimumDuration(300)
        dlg.canceled.connect(job.cancel)
        job.progress.connect(lambda d, n: dlg.setValue(d))
        job.finished.connect(lambda path: (dlg.reset(), self.statusBar().showMessage(f"exported {path}", 10_000)))
        job.failed.connect(
            lambda msg: (
                dlg.reset(),
                self.show_error("Export", msg) if "cancelled" not in msg else self.statusBar().showMessage(msg, 5000),
            )
        )
        self._export_job, self._export_progress = job, dlg  # the dialog lives as long as its job
        job.start()
        return job

    # -- analysis
    def _measure_inputs(self):
        s, ck, ds = self.session, self.checkpoint, self.train_data
        if s is None or ck is None or ds is None or ds.D != ck.spec.D:
            self.analysis.status.setText("measures need the model's training data (open a bundled model or train one)")
            return None
        return s, ck, ds

    def _get_classifier(self):
        from ..core.classifier import default_classifier

        if self._classifier is None:
            self._classifier = default_classifier() or False
        return self._classifier or None

    def measure_now(self) -> Job | None:
        """Measure the shown step in the background (convergence, copies, classes, Fréchet, range)."""
        got = self._measure_inputs()
        if got is None or (self._measure_job is not None and self._measure_job.running()):
            return None
        s, ck, ds = got
        from ..core.classifier import mnist_test_features
        from ..core.measures import Cancelled, auto_tolerance, measure_states

        t = self.chain.view_t
        steps = np.array(s.curves.chains("step")[:t])
        tol = auto_tolerance(s.config, ck.value_range)
        labelled = ds.labels is not None and ck.spec.D == 784

        def work(progress, cancelled):
            # The states are fetched here, not in the GUI thread: past steps are replayed from keyframes (and
            # wait for the session's lock while the chain steps), which stalled the event loop for ~350 ms.
            final = s.state(t)
            tail = np.stack([s.state(k) for k in range(max(0, t - 8), t + 1)]) if t > 0 else None
            # Stage by stage, so that closing the window (which cancels and then waits) never waits long.
            clf = self._get_classifier() if labelled else None
            if cancelled():
                raise Cancelled("measuring cancelled")
            feats = mnist_test_features(clf) if clf is not None else None
            if cancelled():
                raise Cancelled("measuring cancelled")
            return measure_states(
                ck.model,
                ck.spec,
                final,
                tail,
                steps,
                ds.x,
                tol=tol,
                classifier=clf,
                test_features=feats,
                train_t=s.train_tensor(),
            )

        job = Job(work, self)
        job.done.connect(lambda a: self.analysis.show_analysis(t, a))
        job.failed.connect(lambda msg: self.analysis.status.setText(f"measuring failed: {msg}"))
        self._measure_job = job.start()
        return job

    def _start_analysis_job(self, what: str, work, on_done) -> Job | None:
        if self._analysis_job is not None and self._analysis_job.running():
            return None
        an = self.analysis
        an.set_busy(what)
        job = Job(work, self)
        job.progress.connect(an.set_progress)
        job.done.connect(lambda r: (an.set_busy(None), on_done(r)))
        job.failed.connect(lambda msg: (an.set_busy(None), an.status.setText(f"{what}: {msg}")))
        self._analysis_job = job.start()
        return job

    def run_attractor_audit(self, n: int = 32) -> Job | None:
        got = self._measure_inputs()
        if got is None:
            return None
        _, ck, ds = got
        from ..core.measures import attractor_audit

        return self._start_analysis_job(
            "attractor audit",
            lambda p, c: attractor_audit(ck.model, ck.value_range, ds.x, n=n, progress=p, cancelled=c),
            self.analysis.show_audit,
        )

    def run_basin_recovery(self, sigmas: list[float]) -> Job | None:
        got = self._measure_inputs()
        if got is None:
            return None
        s, ck, ds = got
        from ..core.measures import basin_recovery

        return self._start_analysis_job(
            "basin recovery",
            lambda p, c: basin_recovery(
                ck.model, ck.value_range, ds.x, sigmas, reference=s.train_tensor(), progress=p, cancelled=c
            ),
            lambda rates: self.analysis.show_recovery(sigmas, rates),
        )

    def sweep_dialog(self) -> None:
        tp = self.training_panel
        depths, ok = QtWidgets.QInputDialog.getText(
            self,
            "Depth sweep",
            f"Depths of the {tp.arch.currentText()} on {tp.source_key()} (width H={tp.H.value()}, "
            f"{tp.steps.value()} steps each, same seed and recipe):",
            text="1,2,4,6,8,10",
        )
        if not ok:
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "An empty folder for the sweep", str(Path.home()))
        if folder:
            self.start_sweep(depths, folder)

    def start_sweep(self, depths: str, folder: str) -> SweepRun | None:
        """``kgn sweep`` on the Training dock's source and recipe, in a child process, with progress in the
        Analysis dock; when it ends the chart opens."""
        if self._sweep is not None and self._sweep.running():
            self.show_error("Depth sweep", "a sweep is already running")
            return None
        tp = self.training_panel
        args = [
            "--data",
            tp.source_key(),
            "--depths",
            depths.replace(" ", ""),
            "--H",
            str(tp.H.value()),
            "--bound",
            tp.bound.currentText(),
            "--steps",
            str(tp.steps.value()),
            "--lr",
            str(tp.lr.value()),
            "--batch",
            str(tp.batch.value()),
            "--seed",
            str(tp.seed.value()),
            "--arch",
            tp.arch_key(),
        ]
        for k, v in tp.arch_options().items():
            args += [f"--{k}", str(v)]
        an = self.analysis
        run = SweepRun(args, folder, self)
        an.set_busy("depth sweep")
        an.cancel_btn.clicked.connect(run.cancel)
        run.progress.connect(lambda pm: an.set_progress(pm, 1000))
        run.message.connect(an.status.setText)
        run.finished.connect(lambda out: (an.set_busy(None), self._show_sweep(out)))
        run.failed.connect(lambda msg: (an.set_busy(None), an.status.setText(f"depth sweep: {msg}")))
        self._sweep = run.start()
        return run

    def _show_sweep(self, folder: str) -> None:
        png = Path(folder) / "sweep.png"
        self.analysis.status.setText(f"depth sweep written to {folder}")
        d = QtWidgets.QDialog(self)
        d.setWindowTitle(f"Depth sweep — {folder}")
        lab = QtWidgets.QLabel()
        lab.setPixmap(QtGui.QPixmap(str(png)))
        QtWidgets.QVBoxLayout(d).addWidget(lab)
        d.show()
        self._sweep_view = d

    def save_grid_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save grid image", str(Path.home() / "grid.png"), "PNG (*.png)"
        )
        if path:
            try:
                with atomic_path(path) as tmp:
                    if not self.grid.grab().save(str(tmp), "PNG"):
                        raise WriteError(f"cannot write {path}: the image could not be encoded")
            except WriteError as e:
                self.show_error("Cannot save image", str(e))

    # ------------------------------------------------------------------ training
    def start_training(self) -> bool:
        tp = self.training_panel
        vr = (-1.0, 1.0) if tp.bound.currentText() == "tanh" else (0.0, 1.0)
        try:
            ds = self.dataset(tp.source_key(), vr)
            spec = tp.spec_for(ds.D, ds.shape)
            cfg = tp.config()
            cfg.validate()
        except (DataError, TrainError, ValueError) as e:
            self.show_error("Cannot train", str(e))
            return False
        tp.loss_curve.setData([], [])
        tp._y_state = None
        key = tp.source_key()
        # The child re-opens a named source itself; hand-placed points travel as data.
        source = None if key == "points:workspace" else (key, vr, ds.shape[1:] if len(ds.shape) == 3 else (28, 28))
        if not self.training.start(spec, ds, cfg, source=source):
            return False
        self.training_dock.show()
        self.training_dock.raise_()
        tp.show_message(f"starting a training process for {ds.describe()}…")
        return True

    def _training_warning(self, msg: str) -> None:
        self.training_panel.show_message(msg)
        self.statusBar().showMessage(msg, 10_000)

    # ------------------------------------------------------------------ recovery
    def offer_recovery(self, ask=None) -> int:
        """Offer the recovery checkpoints of training runs that were interrupted (the app crashed or was
        killed). ask(recovery) → "restore", "discard" or "later" (default: a dialog). A restored model
        becomes the current one, unsaved. Returns how many were restored."""
        from ..core.recovery import pending_recoveries

        restored = 0
        for rec in pending_recoveries():
            answer = (ask or self._ask_recovery)(rec)
            if answer == "restore":
                try:
                    ck = load_checkpoint(rec.path)
                except CheckpointError as e:
                    self.show_error("Cannot restore", str(e))
                    continue
                ck.path = None  # "Save model as" gives it a home
                if self.set_model(ck):
                    self.model_dirty = True
                    restored += 1
                    rec.discard()
                    self.statusBar().showMessage(f"restored {rec.describe()} — save it with Save model as", 15_000)
                    break  # one restored (unsaved) model at a time: the others are offered next start
            elif answer == "discard":
                rec.discard()
        return restored

    def _ask_recovery(self, rec) -> str:
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Question,
            "Restore interrupted training?",
            "A training run did not finish in an earlier session (the app was closed "
            "or ended while it trained).\n\n"
            f"{rec.describe()}.\n\nRestore its weights as the current model?",
            parent=self,
        )
        restore = box.addButton("Restore", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QtWidgets.QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Later", QtWidgets.QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(restore)
        box.exec()
        clicked = box.clickedButton()
        return "restore" if clicked is restore else "discard" if clicked is discard else "later"

    def _training_failed(self, msg: str) -> None:
        self._auto_use_training = False
        self._compare_pending.clear()
        self.show_error("Training", msg)

    def on_training_progress(self, ev) -> None:
        run = self.training.run
        self.training_panel.show_progress(ev, run.losses if run is not None else None)

    def on_training_finished(self, ev) -> None:
        run = self.training.run
        self.training_panel.show_progress(ev, run.losses if run is not None else None)
        self.training_panel.show_message(ev.message + " — “Use weights” switches the chain to it.")
        if ev.kind == "diverged":
            self.show_error("Training diverged", ev.message)
        self.statusBar().showMessage(ev.message, 10_000)
        if self._auto_use_training:
            self._auto_use_training = False
            self.use_trained_weights()
        if self._compare_pending and ev.kind == "done":
            stage = self._compare_pending.pop(0)
            if stage == -1:  # the second depth is trained: show it beside the first
                self._show_comparison()
            else:
                self._compare_first = self.checkpoint
                self.train_points(self.points_view.preset, depth=stage)
        elif self._compare_pending:
            self._compare_pending.clear()

    # The paper's recipes for its point experiments (PAPER.md): (L, H, bound, lr, steps, seed).
    POINT_RECIPES = {
        "1d-sigmoid": (6, 10, "sigmoid", 1e-3, 2000, 0),
        "1d-tanh": (10, 10, "tanh", 1e-3, 2000, 3),
        "2d-corners": (6, 50, "sigmoid", 1e-3, 2000, 0),
        "2d-center": (2, 50, "sigmoid", 1e-3, 2000, 0),
    }

    def train_points(self, preset: str, depth: int | None = None) -> None:
        """Train on the Points tab's points with the paper's recipe (or another depth); the chain switches
        to the result."""
        pv, tp = self.points_view, self.training_panel
        L, H, bound, lr, steps, seed = self.POINT_RECIPES.get(
            preset,
            (6, 50 if pv.points.shape[1] == 2 else 10, "sigmoid" if pv.value_range[0] >= 0 else "tanh", 1e-3, 2000, 0),
        )
        tp.add_source("points: workspace (the Points tab)", "points:workspace")
        tp.set_recipe(L=depth or L, H=H, bound=bound, lr=lr, steps=steps, batch=1000, seed=seed, arch="mlp")
        self._auto_use_training = self.start_training()
        if not self._auto_use_training:
            self._compare_pending.clear()

    def compare_depths(self, depth_a: int, depth_b: int) -> None:
        """Train depth_a, then depth_b, on the Points tab's points; then show both on one timeline."""
        if self.training.is_busy():
            self.show_error("Compare depths", "training is already running; stop it first")
            return
        self.drop_comparison()
        self._compare_pending = [depth_b, -1]
        self.train_points(self.points_view.preset, depth=depth_a)

    def _show_comparison(self) -> None:
        first, second = self._compare_first, self.checkpoint
        if first is None or second is None:
            return
        # The first depth becomes the main chain again; the second runs beside it in lockstep.
        self.compare_session = ChainSession(
            second.model,
            second.spec.shape,
            second.value_range,
            self._chain_config(self._last_start),
            start_array=self._last_start.get("array"),
            train=self.train_data,
        )
        self.set_model(first, keep_comparison=True)
        pts = self.train_data.x if self.train_data is not None else None
        self.compare_view.set_model(second.model, pts, second.value_range, name=self.points_view.preset)
        self.compare_view.title.setText(f"L = {second.spec.L} (right) · same points, start and seed")
        self.points_view.title.setText(f"L = {first.spec.L} (left)")
        self.points_view.title.show()
        self.compare_view.show()
        self.chain.redraw()

    def drop_comparison(self) -> None:
        self.compare_session = None
        self.compare_view.hide()
        self.points_view.title.hide()

    def use_trained_weights(self) -> None:
        """Switch the chain to the model being trained (its current weights) or just trained (its best)."""
        run = self.training.run
        if run is None:
            self.statusBar().showMessage("nothing trained yet", 5000)
            return
        if self.training.is_busy():
            self.training.request_weights()  # answered by weightsReady → _use_checkpoint
            self.statusBar().showMessage("fetching the current weights from the training process…", 3000)
            return
        if run.final_path is None:
            self.statusBar().showMessage("the training run left no weights", 5000)
            return
        try:
            ck = run.checkpoint()
        except CheckpointError as e:
            self.show_error("Cannot use the trained weights", str(e))
            return
        self._use_checkpoint(ck)

    def _use_checkpoint(self, ck: Checkpoint) -> None:
        run = self.training.run
        ds = run.dataset if run is not None else None
        ck.path = None  # lives in a temporary folder: "Save model as" gives it a home
        ck.meta["name"] = f"trained-{ck.spec.arch}-L{ck.spec.L}-H{ck.spec.H}"
        if ds is not None:
            self._datasets.setdefault((ds.name, tuple(ds.value_range)), ds)
        if self.set_model(ck, keep_comparison=bool(self._compare_pending)):
            if ds is not None and ds.D == ck.spec.D:
                self.train_data = ds
                self.start_panel.set_dataset(ds)
                self.plots.histogram.set_training(ds.x, ds.value_range)
            self.model_dirty = True
            self.statusBar().showMessage(
                "the chain now uses the trained weights (File → Save model to keep them)", 8000
            )

    # ------------------------------------------------------------------ status, settings, close
    def _update_rates(self) -> None:
        self.rate_label.setText(
            f"chain {self.chain.chain_rate():.0f} steps/s · display {self.chain.frame_rate():.0f} fps"
        )

    def _restore_settings(self) -> None:
        st = self.settings
        geo = st.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        state = st.value("window/state")
        if state is not None:
            self.restoreState(state)
        self._fill_recent(self._recent())
        tr, sp, tp = self.transport, self.start_panel, self.training_panel

        def num(key, default, kind=float):
            try:
                return kind(st.value(key, default))
            except (TypeError, ValueError):
                return default

        tr.set_noise(str(st.value("chain/noise", "normal")), num("chain/eps", 0.01))
        tr.speed.setValue(num("chain/speed", 30.0))
        tr.burn_in.setValue(num("chain/burn_in", 20, int))
        self.chain.set_speed(tr.speed.value())
        sp.n.setValue(num("chain/n", 64, int))
        sp.seed.setValue(num("chain/seed", 0, int))
        sp.kind.setCurrentText(str(st.value("chain/start", "uniform")))
        arch = str(st.value("train/arch", "mlp"))
        tp.set_arch(arch if tp.arch.findData(arch) >= 0 else "mlp", defaults=False)
        tp.bottleneck.setValue(num("train/bottleneck", 0, int))
        tp.patch.setValue(num("train/patch", 0, int))
        tp.heads.setValue(num("train/heads", 0, int))
        tp.L.setValue(num("train/L", 10, int))
        tp.H.setValue(num("train/H", 500, int))
        tp.bound.setCurrentText(str(st.value("train/bound", "tanh")))
        tp.lr.setValue(num("train/lr", 1e-4))
        tp.batch.setValue(num("train/batch", 1000, int))
        tp.steps.setValue(num("train/steps", 2000, int))
        tp.seed.setValue(num("train/seed", 0, int))
        i = tp.precision.findData(str(st.value("train/precision", "fp32")))
        tp.precision.setCurrentIndex(max(0, i))

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("window/geometry", self.saveGeometry())
        st.setValue("window/state", self.saveState())
        tr, sp, tp = self.transport, self.start_panel, self.training_panel
        st.setValue("chain/noise", tr.noise.currentText())
        st.setValue("chain/eps", tr.eps.value())
        st.setValue("chain/speed", tr.speed.value())
        st.setValue("chain/burn_in", tr.burn_in.value())
        st.setValue("chain/n", sp.n.value())
        st.setValue("chain/seed", sp.seed.value())
        st.setValue("chain/start", sp.kind.currentText())
        for key, w in (
            ("L", tp.L),
            ("H", tp.H),
            ("lr", tp.lr),
            ("batch", tp.batch),
            ("steps", tp.steps),
            ("seed", tp.seed),
            ("bottleneck", tp.bottleneck),
            ("patch", tp.patch),
            ("heads", tp.heads),
        ):
            st.setValue(f"train/{key}", w.value())
        st.setValue("train/arch", tp.arch_key())
        st.setValue("train/bound", tp.bound.currentText())
        st.setValue("train/precision", tp.precision.currentData())
        st.sync()

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self, "About Kaleidoscope Studio", ABOUT_HTML.format(version=__version__))

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if self.training.is_busy():
            self.training_panel.show_message("stopping training…")
        self.training.shutdown()
        job = self._export_job
        if job is not None and job.is_running():
            job.cancel()
            job.wait(10.0)
        self._measure_soon.stop()
        if self._sweep is not None and self._sweep.running():
            self._sweep.cancel()
            self._sweep.proc.waitForFinished(5000)
        for j in (self._analysis_job, self._measure_job):
            if j is not None and j.running():
                j.cancel()
                # The jobs check the flag between stages; their threads are daemons, and one still running
                # torch code when the interpreter shuts down aborts the process ("terminate called …").
                j.wait(120.0)
        self.chain.shutdown()
        self.save_settings()
        super().closeEvent(ev)


ABOUT_HTML = """<h3>Kaleidoscope Studio {version}</h3>
<p>A desktop explorer for <b>Generative Kaleidoscopic Networks</b>. A deep ReLU network with bounded outputs,
trained so that f(x) ≈ x, maps unseen inputs into the range it saw in training (over-generalization). Applied
again and again to noise, f(f(…f(z)…)), its iterates come to look like training samples after a burn-in:
a kaleidoscope of the data set.</p>
<p>H. Shrivastava, <i>Generative Kaleidoscopic Networks</i>, arXiv:2402.11793 (2024).<br>
Related: Radhakrishnan, Belkin &amp; Uhler, <i>Overparameterized neural networks implement associative memory</i>,
PNAS 2020; Zhang, Bengio, Hardt, Mozer &amp; Singer, <i>Identity Crisis</i>, ICLR 2020.</p>
<p><b>Bundled data:</b> MNIST by Y. LeCun, C. Cortes and C. J. C. Burges, under CC BY-SA 3.0.<br>
<b>Libraries:</b> PySide6 / Qt (LGPLv3), pyqtgraph (MIT), PyTorch (BSD), NumPy (BSD), qasync (BSD),
safetensors (Apache 2.0), Pillow (MIT-CMU).</p>"""
