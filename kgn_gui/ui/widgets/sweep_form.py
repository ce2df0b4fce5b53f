"""The depth sweep in the window: its form (depths, seeds, where the trials run, the folder) and the Analysis
dock's Sweep tab, which follows the trials as they finish (each trial's evaluation loss against its depth).

What the form asks is what ``kgn sweep`` takes: ``--depths``, ``--seeds``, ``--engine``, ``--workers``,
``--address``; the same readers check it (core.lists, core.experiment.engines).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pyqtgraph as pg
from PySide6 import QtWidgets

from ...core.wording import count
from .plots import plain_axes

RAY_MISSING = 'Ray is not installed: pip install "kgn-gui[cluster]" (docs/cluster.md)'


class SweepDialog(QtWidgets.QDialog):
    """Depths, seeds, the engine (this machine's workers, or Ray: a local one or a cluster's address) and a
    new folder. ``about``: what the sweep trains (the data, the architecture, the recipe)."""

    def __init__(self, parent, about: str, folder: str):
        super().__init__(parent)
        self.setWindowTitle("Depth sweep")
        self.setMinimumWidth(560)
        form = QtWidgets.QFormLayout(self)
        intro = QtWidgets.QLabel(about)
        intro.setWordWrap(True)
        form.addRow(intro)
        self.depths = QtWidgets.QLineEdit("1,2,4,6,8,10")
        self.depths.setToolTip("depths L to train, e.g. 1,2,4,8 (kgn sweep --depths)")
        self.seeds = QtWidgets.QLineEdit("0")
        self.seeds.setToolTip("training seeds, e.g. 0,1,2: one model per depth and seed (kgn sweep --seeds)")
        self.engine = QtWidgets.QComboBox()
        self.engine.addItem("this machine", "local")
        self.engine.addItem("Ray", "ray")
        if importlib.util.find_spec("ray") is None:  # looked up, not imported
            item = self.engine.model().item(1)
            item.setEnabled(False)
            item.setToolTip(RAY_MISSING)
        self.workers = QtWidgets.QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setToolTip(
            "trials at once (this machine: 1 runs them one after another, more share the cores out; "
            "Ray: the most in flight)"
        )
        self.address = QtWidgets.QLineEdit()
        self.address.setPlaceholderText("empty: a local Ray for the sweep; auto or HOST:PORT: a cluster")
        self.folder = QtWidgets.QLineEdit(folder)
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QtWidgets.QHBoxLayout()
        where.addWidget(self.folder, 1)
        where.addWidget(browse)
        form.addRow("Depths", self.depths)
        form.addRow("Seeds", self.seeds)
        form.addRow("Run on", self.engine)
        form.addRow("Workers", self.workers)
        form.addRow("Ray address", self.address)
        form.addRow("Folder (new or empty)", where)
        box = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        box.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Start")
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        form.addRow(box)
        self.engine.currentIndexChanged.connect(self._engine_changed)
        self._engine_changed()

    def _engine_changed(self) -> None:
        self.address.setEnabled(self.engine.currentData() == "ray")

    def _browse(self) -> None:
        got = QtWidgets.QFileDialog.getExistingDirectory(self, "An empty folder for the sweep", self.folder.text())
        if got:
            self.folder.setText(got)

    def values(self) -> dict:
        """depths and seeds as typed; engine (make_engine's options); folder."""
        ray = self.engine.currentData() == "ray"
        engine = {"name": self.engine.currentData(), "workers": self.workers.value()}
        if ray and self.address.text().strip():
            engine["address"] = self.address.text().strip()
        return dict(depths=self.depths.text(), seeds=self.seeds.text(), engine=engine, folder=self.folder.text())


class SweepTrials(QtWidgets.QWidget):
    """Each finished trial of the sweep that runs: its evaluation loss (log₁₀) against its depth, one dot per
    seed, with a line above that counts the trials done and failed and names the last and where it ran."""

    def __init__(self):
        super().__init__()
        self.label = QtWidgets.QLabel("no sweep has run (Analysis → Depth sweep…)")
        self.label.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "depth L")
        self.plot.setLabel("left", "log₁₀ evaluation loss")
        plain_axes(self.plot)
        self.plot.setMinimumHeight(120)
        self.dots = pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(80, 160, 255, 200))
        self.plot.addItem(self.dots)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.plot, 1)
        self.rows: list[dict] = []
        self.total = 0

    def clear_trials(self, total: int = 0) -> None:
        self.rows = []
        self.total = total
        self.dots.setData([], [])
        self.label.setText(
            f"0 of {count(total, 'trial')} done" if total else "no sweep has run (Analysis → Depth sweep…)"
        )

    def add(self, row: dict, done: int, total: int) -> None:
        self.rows.append(dict(row))
        self.total = total
        ok = [r for r in self.rows if not r.get("error") and _positive(r.get("train_loss"))]
        self.dots.setData([float(r["depth"]) for r in ok], [math.log10(float(r["train_loss"])) for r in ok])
        failed = sum(1 for r in self.rows if r.get("error"))
        last = f"depth {row.get('depth')}, seed {row.get('seed')}"
        where = f" on {row['host']}" if row.get("host") else ""
        said = f"failed: {row['error']}" if row.get("error") else f"{float(row.get('trial_seconds') or 0):.1f} s{where}"
        tail = f", {failed} failed" if failed else ""
        self.label.setText(f"{done} of {count(total, 'trial')} done{tail}. Last: {last} ({said})"[:300])


def _positive(v) -> bool:
    try:
        return math.isfinite(float(v)) and float(v) > 0
    except (TypeError, ValueError):
        return False


def default_folder() -> str:
    return str(Path.home() / "kgn-sweep")
