"""A soak of the real window, offscreen (issue 32 item 5): 256 MNIST chains play for --minutes while, every
--every seconds, the timeline is scrubbed, a live edit (a kick) is made and a short animation exported, and
every --train-every seconds a training runs a few seconds in its child process and is stopped. Sampled at
each event: the resident memory (after malloc_trim), the history's RAM and disk against their budget, the
threads and the open file descriptors. The frame rate of the first and the last --window seconds of play
are compared.

    QT_QPA_PLATFORM=offscreen python scripts/soak.py --minutes 30 [--json soak.json]

Prints one line per event and a summary; exits 1 when a budget is broken: memory beside the history grown by
more than --rss-mb, the history over its budget, threads or file descriptors grown, or (with --fps-check) the
last window's frame rate under 0.9 of the first's. tests/ui/test_soak.py runs a short one (no timing)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    """Resident memory after glibc has returned its arenas' free pages (they are not a leak)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(argv=None, window=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--every", type=float, default=20.0, help="seconds between scrub / edit / export events")
    ap.add_argument("--train-every", type=float, default=180.0, help="seconds between short trainings")
    ap.add_argument("--chains", type=int, default=256)
    ap.add_argument("--window", type=float, default=20.0, help="seconds of play the first and last frame rates span")
    ap.add_argument("--rss-mb", type=float, default=200.0)
    ap.add_argument("--fps-check", action="store_true", help="fail when the last frame rate is under 0.9× the first")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from kgn_gui.core.chain.lab import Edit
    from kgn_gui.core.export.options import ExportOptions

    w = window
    if w is None:
        QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
        QtCore.QSettings.setPath(
            QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, tempfile.mkdtemp()
        )
        from kgn_gui.ui.main_window import MainWindow

        w = MainWindow(None, restore_settings=False)
        w.ask_unsaved_run = lambda what, doing: "discard"
        w.resize(1366, 768)
        w.show()
    out = Path(tempfile.mkdtemp(prefix="kgn-soak-"))

    def spin(seconds: float) -> None:
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def until(done, timeout: float) -> bool:
        t_end = time.monotonic() + timeout
        while not done() and time.monotonic() < t_end:
            spin(0.05)
        return done()

    def fps_over(seconds: float) -> float:
        f0, t0 = w.chain.frames, time.perf_counter()
        spin(seconds)
        return (w.chain.frames - f0) / (time.perf_counter() - t0)

    def train_briefly() -> bool:
        w.training_panel.set_recipe("points:2d-corners", steps=10_000_000)
        if not w.training_actions.start_training():
            return False
        until(lambda: w.training.run is not None and w.training.run.step > 0, 60.0)
        w.training.stop()
        return until(lambda: w.training.state == "idle", 30.0)

    w.start_panel.n.setValue(a.chains)
    w.start_panel.request_random()
    w.transport.speed.setValue(1000)
    # One training first: its first start opens what every later one reuses (the resource tracker's pipe, the
    # queue's), so the baselines are taken after it (6 descriptors, then none per training: measured).
    train_briefly()
    w.chain.play()
    spin(2.0)
    budget = w.session.timeline.budget_bytes
    threads0, fds0, rss0, hist0 = threading.active_count(), open_fds(), rss_mb(), w.session.timeline.memory_bytes
    fps_first = fps_over(min(a.window, a.minutes * 60 / 4))
    rng = random.Random(0)
    samples, problems, events = [], [], 0
    t_start = time.monotonic()
    next_train = t_start + a.train_every
    while time.monotonic() - t_start < a.minutes * 60:
        spin(a.every)
        events += 1
        s = w.session
        what = ["scrub"]
        w.chain.pause()
        w.chain.seek(rng.randint(0, s.t_max))
        w.chain.add_edit(Edit(t=w.chain.view_t, kind="kick", rows=tuple(range(0, s.n, 7)), sigma=0.2, seed=events))
        what.append("kick")
        t = w.chain.view_t
        job = w.export_actions.start_export(
            [max(0, t - 4), t], ExportOptions(fmt="apng", scale=1), str(out / f"e{events}")
        )
        if job is not None and until(lambda j=job: not j.running(), 60.0):
            what.append("export")
        if time.monotonic() >= next_train:
            if train_briefly():
                what.append("training")
            next_train = time.monotonic() + a.train_every
        w.chain.play()
        tl = w.session.timeline
        row = {
            "s": round(time.monotonic() - t_start, 1), "events": "+".join(what), "model": w.checkpoint.name,
            "chains": w.session.n, "t_max": w.session.t_max,
            "rss_mb": round(rss_mb(), 1), "history_mb": round(tl.memory_bytes / 2**20, 1),
            "disk_mb": round(tl.disk_bytes / 2**20, 1), "threads": threading.active_count(), "fds": open_fds(),
        }  # fmt: skip
        samples.append(row)
        print(json.dumps(row), flush=True)
        if tl.memory_bytes > budget:
            problems.append(f"history {tl.memory_bytes / 2**20:.0f} MB over its budget {budget / 2**20:.0f} MB")
    fps_last = fps_over(min(a.window, a.minutes * 60 / 4))
    w.chain.pause()
    until(lambda: threading.active_count() <= threads0, 30.0)  # a measure the pause started may still end
    history = (w.session.timeline.memory_bytes - hist0) / 2**20
    grown = rss_mb() - rss0 - history
    summary = {
        "minutes": a.minutes, "chains": a.chains, "events": events, "steps": w.session.t_max,
        "rss_grown_mb": round(grown, 1), "history_grown_mb": round(history, 1),
        "threads": [threads0, threading.active_count()], "fds": [fds0, open_fds()],
        "fps_first": round(fps_first, 1), "fps_last": round(fps_last, 1),
        "fps_ratio": round(fps_last / fps_first, 3) if fps_first > 0 else None,
    }  # fmt: skip
    if grown > a.rss_mb:
        problems.append(f"memory grew {grown:.0f} MB beside the history (limit {a.rss_mb:.0f})")
    if threading.active_count() > threads0:
        problems.append(f"threads {threads0} → {threading.active_count()}")
    if open_fds() > fds0:
        problems.append(f"open files {fds0} → {open_fds()}")
    if a.fps_check and summary["fps_ratio"] is not None and summary["fps_ratio"] < 0.9:
        problems.append(f"frame rate {fps_first:.1f} → {fps_last:.1f} fps")
    summary["problems"] = problems
    print(json.dumps(summary), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))
    if window is None:
        w.close()
        app.processEvents()
    return summary


if __name__ == "__main__":
    sys.exit(1 if main()["problems"] else 0)
