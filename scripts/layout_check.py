"""Walk the real window through its main states on a screen of a given size and check that it fits (issue 18).

    python scripts/layout_check.py --size 1366x768 --out docs/screens [--json report.json] [--dpr 1]
    python scripts/layout_check.py --size 1366x768 --readme docs      # the README's pictures

Qt's offscreen platform is given one screen of that size (a config file), so no display is needed. In each
state — launch, inspector open, analysis results, training running, Points 1-D, Points 2-D, Compare depths,
Compare with… (the bundled CNN beside the MLP) —
it checks that the window lies on the screen, that no dock is under its minimum size, and that every visible
label, button and combo box shows its whole text (elided text must carry the full text in its tooltip); then
it saves a PNG of the window. Then each secondary window (WINDOWS: the depth-sweep result, the branch window,
keyboard shortcuts, quick start, the export dialog, About, the command palette) is opened and checked alike.
The report lists each problem in one line and, per state, ``states: {NAME: {window_width, timeline_width,
problems}}`` (the timeline slider's width, in the main window); the exit status is 1 when there is a problem.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The README's pictures: python scripts/layout_check.py --size 1366x768 --readme docs
README_SHOTS = {"analysis": "screenshot.png", "points_1d": "points_1d.png", "points_2d": "points_2d.png",
                "compare": "points_depth.png"}  # fmt: skip
STATES = ("launch", "inspector", "analysis", "training", "points_1d", "points_2d", "compare", "compare_with")
# The secondary windows, each opened over the window and checked the same way (issue 30).
WINDOWS = ("sweep_result", "branch", "shortcuts", "quick_start", "export_dialog", "about", "command_palette")


def _screen_config(w: int, h: int, dpr: float) -> str:
    cfg = {
        "synchronousWindowSystemEvents": False,
        "windowFrameMargins": False,
        "screens": [
            {"name": "screen", "x": 0, "y": 0, "width": w, "height": h, "logicalDpi": 96, "logicalBaseDpi": 96,
             "dpr": dpr}
        ],
    }  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "screen.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def text_problems(window) -> list[str]:
    """Visible labels, buttons and combo boxes whose text does not fit, and docks under their minimum size."""
    from PySide6 import QtWidgets

    out = []

    def where(w) -> str:
        names = []
        p = w
        while p is not None and p is not window:
            if p.objectName():
                names.append(p.objectName())
            if isinstance(p, QtWidgets.QDockWidget):
                names.append(f"dock {p.windowTitle()!r}")
                break
            p = p.parentWidget()
        return " in ".join(names[:2]) or type(w).__name__

    for w in window.findChildren(QtWidgets.QWidget):
        if not w.isVisible() or w.visibleRegion().isEmpty():
            continue
        tip = w.toolTip()
        if isinstance(w, QtWidgets.QLabel):
            text = w.text()
            if not text or w.wordWrap() or "<" in text or w.pixmap() is not None and not w.pixmap().isNull():
                continue
            need = max(w.fontMetrics().horizontalAdvance(line) for line in text.split("\n"))
            if need > w.contentsRect().width() + 1 and text not in tip:
                out.append(f"label {text[:50]!r} ({where(w)}) needs {need} px, has {w.contentsRect().width()}")
        elif isinstance(w, QtWidgets.QAbstractButton) and not isinstance(w, QtWidgets.QToolButton):
            text = w.text().replace("&", "")
            if text and w.width() + 1 < w.minimumSizeHint().width() and text not in tip:
                out.append(f"button {text[:50]!r} ({where(w)}) needs {w.minimumSizeHint().width()} px, has {w.width()}")
        elif isinstance(w, QtWidgets.QComboBox):
            text = w.currentText()
            need = w.fontMetrics().horizontalAdvance(text) + 28  # the arrow and the frame
            if text and need > w.width() + 1 and text not in tip:
                out.append(f"combo box {text[:50]!r} ({where(w)}) needs {need} px, has {w.width()}")
        elif isinstance(w, QtWidgets.QAbstractScrollArea) and w.horizontalScrollBar().isVisible():
            if isinstance(w, (QtWidgets.QScrollArea,)) or w.objectName().endswith("_scroll"):
                inner = w.widget().minimumSizeHint().width() if isinstance(w, QtWidgets.QScrollArea) else 0
                out.append(f"{where(w)} scrolls sideways: its panel needs {inner} px, has {w.viewport().width()}")
        elif isinstance(w, QtWidgets.QDockWidget) and not w.isFloating():
            m = w.minimumSizeHint()
            if w.width() + 1 < m.width() or w.height() + 1 < m.height():
                out.append(
                    f"dock {w.windowTitle()!r} is {w.width()}×{w.height()}, under its minimum {m.width()}×{m.height()}"
                )
    if not isinstance(window, QtWidgets.QMainWindow):
        return out
    central = window.centralWidget().geometry()
    for bar in window.findChildren(QtWidgets.QTabBar):
        if bar.parentWidget() is window and bar.isVisible() and bar.geometry().intersects(central):
            g = bar.geometry()
            out.append(f"a dock tab bar at {g.x()},{g.y()} ({g.width()}×{g.height()}) lies over the central views")
    return out


def open_windows(w, wanted, check, pump) -> None:
    """Open each secondary window of WINDOWS that is ``wanted`` over the window ``w``, check it and close it."""
    import shutil

    from kgn_gui.ui import dialogs
    from kgn_gui.ui.palette import open_palette
    from kgn_gui.ui.widgets.export_dialog import ExportDialog

    def sweep_result():
        folder = Path(tempfile.mkdtemp())
        shutil.copy(REPO / "docs" / "sweep_mnist.png", folder / "sweep.png")  # the committed sweep's chart
        return dialogs.sweep_result(w, str(folder))

    def branch():
        if w.views.currentIndex() != 0:
            w.views.setCurrentIndex(0)
        w.model_actions.load_model(REPO / "models" / "mnist.safetensors")
        w.chain.step_by(5)
        pump(until=lambda: w.chain.view_t == 5, limit=60)
        w.grid.select(0)
        w.lab.branch(4, 20)
        pump(until=lambda: getattr(w, "branch_window", None) is not None, limit=60)
        return w.branch_window

    def export_dialog():
        s = w.session
        d = ExportDialog(w, s.t_max, s.n, w.views_ctl.inspected, tempfile.mkdtemp(), image_model=len(s.shape) == 3)
        d.show()
        return d

    opens = {
        "sweep_result": sweep_result,
        "branch": branch,
        "shortcuts": lambda: dialogs.shortcuts(w),
        "quick_start": lambda: dialogs.quick_start(w),
        "export_dialog": export_dialog,
        "about": lambda: dialogs.about(w),
        "command_palette": lambda: open_palette(w),
    }
    for name in WINDOWS:
        if name in wanted:
            win = opens[name]()
            pump(0.5)
            check(name, win)
            win.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1366x768")
    ap.add_argument("--dpr", type=float, default=1.0)
    ap.add_argument("--out", default=None, help="folder for one PNG per state")
    ap.add_argument("--json", default=None, help="write the problems found to this file")
    ap.add_argument("--readme", default=None, help="also save the README's pictures in this folder (docs/)")
    ap.add_argument("--states", default=",".join(STATES + WINDOWS))
    args = ap.parse_args(argv)
    W, H = (int(v) for v in args.size.lower().split("x"))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_screen_config(W, H, args.dpr)}"
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "KGN_RECOVERY_DIR"):
        os.environ.setdefault(var, tempfile.mkdtemp())
    sys.path.insert(0, str(REPO))
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, tempfile.mkdtemp())
    from kgn_gui.ui.main_window import MainWindow

    w = MainWindow(None, restore_settings=False)
    w.ask_unsaved = lambda doing: "discard"
    w.ask_unsaved_run = lambda what, doing: "discard"
    w.show()

    def pump(seconds: float = 0.3, until=None, limit: float = 60.0) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < (limit if until is not None else seconds):
            app.processEvents()
            time.sleep(0.01)
            if until is not None and until():
                return
        if until is not None:
            raise SystemExit(f"layout check: timed out waiting ({W}×{H})")

    problems: list[str] = []
    out = Path(args.out) if args.out else None
    readme = Path(args.readme) if args.readme else None
    if out:
        out.mkdir(parents=True, exist_ok=True)

    states: dict[str, dict] = {}

    def check(state: str, win=None) -> None:
        """The window (or the secondary window ``win``) in this state: on the screen, every text whole."""
        pump(0.5)
        win = w if win is None else win
        avail = w.screen().availableGeometry()
        fg = win.frameGeometry()
        found = []
        if not avail.contains(fg):
            found.append(
                f"the window {fg.width()}×{fg.height()} at {fg.x()},{fg.y()} is past the screen {avail.width()}×{avail.height()}"
            )
        found.extend(text_problems(win))
        problems.extend(f"{state}: {p}" for p in found)
        states[state] = {"window_width": fg.width(), "timeline_width": w.transport.slider.width(), "problems": found}
        if out:
            win.grab().save(str(out / f"{state}_{W}x{H}.png"))
        if readme and state in README_SHOTS:
            win.grab().save(str(readme / README_SHOTS[state]))

    def play_to(t: int) -> None:
        """Step the chain to step t (a picture with something on it), then let the views settle."""
        w.chain.step_by(t - w.chain.view_t)
        pump(until=lambda: w.chain.view_t == t, limit=60)
        pump(1.0)

    wanted = args.states.split(",")
    w.chain.play()
    pump(2.0)
    w.chain.pause()
    if "launch" in wanted:
        check("launch")
    if "inspector" in wanted:
        w.views_ctl.inspect(3)
        check("inspector")
    if "analysis" in wanted:
        w.analysis_dock.show()
        w.analysis_dock.raise_()
        ctl = w.measures

        def idle() -> bool:
            return ctl.measure_job is None or not ctl.measure_job.running()

        pump(until=idle, limit=120)
        if ctl.measured_t is None:
            w.measures.measure_now()
            pump(0.2)
            pump(until=idle, limit=120)
        check("analysis")
    if "training" in wanted:
        w.training_dock.show()
        w.training_dock.raise_()
        if w.training_actions.start_training():
            pump(until=lambda: w.training.run is not None and w.training.run.step > 0, limit=120)
            check("training")
            w.training.stop()
            pump(until=lambda: not w.training.is_busy(), limit=120)
        else:
            problems.append("training: did not start")
    if "points_1d" in wanted:
        w.views.setCurrentIndex(1)
        w.points_view.preset_box.setCurrentText("1d-sigmoid")
        w.training_actions.pick_points_preset("1d-sigmoid")
        play_to(8)
        check("points_1d")
    if "points_2d" in wanted:
        w.views.setCurrentIndex(1)
        w.points_view.preset_box.setCurrentText("2d-corners")
        w.training_actions.pick_points_preset("2d-corners")
        play_to(8)
        check("points_2d")
    if "compare" in wanted:
        w.views.setCurrentIndex(1)
        if w.training_actions.compare_depths(2, 6):
            pump(until=lambda: w.compare_session is not None, limit=180)
            play_to(8)
            check("compare")
        else:
            problems.append("compare: did not start")
    if "compare_with" in wanted:  # File → Compare with…: the bundled CNN beside the bundled MLP
        from kgn_gui.ui.compare import compare_with

        w.points.drop()
        w.model_actions.load_model(REPO / "models" / "mnist.safetensors")
        if compare_with(w, REPO / "models" / "mnist-cnn.safetensors"):
            play_to(8)
            ctl = w.measures  # both models measured at the step: the Analysis dock's 2nd column in sight
            pump(until=lambda: ctl.measure_job is None or not ctl.measure_job.running(), limit=120)
            if ctl.measured_t != 8:
                ctl.measure_now()
                pump(0.2)
                pump(until=lambda: ctl.measure_job is None or not ctl.measure_job.running(), limit=120)
            check("compare_with")
        else:
            problems.append("compare_with: did not start")
    open_windows(w, wanted, check, pump)
    w.close()
    report = {"size": f"{W}x{H}", "dpr": args.dpr, "problems": problems, "states": states}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    for p in problems:
        print(p)
    print(f"{len(problems)} problems at {W}×{H}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
