"""QApplication + qasync event loop; ``main()`` is the ``kgn-gui`` entry point."""

from __future__ import annotations

import time

_T_IMPORT = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def configure_threads() -> int:
    """Leave one core to the display: torch's intra-op pool gets all cores but one (at least one).

    With every core in torch's pool, a training or chain worker that runs beside the GUI thread
    oversubscribes the machine and the event loop stalls for 100 ms and more on two cores
    (bench/ui_frame_rate.py); one core kept free brings that under 50 ms. The CLI keeps them all."""
    import os

    import torch

    n = max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(n)
    return n


def freeze_startup_objects() -> None:
    """Move everything allocated so far (torch, Qt, pyqtgraph: ~200,000 objects) out of the garbage
    collector's reach. A full collection otherwise walks them all and stalls the event loop for
    ~80–110 ms every so often while playing; after the freeze it takes microseconds."""
    import gc

    gc.collect()
    gc.freeze()


def error_log_path() -> Path:
    """Where unexpected errors are logged with their traceback: $KGN_ERROR_LOG, else the user's state folder."""
    if os.environ.get("KGN_ERROR_LOG"):
        return Path(os.environ["KGN_ERROR_LOG"])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "kgn-gui" / "errors.log"


def install_error_hook(window) -> None:
    """An exception that escapes a slot (a bug, or an input no check foresaw) becomes a one-line dialog; its
    traceback goes to the error log, never to stderr, and the app goes on."""
    import traceback

    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            return sys.__excepthook__(kind, value, tb)
        where = error_log_path()
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            with open(where, "a", encoding="utf-8") as f:
                f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + "".join(traceback.format_exception(kind, value, tb)))
        except OSError:
            where = None
        line = (str(value).splitlines() or [""])[0]
        msg = f"{kind.__name__}: {line}" + (f" (details in {where})" if where else "")
        try:
            window.show_error("Unexpected error", msg)
        except Exception:  # the window itself is gone: the one line goes to stderr
            print(f"kgn-gui: {msg}", file=sys.stderr)

    sys.excepthook = hook


def load_in_background(app) -> None:
    """Import torch and the core, and read the bundled model's training data, in a thread, while the GUI
    thread keeps the first frame painted (moved, resized, exposed); returns when done. An import error is
    raised here, in the GUI thread."""
    import threading

    failed: list[BaseException] = []

    def load() -> None:
        try:
            from ..core.data.mnist import prefetch_mnist

            prefetch_mnist("train", (-1.0, 1.0))  # the bundled model's training data, read in its own thread
            from ..core.chain import session  # noqa: F401
            from ..core.measure import analysis  # noqa: F401 (torch and what uses it)
            from ..core.model import checkpoint, train  # noqa: F401

            configure_threads()
        except BaseException as e:  # re-raised in the GUI thread
            failed.append(e)

    t = threading.Thread(target=load, name="kgn-load", daemon=True)
    t.start()
    while t.is_alive():
        app.processEvents()
        t.join(0.05)  # the loading frame is static: events twenty times a second are enough
    if failed:
        raise failed[0]


def build_app(argv: list[str] | None = None):
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv or sys.argv[:1])
    app.setApplicationName("Kaleidoscope Studio")
    app.setOrganizationName("Kaleidoscope Studio")
    app.setOrganizationDomain("kaleidoscope.studio")
    app.setDesktopFileName("kgn-gui")  # the window is matched to its menu entry (kgn-gui --install-desktop)
    from PySide6 import QtGui

    from .desktop import ICON_PNG

    if ICON_PNG.exists():
        app.setWindowIcon(QtGui.QIcon(str(ICON_PNG)))
    return app


def print_actions(model: str | None) -> int:
    """``kgn-gui --list-actions``: the menus of a window built off screen (no display needed) and never shown,
    on settings of its own in a temporary folder: the user's are neither read nor written (Open recent lists
    only the model it opened)."""
    import tempfile

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore

    with tempfile.TemporaryDirectory(prefix="kgn-actions-") as tmp:
        fmt = QtCore.QSettings.Format.IniFormat
        QtCore.QSettings.setDefaultFormat(fmt)
        QtCore.QSettings.setPath(fmt, QtCore.QSettings.Scope.UserScope, tmp)
        build_app()
        from .main_window import MainWindow
        from .palette import list_actions

        win = MainWindow(model, restore_settings=False)
        print(list_actions(win))
        win.chain.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    from .._version import __version__

    ap = argparse.ArgumentParser(prog="kgn-gui", description="Kaleidoscope Studio: Generative Kaleidoscopic Networks")
    ap.add_argument(
        "model",
        nargs="?",
        help="a .safetensors model or a bundled model's name (kgn models lists them; default: the last one used, "
        "else the bundled MNIST model)",
    )
    ap.add_argument("--version", action="version", version=f"kgn-gui {__version__}")
    ap.add_argument(
        "--install-desktop",
        action="store_true",
        help="add Kaleidoscope Studio to your application menu (a .desktop entry and the icon under "
        "$XDG_DATA_HOME, default ~/.local/share) and exit",
    )
    ap.add_argument(
        "--list-actions",
        action="store_true",
        help="print every action of the window, its menu path and its shortcut (tab-separated), and exit",
    )
    ap.add_argument("-n", "--chains", type=int, default=None, help="number of chains (1–1024)")
    ap.add_argument("--play", action="store_true", help="start playing at once")
    ap.add_argument(
        "--quit-after",
        type=float,
        default=None,
        metavar="S",
        help="close after S seconds (smoke tests); prints the time to the first drawn frame",
    )
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    if args.chains is not None and not 1 <= args.chains <= 1024:
        ap.error("--chains must be in [1, 1024]")
    if args.install_desktop:
        from .desktop import install_desktop

        try:
            files = install_desktop()
        except OSError as e:
            print(f"kgn-gui: error: cannot install the desktop entry: {e.strerror or e}", file=sys.stderr)
            return 1
        print("installed " + ", ".join(map(str, files)))
        return 0
    if args.model:
        from ..core.bundled import resolve_model

        args.model = resolve_model(args.model)
    if args.list_actions:
        return print_actions(args.model)
    app = build_app()
    from PySide6 import QtCore

    # The first frame before torch (issue 19): the start grid from numpy and the model's header, at once.
    from .first_frame import FirstFrame, first_model, first_start

    settings = QtCore.QSettings()
    first = FirstFrame(first_model(settings, args.model), first_start(settings, args.chains))
    first.place(settings)
    first.show()
    # Painted before torch starts importing: the window system maps the window asynchronously, and once the
    # import holds the interpreter a late expose would leave the window blank (seen under Xvfb on a busy CPU).
    shown_by = time.perf_counter() + 1.0
    while first.painted_at is None and time.perf_counter() < shown_by:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
    load_in_background(app)  # torch, the core and the bundled model's training data; the first frame stays up
    import qasync  # after PySide6, so qasync binds to it

    from .main_window import MainWindow

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    win = MainWindow(args.model, n_chains=args.chains)
    install_error_hook(win)
    first_frame: list[float] = []
    win.chain.stepShown.connect(lambda _t: first_frame or first_frame.append((time.perf_counter(), time.time())))
    win.show()
    first.close()
    if args.quit_after is None:  # interactive: after the first frame, the quick start (first launch, or asked
        # for) beside the window, then interrupted training runs
        from .dialogs import offer_quick_start

        QtCore.QTimer.singleShot(300, lambda: offer_quick_start(win))
        QtCore.QTimer.singleShot(500, win.training_actions.offer_recovery)
    freeze_startup_objects()
    win.chain.redraw()
    if args.play:
        win.chain.play()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    if args.quit_after is not None:
        QtCore.QTimer.singleShot(int(args.quit_after * 1000), win.close)
        QtCore.QTimer.singleShot(int(args.quit_after * 1000) + 50, app.quit)
    with loop:
        loop.run_until_complete(closed.wait())
    if args.quit_after is not None:
        if first.painted_at is not None:
            print(
                f"first visible frame after {first.painted_at - _T_IMPORT:.2f} s (from importing the app), at unix "
                f"time {first.painted_unix:.3f}; torch was {'' if first.torch_at_paint else 'not '}imported"
            )
        ff = f"{first_frame[0][0] - _T_IMPORT:.2f} s" if first_frame else "none"
        wall = f", at unix time {first_frame[0][1]:.3f}" if first_frame else ""
        print(f"playable after {ff} (from importing the app){wall}; reached step {win.chain.t_max}")
    return 0
