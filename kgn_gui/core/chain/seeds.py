"""The seeds of a chain, without torch: the start's and every step's noise come from (seed, …) words."""

from __future__ import annotations

import numpy as np

from ..errors import LabError

MAX_BRANCHES = 64


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


def branch_seeds(seed: int, step: int, chains, K: int) -> list[int]:
    """The noise seed of each row of chains branched K ways at ``step``: row j·K + k is branch k of
    ``chains[j]`` (a chain's index, or a count n for chains 0 … n − 1). A branch's seed depends only on
    (seed, step, chain, k), so the same branch is the same however many are made, in kgn and the window."""
    if not (isinstance(K, int) and 1 <= K <= MAX_BRANCHES):
        raise LabError(f"branches K must be in [1, {MAX_BRANCHES}], got {K!r}")
    chains = range(chains) if isinstance(chains, int) else chains
    return [_seed(seed, 3, step, int(i), k) for i in chains for k in range(K)]
