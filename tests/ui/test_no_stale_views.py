"""No view outlives what it shows: a new start, model or weights resets every view that depends on it, and
pausing brings the plots to the shown step at once. Unsaved weights are never dropped without a question."""

from pathlib import Path

import numpy as np
import pytest

from kgn_gui.core.model.checkpoint import load_checkpoint
from tests.conftest import drop_file

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def window(make_window):
    return make_window(n_chains=16)


def inspect_chain_3_at_step_6(window, qtbot):
    window.chain.step_by(6)
    window.grid.tileClicked.emit(3)
    qtbot.waitUntil(lambda: window.inspector.caption.text().startswith("chain 3 at step 6"), timeout=5000)
    assert window.inspector.index == 3


def band_is_empty(window) -> bool:
    return all(c.fill.path().isEmpty() and len(c.mean.getData()[0] or []) == 0 for c in window.plots.curves.values())


def test_randomize_clears_the_inspector_the_selection_and_the_curves_band(window, qtbot):
    inspect_chain_3_at_step_6(window, qtbot)
    qtbot.waitUntil(lambda: not window.plots.curves["step"].fill.path().isEmpty(), timeout=5000)
    window.start_panel.request_random()
    assert window.inspector.index is None and window.views_ctl.inspected is None
    assert window.inspector.caption.text().startswith("Click a tile")
    assert window.grid.selected is None
    assert band_is_empty(window)
    assert window.plots.histogram.chain_density.size == 0


def test_a_new_model_clears_the_inspector_and_the_curves(window, qtbot):
    inspect_chain_3_at_step_6(window, qtbot)
    window.model_actions.load_model(MODELS / "mnist-cnn.safetensors")
    assert window.checkpoint.spec.arch == "cnn"
    assert window.inspector.index is None and band_is_empty(window)
    qtbot.waitUntil(lambda: window.transport.step_label.text() == "step 0 / 0", timeout=5000)


def test_new_chains_drop_the_measures_of_the_old_ones(window, qtbot):
    window.chain.step_by(4)
    job = window.measures.measure_now()
    with qtbot.waitSignal(window.measures.measured, timeout=120_000):
        pass
    assert job is not None and window.analysis.value("converged") != "–"
    assert window.measures.measured_t == 4
    window.start_panel.request_random()
    assert window.analysis.value("converged") == "–" and window.measures.measured_t is None
    assert window.analysis.status.text() == window.analysis.IDLE


def test_measuring_while_playing_says_to_pause_instead_of_measuring_step_0(window, qtbot):
    window.transport.speed.setValue(50)
    window.chain.play()
    qtbot.waitUntil(lambda: window.chain.view_t >= 3, timeout=20_000)
    assert window.measures.measure_now() is None
    assert window.analysis.status.text().startswith("playing: pause")
    window.chain.pause()


def test_pausing_brings_the_plots_to_the_shown_step_at_once(window, qtbot):
    window.transport.speed.setValue(200)
    window.views_ctl.curves_interval_s = 3600.0  # while playing the plots would not follow at all
    window.chain.play()
    qtbot.waitUntil(lambda: window.chain.view_t >= 15, timeout=30_000)
    window.chain.pause()
    t = window.chain.view_t
    cursor = window.plots.curves["step"].cursor
    qtbot.waitUntil(lambda: cursor.value() == t, timeout=1000)
    assert len(window.plots.curves["step"].mean.getData()[0]) >= t  # the curves reach the shown step


def test_training_on_the_points_tab_leaves_the_training_form_alone(window, qtbot):
    tp = window.training_panel
    tp.set_recipe("mnist:test", L=3, H=48, steps=123)
    pv = window.points_view
    pv.preset_box.setCurrentText("1d-sigmoid")
    seen = []
    window.training.progress.connect(lambda _ev: seen.append(tp.status.text()))
    with qtbot.waitSignal(window.modelChanged, timeout=180_000):
        pv.train_button.click()
    assert window.checkpoint.spec.D == 1 and window.model_dirty
    assert (tp.source_key(), tp.L.value(), tp.H.value(), tp.steps.value()) == ("mnist:test", 3, 48, 123)
    # while it ran, the dock said whose run its progress is (issue 30, item 20), with the run's own batch
    assert seen and seen[-1].startswith("Training the Points tab's run: 1d-sigmoid · MLP L=")
    assert "not the form above" in seen[-1]
    assert "points:workspace" not in [tp.source.itemData(i) for i in range(tp.source.count())]


# -- unsaved weights
def make_dirty(window):
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    assert window.training_actions.use_weights(ck, None, False)
    assert window.model_dirty and window.windowTitle().startswith("trained-mlp-L6-H50*")


def test_trained_weights_mark_the_title_until_saved(window, tmp_path):
    assert "*" not in window.windowTitle()
    make_dirty(window)
    assert window.model_actions.save_model(tmp_path / "kept.safetensors")
    assert not window.model_dirty and window.windowTitle().startswith("kept –")


@pytest.mark.parametrize("how", ["recent", "drop", "open"])
def test_open_recent_drop_and_open_ask_and_cancel_keeps_the_weights(window, qtbot, monkeypatch, how):
    from PySide6 import QtWidgets

    make_dirty(window)
    asked = []
    window.ask_unsaved = lambda doing: asked.append(doing) or "cancel"
    target = str(MODELS / "1d-tanh.safetensors")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (target, ""))

    def act():
        if how == "recent":
            window.model_actions.open_recent(target)
        elif how == "open":
            window.model_actions.open_model_dialog()
        else:
            drop_file(window, target)

    act()
    assert len(asked) == 1 and window.checkpoint.name == "trained-mlp-L6-H50" and window.model_dirty
    window.ask_unsaved = lambda doing: asked.append(doing) or "discard"
    act()
    assert len(asked) == 2 and window.checkpoint.name == "1d-tanh" and not window.model_dirty


def test_quit_asks_and_cancel_keeps_the_window_open(window, qtbot, tmp_path, monkeypatch):
    from PySide6 import QtWidgets

    make_dirty(window)
    window.ask_unsaved = lambda doing: "cancel"
    assert not window.close() and window.isVisible()
    out = tmp_path / "saved.safetensors"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.ask_unsaved = lambda doing: "save"
    assert window.close() and out.exists()
    assert np.array_equal(
        load_checkpoint(out).model.state_dict()["net.0.weight"].numpy(),
        load_checkpoint(MODELS / "2d-corners.safetensors").model.state_dict()["net.0.weight"].numpy(),
    )


def test_saved_weights_do_not_ask(window):
    window.ask_unsaved = lambda doing: pytest.fail("asked about weights that are in a file")
    window.model_actions.open_recent(str(MODELS / "1d-tanh.safetensors"))
    assert window.checkpoint.name == "1d-tanh"


def test_the_inspector_shows_no_old_picture_after_randomize(window, qtbot):
    inspect_chain_3_at_step_6(window, qtbot)
    assert window.inspector.chain_view.img.image.shape == (28, 28)
    window.start_panel.request_random()
    for view in (window.inspector.chain_view, window.inspector.nearest_view):
        assert view.img.image.shape == (28, 28) and int(view.img.image.max()) == 0  # all of the old one covered


def test_measures_of_another_step_are_greyed(window, qtbot):
    window.chain.step_by(5)
    with qtbot.waitSignal(window.measures.measured, timeout=120_000):
        window.measures.measure_now()
    assert window.analysis.table.isEnabled()
    window.chain.step_by(1)
    qtbot.waitUntil(lambda: not window.analysis.table.isEnabled(), timeout=2000)
    window.chain.play()
    assert window.analysis.status.text() == "measures of step 5; playing: pause to measure the shown step"
    window.chain.pause()


def test_points_training_asks_about_unsaved_weights_and_never_takes_the_docks_run(window, qtbot):
    tp = window.training_panel
    tp.set_recipe("points:2d-corners", bound="sigmoid", L=3, H=16, lr=1e-3, steps=60, batch=4)
    with qtbot.waitSignal(window.training.finished, timeout=120_000):
        assert window.training_actions.start_training()
    window.training_actions.use_trained_weights()
    assert window.checkpoint.spec.L == 3 and window.model_dirty
    asked = []
    window.ask_unsaved = lambda doing: asked.append(doing) or "cancel"
    window.points_view.preset_box.setCurrentText("1d-sigmoid")
    window.points_view.train_button.click()
    assert asked == ["train on the points (the result replaces the current model)"]
    assert not window.training.is_busy() and window.checkpoint.spec.L == 3
    window.ask_unsaved = lambda doing: asked.append(doing) or "discard"
    with qtbot.waitSignal(window.modelChanged, timeout=180_000):
        window.points_view.train_button.click()
    assert window.checkpoint.spec.D == 1 and window.checkpoint.spec.L == 6
    window.training_actions.use_trained_weights()  # the dock's own run, not the Points tab's
    assert window.checkpoint.spec.D == 2 and window.checkpoint.spec.L == 3 and window.checkpoint.spec.H == 16


def test_a_run_bundle_of_a_points_model_is_refused_before_a_file_is_asked_for(window, monkeypatch, errors):
    from PySide6 import QtWidgets

    window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: pytest.fail("asked for a file"))
    window.export_actions.save_bundle_dialog()
    assert errors[-1] == ("Run bundle", "run bundles are made for image models; open one first")
