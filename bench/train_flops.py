"""Trainer arithmetic rate against plain matrix products of the same shapes (same run, same device).

    python -m bench.train_flops [--steps 30] [--device cpu] [--batch 1000]

The paper's MNIST recipe (MLP L=10 H=500, batch 1000). A training step costs ~6 × parameters × batch
floating-point operations (2 for the forward pass, 4 for the backward pass); the trainer's FLOP/s is
that over its measured step time. The baseline runs only the 3 matrix products per layer that the step
needs (forward x·Wᵀ, input gradient, weight gradient) on tensors of the same shapes, counted the same way
(6 × weights × batch). The ratio says how much of the machine's matmul rate training keeps for the rest
(bias, ReLU, Tanh, loss, Adam, batch draw). Target: ≥ 0.85 on the CPU.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench._rows import add_json_option, finish, row
from kgn_gui.core.data.mnist import load_mnist
from kgn_gui.core.model.architectures import paper_mnist_spec, spec_parameter_count
from kgn_gui.core.model.train import TrainConfig, Trainer, resolve_device


def matmul_seconds(shapes: list[tuple[int, int]], batch: int, steps: int, dev: torch.device) -> float:
    """Seconds per step of the forward and backward matrix products of Linear layers (in, out)."""
    ts = [
        (torch.randn(batch, i, device=dev), torch.randn(o, i, device=dev), torch.randn(batch, o, device=dev))
        for i, o in shapes
    ]

    def one():
        for x, w, g in ts:
            torch.mm(x, w.t())  # forward
            torch.mm(g, w)  # grad wrt input
            torch.mm(g.t(), x)  # grad wrt weight

    one()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def trainer_seconds(ds, batch: int, steps: int, dev: torch.device) -> float:
    spec = paper_mnist_spec()
    tr = Trainer(
        spec,
        ds,
        TrainConfig(lr=1e-4, batch=batch, steps=steps + 3, device=str(dev), eval_every=10**6, report_interval_s=0.0),
    )
    t0 = None
    for ev in tr.events():
        if ev.step >= 3 and t0 is None:  # after warm-up
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0, s0 = time.perf_counter(), ev.step
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (tr.step - s0)


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="alternate the two this many times; best of each")
    ap.add_argument("--device", default="cpu")
    add_json_option(ap)
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    ds = load_mnist("train", (-1.0, 1.0))
    spec = paper_mnist_spec()
    shapes = [(spec.D, spec.H)] + [(spec.H, spec.H)] * (spec.L - 1) + [(spec.H, spec.D)]
    weights = sum(i * o for i, o in shapes)
    t_mm, t_tr = [], []
    for _ in range(args.rounds):
        t_mm.append(matmul_seconds(shapes, args.batch, args.steps, dev))
        t_tr.append(trainer_seconds(ds, args.batch, args.steps, dev))
    mm = 6 * weights * args.batch / min(t_mm)
    tr = 6 * spec_parameter_count(spec) * args.batch / min(t_tr)
    print(
        f"device {dev}, torch threads {torch.get_num_threads()}, MNIST recipe B={args.batch} L=10 H=500, "
        f"best of {args.rounds} × {args.steps} steps"
    )
    print(f"matrix products alone: {mm / 1e9:8.1f} GFLOP/s ({1000 * min(t_mm):.1f} ms per step)")
    print(f"kgn trainer:           {tr / 1e9:8.1f} GFLOP/s ({1000 * min(t_tr):.1f} ms per step)")
    print(f"ratio: {tr / mm:.3f} (target ≥ 0.85)")
    return finish(
        [
            row(
                f"trainer GFLOP/s, paper MNIST recipe on {dev.type}",
                tr / 1e9,
                mm / 1e9,
                unit="GFLOP/s",
                baseline_is="the step's matrix products alone",
                target="≥ 0.85",
            )
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
