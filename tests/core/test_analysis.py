"""core.measure.analysis.measure_states: stopped between its measures when asked."""

import numpy as np
import pytest

from kgn_gui.core.errors import Cancelled
from kgn_gui.core.measure.analysis import measure_states
from kgn_gui.core.model.checkpoint import load_checkpoint
from tests.conftest import MODELS


def test_measure_states_stops_when_cancelled():
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    x = np.full((8, 2), 0.5, np.float32)
    with pytest.raises(Cancelled):
        measure_states(ck.model, ck.spec, x, np.zeros((0, 8)), x, tol=0.01, cancelled=lambda: True)
    a = measure_states(ck.model, ck.spec, x, np.zeros((0, 8)), x, tol=0.01, cancelled=lambda: False)
    assert a.n == 8 and a.converged in (0.0, 1.0)


def test_the_feature_classifier_stops_between_batches_when_cancelled():
    """The Analysis dock's first measure spends ~7 s here (the real pool's features): a Play cancels it."""
    from kgn_gui.core.measure.classifier import bundled_classifier

    clf = bundled_classifier()
    x = np.zeros((3, 784), np.float32)
    calls = []
    with pytest.raises(Cancelled):
        clf.predict(x, batch=1, cancelled=lambda: calls.append(1) or len(calls) > 2)
    assert len(calls) == 3  # asked before each batch, stopped before the third
    probs, feats = clf.predict(x, batch=1, cancelled=lambda: False)
    assert probs.shape == (3, 10) and np.allclose(probs.sum(1), 1, atol=1e-5) and feats.shape == (3, 128)
