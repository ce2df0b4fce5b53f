"""Launch to first drawn frame, import cost included, against a bare Qt window (same run).

    python -m bench.launch_time [--repeat 3]

Each try starts a fresh process: ``python main.py --quit-after 2`` (the bundled MNIST model, 64 chains)
prints the wall-clock time its chain grid first drew; the launch time is that minus the moment the
process was spawned. The baseline is a process that imports PySide6, shows an empty QWidget and
records its first paint: the least any Qt app pays here. Medians of --repeat tries; target ≤ 3 s.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._rows import add_json_option, finish, row

ROOT = Path(__file__).resolve().parents[1]
BARE = """
import time
from PySide6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
class W(QtWidgets.QWidget):
    def paintEvent(self, ev):
        print(f"painted at {time.time():.3f}", flush=True)
        QtCore.QTimer.singleShot(0, app.quit)
w = W()
w.resize(400, 300)
w.show()
app.exec()
"""


def launch(cmd: list[str], pattern: str, env: dict) -> float:
    t0 = time.time()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    m = re.search(pattern, r.stdout)
    if r.returncode != 0 or not m:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stdout[-500:]} {r.stderr[-1500:]}")
    return float(m.group(1)) - t0


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    add_json_option(ap)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        # A fresh settings folder: the app opens the bundled model, as on a first launch.
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
            "XDG_CONFIG_HOME": home,
            "HOME": home,
        }
        app, bare = [], []
        for _ in range(args.repeat):
            bare.append(launch([sys.executable, "-c", BARE], r"painted at ([0-9.]+)", env))
            app.append(launch([sys.executable, "main.py", "--quit-after", "2"], r"unix time ([0-9.]+)", env))
    a, b = statistics.median(app), statistics.median(bare)
    print(
        f"launch to first frame: app {a:.2f} s (tries {', '.join(f'{x:.2f}' for x in app)}), "
        f"bare Qt window {b:.2f} s; ratio {a / b:.2f}; target ≤ 3 s"
    )
    return finish(
        [
            row(
                "launch to the first drawn frame, s (median)",
                a,
                b,
                unit="s",
                baseline_is="a bare Qt window",
                target="≤ 3 s",
            )
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
