"""Search training recipes for the paper's MNIST network: how many steps each needs to reach a loss bar.

    python scripts/recipe_search.py [--device cuda] [--bar 6.05e-2] [--out recipes.csv] [--budget-s 150]
        [--engine local|ray] [--workers N] [--address HOST:PORT] [--gpus-per-trial 0.25] [--resume]

Each recipe (learning rate, batch, warm-up, cosine length, precision) trains the paper's network
(L=10 H=500 Tanh, seed 0) on all 60,000 digits and records the first step at which the best evaluation
loss (fixed 1000-digit subset, checked every 50 steps) is at or under the bar — by default the paper
recipe's final loss. Run it on a GPU, where each recipe takes seconds; the steps and samples it reports
carry over to the CPU, where the wall time per step at each batch size decides (bench.time_to_quality
then measures the chosen preset side by side with the paper recipe). This is how the "fast" preset was
chosen.

Each recipe is one trial of an experiment engine (core.experiment.grid.run_grid, as kgn sweep and kgn
search run theirs): one after another here by default, ``--workers N`` at once on this machine, or Ray
tasks (``--engine ray``, ``--gpus-per-trial 0.25`` puts four recipes on a GPU). Each finished recipe's
row is written to ``--out`` whole; ``--resume`` runs only the recipes it does not hold; ``--budget-s``
stops starting new ones after that long (resume later).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kgn_gui.core.experiment.engines import ENGINES, make_engine  # noqa: E402
from kgn_gui.core.experiment.grid import run_grid  # noqa: E402

GRID = {
    "lr": [1e-3, 2e-3],
    "batch": [128, 256, 512],
    "steps": [3000, 5000, 8000],
    "precision": ["fp32", "bf16"],
}


def reach(lr, batch, steps, precision, bar, device, warmup_frac=0.05) -> dict:
    """One recipe trained on all 60,000 digits: the first step whose best evaluation loss is ≤ ``bar``."""
    from kgn_gui.core.data.mnist import load_mnist
    from kgn_gui.core.model.architectures import paper_mnist_spec
    from kgn_gui.core.model.train import TrainConfig, Trainer

    warmup = max(1, round(steps * warmup_frac))
    cfg = TrainConfig(
        lr=lr,
        batch=batch,
        steps=steps,
        seed=0,
        device=device,
        eval_every=50,
        report_interval_s=0.0,
        schedule="cosine",
        warmup=warmup,
        precision=precision,
    )
    tr = Trainer(paper_mnist_spec(), load_mnist("train", (-1.0, 1.0)), cfg)
    first = math.inf
    t0 = time.perf_counter()
    for ev in tr.events():
        if ev.best_loss <= bar and not math.isfinite(first):
            first = ev.step
    samples = first * batch if math.isfinite(first) else math.inf
    return dict(
        lr=lr, batch=batch, steps=steps, precision=precision, warmup=warmup, reached_step=first,
        reached_samples=samples, best_loss=float(tr.best_loss), seconds=round(time.perf_counter() - t0, 1),
        end=ev.kind,
    )  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--bar", type=float, default=6.05e-2)
    ap.add_argument("--out", default="recipes.csv")
    ap.add_argument("--budget-s", type=float, default=150.0, help="stop starting new recipes after this long")
    ap.add_argument("--engine", default="local", choices=ENGINES)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--address", default=None)
    ap.add_argument("--gpus-per-trial", type=float, default=None)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    engine = make_engine(args.engine, workers=args.workers, address=args.address, gpus_per_trial=args.gpus_per_trial)
    plan = list(itertools.product(*GRID.values()))
    settings = f"# recipe search: bar={args.bar:g} device={args.device} grid={GRID}"
    t_start = time.perf_counter()

    def said(row: dict, done: int, total: int) -> None:
        if row.get("error"):
            return
        print(
            f"lr {row['lr']:g} batch {row['batch']:4d} steps {row['steps']:5d} {row['precision']}: reached at step "
            f"{row['reached_step']} ({row['reached_samples']:,} samples), best {row['best_loss']:.4e}, "
            f"{row['seconds']:.1f} s ({done} of {total})",
            flush=True,
        )

    kwargs = lambda key: dict(zip(GRID, key), bar=args.bar, device=args.device)  # noqa: E731
    run_grid(
        reach, plan, tuple(GRID), kwargs, engine=engine, runs_csv=Path(args.out), settings=settings,
        resume=args.resume, log=print, on_trial=said,
        cancelled=lambda: time.perf_counter() - t_start > args.budget_s,
    )  # fmt: skip
    if time.perf_counter() - t_start > args.budget_s:
        print("budget spent; stopping (--resume continues)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
