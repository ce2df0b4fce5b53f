"""Time to quality: the "fast" preset against the paper's recipe, side by side on the same machine.

    python -m bench.time_to_quality [--scale 1.0] [--device cpu]

Both train the paper's MNIST network (L=10 H=500 Tanh, same seed and initial weights) on all 60,000
digits. The paper recipe (Adam 1e-4, constant, batch 1000, 10,000 steps) runs first; its final best
evaluation loss is the quality bar. Then the fast preset (Adam 1e-3, 400 warm-up steps, cosine decay,
batch 256, 8,000 steps) runs, and the time it first reaches the bar (evaluation loss on the same fixed 1000-digit subset, checked
every 50 steps) is compared with the paper recipe's whole wall time; the fast run stops there. Target: ≤ 0.25.
--scale shortens both runs (0.1: 1,000 and 800 steps) for a smoke test; the numbers then mean little.
Takes ~17 min at scale 1 on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math

from bench._rows import add_json_option, finish, row
from kgn_gui.core.data.mnist import load_mnist
from kgn_gui.core.model.recipes import recipe_for
from kgn_gui.core.model.train import Trainer


def run(ds, preset: str, scale: float, device: str, eval_every: int, bar: float | None = None):
    r = recipe_for("mnist", preset)
    steps = max(2, round(r.steps * scale))
    r = r.with_overrides(steps=steps, warmup=min(round(r.warmup * scale), steps - 1))
    cfg = r.train_config(device=device, eval_every=eval_every, report_interval_s=0.0)
    tr = Trainer(r.spec(ds.D, ds.shape), ds, cfg)
    reached = math.inf
    for ev in tr.events():
        if bar is not None and ev.best_loss <= bar and not math.isfinite(reached):
            reached = ev.elapsed_s
            tr.stop()  # the bar is reached: the rest of the run does not change the answer
    return tr, reached


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--device", default="cpu")
    add_json_option(ap)
    args = ap.parse_args(argv)
    ds = load_mnist("train", (-1.0, 1.0))
    paper, _ = run(ds, "paper", args.scale, args.device, eval_every=100)
    bar = paper.best_loss
    print(
        f"paper recipe: {paper.step} steps, {paper.elapsed_s:.0f} s, final best evaluation loss {bar:.4e}", flush=True
    )
    fast, reached = run(ds, "fast", args.scale, args.device, eval_every=50, bar=bar)
    print(f"fast preset:  reached {bar:.4e} after {reached:.0f} s ({fast.step} steps, best {fast.best_loss:.4e})")
    print(f"ratio (fast's time to the paper's loss / paper's time): {reached / paper.elapsed_s:.3f} (target ≤ 0.25)")
    return finish(
        [
            row(
                "time to the paper recipe's final loss, fast preset, s",
                reached,
                paper.elapsed_s,
                unit="s",
                baseline_is="the paper recipe's whole run",
                target="≤ 0.25",
            )
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
