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
