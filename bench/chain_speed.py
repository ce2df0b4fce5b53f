"""Chain throughput in sample-steps/s for N = 64, 1024 and 65536 chains of the bundled MNIST model.

    python -m bench.chain_speed [--seconds 2] [--device cpu] [--sizes 64,1024,65536] [--tf32]

For each N the chain's own step (f, then ε·noise regenerated from (seed, t), then the clamp) runs against
the bare loop x = f(x) under torch.no_grad() on the same device (the baseline, measured in the same run):
the ratio is what the noise and the clamp cost. Each runs for about --seconds (at least 2 steps).
--tf32 (CUDA) lets both use the tensor cores' TF32 mode for their float32 matrix products.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench._rows import add_json_option, finish, row
from kgn_gui.core.chain.chain import Chain
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.model.train import resolve_device

ROOT = Path(__file__).resolve().parents[1]


def rate(step, x: torch.Tensor, seconds: float, dev: torch.device) -> float:
    x = step(x, 0)  # warm-up
    n, t0 = 0, time.perf_counter()
    while True:
        x = step(x, n + 1)
        n += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        el = time.perf_counter() - t0
        if n >= 2 and el >= seconds:
            return n * x.shape[0] / el


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="64,1024,65536")
    ap.add_argument("--tf32", action="store_true", help="TF32 matrix products on CUDA (both sides)")
    add_json_option(ap)
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    if args.tf32:
        torch.set_float32_matmul_precision("high")
    mode = ", TF32" if args.tf32 and dev.type == "cuda" else ""
    ck = load_checkpoint(ROOT / "models" / "mnist.safetensors", device=dev)
    chain = Chain(ck.model, ck.value_range, Sampler.PAPER, 0, dev)

    @torch.no_grad()
    def bare(x, t):
        return ck.model(x)

    rows = []
    print(f"device {dev}, torch threads {torch.get_num_threads()}, bundled MNIST model (3.04 M parameters)")
    print(f"{'chains':>7s} {'chain steps':>14s} {'bare f(x)':>14s} {'ratio':>6s}   (sample-steps/s)")
    for n in (int(s) for s in args.sizes.split(",")):
        x = torch.rand(n, ck.spec.D, device=dev) * 2 - 1
        base = rate(bare, x.clone(), args.seconds, dev)
        ours = rate(chain.step, x.clone(), args.seconds, dev)
        print(f"{n:7d} {ours:14,.0f} {base:14,.0f} {ours / base:6.2f}", flush=True)
        rows.append(
            row(
                f"chain sample-steps/s, N = {n} on {dev.type}{mode}",
                ours,
                base,
                unit="sample-steps/s",
                baseline_is="bare x = f(x)",
            )
        )
    return finish(rows, args.json)


if __name__ == "__main__":
    main()
