"""Measures with known answers (issue: measure the kaleidoscope)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from kgn_gui.core.chain import ChainConfig
from kgn_gui.core.checkpoint import load_checkpoint
from kgn_gui.core.data import point_preset
from kgn_gui.core.measures import (
    analyze_chain,
    attractor_audit,
    basin_recovery,
    burn_in,
    class_makeup,
    contraction,
    cycle_periods,
    frechet_distance,
    over_generalization,
    spectral_radius,
)
from kgn_gui.core.models import ModelSpec
from tests.conftest import MODELS


def linear_map(D: int, eigenvalues: np.ndarray, seed: int = 0) -> nn.Module:
    """f(x) = Q diag(λ) Qᵀ x: a linear map with known eigenvalues."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(D, D)))
    m = nn.Linear(D, D, bias=False)
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy((q * eigenvalues) @ q.T).float())
    return m


@pytest.mark.parametrize("D, exact_max_d", [(16, 1024), (1500, 1024)])  # exact eigenvalues; Arnoldi
def test_a_linear_contraction_has_its_scale_as_spectral_radius(D, exact_max_d):
    lam = np.random.default_rng(1).uniform(-0.3, 0.3, D)
    lam[0] = 0.7
    f = linear_map(D, lam)
    rho = spectral_radius(f, torch.rand(D), exact_max_d=exact_max_d)
    assert rho == pytest.approx(0.7, abs=2e-3)


def test_the_2d_corners_model_reaches_all_four_corners_and_they_attract():
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    pts = point_preset("2d-corners").x
    cfg = ChainConfig(n=400, noise="none", eps=0.0, seed=0, start="uniform")
    a = analyze_chain(ck.model, ck.spec, cfg, 200, pts, tol=1e-4, copy_tol=0.02)
    assert a.memo["distinct"] == 4 and a.memo["copy_fraction"] > 0.95
    assert a.converged > 0.95 and (a.periods == 1).mean() > 0.95 and a.burn_in is not None
    audit = attractor_audit(ck.model, ck.value_range, pts, n=4)
    assert audit.attractor_fraction == 1.0 and audit.drift.max() < 0.02
    assert basin_recovery(ck.model, ck.value_range, pts, [0.0, 0.05], n=4, T=100).tolist() == [1.0, 1.0]


def test_frechet_distance_of_a_set_with_itself_is_zero_and_a_shift_adds_its_square():
    f = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(f, f + 2.0) == pytest.approx(8 * 4.0, rel=1e-6)


class Flip(nn.Module):
    """f(x) = 1 − x on [0, 1]: every start but 0.5 is on a cycle of period 2."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return 1 - x


def test_a_cycle_of_period_two_is_found_as_period_two():
    spec = ModelSpec(D=1, L=1, H=4, bound="sigmoid", shape=(1,))
    cfg = ChainConfig(n=50, noise="none", eps=0.0, seed=0, start="uniform")
    a = analyze_chain(Flip(), spec, cfg, 30, np.array([[0.2], [0.8]], np.float32))
    assert (a.periods == 2).all() and a.converged == 0.0 and a.burn_in is None
    tail = np.array([[[0.0]], [[0.3]], [[0.6]], [[0.0]], [[0.3]], [[0.6]]])  # period 3
    assert cycle_periods(tail, tol=1e-6, k_max=4).tolist() == [3]


def test_burn_in_and_contraction_of_a_geometric_chain():
    s = 0.5 ** np.arange(20)[:, None] * np.ones((1, 3))
    assert burn_in(np.median(s, axis=1), 1e-3) == 10  # 0.5**10 < 1e-3 ≤ 0.5**9
    assert np.allclose(contraction(s), 0.5)


def test_class_makeup_entropy_is_relative_to_log_classes():
    one = np.eye(10)[np.zeros(40, int)]
    every = np.eye(10)[np.arange(40) % 10]
    assert class_makeup(one)["entropy"] == 0.0 and class_makeup(one)["confidence"] == 1.0
    assert class_makeup(every)["entropy"] == pytest.approx(1.0)
    half = np.eye(10)[np.arange(40) % 2]
    assert class_makeup(half)["entropy"] == pytest.approx(math.log(2) / math.log(10))


def test_over_generalization_of_the_corner_model_stays_in_the_training_box():
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    og = over_generalization(ck.model, ck.value_range, point_preset("2d-corners").x)
    assert og["train_min"] == pytest.approx(0.2) and og["train_max"] == pytest.approx(0.8)
    assert 0.0 <= og["saturated"] <= 1.0 and og["inside_training_range"] > 0.5
