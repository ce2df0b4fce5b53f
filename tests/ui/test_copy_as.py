"""Edit → Copy as kgn command / Copy as Python (issue 30): the copied text, run, gives the shown frames exactly."""

import shlex

import numpy as np
import pytest
from PySide6 import QtWidgets

from kgn_gui.cli import main
from kgn_gui.core.chain.sampler import Sampler


@pytest.fixture
def window(make_window):
    return make_window()


def _settle(qtbot, window, t):
    qtbot.waitUntil(lambda: window.chain.view_t == t and window.session.ready(t), timeout=20_000)


def _replay(text, tmp_path):
    argv = shlex.split(text)
    argv[argv.index("-o") + 1] = str(tmp_path / "out")
    assert main(argv[1:]) == 0
    return np.load(tmp_path / "out" / "final_states.npy")


def test_the_copied_command_and_snippet_give_the_shown_step_after_a_sampler_change_and_edits(window, qtbot, tmp_path):
    ch = window.chain
    ch.step_by(4)
    _settle(qtbot, window, 4)
    window.on_sampler_changed(Sampler("uniform", 0.05))  # from step 4 on
    ch.step_by(2)
    _settle(qtbot, window, 6)
    window.lab.sigma = 0.4
    assert window.lab.apply("kick", all_chains=True)  # a kick at step 6
    window.lab.all_chains = False
    assert window.lab.stroke(5, [(10, 10), (18, 12)])  # a brush stroke on chain 5 at step 6
    ch.step_by(3)
    _settle(qtbot, window, 9)
    want = window.session.state(9)
    qtbot.wait(50)
    cmd = window.export_actions.copy_as("command")
    assert QtWidgets.QApplication.clipboard().text() == cmd
    assert "--sampler-from 4:noise=uniform,eps=0.05" in cmd and '"kind":"kick"' in cmd and '"kind":"brush"' in cmd
    assert "copied the kgn command that reproduces step 9 of these 64 chains" in window.statusBar().currentMessage()
    got = _replay(cmd, tmp_path)
    assert got.shape == want.shape and np.array_equal(got, want)
    snippet = window.export_actions.copy_as("python")
    scope = {}
    exec(snippet, scope)  # noqa: S102 - what the user pastes into a notebook
    assert np.array_equal(scope["x"], want)


def test_a_data_start_is_copied_by_its_source_and_a_model_in_no_file_is_refused(window, qtbot, tmp_path):
    sp = window.start_panel
    sp.index.setValue(7)
    sp.request_data()
    qtbot.waitUntil(lambda: window.chain.start.kind == "data", timeout=10_000)
    window.chain.step_by(3)
    _settle(qtbot, window, 3)
    cmd = window.export_actions.copy_as("command")
    assert "--start 'data:" in cmd and "#7'" in cmd
    assert np.array_equal(_replay(cmd, tmp_path), window.session.state(3))
    window.models.dirty = True  # as after Use weights: the weights are in no file
    assert window.export_actions.copy_as("command") is None
    assert "save the model first" in window.statusBar().currentMessage()
