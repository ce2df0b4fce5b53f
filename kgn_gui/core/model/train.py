"""Manifold learning: fit f(x) ≈ x by minimising (1/(M·D)) Σ_i ‖X_i − f(X_i)‖².

The loop follows the paper's recipe (Adam, MSE, one random minibatch per step drawn
without repeats inside the batch) and is written as a generator of progress events so the
CLI, the UI worker and tests all drive the same code. Departures from the published loop,
and why:

* the minibatch indices are drawn on the training device with ``torch.randperm`` instead of
  numpy on the host: no host→device copy of indices, and reproducible with one seed;
* on CUDA the loss is read back every ``check_every`` steps instead of every step, so the
  GPU is never stalled by a host sync (on the CPU reading it is free, so it is read each step);
* on CUDA (one process) the whole step — the gather of the drawn rows, forward, loss, backward
  and a fused, capturable Adam update — is captured once as a CUDA graph and replayed: one
  launch per step instead of ~100 (see :class:`_GraphStep`); the index draw stays outside it;
* ``precision`` "tf32" lets float32 matrix products use the tensor cores' TF32 mode, and "bf16"
  runs the forward pass under bfloat16 autocast (weights, gradients and Adam stay float32);
  the default "fp32" is the paper's arithmetic;
* the best weights are picked by the loss on a fixed evaluation subset (the published code
  picked them by the noisy training-minibatch loss, checked every 100 steps).

Data-parallel training: when a ``torch.distributed`` process group is running (``kgn train``
launched by ``torchrun``), every process draws the same minibatch indices from the same seed and
trains on its own 1/world share of them inside DistributedDataParallel, which averages the
gradients: each step is the single-process step on the whole batch (up to the order of float sums),
so the recipe, the seed and the checkpoint mean the same with one process or many.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.dataset import Dataset
from ..errors import TrainError
from ..wording import count
from .architectures import ModelSpec, build_model
from .checkpoint import save_checkpoint


@dataclass
class TrainConfig:
    """A training recipe. lr: Adam step size. batch: minibatch size (full batch when ≥ M).
    steps: optimizer steps. seed: makes CPU runs reproducible. device: "auto", "cpu", "cuda", "mps".
    eval_size / eval_every: the fixed subset and period used to pick the best weights.
    report_interval_s: the least time between two progress events (the last step always reports)."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    batch: int = 1000
    steps: int = 10_000
    seed: int = 0
    device: str = "auto"
    eval_size: int = 1000
    eval_every: int = 100
    report_interval_s: float = 0.25
    schedule: str = "constant"  # "constant" (the paper's) or "cosine": linear warm-up, then cosine decay to 0
    warmup: int = 0  # warm-up steps of the cosine schedule
    # "fp32" (the paper's: float32 matrix products; cuDNN convolutions keep PyTorch's own TF32 default),
    # "tf32" (CUDA matrix units for the products too) or "bf16" (autocast)
    precision: str = "fp32"
    graphs: bool = True  # on CUDA with one process: capture the step as a CUDA graph
    # what f is fitted to (parse_objective): "manifold" (the paper's f(x) ≈ x), "denoise:σ" (f(x + σn) ≈ x)
    # or "contractive:λ" (f(x) ≈ x plus λ‖J_f‖²_F / D)
    objective: str = "manifold"
    # where the best weights are judged: "train" (a fixed subset of the training data, the default) or
    # "heldout" (of the data set's held-out split, Dataset.heldout, when it has one: never trained on)
    eval_on: str = "train"

    def validate(self) -> None:
        if not (0 < self.lr <= 10) or not math.isfinite(self.lr):
            raise TrainError(f"learning rate must be in (0, 10], got {self.lr}")
        if not all(0 <= b < 1 for b in self.betas):
            raise TrainError(f"Adam betas must be in [0, 1), got {self.betas}")
        for name, lo in (("batch", 1), ("steps", 1), ("eval_size", 1), ("eval_every", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or v < lo:
                raise TrainError(f"{name} must be an integer ≥ {lo}, got {v!r}")
            if v > 2**31:  # a batch beyond the data is the full batch; a number this large is a mistake
                raise TrainError(f"{name} must be at most {2**31:,}, got a number of {len(str(v))} digits")
        if self.steps > 100_000_000:
            raise TrainError("steps must be at most 100,000,000")
        if not 0 <= self.seed < 2**63:
            raise TrainError("seed must be in [0, 2^63)")
        if self.schedule not in SCHEDULES:
            raise TrainError(f"unknown learning-rate schedule {self.schedule!r}; choose {' or '.join(SCHEDULES)}")
        if not isinstance(self.warmup, int) or not 0 <= self.warmup < self.steps:
            raise TrainError(f"warm-up must be a whole number of steps in [0, steps), got {self.warmup!r}")
        if self.precision not in PRECISIONS:
            raise TrainError(f"unknown precision {self.precision!r}; choose {', '.join(PRECISIONS)}")
        parse_objective(self.objective)
        if self.eval_on not in ("train", "heldout"):
            raise TrainError(f"eval_on must be train or heldout, got {self.eval_on!r}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise TrainError(f"unknown device {self.device!r}; choose {', '.join(DEVICES)} or cuda:N")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based)."""
        if self.schedule == "constant":
            return self.lr
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        span = max(1, self.steps - self.warmup)
        return self.lr * 0.5 * (1 + math.cos(math.pi * (step - self.warmup) / span))


SCHEDULES = ("constant", "cosine")
PRECISIONS = ("fp32", "tf32", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")  # and cuda:N
# The named recipes (paper, fast) live in recipes.py. "fast", measured on all 60,000 digits (seed 0, 2 CPU
# cores): it reaches the paper recipe's final evaluation loss (6.05e-2 after 10,000 steps of 1000) at step
# ~4,000, i.e. with ~10 % of the samples; the same schedule on batches of 1000 for 2,500 steps ended at 7.7e-2.
# bench/time_to_quality.py compares the wall times side by side.


@dataclass
class TrainEvent:
    """A progress report. kind: "progress", "done", "stopped" or "diverged".
    loss: the latest minibatch loss (MSE per value). best_loss: best loss on the evaluation subset.
    samples_per_s: training throughput since the start. eta_s: estimated seconds left."""

    kind: str
    step: int
    steps: int
    loss: float
    best_loss: float
    samples_per_s: float
    eta_s: float
    elapsed_s: float
    message: str = ""


@dataclass
class TrainHooks:
    """What a caller of :meth:`Trainer.run` adds to the loop; every field is optional.

    progress(event): each event (progress, then the last one). save(trainer): every ``save_every_s`` seconds
    of training (at a progress event), e.g. to write the best weights so far. target_loss: stop once the
    best evaluation loss is ≤ it. cancelled(): polled at each event; True stops the run. interrupt_stops:
    Ctrl-C ends the run as a stop does (the best weights kept, a "stopped" event) instead of raising."""

    progress: Callable[[TrainEvent], None] | None = None
    save: Callable[[Trainer], None] | None = None
    save_every_s: float = 0.0
    target_loss: float | None = None
    cancelled: Callable[[], bool] | None = None
    interrupt_stops: bool = False


def format_loss(v: float) -> str:
    """A loss for people: three significant digits, and an exact zero said as such (not "0.000e+00")."""
    if v == 0:
        return "0 (exact)"
    return f"{v:.3e}" if math.isfinite(v) else str(v)


def format_duration(seconds: float) -> str:
    """Seconds as "mm:ss" or "h:mm:ss" ("--:--" when unknown): ETAs in the CLI and the window."""
    if not math.isfinite(seconds):
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" picks CUDA, then MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TrainError("CUDA was asked for but no CUDA device is available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise TrainError("MPS was asked for but is not available")
    return dev


def world_size() -> int:
    """The processes of a ``torchrun`` launch (WORLD_SIZE in the environment), 1 without it."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def join_process_group(device: str) -> tuple[str, int | None]:
    """Under ``torchrun`` (WORLD_SIZE > 1 in the environment) join the process group — NCCL with one GPU
    per process (cuda:LOCAL_RANK), else gloo on the CPU — and return (device, rank); else (device, None)."""
    world = world_size()
    if world <= 1:
        return device, None
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    elif device == "auto":
        device = "cpu"
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return device, dist.get_rank()


def _process_group() -> tuple[int, int]:
    """(rank, world size) of a running torch.distributed process group, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def manifold_loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(1/(B·D)) Σ ‖x − f(x)‖²: the paper's manifold-learning objective on a batch."""
    return nn.functional.mse_loss(model(x), x)


OBJECTIVES = ("manifold", "denoise", "contractive")
MAX_SIGMA, MAX_LAMBDA = 10.0, 1e6


def parse_objective(text: str) -> tuple[str, float]:
    """(kind, value) of ``manifold``, ``denoise:σ`` (σ in (0, 10], value units) or ``contractive:λ``
    (λ in [0, 10⁶]); TrainError, one line, for anything else."""
    kind, _, arg = str(text).strip().partition(":")
    if kind == "manifold" and not arg:
        return "manifold", 0.0
    if kind in ("denoise", "contractive"):
        try:
            v = float(arg)
        except ValueError:
            v = math.nan
        lo_ok = v > 0 if kind == "denoise" else v >= 0
        hi = MAX_SIGMA if kind == "denoise" else MAX_LAMBDA
        if math.isfinite(v) and lo_ok and v <= hi:
            return kind, v
        what = f"σ in (0, {MAX_SIGMA:g}]" if kind == "denoise" else f"λ in [0, {MAX_LAMBDA:g}]"
        raise TrainError(f"objective {kind} needs {what}, e.g. {kind}:{'0.1' if kind == 'denoise' else '0.01'}")
    raise TrainError(f"unknown objective {str(text)[:40]!r}; choose manifold, denoise:σ or contractive:λ")


def objective_loss(model: nn.Module, x: torch.Tensor, objective: tuple[str, float], gen: torch.Generator):
    """The training loss of a batch under ``objective`` (:func:`parse_objective`), per value:

    * manifold: (1/(B·D)) Σ ‖x − f(x)‖² (the paper's);
    * denoise σ: (1/(B·D)) Σ ‖x − f(x + σn)‖², n ~ N(0, I) drawn from ``gen``: a denoising autoencoder, so
      f(x) − x estimates σ² ∇ log p_σ(x) (Alain & Bengio 2014) and the chain's step is a score step;
    * contractive λ: the manifold loss plus λ ‖J_f(x)‖²_F / D, the Frobenius norm estimated by one random
      projection per sample, ‖J_f v‖² with v ~ N(0, I) (E ‖J v‖² = ‖J‖²_F), by forward-mode differentiation.
    """
    kind, value = objective
    if kind == "manifold":
        return manifold_loss(model, x)
    if kind == "denoise":
        noise = torch.randn(x.shape, generator=gen, device=gen.device, dtype=x.dtype).to(x.device)
        return nn.functional.mse_loss(model(x + value * noise), x)
    from torch.func import jvp

    v = torch.randn(x.shape, generator=gen, device=gen.device, dtype=x.dtype).to(x.device)
    fx, jv = jvp(model, (x,), (v,))
    return nn.functional.mse_loss(fx, x) + value * jv.pow(2).mean()


def training_rows(dataset: Dataset, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The data set on the training device: (X, None) with X float32, or for a ByteDataset (X, table) with X
    its bytes (a quarter of the memory; on the CPU the data cache's map itself, no copy) and table the 256
    float32 values they stand for (:func:`as_floats`)."""
    codes = getattr(dataset, "codes", None)
    if codes is None:
        return torch.from_numpy(dataset.x).to(dev), None
    with warnings.catch_warnings():  # a read-only map: the trainer only gathers rows from it
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        X = torch.from_numpy(codes)
    return X.to(dev), torch.from_numpy(dataset.table()).to(dev)


def as_floats(rows: torch.Tensor, table: torch.Tensor | None) -> torch.Tensor:
    """Rows of :func:`training_rows` as float32: bytes looked up in their table (the same values, bit for bit,
    as the data set's ``x``), floats as they are."""
    if table is None:
        return rows
    return table.index_select(0, rows.reshape(-1).int()).view(rows.shape)


def draw_batch(M: int, B: int, gen: torch.Generator) -> torch.Tensor:
    """B distinct indices in [0, M), uniformly at random (no repeats inside the batch)."""
    return torch.randperm(M, generator=gen, device=gen.device)[:B]


def _make_adam(params, lr, betas, device, capturable: bool = False):
    """Fused Adam: the whole update in one kernel per parameter group on CPU and CUDA. ``capturable``
    (CUDA graphs): the step count and the learning rate live on the device, so a captured update
    reads them there (the schedule writes the rate with ``fill_``)."""
    if capturable:
        return torch.optim.Adam(
            params, lr=torch.tensor(float(lr), device=device), betas=betas, fused=True, capturable=True
        )
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=device.type != "cpu")


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        if torch.is_tensor(g["lr"]):
            g["lr"].fill_(lr)
        else:
            g["lr"] = lr


def _autocast(device: torch.device, precision: str):
    """bfloat16 autocast of the forward pass and loss for "bf16" (CUDA and CPU), else nothing. The cast
    weights are not cached, so a captured graph re-casts them each replay from the updated float32 ones."""
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _matmul_precision(device: torch.device, precision: str):
    """float32 matrix products in TF32 on CUDA while training with "tf32", in full float32 with "fp32"
    (the process-wide setting is put back afterwards)."""
    if device.type != "cuda":
        yield
        return
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


class _GraphStep:
    """One training step — gather the drawn rows, forward, loss, backward, Adam — captured as a CUDA graph.

    The published loop launches ~100 small kernels per step from Python and syncs on ``loss.item()``;
    for the paper's MNIST network the GPU then idles most of each step. Here the step's kernels are
    recorded once and each step is one ``replay()``. What changes between steps lives in device buffers the
    graph reads: the index permutation (``torch.randperm(..., out=)`` refills it before each replay from the
    trainer's generator, so the graph draws the same batches as the eager loop), the weights, Adam's
    moments and step count, and the learning rate (capturable Adam keeps them on the device).

    Capture needs warm-up steps on a side stream: they change the weights and Adam's state, which the
    caller (:meth:`Trainer._prepare_graph`) puts back in place afterwards.
    """

    WARMUP = 3

    def __init__(
        self, model: nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor, B: int, precision: str, table=None
    ):
        self.model, self.opt, self.X, self.B, self.precision, self.table = model, opt, X, B, precision, table
        self.full_batch = B >= X.shape[0]
        dev = X.device
        self.perm = torch.arange(X.shape[0], device=dev)  # the static index buffer the graph gathers with
        stream = torch.cuda.Stream(dev)
        stream.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(stream):
            for _ in range(self.WARMUP):
                opt.zero_grad(set_to_none=True)
                self._body()
        torch.cuda.current_stream(dev).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)  # the graph's backward allocates the gradients it then overwrites
        # thread_local: another thread's CUDA work (the window's snapshot request) cannot break the capture
        with torch.cuda.graph(self.graph, stream=stream, capture_error_mode="thread_local"):
            self.loss = self._body()

    def _body(self) -> torch.Tensor:
        xb = self.X if self.full_batch else as_floats(self.X.index_select(0, self.perm[: self.B]), self.table)
        with _autocast(self.X.device, self.precision):
            loss = manifold_loss(self.model, xb)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def __call__(self, gen: torch.Generator) -> torch.Tensor:
        """Run one step with a fresh batch; returns the step's loss (a new device tensor, no host sync)."""
        if not self.full_batch:
            torch.randperm(self.X.shape[0], generator=gen, device=self.X.device, out=self.perm)
        self.graph.replay()
        return self.loss.clone()


class Trainer:
    """Fits a kaleidoscopic network to a data set.

    :meth:`run` trains to the end with :class:`TrainHooks` (the one loop the CLI, the window's child
    process, the sweep and ``kgn.train`` use); :meth:`events` is the same loop as a generator of progress
    events. :meth:`stop` (any thread) ends it after the current step, :meth:`pause` / :meth:`resume` hold
    it. After the run, ``model`` holds the best weights found (by the evaluation-subset loss) and
    ``losses`` the loss of every step; :meth:`save` writes a model file with the recipe.
    """

    def __init__(
        self, spec: ModelSpec, dataset: Dataset, config: TrainConfig | None = None, model: nn.Module | None = None
    ):
        self.spec, self.dataset, self.config = spec, dataset, config or TrainConfig()
        self.config.validate()
        if dataset.D != spec.D:
            raise TrainError(f"the model expects D = {spec.D} values per sample but {dataset.name} has {dataset.D}")
        lo, hi = spec.value_range
        low, high = dataset.extent()
        if low < lo - 1e-6 or high > hi + 1e-6:
            raise TrainError(f"{dataset.name} has values outside the {spec.bound} range [{lo}, {hi}]")
        self.device = resolve_device(self.config.device)
        self.model = (model if model is not None else build_model(spec, seed=self.config.seed)).to(self.device)
        self.rank, self.world = _process_group()
        if self.world > 1 and parse_objective(self.config.objective)[0] == "contractive":
            raise TrainError("the contractive objective trains in one process (its Jacobian term is not split)")
        if self.world > 1 and min(self.config.batch, dataset.M) % self.world:
            raise TrainError(
                f"the batch ({min(self.config.batch, dataset.M)}) must be a multiple of the number of "
                f"processes ({self.world}) so that each takes an equal share"
            )
        self.losses = np.full(self.config.steps, np.nan, dtype=np.float32)
        self.step = 0
        self.best_loss = math.inf
        self.best_step = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.last_loss = math.nan
        self.elapsed_s = 0.0
        self.graph_used = False
        self.graph_note = ""
        self.eval_source = "fixed training samples"  # what the best weights are judged on (run() says)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._threads: int | None = None  # set_threads: a thread count the loop applies at its next step

    # -- control, callable from any thread
    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def set_threads(self, n: int) -> None:
        """torch's intra-op threads from the next step on (set between steps: never under a running one)."""
        self._threads = max(1, int(n))

    # -- the loop
    @torch.no_grad()
    def _evaluate(self, xe: torch.Tensor) -> float:
        self.model.eval()
        loss = float(manifold_loss(self.model, xe))
        self.model.train()
        return loss

    def _keep_if_best(self, loss: float, step: int) -> None:
        if math.isfinite(loss) and loss < self.best_loss:
            self.best_loss, self.best_step = loss, step
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore_best(self) -> None:
        """Load the best weights found so far into ``model``."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def run(self, hooks: TrainHooks | None = None) -> TrainEvent:
        """Train to the end (done, stopped, diverged) with ``hooks``; returns the last event."""
        h = hooks or TrainHooks()
        last: TrainEvent | None = None
        saved_at = time.monotonic()
        try:
            for ev in self.events():
                if h.cancelled is not None and h.cancelled():
                    self.stop()
                elif h.target_loss is not None and self.best_loss <= h.target_loss:
                    self.stop()  # it ends before the next step, with the best weights
                if h.progress is not None:
                    h.progress(ev)
                due = h.save_every_s and time.monotonic() - saved_at >= h.save_every_s
                if h.save is not None and due and ev.kind == "progress":
                    h.save(self)
                    saved_at = time.monotonic()
                last = ev
        except KeyboardInterrupt:
            if not h.interrupt_stops:
                raise
            self.restore_best()  # the loop was left mid-step: put the best weights back here
            msg = f"interrupted at step {self.step}; kept the best weights (step {self.best_step})"
            el, B = self.elapsed_s, min(self.config.batch, self.dataset.M)
            rate = self.step * B / el if el > 0 else 0.0
            last = TrainEvent("stopped", self.step, self.config.steps, self.last_loss, self.best_loss,
                              rate, math.inf, el, msg)  # fmt: skip
            if h.progress is not None:
                h.progress(last)
        assert last is not None  # the loop always ends with an event
        return last

    def events(self) -> Iterator[TrainEvent]:
        """The training loop as a generator of :class:`TrainEvent` (progress, then done/stopped/diverged)."""
        # The precision setting is process-wide: it holds while the loop computes, and is put back whenever
        # an event goes out, so the caller's own torch code between events runs as it expects.
        loop = self._run()
        try:
            while True:
                with _matmul_precision(self.device, self.config.precision):
                    try:
                        ev = next(loop)
                    except StopIteration:
                        return
                yield ev
        finally:
            loop.close()
            if self.graph_used:  # the gradients live in the finished graph's memory pool: let it go
                for p in self.model.parameters():
                    p.grad = None

    def _prepare_graph(self, X: torch.Tensor, B: int, table: torch.Tensor | None = None):
        """(optimizer, _GraphStep) for a CUDA graph step, or (None, None) when capture fails (the reason is
        kept in ``graph_note`` and the eager loop runs). Either way the capture's warm-up steps are undone:
        the weights are copied back in place (the graph keeps reading the same tensors) and Adam starts fresh."""
        cfg = self.config
        init = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        try:
            opt = _make_adam(self.model.parameters(), cfg.lr_at(0), tuple(cfg.betas), self.device, capturable=True)
            graph = _GraphStep(self.model, opt, X, B, cfg.precision, table)
        except Exception as e:  # noqa: BLE001 - any capture failure falls back to the eager loop
            self.model.load_state_dict(init)
            for p in self.model.parameters():
                p.grad = None
            self.graph_note = f"CUDA graph capture failed ({type(e).__name__}: {e}); trained without it"
            torch.cuda.empty_cache()
            return None, None
        self.model.load_state_dict(init)
        with torch.no_grad():
            for st in opt.state.values():
                for v in st.values():
                    if torch.is_tensor(v):
                        v.zero_()
        return opt, graph

    def _run(self) -> Iterator[TrainEvent]:
        cfg, dev = self.config, self.device
        X, table = training_rows(self.dataset, dev)
        M = X.shape[0]
        B = min(cfg.batch, M)
        full_batch = B >= M
        if full_batch and table is not None:  # every step uses every row: converted once
            X, table = as_floats(X, table), None
        gen = torch.Generator(device=dev.type if dev.type != "mps" else "cpu")
        gen.manual_seed(cfg.seed)
        held = getattr(self.dataset, "heldout", None) if cfg.eval_on == "heldout" else None
        if held is not None and held.D == self.dataset.D:  # judged on samples never trained on
            held = held.to_range(self.dataset.value_range)
            eval_idx = np.sort(
                np.random.default_rng(cfg.seed).choice(held.M, size=min(cfg.eval_size, held.M), replace=False)
            )
            xe = torch.from_numpy(held.rows(eval_idx)).to(dev)
            self.eval_source = f"held-out samples of {held.name}"
        else:
            eval_idx = np.sort(np.random.default_rng(cfg.seed).choice(M, size=min(cfg.eval_size, M), replace=False))
            xe = as_floats(X[torch.from_numpy(eval_idx).to(dev)], table)
            self.eval_source = "fixed training samples"
        opt = graph = None
        self.graph_note = ""
        self.model.train()
        objective = parse_objective(cfg.objective)
        if objective[0] != "manifold" and dev.type == "cuda" and cfg.graphs:
            self.graph_note = f"no CUDA graph: the {objective[0]} objective draws its own noise each step"
        elif dev.type == "cuda" and self.world == 1 and cfg.graphs:
            opt, graph = self._prepare_graph(X, B, table)
        self.graph_used = graph is not None
        if opt is None:
            opt = _make_adam(self.model.parameters(), cfg.lr, tuple(cfg.betas), dev)
        net = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            # Same weights everywhere from the start (DDP broadcasts rank 0's); each process takes its
            # share [lo, hi) of every batch.
            net = DistributedDataParallel(self.model, device_ids=[dev.index] if dev.type == "cuda" else None)
            lo, hi = self.rank * B // self.world, (self.rank + 1) * B // self.world
        else:
            lo, hi = 0, B
        check_every = 1 if dev.type == "cpu" else 50
        pending: list[torch.Tensor] = []
        self._keep_if_best(self._evaluate(xe), 0)
        t0 = time.perf_counter()
        last_report = -math.inf
        start_step = self.step

        def event(kind: str, message: str = "") -> TrainEvent:
            el = self.elapsed_s
            done = self.step - start_step
            rate = done * B / el if el > 0 else 0.0
            eta = (cfg.steps - self.step) * el / done if done else math.inf
            return TrainEvent(kind, self.step, cfg.steps, self.last_loss, self.best_loss, rate, eta, el, message)

        while self.step < cfg.steps:
            if not self._running.is_set():
                paused_at = time.perf_counter()
                self._running.wait()
                t0 += time.perf_counter() - paused_at
            if self._threads is not None:
                torch.set_num_threads(self._threads)
                self._threads = None
            if self._stop.is_set():
                self.restore_best()
                self.elapsed_s = time.perf_counter() - t0
                yield event("stopped", f"stopped at step {self.step}; kept the best weights (step {self.best_step})")
                return
            if cfg.schedule != "constant":
                _set_lr(opt, cfg.lr_at(self.step))
            if graph is not None:
                loss = graph(gen)
            else:
                xb = X[lo:hi] if full_batch else as_floats(X[draw_batch(M, B, gen)[lo:hi].to(dev)], table)
                opt.zero_grad(set_to_none=True)
                with _autocast(dev, cfg.precision):
                    loss = objective_loss(net, xb, objective, gen)
                loss.backward()
                opt.step()
            self.step += 1
            pending.append(loss.detach())
            last = self.step == cfg.steps
            if len(pending) >= check_every or last or self.step % cfg.eval_every == 0:
                vals = torch.stack(pending).float()
                if self.world > 1:  # the whole batch's loss: the mean of the equal-sized shares'
                    import torch.distributed as dist

                    dist.all_reduce(vals)
                    vals /= self.world
                vals = vals.cpu().numpy()
                self.losses[self.step - len(pending) : self.step] = vals
                pending.clear()
                self.last_loss = float(vals[-1])
                if not np.isfinite(vals).all():
                    bad = self.step - len(vals) + int(np.argmin(np.isfinite(vals)))
                    self.restore_best()
                    self.elapsed_s = time.perf_counter() - t0
                    yield event(
                        "diverged",
                        f"the loss became NaN or infinite at step {bad + 1}; "
                        f"kept the last good weights (step {self.best_step})",
                    )
                    return
            if self.step % cfg.eval_every == 0 or last:
                self._keep_if_best(self._evaluate(xe), self.step)
            now = time.perf_counter()
            self.elapsed_s = now - t0
            if last:
                break
            if now - last_report >= cfg.report_interval_s and not pending:
                last_report = now
                yield event("progress")
        self.restore_best()
        self.elapsed_s = time.perf_counter() - t0
        note = f" ({self.graph_note})" if self.graph_note else ""
        yield event(
            "done",
            f"trained {count(self.step, 'step', commas=False)}; best evaluation loss {format_loss(self.best_loss)} at step "
            f"{self.best_step} (on {len(eval_idx):,} {self.eval_source}){note}",
        )

    def recipe(self) -> dict:
        """What the checkpoint records about how the weights were made."""
        return {
            "config": self.config.to_dict(),
            "dataset": self.dataset.name,
            "M": self.dataset.M,
            "steps_done": self.step,
            "best_step": self.best_step,
            "best_eval_loss": self.best_loss,
            "final_batch_loss": self.last_loss,
            "device": str(self.device),
            "processes": self.world,
            "cuda_graph": self.graph_used,
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def save(
        self, path: str | os.PathLike, *, name: str | None = None, best: bool = True, extra: dict | None = None
    ) -> Path:
        """Write a model file of the best weights so far (``best``) or of the current ones, with the spec,
        the data set's name and shape and :meth:`recipe` — the one way a trained model is saved. Safe to call
        between events or from another thread while the loop runs (the weights are copied first). Raises
        CheckpointError."""
        model = copy.deepcopy(self.model)
        if best and self.best_state is not None:
            model.load_state_dict(self.best_state)
        ds = self.dataset
        return save_checkpoint(
            path, model, self.spec, dataset=ds.name, data_shape=ds.shape, recipe=self.recipe(), name=name, extra=extra
        )


def train(spec: ModelSpec, dataset: Dataset, config: TrainConfig | None = None) -> tuple[nn.Module, Trainer]:
    """Train to the end and return (model with the best weights, trainer); a divergence raises TrainError."""
    tr = Trainer(spec, dataset, config)
    ev = tr.run()
    if ev.kind == "diverged":
        raise TrainError(ev.message)
    return tr.model, tr
