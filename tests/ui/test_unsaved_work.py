"""Issue 27: one guard for unsaved work. Every path that replaces or drops weights that are in no file asks
first — Open, Open recent, Open bundled model, drop, Points presets, Points training, Compare depths, Use
weights, Restore — and Quit asks also about a training that runs and one that finished unused."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtWidgets

from kgn_gui.core.data.sources import point_preset
from kgn_gui.core.model.architectures import ModelSpec
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.model.recovery import recovery_dir, recovery_prefix
from kgn_gui.core.model.train import TrainConfig
from kgn_gui.ui.controllers.training import TrainingRun
from tests.conftest import drop_file

MODELS = Path(__file__).resolve().parents[2] / "models"
TANH = MODELS / "1d-tanh.safetensors"


@pytest.fixture
def window(make_window):
    from kgn_gui.core.model.recovery import pending_recoveries

    yield make_window(n_chains=16)
    for rec in pending_recoveries():  # a restore that was cancelled leaves its file: not for the next test
        rec.discard()


def make_dirty(window):
    assert window.training_actions.use_weights(load_checkpoint(MODELS / "2d-corners.safetensors"), None, False)
    assert window.model_dirty and window.checkpoint.name == "trained-mlp-L6-H50"


def finished_run(tmp_path) -> TrainingRun:
    """A Training-dock run that has finished: its weights in a temporary file, as the worker leaves them."""
    path = tmp_path / "trained.safetensors"
    shutil.copy(TANH, path)
    ck = load_checkpoint(path)
    run = TrainingRun(ck.spec, point_preset("1d-tanh"), TrainConfig(steps=10), final_path=str(path))
    run.step, run.best_loss = 10, 1e-3
    return run


def bundled_action(window, name):
    return next(a for a in window.bundled_menu.actions() if a.text() == name)


def restore(window, tmp_path):
    from kgn_gui.core.model.architectures import build_model
    from kgn_gui.core.model.recovery import recovery_dir, save_recovery

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # a process that is gone: the app that trained crashed
    spec = ModelSpec(D=2, L=2, H=8, bound="sigmoid")
    save_recovery(recovery_dir(), build_model(spec), spec, point_preset("2d-corners"), {}, step=5, steps=9,
                  source=None, app_pid=p.pid)  # fmt: skip
    window.training_actions.offer_recovery(ask=lambda r: "restore")


PATHS = {
    "open": lambda w, tmp: w.model_actions.open_model_dialog(),
    "open recent": lambda w, tmp: w.model_actions.open_recent(str(TANH)),
    "open bundled model": lambda w, tmp: bundled_action(w, "1d-tanh").trigger(),
    "drop": lambda w, tmp: drop_file(w, TANH),
    "points preset": lambda w, tmp: w.points_view.presetPicked.emit("1d-tanh"),
    "points training": lambda w, tmp: w.points_view.trainRequested.emit("1d-tanh"),
    "compare depths": lambda w, tmp: w.points_view.compareRequested.emit(2, 4),
    "use weights": lambda w, tmp: (
        setattr(w.guard, "dock_run", finished_run(tmp)),
        w.training_actions.use_trained_weights(),
    ),
    "restore": restore,
}


@pytest.mark.parametrize("path", list(PATHS))
def test_every_path_that_replaces_unsaved_weights_asks_and_cancel_keeps_them(window, monkeypatch, tmp_path, path):
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(TANH), ""))
    make_dirty(window)
    before = window.checkpoint
    asked = []
    window.ask_unsaved = lambda doing: asked.append(doing) or "cancel"
    PATHS[path](window, tmp_path)
    assert len(asked) == 1, asked
    assert window.checkpoint is before and window.model_dirty and not window.training.is_busy()


def test_open_bundled_model_asks_then_opens_on_discard(window):
    make_dirty(window)
    asked = []
    window.ask_unsaved = lambda doing: asked.append(doing) or "discard"
    bundled_action(window, "1d-tanh").trigger()
    assert asked == ["open the bundled 1d-tanh model"]
    assert window.checkpoint.name == "1d-tanh" and not window.model_dirty


def test_quit_after_a_training_whose_weights_were_never_used_asks(window, monkeypatch, tmp_path):
    run = finished_run(tmp_path)
    window.guard.dock_run = run
    asked = []
    window.ask_unsaved = lambda doing: pytest.fail("the current model is in a file")
    window.ask_unsaved_run = lambda what, doing: asked.append((what, doing)) or "cancel"
    assert not window.close() and window.isVisible()
    assert asked and asked[0][1] == "quit" and "never used nor saved" in asked[0][0] and "10 steps" in asked[0][0]
    out = tmp_path / "kept.safetensors"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.ask_unsaved_run = lambda what, doing: "save"
    assert window.close() and out.exists() and run.used
    a, b = load_checkpoint(out).model.state_dict(), load_checkpoint(TANH).model.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_used_or_saved_training_weights_do_not_ask_on_quit(window, tmp_path):
    window.guard.dock_run = finished_run(tmp_path)
    window.training_actions.use_trained_weights()
    assert window.guard.dock_run.used and window.model_dirty  # now the current model's question
    window.ask_unsaved_run = lambda what, doing: pytest.fail("asked about weights already in use")
    window.ask_unsaved = lambda doing: "discard"
    assert window.close()


def test_quit_while_a_training_runs_asks_and_save_keeps_its_best_weights(window, qtbot, monkeypatch, tmp_path):
    tp = window.training_panel
    tp.set_recipe("points:2d-corners", bound="sigmoid", L=2, H=8, lr=1e-3, steps=5_000_000, batch=4)
    assert window.training_actions.start_training()
    qtbot.waitUntil(lambda: window.training.run.step > 50, timeout=120_000)
    asked = []
    window.ask_unsaved_run = lambda what, doing: asked.append(what) or "cancel"
    assert not window.close() and window.training.is_busy()  # Cancel: the training goes on
    assert asked and asked[0].startswith("A training is running (step ") and "Quitting stops it" in asked[0]
    out = tmp_path / "stopped.safetensors"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.ask_unsaved_run = lambda what, doing: "save"
    assert window.close()
    ck = load_checkpoint(out)
    assert ck.spec.L == 2 and ck.spec.H == 8 and ck.meta["recipe"]["steps_done"] > 50
    assert not window.training.is_busy()


def test_quit_while_a_training_runs_and_discard_stops_it(window, qtbot):
    tp = window.training_panel
    tp.set_recipe("points:2d-corners", bound="sigmoid", L=2, H=8, lr=1e-3, steps=5_000_000, batch=4)
    assert window.training_actions.start_training()
    qtbot.waitUntil(lambda: window.training.run.step > 0, timeout=120_000)
    window.ask_unsaved_run = lambda what, doing: "discard"
    pid = window.training._proc.pid
    assert window.close() and not window.training.is_busy()
    # discarded means gone: the recovery checkpoint the stopping worker writes is not offered next start
    assert list(recovery_dir().glob(f"{recovery_prefix(pid)}*")) == []


def test_a_training_stopped_by_closing_without_a_question_stays_recoverable(qtbot):
    """Shut down without the user's word (a Points-tab run, a crash path): the worker's recovery stays."""
    from kgn_gui.core.model.train import TrainConfig
    from kgn_gui.ui.controllers.training import TrainingController

    ctl = TrainingController()
    spec = ModelSpec(D=2, L=2, H=8, bound="sigmoid", shape=(2,))
    assert ctl.start(spec, point_preset("2d-corners"), TrainConfig(steps=5_000_000, batch=4, lr=1e-3))
    qtbot.waitUntil(lambda: ctl.run.step > 0, timeout=120_000)
    pid = ctl._proc.pid
    assert ctl.shutdown()
    left = list(recovery_dir().glob(f"{recovery_prefix(pid)}*"))
    assert len(left) == 1
    left[0].unlink()


def test_quit_while_a_points_tab_training_runs_asks(window, qtbot):
    """Issue 30: a training the Points tab started is a training that runs, as the Training dock's is."""
    window.points_view.trainRequested.emit("1d-sigmoid")
    qtbot.waitUntil(lambda: window.training.is_busy() and window.training.run.step > 0, timeout=120_000)
    asked = []
    window.ask_unsaved_run = lambda what, doing: asked.append(what) or "cancel"
    assert not window.close() and window.training.is_busy()
    assert len(asked) == 1 and asked[0].startswith("A training is running (step ")
    window.ask_unsaved_run = lambda what, doing: "discard"
    assert window.close() and not window.training.is_busy()


def test_a_refused_start_does_not_leave_the_points_training_unused(window, qtbot):
    """Issue 30: Train pressed in the Training dock while the Points tab trains is refused — and the Points
    training's weights still become the current model, so Quit asks about them (they were lost at once)."""
    window.points_view.trainRequested.emit("1d-sigmoid")
    qtbot.waitUntil(lambda: window.training.is_busy(), timeout=60_000)
    assert not window.training_actions.start_training()
    run = window.training.run
    qtbot.waitUntil(lambda: not window.training.is_busy() and window.checkpoint.spec.D == 1, timeout=180_000)
    assert run.used and window.model_dirty and window.checkpoint.name == "trained-mlp-L6-H10"
    asked = []
    window.ask_unsaved = lambda doing: asked.append(doing) or "cancel"
    assert not window.close() and asked == ["quit"]


def test_compare_depths_second_model_is_asked_about_before_it_goes(window, qtbot, monkeypatch, tmp_path):
    """Issue 30: Compare depths' second depth lives only beside the current model; Open bundled model asks
    about it too (Save of the current model kept only the first depth)."""
    window.points_view.preset_box.setCurrentText("1d-sigmoid")
    window.points_view.compareRequested.emit(1, 2)
    qtbot.waitUntil(lambda: window.compare_session is not None, timeout=180_000)
    assert window.model_dirty and window.checkpoint.spec.L == 1
    out = tmp_path / "first.safetensors"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    assert window.model_actions.save_model_dialog() and not window.model_dirty  # the first depth is in a file
    asked = []
    window.ask_unsaved = lambda doing: pytest.fail("the current model is in a file")
    window.ask_unsaved_run = lambda what, doing: asked.append((what, doing)) or "cancel"
    bundled_action(window, "1d-tanh").trigger()
    assert window.compare_session is not None and window.checkpoint.spec.L == 1  # Cancel: nothing changed
    assert len(asked) == 1 and asked[0][1] == "open the bundled 1d-tanh model"
    assert asked[0][0].startswith("Compare depths' second model (") and "L=2" in asked[0][0].replace(" ", "")
    second = tmp_path / "second.safetensors"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(second), ""))
    window.ask_unsaved_run = lambda what, doing: "save"
    bundled_action(window, "1d-tanh").trigger()
    assert window.checkpoint.name == "1d-tanh" and window.compare_session is None
    assert load_checkpoint(second).spec.L == 2
    window.ask_unsaved_run = lambda what, doing: pytest.fail("its weights are saved")
    assert window.close()
