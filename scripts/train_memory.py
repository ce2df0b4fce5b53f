"""Memory of one training process on a data set from the data cache: the peak of its private (anonymous)
memory and of its resident file pages, sampled every 20 ms. The data set is imported (cached) first, in a
process of its own, so the measured process only opens it.

    python scripts/train_memory.py DATA [--steps 200] [--cache DIR]

On Linux only (it reads /proc/self/status)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def measure(data: str, steps: int) -> None:
    import kgn_gui

    peak = {"RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            for k in peak:
                peak[k] = max(peak[k], _status_kb(k))
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    base = _status_kb("RssAnon")
    t.start()
    t0 = time.perf_counter()
    model = kgn_gui.train(data, "fast", steps=steps)
    done.set()
    t.join()
    print(
        f"{model.trained.message}; {time.perf_counter() - t0:.1f} s; peak private memory {peak['RssAnon'] / 1024:.0f} MiB "
        f"({(peak['RssAnon'] - base) / 1024:.0f} MiB above the process before training), "
        f"peak resident file pages {peak['RssFile'] / 1024:.0f} MiB (shared, the map)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--cache", help="the data cache folder (default: the user's)")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.cache:
        os.environ["KGN_CACHE"] = a.cache
    if a.measure:
        measure(a.data, a.steps)
        return
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"from kgn_gui.core.data.sources import open_source; open_source({a.data!r})"],
        check=True,
    )
    print(f"imported (or found in the cache) in {time.perf_counter() - t0:.1f} s")
    subprocess.run([sys.executable, __file__, a.data, "--steps", str(a.steps), "--measure"], check=True)


if __name__ == "__main__":
    main()
