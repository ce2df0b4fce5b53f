import numpy as np
import pytest
import torch

from kgn_gui.core.chain.chain import ChainConfig
from kgn_gui.core.chain.curves import (
    ChainCurves,
    StepMetrics,
    band,
    measure_step,
    nearest_training,
    rms_distance,
    saturation_fraction,
    value_histogram,
)
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.session import ChainSession
from kgn_gui.core.data.sources import make_points, point_preset
from kgn_gui.core.model.architectures import ModelSpec, build_model


def test_nearest_training_matches_brute_force_across_chunks():
    g = torch.Generator().manual_seed(0)
    x, train = torch.rand(7, 5, generator=g), torch.rand(50, 5, generator=g)
    idx, d = nearest_training(x, train, chunk=8)
    brute = ((x[:, None] - train[None]) ** 2).mean(-1)
    assert torch.equal(idx, brute.argmin(1))
    assert torch.allclose(d, brute.min(1).values.sqrt(), atol=1e-5)


def test_rms_distance_band_saturation_histogram():
    a, b = torch.zeros(2, 4), torch.tensor([[1.0, 1, 1, 1], [2, 0, 0, 0]])
    assert rms_distance(a, b).tolist() == pytest.approx([1.0, 1.0])
    mean, p10, p90 = band(np.arange(101))
    assert (mean, p10, p90) == pytest.approx((50, 10, 90))
    assert saturation_fraction(np.array([-1, -0.9999, 0, 0.5, 1.0]), (-1, 1)) == pytest.approx(0.6)
    edges, dens = value_histogram(np.array([0.1, 0.1, 0.9, 0.6]), (0, 1), bins=10)
    assert len(edges) == 11 and (dens * 0.1).sum() == pytest.approx(1.0) and dens[1] == pytest.approx(5.0)


def test_chain_curves_grow_and_truncate():
    c = ChainCurves(track=2)
    for t in range(100):
        v = np.array([t, t + 1, t + 2], np.float32)
        c.append(StepMetrics(v, v * 2, v * 3, np.zeros(3, int)))
    t, mean, p10, p90 = c.arrays("residual")
    # residual at t = 10 is [20, 22, 24]: mean 22; linear-interpolated 10th and 90th percentiles 20.4, 23.6
    assert t.tolist() == list(range(100))
    assert (mean[10], p10[10], p90[10]) == pytest.approx((22.0, 20.4, 23.6))
    assert mean.tolist() == pytest.approx([2.0 * (k + 1) for k in range(100)])  # grown past 64 rows intact
    assert c.chain("nearest", 1).tolist()[:3] == [3.0, 6.0, 9.0]
    assert c.chain("nearest", 2).size == 0  # only the first `track` chains are kept per chain
    c.truncate(40)
    assert len(c) == 40 and c.at("step", 40) is None and c.at("step", 39) is not None


def test_measure_step_residual_is_zero_at_a_fixed_point():
    x = torch.tensor([[0.2], [0.8]])
    m = measure_step(x, x.clone(), x.clone(), torch.tensor([[0.2], [0.8]]))
    assert m.residual.tolist() == [0.0, 0.0] and m.step.tolist() == [0.0, 0.0]
    assert m.nearest.tolist() == pytest.approx([0.0, 0.0], abs=1e-3) and m.nearest_index.tolist() == [0, 1]


@pytest.fixture
def session():
    spec = ModelSpec(D=2, L=2, H=16, bound="sigmoid")
    model = build_model(spec, seed=0)
    return ChainSession(
        model,
        spec.shape,
        spec.value_range,
        ChainConfig(n=20, seed=1, sampler=Sampler(noise="normal", eps=0.05)),
        train=point_preset("2d-corners"),
    )


def test_session_records_curves_for_every_step_and_replays_exactly(session):
    session.advance(12)
    assert session.t_max == 12 and len(session.curves) == 12
    x5 = session.state(5).copy()
    session.state(12)
    assert np.array_equal(session.state(5), x5)
    j, d = session.nearest(0, 12)
    corners = point_preset("2d-corners").x
    assert d == pytest.approx(np.sqrt(((session.state(12)[0] - corners) ** 2).mean(1)).min(), rel=1e-5)


def test_session_noise_change_rebases_from_a_step(session):
    session.advance(10)
    x4 = session.state(4).copy()
    session.set_sampler(Sampler("none", 0.0), at=4)
    assert session.t_max == 4 and len(session.curves) == 4 and np.array_equal(session.state(4), x4)
    session.advance(6)
    x8 = session.state(8).copy()
    # Replaying through keyframes uses the noise-free map after step 4.
    model = session.model
    with torch.no_grad():
        y = torch.from_numpy(x4)
        for _ in range(4):
            y = model(y).clamp(0, 1)
    assert np.allclose(x8, y.numpy(), atol=1e-6)


def test_session_refuses_data_of_another_dimension():
    spec = ModelSpec(D=2, L=1, H=4, bound="sigmoid")
    with pytest.raises(ValueError):
        ChainSession(build_model(spec), spec.shape, spec.value_range, ChainConfig(n=2), train=make_points([[0.5]]))


def test_session_publishes_the_head_without_copying_each_step(session, monkeypatch):
    # The display path: advancing never copies a state to the host (the live curves take N values a step) (only keyframes are stored); the head is
    # read (on the CPU: viewed) when the display asks for it, and only the rows asked for.
    copies = {"n": 0}
    real_cpu = torch.Tensor.cpu

    def counting_cpu(self, *a, **k):
        copies["n"] += self.numel() >= 20 * 2  # a whole state (the per-chain curve values are smaller)
        return real_cpu(self, *a, **k)

    monkeypatch.setattr(torch.Tensor, "cpu", counting_cpu)
    session.timeline.K = 1000  # no keyframe falls inside this stretch
    session.advance(25)
    assert copies["n"] == 0
    head = session.state(session.t_max)
    assert np.shares_memory(head, session.timeline.head().numpy())
    assert session.state(session.t_max, rows=3).shape == (3, 2)
    assert session.state(10, rows=4).shape == (4, 2)


def test_the_fast_nearest_search_agrees_with_the_exact_one():
    from kgn_gui.core.chain.curves import NearestIndex
    from kgn_gui.core.data.mnist import load_mnist

    ref = torch.from_numpy(load_mnist("test", (-1.0, 1.0)).subset(2000, seed=1).x)
    x = torch.from_numpy(load_mnist("train", (-1.0, 1.0)).subset(256, seed=2).x)
    x = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    i0, d0 = nearest_training(x, ref)
    ni = NearestIndex(ref)
    i1, d1 = ni.search(x)
    assert (i1 == i0).float().mean() >= 0.98  # bfloat16 ranking, float32 distances (exact where fast is off)
    assert torch.all(d1 >= d0 - 1e-5) and float((d1 - d0).max()) < 0.02
    ni.fast = False
    i2, d2 = ni.search(x)
    assert torch.equal(i2, i0) and torch.allclose(d2, d0)
