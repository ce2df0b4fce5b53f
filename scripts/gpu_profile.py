"""Where a CUDA training step of the paper's MNIST recipe spends its time (run on a GPU machine).

    python scripts/gpu_profile.py

Prints the kernels of 20 eager steps by GPU time (torch.profiler), then the captured-graph step timed
with and without its index draw, against the step's matrix products alone (fp32 and TF32).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kgn_gui.core.data.mnist import load_mnist  # noqa: E402
from kgn_gui.core.model.architectures import build_model, paper_mnist_spec  # noqa: E402
from kgn_gui.core.model.train import _GraphStep, _make_adam, _matmul_precision, manifold_loss  # noqa: E402


def timed(fn, n=300) -> float:
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n * 1000


def main() -> None:
    dev = torch.device("cuda")
    X = torch.from_numpy(load_mnist("train", (-1.0, 1.0)).x).to(dev)
    spec = paper_mnist_spec()
    B = 1000
    for precision in ("fp32", "tf32"):
        with _matmul_precision(dev, precision):
            model = build_model(spec, seed=0).to(dev)
            opt = _make_adam(model.parameters(), 1e-4, (0.9, 0.999), dev)
            gen = torch.Generator(device="cuda")
            gen.manual_seed(0)

            def eager():
                xb = X[torch.randperm(X.shape[0], generator=gen, device=dev)[:B]]
                opt.zero_grad(set_to_none=True)
                loss = manifold_loss(model, xb)
                loss.backward()
                opt.step()

            if precision == "fp32":
                for _ in range(5):
                    eager()
                from torch.profiler import ProfilerActivity, profile

                with profile(activities=[ProfilerActivity.CUDA]) as prof:
                    for _ in range(20):
                        eager()
                    torch.cuda.synchronize()
                print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=70))
            t_eager = timed(eager)
            m2 = build_model(spec, seed=0).to(dev)
            opt2 = _make_adam(m2.parameters(), 1e-4, (0.9, 0.999), dev, capturable=True)
            g = _GraphStep(m2, opt2, X, B, precision)
            t_graph = timed(lambda: g(gen))
            t_replay = timed(g.graph.replay)
            t_perm = timed(lambda: torch.randperm(X.shape[0], generator=gen, device=dev, out=g.perm))
            layers = [(784, 500)] + [(500, 500)] * 9 + [(500, 784)]
            ts = [
                (
                    torch.randn(B, i, device=dev),
                    torch.randn(o, i, device=dev),
                    torch.randn(B, o, device=dev),
                    torch.randn(o, device=dev),
                )
                for i, o in layers
            ]

            def mm():
                for x, w, gr, b in ts:
                    torch.mm(x, w.t())
                    torch.mm(gr, w)
                    torch.mm(gr.t(), x)

            def addmm():
                for x, w, gr, b in ts:
                    torch.addmm(b, x, w.t())
                    torch.mm(gr, w)
                    torch.mm(gr.t(), x)

            print(
                f"{precision}: eager step {t_eager:.3f} ms | graph step {t_graph:.3f} ms (replay alone {t_replay:.3f}, "
                f"randperm alone {t_perm:.3f}) | matmuls alone {timed(mm):.3f} ms, with addmm {timed(addmm):.3f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
