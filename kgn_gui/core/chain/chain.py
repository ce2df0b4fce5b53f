"""The kaleidoscopic chain: x_{t+1} = clamp(f(x_t) + ε·n_t, lo, hi).

N chains are an N×D state. The chain is a pure function of (model weights, start, noise
kind, ε, seed, t): the noise of step t comes from a generator seeded by (seed, t), so any
x_t can be recomputed from any stored earlier state (see ``timeline``).

Noise kinds (``n_t``), for a model with output range [lo, hi] and half-width r = (hi − lo)/2:

* ``none``: n = 0, the plain recursion f(f(…f(z)…));
* ``normal``: n ~ N(0, r²) per value (zero mean; r = 1 on [−1, 1], 0.5 on [0, 1]);
* ``uniform``: n ~ U(−r, r) per value (zero mean);
* ``reference``: the published code's uniform noise, n = (hi − lo)·U[0, 1) + hi, i.e.
  U[hi, 2hi − lo] — always positive, so every step drifts upward before the clamp;
* ``reference-normal``: the published code's normal noise, N(0.5, 0.5) on [0, 1] data and
  N(0, 1) on [−1, 1] data (biased on [0, 1]).

Starts: ``uniform`` on [lo, hi]; ``normal``, the paper's N(0.5, 0.5) on [0, 1] and N(0, 1)
on [−1, 1], clipped; ``array`` (one given state repeated, or one row per chain); ``data``
(a data-set image plus Gaussian corruption σ and/or a masked square, per chain).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ChainError
from .sampler import NOISE_KINDS, Sampler
from .seeds import _seed, branch_seeds, step_seed

__all__ = ["NOISE_KINDS", "Chain", "ChainConfig", "ChainError", "run_chain", "start_states", "step_seed"]
START_KINDS = ("uniform", "normal", "array", "data")
MAX_CHAINS = 1 << 20


def _cgroup_headroom(root: str = "/sys/fs/cgroup") -> int | None:
    """What a container's memory limit still allows (cgroup v2 memory.max − memory.current, or v1's
    limit − usage), or None when there is no limit."""
    for limit_f, usage_f in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        try:
            with open(os.path.join(root, limit_f)) as f:
                limit = f.read().strip()
            with open(os.path.join(root, usage_f)) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 1 << 60:
            return None
        return max(0, int(limit) - usage)
    return None


def available_memory_bytes() -> int:
    """Memory the system can give without swapping (MemAvailable, and no more than a container's memory limit
    leaves), or a large number when unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 1 << 50
    headroom = _cgroup_headroom()
    return avail if headroom is None else min(avail, headroom)


def _mb(b: float) -> str:
    return f"{b / 2**30:.1f} GB" if b >= 2**30 else f"{b / 2**20:.0f} MB"


def check_chain_memory(n: int, D: int, history_bytes: int | None = None, available: int | None = None) -> None:
    """Refuse, before anything is allocated, N chains of D values that would not fit: a step holds about
    four N×D float32 arrays (x, f(x), the noise, the next x), which must fit in 80 % of the available
    memory; a history of ``history_bytes`` must hold at least three states (a keyframe, the head, a cached
    step). The message says how many chains fit."""
    state = 4 * n * D
    if history_bytes is not None and 3 * state > history_bytes:
        fit = max(0, history_bytes // (3 * 4 * D))
        raise ChainError(
            f"{n:,} chains of {D:,} values take {_mb(state)} a step; the history budget of "
            f"{_mb(history_bytes)} holds at most {fit:,} chains"
        )
    avail = available_memory_bytes() if available is None else available
    if 4 * state > 0.8 * avail:
        fit = max(0, int(0.8 * avail) // (16 * D))
        raise ChainError(
            f"{n:,} chains of {D:,} values need about {_mb(4 * state)} to step, and {_mb(avail)} "
            f"of memory is free: at most {fit:,} chains fit"
        )


@dataclass
class ChainConfig:
    """n: number of chains. start: one of START_KINDS. sampler: how the chains step (core.sampler: noise kind,
    ε or its schedule, damping). seed: seeds the start and every step's noise. sigma: Gaussian corruption (std,
    in value units) of a ``data`` start. mask: side in pixels of a square set to ``lo`` at a random place on a
    ``data`` start.

    Files (run files, bundles, sample.json) hold it flat, the sampler's fields beside the others
    (:meth:`to_dict`, :meth:`from_dict`)."""

    n: int = 64
    start: str = "uniform"
    sampler: Sampler = Sampler.PAPER
    seed: int = 0
    sigma: float = 0.0
    mask: int = 0

    FILE_FIELDS = ("n", "start", "noise", "eps", "seed", "sigma", "mask", "schedule", "damping")

    def validate(self) -> None:
        if not isinstance(self.n, int) or not 1 <= self.n <= MAX_CHAINS:
            raise ChainError(f"number of chains must be in [1, {MAX_CHAINS}], got {self.n!r}")
        if self.start not in START_KINDS:
            raise ChainError(f"unknown start {self.start!r}; choose one of {', '.join(START_KINDS)}")
        if not isinstance(self.sampler, Sampler):
            raise ChainError(f"the sampler must be a Sampler, got {type(self.sampler).__name__}")
        if not (0.0 <= self.sigma <= 10.0):
            raise ChainError(f"σ must be in [0, 10], got {self.sigma}")
        if self.mask < 0:
            raise ChainError("mask size must be ≥ 0")
        if not 0 <= self.seed < 2**63:
            raise ChainError("seed must be in [0, 2^63)")

    def to_dict(self) -> dict:
        d = {"n": self.n, "start": self.start, **self.sampler.to_dict()}
        d.update(seed=self.seed, sigma=self.sigma, mask=self.mask)
        return {k: d[k] for k in self.FILE_FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> ChainConfig:
        """The config of a file's flat fields; unknown fields are an error (a damaged or foreign file)."""
        extra = sorted(set(d) - set(cls.FILE_FIELDS))
        if extra:
            raise ChainError(f"unknown chain settings: {', '.join(map(str, extra))[:100]}")
        plain = {k: d[k] for k in ("n", "start", "seed", "sigma", "mask") if k in d}
        return cls(**plain, sampler=Sampler.from_dict(d))


def _gen(seed: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device if device.type == "cuda" else "cpu")
    g.manual_seed(seed)
    return g


def _rand(shape, g, device, normal: bool) -> torch.Tensor:
    gd = g.device
    out = torch.randn(shape, generator=g, device=gd) if normal else torch.rand(shape, generator=g, device=gd)
    return out.to(device)


def step_noise(
    kind: str, shape: tuple[int, int], value_range: tuple[float, float], seed: int, t: int, device: torch.device
) -> torch.Tensor | None:
    """n_t of the given kind (see the module docstring), or None for ``none``."""
    lo, hi = value_range
    r = (hi - lo) / 2
    if kind == "none":
        return None
    g = _gen(step_seed(seed, t), device)
    if kind == "normal":
        return _rand(shape, g, device, True).mul_(r)
    if kind == "uniform":
        return _rand(shape, g, device, False).mul_(2 * r).sub_(r)
    if kind == "reference":
        return _rand(shape, g, device, False).mul_(hi - lo).add_(hi)
    if kind == "reference-normal":
        mean, std = (0.5, 0.5) if (lo, hi) == (0.0, 1.0) else ((lo + hi) / 2, r)
        return _rand(shape, g, device, True).mul_(std).add_(mean)
    raise ChainError(f"unknown noise {kind!r}")


def start_states(
    cfg: ChainConfig,
    D: int,
    value_range: tuple[float, float],
    *,
    shape: tuple[int, ...] | None = None,
    start_array: np.ndarray | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """x_0 as an N×D float32 tensor in [lo, hi]."""
    cfg.validate()
    check_chain_memory(cfg.n, D)
    device = torch.device(device)
    lo, hi = value_range
    N = cfg.n
    g = _gen(_seed(cfg.seed, 0), torch.device("cpu"))
    if cfg.start == "uniform":
        x = torch.rand((N, D), generator=g).mul_(hi - lo).add_(lo)
    elif cfg.start == "normal":
        mean, std = (lo + hi) / 2, (hi - lo) / 2
        x = torch.randn((N, D), generator=g).mul_(std).add_(mean).clamp_(lo, hi)
    else:
        if start_array is None:
            raise ChainError(f"a {cfg.start!r} start needs an array")
        a = np.asarray(start_array, dtype=np.float32)
        a = a.reshape(1, -1) if a.ndim != 2 or a.shape[1] != D else a
        if a.shape[1] != D:
            raise ChainError(f"the start has {a.shape[1]} values per chain but the model expects {D}")
        if not np.isfinite(a).all():
            raise ChainError("the start contains NaN or infinite values")
        x = torch.from_numpy(a[np.arange(N) % a.shape[0]].copy()).clamp_(lo, hi)
        if cfg.start == "data":
            if cfg.sigma > 0:
                x.add_(torch.randn((N, D), generator=g).mul_(cfg.sigma))
            if cfg.mask > 0:
                x = _mask_squares(x, cfg.mask, shape or (D,), lo, g)
            x.clamp_(lo, hi)
    return x.to(device=device, dtype=torch.float32).contiguous()


def _mask_squares(x: torch.Tensor, side: int, shape: tuple[int, ...], lo: float, g: torch.Generator) -> torch.Tensor:
    """Set a side×side square at a random place (one per chain) to ``lo``."""
    N = x.shape[0]
    if len(shape) != 3:
        raise ChainError("a masked-square corruption needs image data")
    C, H, W = shape
    side = min(side, H, W)
    img = x.view(N, C, H, W)
    ys = torch.randint(0, H - side + 1, (N,), generator=g)
    xs = torch.randint(0, W - side + 1, (N,), generator=g)
    for i in range(N):
        img[i, :, ys[i] : ys[i] + side, xs[i] : xs[i] + side] = lo
    return x


def _shares_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


class Chain:
    """The step map of a kaleidoscopic chain for one model and one noise setting.

    ``step(x, t)`` returns x_{t+1} from x_t: clamp(f(x_t) + ε·n_t, lo, hi) — or, with the lab's settings
    (core.lab), clamp((1 − α)·x_t + α·f(x_t) + ε(t)·n_t) followed by the edits of step t + 1 and the
    condition. It never keeps state, so a timeline can replay any stretch of steps.

    row_seeds: one noise seed per chain (branches: each row draws its own noise, so a branch does not depend
    on how many there are). offset: the global step of the chain's local step 0 (a branch started at step s
    steps its rows with t + s: the same noise seeds, schedule and edits as on the timeline it left).
    """

    def __init__(
        self,
        model: nn.Module,
        value_range: tuple[float, float],
        sampler: Sampler = Sampler.PAPER,
        seed: int = 0,
        device: torch.device | str | None = None,
        *,
        lab=None,
        row_seeds: list[int] | None = None,
        offset: int = 0,
    ):
        if not isinstance(sampler, Sampler):
            raise ChainError(f"the sampler must be a Sampler, got {type(sampler).__name__}")
        self.model = model.eval()
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.sampler, self.seed = sampler, int(seed)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.lab = lab
        self.row_seeds = None if row_seeds is None else [int(s) for s in row_seeds]
        self.offset = int(offset)

    @classmethod
    def from_config(cls, model: nn.Module, value_range, cfg: ChainConfig, device=None, **kw) -> Chain:
        """The step map of ``cfg`` (its sampler and seed); kw: lab, row_seeds, offset."""
        return cls(model, value_range, cfg.sampler, cfg.seed, device, **kw)

    def eps_at(self, t: int) -> float:
        """ε of the noise added at (local) step t."""
        return self.sampler.eps_at(t + self.offset)

    @torch.no_grad()
    def f(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @torch.no_grad()
    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """x_{t+1} from x_t (an N×D tensor on the chain's device); x_t itself is never changed."""
        return self._perturb(self._mix(self.model(x), x, keep_f=False), t)

    @torch.no_grad()
    def step_with_f(self, x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_{t+1}, f(x_t)): the same step, also returning the noise-free image f(x_t)."""
        fx = self.model(x)
        return self._perturb(self._mix(fx, x, keep_f=True), t), fx

    def _mix(self, fx: torch.Tensor, x: torch.Tensor, keep_f: bool) -> torch.Tensor:
        """(1 − α)·x + α·f(x) in a tensor the step may change: the noise and the clamp work in place on it, never
        on x_t (a model whose forward returns its input, or a view of it, would otherwise overwrite the state
        it was given) nor, with keep_f, on f(x_t)."""
        a = self.sampler.damping
        if a != 1.0:
            return fx.mul(a).add_(x, alpha=1.0 - a)
        return fx.clone() if keep_f or _shares_memory(fx, x) else fx

    def _perturb(self, y: torch.Tensor, t: int) -> torch.Tensor:
        """y + ε(t)·n_t, clamped to the value range, then the lab's edits and condition, in place on y (which
        the caller owns)."""
        eps = self.eps_at(t)
        if self.sampler.noise != "none" and eps > 0:
            y.add_(self._noise(tuple(y.shape), t + self.offset, y.device), alpha=eps)
        y.clamp_(*self.value_range)
        if self.lab is not None and not self.lab.empty:
            self.lab.finish_(y, t + 1 + self.offset, self.value_range)
        return y

    def _noise(self, shape: tuple[int, int], t: int, device) -> torch.Tensor:
        if self.row_seeds is None:
            return step_noise(self.sampler.noise, shape, self.value_range, self.seed, t, device)
        if len(self.row_seeds) != shape[0]:
            raise ChainError(f"{len(self.row_seeds)} row seeds for {shape[0]} chains")
        kind = self.sampler.noise
        rows = [step_noise(kind, (1, shape[1]), self.value_range, s, t, device) for s in self.row_seeds]
        return torch.cat(rows)

    @torch.no_grad()
    def begin(self, x0: torch.Tensor) -> torch.Tensor:
        """The start as the chain sees it: x0 with the edits of (global) step ``offset`` and the condition
        applied (in place on x0, which the caller owns)."""
        if self.lab is not None and not self.lab.empty:
            self.lab.finish_(x0, self.offset, self.value_range)
        return x0

    def advance(self, x: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
        """x_{t1} from x_{t0}."""
        for t in range(t0, t1):
            x = self.step(x, t)
        return x


def run_chain(
    model: nn.Module,
    spec,
    cfg: ChainConfig,
    steps: int,
    *,
    start_array: np.ndarray | None = None,
    keep: Iterable[int] | None = None,
    device: str | torch.device | None = None,
    lab=None,
    branch: tuple[int, int] | None = None,
) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield (t, x_t) for t = 0 … steps; x_t is a numpy copy only for t in ``keep`` (all when None)
    and for the last step, else None (so long runs do not copy every state to the host).

    lab: a core.chain.lab.Lab (condition, edits). branch (STEP, K): from STEP on, each chain goes on as K rows that
    differ only in their noise seeds (core.chain.seeds.branch_seeds): states from STEP on (STEP itself: K identical copies) have N·K rows, chain i's
    branch k in row i·K + k."""
    cfg.validate()
    if steps < 0:
        raise ChainError("steps must be ≥ 0")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    keep_set = None if keep is None else set(keep)
    if lab is not None:
        lab.check(cfg.n * (branch[1] if branch else 1), spec.D)
    chain = Chain.from_config(model, spec.value_range, cfg, dev, lab=lab)
    x = start_states(cfg, spec.D, spec.value_range, shape=spec.shape, start_array=start_array, device=dev)
    x = chain.begin(x)
    for t in range(steps + 1):
        if t > 0:
            x = chain.step(x, t - 1)
        if branch is not None and t == branch[0]:
            chain, x = branched(chain, x, cfg.seed, *branch)
        want = keep_set is None or t in keep_set or t == steps
        yield t, (x.cpu().numpy().copy() if want else None)


def branched(chain: Chain, x: torch.Tensor, seed: int, step: int, K: int) -> tuple[Chain, torch.Tensor]:
    """(the chain of the branches, their state) for N chains at ``step`` going on K ways each: every row
    repeated K times (row i·K + k), each row with its own noise seed; same model, ε, schedule and lab."""
    ch = copy.copy(chain)
    ch.row_seeds = branch_seeds(seed, step, x.shape[0], K)
    return ch, x.repeat_interleave(K, dim=0)
