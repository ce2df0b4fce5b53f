"""Experiments that scale: the data cache, two local workers against one, and what Ray adds to a trial.

    python -m bench.experiments [--images 20000] [--sweep-steps 600] [--ray-trials 6]

* **Image folder re-open / first import.** ``--images`` grey 28 × 28 PNGs (random pixels) in 10 class
  folders, opened by ``core.data.sources.open_source`` with an empty data cache (decoded, then written to
  the cache) and again (listed, checked, mapped). Target ≤ 0.3.
* **Sweep trials/s, 2 workers vs 1.** The same depth sweep (MNIST subset of 2,000, H = 256, depths 2 and 4,
  seeds 0 and 1: four trials of ≥ 10 s on 2 cores at the default ``--sweep-steps``) run by ``run_sweep``
  in this process (one trial at a time, torch on every core) and on the local engine with 2 workers (one
  core each). Target ≥ 1.6× on 2 cores.
* **Ray overhead per trial.** ``--ray-trials`` trials of one small sweep (two 1-d points) one at a time on
  a local Ray (started before the clock runs; its start is its own row) against the same trials in this
  process: (Ray's wall time − this process's) / trials. Target ≤ 2 s. Skipped without the cluster extra.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._rows import add_json_option, finish, row


def _pngs(folder: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(n):
        cls = folder / f"c{k % 10}"
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(cls / f"{k:06}.png")


def cache_rows(n: int) -> list[dict]:
    from kgn_gui.core.data.sources import open_source

    with tempfile.TemporaryDirectory() as tmp:
        folder, cache = Path(tmp) / "pngs", Path(tmp) / "cache"
        _pngs(folder, n)
        os.environ["KGN_CACHE"] = str(cache)
        t0 = time.perf_counter()
        first = open_source(str(folder), (-1.0, 1.0))
        t1 = time.perf_counter()
        again = open_source(str(folder), (-1.0, 1.0))
        t2 = time.perf_counter()
        assert np.array_equal(first.x, again.x)
        on_disk = sum(f.stat().st_size for e in cache.iterdir() for f in e.iterdir())
    print(f"{n} PNGs: first import {t1 - t0:.2f} s, re-open {t2 - t1:.3f} s, cache {on_disk / 1e6:.1f} MB")
    return [
        row(
            f"image folder re-open ({n:,} PNGs, mapped from the cache)",
            t2 - t1,
            t1 - t0,
            unit="s",
            baseline_is="first import, decoded",
            target="≤ 0.3×",
        ),
        row(f"data cache on disk, bytes per pixel ({n:,} images of 28×28)", on_disk / (n * 784), unit="B"),
    ]


def _sweep_cfg(steps: int):
    from kgn_gui.core.experiment.sweep import SweepConfig

    return SweepConfig(
        source="mnist", depths=(2, 4), H=256, steps=steps, subset=2000, seeds=(0, 1), chains=64,
        sample_steps=50, audit=0, sigmas=(), batch=256,
    )  # fmt: skip


def workers_rows(steps: int) -> list[dict]:
    from kgn_gui.core.experiment.sweep import run_sweep

    cfg = _sweep_cfg(steps)
    took = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_sweep(cfg, Path(tmp) / "s", workers=workers)
            took[workers] = time.perf_counter() - t0
        print(f"sweep of {len(cfg.runs)} trials, {workers} worker(s): {took[workers]:.1f} s")
    n = len(cfg.runs)
    return [
        row(
            f"sweep trials/s, local engine, 2 workers ({n} trials of ~{took[1] / n:.0f} s)",
            n / took[2],
            n / took[1],
            unit="trials/s",
            baseline_is="1 worker, all cores",
            target="≥ 1.6× on 2 cores",
        )
    ]


def ray_rows(trials: int) -> list[dict]:
    try:
        import ray
    except ImportError:
        print("Ray is not installed (pip install 'kgn-gui[cluster]'): no Ray rows")
        return []
    from kgn_gui.core.experiment.engines import make_engine
    from kgn_gui.core.experiment.sweep import SweepConfig, run_sweep

    cfg = SweepConfig(
        source="points:1d-sigmoid", depths=tuple(range(1, trials + 1)), H=8, bound="sigmoid", steps=200,
        batch=2, chains=8, sample_steps=10, audit=2, sigmas=(0.1,), recovery_n=8, recovery_T=5, seeds=(0,),
    )  # fmt: skip
    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    start = time.perf_counter() - t0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_sweep(cfg, Path(tmp) / "here")
            here = time.perf_counter() - t0
            t0 = time.perf_counter()
            run_sweep(cfg, Path(tmp) / "ray", engine=make_engine("ray", workers=1, cpus_per_trial=os.cpu_count()))
            there = time.perf_counter() - t0
    finally:
        ray.shutdown()
    print(f"{trials} trials: in this process {here:.1f} s, on Ray one at a time {there:.1f} s; Ray start {start:.1f} s")
    return [
        row(
            f"Ray overhead per trial ({trials} small trials, one at a time)",
            (there - here) / trials,
            here / trials,
            unit="s",
            baseline_is="a trial in this process, s",
            target="≤ 2 s",
            ratio=there / here,
        ),
        row("local Ray start (ray.init, 2 cores)", start, unit="s"),
    ]


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--sweep-steps", type=int, default=600)
    ap.add_argument("--ray-trials", type=int, default=6)
    ap.add_argument("--skip", default="", help="comma list of parts to leave out: cache, workers, ray")
    add_json_option(ap)
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    rows = []
    if "cache" not in skip:
        rows += cache_rows(args.images)
    if "workers" not in skip:
        rows += workers_rows(args.sweep_steps)
    if "ray" not in skip:
        rows += ray_rows(args.ray_trials)
    return finish(rows, args.json)


if __name__ == "__main__":
    main()
