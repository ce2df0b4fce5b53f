import numpy as np
import pytest
import torch
from torch import nn

from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.picture.points import (
    basin_map,
    basin_occupancy,
    cobweb,
    flat_regions,
    grid_2d,
    loss_landscape,
    loss_manifold,
    output_manifold,
    vector_field,
)
from tests.conftest import MODELS


class SnapToCorners(nn.Module):
    """A hand-made map: each coordinate moves halfway to 0.2 or 0.8, whichever is nearer (0.5 goes to 0.8)."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        target = torch.where(x < 0.5, torch.full_like(x, 0.2), torch.full_like(x, 0.8))
        return x + 0.5 * (target - x) + self.p


CORNERS = np.array([[0.2, 0.2], [0.2, 0.8], [0.8, 0.2], [0.8, 0.8]], np.float32)


def test_vector_field_has_the_grid_shape_and_the_map_values():
    P, V = vector_field(SnapToCorners(), (0.0, 1.0), n=5)
    assert P.shape == (25, 2) and V.shape == (25, 2)
    # grid point (x=0.25, y=0) is P[0*5+1]: moves halfway to (0.2, 0.2)
    assert np.allclose(P[1], [0.25, 0.0]) and np.allclose(V[1], [-0.025, 0.1])


def test_basin_map_on_a_hand_made_map():
    b = basin_map(SnapToCorners(), CORNERS, (0.0, 1.0), n=11, steps=30)
    assert b.shape == (11, 11)
    xs = np.linspace(0, 1, 11)
    for i, y in enumerate(xs):
        for j, x in enumerate(xs):
            expect = (2 if x >= 0.5 else 0) + (1 if y >= 0.5 else 0)
            assert b[i, j] == expect, (x, y)
    occ = basin_occupancy(b, 4)
    # 5 of the 11 grid values lie below 0.5 and 6 at or above it, on each axis.
    assert occ.tolist() == pytest.approx([25 / 121, 30 / 121, 30 / 121, 36 / 121, 0.0])
    # Too few steps to get within tolerance: no basin.
    assert (basin_map(SnapToCorners(), CORNERS, (0.0, 1.0), n=11, steps=1, tol=1e-3)[0, 0]) == -1


def test_loss_landscape_is_zero_at_the_fixed_points():
    L = loss_landscape(SnapToCorners(), (0.0, 1.0), n=11)
    xs, ys, _ = grid_2d((0.0, 1.0), 11)
    j = int(np.argmin(np.abs(xs - 0.2)))
    assert L.shape == (11, 11) and L[j, j] == pytest.approx(0.0, abs=1e-10)
    # ‖f(x) − x‖² in closed form: each coordinate moves half of its way to 0.2 or 0.8, indexed [y, x].
    half = lambda v: 0.5 * (np.where(v < 0.5, 0.2, 0.8) - v)  # noqa: E731
    want = half(ys)[:, None] ** 2 + half(xs)[None, :] ** 2
    assert np.allclose(L, want, rtol=0, atol=1e-6)
    assert L[0, 10] == pytest.approx(2 * 0.1**2)  # (x, y) = (1, 0): moves by (−0.1, 0.1)


def test_1d_sigmoid_model_is_many_to_one_with_flat_regions_around_the_points():
    ck = load_checkpoint(MODELS / "1d-sigmoid.safetensors")
    x, fx = output_manifold(ck.model, (0.0, 1.0))
    flats = flat_regions(x, fx)
    assert any(a <= 0.2 <= b for a, b in flats)  # a flat (many-to-one) region around 0.2
    slope = np.gradient(fx, x)
    for p in (0.2, 0.8):  # both training points are fixed points with |f'| < 1: attractors
        i = int(np.argmin(np.abs(x - p)))
        assert fx[i] == pytest.approx(p, abs=1e-3) and abs(slope[i]) < 1
    _, loss = loss_manifold(ck.model, (0.0, 1.0))
    assert loss[np.argmin(np.abs(x - 0.2))] < 1e-6
    path = cobweb(ck.model, 0.45, 10, (0.0, 1.0))
    assert path.shape == (21, 2) and min(abs(path[-1, 0] - 0.2), abs(path[-1, 0] - 0.8)) < 0.01


def test_2d_corners_model_reaches_every_corner():
    """The paper's 2-D experiment: every corner's basin is non-empty."""
    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    b = basin_map(ck.model, CORNERS, (0.0, 1.0), n=41, steps=30)
    occ = basin_occupancy(b, 4)
    assert (occ[:4] > 0).all()
