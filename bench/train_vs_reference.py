"""Our trainer vs a faithful re-implementation of the published training loop, same process.

The paper's MNIST recipe: all 60,000 training digits in [−1, 1], MLP L=10 H=500 Tanh,
Adam lr 1e-4, one random minibatch of 1000 per step. The reference loop does what the
published code does each step: draws the indices with numpy on the host
(``np.random.choice(M, B, replace=False)``), zero_grad, forward, MSE, backward, Adam step,
reads the loss back (``loss.item()``), and every 100 steps deep-copies the model if the
minibatch loss improved. Both run fp32 on the same device from the same initial weights,
alternating in rounds so that machine noise hits both alike; both timings include copying the data set to
the device (on a GPU that is ~20 ms, so use ≥ 1000 steps there).

    python -m bench.train_vs_reference [--steps 150] [--rounds 3] [--device cpu] [--variants fp32,bf16,...]

Prints steps/s of each and the ratio ours / reference (target on CPU: ≥ 1.0; on CUDA: ≥ 5 at the same
fp32 math). On CUDA the trainer also runs as variants, each against the same reference: ``fp32`` (the
default: captured CUDA graph step), ``fp32-eager`` (no graph), ``tf32`` and ``bf16`` (opt-in precisions).
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch import nn

from bench._rows import add_json_option, finish, row
from kgn_gui.core.data.mnist import load_mnist
from kgn_gui.core.model.architectures import build_model, paper_mnist_spec
from kgn_gui.core.model.train import TrainConfig, Trainer, resolve_device


def reference_model(state: dict) -> nn.Module:
    """The published network: Linear/ReLU() layers (not in-place) and Tanh, with the given weights."""
    layers: list[nn.Module] = [nn.Linear(784, 500), nn.ReLU()]
    for _ in range(9):
        layers += [nn.Linear(500, 500), nn.ReLU()]
    layers += [nn.Linear(500, 784), nn.Tanh()]
    model = nn.Sequential(*layers)
    model.load_state_dict({k.removeprefix("net."): v for k, v in state.items()})
    return model


def reference_loop(model: nn.Module, data: np.ndarray, steps: int, lr: float, batch: int) -> float:
    """The published loop; returns seconds taken, counting the copy of the data to the device (as the
    trainer's time does)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    mse = nn.MSELoss()
    min_loss, kept = np.inf, [None]  # the published code keeps a deep copy of the best model
    dev = next(model.parameters()).device
    t0 = time.perf_counter()
    X = torch.from_numpy(data).to(dev)
    for e in range(steps):
        xb = X[np.random.choice(len(X), batch, replace=False)]
        opt.zero_grad()
        loss = mse(model(xb), xb)
        loss.backward()
        opt.step()
        loss = loss.detach().cpu().numpy()
        if e % 100 == 99 and loss < min_loss:
            kept[0], min_loss = copy.deepcopy(model), loss
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


VARIANTS = {"fp32": {}, "fp32-eager": {"graphs": False}, "tf32": {"precision": "tf32"}, "bf16": {"precision": "bf16"}}


def ours(model: nn.Module, ds, steps: int, lr: float, batch: int, device: str, variant: str = "fp32") -> float:
    tr = Trainer(
        paper_mnist_spec(),
        ds,
        TrainConfig(lr=lr, batch=batch, steps=steps, device=device, report_interval_s=1.0, **VARIANTS[variant]),
        model=model,
    )
    t0 = time.perf_counter()
    for _ in tr.events():
        pass
    if tr.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=150, help="steps per round for each loop")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--variants",
        default=None,
        help=f"comma-separated, of {', '.join(VARIANTS)} (default: fp32 on the CPU, all on CUDA)",
    )
    add_json_option(ap)
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    variants = (args.variants or ("fp32" if dev.type != "cuda" else ",".join(VARIANTS))).split(",")
    if set(variants) - set(VARIANTS):
        ap.error(f"unknown variant(s) {', '.join(sorted(set(variants) - set(VARIANTS)))}")
    ds = load_mnist("train", (-1.0, 1.0))
    spec = paper_mnist_spec()
    init = build_model(spec, seed=0).state_dict()
    t_ref, t_ours = 0.0, dict.fromkeys(variants, 0.0)

    def run_ours(v):
        m = build_model(spec).to(dev)
        m.load_state_dict(init)
        t_ours[v] += ours(m, ds, args.steps, 1e-4, 1000, str(dev), v)

    for r in range(args.rounds):
        # Alternate which goes first, so warm-up and drift do not favour one side.
        if r % 2 == 0:
            t_ref += reference_loop(reference_model(init).to(dev), ds.x, args.steps, 1e-4, 1000)
        for v in variants:
            run_ours(v)
        if r % 2 == 1:
            t_ref += reference_loop(reference_model(init).to(dev), ds.x, args.steps, 1e-4, 1000)
    n = args.steps * args.rounds
    ref_sps = n / t_ref
    print(
        f"device {dev}, torch threads {torch.get_num_threads()}, {args.rounds} rounds × {args.steps} steps, "
        f"MNIST recipe B=1000 L=10 H=500"
    )
    print(
        f"reference loop:       {ref_sps:9.2f} steps/s ({ref_sps * 1000:,.0f} samples/s, "
        f"{1000 / ref_sps:.3f} ms per step)"
    )
    rows = []
    for v in variants:
        sps = n / t_ours[v]
        print(
            f"kgn trainer {v:10s}: {sps:9.2f} steps/s ({sps * 1000:,.0f} samples/s, {1000 / sps:.3f} ms per step); "
            f"ratio {sps / ref_sps:.3f}"
        )
        target = ("≥ 5" if v == "fp32" else "") if dev.type == "cuda" else "≥ 1.0"
        label = "" if v == "fp32" and dev.type != "cuda" else f", {v}"
        rows.append(
            row(
                f"paper MNIST recipe on {dev.type}{label}, steps/s",
                sps,
                ref_sps,
                unit="steps/s",
                baseline_is="the published loop",
                target=target,
            )
        )
    return finish(rows, args.json)


if __name__ == "__main__":
    main()
