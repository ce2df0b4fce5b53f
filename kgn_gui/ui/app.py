"""QApplication + qasync event loop; ``main()`` is the ``kgn-gui`` entry point."""
from __future__ import annotations

import argparse
import asyncio
import sys

from . import __name__ as _ui  # noqa: F401  (sets QT_API before Qt-dependent imports)


def build_app(argv: list[str] | None = None):
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv or sys.argv[:1])
    app.setApplicationName("Kaleidoscope Studio")
    app.setOrganizationName("Kaleidoscope Studio")
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kgn-gui", description="Kaleidoscope Studio")
    ap.add_argument("model", nargs="?", help="a .safetensors model (default: the bundled MNIST model)")
    ap.add_argument("-n", "--chains", type=int, default=64)
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    app = build_app()
    import qasync  # after PySide6, so qasync binds to it

    from .main_window import MainWindow

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    win = MainWindow(args.model, n_chains=args.chains)
    win.show()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    return 0
