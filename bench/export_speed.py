"""Export speed: 300 frames of an 8×8 MNIST grid at 4× scale (932×932), bundled model.

    python -m bench.export_speed [--frames 300] [--repeat 3]

The baseline, measured in the same run, is computing and composing the same frames without encoding
them (the chain and the drawing); each format's line shows its total time (median and best of
--repeat runs: shared machines are noisy), the time the encoder added to the median, and the ratio
median / target (targets on CPU: GIF ≤ 3 s, MP4 ≤ 2 s; a ratio ≤ 1 meets them).

Then GIF sizes: 16 MNIST chains at 4×, the same frames written two ways in this run: each frame whole (the
encoding before frame differencing: the baseline) and as written now (only the changed rectangle, unchanged
grey pixels transparent when few changed); ratio = now / whole, so < 1/3 is "at least 3× smaller". Once with
the CLI's default noise (ε = 0.01: about half the pixels change a level or two every step) and once for a
noise-free chain past its first 100 steps.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench._rows import add_json_option, finish, row
from kgn_gui.core.chain.chain import ChainConfig
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.export.animation import export_chain
from kgn_gui.core.export.gif import write_gif
from kgn_gui.core.export.mosaic import chain_frames
from kgn_gui.core.export.options import ExportOptions
from kgn_gui.core.model.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"gif": 3.0, "mp4": 2.0, "apng": None, "webm": None, "png": None}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    add_json_option(ap)
    args = ap.parse_args(argv)
    ck = load_checkpoint(ROOT / "models" / "mnist.safetensors")
    cfg = ChainConfig(n=64, seed=0, sampler=Sampler(noise="normal", eps=0.01))
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
        out += gif_size_rows(ck, Path(d))
    return finish(out, args.json)


def gif_size_rows(ck, folder: Path) -> list[dict]:
    """GIF bytes of the same frames, whole (the baseline) and as written now (the default grey hold of 3
    levels, and exact frames, gif_hold 0)."""
    rows = []
    noisy = ChainConfig(n=16, seed=0, sampler=Sampler(noise="normal", eps=0.01))
    cases = (
        ("ε = 0.01 noise, steps 0…100", noisy, range(0, 101), 3),
        ("ε = 0.01 noise, steps 0…100, exact (--gif-hold 0)", noisy, range(0, 101), 0),
        (
            "no noise, steps 100…160",
            ChainConfig(n=16, seed=0, sampler=Sampler(noise="none", eps=0.0)),
            range(100, 161),
            3,
        ),
    )
    for what, cfg, steps, hold in cases:
        opts = ExportOptions(fmt="gif", scale=4, grey=True, gif_hold=hold)
        frames = list(chain_frames(ck.model, ck.spec, cfg, list(steps), opts))
        whole = write_gif(iter(frames), folder, opts, len(frames), whole_frames=True).stat().st_size
        now = write_gif(iter(frames), folder, opts, len(frames)).stat().st_size
        print(f"GIF of 16 chains, {what}: {whole:,} bytes whole → {now:,} bytes ({whole / now:.2f}× smaller)")
        rows.append(
            row(
                f"GIF size, 16 MNIST chains at 4×, {what}, bytes",
                now,
                whole,
                unit="bytes",
                baseline_is="the same frames, each written whole and exact",
                target="≤ 1/3 of whole",
            )
        )
    return rows


if __name__ == "__main__":
    main()
