"""File → Save session log (issue 30): every run of the session, as far as it was shown, as the kgn commands
(or the Python) that reproduce it — run, they give the runs' states."""

import shlex

import numpy as np
import pytest
from PySide6 import QtWidgets

from kgn_gui.cli import main
from kgn_gui.core.chain.start import Start
from kgn_gui.ui.session_log import save_session_log


@pytest.fixture
def window(make_window):
    return make_window()


def _go(qtbot, window, t):
    window.chain.step_by(t - window.chain.view_t)
    qtbot.waitUntil(lambda: window.chain.view_t == t and window.session_log._shown == t, timeout=20_000)


def test_the_log_holds_each_run_and_its_commands_reproduce_them(window, qtbot, tmp_path, monkeypatch):
    _go(qtbot, window, 4)
    first = window.session.state(4)
    assert window.start_chains(Start("normal", n=6, seed=9))  # a second run
    _go(qtbot, window, 3)
    window.lab.sigma = 0.3
    assert window.lab.apply("kick", all_chains=True)
    _go(qtbot, window, 5)
    second = window.session.state(5)
    out = tmp_path / "log.sh"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a: (str(out), "kgn commands (*.sh)"))
    assert save_session_log(window) == str(out)
    text = out.read_text()
    assert text.startswith("#!/bin/sh\n") and "# run 1, " in text and "64 chains of mnist to step 4" in text
    assert "# run 2, " in text and "6 chains of mnist to step 5" in text
    cmds = [line for line in text.splitlines() if line.startswith("kgn sample ")]
    assert len(cmds) == 2 and "-o run-1" in cmds[0] and "-o run-2" in cmds[1] and '"kind":"kick"' in cmds[1]
    for cmd, want in zip(cmds, (first, second)):
        argv = shlex.split(cmd)
        argv[argv.index("-o") + 1] = str(tmp_path / argv[argv.index("-o") + 1])
        assert main(argv[1:]) == 0
        assert np.array_equal(np.load(tmp_path / argv[-1] / "final_states.npy"), want)
    py = window.session_log.text("python")
    scope = {}
    exec(py, scope)  # noqa: S102
    assert np.array_equal(scope["x1"], first) and np.array_equal(scope["x2"], second)


def test_a_run_with_no_text_form_is_logged_with_why(window, qtbot):
    window.models.dirty = True  # trained weights in no file
    window.reset_chain()
    _go(qtbot, window, 2)
    text = window.session_log.text()
    assert "# run 2, " in text and "unsaved weights to step 2" in text
    assert "# (no text form: the model's weights are in no file: save the model first" in text
