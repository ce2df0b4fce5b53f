"""Timeline: how fast a scrub reaches any step of a long history, and what a replayed step costs.

    python -m bench.timeline_jump [--steps 10000] [--chains 256] [--jumps 40] [--long-steps 100000] [--device cpu]

The history is the window's (core.timeline with its disk tier, core.keyframes): RAM budget 300 MB, keyframes
on disk in a temporary cache folder with the default disk budget. It runs --chains MNIST chains --steps
steps, then jumps to --jumps random steps, each *cold*: the replay cache and the RAM keyframes emptied and
the keyframe file dropped from the OS page cache, so every jump reads its keyframe from disk and replays.
Each jump is timed twice: the first frame (the nearest stored state, what the window shows at once) and the
exact state. Rows:

* ``timeline exact cold jump p95, …`` — baseline: the mean replay distance × one bare f(x), the least that
  exact replay from keyframes K apart can cost; target ≤ 150 ms for 10,000 steps;
* ``timeline first frame p95, …`` — baseline: one bare f(x); target ≤ 50 ms;
* ``replayed step / bare f(x), …`` — one replayed step (the keyframe read shared out) against one bare
  f(x) of the same chains, timed in alternation (the machine's noise hits both); target ≤ 1.2×;
* the same two jump rows for a --long-steps history, run over fewer steps with the disk budget scaled so
  that the keyframe interval is the one the real length gets (targets: first frame ≤ 50 ms, exact ≤ 1 s);
* ``timeline RAM, …`` — the most RAM the history took (a warm scrub over the first 4,000 steps, then the
  jumps), against its 300 MB budget.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench._rows import add_json_option, finish, row
from kgn_gui.core.chain.chain import Chain, ChainConfig, start_states
from kgn_gui.core.chain.keyframes import DEFAULT_DISK_BYTES, open_store
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.timeline import DEFAULT_BUDGET_BYTES, DISK_KEYFRAME_EVERY, Timeline
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.model.train import resolve_device

ROOT = Path(__file__).resolve().parents[1]


def keyframe_interval(steps: int, slots: int, k0: int = DISK_KEYFRAME_EVERY) -> int:
    """K that a timeline with a disk tier of ``slots`` states settles on after ``steps`` steps."""
    k = k0
    while steps // k + 1 > slots:
        k *= 2
    return k


def cold(tl: Timeline) -> None:
    """Nothing of the history at hand but step 0 and the head: the next jump reads from disk and replays."""
    tl._cache.clear()
    for k in [k for k in tl.keyframes if k != 0]:
        del tl.keyframes[k]
    if tl.disk is not None:
        tl.disk.drop_os_cache()


def jumps(tl: Timeline, n: int, seed: int, peak: list[int]) -> tuple[list[float], list[float]]:
    """(first-frame ms, exact ms) for n cold jumps to random steps; ``peak[0]``: the most RAM the history took."""
    rng = np.random.default_rng(seed)
    first, exact = [], []
    for t in rng.integers(0, tl.t_max, size=n):
        cold(tl)
        t0 = time.perf_counter()
        tl.nearest(int(t))
        t1 = time.perf_counter()
        tl.state(int(t))
        t2 = time.perf_counter()
        peak[0] = max(peak[0], tl.memory_bytes)
        first.append((t1 - t0) * 1000)
        exact.append((t2 - t0) * 1000)
    return first, exact


def replay_ratio(tl: Timeline, model, x: torch.Tensor, rounds: int) -> tuple[float, float]:
    """(ms a replayed step, ms a bare f(x)), medians over alternating rounds of K − 1 steps each."""
    K = tl.K
    keys = [k for k in range(0, tl.t_max - K, K)]
    rng = np.random.default_rng(1)
    rep, bare = [], []
    with torch.no_grad():
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(K - 1):
                model(x)
            bare.append((time.perf_counter() - t0) * 1000 / (K - 1))
            k = int(rng.choice(keys))
            cold(tl)
            t0 = time.perf_counter()
            tl.state(k + K - 1)
            rep.append((time.perf_counter() - t0) * 1000 / (K - 1))
    return float(np.median(rep)), float(np.median(bare))


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--chains", type=int, default=256)
    ap.add_argument("--jumps", type=int, default=40)
    ap.add_argument(
        "--long-steps", type=int, default=100_000, help="the long history the second pair of rows scales to"
    )
    ap.add_argument("--rounds", type=int, default=15, help="alternating rounds of the replay-cost row")
    ap.add_argument("--device", default="cpu")
    add_json_option(ap)
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    ck = load_checkpoint(ROOT / "models" / "mnist.safetensors", device=dev)
    N, D = args.chains, ck.spec.D
    state_bytes = N * D * 4
    chain = Chain(ck.model, ck.value_range, Sampler.PAPER, 0, dev)
    x0 = start_states(ChainConfig(n=N), D, ck.value_range, device=dev)
    root = Path(tempfile.mkdtemp(prefix="kgn-bench-history-"))
    try:
        # The history of --steps steps, as the window keeps it.
        store = open_store((N, D), budget_bytes=DEFAULT_DISK_BYTES, root=root)
        if store is None:
            raise SystemExit(
                f"no disk tier: {root} is not writable or has under {4 * DEFAULT_DISK_BYTES >> 30} GB free"
            )
        tl = Timeline(chain, x0.clone(), budget_bytes=DEFAULT_BUDGET_BYTES, disk=store)
        t0 = time.perf_counter()
        tl.advance(args.steps)
        step_ms = (time.perf_counter() - t0) * 1000 / args.steps
        peak = [tl.memory_bytes]
        # Scrubbing warm first (every step of a stretch, as a drag does) fills the replay cache to its bound.
        for t in range(0, min(args.steps, 4000), 7):
            tl.state(t)
            peak[0] = max(peak[0], tl.memory_bytes)
        first, exact = jumps(tl, args.jumps, seed=0, peak=peak)
        rep_ms, bare_ms = replay_ratio(tl, ck.model, x0, args.rounds)
        K, disk_mb, ram_mb = tl.K, tl.disk_bytes / 2**20, peak[0] / 2**20
        f95, e95 = np.percentile(first, 95), np.percentile(exact, 95)
        floor = bare_ms * (K - 1) / 2
        tl.close()
        # The long history, scaled: a disk budget that gives the keyframe interval --long-steps get.
        slots = DEFAULT_DISK_BYTES // state_bytes
        K_long = keyframe_interval(args.long_steps, slots)
        steps_b = min(args.long_steps, max(4 * K_long, min(args.steps, 30 * K_long)))
        store_b = open_store((N, D), budget_bytes=(steps_b // K_long + 1) * state_bytes, root=root)
        tl_b = Timeline(chain, x0.clone(), budget_bytes=DEFAULT_BUDGET_BYTES, disk=store_b)
        tl_b.advance(steps_b)
        assert tl_b.K == K_long, (tl_b.K, K_long)
        first_b, exact_b = jumps(tl_b, args.jumps, seed=1, peak=[0])
        fb95, eb95 = np.percentile(first_b, 95), np.percentile(exact_b, 95)
        tl_b.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"device {dev}, {N} chains, {args.steps} steps ({step_ms:.1f} ms a step while running; bare f(x) "
        f"{bare_ms:.1f} ms), keyframe every {K} steps; disk {disk_mb:.0f} MB, RAM at most {ram_mb:.0f} MB"
    )
    print(f"cold jump: first frame p95 {f95:.1f} ms, exact p95 {e95:.0f} ms (median {np.median(exact):.0f} ms)")
    print(f"replayed step {rep_ms:.1f} ms vs bare f(x) {bare_ms:.1f} ms: {rep_ms / bare_ms:.2f}×")
    print(
        f"{args.long_steps:,} steps (scaled: {steps_b} steps at K = {K_long}): first frame p95 {fb95:.1f} ms, "
        f"exact p95 {eb95:.0f} ms"
    )
    name = f"{N} MNIST chains, {args.steps:,} steps"
    long_name = f"{N} MNIST chains, {args.long_steps:,} steps (K = {K_long}, scaled)"
    return finish(
        [
            row(
                f"timeline exact cold jump p95, {name}, ms",
                e95,
                floor,
                unit="ms",
                baseline_is=f"(K − 1)/2 bare steps, K = {K}: the exact-replay floor",
                target="≤ 150 ms",
            ),
            row(
                f"timeline first frame p95, {name}, ms",
                f95,
                bare_ms,
                unit="ms",
                baseline_is="one bare f(x)",
                target="≤ 50 ms",
            ),
            row(
                f"replayed step / bare f(x), {N} MNIST chains, ms",
                rep_ms,
                bare_ms,
                unit="ms",
                baseline_is="one bare f(x), alternating rounds",
                target="≤ 1.2×",
            ),
            row(
                f"timeline exact cold jump p95, {long_name}, ms",
                eb95,
                bare_ms * (K_long - 1) / 2,
                unit="ms",
                baseline_is=f"(K − 1)/2 bare steps, K = {K_long}",
                target="≤ 1000 ms",
            ),
            row(
                f"timeline first frame p95, {long_name}, ms",
                fb95,
                bare_ms,
                unit="ms",
                baseline_is="one bare f(x)",
                target="≤ 50 ms",
            ),
            row(
                f"timeline RAM, {name}, MB",
                ram_mb,
                DEFAULT_BUDGET_BYTES / 2**20,
                unit="MB",
                baseline_is="the history's RAM budget",
                target="≤ 300 MB",
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
