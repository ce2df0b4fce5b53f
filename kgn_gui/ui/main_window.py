"""The Kaleidoscope Studio main window: layout, menus, shortcuts, file dialogs and the wiring between the
controllers (``ui/controllers``: model, chain, training, export, analysis, points) and the panels that show
them. The state lives in the controllers; see docs/design.md."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ..core.chain.start import Start
from ..core.data.dataset import Dataset
from ..core.data.mnist import drop_prefetched
from ..core.errors import ChainError, LabError, TimelineError
from ..core.model.checkpoint import Checkpoint
from . import dialogs, jobs
from .actions import ExportActions, ModelActions, TrainingActions
from .compare import images_page
from .controllers.analysis import AnalysisController
from .controllers.chain import ChainController
from .controllers.export import ExportController
from .controllers.guard import UnsavedGuard
from .controllers.lab import LabController
from .controllers.model import ModelController
from .controllers.points import PointsController
from .controllers.training import TrainingController
from .first_frame import DEFAULT_MODEL, first_launch_geometry, first_model
from .menus import build_menus
from .session_log import SessionLog
from .sweep_actions import AnalysisActions
from .theme import Theme
from .views import ChainViews, ViewWidgets
from .widgets.analysis_panel import AnalysisPanel
from .widgets.chain_grid import ChainGrid
from .widgets.inspector import Inspector
from .widgets.lab_panel import LabPanel
from .widgets.plots import PlotsPanel
from .widgets.points_view import PointsView
from .widgets.projection_view import ProjectionView
from .widgets.start_panel import StartPanel
from .widgets.training_panel import TrainingPanel
from .widgets.transport import TransportBar


class MainWindow(QtWidgets.QMainWindow):
    """Opens on a model (default: the bundled MNIST one) with 64 chains from uniform noise."""

    modelChanged = QtCore.Signal()

    def __init__(self, model_path: str | Path | None = None, n_chains: int | None = None, restore_settings=True):
        super().__init__()
        self.setWindowTitle("Kaleidoscope Studio")
        self.setAcceptDrops(True)
        self.settings = QtCore.QSettings()
        self._errors: list[str] = []
        self.import_reports: list[str] = []  # import reports shown (tests read them)
        # the questions of the unsaved-work guard (tests answer them in place of the dialogs)
        self.ask_unsaved = lambda doing: dialogs.ask_unsaved(self, self.checkpoint.name, doing)
        self.ask_unsaved_run = lambda what, doing: dialogs.ask_unsaved_run(self, what, doing)

        # what the menus and panels do (ui/actions.py): dialogs and calls into the controllers
        self.model_actions, self.export_actions = ModelActions(self), ExportActions(self)
        self.analysis_actions, self.training_actions = AnalysisActions(self), TrainingActions(self)
        self.models = ModelController(self.settings, self)
        self.chain = ChainController(self)
        self.training = TrainingController(self)
        self.guard = UnsavedGuard(
            self.models,
            self.training,
            ask=lambda doing: self.ask_unsaved(doing),
            ask_run=lambda what, doing: self.ask_unsaved_run(what, doing),
            save_model=self.model_actions.save_model_dialog,
            save_run=self.model_actions.save_run_dialog,
        )
        self.measures = AnalysisController(self.models, self.chain, self)
        self.session_log = SessionLog(self.chain, self.models, self)  # File → Save session log
        self.exports = ExportController(self.models, self.chain, self)
        self.points = PointsController(self.models, self.chain, self.training, self.training_actions.use_weights, self)
        self.models.accept = self.model_actions.accept_model

        self.grid, self.points_view = ChainGrid(), PointsView()
        self.compare_grid = ChainGrid()  # File → Compare with…: the second model's chains beside the first
        self.compare_view = PointsView(read_only=True)  # the second depth, side by side
        self.compare_view.hide()
        self.analysis, self.transport, self.inspector = AnalysisPanel(), TransportBar(), Inspector()
        self.training_panel, self.start_panel, self.plots = TrainingPanel(), StartPanel(), PlotsPanel()
        self.lab_panel, self.projection_view = LabPanel(), ProjectionView()
        self.lab = LabController(self.chain, lambda: self.grid.selected, self)
        self._build_layout()
        self.theme = Theme(self, self.settings, restore=restore_settings)  # View → Theme; the saved choice
        build_menus(self)
        self._build_status()
        shown = ViewWidgets(
            self.grid, self.points_view, self.compare_view, self.transport, self.plots, self.inspector,
            self.inspector_dock, self.start_panel, self.projection_view, self.views, self.points_tab,
            self.statusBar(), self.share_compare_width, self.compare_grid, self.compare_titles, self.images_page,
        )  # fmt: skip
        self.views_ctl = ChainViews(self.chain, self.models, self.points, self.lab, shown, self)
        self._connect()

        if restore_settings:
            self._restore_settings()
        if n_chains:
            self.start_panel.n.setValue(n_chains)
        path = first_model(self.settings, model_path)  # the model the first frame showed
        if not self.model_actions.load_model(path, quiet=model_path is None) and Path(path) != DEFAULT_MODEL:
            self.model_actions.load_model(DEFAULT_MODEL)
        drop_prefetched()  # the first model did not need what app.main read ahead: let it go

    # -- what the controllers hold (read by tests, benchmarks and scripts)
    checkpoint = property(lambda self: self.models.checkpoint)
    train_data = property(lambda self: self.models.train_data)
    model_dirty = property(lambda self: self.models.dirty)
    session = property(lambda self: self.chain.session)
    compare_session = property(lambda self: self.points.comparison)

    # ------------------------------------------------------------------ layout
    def _dock(self, title: str, widget: QtWidgets.QWidget, name: str) -> QtWidgets.QDockWidget:
        """A dock whose panel scrolls when the dock is smaller than the panel: a panel's minimum size never
        becomes the window's, so the window fits small screens (issue 18)."""
        d = QtWidgets.QDockWidget(title, self)
        d.setObjectName(name)
        scroll = QtWidgets.QScrollArea()
        scroll.setObjectName(f"{name}_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        scroll.setMinimumSize(120, 80)
        d.setWidget(scroll)
        d.visibilityChanged.connect(lambda _shown: QtCore.QTimer.singleShot(0, self.fit_to_screen))
        return d

    def _screen_rect(self) -> QtCore.QRect:
        scr = self.screen() or QtGui.QGuiApplication.primaryScreen()
        return scr.availableGeometry()

    def fit_to_screen(self) -> None:
        """Keep the whole window on its screen: never larger than the screen's free area, never past its edges
        (a dock shown, the inspector opened, Compare depths: the docks shrink and scroll instead)."""
        if self.isMaximized() or self.isFullScreen():
            return
        avail = self._screen_rect()
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        w = min(self.width(), avail.width() - extra_w)
        h = min(self.height(), avail.height() - extra_h)
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        frame = self.frameGeometry()
        x = min(max(frame.x(), avail.x()), avail.right() + 1 - frame.width())
        y = min(max(frame.y(), avail.y()), avail.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def default_layout(self) -> None:
        """The layout a first launch gets and View → Reset layout gives: sized to the screen — the window at
        most 1400×900 and 95 % of the screen's free area, the side docks about a quarter of its width, the
        plots about 30 % of its height."""
        if not (self.isMaximized() or self.isFullScreen()):
            g = first_launch_geometry(self._screen_rect())
            self.resize(g.size())
            self.move(g.topLeft())
        W, H = self.width(), self.height()
        self._place_docks()
        self.resizeDocks([self.plots_dock], [max(160, int(H * 0.3))], QtCore.Qt.Orientation.Vertical)
        left, right = self._left_width(), max(300, min(440, int(W * 0.27)))
        # The views keep at least what the transport bar needs; the right dock gives way first, down to its panel.
        room = W - self.centralWidget().minimumSizeHint().width() - 60
        panels = max(self.analysis.minimumSizeHint().width(), self.inspector.minimumSizeHint().width())
        right = max(panels + 24, min(right, room - left))  # 24: the dock frame and scroll area around it
        self.resizeDocks([self.training_dock, self.analysis_dock], [left, right], QtCore.Qt.Orientation.Horizontal)
        self.fit_to_screen()

    def _left_width(self) -> int:
        panels = (self.training_panel, self.start_panel)
        # + a scroll bar and the scroll area's frame (20 was a pixel short where the style's scroll bar is wider)
        return min(max(p.minimumSizeHint().width() for p in panels) + 24, int(self.width() * 0.32))

    def keep_side_docks(self) -> None:
        """Side docks at least as wide as their panels need (they would scroll sideways), the views taking
        what is left."""
        right = max(self.analysis.minimumSizeHint().width() + 20, self.analysis_dock.width())
        left = max(self._left_width(), self.training_dock.width())
        self.resizeDocks([self.training_dock, self.analysis_dock], [left, right], QtCore.Qt.Orientation.Horizontal)
        self.share_compare_width()
        self.fit_to_screen()

    def share_compare_width(self) -> None:
        """Compare depths' two views share the Points tab's width evenly."""
        if self.compare_view.isVisible():
            half = max(1, sum(self.points_split.sizes()) // 2)
            self.points_split.setSizes([half, half])

    def _build_layout(self) -> None:
        central = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 0)
        self.views = QtWidgets.QTabWidget()
        self.views.setDocumentMode(True)
        self.images_page, self.compare_titles = images_page(self.grid, self.compare_grid)
        self.views.addTab(self.images_page, "Images")
        self.points_split = QtWidgets.QSplitter()
        self.points_split.addWidget(self.points_view)
        self.points_split.addWidget(self.compare_view)
        self.points_tab = QtWidgets.QWidget()
        pv = QtWidgets.QVBoxLayout(self.points_tab)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.setSpacing(0)
        pv.addWidget(self.points_view.controls)
        pv.addWidget(self.points_split, 1)
        self.views.addTab(self.points_tab, "Points")
        self.views.setTabToolTip(1, "The paper's 1-D and 2-D experiments: place points, train, watch the chains")
        self.views.addTab(self.projection_view, "Projection")
        self.views.setTabToolTip(
            2, "The training set in 2-D (PCA) by class, with the chains' paths over it: watch them flow into basins"
        )
        self.views.currentChanged.connect(lambda _i: self.chain.redraw())
        v.addWidget(self.views, 1)
        self.setCentralWidget(central)
        # The transport spans the whole window, under the docks: the timeline gets most of the width (at 1366
        # pixels it had the ~130 left between the side docks, 4.5 steps per pixel at 574 steps; issue 30).
        bar = QtWidgets.QToolBar("Timeline")
        bar.setObjectName("timeline_bar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.toggleViewAction().setEnabled(False)  # not hidden by the docks' context menu
        self.transport.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)
        bar.addWidget(self.transport)
        self.addToolBar(QtCore.Qt.ToolBarArea.BottomToolBarArea, bar)
        self.training_dock = self._dock("Training", self.training_panel, "training")
        self.start_dock = self._dock("Start input", self.start_panel, "start")
        self.lab_dock = self._dock("Lab", self.lab_panel, "lab")
        self.plots_dock = self._dock("Plots", self.plots, "plots")
        self.analysis_dock = self._dock("Analysis", self.analysis, "analysis")
        self.inspector_dock = self._dock("Inspector", self.inspector, "inspector")
        self._place_docks()
        self._laid_out = self._restored_layout = False

    def _place_docks(self) -> None:
        """Every dock in its default place: Training and Start input tabbed on the left, Plots below, Analysis
        on the right with the Inspector as a hidden tab beside it (never a new column). Placed afresh rather
        than through restoreState of a saved layout: that left the old tab bar drawn over the views."""
        A = QtCore.Qt.DockWidgetArea
        for dock, area in (
            (self.training_dock, A.LeftDockWidgetArea),
            (self.start_dock, A.LeftDockWidgetArea),
            (self.lab_dock, A.LeftDockWidgetArea),
            (self.plots_dock, A.BottomDockWidgetArea),
            (self.analysis_dock, A.RightDockWidgetArea),
            (self.inspector_dock, A.RightDockWidgetArea),
        ):
            dock.setFloating(False)
            self.addDockWidget(area, dock)
            dock.setVisible(dock is not self.inspector_dock)
        self.tabifyDockWidget(self.training_dock, self.start_dock)
        self.tabifyDockWidget(self.start_dock, self.lab_dock)
        self.tabifyDockWidget(self.analysis_dock, self.inspector_dock)
        self.start_dock.raise_()
        self.analysis_dock.raise_()

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.model_label = QtWidgets.QLabel("no model")
        # a rule and a gap before the permanent labels: a long temporary message ran on into the model's name
        self.model_label.setStyleSheet(
            "QLabel { border-left: 1px solid palette(mid); padding-left: 8px; margin-left: 12px; }"
        )
        self.rate_label = QtWidgets.QLabel("")
        self.rate_label.setToolTip("Chain steps per second (compute) and frames per second (display)")
        sb.addPermanentWidget(self.model_label)
        sb.addPermanentWidget(self.rate_label)
        self._status_timer = QtCore.QTimer(self)
        self._status_timer.setInterval(500)
        self._status_timer.timeout.connect(self._update_rates)
        self._status_timer.start()
        self._measure_soon = QtCore.QTimer(self)  # measure the shown step once the user stops on it
        self._measure_soon.setSingleShot(True)
        self._measure_soon.setInterval(400)
        self._measure_soon.timeout.connect(lambda: self.analysis_dock.isVisible() and self.measures.measure_now())

    def _connect(self) -> None:
        ch, tr, tp, tc, md = self.chain, self.transport, self.training_panel, self.training, self.models
        ch.stepShown.connect(lambda _t: None if ch.playing else self._measure_soon.start())
        ch.error.connect(lambda msg: self.show_error("Chain stopped", msg))
        tr.playToggled.connect(ch.toggle)
        tr.stepBy.connect(ch.step_by)
        tr.seekRequested.connect(ch.seek)
        tr.resetRequested.connect(self.reset_chain)
        tr.samplerChanged.connect(self.on_sampler_changed)
        tr.samplerInvalid.connect(lambda msg: self.show_error("Sampler", msg))
        tr.speedChanged.connect(ch.set_speed)
        ch.playingChanged.connect(self._cores_for_training)
        jobs.RUNNING.changed.connect(self._cores_for_training)
        self.analysis.bind(self.measures)
        self.measures.sweepDone.connect(self.analysis_actions.show_sweep)
        # a sweep that starts scrolls the Analysis dock to its Sweep tab, which follows the trials
        scroll, tabs = self.analysis_dock.widget(), self.analysis.plots
        top = lambda: tabs.mapTo(scroll.widget(), QtCore.QPoint(0, 0)).y()  # noqa: E731
        self.measures.sweepStarted.connect(lambda _n: scroll.verticalScrollBar().setValue(top()))
        # ... and the status bar says how far it is, whichever tab is in front
        say = self.statusBar().showMessage
        self.measures.sweepStarted.connect(lambda n: say(f"depth sweep: 0 of {n} trials done (Analysis → Sweep)"))
        self.measures.sweepTrial.connect(lambda _r, d, n: say(f"depth sweep: {d} of {n} trials done", 0))
        self.points_view.trainRequested.connect(lambda preset: self.training_actions.train_points(preset))
        self.points_view.presetPicked.connect(self.training_actions.pick_points_preset)
        # Compare depths puts a second view beside the first: the side docks keep their panels' width.
        self.points.comparisonChanged.connect(lambda _s: QtCore.QTimer.singleShot(0, self.keep_side_docks))
        self.points_view.compareRequested.connect(self.training_actions.compare_depths)
        self.points.status.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.points.error.connect(self.show_error)
        self.start_panel.startRequested.connect(self.start_chains)
        self.start_panel.conditionRequested.connect(self.on_condition)
        lp, lab = self.lab_panel, self.lab
        lp.bind(lab)
        lp.brushingChanged.connect(lambda on: setattr(self.grid, "brushing", on))
        self.grid.strokeFinished.connect(lab.stroke)
        lab.changed.connect(lab.refresh)
        lab.samplerPicked.connect(
            lambda sampler: (self.transport.set_sampler(sampler), self.on_sampler_changed(sampler))
        )
        lab.refreshed.connect(lambda s, steps: self.projection_view.set_session(s))
        lab.refreshed.connect(lambda s, steps: self.transport.slider.set_lab(steps, s.config.sampler.schedule))
        lab.error.connect(self.show_error)
        lab.branchReady.connect(self.show_branches)
        tp.trainRequested.connect(self.training_actions.start_training)
        tp.pauseRequested.connect(tc.pause)
        tp.resumeRequested.connect(tc.resume)
        tp.stopRequested.connect(tc.stop)
        tp.useWeightsRequested.connect(self.training_actions.use_trained_weights)
        tp.importRequested.connect(lambda: self.model_actions.import_data_dialog(False))
        tp.sourceChanged.connect(self.model_actions.source_changed)
        tc.progress.connect(self.training_actions.on_training_progress)
        tc.finished.connect(self.training_actions.on_training_finished)
        tc.failed.connect(lambda msg: self.show_error("Training", msg))
        tc.recoverable.connect(self.training_actions.offer_recovery_file)  # (after the error: its weights)
        tc.weightsReady.connect(self.training_actions.use_checkpoint)
        tc.stateChanged.connect(tp.set_state)
        tc.warning.connect(self.training_actions.training_warning)
        md.modelChanged.connect(self.model_actions.model_shown)
        md.dirtyChanged.connect(self.model_actions.name_shown)  # Save as renames the model: title and status bar
        md.recentChanged.connect(self.model_actions.fill_recent)
        md.error.connect(self.show_error)
        self.exports.started.connect(self._show_job)
        self.exports.finished.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.exports.note.connect(lambda msg: self.statusBar().showMessage(msg, 5000))
        self.exports.error.connect(self.show_error)

    # ------------------------------------------------------------------ errors and jobs
    def show_error(self, title: str, message: str) -> None:
        """A clear dialog (never a traceback); the app stays usable."""
        self._errors.append(message)
        self.statusBar().showMessage(message, 10_000)
        QtWidgets.QMessageBox.warning(self, title, message)

    def _show_job(self, job) -> None:
        """A progress dialog with Cancel for a background job; it lives as long as its job."""
        dlg = QtWidgets.QProgressDialog(f"{job.title.capitalize()}…", "Cancel", 0, 0, self)
        dlg.setWindowTitle(job.title.capitalize())
        dlg.setMinimumDuration(300)
        dlg.canceled.connect(job.cancel)
        job.progress.connect(lambda d, n: (dlg.setMaximum(max(n, 1)), dlg.setValue(min(d, max(n, 1) - 1))))
        job.done.connect(lambda _r: (dlg.reset(), dlg.deleteLater()))  # gone with its job (and its Esc key)
        job.failed.connect(lambda _m: (dlg.reset(), dlg.deleteLater()))
        self._job_dialog = dlg

    # ------------------------------------------------------------------ chains
    def begin(self, ck: Checkpoint, start: Start, train: Dataset | None, show_errors: bool = True) -> bool:
        tr = self.transport
        self.lab.fit_model(ck.spec.D)  # a condition made for another image size is dropped, not an error
        try:
            self.chain.begin(ck, start, tr.sampler(), train=train, lab=self.lab.new_lab())
        except (ChainError, TimelineError, LabError) as e:
            if show_errors:
                self.show_error("Cannot start the chains", str(e))
            return False
        return True

    def start_chains(self, start: Start, show_errors: bool = True) -> bool:
        """Restart the chains of the current model from ``start`` (a core.chain.start.Start)."""
        ck = self.checkpoint
        if ck is None:
            return False
        if not start.fits(ck.spec.D):
            if show_errors:
                self.show_error("Cannot start the chains", f"the start does not fit a model of {ck.spec.D} values")
            return False
        return self.begin(ck, start, self.train_data, show_errors)

    def start_for(self, ck: Checkpoint) -> Start:
        """The start new chains of ``ck`` take: the current chains' start if it fits the model, else the
        Random tab's."""
        start = self.chain.start
        return start if start is not None and start.fits(ck.spec.D) else self.start_panel.random_start()

    def reset_chain(self, show_errors: bool = True) -> bool:
        ck = self.checkpoint
        return ck is not None and self.start_chains(self.start_for(ck), show_errors)

    def on_sampler_changed(self, sampler) -> None:
        """The transport bar's (or a preset's) sampler, from the shown step on: the main chains and Compare
        depths' second depth alike (ChainController.set_sampler)."""
        s = self.session
        if s is not None and s.config.sampler == sampler:
            return  # nothing changed (the ε box fires on every loss of focus): keep the history
        try:
            self.chain.set_sampler(sampler)
        except ChainError as e:
            self.show_error("Sampler", str(e))
        self.lab.refresh()
        self.settings.setValue("chain/sampler", sampler.text())

    def on_condition(self, condition, restart: bool) -> None:
        """The Condition tab: new conditioned chains (from the Random tab's noise), or the current ones
        conditioned from their start; None stops conditioning."""
        if restart and condition is not None:
            self.lab.condition = condition
            self.start_chains(self.start_panel.random_start())
            self.lab.refresh()
        else:
            self.lab.set_condition(condition)

    def show_branches(self, session, info: dict) -> None:
        from .widgets.branch_view import BranchWindow

        ck = self.checkpoint
        win = BranchWindow(session, info, ck.spec.shape, ck.value_range, self)
        win.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        self.branch_window = win
        win.show()

    def on_step_shown(self, t: int) -> None:
        self.views_ctl.show_step(t)

    def inspect(self, i: int | None) -> None:
        self.views_ctl.inspect(i)

    # ------------------------------------------------------------------ status, settings, close
    def _update_rates(self) -> None:
        ch = self.chain
        self.rate_label.setText(f"chain {ch.chain_rate():.0f} steps/s · display {ch.frame_rate():.0f} fps")

    def _restore_settings(self) -> None:
        st = self.settings
        geo, state = st.value("window/geometry"), st.value("window/state")
        if geo is not None:
            self.restoreGeometry(geo)
        if state is not None:
            self._restored_layout = bool(self.restoreState(state))
        self.model_actions.fill_recent(self.models.recent())
        for panel in (self.transport, self.start_panel, self.training_panel):
            panel.restore_settings(st)
        self.chain.set_speed(self.transport.speed.value())

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("window/geometry", self.saveGeometry())
        st.setValue("window/state", self.saveState())
        for panel in (self.transport, self.start_panel, self.training_panel):
            panel.save_settings(st)
        st.sync()

    def dragEnterEvent(self, ev: QtGui.QDragEnterEvent) -> None:
        urls = ev.mimeData().urls() if ev.mimeData().hasUrls() else []
        if any(u.isLocalFile() for u in urls):  # what cannot be opened is said on the drop, not refused mutely
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev: QtGui.QDropEvent) -> None:
        ev.acceptProposedAction()
        self.model_actions.drop([u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()])

    def showEvent(self, ev: QtGui.QShowEvent) -> None:
        super().showEvent(ev)
        if not self._laid_out:  # the first show: now the screen is known, lay out for it (or fit a restored one)
            self._laid_out = True
            if not self._restored_layout:
                self.default_layout()
            QtCore.QTimer.singleShot(0, self.fit_to_screen)

    def _cores_for_training(self, *_) -> None:
        """A training shares the cores while the chains play or a job (a measure, an export) computes, and takes
        them all when the window rests: its threads beside other work lose more than they gain (issue 31)."""
        self.training.share_cores(self.chain.playing or jobs.RUNNING.count > 0)

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if not self.guard.confirm_quit():
            ev.ignore()
            return
        if self.training.is_busy():
            self.training_panel.show_message("stopping training…")
        self.training.shutdown(keep_recovery=not self.guard.run_discarded)
        self._measure_soon.stop()
        self.exports.shutdown()
        self.measures.shutdown()
        self.chain.shutdown()
        self.save_settings()
        super().closeEvent(ev)
