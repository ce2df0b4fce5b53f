"""Training beyond the paper, measured: models of MNIST trained with each objective (several training seeds)
and their chains measured with chain seeds they were not chosen on, each objective under the sampler its
objective implies (the paper's ε = 0.01; a denoiser of σ also with ε = σ, its own noise level).

    python scripts/objective_study.py -o study/ [--objectives manifold,denoise:0.2,denoise:0.4]
        [--train-seeds 0,1,2] [--chain-seeds 10,11] [--steps 8000] [-n 256] [--chain-steps 300]

Writes study/runs.csv (one row per model × sampler × chain seed, written as each finishes, so a stopped
study keeps what it measured and --resume continues it), study/models/*.safetensors and prints
study/table.md: per objective and sampler the mean over training and chain seeds of class entropy /
log 10, precision, recall, Fréchet, memorized fraction, with 95 % t-intervals over the models."""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

KEYS = ("class_entropy", "precision", "recall", "frechet", "kid", "memorized_fraction", "converged", "distinct")


def t95(n: int) -> float:
    return {1: math.nan, 2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365}.get(n, 1.96)


def samplers_for(objective: str) -> list[str]:
    out = ["noise=normal,eps=0.01"]
    if objective.startswith("denoise:"):
        out.append(f"noise=normal,eps={objective.split(':', 1)[1]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--objectives", default="manifold,denoise:0.2,denoise:0.4")
    ap.add_argument("--train-seeds", default="0,1,2")
    ap.add_argument("--chain-seeds", default="10,11")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--chain-steps", type=int, default=300)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    import kgn_gui as kgn

    out = Path(a.output)
    (out / "models").mkdir(parents=True, exist_ok=a.resume)
    runs = out / "runs.csv"
    done = set()
    if a.resume and runs.exists():
        with runs.open() as f:
            done = {(r["objective"], r["train_seed"], r["sampler"], r["chain_seed"]) for r in csv.DictReader(f)}
    cols = ["objective", "train_seed", "sampler", "chain_seed", "train_loss", "train_s", *KEYS]
    new_file = not runs.exists()
    with runs.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        if new_file:
            w.writeheader()
        for obj in a.objectives.split(","):
            for ts in a.train_seeds.split(","):
                path = out / "models" / f"{obj.replace(':', '-')}-seed{ts}.safetensors"
                t0 = time.perf_counter()
                if not path.exists():
                    kgn.train(a.data, "fast", output=path, objective=obj, seed=int(ts), steps=a.steps)
                train_s = time.perf_counter() - t0
                model = kgn.load(path)
                loss = model.checkpoint.meta.get("recipe", {}).get("best_eval_loss")
                for smp in samplers_for(obj):
                    for cs in a.chain_seeds.split(","):
                        if (obj, ts, smp, cs) in done:
                            continue
                        m = kgn.analyze(model, n=a.n, steps=a.chain_steps, seed=int(cs), sampler=smp)
                        row = {"objective": obj, "train_seed": ts, "sampler": smp, "chain_seed": cs,
                               "train_loss": loss, "train_s": round(train_s, 1)}  # fmt: skip
                        row.update({k: m.get(k) for k in KEYS})
                        w.writerow(row)
                        f.flush()
                        print(f"{obj} seed {ts} {smp} chain seed {cs}: " + ", ".join(
                            f"{k} {row[k]:.3g}" for k in KEYS if isinstance(row[k], float)), file=sys.stderr)  # fmt: skip
    table(runs)
    return 0


def table(runs: Path) -> None:
    with runs.open() as f:
        rows = list(csv.DictReader(f))
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["objective"], r["sampler"]), []).append(r)
    shown = ("class_entropy", "precision", "recall", "frechet", "memorized_fraction")
    print("| objective | sampler | models × chain seeds | " + " | ".join(shown) + " |")
    print("| --- | --- | ---: |" + " ---: |" * len(shown))
    for (obj, smp), rs in groups.items():
        cells = []
        for k in shown:
            per_model: dict[str, list[float]] = {}
            for r in rs:
                if r[k] not in ("", "None", "nan"):
                    per_model.setdefault(r["train_seed"], []).append(float(r[k]))
            means = np.array([np.mean(v) for v in per_model.values()])
            if not len(means):
                cells.append("–")
                continue
            half = t95(len(means)) * means.std(ddof=1) / math.sqrt(len(means)) if len(means) > 1 else math.nan
            cells.append(f"{means.mean():.3g} ± {half:.2g}")
        seeds = len({r["train_seed"] for r in rs})
        print(f"| {obj} | {smp} | {seeds} × {len(rs) // max(1, seeds)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
