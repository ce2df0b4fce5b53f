"""Measures with known answers (issue: measure the kaleidoscope)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from kgn_gui.core.chain.chain import ChainConfig
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.data.sources import point_preset
from kgn_gui.core.measure.analysis import analyze_chain
from kgn_gui.core.measure.distribution import class_makeup, frechet_distance
from kgn_gui.core.measure.dynamics import (
    attractor_audit,
    basin_recovery,
    burn_in,
    contraction,
    cycle_periods,
    over_generalization,
    spectral_radius,
)
from kgn_gui.core.model.architectures import ModelSpec
from kgn_gui.core.model.checkpoint import load_checkpoint
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
    cfg = ChainConfig(n=400, seed=0, start="uniform", sampler=Sampler(noise="none", eps=0.0))
    a = analyze_chain(ck.model, ck.spec, cfg, 200, pts, tol=1e-4, copy_tol=0.02)
    assert a.memo["distinct"] == 4 and a.burn_in is not None and a.residual_median[-1] < 1e-4
    assert a.memo["copy_fraction"] == 1.0 and a.memo["occupancy"].sum() == 400
    assert a.converged == 1.0 and (a.periods == 1).all()
    audit = attractor_audit(ck.model, ck.value_range, pts, n=4)
    # The corners are the model's fixed points (to float rounding), and ρ is the spectral radius of the
    # Jacobian there, here taken independently with torch.autograd.functional.
    assert audit.indices.tolist() == [0, 1, 2, 3] and audit.drift.max() < 1e-5 and audit.residual.max() < 1e-5
    rho = [
        float(
            np.abs(np.linalg.eigvals(torch.autograd.functional.jacobian(ck.model, torch.from_numpy(p)).numpy())).max()
        )
        for p in pts
    ]
    assert audit.rho == pytest.approx(rho, rel=1e-4)
    assert audit.attractor_fraction == 1.0 and audit.rho.max() < 1
    assert basin_recovery(ck.model, ck.value_range, pts, [0.0], n=4, T=100).tolist() == [1.0]


def test_basin_recovery_finds_the_corner_whose_basin_is_narrow():
    # Measured with 72 directions around each corner: the basins of (0.2, 0.2), (0.2, 0.8) and (0.8, 0.2)
    # hold every start up to 0.15 away, while (0.8, 0.8) loses starts from 0.02 away (0.078 below it ends
    # at (0.8, 0.2)). At σ = 0.03 a corrupted copy of the first three leaves a 0.15 disc with chance
    # exp(-12.5) per copy; 200 copies of the fourth at σ = 0.05 do not all come back.
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    pts = point_preset("2d-corners").x
    wide, narrow = np.repeat(pts[:3], 100, axis=0), np.repeat(pts[3:], 200, axis=0)
    assert basin_recovery(ck.model, ck.value_range, wide, [0.0, 0.03], n=300, T=100).tolist() == [1.0, 1.0]
    rate = basin_recovery(ck.model, ck.value_range, narrow, [0.0, 0.05], n=200, T=100)
    assert rate[0] == 1.0 and 0.2 < rate[1] < 0.9


def test_frechet_distance_of_a_set_with_itself_is_zero_and_a_shift_adds_its_square():
    f = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(f, f + 2.0) == pytest.approx(8 * 4.0, rel=1e-6)
    # a·f + b: means μ and aμ + b, covariances Σ and a²Σ, so d = ‖(1 − a)μ − b‖² + (1 − a)² tr Σ.
    b = np.linspace(-1, 1, 8)
    want = (((1 - 3.0) * f.mean(0) - b) ** 2).sum() + (1 - 3.0) ** 2 * np.trace(np.cov(f, rowvar=False))
    assert frechet_distance(f, 3.0 * f + b) == pytest.approx(want, rel=1e-9)
    # Two Gaussians with known moments (a sample whitened to mean 0 and covariance I exactly, then scaled by
    # s and shifted by μ): d = ‖μ‖² + Σᵢ (1 − sᵢ)².
    w = f - f.mean(0)
    w = w @ np.linalg.inv(np.linalg.cholesky(np.cov(w, rowvar=False))).T
    s, mu = np.array([0.5, 1, 2, 3, 1, 1, 0.1, 4]), np.arange(8.0)
    assert frechet_distance(w, w * s + mu) == pytest.approx((mu**2).sum() + ((1 - s) ** 2).sum(), rel=1e-9)
    assert frechet_distance(w * s + mu, w) == pytest.approx(frechet_distance(w, w * s + mu), rel=1e-12)


class Flip(nn.Module):
    """f(x) = 1 − x on [0, 1]: every start but 0.5 is on a cycle of period 2."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return 1 - x


def test_a_cycle_of_period_two_is_found_as_period_two():
    spec = ModelSpec(D=1, L=1, H=4, bound="sigmoid", shape=(1,))
    cfg = ChainConfig(n=50, seed=0, start="uniform", sampler=Sampler(noise="none", eps=0.0))
    a = analyze_chain(Flip(), spec, cfg, 30, np.array([[0.2], [0.8]], np.float32))
    # every chain but one started within tol of 0.5 (the fixed point) is on a 2-cycle
    assert (a.periods[a.final_residual >= a.tol] == 2).all() and a.summary()["cycles"] > 0.9
    assert a.converged < 0.1 and a.burn_in is None
    rot = Rotate3()  # a period-3 map: (a, b, c) → (b, c, a)
    x = np.array([[0.1, 0.5, 0.9], [0.5, 0.5, 0.5]], np.float32)
    assert cycle_periods(rot, x, (0.0, 1.0), tol=1e-6, k_max=4).tolist() == [3, 1]


class Rotate3(nn.Module):
    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.roll(x, -1, dims=1)


def test_burn_in_and_contraction_of_a_geometric_chain():
    s = 0.5 ** np.arange(20)[:, None] * np.ones((1, 3))
    assert burn_in(np.median(s, axis=1), 1e-3) == 10  # 0.5**10 < 1e-3 ≤ 0.5**9
    # burn-in is where the median stays below: a dip that leaves again does not count
    assert burn_in(np.array([0.5, 0.01, 0.5, 0.01, 0.01]), 0.05) == 3
    assert burn_in(np.array([0.5, 0.01, 0.5]), 0.05) is None and burn_in(np.array([0.01, 0.02]), 0.05) == 0
    assert np.allclose(contraction(s), 0.5)


def test_class_makeup_entropy_is_relative_to_log_classes():
    one = np.eye(10)[np.zeros(40, int)]
    every = np.eye(10)[np.arange(40) % 10]
    assert class_makeup(one)["entropy"] == 0.0 and class_makeup(one)["confidence"] == 1.0
    assert class_makeup(every)["entropy"] == pytest.approx(1.0)
    half = np.eye(10)[np.arange(40) % 2]
    assert class_makeup(half)["entropy"] == pytest.approx(math.log(2) / math.log(10))


class Constant(nn.Module):
    """f(x) = c everywhere (or, with ``step``, 0 below 0.5 and 1 above: every output on a bound)."""

    def __init__(self, c=0.5, step=False):
        super().__init__()
        self.c, self.step = c, step
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return (x > 0.5).float() if self.step else torch.full_like(x, self.c)


def test_over_generalization_counts_outputs_inside_the_training_box_and_on_the_bounds():
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    corners = point_preset("2d-corners").x
    og = over_generalization(ck.model, ck.value_range, corners)
    assert og["train_min"] == pytest.approx(0.2) and og["train_max"] == pytest.approx(0.8)
    assert og["saturated"] == 0.0 and 0.1 < og["output_min"] < og["output_max"] < 0.95  # sigmoid, not saturated
    # Hand-made maps with known answers: a constant inside the training box, and a step onto the bounds.
    inside = over_generalization(Constant(0.5), (0.0, 1.0), corners)
    assert (inside["inside_training_range"], inside["saturated"]) == (1.0, 0.0)
    assert inside["output_min"] == inside["output_max"] == 0.5
    assert over_generalization(Constant(0.8005), (0.0, 1.0), corners)["inside_training_range"] == 1.0  # within 1e-3
    assert over_generalization(Constant(0.85), (0.0, 1.0), corners)["inside_training_range"] == 0.0
    bounds = over_generalization(Constant(step=True), (0.0, 1.0), corners)
    assert (bounds["inside_training_range"], bounds["saturated"]) == (0.0, 1.0)
    assert (bounds["output_min"], bounds["output_max"]) == (0.0, 1.0)
