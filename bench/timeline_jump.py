"""Timeline: memory and jump latency for 256 MNIST chains, scaled from a 100,000-step history in 300 MB.

    python -m bench.timeline_jump [--steps 4000] [--jumps 20] [--chains 256] [--device cpu]

A history of S steps in B bytes keeps one keyframe every K steps (K doubles as the run grows; see
core.timeline); a jump to step t replays t − keyframe(t) < K steps. For a 100,000-step run in 300 MB
that is K = 640 for 256 MNIST chains (0.8 MB a state): this benchmark gives the timeline the budget that
yields the same K over --steps, runs the chains that far, then jumps to --jumps random steps with an
empty replay cache and reports the 50th/95th percentile jump time and the history's memory. Baseline
(same run): one bare step f(x) of the 256 chains, times the mean replay distance (K/2) — the least that
exact replay from keyframes can cost. Target (issue 8): ≤ 150 ms at the 95th percentile.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench._rows import add_json_option, finish, row
from kgn_gui.core.chain import Chain, ChainConfig, start_states
from kgn_gui.core.checkpoint import load_checkpoint
from kgn_gui.core.timeline import Timeline
from kgn_gui.core.train import resolve_device

ROOT = Path(__file__).resolve().parents[1]


def keyframe_interval(steps: int, budget: int, state_bytes: int, k0: int = 10) -> int:
    """K that the timeline settles on after ``steps`` steps in ``budget`` bytes."""
    k, max_kf = k0, max(2, (budget // 2) // state_bytes - 1)
    while steps // k + 1 > max_kf:
        k *= 2
    return k


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--jumps", type=int, default=20)
    ap.add_argument("--chains", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    add_json_option(ap)
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    ck = load_checkpoint(ROOT / "models" / "mnist.safetensors", device=dev)
    state_bytes = args.chains * ck.spec.D * 4
    K = keyframe_interval(100_000, 300 << 20, state_bytes)
    # The budget that gives the same K over --steps: as many keyframes as fit for steps / K.
    budget = 2 * (args.steps // K + 2) * state_bytes
    chain = Chain(ck.model, ck.value_range, "normal", 0.01, 0, dev)
    x0 = start_states(ChainConfig(n=args.chains), ck.spec.D, ck.value_range, device=dev)
    tl = Timeline(chain, x0, keyframe_every=10, budget_bytes=budget)
    t0 = time.perf_counter()
    tl.advance(args.steps)
    run_s = time.perf_counter() - t0
    step_s = run_s / args.steps
    rng = np.random.default_rng(0)
    times = []
    for t in rng.integers(0, args.steps, size=args.jumps):
        tl._cache.clear()  # a cold jump: nothing replayed near it yet
        t1 = time.perf_counter()
        tl.state(int(t))
        times.append(time.perf_counter() - t1)
    p50, p95 = np.percentile(times, [50, 95]) * 1000
    floor = step_s * (tl.K / 2) * 1000
    print(
        f"device {dev}, {args.chains} chains, {args.steps} steps ({1000 * step_s:.1f} ms a step), keyframe every "
        f"{tl.K} steps (100,000 steps in 300 MB give {K}); history {tl.memory_bytes / 2**20:.0f} MB here"
    )
    print(
        f"cold jump: median {p50:.0f} ms, 95th percentile {p95:.0f} ms (target ≤ 150 ms); "
        f"exact-replay floor K/2 bare steps = {floor:.0f} ms"
    )
    return finish(
        [
            row(
                f"timeline cold jump p95, {args.chains} MNIST chains, K = {tl.K}, ms",
                p95,
                floor,
                unit="ms",
                baseline_is="K/2 bare steps (the exact-replay floor)",
                target="≤ 150 ms",
            )
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
