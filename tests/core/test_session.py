"""ChainSession's live curves: searching the nearest training rows beside the step changes no number."""

import numpy as np

from kgn_gui.core.chain.chain import ChainConfig
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.session import ChainSession
from kgn_gui.core.data.sources import open_source
from kgn_gui.core.model.checkpoint import load_checkpoint
from tests.conftest import MODELS


def test_the_nearest_curve_searched_beside_the_step_is_the_same(tmp_path):
    """overlap_nearest (the window's chains) searches x_{t+1}'s nearest rows in another thread while the next
    step computes: every curve of every chain is the same, through a sampler change and an edit."""
    from kgn_gui.core.chain.lab import Edit

    ck = load_checkpoint(MODELS / "mnist.safetensors")
    train = open_source("mnist", ck.value_range).subset(500, seed=0)
    got = []
    for overlap in (False, True):
        s = ChainSession(ck.model, ck.spec.shape, ck.value_range, ChainConfig(n=24, seed=3, start="uniform", sampler=Sampler("normal", 0.01)), train=train,
                         overlap_nearest=overlap)  # fmt: skip
        s.advance(5)
        s.set_sampler(Sampler("normal", 0.05), at=3)
        s.advance(4)
        s.add_edit(Edit(t=6, kind="kick", rows=(1, 2), sigma=0.5, seed=1))
        s.advance(5)
        got.append({k: s.curves.chains(k).copy() for k in ("step", "residual", "nearest")})
        assert (s._ahead is not None) == overlap  # the head's search is under way beside the (next) step
    assert got[0]["nearest"].shape == (11, 24)
    for k in got[0]:
        np.testing.assert_array_equal(got[0][k], got[1][k])


def test_a_small_state_is_searched_in_its_own_step():
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    train = open_source("points:2d-corners", ck.value_range)
    s = ChainSession(ck.model, ck.spec.shape, ck.value_range, ChainConfig(n=1024, seed=0), train=train,
                     overlap_nearest=True)  # fmt: skip
    s.advance(3)
    assert s._ahead is None and s.curves.chains("nearest").shape == (3, 256)  # (the curves track 256 chains)
