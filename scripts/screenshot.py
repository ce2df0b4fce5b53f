"""Render the window offscreen to a PNG (the README's screenshot).

QT_QPA_PLATFORM=offscreen python scripts/screenshot.py docs/screenshot.png [--steps 60] [--model FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--model", default=None)
    ap.add_argument("--inspect", type=int, default=9)
    ap.add_argument("--size", default="1400x900")
    ap.add_argument("--chains", type=int, default=64)
    ap.add_argument("--start", default="uniform", choices=["uniform", "normal"])
    ap.add_argument("--noise", default="normal")
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--background", default=None, help="2-D points background: 'loss landscape' or 'basins'")
    ap.add_argument(
        "--arch", default=None, help="architecture chosen in the Training dock (mlp, cnn, unet, transformer)"
    )
    ap.add_argument(
        "--audit", type=int, default=0, help="run the Analysis dock's attractor audit on this many examples"
    )
    args = ap.parse_args(argv)
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, tempfile.mkdtemp())
    from kgn_gui.core.chain.sampler import Sampler
    from kgn_gui.ui.main_window import MainWindow

    w = MainWindow(args.model, restore_settings=False)
    w.ask_unsaved_run = lambda what, doing: "discard"  # the run it trains is not kept: no question on close
    w.resize(*map(int, args.size.split("x")))
    w.show()
    w.transport.set_sampler(Sampler(args.noise, args.eps))
    if args.arch:
        w.training_panel.set_arch(args.arch)
    w.start_panel.n.setValue(args.chains)
    w.start_panel.kind.setCurrentText(args.start)
    w.start_panel.request_random()
    if args.background:
        w.points_view.background.setCurrentText(args.background)
    w.chain.step_by(args.steps)
    if args.inspect >= 0:
        w.grid.tileClicked.emit(args.inspect)
    w.grid.select(args.inspect if args.inspect >= 0 else None)
    jobs = [w.measures.measure_now()] + ([w.measures.attractor_audit(args.audit)] if args.audit else [])
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end or any(j is not None and j.running() for j in jobs):
        app.processEvents()
        time.sleep(0.01)
    ok = w.grab().save(args.out)
    w.close()
    print(f"wrote {args.out}" if ok else f"could not write {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
