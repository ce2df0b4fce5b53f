"""Launch to the first visible frame and to a playable window, import cost included, against a bare Qt window.

    python -m bench.launch_time [--repeat 3]

Each try starts a fresh process: ``python main.py --quit-after 2`` (the bundled MNIST model, 64 chains)
prints the wall-clock times of its first visible frame (the start grid and "loading model…", drawn before
torch is imported: ui.first_frame) and of the main window's first frame (playable); each launch time is
that minus the moment the process was spawned. The baseline is a process that imports PySide6, shows an
empty QWidget and records its first paint: the least any Qt app pays here. Medians of --repeat tries;
targets ≤ 1 s (first visible frame) and ≤ 2.5 s (playable).
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


def launch(cmd: list[str], patterns: list[str], env: dict) -> list[float]:
    """Seconds from spawning ``cmd`` to each unix time its output reports (one regex group each)."""
    t0 = time.time()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    found = [re.search(p, r.stdout) for p in patterns]
    if r.returncode != 0 or not all(found):
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stdout[-500:]} {r.stderr[-1500:]}")
    return [float(m.group(1)) - t0 for m in found]


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
        first, playable, bare = [], [], []
        for _ in range(args.repeat):
            bare += launch([sys.executable, "-c", BARE], [r"painted at ([0-9.]+)"], env)
            f, p = launch(
                [sys.executable, "main.py", "--quit-after", "2"],
                [r"first visible frame .*? unix time ([0-9.]+)", r"playable after .*? unix time ([0-9.]+)"],
                env,
            )
            first.append(f)
            playable.append(p)
    b = statistics.median(bare)
    rows = []
    for name, tries, target in (
        ("launch to first visible frame, s", first, "≤ 1 s"),
        ("launch to playable, s", playable, "≤ 2.5 s"),
    ):
        a = statistics.median(tries)
        print(
            f"{name}: {a:.2f} s (tries {', '.join(f'{x:.2f}' for x in tries)}), bare Qt window {b:.2f} s; "
            f"ratio {a / b:.2f}; target {target}"
        )
        rows.append(row(name, a, b, unit="s", baseline_is="a bare Qt window", target=target))
    return finish(rows, args.json)


if __name__ == "__main__":
    main()
