"""Edit → Undo / Redo (issue 30): sampler changes, live edits and conditions are undone exactly — the chains
take the very steps they had — and the paint canvas undoes and redoes its strokes."""

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from kgn_gui.core.chain.sampler import Sampler


@pytest.fixture
def window(make_window):
    return make_window()


def _go(qtbot, window, t):
    window.chain.step_by(t - window.chain.view_t)
    qtbot.waitUntil(lambda: window.chain.view_t == t, timeout=20_000)


def _states(window, t):
    s = window.session
    if s.t_max < t:
        s.advance(t - s.t_max)
    return np.stack([s.state(k) for k in range(t + 1)])


def test_undo_and_redo_a_kick_and_a_sampler_change_give_the_exact_steps(window, qtbot):
    plain = _states(window, 10)
    _go(qtbot, window, 5)
    window.lab.sigma = 0.5
    assert window.lab.apply("kick", all_chains=True)
    assert window.undo_action.text() == "&Undo the kick at step 5"
    kicked = _states(window, 10)
    assert np.array_equal(kicked[:5], plain[:5]) and not np.array_equal(kicked[5:], plain[5:])
    window.undo_action.trigger()
    assert "undo: the kick at step 5" in window.statusBar().currentMessage()
    assert window.session.lab.all_edits() == [] and window.chain.view_t == 5
    assert np.array_equal(_states(window, 10), plain)
    assert window.redo_action.text() == "&Redo the kick at step 5" and window.undo_action.text() == "&Undo"
    window.redo_action.trigger()
    assert np.array_equal(_states(window, 10), kicked)

    _go(qtbot, window, 7)
    window.transport.set_sampler(Sampler("uniform", 0.08))
    window.on_sampler_changed(Sampler("uniform", 0.08))  # from step 7: the kick at 5 stays
    changed = _states(window, 12)
    window.undo_action.trigger()
    assert window.session.config.sampler == Sampler("normal", 0.01) and window.transport.eps.value() == 0.01
    assert [e.t for e in window.session.lab.all_edits()] == [5]
    got = _states(window, 10)
    assert np.array_equal(got, kicked)
    window.redo_action.trigger()
    assert window.transport.noise.currentText() == "uniform"
    assert np.array_equal(_states(window, 12), changed)
    window.undo_action.trigger()
    window.undo_action.trigger()  # the kick too: back to the plain chains
    assert np.array_equal(_states(window, 10), plain)
    window.undo_action.trigger()
    assert "nothing to undo" in window.statusBar().currentMessage()


def test_undo_a_condition_and_a_new_start_clears_the_stacks(window, qtbot):
    sp = window.start_panel
    sp.cond_index.setValue(3)
    sp.cond_region.setCurrentIndex(0)
    sp.conditionRequested.emit(sp.condition(), False)  # condition the chains from their start
    assert window.session.lab.condition is not None and window.lab.condition is not None
    window.undo_action.trigger()
    assert window.session.lab.condition is None and window.lab.condition is None
    window.redo_action.trigger()
    assert window.session.lab.condition is not None
    window.reset_chain()  # a new session: nothing of the old one to undo
    assert window.undo_action.text() == "&Undo" and window.redo_action.text() == "&Redo"


def test_the_paint_canvas_undoes_and_redoes_its_strokes_when_it_has_the_keyboard(window, qtbot):
    window.start_dock.show()
    window.start_dock.raise_()
    sp = window.start_panel
    sp.tabs.setCurrentIndex(1)
    canvas = sp.canvas
    canvas.stroke([(3.0, 3.0), (20.0, 20.0)])
    painted = canvas.ink.copy()
    assert painted.sum() > 0
    canvas.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is canvas, timeout=2000)
    window.undo_action.trigger()
    assert canvas.ink.sum() == 0 and "the paint stroke" in window.statusBar().currentMessage()
    window.redo_action.trigger()
    assert np.array_equal(canvas.ink, painted)
