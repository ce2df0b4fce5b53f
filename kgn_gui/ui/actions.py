"""What each user action does, grouped by menu: small objects the window holds (``w.model_actions``,
``w.export_actions``, ``w.training_actions``; ``w.analysis_actions`` is in sweep_actions.py) — the dialogs, and the calls into the
controllers. They are the window's hands: each holds the window (the dialogs' parent, its panels); the
controllers they call never do. The layout and wiring are in main_window.py; the state is in the controllers."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from ..core.data.dataset import Dataset
from ..core.data.sources import POINT_PRESETS
from ..core.errors import CheckpointError, DataError, ExportError, TrainError
from ..core.model.architectures import count_parameters
from ..core.model.checkpoint import Checkpoint, load_checkpoint, read_metadata
from . import dialogs
from .first_frame import DEFAULT_MODEL
from .widgets.export_dialog import ExportDialog


class ModelActions:
    """Models and data: open (asking first about unsaved weights), save, recent files, drop, import."""

    def __init__(self, w):
        self.w = w  # the window: the dialogs' parent, its panels and its controllers

    def load_model(self, path: str | Path, quiet: bool = False) -> bool:
        """Open a model file (no question: the menus, drop and Quit ask about unsaved weights first)."""
        self.w.points.drop()
        ok = self.w.models.load(path, quiet=quiet)
        if not ok and quiet and self.w.models.last_error:
            self.w.statusBar().showMessage(f"cannot open model: {self.w.models.last_error}", 10_000)
        return ok

    def accept_model(self, ck: Checkpoint, train: Dataset | None) -> bool:
        """The model controller's gate: new chains of ``ck`` from the current start (if it fits), else from
        the Random tab; False (the old model stays) when they cannot start."""
        return self.w.begin(ck, self.w.start_for(ck), train)

    def model_shown(self, ck: Checkpoint) -> None:
        self.name_shown()
        self.w.modelChanged.emit()

    def name_shown(self, *_dirty) -> None:
        """The status bar's model line and the title name the current model (after Save as: its new name)."""
        ck = self.w.models.checkpoint
        if ck is not None:
            params, device = count_parameters(ck.model), next(ck.model.parameters()).device
            self.w.model_label.setText(f"{ck.name} · {ck.spec.describe()} · {params:,} parameters · {device}")
        self.w.setWindowTitle(self.w.models.title())

    def open_bundled(self, path: str | Path) -> bool:
        """File → Open bundled model."""
        return self.w.guard.confirm(f"open the bundled {Path(path).stem} model") and self.load_model(path)

    def open_model_dialog(self) -> None:
        start = self.w.settings.value("chain/last_dir", str(DEFAULT_MODEL.parent))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.w, "Open model", start, "Kaleidoscope models (*.safetensors);;All files (*)"
        )
        if path and self.w.guard.confirm(f"open {Path(path).name}"):
            self.w.settings.setValue("chain/last_dir", str(Path(path).parent))
            self.load_model(path)

    def open_recent(self, path: str) -> bool:
        return self.w.guard.confirm("open another model") and self.load_model(path)

    def save_dir(self) -> Path:
        """Where Save model proposes to write: the folder last saved to, else the home folder — never the
        bundled models' folder (inside the installed package after a pip install)."""
        start = Path(self.w.settings.value("chain/save_dir", str(Path.home())))
        bundled = DEFAULT_MODEL.parent.resolve()
        try:
            inside = start.resolve() == bundled or bundled in start.resolve().parents
        except (OSError, RuntimeError):  # a link loop
            inside = True
        return Path.home() if inside or not start.is_dir() else start

    def save_model_dialog(self) -> bool:
        if self.w.checkpoint is None:
            return False
        start = self.save_dir()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.w,
            "Save model",
            str(start / f"{self.w.checkpoint.name}.safetensors"),
            "Kaleidoscope models (*.safetensors)",
        )
        return bool(path) and self.save_model(path)

    def save_run_dialog(self, run) -> bool:
        """Save a training run's weights (the Training dock's, on Quit) with a file dialog; True when saved."""
        start = self.save_dir()
        name = f"trained-{run.spec.arch}-L{run.spec.L}-H{run.spec.H}"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.w, "Save the trained model", str(start / f"{name}.safetensors"), "Kaleidoscope models (*.safetensors)"
        )
        if not path:
            return False
        try:
            run.checkpoint().save(path, name=Path(path).stem)
        except CheckpointError as e:
            self.w.show_error("Cannot save the trained model", str(e))
            return False
        run.used = True
        self.w.settings.setValue("chain/save_dir", str(Path(path).parent))
        self.w.statusBar().showMessage(f"saved {path}", 8000)
        return True

    def save_model(self, path: str | Path) -> bool:
        out = self.w.models.save(path)
        if out is not None:
            self.w.settings.setValue("chain/save_dir", str(Path(out).parent))
            self.w.statusBar().showMessage(f"saved {out}", 8000)
        return out is not None

    def drop(self, paths: list[str]) -> None:
        """Files dropped on the window: a model opens (asking first about unsaved weights), a data file or
        folder is imported as a training source; anything else is said in the status bar."""
        for p in paths:
            if p.endswith(".safetensors"):
                if self.w.guard.confirm("open the dropped model"):
                    self.load_model(p)
                return
        if paths and (Path(paths[0]).is_dir() or Path(paths[0]).suffix.lower() in (".npz", ".npy", ".gz", ".idx")):
            self.import_data(paths[0])
            return
        self.w.statusBar().showMessage(
            f"cannot open {Path(paths[0]).name if paths else 'that'}: drop a model (.safetensors), a data file "
            "(.npz, .npy, IDX) or a folder of data or images", 10_000,
        )  # fmt: skip

    def fill_recent(self, recent) -> None:
        self.w.recent_menu.clear()
        for p in recent or []:
            a = self.w.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self.open_recent(p))
        self.w.recent_menu.setEnabled(bool(recent))

    def _training_range(self) -> tuple[float, float]:
        return self.w.training_panel.recipe().value_range

    def source_changed(self, key: str) -> None:
        try:
            ds = self.w.models.dataset(key, self._training_range())
        except DataError as e:
            self.w.show_error("Data", str(e))
            return
        self.w.training_panel.set_data_dimension(ds.D, ds.shape)

    def import_data_dialog(self, folder: bool = False) -> None:
        start = self.w.settings.value("data/last_dir", str(Path.home()))
        if folder:
            path = QtWidgets.QFileDialog.getExistingDirectory(self.w, "Import data folder", start)
        else:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(
                self.w, "Import data file", start, "Data (*.npz *.npy *ubyte *ubyte.gz *.idx *.gz);;All files (*)"
            )
        if path:
            self.import_data(path)

    def import_data(self, path: str):
        """Import a data file or folder in the background (a progress dialog with Cancel); when it is in,
        it becomes a training source, and an import report lists what was left out. Returns the Job."""
        job = self.w.models.open_job(str(path), self._training_range())
        job.done.connect(lambda ds: self._imported(str(path), ds))
        job.failed.connect(lambda msg: None if job.was_cancelled else self.w.show_error("Import failed", msg))
        self.w._show_job(job)
        return job.start()

    def _imported(self, path: str, ds: Dataset) -> None:
        self.w.settings.setValue("data/last_dir", str(Path(path).parent))
        self.w.training_panel.add_source(f"{ds.name} ({ds.M:,}, {'×'.join(map(str, ds.shape))})", path)
        self.w.statusBar().showMessage(f"imported {ds.describe()}", 8000)
        if ds.skipped:
            self.w.import_reports.append(dialogs.import_report(self.w, ds, path))
        ck = self.w.checkpoint
        if ck is not None and ds.D == ck.spec.D:
            self.w.start_panel.set_dataset(ds.to_range(ck.value_range))


class ExportActions:
    """File → Export animation, Save run bundle, Export states, Save grid image: dialogs over the export controller."""

    def __init__(self, w):
        self.w = w  # the window: the dialogs' parent, its panels and its controllers

    def copy_as(self, form: str) -> str | None:
        """Edit → Copy as kgn command (``form`` "command") / Copy as Python ("python"): the shown run as text on
        the clipboard (core.export.as_code); what has no text form is said in the status bar. Returns it."""
        from ..core.errors import LabError
        from ..core.export.as_code import run_text

        w, s = self.w, self.w.session
        if s is None:
            return None
        ck, t = w.checkpoint, w.chain.view_t
        model = None if w.models.dirty or ck.path is None else str(ck.path)
        try:
            text = run_text(model, w.chain.start, s.sampler_changes(), s.lab, t, n=s.n, seed=s.config.seed)
            out = text.command() if form == "command" else text.python()
        except LabError as e:
            w.statusBar().showMessage(f"cannot copy the run as text: {e}", 10_000)
            return None
        QtWidgets.QApplication.clipboard().setText(out)
        what = "kgn command" if form == "command" else "Python snippet"
        w.statusBar().showMessage(f"copied the {what} that reproduces step {t:,} of these {s.n} chains", 8000)
        return out

    def export_dialog(self) -> None:
        s = self.w.session
        if s is None:
            self.w.show_error("Export", "open a model first")
            return
        last = self.w.settings.value("export/last_dir", str(Path.home()))
        d = ExportDialog(self.w, s.t_max, s.n, self.w.views_ctl.inspected, last, image_model=len(s.shape) == 3)
        if d.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        try:
            steps, opts, out = d.values()
        except ExportError as e:
            self.w.show_error("Export", str(e))
            return
        self.w.settings.setValue("export/last_dir", str(Path(out).parent))
        self.start_export(steps, opts, out, target=d.target())

    def start_export(self, steps: list[int], opts, out: str, target: str = "grid"):
        """Export in the background with a progress dialog that can cancel it. ``target``: "grid" or
        "chain" (drawn from the states), "points" or "window" (rendered by Qt step by step)."""
        widget = None
        if target == "points":
            self.w.views.setCurrentWidget(self.w.points_tab)
            QtWidgets.QApplication.processEvents()  # the layout settles first: the frames are the size shown
            widget = self.w.points_split
        elif target == "window":
            widget = self.w
        return self.w.exports.export(steps, opts, out, widget=widget)

    def _save_path(self, title: str, name: str, filt: str) -> str:
        folder = Path(self.w.settings.value("export/last_dir", str(Path.home())))
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.w, title, str(folder / name), filt)
        return path

    def save_bundle_dialog(self) -> None:
        s = self.w.session
        if s is None or len(s.shape) != 3:  # said before a file name is asked for
            self.w.show_error("Run bundle", "run bundles are made for image models; open one first")
            return
        path = self._save_path("Save run bundle", "run.zip", "Zip archive (*.zip);;Folder (*)")
        if path:
            self.w.exports.save_bundle(path)

    def export_states_dialog(self) -> None:
        s = self.w.session
        if s is None:
            return
        text, ok = QtWidgets.QInputDialog.getText(
            self.w,
            "Export states",
            f"Steps (FROM:TO:EVERY or a list, reached so far: 0 … {s.t_max}):",
            text=f"0:{s.t_max}:1",
        )
        path = ok and self._save_path("Export states", "states.npz", "NumPy archive (*.npz)")
        if path:
            self.w.exports.export_states(text, path)

    def save_grid_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.w, "Save grid image", str(Path.home() / "grid.png"), "PNG (*.png)"
        )
        if path:
            self.w.exports.save_grid(self.w.grid, path)


class TrainingActions:
    """Training (the Training dock's form), the Points tab's experiments, trained weights and recovery."""

    def __init__(self, w):
        self.w = w  # the window: the dialogs' parent, its panels and its controllers

    def start_training(self) -> bool:
        tp = self.w.training_panel
        key, r = tp.source_key(), tp.recipe()
        try:
            ds = self.w.models.dataset(key, r.value_range)
            spec = r.spec(ds.D, ds.shape)
            cfg = tp.config()
            cfg.validate()
            # Preflight (core.preflight, as kgn train): the network fits in memory (the host's: CUDA is not
            # started in the window's process) and the training folder takes the model file.
            import tempfile

            from ..core.preflight import check_training, check_writable_folder, model_file_bytes

            check_training(spec, ds.M, cfg.batch, cfg.eval_size)
            check_writable_folder(tempfile.gettempdir(), model_file_bytes(spec))
        except (DataError, TrainError, ValueError) as e:
            self.w.show_error("Cannot train", str(e))
            return False
        tp.reset_loss()
        size = ds.shape[1:] if len(ds.shape) == 3 else (28, 28)
        if not self.w.training.start(spec, ds, cfg, source=(key, r.value_range, size)):
            return False
        self.w.guard.dock_run = self.w.training.run  # what "Use weights" uses, whatever the Points tab trains later
        self.w.training_dock.show()
        self.w.training_dock.raise_()
        tp.show_message(f"starting a training process for {ds.describe()}…")
        return True

    def training_warning(self, msg: str) -> None:
        self.w.training_panel.show_message(msg)
        self.w.statusBar().showMessage(msg, 10_000)

    def on_training_progress(self, ev) -> None:
        """The dock follows every run; one it did not start (the Points tab's) is named, not its form's."""
        run, pts = self.w.training.run, "the Points tab's run: {} · {}, not the form above"
        about = "" if run is None or run is self.w.guard.dock_run else pts.format(run.dataset.name, run.spec.describe())
        self.w.training_panel.show_progress(ev, run.losses if run is not None else None, run, about)

    def on_training_finished(self, ev) -> None:
        self.on_training_progress(ev)
        self.w.training_panel.show_message(ev.message + " — “Use weights” switches the chain to it.")
        if ev.kind == "diverged":
            self.w.show_error("Training diverged", ev.message)
        self.w.statusBar().showMessage(ev.message, 10_000)

    def pick_points_preset(self, name: str) -> bool:
        """A preset picked in the Points tab: its shipped model (``models/<name>.safetensors``) becomes the
        current one, so the view shows it working at once; without one, the tab says to train."""
        path = DEFAULT_MODEL.parent / f"{name}.safetensors"
        ck = self.w.checkpoint
        if ck is not None and ck.path is not None and ck.path.resolve() == path.resolve() and not self.w.model_dirty:
            return True  # already shown
        if not path.is_file():  # a preset with no model, or custom points: the view shows no model (views.py)
            if name in POINT_PRESETS:
                self.w.statusBar().showMessage(f"no shipped model for {name}: press “Train on these points”", 10_000)
            if ck is not None and len(ck.spec.shape) == 1 and ck.spec.D <= 2:  # (#25) its curves go: they
                self.w.chain.pause()  # would read as those of points no model learned; Play runs it again
                self.w.plots.reset()
            return False
        if not self.w.guard.confirm(f"open the shipped {name} model"):
            return False
        return self.w.model_actions.load_model(path)

    def train_points(self, preset: str, depth: int | None = None) -> bool:
        """Train on the Points tab's points with the paper's recipe (or another depth); the result becomes
        the current model, so unsaved weights are asked about first."""
        if not self.w.guard.confirm("train on the points (the result replaces the current model)"):
            return False
        pv = self.w.points_view
        return self.w.points.train(pv.points, pv.value_range, preset, depth=depth)

    def compare_depths(self, depth_a: int, depth_b: int) -> bool:
        if not self.w.guard.confirm("compare depths (the results replace the current model)"):
            return False
        pv = self.w.points_view
        for box, depth in ((pv.depth_a, depth_a), (pv.depth_b, depth_b)):  # the boxes say what is compared
            box.blockSignals(True)
            box.setValue(depth)
            box.blockSignals(False)
        return self.w.points.compare(pv.points, pv.value_range, pv.preset, depth_a, depth_b)

    def use_trained_weights(self) -> None:
        """Switch the chain to the Training dock's model: its current weights while it trains, its best when
        done (runs of the Points tab are used by the Points tab itself)."""
        run = self.w.guard.dock_run
        if run is None:
            self.w.statusBar().showMessage("nothing trained in the Training dock yet", 5000)
        elif self.w.training.is_busy() and self.w.training.run is run:
            if self.w.guard.confirm("use the current training weights"):
                self.w.training.request_weights()  # answered by weightsReady → use_checkpoint
                self.w.statusBar().showMessage("fetching the current weights from the training process…", 3000)
        elif run.final_path is None:
            self.w.statusBar().showMessage("the training run left no weights", 5000)
        elif self.w.guard.confirm("use the trained weights"):
            try:
                ck = run.checkpoint()
            except CheckpointError as e:
                self.w.show_error("Cannot use the trained weights", str(e))
                return
            if self.use_weights(ck, run.dataset, False):
                run.used = True

    def use_checkpoint(self, ck: Checkpoint) -> None:
        run = self.w.training.run
        self.use_weights(ck, run.dataset if run is not None else None, False)

    def use_weights(self, ck: Checkpoint, ds: Dataset | None, keep_comparison: bool) -> bool:
        """Trained weights become the current model, unsaved (the title says so until they are saved)."""
        ck.path = None  # lives in a temporary folder: "Save model as" gives it a home
        ck.meta["name"] = f"trained-{ck.spec.arch}-L{ck.spec.L}-H{ck.spec.H}"
        if not keep_comparison:
            self.w.points.drop()
        if ds is not None:
            self.w.models.remember(ds)
        if not self.w.models.set_checkpoint(ck, dirty=True, train=ds):
            return False
        self.w.statusBar().showMessage("the chain now uses the trained weights (File → Save model to keep them)", 8000)
        return True

    def offer_recovery(self, ask=None) -> int:
        """Offer the recovery checkpoints of training runs that were interrupted (the app crashed or was
        killed). ask(recovery) → "restore", "discard" or "later" (default: a dialog). A restored model
        becomes the current one, unsaved. Returns how many were restored."""
        from ..core.model.recovery import pending_recoveries

        for rec in pending_recoveries():
            got = self._offer(rec, ask)
            if got is not None:
                return got  # one restored (unsaved) model at a time: the others are offered next start
        return 0

    def offer_recovery_file(self, path: str, ask=None) -> int:
        """The training process died (killed, out of memory) and left ``path``: offer its weights now, as an
        interrupted run's are offered at the next start."""
        from ..core.model.recovery import Recovery, check_recovery_info

        try:
            meta = read_metadata(path)
        except CheckpointError as e:
            self.w.show_error("Cannot restore", str(e))
            return 0
        why = check_recovery_info(meta.get("recovery"))
        if why is not None:
            self.w.show_error("Cannot restore", f"{Path(path).name}: {why}")
            return 0
        return self._offer(Recovery(Path(path), meta), ask) or 0

    def _offer(self, rec, ask) -> int | None:
        """Ask about one recovery checkpoint: 1 restored, 0 refused at the unsaved-work question, None asked
        about later, discarded or unreadable."""
        answer = (ask or (lambda r: dialogs.ask_recovery(self.w, r)))(rec)
        if answer == "discard":
            rec.discard()
        if answer != "restore":
            return None
        try:
            ck = load_checkpoint(rec.path)
        except CheckpointError as e:
            self.w.show_error("Cannot restore", str(e))
            return None
        ck.path = None  # "Save model as" gives it a home
        if not self.w.guard.confirm("restore the interrupted run"):
            return 0
        self.w.points.drop()
        if not self.w.models.set_checkpoint(ck, dirty=True):
            return None
        rec.discard()
        self.w.statusBar().showMessage(f"restored {rec.describe()} — save it with Save model as", 15_000)
        return 1
