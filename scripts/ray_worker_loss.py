"""A Ray sweep that loses a worker and still finishes every row, from the outside (the issue's check).

    python scripts/ray_worker_loss.py OUT_DIR [--kills 1]

Starts ``kgn sweep --engine ray`` (a local Ray, 3 depths × 2 seeds of the paper's two 1-d points, trials of
a few seconds) as a child, SIGKILLs the Ray worker that runs a trial (found among the sweep's descendants)
``--kills`` times, waits for the sweep, and prints each row's depth, seed, attempts, host and error. Exit
status 0 when every row is there without an error and the attempts add up to the trials plus the kills.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.core.test_ray_engine import trial_workers_below  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--kills", type=int, default=1)
    args = ap.parse_args(argv)
    cmd = [sys.executable, "-m", "kgn_gui.cli", "sweep", "--data", "points:1d-sigmoid", "--depths", "1,2,3"]
    cmd += ["--H", "8", "--bound", "sigmoid", "--batch", "2", "--steps", "3000", "--n", "8", "--sample-steps", "10"]
    cmd += ["--audit", "2", "--sigmas", "0.1", "--seeds", "0,1", "--engine", "ray", "-o", args.out]
    print("$", " ".join(cmd[1:]), flush=True)
    sweep = subprocess.Popen(cmd, cwd=ROOT)
    killed: list[int] = []
    while sweep.poll() is None and len(killed) < args.kills:
        for pid in trial_workers_below(sweep.pid)[:1]:
            if pid not in killed:
                time.sleep(1.0)  # mid-trial
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                print(f"killed Ray worker {pid} (SIGKILL) while it ran a trial", flush=True)
        time.sleep(0.05)
    rc = sweep.wait()
    with open(Path(args.out) / "sweep_runs.csv", newline="") as f:
        rows = list(csv.DictReader(ln for ln in f if not ln.startswith("#")))
    for r in rows:
        print(f"depth {r['depth']} seed {r['seed']}: attempts {r['attempts']}, worker {r['worker']} on {r['host']}, "
              f"{r['trial_seconds']} s{', error: ' + r['error'] if r.get('error') else ''}")  # fmt: skip
    attempts = sum(int(r["attempts"]) for r in rows)
    ok = rc == 0 and len(rows) == 6 and not any(r.get("error") for r in rows) and attempts == 6 + len(killed)
    print(f"kgn sweep exit {rc}; {len(rows)} of 6 rows, {len(killed)} worker(s) killed, {attempts} attempts: "
          + ("every row finished" if ok else "NOT every row finished"))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
