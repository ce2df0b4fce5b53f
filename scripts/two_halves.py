"""The two-halves test over training-set sizes, and memorization over training steps (issue 29, items 2 and 9).

For each size N, two models of the ``fast`` recipe's network train on N samples drawn from each of the two
disjoint halves of MNIST's training split (``core.data.dataset.half_of``; half 0 with seed 0, half 1 with
seed 1: different weights, batches and data). The weights are saved at each step of ``--at`` (the current
weights, not the best: what training has made of the model by then). Each saved model's chains are measured
against its own training samples (``memorized_fraction``: d₁/d₂ < 1/3; spurious and novel counts), and at
each step the two halves' chains, run from the same starts and noise, are compared (``halves``: paired over
random-pair distance; Kadkhodaie et al. 2024: ≈ 1 when each model reproduces its own data, ≪ 1 when both
learned the same function of the noise).

    python scripts/two_halves.py -o halves/ [--sizes 100,1000,10000] [--at 250,1000,4000]
        [-n 256] [--chain-steps 300] [--chain-seed 10] [--resume]

Writes halves/runs.csv (one row per size × step, written as each finishes; --resume skips the rows it has)
and halves/models/*.safetensors, and prints halves/table.md."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

KEYS = ("memorized_fraction", "memorized", "spurious", "novel", "frechet", "recall", "precision", "class_entropy")
COLS = ["size", "step", "train_loss_0", "train_loss_1", "train_s",
        *(f"{k}_{h}" for h in (0, 1) for k in KEYS), "halves_ratio", "halves_ratio_lo", "halves_ratio_hi",
        "halves_paired", "halves_random", "halves_closer"]  # fmt: skip


def _ints(text: str) -> list[int]:
    return sorted({int(v) for v in text.split(",") if v.strip()})


def train_half(
    ds, half: int, steps: list[int], folder: Path, size: int
) -> tuple[dict[int, Path], dict[int, float], float]:
    """Train on ``ds`` (already the half's subset), saving the current weights at each of ``steps``."""
    from kgn_gui.api import train_recipe
    from kgn_gui.core.model.train import Trainer

    paths = {s: folder / f"n{size}-half{half}-step{s}.safetensors" for s in steps}
    if all(p.exists() for p in paths.values()):
        return paths, {}, 0.0  # trained by an earlier run: the losses are in its rows
    recipe = train_recipe("mnist", "fast", steps=max(steps), seed=half)
    spec = recipe.spec(ds.D, ds.shape)
    tr = Trainer(spec, ds, recipe.train_config(device="cpu", eval_size=min(1000, ds.M), report_interval_s=0.0))
    t0, losses = time.perf_counter(), {}
    for ev in tr.events():
        if ev.step in paths and ev.step not in losses:
            tr.save(paths[ev.step], best=False, name=paths[ev.step].stem)
            losses[ev.step] = ev.loss
    return paths, losses, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--sizes", default="100,1000,10000", help="training samples per half")
    ap.add_argument("--at", default="250,1000,4000", help="training steps at which the weights are measured")
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--chain-steps", type=int, default=300)
    ap.add_argument("--chain-seed", type=int, default=10)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    import kgn_gui as kgn
    from kgn_gui.api import train_recipe
    from kgn_gui.core.data.dataset import half_of
    from kgn_gui.core.data.sources import open_source

    out = Path(a.output)
    (out / "models").mkdir(parents=True, exist_ok=a.resume)
    runs = out / "runs.csv"
    done = set()
    if a.resume and runs.exists():
        with runs.open() as f:
            done = {(int(r["size"]), int(r["step"])) for r in csv.DictReader(f)}
    value_range = train_recipe("mnist", "fast").value_range
    whole = open_source("mnist", value_range)
    steps = _ints(a.at)
    new_file = not runs.exists()
    with runs.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLS)
        if new_file:
            w.writeheader()
        for size in _ints(a.sizes):
            data = [half_of(whole, h).subset(size, seed=h) for h in (0, 1)]
            trained = [train_half(data[h], h, steps, out / "models", size) for h in (0, 1)]
            for s in steps:
                if (size, s) in done:
                    continue
                row = {"size": size, "step": s, "train_s": round(sum(t[2] for t in trained), 1)}
                for h in (0, 1):
                    row[f"train_loss_{h}"] = trained[h][1].get(s)
                    m = kgn.analyze(trained[h][0][s], n=a.n, steps=a.chain_steps, seed=a.chain_seed, data=data[h],
                                    against=trained[1 - h][0][s] if h == 0 else None)  # fmt: skip
                    for k in KEYS:
                        row[f"{k}_{h}"] = m.get(k)
                    if h == 0:
                        hv = m["halves"]
                        lo, hi = hv.get("ratio_ci") or (None, None)
                        row.update(halves_ratio=hv["ratio"], halves_ratio_lo=lo, halves_ratio_hi=hi,
                                   halves_paired=hv["paired_mean"], halves_random=hv["random_mean"],
                                   halves_closer=hv["closer_fraction"])  # fmt: skip
                w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()})
                f.flush()
                print(f"N={size} step {s}: halves ratio {row['halves_ratio']:.3f}, memorized "
                      f"{row['memorized_fraction_0']:.3f} / {row['memorized_fraction_1']:.3f}", file=sys.stderr)  # fmt: skip
    table = out / "table.md"
    table.write_text(_table(runs))
    print(table.read_text())
    return 0


def _table(runs: Path) -> str:
    with runs.open() as f:
        rows = sorted(csv.DictReader(f), key=lambda r: (int(r["size"]), int(r["step"])))

    def g(r, k, fmt="{:.2f}"):
        v = r.get(k)
        return "—" if v in (None, "", "None") else fmt.format(float(v))

    lines = ["| samples per half | training steps | minibatch loss (half 0 / 1) | halves ratio [95 %] | closer pairs "
             "| memorized (half 0 / 1) | novel of n (half 0) | Fréchet (half 0) | recall (half 0) |",
             "| ---: | ---: | --- | --- | ---: | --- | ---: | ---: | ---: |"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {int(r['size']):,} | {int(r['step']):,} | {g(r, 'train_loss_0', '{:.3g}')} / {g(r, 'train_loss_1', '{:.3g}')} "
            f"| {g(r, 'halves_ratio')} [{g(r, 'halves_ratio_lo')}, {g(r, 'halves_ratio_hi')}] | {g(r, 'halves_closer')} "
            f"| {g(r, 'memorized_fraction_0')} / {g(r, 'memorized_fraction_1')} | {g(r, 'novel_0', '{:.0f}')} "
            f"| {g(r, 'frechet_0', '{:.0f}')} | {g(r, 'recall_0')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
