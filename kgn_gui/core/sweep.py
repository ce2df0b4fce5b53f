"""The depth sweep: one model per depth (same data, seed, steps, width), each sampled the same way and
measured (no Qt). ``kgn sweep`` calls :func:`run_sweep` directly; the window runs it in a child process
(``core/sweep_worker.py``) that reports typed events (``core/messages.py``).

Output folder: ``depth_L.safetensors`` for each depth, ``sweep.csv`` (one row per depth, every
measure of :class:`~kgn_gui.core.measures.Analysis` plus training loss, attractor fraction and
recovery rates) and ``sweep.png`` (each measure against depth).
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .chain import ChainConfig
from .files import atomic_path
from .measures import Cancelled, analyze_chain, attractor_audit, basin_recovery

if TYPE_CHECKING:
    from .models import ModelSpec


@dataclass
class SweepConfig:
    """What to train (data, width, bound, recipe) and how to sample and measure each depth."""

    source: str = "mnist"
    depths: tuple[int, ...] = (1, 2, 4, 6, 8, 10)
    H: int | None = None  # None: 256 for the MLP, the architecture's default width for the others
    bound: str = "tanh"
    steps: int = 2000
    lr: float | None = None  # None: 1e-3 for the MLP (short runs), the architecture's default for the others
    arch: str = "mlp"
    bottleneck: int = 0
    patch: int = 0
    heads: int = 0
    batch: int = 256
    seed: int = 0
    subset: int = 10_000
    chains: int = 256
    sample_steps: int = 200
    noise: str = "normal"
    eps: float = 0.01
    audit: int = 32
    sigmas: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
    recovery_n: int = 200
    recovery_T: int = 50
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .models import ARCH_DEFAULTS

        if self.arch not in ARCH_DEFAULTS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCH_DEFAULTS)}")
        if self.H is None:
            self.H = 256 if self.arch == "mlp" else ARCH_DEFAULTS[self.arch]["H"]
        if self.lr is None:
            self.lr = 1e-3 if self.arch == "mlp" else ARCH_DEFAULTS[self.arch]["lr"]

    def spec(self, L: int, ds) -> ModelSpec:
        """The model spec of depth ``L`` for data set ``ds``."""
        from .models import ModelSpec

        return ModelSpec(
            D=ds.D,
            L=L,
            H=self.H,
            bound=self.bound,
            arch=self.arch,
            shape=ds.shape,
            bottleneck=self.bottleneck,
            patch=self.patch,
            heads=self.heads,
        )

    def validate(self) -> None:
        if not self.depths or any(d < 1 or d > 64 for d in self.depths):
            raise ValueError("depths must be whole numbers in 1 … 64")
        for name in ("H", "steps", "batch", "chains", "sample_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1")


def sweep_classifier(source: str):
    """(classifier, its features of the MNIST test digits) for measuring samples of the data source
    ``source``, or (None, None): :func:`classifier.classifier_for` of that source (the bundled MNIST sources
    are the only ones with a fitting classifier, and they have 784 values a sample)."""
    from .classifier import classifier_for

    return classifier_for(source, 784)


def check_output_folder(out_dir: str | os.PathLike) -> Path:
    """The sweep's output folder: it must be new or empty (ValueError otherwise)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not empty")
    return out


def run_sweep(
    cfg: SweepConfig,
    out_dir: str | os.PathLike,
    *,
    classifier=None,
    test_features=None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    stage: Callable[[str], None] | None = None,
) -> list[dict]:
    """Train, sample and measure every depth; write the models, CSV and PNG into ``out_dir``.
    log(line): what ``kgn sweep`` prints; progress(fraction done); stage(what runs now, in one line:
    "depth 4: training", "depth 4: sampling", …) as each stage begins; cancelled() is polled between
    training steps and chain steps (then :class:`~kgn_gui.core.measures.Cancelled` is raised)."""
    from .checkpoint import save_checkpoint
    from .data import open_source
    from .models import BOUNDS, spec_parameter_count
    from .train import TrainConfig, Trainer

    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vr = BOUNDS[cfg.bound]
    ds = open_source(cfg.source, vr)
    if cfg.subset and cfg.subset < ds.M:
        ds = ds.subset(cfg.subset, seed=cfg.seed)
    say = log or (lambda s: None)
    begin = stage or (lambda s: None)
    specs = [cfg.spec(L, ds) for L in cfg.depths]  # a spec the data cannot take fails before any training
    rows = []
    n = len(cfg.depths)
    for k, (L, spec) in enumerate(zip(cfg.depths, specs)):
        tc = TrainConfig(
            lr=cfg.lr, batch=cfg.batch, steps=cfg.steps, seed=cfg.seed, device=cfg.device, eval_size=min(1000, ds.M)
        )
        tr = Trainer(spec, ds, tc)
        begin(f"depth {L}: training")
        say(f"depth {L}: training {spec_parameter_count(spec):,} parameters for {cfg.steps} steps")
        t0 = time.time()
        for ev in tr.run():
            if cancelled is not None and cancelled():
                tr.stop()
            if progress is not None:
                progress((k + 0.7 * ev.step / max(1, ev.steps)) / n)
        if cancelled is not None and cancelled():
            raise Cancelled("sweep cancelled")
        train_s = time.time() - t0
        model = tr.model.eval().cpu()
        save_checkpoint(
            out / f"depth_{L}.safetensors",
            model,
            spec,
            dataset=ds.name,
            data_shape=ds.shape,
            recipe=tr.recipe(),
            name=f"sweep depth {L}",
        )
        chain = ChainConfig(n=cfg.chains, noise=cfg.noise, eps=cfg.eps, seed=cfg.seed)
        begin(f"depth {L}: sampling {cfg.chains} chains")
        a = analyze_chain(
            model,
            spec,
            chain,
            cfg.sample_steps,
            ds.x,
            classifier=classifier,
            test_features=test_features,
            cancelled=cancelled,
            progress=None if progress is None else (lambda d, m, k=k: progress((k + 0.7 + 0.2 * d / m) / n)),
        )
        begin(f"depth {L}: attractor audit")
        audit = attractor_audit(model, vr, ds.x, n=cfg.audit, seed=cfg.seed, cancelled=cancelled)
        begin(f"depth {L}: basin recovery")
        rec = basin_recovery(
            model, vr, ds.x, cfg.sigmas, n=cfg.recovery_n, T=cfg.recovery_T, seed=cfg.seed, cancelled=cancelled
        )
        row = {
            "depth": L,
            "parameters": spec_parameter_count(spec),
            "train_loss": tr.best_loss,
            "train_seconds": round(train_s, 1),
            **a.summary(),
            "attractor_fraction": audit.attractor_fraction,
            "rho_median": float(np.median(audit.rho)),
            **{f"recovery_{s:g}": float(r) for s, r in zip(cfg.sigmas, rec)},
        }
        rows.append(row)
        say(
            "depth {depth}: loss {train_loss:.3g}, copies {copy_fraction:.2f}, distinct {distinct}, "
            "attractors {attractor_fraction:.2f}".format(**row)
        )
        if progress is not None:
            progress((k + 1) / n)
        write_csv(rows, out / "sweep.csv", cfg)
    begin("drawing the chart")
    plot_rows(
        rows, "depth", out / "sweep.png", title=f"depth sweep on {ds.name} ({cfg.arch}, H={cfg.H}, {cfg.steps} steps)"
    )
    return rows


def write_csv(rows: list[dict], path: Path, cfg: SweepConfig | None = None) -> None:
    """Rows → CSV (atomically), with the sweep's settings as a leading comment line."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        if cfg is not None:
            f.write("# " + " ".join(f"{k}={v}" for k, v in asdict(cfg).items() if k != "extra") + "\n")
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


PLOTTED = (
    "train_loss",
    "converged",
    "copy_fraction",
    "distinct",
    "nearest_mean",
    "top_basin_share",
    "class_entropy",
    "confidence",
    "frechet",
    "attractor_fraction",
    "rho_median",
    "saturated",
)


def plot_rows(rows: list[dict], x_key: str, path: Path, title: str = "", keys: tuple[str, ...] = PLOTTED) -> Path:
    """Small multiples: each measure in ``keys`` (present in the rows) against ``x_key``, as a PNG
    drawn with Pillow (no plotting library needed headless)."""
    from PIL import Image, ImageDraw

    keys = [k for k in keys if any(isinstance(r.get(k), (int, float)) and math.isfinite(r.get(k)) for r in rows)]
    keys += [k for k in rows[0] if k.startswith("recovery_")] if rows else []
    cols = 4
    pw, ph = 260, 180
    rows_n = max(1, math.ceil(len(keys) / cols))
    img = Image.new("RGB", (cols * pw, rows_n * ph + 30), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((8, 8), title, fill=(0, 0, 0))
    xs = np.array([float(r[x_key]) for r in rows])
    for i, k in enumerate(keys):
        ox, oy = (i % cols) * pw, 30 + (i // cols) * ph
        ys = np.array([float(r.get(k, np.nan)) for r in rows])
        ok = np.isfinite(ys)
        d.text((ox + 10, oy + 4), k, fill=(0, 0, 0))
        left, t, r_, b = ox + 48, oy + 22, ox + pw - 12, oy + ph - 26
        d.rectangle((left, t, r_, b), outline=(180, 180, 180))
        if not ok.any():
            continue
        y0, y1 = float(ys[ok].min()), float(ys[ok].max())
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5 * max(abs(y0), 1e-3), y1 + 0.5 * max(abs(y1), 1e-3)
        x0, x1 = float(xs.min()), float(xs.max()) if xs.max() > xs.min() else float(xs.min()) + 1
        px = left + (xs - x0) / (x1 - x0) * (r_ - left)
        py = b - (ys - y0) / (y1 - y0) * (b - t)
        pts = [(float(a), float(c)) for a, c, o in zip(px, py, ok) if o]
        if len(pts) > 1:
            d.line(pts, fill=(31, 119, 180), width=2)
        for a, c in pts:
            d.ellipse((a - 3, c - 3, a + 3, c + 3), fill=(31, 119, 180))
        d.text((ox + 4, t - 2), f"{y1:.3g}", fill=(90, 90, 90))
        d.text((ox + 4, b - 10), f"{y0:.3g}", fill=(90, 90, 90))
        for xv, a in zip(xs, px):
            d.text((float(a) - 4, b + 4), f"{xv:g}", fill=(90, 90, 90))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path
