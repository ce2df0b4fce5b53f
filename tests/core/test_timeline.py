import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kgn_gui.core.chain.chain import Chain, ChainConfig, start_states
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.timeline import Timeline
from kgn_gui.core.errors import TimelineError
from kgn_gui.core.model.architectures import ModelSpec, build_model


@pytest.fixture
def chain():
    spec = ModelSpec(D=64, L=3, H=64, bound="tanh")
    return Chain(build_model(spec, seed=0), spec.value_range, Sampler("normal", 0.05), seed=3), spec


def test_replay_from_a_keyframe_equals_the_recorded_state_bit_for_bit(chain):
    ch, spec = chain
    x0 = start_states(ChainConfig(n=32, seed=1), spec.D, spec.value_range)
    recorded = [x0.numpy().copy()]
    x = x0
    for t in range(57):
        x = ch.step(x, t)
        recorded.append(x.numpy().copy())
    tl = Timeline(ch, x0, keyframe_every=10)
    tl.advance(57)
    for t in (57, 0, 10, 13, 56, 29, 1, 50, 12):
        assert np.array_equal(tl.state(t), recorded[t]), t


def test_memory_stays_within_the_budget_and_keyframes_thin_out(chain):
    ch, spec = chain
    x0 = torch.zeros(16, spec.D)
    state = 16 * spec.D * 4
    tl = Timeline(ch, x0, keyframe_every=1, budget_bytes=40 * state)
    for _ in range(500):
        tl.advance(1)
        assert tl.memory_bytes <= 40 * state
    # At most 40/2 − 1 = 19 keyframes: K doubles 1 → 2 → … while 500 // K + 1 > 19, i.e. up to K = 32.
    assert tl.K == 32 and sorted(tl.keyframes) == list(range(0, 500, 32))
    for t in (499, 1, 250, 251, 123):
        tl.state(t)
        assert tl.memory_bytes <= 40 * state


def test_a_budget_too_small_for_one_state_says_what_fits(chain):
    ch, spec = chain
    with pytest.raises(TimelineError, match="fits at most"):
        Timeline(ch, torch.zeros(1000, spec.D), budget_bytes=1000)


def test_unreached_steps_are_an_error_and_truncate_forgets(chain):
    ch, spec = chain
    tl = Timeline(ch, torch.zeros(4, spec.D), keyframe_every=4)
    tl.advance(10)
    with pytest.raises(TimelineError):
        tl.state(11)
    s5 = tl.state(5).copy()
    tl.truncate(5)
    assert tl.t_max == 5 and np.array_equal(tl.state(5), s5)
    assert sorted(tl.keyframes) == [0, 4]


@settings(max_examples=40, deadline=None)
@given(
    K=st.integers(1, 9),
    steps=st.integers(1, 40),
    budget_states=st.integers(4, 30),
    queries=st.lists(st.integers(0, 40), min_size=1, max_size=12),
)
def test_any_reached_step_replays_exactly_whatever_the_keyframe_interval_and_budget(K, steps, budget_states, queries):
    spec = ModelSpec(D=8, L=1, H=8, bound="sigmoid")
    ch = Chain(build_model(spec, seed=1), spec.value_range, Sampler("uniform", 0.1), seed=5)
    x = torch.full((3, 8), 0.5)
    recorded = [x.numpy().copy()]
    for t in range(steps):
        x = ch.step(x, t)
        recorded.append(x.numpy().copy())
    tl = Timeline(ch, torch.full((3, 8), 0.5), keyframe_every=K, budget_bytes=budget_states * 3 * 8 * 4)
    tl.advance(steps)
    for q in queries:
        if q <= steps:
            assert np.array_equal(tl.state(q), recorded[q])
        assert tl.memory_bytes <= budget_states * 3 * 8 * 4
