"""Search training recipes for the paper's MNIST network: how many steps each needs to reach a loss bar.

    python scripts/recipe_search.py [--device cuda] [--bar 6.05e-2] [--out recipes.csv] [--budget-s 150]

Each recipe (learning rate, batch, warm-up, cosine length, precision) trains the paper's network
(L=10 H=500 Tanh, seed 0) on all 60,000 digits and records the first step at which the best evaluation
loss (fixed 1000-digit subset, checked every 50 steps) is at or under the bar — by default the paper
recipe's final loss. Run it on a GPU, where each recipe takes seconds; the steps and samples it reports
carry over to the CPU, where the wall time per step at each batch size decides (bench.time_to_quality
then measures the chosen preset side by side with the paper recipe). This is how the "fast" preset was
chosen.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kgn_gui.core.data.mnist import load_mnist  # noqa: E402
from kgn_gui.core.model.architectures import paper_mnist_spec  # noqa: E402
from kgn_gui.core.model.train import TrainConfig, Trainer  # noqa: E402

GRID = {
    "lr": [1e-3, 2e-3],
    "batch": [128, 256, 512],
    "steps": [3000, 5000, 8000],
    "precision": ["fp32", "bf16"],
}


def reach(ds, lr, batch, steps, precision, bar, device, warmup_frac=0.05):
    cfg = TrainConfig(
        lr=lr,
        batch=batch,
        steps=steps,
        seed=0,
        device=device,
        eval_every=50,
        report_interval_s=0.0,
        schedule="cosine",
        warmup=max(1, round(steps * warmup_frac)),
        precision=precision,
    )
    tr = Trainer(paper_mnist_spec(), ds, cfg)
    first = math.inf
    t0 = time.perf_counter()
    for ev in tr.events():
        if ev.best_loss <= bar and not math.isfinite(first):
            first = ev.step
    return first, tr.best_loss, time.perf_counter() - t0, ev.kind


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--bar", type=float, default=6.05e-2)
    ap.add_argument("--out", default="recipes.csv")
    ap.add_argument("--budget-s", type=float, default=150.0, help="stop starting new recipes after this long")
    args = ap.parse_args(argv)
    ds = load_mnist("train", (-1.0, 1.0))
    rows = []
    t_start = time.perf_counter()
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "lr",
                "batch",
                "steps",
                "warmup",
                "precision",
                "reached_step",
                "reached_samples",
                "best_loss",
                "seconds",
                "end",
            ]
        )
        for lr, batch, steps, precision in itertools.product(*GRID.values()):
            if time.perf_counter() - t_start > args.budget_s:
                print("budget spent; stopping", flush=True)
                break
            first, best, sec, kind = reach(ds, lr, batch, steps, precision, args.bar, args.device)
            samples = first * batch if math.isfinite(first) else math.inf
            rows.append((lr, batch, steps, precision, first, samples, best, sec))
            w.writerow(
                [
                    lr,
                    batch,
                    steps,
                    max(1, round(steps * 0.05)),
                    precision,
                    first,
                    samples,
                    f"{best:.5e}",
                    f"{sec:.1f}",
                    kind,
                ]
            )
            f.flush()
            print(
                f"lr {lr:g} batch {batch:4d} steps {steps:5d} {precision}: reached at step {first} "
                f"({samples:,} samples), best {best:.4e}, {sec:.1f} s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
