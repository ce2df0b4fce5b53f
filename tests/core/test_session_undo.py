"""ChainSession.history / restore: undoing a sampler change, an edit or a condition gives back the exact
steps the chains had (the edits after the change come back too), and redoing gives the changed ones."""

import numpy as np

from kgn_gui.core.chain.chain import ChainConfig
from kgn_gui.core.chain.lab import Condition, Edit
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.session import ChainSession
from kgn_gui.core.model.checkpoint import load_checkpoint
from tests.conftest import MODELS


def _session():
    ck = load_checkpoint(MODELS / "mnist.safetensors")
    cfg = ChainConfig(n=4, seed=2, start="uniform", sampler=Sampler("normal", 0.02))
    return ChainSession(ck.model, ck.spec.shape, ck.value_range, cfg, keyframe_every=3)


def _states(s, t):
    if s.t_max < t:
        s.advance(t - s.t_max)
    return np.stack([s.state(k) for k in range(t + 1)])


def test_undo_and_redo_of_a_sampler_change_an_edit_and_a_condition_are_exact():
    s = _session()
    s.advance(4)
    s.add_edit(Edit(t=4, kind="kick", rows=(1,), sigma=0.5, seed=3))
    s.advance(6)  # to step 10, with the kick at step 4 and an erase at step 8
    s.add_edit(Edit(t=8, kind="erase", rows=(0, 2), pixels=tuple(range(200, 260))))
    before = _states(s, 12)
    h0 = s.history()
    s.set_sampler(Sampler("uniform", 0.1), at=6)  # drops the erase at step 8 and the steps after 6
    changed = _states(s, 12)
    assert np.array_equal(changed[:7], before[:7]) and not np.array_equal(changed[7:], before[7:])
    assert [e.t for e in s.lab.all_edits()] == [4]
    h1 = s.history()
    s.restore(h0, 6)  # undo
    assert [e.t for e in s.lab.all_edits()] == [4, 8] and s.config.sampler == Sampler("normal", 0.02)
    assert np.array_equal(_states(s, 12), before)
    s.restore(h1, 6)  # redo
    assert np.array_equal(_states(s, 12), changed)
    s.restore(h0, 6)

    s.add_edit(Edit(t=5, kind="brush", rows=(3,), pixels=tuple(range(300, 320)), value=1.0))  # x_5 itself changes
    brushed = _states(s, 12)
    assert not np.array_equal(brushed[5], before[5])
    h2 = s.history()
    s.restore(h0, 5)
    assert np.array_equal(_states(s, 12), before)
    s.restore(h2, 5)
    assert np.array_equal(_states(s, 12), brushed)

    s.restore(h0, 5)
    mask = np.zeros(784, bool)
    mask[:392] = True
    s.set_condition(Condition(np.zeros(784, np.float32), mask, source="test", region="top"))
    conditioned = _states(s, 12)
    assert not np.array_equal(conditioned[0], before[0])
    s.restore(h0, 0)
    assert s.lab.condition is None and np.array_equal(_states(s, 12), before)
