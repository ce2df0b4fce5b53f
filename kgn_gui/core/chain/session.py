"""A chain session: one model's chains, their timeline and their live measures.

This is what the window's transport bar and the CLI drive. It bundles a :class:`Chain`
(the step map), a :class:`Timeline` (every step reached, by keyframes + replay) and
:class:`ChainCurves` (step size, residual and nearest-training distance for every step).
All public methods take a lock, so a worker thread may ``advance`` while the GUI thread
reads ``state(t)`` for scrubbing.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ..data.dataset import Dataset
from ..errors import ChainError, LabError
from .chain import Chain, ChainConfig, check_chain_memory, start_states
from .curves import ChainCurves, NearestIndex, measure_step, nearest_training
from .keyframes import open_store
from .lab import Condition, Edit, Lab, branch_seeds
from .sampler import Sampler
from .timeline import DEFAULT_BUDGET_BYTES, Timeline

_SEARCHER: ThreadPoolExecutor | None = None


def _searcher() -> ThreadPoolExecutor:
    """The one thread that searches the live curve's nearest rows ahead of every session (overlap_nearest)."""
    global _SEARCHER
    if _SEARCHER is None:
        _SEARCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgn-nearest")
    return _SEARCHER


# The least chain values (N·D) whose nearest search is worth a thread's hand-off each step: 64 MNIST chains
# (50,176) gain 3 ms a step; 1,024 chains of a points model (2,048) step in microseconds and would only wait.
OVERLAP_MIN_VALUES = 16_384
REFERENCE_SIZE = 2000  # training examples used for the live "nearest" curve (the inspector uses all)


@dataclass(frozen=True)
class History:
    """A session's settings at one moment: its config, its step maps from each step on, its condition, its
    edits by step (an undo step keeps two: before and after a change)."""

    config: ChainConfig
    segments: tuple
    condition: object
    edits: dict


class ChainSession:
    """N chains of ``model`` from ``config``; ``advance`` computes, ``state`` looks back."""

    def __init__(
        self,
        model: nn.Module,
        shape: tuple[int, ...],
        value_range: tuple[float, float],
        config: ChainConfig,
        *,
        start_array: np.ndarray | None = None,
        train: Dataset | None = None,
        keyframe_every: int = 10,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        track: int = 256,
        history_disk: bool = False,
        lab: Lab | None = None,
        row_seeds: list[int] | None = None,
        offset: int = 0,
        overlap_nearest: bool = False,
    ):
        config.validate()
        self.model = model.eval()
        self.shape = tuple(shape)
        self.D = int(np.prod(self.shape))
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.config = config
        self.device = next(model.parameters()).device
        self.lock = threading.RLock()
        self.train = train
        self._reference: NearestIndex | None = None
        self._train_t = None
        if train is not None:
            if train.D != self.D:
                raise ChainError(f"the model has D = {self.D} but {train.name} has D = {train.D}")
            ref = train.subset(REFERENCE_SIZE, seed=0)
            self._reference = NearestIndex(torch.from_numpy(ref.x).to(self.device))
        check_chain_memory(config.n, self.D, budget_bytes)  # before the start states are allocated
        # The lab (core.lab): a condition and live edits, read by every step map of this session; row_seeds and
        # offset: the rows of a branch (each its own noise) and the global step of its step 0.
        self.lab = lab if lab is not None else Lab()
        self.lab.check(config.n, self.D)
        self.row_seeds, self.offset = row_seeds, int(offset)
        self._start_array = start_array
        chain = self._chain(config)
        x0 = chain.begin(self._start())
        # history_disk: keyframes on disk in the user's cache folder (core.keyframes), so any step of a long
        # history is a short replay away; RAM only where that folder cannot be written or the tier is off.
        disk = open_store((config.n, self.D)) if history_disk else None
        self.timeline = Timeline(chain, x0, keyframe_every=keyframe_every, budget_bytes=budget_bytes, disk=disk)
        self.curves = ChainCurves(track=track)
        self._latest: tuple[int, torch.Tensor] | None = (0, self.timeline.head())
        # overlap_nearest: the live "nearest" curve searched in a thread of its own, beside the next step (on a
        # CPU with a core to spare: the window's chains; a GPU, a CLI run on every core or a small state gains
        # nothing)
        self._overlap = bool(overlap_nearest) and self.device.type == "cpu" and config.n * self.D >= OVERLAP_MIN_VALUES
        self._ahead: tuple[torch.Tensor, Future] | None = None

    def _chain(self, cfg: ChainConfig) -> Chain:
        return Chain.from_config(
            self.model, self.value_range, cfg, self.device, lab=self.lab, row_seeds=self.row_seeds, offset=self.offset
        )

    def _start(self) -> torch.Tensor:
        return start_states(
            self.config, self.D, self.value_range, shape=self.shape, start_array=self._start_array, device=self.device
        )

    @property
    def n(self) -> int:
        return self.config.n

    @property
    def t_max(self) -> int:
        return self.timeline.t_max

    def _observe(self, t, x, fx, nx) -> None:
        ahead, self._ahead = self._ahead, None
        near = ahead[1].result() if ahead is not None and ahead[0] is x else None  # (searched beside f(x_t))
        self.curves.append(measure_step(x, fx, nx, self._reference, near=near))
        if self._overlap and self._reference is not None:
            # x_{t+1}'s nearest training rows, searched on another core while the next step computes f(x_{t+1}):
            # the same numbers, found beside the step instead of after it (issue 31: 256 chains' step on a
            # CPU is f(x) ~18 ms and this search ~10 ms).
            self._ahead = (nx, _searcher().submit(self._reference.search, nx))

    def advance(self, n: int = 1) -> int:
        """Compute n more steps (with their measures); returns the new t_max."""
        for _ in range(n):
            with self.lock:
                self.timeline.advance(1, observer=self._observe)
                # Publish the newest state: readers of the head (the display) then never wait for the lock
                # while the next step computes. Only the reference is published — a step's output tensor is
                # never written again — so nothing is copied per step; the display copies (on a GPU) or views
                # (on the CPU) the chains it draws, when it draws them.
                self._latest = (self.timeline.t_max, self.timeline.head())
        return self.timeline.t_max

    def nearest_stored(self, t: int, wait_s: float = -1) -> tuple[int, np.ndarray] | None:
        """(k, x_k) for the latest stored step k ≤ t, without replaying: what to show while t is replayed.
        ``wait_s`` ≥ 0: wait at most that long for the lock (a replay may hold it), else None."""
        latest = self._latest
        if latest is not None and latest[0] == t:
            return t, latest[1].cpu().numpy()
        if not self.lock.acquire(timeout=wait_s):
            return None
        try:
            return self.timeline.nearest(t)
        finally:
            self.lock.release()

    def ready(self, t: int) -> bool:
        """Whether ``state(t)`` answers at once (no replay from a keyframe)."""
        latest = self._latest
        return (latest is not None and latest[0] == t) or self.timeline.has(t)

    def state(self, t: int, rows: int | None = None) -> np.ndarray:
        """x_t (N×D float32) for any reached step, or its first ``rows`` chains (do not modify it)."""
        latest = self._latest
        if latest is not None and latest[0] == t:
            x = latest[1] if rows is None else latest[1][:rows]
            return x.cpu().numpy()
        with self.lock:
            x = self.timeline.state(t)
        return x if rows is None else x[:rows]

    def set_sampler(self, sampler: Sampler, at: int | None = None) -> None:
        """Step with ``sampler`` (core.sampler) from step ``at`` (default: the head) on; later steps and their
        edits are forgotten. Raises ChainError (nothing changed) for what is not a Sampler."""
        with self.lock:
            t = self.t_max if at is None else int(at)
            cfg = replace(self.config, sampler=sampler)
            chain = self._chain(cfg)  # checks the sampler before anything changes
            self.config = cfg
            self._latest = self._ahead = None  # (a search ahead is of the state it replaces)
            self.timeline.rebase(t, chain)
            self.lab.drop_after(t + self.offset)  # edits are keyed by global step
            self.curves.truncate(t)

    def sampler_changes(self) -> list[tuple[int, Sampler]]:
        """(step, sampler) of every stretch of the history: the sampler that steps x_t on from each step t."""
        with self.lock:
            return [(t, ch.sampler) for t, ch in self.timeline.segments]

    def add_edit(self, edit: Edit) -> None:
        """Record a live edit at its step t ≤ t_max (core.chain.lab.Edit): x_t becomes the edited state and the steps
        after t, with their edits, are forgotten (the chain goes on from the edit)."""
        with self.lock:
            t = int(edit.t) - self.offset
            if not 0 <= t <= self.t_max:
                raise ChainError(f"an edit at step {edit.t} lies outside the steps reached (0 … {self.t_max})")
            edit.check(self.n, self.D)
            kept = Lab(None, [e for e in self.lab.all_edits() if e.t <= edit.t] + [edit])  # raises before any change
            self._latest = self._ahead = None  # (a search ahead is of the state it replaces)
            self.lab.edits = kept.edits
            self._redo(t)

    def set_condition(self, condition: Condition | None) -> None:
        """Condition the chains (or stop conditioning them) from the start: the whole history is recomputed
        lazily from the conditioned start (the edits stay)."""
        with self.lock:
            if condition is not None:
                try:
                    Lab(condition).check(self.n, self.D)
                except LabError as e:
                    raise ChainError(str(e)) from None
            self.lab.condition = condition
            self._latest = self._ahead = None  # (a search ahead is of the state it replaces)
            self._redo(0)

    def history(self) -> History:
        """What a change (a sampler, an edit, a condition) replaces: :meth:`restore` puts it back."""
        with self.lock:
            edits = {k: list(v) for k, v in self.lab.edits.items()}
            return History(self.config, tuple(self.timeline.segments), self.lab.condition, edits)

    def restore(self, h: History, t: int) -> None:
        """Undo (or redo) a change made at step ``t`` (0 for a condition): the step maps, the sampler, the
        condition and the edits of ``h`` (:meth:`history` before or after it), and x_t onwards recomputed —
        exactly the steps the history had (the edits after t come back with their steps)."""
        with self.lock:
            t = min(max(0, int(t)), self.t_max)
            self.config = h.config
            self.timeline.segments = list(h.segments)
            self.timeline.chain = h.segments[-1][1]
            self.lab.condition = h.condition
            self.lab.edits = {k: list(v) for k, v in h.edits.items()}
            self._latest = self._ahead = None  # (a search ahead is of the state it replaces)
            self._redo(t)

    def _redo(self, t: int) -> None:
        """Recompute x_t from x_{t-1} (or the start) with the lab as it is now; forget the steps after it."""
        if t == 0:
            self.timeline.restart(self.timeline.segments[0][1].begin(self._start()))
            self.curves.truncate(0)
        else:
            self.timeline.truncate(t - 1)
            self.curves.truncate(t - 1)
            self.timeline.advance(1, observer=self._observe)
        self._latest = (self.timeline.t_max, self.timeline.head())

    def branch(self, t: int, rows: list[int] | None, K: int, **kw) -> ChainSession:
        """K continuations of chains ``rows`` (default: all) from step t that differ only in their noise seeds:
        a new session of len(rows)·K chains (row i·K + k: chain rows[i], branch k) whose step 0 is global
        step t (``offset``), with this session's model, settings and lab. kw: ChainSession options."""
        with self.lock:
            x = self.state(t)
        rows = list(range(self.n)) if rows is None else [int(r) for r in rows]
        if not rows or min(rows) < 0 or max(rows) >= self.n:
            raise ChainError(f"branch chains must be in 0 … {self.n - 1}")
        x0 = np.repeat(x[rows], K, axis=0)
        ch = self.timeline.chain_at(t)  # the settings that step x_t on, not only the latest ones
        cfg = replace(self.config, n=len(rows) * K, start="array", sigma=0.0, mask=0, sampler=ch.sampler)
        seeds = branch_seeds(self.config.seed, t + self.offset, rows, K)
        # The branch's lab: the same condition (a per-chain one: each branch keeps its chain's known image), no
        # edits (they belong to the timeline it left).
        cond = self.lab.condition
        if cond is not None and cond.rows is not None:
            cond = Condition(np.repeat(cond.known[rows], K, axis=0), cond.mask, source=cond.source, region=cond.region)
        return ChainSession(
            self.model, self.shape, self.value_range, cfg, start_array=x0, train=self.train,
            lab=Lab(cond), row_seeds=seeds, offset=t + self.offset, **kw,
        )  # fmt: skip

    def truncate(self, t: int) -> None:
        with self.lock:
            self._latest = self._ahead = None  # (a search ahead is of the state it replaces)
            self.timeline.truncate(t)
            self.curves.truncate(t)

    def nearest(self, i: int, t: int) -> tuple[int, float]:
        """Chain i's nearest training example at step t over the whole training set: (index, ‖·‖/√D)."""
        if self.train is None:
            raise ChainError("no training data is attached to this session")
        x = torch.from_numpy(self.state(t)[i : i + 1].copy())
        train = self.train_tensor()
        j = int(nearest_training(x, train)[0][0])
        return j, float((x[0] - train[j]).pow(2).mean().sqrt())  # exact, not the expanded form

    def train_tensor(self) -> torch.Tensor:
        if self._train_t is None:
            self._train_t = torch.from_numpy(self.train.x)
        return self._train_t
