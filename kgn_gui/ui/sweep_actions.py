"""The Analysis menu's depth sweep as the window runs it (``w.analysis_actions``): what it trains, the form,
the child that runs it and the chart at the end. One of the window's action objects (see actions.py)."""

from __future__ import annotations

import importlib.util

from PySide6 import QtWidgets

from ..core import lists
from ..core.experiment.sweep import SweepConfig, check_output_folder
from ..core.preflight import check_sweep
from . import dialogs


class AnalysisActions:
    """The Analysis menu and dock: measures, attractor audit, basin recovery, the depth sweep."""

    def __init__(self, w):
        self.w = w  # the window: the dialogs' parent, its panels and its controllers

    def sweep_target(self) -> tuple[str, dict]:
        """What a depth sweep trains: the loaded model's data set and architecture (width, bound and the
        architecture's options) when its data set is a bundled one, else the Training dock's source and
        form; the recipe (steps, rate, batch, seed) is always the form's. Returns (source key, the
        SweepConfig fields)."""
        from ..core.data.sources import source_for_name

        tp, r = self.w.training_panel, self.w.training_panel.recipe()
        fields = dict(steps=r.steps, lr=r.lr, batch=r.batch, seeds=(r.seed,))
        ck = self.w.checkpoint
        source = source_for_name(str(ck.meta.get("dataset", ""))) if ck is not None else None
        if source is not None:
            sp = ck.spec
            arch = dict(H=sp.H, bound=sp.bound, arch=sp.arch, bottleneck=sp.bottleneck, patch=sp.patch, heads=sp.heads)
            return source, {**fields, **arch}
        arch = dict(H=r.H, bound=r.bound, arch=r.arch, bottleneck=r.bottleneck, patch=r.patch, heads=r.heads)
        return tp.source_key(), {**fields, **arch}

    def sweep_dialog(self) -> None:
        from ..core.model.architectures import ARCH_DEFAULTS
        from .widgets.sweep_form import SweepDialog, default_folder

        source, f = self.sweep_target()
        about = (
            f"One {ARCH_DEFAULTS[f['arch']]['label']} per depth and seed on {source} (width H={f['H']}, "
            f"{f['bound']}, {f['steps']:,} steps each: the Training form's recipe), sampled and measured as the "
            "window's chains step."
        )
        d = SweepDialog(self.w, about, default_folder())
        if d.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            v = d.values()
            self.start_sweep(v["depths"], v["folder"], seeds=v["seeds"], engine=v["engine"])

    def start_sweep(self, depths: str, folder: str, *, seeds: str | None = None, engine: dict | None = None):
        """core.sweep on the loaded model's data and architecture (:meth:`sweep_target`), in a child process,
        with progress in the Analysis dock and each finished trial in its Sweep tab; when it ends the chart
        opens. ``seeds`` as kgn sweep --seeds reads them (default: the Training form's seed); ``engine``: the
        options of core.experiment.engines.make_engine (default: the trials in the child)."""
        source, fields = self.sweep_target()
        engine = dict(engine or {})
        try:
            # the depths and seeds read as kgn sweep reads them; the chains step as the window's do
            if seeds is not None and seeds.strip():
                fields["seeds"] = lists.seeds(seeds)
            cfg = SweepConfig(
                source=source, depths=tuple(lists.depths(depths)), sampler=self.w.transport.sampler(), **fields
            )
            cfg.validate()
            local = engine.get("name", "local") == "local"
            if not local and importlib.util.find_spec("ray") is None:  # the child would say so; at once here
                raise ValueError('Ray is not installed: pip install "kgn-gui[cluster]"')
            if not str(folder).strip():
                raise ValueError("choose a folder for the sweep")
            check_output_folder(folder)
            check_sweep(cfg, folder, workers=(engine.get("workers") or 1) if local else 1)
        except ValueError as e:
            self.w.show_error("Depth sweep", str(e))
            return None
        return self.w.measures.start_sweep(cfg, folder, engine=engine)

    def show_sweep(self, folder: str) -> None:
        self.w.analysis.status.setText(f"depth sweep written to {folder}")
        self.w._sweep_view = dialogs.sweep_result(self.w, folder)
