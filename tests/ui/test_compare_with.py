"""File → Compare with… (issue 30): a second model beside the first on one locked timeline — the same start,
seeds, sampler history and edits — for image models (a second grid) and points models (the second view)."""

import numpy as np
import pytest
from PySide6 import QtCore

from kgn_gui.api import sample
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.ui.compare import compare_with
from tests.conftest import MODELS


@pytest.fixture
def window(make_window):
    return make_window()


def _go(qtbot, window, t):
    window.chain.step_by(t - window.chain.view_t)
    qtbot.waitUntil(lambda: window.chain.view_t == t, timeout=30_000)


def test_an_image_model_runs_beside_the_first_on_one_timeline(window, qtbot):
    cnn = MODELS / "mnist-cnn.safetensors"
    assert compare_with(window, cnn)
    cs = window.compare_session
    assert cs is not None and cs.model is not window.session.model and window.compare_grid.isVisible()
    left, right, _ = window.compare_titles
    assert left.text() == "mnist · MLP L=10 H=500 tanh (left)" and right.text().startswith(
        "MNIST CNN autoencoder · CNN"
    )
    assert "same start, seeds and step" in right.text()
    _go(qtbot, window, 3)
    window.on_sampler_changed(Sampler("uniform", 0.05))  # both models, from step 3
    _go(qtbot, window, 6)
    # the second grid shows the CNN's chains at the shown step, the ones kgn_gui.sample gives for it with the
    # same start, seed and sampler history
    s = window.session
    want = sample(str(cnn), n=s.n, steps=6, seed=s.config.seed, sampler="noise=normal,eps=0.01",
                  start="uniform", sampler_from=[(3, "noise=uniform,eps=0.05")]).state(6)  # fmt: skip
    assert np.array_equal(window.points.state(6), want)
    qtbot.waitUntil(lambda: window.compare_grid._label == "t = 6", timeout=10_000)
    assert np.array_equal(window.compare_grid._x, want)
    # the Plots dock overlays the second model's mean curves
    t, mean = window.plots.curves["step"].second.getData()
    assert len(t) == 6 and np.allclose(10**mean, np.maximum(cs.curves.arrays("step")[1], 1e-9))  # (a log axis)
    window.chain.seek(2)  # scrubbing moves both
    qtbot.waitUntil(lambda: window.compare_grid._label == "t = 2", timeout=10_000)
    window.points.drop()
    assert not window.compare_grid.isVisible() and len(window.plots.curves["step"].second.getData()[0] or []) == 0


def test_a_model_of_another_shape_is_refused_in_one_line(window):
    assert not compare_with(window, MODELS / "2d-corners.safetensors")
    assert window._errors[-1] == "2d-corners works on 2 values, mnist on 1×28×28: they cannot share chains"
    assert window.compare_session is None


def test_measuring_while_comparing_shows_the_second_models_measures_beside(window, qtbot):
    from kgn_gui.core.measure.analysis import measure_states
    from kgn_gui.core.measure.dynamics import converge_tolerance
    from kgn_gui.ui.widgets.analysis_panel import SECOND

    an = window.analysis
    assert an.table.isColumnHidden(SECOND)
    assert compare_with(window, MODELS / "mnist-cnn.safetensors")
    _go(qtbot, window, 5)
    job = window.measures.measure_now()
    with qtbot.waitSignal(job.done, timeout=300_000):
        pass
    assert not an.table.isColumnHidden(SECOND) and an.table.horizontalHeaderItem(SECOND).text() == "2nd"
    # beside the value it is compared with, and every column in sight (it was cut off at the dock's edge)
    assert [an.table.horizontalHeaderItem(c).text() for c in range(3)] == ["measure", "value", "2nd"]
    window.resize(1366, 738)  # at the laptop size the dock takes its default width
    window.resizeDocks([window.analysis_dock], [340], QtCore.Qt.Orientation.Horizontal)
    qtbot.wait(100)
    assert sum(an.table.columnWidth(c) for c in range(5)) <= an.table.viewport().width() + 2
    cs, ck = window.compare_session, window.checkpoint
    want = measure_states(cs.model, ck.spec, cs.state(5), np.array(cs.curves.chains("residual")[:5]),
                          window.train_data.x, tol=converge_tolerance(ck.value_range)).summary()  # fmt: skip
    row = an._row["distinct"]
    assert an.table.item(row, SECOND).text() == str(want["distinct"])
    window.points.drop()
    job = window.measures.measure_now()
    with qtbot.waitSignal(job.done, timeout=300_000):
        pass
    assert an.table.isColumnHidden(SECOND)
