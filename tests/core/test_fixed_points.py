"""core.measure.fixed_points: Newton finds every root of f(x) − x near its start, attracting or not, and
classifies it by J_f's spectrum — on a map whose roots and Jacobians are known exactly."""

import numpy as np
import pytest
import torch
from torch import nn

from kgn_gui.core.measure.fixed_points import MAX_D, classify, distinct, fixed_point_census, newton_roots

ROOTS = (-0.5, 0.0, 0.5)


class Cubic(nn.Module):
    """f(x)_i = x_i − (x_i + ½) x_i (x_i − ½): in each coordinate fixed at −½, 0, ½ with f' = ½, 5/4, ½;
    in 2-D its 9 roots are 4 attracting (±½, ±½), 1 repelling (0, 0) and 4 saddles."""

    def forward(self, x):
        return x - (x + 0.5) * x * (x - 0.5)


def slope(x):
    return 1 - (3 * x**2 - 0.25)


def test_classify_by_the_moduli_of_the_eigenvalues():
    assert classify([0.5, -0.9, 0.3 + 0.4j]) == "attracting"
    assert classify([1.5, -2.0, 1.1j]) == "repelling"
    assert classify([0.5, 1.5]) == "saddle"
    assert classify([1.0, 0.5]) == "saddle"  # marginal: not attracting


def test_the_census_of_a_map_with_known_roots_is_exact():
    g = np.array([[a, b] for a in ROOTS for b in ROOTS])
    train = np.concatenate([g + 0.04, g - 0.03])  # 18 examples, each nearest one root
    census = fixed_point_census(Cubic(), train, n=len(train), seed=0)
    s = census.summary()
    assert s["fixed_points_method"] == "newton-lm" and s["fixed_points_starts"] == 18
    assert s["fixed_points_converged"] == 18 and s["fixed_points_found"] == 9
    assert (s["fixed_points_attracting"], s["fixed_points_saddle"], s["fixed_points_repelling"]) == (4, 4, 1)
    assert np.abs(census.roots - np.round(census.roots * 2) / 2).max() < 1e-9  # each within 1e-9 of a root
    assert sorted(map(tuple, np.round(census.roots * 2) / 2 + 0.0)) == sorted(map(tuple, g))
    x = train[census.indices]
    rho = np.abs(slope(x)).max(1)  # J_f is diagonal: its eigenvalues are the slopes
    np.testing.assert_allclose(census.train_rho, rho, rtol=1e-12)
    np.testing.assert_allclose(
        census.train_residual, np.sqrt(np.mean((Cubic()(torch.tensor(x)) - torch.tensor(x)).numpy() ** 2, 1))
    )
    nearest = np.array(ROOTS)[np.abs(x[..., None] - np.array(ROOTS)).argmin(-1)]
    np.testing.assert_allclose(census.train_drift, np.sqrt(np.mean((nearest - x) ** 2, 1)), atol=1e-9)
    assert s["training_below_1"] == pytest.approx(float((rho < 1).mean()))
    assert np.isclose(s["training_rho_median"], np.median(rho))


def test_newton_reaches_a_repelling_root_that_iterating_f_runs_from():
    start = torch.tensor([[0.05, 0.06]], dtype=torch.float64)
    r = newton_roots(Cubic(), start.clone(), tol=1e-10)
    assert r.converged.all() and np.abs(r.x).max() < 1e-10 and r.steps[0] <= 8
    x = start.clone()
    for _ in range(200):
        x = Cubic()(x)
    assert np.allclose(x.numpy(), 0.5, atol=1e-6)  # iterating f goes to the attractor instead


def test_chain_ends_are_starts_too_and_roots_are_merged():
    train = np.array([[0.45, 0.45]])
    census = fixed_point_census(Cubic(), train, n=1, chain_ends=np.array([[0.5, 0.52], [0.01, -0.02]]))
    assert census.starts == 3 and census.converged == 3
    assert sorted(census.kinds) == ["attracting", "repelling"]  # (½, ½) reached twice: one root
    reps, labels = distinct(np.array([[0.0, 0.0], [1e-5, 0.0], [0.5, 0.5]]), 1e-3)
    assert len(reps) == 2 and labels.tolist() == [0, 0, 1]


def test_a_model_too_wide_for_exact_jacobians_says_so():
    census = fixed_point_census(nn.Identity(), np.zeros((3, MAX_D + 1), np.float32), n=2)
    s = census.summary()
    assert s["fixed_points_found"] == 0 and "need D ≤ 2,048" in s["fixed_points_note"]
    assert census.lines() == [f"fixed points: {s['fixed_points_note']}"]


def test_kgn_analyze_fixed_points_on_the_bundled_corners(tmp_path):
    """The 2-D corners model: its four training points are fixed points with ρ < 1 (every training example
    is one, residual ≈ 0), and Newton from them and from chain ends finds exactly those four roots."""
    import json

    from kgn_gui.cli import main

    out = tmp_path / "a.json"
    args = ["analyze", "models/2d-corners.safetensors", "-n", "16", "--steps", "50", "--fixed-points", "4"]
    assert main([*args, "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["fixed_points_method"] == "newton-lm" and got["fixed_points_starts"] == 8
    assert got["fixed_points_converged"] == 8 and got["fixed_points_found"] == 4
    assert (got["fixed_points_attracting"], got["fixed_points_saddle"], got["fixed_points_repelling"]) == (4, 0, 0)
    assert got["training_below_1"] == 1.0 and got["training_rho_median"] < 1
    assert got["training_residual_median"] < 1e-6 and got["training_drift_median"] < 1e-6
