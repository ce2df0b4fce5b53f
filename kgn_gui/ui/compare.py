"""File → Compare with…: a second model beside the current one on one locked timeline — the same start, seeds,
sampler history, condition and edits, so the two differ only in their weights (the points controller's
comparison, which Compare depths uses too). Image models show a second chain grid beside the first, points
models the Points tab's second view; the Plots dock overlays the second model's mean curves (dashed) on the
first's, and the status bar names both. Scrubbing, stepping and playing move both."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from ..core.errors import CheckpointError
from ..core.model.checkpoint import Checkpoint, load_checkpoint


def images_page(grid: QtWidgets.QWidget, second: QtWidgets.QWidget) -> tuple[QtWidgets.QWidget, tuple]:
    """The Images tab: the chain grid, and beside it (hidden until a comparison) the second model's grid, each
    under a title. Returns (the page, (left title, right title, the splitter))."""
    page = QtWidgets.QWidget()
    page.setObjectName("images_page")
    lay = QtWidgets.QVBoxLayout(page)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    titles = QtWidgets.QHBoxLayout()
    left, right = QtWidgets.QLabel(), QtWidgets.QLabel()
    for t in (left, right):
        t.setWordWrap(True)
        t.hide()
        titles.addWidget(t, 1)
    lay.addLayout(titles)
    split = QtWidgets.QSplitter()
    split.addWidget(grid)
    split.addWidget(second)
    second.hide()
    lay.addWidget(split, 1)
    return page, (left, right, split)


def titles(first: Checkpoint, second: Checkpoint, depths: bool) -> tuple[str, str]:
    """The two views' titles: depths (Compare depths) or the models' names and networks (Compare with…)."""
    if depths:
        return f"L = {first.spec.L} (left)", f"L = {second.spec.L} (right) · same points, start and seed"
    return (
        f"{first.name} · {first.spec.describe()} (left)",
        f"{second.name} · {second.spec.describe()} (right; dashed in Plots) · same start, seeds and step",
    )


def compare_with_dialog(w) -> bool:
    """File → Compare with…: pick a model file; it runs beside the current model (one line when it cannot)."""
    if w.checkpoint is None:
        return False
    start = w.settings.value("chain/last_dir", str(Path.home()))
    path, _ = QtWidgets.QFileDialog.getOpenFileName(
        w, "Compare with another model", start, "Kaleidoscope models (*.safetensors);;All files (*)"
    )
    return bool(path) and compare_with(w, path)


def compare_with(w, path: str | Path) -> bool:
    """Run the model at ``path`` beside the current one; the reason in a dialog when it cannot."""
    try:
        ck = load_checkpoint(path)
    except (CheckpointError, OSError) as e:
        w.show_error("Compare with another model", str(e))
        return False
    why = w.points.compare_with(ck)
    if why:
        w.show_error("Compare with another model", why)
        return False
    w.statusBar().showMessage(f"comparing {w.checkpoint.name} (left) with {ck.name} (right) on one timeline", 10_000)
    return True
