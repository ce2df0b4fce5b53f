"""The history of a chain, for scrubbing: keyframes plus deterministic replay.

Because x_{t+1} = step(x_t, t) is a pure function (see ``chain``), the timeline stores only
*keyframes* — x_t for every t that is a multiple of K — and recomputes any other step from
the keyframe before it. Memory is bounded by ``budget_bytes``:

* keyframes take at most half the budget: when another keyframe would pass that, K doubles
  and every keyframe not on the new grid is dropped (so K adapts to long runs);
* a *segment cache* of the states most recently replayed (at most one keyframe interval, and at
  most the other half of the budget) makes stepping back and forth near the current step free.

The head (x at the furthest step reached) is always kept. With N chains of D values one state
takes 4·N·D bytes: for 256 MNIST chains that is 0.8 MB, so the default 256 MB budget keeps
~160 keyframes and ~160 cached states.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

from .chain import Chain

DEFAULT_BUDGET_BYTES = 256 << 20


class TimelineError(ValueError):
    """A timeline request that cannot be served."""


class Timeline:
    """States x_0 … x_{t_max} of one chain, reachable by :meth:`state`; extend with :meth:`advance`.

    chain: the step map. x0: the N×D start (tensor or array). keyframe_every: initial K (≥ 1).
    budget_bytes: the most memory the history may take, keyframes and cache together.
    """

    def __init__(self, chain: Chain, x0, keyframe_every: int = 10, budget_bytes: int = DEFAULT_BUDGET_BYTES):
        if keyframe_every < 1:
            raise TimelineError("keyframe interval must be ≥ 1")
        self.chain = chain
        # (first step, chain): the step map can change part-way (e.g. a new ε); steps t ≥ first use it.
        self.segments: list[tuple[int, Chain]] = [(0, chain)]
        x0 = torch.as_tensor(x0, dtype=torch.float32, device=chain.device).contiguous()
        if x0.ndim != 2:
            raise TimelineError("the start must be an N×D array")
        self.state_bytes = int(x0.numel()) * 4
        if 3 * self.state_bytes > budget_bytes:
            raise TimelineError(
                f"one state of {x0.shape[0]} chains takes {self.state_bytes / 2**20:.1f} MB; a history budget of "
                f"{budget_bytes / 2**20:.0f} MB fits at most {budget_bytes // (3 * x0.shape[1] * 4)} chains"
            )
        self.budget_bytes = int(budget_bytes)
        self.K = int(keyframe_every)
        self.keyframes: dict[int, np.ndarray] = {0: x0.cpu().numpy().copy()}
        self._head = x0
        self.t_max = 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    # -- sizes
    @property
    def n_chains(self) -> int:
        return int(self._head.shape[0])

    @property
    def memory_bytes(self) -> int:
        return (len(self.keyframes) + len(self._cache) + 1) * self.state_bytes

    def _max_keyframes(self) -> int:
        return max(2, (self.budget_bytes // 2) // self.state_bytes - 1)

    def _max_cache(self) -> int:
        return max(1, min(self.K + 1, (self.budget_bytes // 2) // self.state_bytes - 1))

    # -- growth
    def chain_at(self, t: int) -> Chain:
        """The step map that produces x_{t+1} from x_t."""
        for first, ch in reversed(self.segments):
            if t >= first:
                return ch
        return self.segments[0][1]

    def advance(self, n: int = 1, observer: Callable | None = None) -> torch.Tensor:
        """Compute n more steps; returns x at the new head (the head tensor itself, on the chain's device:
        nothing is copied to the host here, so a fast chain is never slowed by its display).

        observer(t, x_t, f(x_t), x_{t+1}), if given, sees every step (for live measures)."""
        x = self._head
        for _ in range(n):
            ch = self.chain_at(self.t_max)
            if observer is None:
                nx = ch.step(x, self.t_max)
            else:
                nx, fx = ch.step_with_f(x, self.t_max)
                observer(self.t_max, x, fx, nx)
            x = nx
            self.t_max += 1
            self._head = x
            if self.t_max % self.K == 0:
                self._add_keyframe(self.t_max, x)
        return x

    def rebase(self, t: int, chain: Chain) -> None:
        """Forget the steps after t and use ``chain`` from step t on (a new ε, noise or seed)."""
        self.truncate(t)
        self.segments = [(f, c) for f, c in self.segments if f < t] + [(t, chain)]
        self.chain = chain

    def head(self) -> torch.Tensor:
        """x at t_max, on the chain's device (not a copy: do not modify)."""
        return self._head

    def _add_keyframe(self, t: int, x: torch.Tensor) -> None:
        self.keyframes[t] = x.cpu().numpy().copy()
        while len(self.keyframes) > self._max_keyframes():
            self.K *= 2
            self.keyframes = {k: v for k, v in self.keyframes.items() if k % self.K == 0}
            while len(self._cache) > self._max_cache():
                self._cache.popitem(last=False)

    # -- lookup
    def has(self, t: int) -> bool:
        """Whether x_t is at hand without replaying (the head, a keyframe or a cached step)."""
        return t == self.t_max or t in self.keyframes or t in self._cache

    def state(self, t: int) -> np.ndarray:
        """x_t for 0 ≤ t ≤ t_max, as an N×D float32 array (do not modify it)."""
        if not 0 <= t <= self.t_max:
            raise TimelineError(f"step {t} has not been reached (0 … {self.t_max})")
        if t == self.t_max:
            return self._head.cpu().numpy()
        if t in self.keyframes:
            return self.keyframes[t]
        if t in self._cache:
            self._cache.move_to_end(t)
            return self._cache[t]
        k = max(kt for kt in self.keyframes if kt <= t)
        # Start from the latest cached state between the keyframe and t, if any.
        start_t = max((ct for ct in self._cache if k < ct < t), default=k)
        x = torch.from_numpy((self._cache if start_t != k else self.keyframes)[start_t]).to(self.chain.device)
        for s in range(start_t, t):
            x = self.chain_at(s).step(x, s)
            self._remember(s + 1, x)
        return self._cache[t]

    def _remember(self, t: int, x: torch.Tensor) -> None:
        if t in self.keyframes:
            return
        self._cache[t] = x.cpu().numpy().copy()
        self._cache.move_to_end(t)
        while len(self._cache) > self._max_cache():
            self._cache.popitem(last=False)

    def truncate(self, t: int) -> None:
        """Forget everything after step t (e.g. when the noise settings change at t)."""
        if not 0 <= t <= self.t_max:
            raise TimelineError(f"step {t} has not been reached")
        x = torch.from_numpy(self.state(t).copy()).to(self.chain.device)
        self.keyframes = {k: v for k, v in self.keyframes.items() if k <= t}
        self._cache = OrderedDict((k, v) for k, v in self._cache.items() if k <= t)
        self._head, self.t_max = x, t
        self.segments = [(f, c) for f, c in self.segments if f <= t] or self.segments[:1]
