"""The seeds of a chain, without torch: the start's and every step's noise come from (seed, …) words."""

from __future__ import annotations

import numpy as np


def _seed(*words: int) -> int:
    """A 63-bit seed from a tuple of non-negative integers (stable across platforms)."""
    s = np.random.SeedSequence([int(w) for w in words]).generate_state(2, np.uint32)
    return (int(s[0]) << 31) ^ int(s[1])


def step_seed(seed: int, t: int) -> int:
    """The seed of the noise added at step t (t ≥ 0 produces x_{t+1})."""
    return _seed(seed, 1, t)


def start_seed(seed: int) -> int:
    """The seed of the start states (``chain.start_states``)."""
    return _seed(seed, 0)
