"""Export speed: 300 frames of an 8×8 MNIST grid at 4× scale (932×932), bundled model.

    python -m bench.export_speed [--frames 300] [--repeat 3]

The baseline, measured in the same run, is computing and composing the same frames without encoding
them (the chain and the drawing); each format's line shows its total time (median and best of
--repeat runs: shared machines are noisy), the time the encoder added to the median, and the ratio
median / target (targets on CPU: GIF ≤ 3 s, MP4 ≤ 2 s; a ratio ≤ 1 meets them).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench._rows import add_json_option, finish, row
from kgn_gui.core.chain import ChainConfig
from kgn_gui.core.checkpoint import load_checkpoint
from kgn_gui.core.export import ExportOptions, chain_frames, export_chain

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"gif": 3.0, "mp4": 2.0, "apng": None, "webm": None, "png": None}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    add_json_option(ap)
    args = ap.parse_args(argv)
    ck = load_checkpoint(ROOT / "models" / "mnist.safetensors")
    cfg = ChainConfig(n=64, noise="normal", eps=0.01, seed=0)
    steps = list(range(args.frames))
    t0 = time.perf_counter()
    for _ in chain_frames(ck.model, ck.spec, cfg, steps, ExportOptions(scale=4)):
        pass
    base = time.perf_counter() - t0
    print(f"{args.frames} frames of 64 MNIST chains at 4× (932×932); frames alone (chain + drawing): {base:.2f} s")
    print(f"{'format':6s} {'median s':>8s} {'best s':>7s} {'encoding s':>10s} {'target s':>8s} {'ratio':>6s}")
    out = []
    with tempfile.TemporaryDirectory() as d:
        for fmt in ("gif", "mp4", "webm", "apng", "png"):
            times = []
            for k in range(args.repeat):
                t0 = time.perf_counter()
                export_chain(ck.model, ck.spec, cfg, steps, Path(d) / f"out_{fmt}_{k}", ExportOptions(fmt=fmt, scale=4))
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            tgt = TARGETS[fmt]
            ratio = f"{med / tgt:6.2f}" if tgt else "     -"
            print(f"{fmt:6s} {med:8.2f} {min(times):7.2f} {med - base:10.2f} {tgt or '-':>8} {ratio}", flush=True)
            out.append(
                row(
                    f"export {args.frames} frames as {fmt.upper()}, s (median)",
                    med,
                    base,
                    unit="s",
                    baseline_is="the same frames, not encoded",
                    target=f"≤ {tgt:g} s" if tgt else "",
                )
            )
    return finish(out, args.json)


if __name__ == "__main__":
    main()
