import os

import numpy as np
import pytest
import torch
from torch import nn

from kgn_gui.core.chain.chain import Chain, ChainConfig, run_chain, start_states, step_noise
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.errors import ChainError
from kgn_gui.core.model.architectures import ModelSpec, build_model


class Halve(nn.Module):
    """f(x) = x / 2 + 0.25: a contraction with fixed point 0.5 (a hand-made map with a known answer)."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x / 2 + 0.25 + self.p


class Still(Halve):
    """f(x) = x: an identity-like map (a new tensor each call)."""

    def forward(self, x):
        return x + self.p


def test_noise_free_chain_is_the_plain_recursion():
    chain = Chain(Halve(), (0.0, 1.0), Sampler(noise="none"))
    x = torch.tensor([[0.0], [1.0]])
    x3 = chain.advance(x, 0, 3)
    expect = torch.tensor([[0.5 - 0.5 / 8], [0.5 + 0.5 / 8]])
    assert torch.allclose(x3, expect)
    # f(x) = x (+ a zero parameter): every state is a fixed point, and a noise-free chain stays put exactly.
    x0 = torch.rand(5, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(Chain(Still(), (0.0, 1.0), Sampler(noise="none")).advance(x0, 0, 10), x0)
    # and ε = 0 is noise-free whatever the kind
    assert torch.equal(Chain(Halve(), (0.0, 1.0), Sampler(noise="normal", eps=0.0)).advance(x, 0, 3), x3)


def test_step_clamps_to_the_range():
    chain = Chain(Halve(), (0.0, 1.0), Sampler(noise="uniform", eps=10.0), seed=0)
    x = chain.step(torch.full((500, 3), 0.5), 0)
    # f(0.5) = 0.5, plus 10·U(−0.5, 0.5): clamped to 0 below, 1 above (about 45 % each), unchanged between.
    raw = 0.5 + 10.0 * step_noise("uniform", (500, 3), (0.0, 1.0), 0, 0, torch.device("cpu"))
    assert torch.allclose(x, raw.clamp(0.0, 1.0), atol=1e-6)
    assert torch.equal(x == 0, raw <= 0) and torch.equal(x == 1, raw >= 1)
    assert 0.4 < (x == 0).float().mean() < 0.5 and 0.4 < (x == 1).float().mean() < 0.5


def test_chain_is_deterministic_in_seed_and_step():
    m = build_model(ModelSpec(D=16, L=2, H=32, bound="tanh"), seed=0)
    a = Chain(m, (-1.0, 1.0), Sampler("normal", 0.05), seed=7)
    b = Chain(m, (-1.0, 1.0), Sampler("normal", 0.05), seed=7)
    c = Chain(m, (-1.0, 1.0), Sampler("normal", 0.05), seed=8)
    x0 = torch.rand(10, 16) * 2 - 1
    assert torch.equal(a.advance(x0, 0, 5), b.advance(x0, 0, 5))
    assert not torch.equal(a.advance(x0, 0, 5), c.advance(x0, 0, 5))
    # x_5 from x_2 equals the run from x_0: noise depends on (seed, t) only.
    x2 = a.advance(x0, 0, 2)
    assert torch.equal(a.advance(x2, 2, 5), a.advance(x0, 0, 5))


@pytest.mark.parametrize("vr", [(0.0, 1.0), (-1.0, 1.0)])
def test_noise_kinds_have_the_documented_distributions(vr):
    lo, hi = vr
    r = (hi - lo) / 2
    dev = torch.device("cpu")
    shape = (200, 500)
    n = step_noise("normal", shape, vr, 0, 3, dev)
    assert abs(n.mean()) < 0.01 * r and n.std() == pytest.approx(r, rel=0.02)
    u = step_noise("uniform", shape, vr, 0, 3, dev)
    assert u.min() >= -r and u.max() <= r and abs(u.mean()) < 0.01 * r
    ref = step_noise("reference", shape, vr, 0, 3, dev)
    # The published code's uniform noise: (hi − lo)·U[0, 1) + hi, always ≥ hi.
    assert ref.min() >= hi and ref.max() <= 2 * hi - lo
    assert ref.mean() == pytest.approx((hi + 2 * hi - lo) / 2, rel=0.01)
    refn = step_noise("reference-normal", shape, vr, 0, 3, dev)
    mean, std = (0.5, 0.5) if vr == (0.0, 1.0) else (0.0, 1.0)
    assert refn.mean() == pytest.approx(mean, abs=0.01) and refn.std() == pytest.approx(std, rel=0.02)
    assert step_noise("none", shape, vr, 0, 3, dev) is None
    assert torch.equal(step_noise("normal", shape, vr, 0, 3, dev), n)
    assert not torch.equal(step_noise("normal", shape, vr, 0, 4, dev), n)


def test_reference_mode_drifts_upward_before_the_clamp():
    chain = Chain(Halve(), (0.0, 1.0), Sampler(noise="reference", eps=0.1), seed=0)
    x = chain.advance(torch.full((100, 1), 0.5), 0, 20)
    # fixed point of x/2+0.25 is 0.5; the always-positive noise, 0.1·n with n in [1, 2), moves the fixed
    # point of every step into [0.7, 0.9): after 20 halvings every chain is there (to 0.2·2⁻²⁰).
    assert x.min() >= 0.7 - 1e-6 and x.max() < 0.9
    y = torch.full((100, 1), 0.5)
    for t in range(20):
        n = step_noise("reference", (100, 1), (0.0, 1.0), 0, t, torch.device("cpu"))
        assert n.min() >= 1.0 and n.max() < 2.0
        y = (y / 2 + 0.25 + 0.1 * n).clamp(0.0, 1.0)
    assert torch.allclose(x, y, atol=1e-6)


def test_starts():
    vr = (0.0, 1.0)
    u = start_states(ChainConfig(n=1000, start="uniform", seed=1), 10, vr)
    assert u.shape == (1000, 10) and u.min() >= 0 and u.max() <= 1 and u.mean() == pytest.approx(0.5, abs=0.01)
    n = start_states(ChainConfig(n=1000, start="normal", seed=1), 10, vr)
    # N(0.5, 0.5) clipped to [0, 1]: about 16% of values sit on each bound.
    assert (n == 0).float().mean() == pytest.approx(0.1587, abs=0.01)
    img = np.linspace(0, 1, 16, dtype=np.float32)
    a = start_states(ChainConfig(n=3, start="array"), 16, vr, start_array=img)
    assert torch.equal(a, torch.from_numpy(np.tile(img, (3, 1))))
    per = start_states(ChainConfig(n=2, start="array"), 16, vr, start_array=np.stack([img, 1 - img]))
    assert torch.allclose(per[1], torch.from_numpy(1 - img))
    d = start_states(
        ChainConfig(n=4, start="data", sigma=0.0, mask=2, seed=0),
        16,
        vr,
        shape=(1, 4, 4),
        start_array=np.ones(16, np.float32),
    )
    assert ((d == 0).sum(dim=1) == 4).all()  # exactly one 2×2 square per chain set to lo
    # σ: Gaussian corruption of standard deviation σ, then the clamp. On a range wide enough that nothing is
    # clamped it is N(0, σ²) exactly; on [0, 1] it is the same draws (same seed) added to 0.5 and clamped.
    wide = start_states(
        ChainConfig(n=1000, start="data", sigma=0.3, seed=0), 16, (-10.0, 10.0), start_array=np.zeros(16, np.float32)
    )
    assert float(wide.mean()) == pytest.approx(0.0, abs=0.015) and float(wide.std()) == pytest.approx(0.3, rel=0.03)
    g = start_states(
        ChainConfig(n=1000, start="data", sigma=0.3, seed=0), 16, vr, start_array=np.full(16, 0.5, np.float32)
    )
    assert torch.allclose(g, (0.5 + wide).clamp(0.0, 1.0), atol=1e-6)
    assert (g == 0).float().mean() == pytest.approx(0.0478, abs=0.008)  # P(0.3·z < −0.5) = Φ(−5/3)


def test_bad_settings_are_refused():
    for cfg in (ChainConfig(n=0), ChainConfig(start="zeros"), ChainConfig(sampler="normal")):
        with pytest.raises(ChainError):
            cfg.validate()
    for bad in (dict(noise="pink"), dict(eps=-1), dict(eps=float("nan")), dict(damping=0), dict(eps=True)):
        with pytest.raises(ChainError):  # a Sampler is checked when made: one that exists can be used
            Sampler(**bad)
    with pytest.raises(ChainError):
        start_states(ChainConfig(start="array"), 4, (0, 1), start_array=np.zeros(5))


def test_run_chain_copies_only_kept_steps():
    spec = ModelSpec(D=4, L=1, H=4, bound="sigmoid")
    m = build_model(spec, seed=0)
    out = dict(run_chain(m, spec, ChainConfig(n=3), 5, keep={0, 2}))
    assert [t for t, x in out.items() if x is not None] == [0, 2, 5]  # kept steps and the last one
    assert out[0].shape == out[5].shape == (3, 4)
    full = dict(run_chain(m, spec, ChainConfig(n=3), 5))
    assert all(np.array_equal(out[t], full[t]) for t in (0, 2, 5))


def test_chains_that_do_not_fit_are_refused_before_allocating_with_what_fits():
    import time

    from kgn_gui.core.chain.chain import check_chain_memory
    from kgn_gui.core.chain.session import ChainSession
    from kgn_gui.core.errors import ChainError
    from kgn_gui.core.model.architectures import ModelSpec, build_model

    with pytest.raises(ChainError, match=r"history budget of 256 MB holds at most 28,532 chains"):
        check_chain_memory(2**20, 784, 256 << 20)
    with pytest.raises(ChainError, match=r"1.0 GB of memory is free: at most 68,478 chains fit"):
        check_chain_memory(500_000, 784, available=1 << 30)
    check_chain_memory(1024, 784, 256 << 20, available=1 << 30)  # fits: no error
    spec = ModelSpec(D=784, L=1, H=4, bound="tanh", shape=(1, 28, 28))
    t0 = time.perf_counter()
    with pytest.raises(ChainError, match="at most"):  # 3.3 GB of start states would be needed: refused first
        ChainSession(build_model(spec), spec.shape, spec.value_range, ChainConfig(n=2**20))
    assert time.perf_counter() - t0 < 5


def test_a_containers_memory_limit_counts_as_the_free_memory(tmp_path, monkeypatch):
    from kgn_gui.core.chain.chain import _cgroup_headroom, available_memory_bytes

    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.current").write_text(str(256 << 20))
    assert _cgroup_headroom(str(tmp_path)) == 768 << 20
    (tmp_path / "memory.max").write_text("max\n")
    assert _cgroup_headroom(str(tmp_path)) is None
    assert _cgroup_headroom(str(tmp_path / "none")) is None
    import kgn_gui.core.chain.chain as chain_mod

    monkeypatch.setattr(chain_mod, "_cgroup_headroom", lambda: 1 << 20)  # a container's limit: 1 MB left
    assert available_memory_bytes() == 1 << 20
    monkeypatch.setattr(chain_mod, "_cgroup_headroom", lambda: None)  # no limit: what the system has free
    if os.path.exists("/proc/meminfo"):
        with open("/proc/meminfo") as f:
            avail = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
        assert available_memory_bytes() == pytest.approx(avail, rel=0.2)  # read again: the system's use moves


def test_a_model_that_returns_its_input_never_changes_the_state_it_was_given():
    class Same(nn.Module):
        def forward(self, x):
            return x

    chain = Chain(Same(), (0.0, 1.0), Sampler(noise="uniform", eps=0.5), seed=0, device="cpu")
    x = torch.full((4, 3), 0.5)
    y = chain.step(x, 0)
    assert torch.equal(x, torch.full((4, 3), 0.5)) and not torch.equal(y, x)
