"""The history of a chain, for scrubbing: keyframes plus deterministic replay.

Because x_{t+1} = step(x_t, t) is a pure function (see ``chain``), the timeline stores only
*keyframes* — x_t for every t that is a multiple of K — and recomputes any other step from
the keyframe before it. Memory is bounded by ``budget_bytes``; where the keyframes live depends on
whether the timeline has a disk tier (``core.keyframes``):

* **RAM only** (no disk tier): keyframes take at most half the budget; when another keyframe would pass
  that, K doubles and every keyframe not on the new grid is dropped (so K adapts to long runs), and a jump
  replays up to K − 1 steps.
* **With a disk tier**: every keyframe goes to disk (raw float32, read back bit for bit), so K stays small
  until the disk budget fills (then it doubles the same way); RAM keeps an LRU of the keyframes used last
  (a quarter of the budget) and step 0. A jump reads one keyframe (about a millisecond) and replays < K steps.

In both, a *segment cache* of the states most recently replayed (at most the other half of the budget;
without a disk tier also at most one keyframe interval) makes stepping back and forth near a visited
step free. The head (x at the furthest step reached) is always kept. With N chains of D values one state
takes 4·N·D bytes: for 256 MNIST chains that is 0.8 MB.

A replayed step costs what the step map costs: states are kept as host arrays that share memory with the
step's own output (the step never writes into its input, so no copy is needed on the CPU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

from ..errors import TimelineError
from .chain import Chain
from .keyframes import DiskStore, StoreError

DEFAULT_BUDGET_BYTES = 300 << 20
DISK_KEYFRAME_EVERY = 6  # with a disk tier: a jump replays at most 5 steps until the disk budget fills


class Timeline:
    """States x_0 … x_{t_max} of one chain, reachable by :meth:`state`; extend with :meth:`advance`.

    chain: the step map. x0: the N×D start (tensor or array). keyframe_every: initial K (≥ 1; with a disk
    tier, at most DISK_KEYFRAME_EVERY). budget_bytes: the most RAM the history may take, keyframes and cache
    together. disk: a :class:`~kgn_gui.core.chain.keyframes.DiskStore` for the keyframes (the timeline owns it
    and closes it in :meth:`close`), or None for RAM only.
    """

    def __init__(
        self,
        chain: Chain,
        x0,
        keyframe_every: int = 10,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        disk: DiskStore | None = None,
    ):
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
        if disk is not None and tuple(disk.shape) != tuple(x0.shape):
            raise TimelineError(f"the disk tier holds states of {disk.shape}, not {tuple(x0.shape)}")
        self.disk = disk
        self.disk_error: str | None = None  # why the disk tier was given up, if it was
        self.K = int(min(keyframe_every, DISK_KEYFRAME_EVERY) if disk is not None else keyframe_every)
        self._host_is_free = x0.device.type == "cpu"
        self._begin(x0)

    def _begin(self, x0: torch.Tensor) -> None:
        """A history of one state, x0."""
        # RAM keyframes: all of them without a disk tier; with one, step 0 and an LRU of those used last.
        self.keyframes: OrderedDict[int, np.ndarray] = OrderedDict({0: _host(x0).copy()})
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        if self.disk is not None:
            self.disk.keep_only(lambda k: False)
            self._disk_put(0, self.keyframes[0])
        self._head, self.t_max = x0, 0

    # -- sizes
    @property
    def n_chains(self) -> int:
        return int(self._head.shape[0])

    @property
    def memory_bytes(self) -> int:
        """RAM the history takes: the head, the RAM keyframes and the replay cache."""
        return (len(self.keyframes) + len(self._cache) + 1) * self.state_bytes

    @property
    def disk_bytes(self) -> int:
        return self.disk.bytes_used if self.disk is not None else 0

    def _max_keyframes(self) -> int:
        share = 4 if self.disk is not None else 2
        return max(2, (self.budget_bytes // share) // self.state_bytes - 1)

    def _max_cache(self) -> int:
        room = max(1, (self.budget_bytes // 2) // self.state_bytes - 1)
        return room if self.disk is not None else min(self.K + 1, room)

    def close(self) -> None:
        """Remove the disk tier's file (the RAM history stays usable, RAM only)."""
        if self.disk is not None:
            self._drop_disk(None)

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
            elif self._host_is_free:
                # On the CPU a state is kept without a copy: the latest steps stay at hand for a look back
                # (the Points view's trails, a step back) without a replay.
                self._remember(self.t_max, x)
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
        a = _host(x)
        if self.disk is not None:
            if self.disk.full():
                self._thin(self.K * 2)
            if t % self.K == 0:
                self._disk_put(t, a)
            self._ram_keyframe(t, a)
            return
        self.keyframes[t] = a
        if len(self.keyframes) > self._max_keyframes():
            self._thin(self.K * 2)

    def restart(self, x0) -> None:
        """Forget every step and begin again from ``x0`` (a start edited at step 0); the step maps stay (a
        setting changed at step s still applies from s on)."""
        x0 = torch.as_tensor(x0, dtype=torch.float32, device=self.chain.device).contiguous()
        if tuple(x0.shape) != tuple(self._head.shape):
            raise TimelineError(f"a new start of shape {tuple(x0.shape)} for chains of {tuple(self._head.shape)}")
        self._begin(x0)

    def _thin(self, K: int) -> None:
        """Keyframes only every K steps (K doubles until they fit)."""
        while True:
            self.K = K
            self.keyframes = OrderedDict((k, v) for k, v in self.keyframes.items() if k % K == 0)
            if self.disk is not None:
                self.disk.keep_only(lambda k, K=K: k % K == 0)
                if not self.disk.full():
                    break
            elif len(self.keyframes) <= self._max_keyframes():
                break
            K *= 2
        while len(self._cache) > self._max_cache():
            self._cache.popitem(last=False)

    def _ram_keyframe(self, t: int, a: np.ndarray) -> None:
        """Keep a keyframe in RAM as the most recently used; the least recently used go (never step 0)."""
        self.keyframes[t] = a
        self.keyframes.move_to_end(t)
        while len(self.keyframes) > self._max_keyframes():
            old = next(iter(self.keyframes))
            if old == 0:
                self.keyframes.move_to_end(0)
                old = next(iter(self.keyframes))
            del self.keyframes[old]

    def _disk_put(self, t: int, a: np.ndarray) -> None:
        try:
            self.disk.put(t, a)
        except StoreError as e:
            self._drop_disk(str(e))

    def _drop_disk(self, why: str | None) -> None:
        """Give up the disk tier (a failed write or read, or close): RAM only from now on. Keyframes that
        were only on disk are gone, so some jumps replay from further back — still exactly."""
        disk, self.disk = self.disk, None
        self.disk_error = why
        if disk is not None:
            disk.close()
        if len(self.keyframes) > self._max_keyframes():
            self._thin(self.K * 2)  # doubles K until the RAM keyframes fit
        while len(self._cache) > self._max_cache():
            self._cache.popitem(last=False)

    # -- lookup
    def has(self, t: int) -> bool:
        """Whether x_t is at hand in RAM without replaying (the head, a RAM keyframe or a cached step)."""
        return t == self.t_max or t in self.keyframes or t in self._cache

    def stored_at_or_before(self, t: int) -> int:
        """The latest step ≤ t whose state is stored (RAM, cache or disk): what :meth:`nearest` returns and
        where a replay to t starts. Looks at most K steps back (the keyframe grid lies within them), then at
        the RAM keyframes (a thinned grid or a disk tier given up); step 0 is always kept."""
        disk = self.disk
        for s in range(t, max(-1, t - self.K), -1):
            if s in self._cache or s in self.keyframes or (disk is not None and s in disk):
                return s
        return max(k for k in self.keyframes if k <= t)

    def nearest(self, t: int) -> tuple[int, np.ndarray]:
        """(k, x_k) for the latest stored k ≤ t: fast (a RAM lookup or one disk read, no replay) — what a
        window shows while it replays to t."""
        if not 0 <= t <= self.t_max:
            raise TimelineError(f"step {t} has not been reached (0 … {self.t_max})")
        if t == self.t_max:
            return t, _host(self._head)
        k = self.stored_at_or_before(t)
        return k, self._stored(k)

    def _stored(self, k: int) -> np.ndarray:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        if k in self.keyframes:
            self.keyframes.move_to_end(k)
            return self.keyframes[k]
        try:
            a = self.disk.get(k)
        except StoreError as e:
            self._drop_disk(str(e))
            return self._stored(self.stored_at_or_before(k))
        self._ram_keyframe(k, a)
        return a

    def state(self, t: int) -> np.ndarray:
        """x_t for 0 ≤ t ≤ t_max, as an N×D float32 array (do not modify it)."""
        if not 0 <= t <= self.t_max:
            raise TimelineError(f"step {t} has not been reached (0 … {self.t_max})")
        if t == self.t_max:
            return _host(self._head)
        k, a = self.nearest(t)
        if k == t:
            return a
        x = torch.from_numpy(a).to(self.chain.device)
        for s in range(k, t):
            x = self.chain_at(s).step(x, s)
            self._remember(s + 1, x)
        return self._cache[t]

    def _remember(self, t: int, x: torch.Tensor) -> None:
        if t in self.keyframes:
            return
        self._cache[t] = _host(x)
        self._cache.move_to_end(t)
        while len(self._cache) > self._max_cache():
            self._cache.popitem(last=False)

    def truncate(self, t: int) -> None:
        """Forget everything after step t (e.g. when the noise settings change at t)."""
        if not 0 <= t <= self.t_max:
            raise TimelineError(f"step {t} has not been reached")
        x = torch.from_numpy(self.state(t).copy()).to(self.chain.device)
        self.keyframes = OrderedDict((k, v) for k, v in self.keyframes.items() if k <= t)
        self._cache = OrderedDict((k, v) for k, v in self._cache.items() if k <= t)
        if self.disk is not None:
            self.disk.keep_only(lambda k: k <= t)
        self._head, self.t_max = x, t
        # The step maps stay: a setting changed at a later step still applies there when the chain gets there
        # again (only rebase replaces them).


def _host(x: torch.Tensor) -> np.ndarray:
    """x as a host array. On the CPU it shares x's memory — no copy: a step never writes into its input and
    the timeline never writes into a state, so a stored state cannot change under it."""
    x = x.detach()
    return x.numpy() if x.device.type == "cpu" else x.cpu().numpy()
