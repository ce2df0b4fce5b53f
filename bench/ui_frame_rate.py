"""Window frame rate while playing, and event-loop stalls while a model trains (offscreen).

    QT_QPA_PLATFORM=offscreen python -m bench.ui_frame_rate [--seconds 5]

Measures, in one run on the bundled MNIST model:
* frames/s drawn while playing 64 and 256 chains at full speed (targets ≥ 60 and ≥ 30);
  the baseline is the same display path redrawing a fixed step on the same timer (the most the
  display clock allows), so the ratio says how much of it playing keeps;
* the longest event-loop stall (gap between 5 ms timer ticks) while the paper's MNIST model
  (L=10, H=500, batch 1000) trains in its background process (target ≤ 50 ms); the baseline is the
  longest stall of the same idle window over the same time.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv=None) -> list[dict]:
    from bench._rows import add_json_option, finish, row

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    add_json_option(ap)
    args = ap.parse_args(argv)
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    app.setApplicationName("kgn-bench")
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    import tempfile

    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, tempfile.mkdtemp())
    from kgn_gui.ui.app import configure_threads, freeze_startup_objects
    from kgn_gui.ui.main_window import MainWindow

    threads = configure_threads()  # as the app does at launch

    w = MainWindow(None, restore_settings=False)
    w.show()
    freeze_startup_objects()  # as the app does at launch

    def spin(seconds: float) -> None:
        """Run the real event loop (which sleeps in C++ with the GIL released, as the app does)."""
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def frames_while(seconds: float, play: bool) -> float:
        spin(0.5)
        f0, t0 = w.chain.frames, time.perf_counter()
        if play:
            w.chain.play()
            spin(seconds)
            w.chain.pause()
        else:
            # Force a full redraw of the same step on every display tick: the display path alone.
            w.chain.stepShown.connect(w.chain.redraw)
            w.chain.redraw()
            spin(seconds)
            w.chain.stepShown.disconnect(w.chain.redraw)
        return (w.chain.frames - f0) / (time.perf_counter() - t0)

    results = {}
    w.transport.speed.setValue(1000)
    for n in (64, 256):
        w.start_panel.n.setValue(n)
        w.start_panel.request_random()
        base = frames_while(args.seconds, play=False)
        fps = frames_while(args.seconds, play=True)
        results[f"fps_{n}"] = (fps, base)

    # Stalls: idle baseline, then while the paper's MNIST model trains.
    def longest_gap(seconds: float) -> float:
        ticks = []
        timer = QtCore.QTimer()
        timer.setInterval(5)
        timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        spin(seconds)
        timer.stop()
        return max(b - a for a, b in zip(ticks, ticks[1:])) * 1000

    idle = longest_gap(args.seconds)
    tp = w.training_panel
    tp.set_recipe("mnist:train", L=10, H=500, batch=1000, steps=1_000_000)
    w.start_training()
    for _ in range(120):  # let the training process start and take its first steps
        spin(0.25)
        if w.training.run.step > 0:
            break
    steps0 = w.training.run.step
    training = longest_gap(args.seconds)
    steps = w.training.run.step - steps0
    w.training.stop()
    w.close()
    results["stall_ms"] = (training, idle)

    print(f"offscreen, torch threads {threads}, bundled MNIST model")
    print(f"{'measure':38s} {'value':>9s} {'baseline':>9s} {'ratio':>7s}  target")
    for n, target in ((64, 60), (256, 30)):
        fps, base = results[f"fps_{n}"]
        print(
            f"{'frames/s playing ' + str(n) + ' chains':38s} {fps:9.1f} {base:9.1f} {fps / base:7.2f}  ≥ {target} fps"
        )
    tr, idle = results["stall_ms"]
    print(
        f"{'longest stall while training (ms)':38s} {tr:9.1f} {idle:9.1f} {tr / max(idle, 1e-3):7.2f}  ≤ 50 ms"
        f"  ({steps} training steps ran)"
    )
    rows = [
        row(
            f"frames/s playing {n} chains",
            *results[f"fps_{n}"],
            unit="fps",
            baseline_is="display clock",
            target=f"≥ {target} fps",
        )
        for n, target in ((64, 60), (256, 30))
    ]
    rows.append(
        row(
            "longest event-loop stall while the MNIST recipe trains",
            tr,
            idle,
            unit="ms",
            baseline_is="idle window",
            target="≤ 50 ms",
        )
    )
    return finish(rows, args.json)


if __name__ == "__main__":
    main()
