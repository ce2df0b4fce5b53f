"""A run as text (core.export.as_code): the kgn command and the Python snippet reproduce its states exactly."""

import shlex

import numpy as np
import pytest

from kgn_gui import api
from kgn_gui.cli import main
from kgn_gui.core.chain.lab import Edit, Lab
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.start import Start
from kgn_gui.core.errors import LabError
from kgn_gui.core.export.as_code import CodeError, parse_edits, parse_sampler_from, run_text
from tests.conftest import MODELS

MODEL = str(MODELS / "mnist.safetensors")


def _replay(text, tmp_path):
    """Run a copied ``kgn sample`` line in-process, -o into tmp_path; its final states."""
    argv = shlex.split(text)
    assert argv[:2] == ["kgn", "sample"]
    argv[argv.index("-o") + 1] = str(tmp_path / "out")
    assert main(argv[1:]) == 0
    return np.load(tmp_path / "out" / "final_states.npy")


def test_a_run_with_sampler_changes_and_edits_comes_back_from_its_command_and_its_snippet(tmp_path):
    brush = Edit(t=3, kind="brush", rows=(0, 2), pixels=tuple(range(300, 340)), value=1.0)
    kick = {"t": 5, "kind": "kick", "rows": [1], "sigma": 0.3, "seed": 7}
    later = [(4, "noise=uniform,eps=0.05"), (6, "noise=none,eps=0.0,damping=0.5")]
    run = api.sample(MODEL, n=4, steps=8, seed=3, sampler="noise=normal,eps=0.02", sampler_from=later,
                     edits=[brush, kick])  # fmt: skip
    s = run._session
    assert [t for t, _ in s.sampler_changes()] == [0, 4, 6] and len(s.lab.all_edits()) == 2
    want = run.state(8)
    # without the changes and edits the states differ: the test can fail
    assert not np.array_equal(want, api.sample(MODEL, n=4, steps=8, seed=3, sampler="noise=normal,eps=0.02").state(8))
    text = run_text(MODEL, run.start, s.sampler_changes(), s.lab, 8)
    cmd = text.command()
    assert "--sampler-from 4:noise=uniform,eps=0.05" in cmd and "--edits" in cmd
    assert np.array_equal(_replay(cmd, tmp_path), want)
    scope = {}
    exec(text.python(), scope)  # noqa: S102 - the snippet the window copies
    assert np.array_equal(scope["x"], want)


def test_a_data_start_and_a_condition_are_named_by_their_source(tmp_path):
    from kgn_gui.core.chain.lab import condition_of
    from kgn_gui.core.data.sources import open_source

    ck = api.load(MODEL).checkpoint
    cond = condition_of("data:mnist:test#5", "top", ck.spec.shape, ck.value_range, open_source=open_source)
    run = api.sample(MODEL, n=3, steps=4, seed=1, start="data:mnist:test#3", sigma=0.1, condition=cond)
    assert run.start.source == "mnist:test#3"
    text = run_text(MODEL, run.start, run._session.sampler_changes(), run._session.lab, 4)
    cmd = text.command()
    assert "--start 'data:mnist:test#3' --sigma 0.1" in cmd and "--condition 'data:mnist:test#5' --known top" in cmd
    assert np.array_equal(_replay(cmd, tmp_path), run.state(4))
    scope = {}
    exec(text.python(), scope)  # noqa: S102
    assert np.array_equal(scope["x"], run.state(4))


def test_what_has_no_text_form_is_refused_in_one_line():
    start = Start("uniform", n=2, seed=0)
    paper = [(0, Sampler.PAPER)]
    with pytest.raises(CodeError, match="save the model first"):
        run_text(None, start, paper, Lab(), 5)
    painted = Start("painted", n=2, seed=0, array=np.zeros(784, np.float32))
    with pytest.raises(CodeError, match="painted start has no text form: save a run bundle"):
        run_text(MODEL, painted, paper, Lab(), 5)
    with pytest.raises(CodeError, match="STEP ≥ 1"):
        parse_sampler_from("0:paper")
    with pytest.raises(CodeError, match="not JSON"):
        parse_edits("[{")
    with pytest.raises(LabError, match="unknown fields"):
        parse_edits('[{"t": 1, "kind": "brush", "rows": [0], "x": 1}]')
    assert parse_sampler_from("40:noise=uniform,eps=0.05") == (40, Sampler("uniform", 0.05))
    # edits after the shown step are not part of what it shows
    lab = Lab(None, [Edit(t=9, kind="erase", rows=(0,), pixels=(1, 2))])
    assert run_text(MODEL, start, paper, lab, 5).edits == ()
