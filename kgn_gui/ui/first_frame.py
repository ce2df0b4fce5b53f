"""The window's first frame, drawn before torch is imported (issue 19).

Importing torch takes most of a launch (1–3 s here). The first frame needs none of it: the start grid is
the start noise, which numpy draws exactly as the chain will (``core.start_preview``), and the model's
shape, value range and name come from its file's header (``core.model.header.first_look``). So ``app.main``
shows this window at once, with a "loading model…" line, imports the rest in a background thread, then
builds the main window in its place (same geometry) — playable from its first frame.

Nothing here imports torch (``tests/ui/test_first_frame.py`` checks it in a fresh process).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ..core.bundled import MODELS_DIR
from ..core.chain.start_preview import preview_start
from ..core.model.header import first_look
from .widgets.chain_grid import ChainGrid

DEFAULT_MODEL = MODELS_DIR / "mnist.safetensors"


def first_model(settings: QtCore.QSettings, model_path: str | None) -> Path:
    """The model the main window will open: the one asked for, else the last one opened, else the bundled
    MNIST model (as ``MainWindow.__init__`` chooses)."""
    return Path(model_path or settings.value("chain/last_model", "") or DEFAULT_MODEL)


def first_launch_geometry(avail: QtCore.QRect) -> QtCore.QRect:
    """Where a first launch puts the window on a screen's free area: at most 1400×900 and 95 % × 92 % of it,
    centred (the main window's default layout and this first frame alike)."""
    w, h = min(1400, int(avail.width() * 0.95)), min(900, int(avail.height() * 0.92))
    return QtCore.QRect(avail.x() + (avail.width() - w) // 2, avail.y() + (avail.height() - h) // 2, w, h)


def first_start(settings: QtCore.QSettings, n_chains: int | None) -> tuple[str, int, int]:
    """(start kind, chains, seed) as the Start panel will restore them."""

    def num(key: str, default: int) -> int:
        try:
            return int(settings.value(key, default))
        except (TypeError, ValueError):
            return default

    return str(settings.value("chain/start", "uniform")), n_chains or num("chain/n", 64), num("chain/seed", 0)


class FirstFrame(QtWidgets.QMainWindow):
    """A window with the start grid and a "loading model…" line, shown while the app loads."""

    def __init__(self, model_path: Path, start: tuple[str, int, int]):
        super().__init__()
        self.painted_at: float | None = None  # perf_counter of the grid's first paint (for launch timing)
        self.painted_unix = 0.0
        self.torch_at_paint = False  # whether torch had been imported by then (it must not have been)
        self.grid = ChainGrid()
        self.status = QtWidgets.QLabel()
        self.status.setObjectName("loading_model")
        f = self.status.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.status.setFont(f)
        self.status.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.grid.installEventFilter(self)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.addWidget(self.grid, 1)
        lay.addWidget(self.status)
        self.setCentralWidget(central)
        info = first_look(model_path)
        kind, n, seed = start
        if info is None:
            self.setWindowTitle("Kaleidoscope Studio")
            self.status.setText(f"loading {model_path.name}…")
            return
        self.setWindowTitle(f"{info['name']} – Kaleidoscope Studio")
        arch = f"{str(info['arch']).upper()} L={info['L']} H={info['H']} {info['bound']}"
        self.status.setText(f"loading model {info['name']} ({arch}) … the chains are playable in a moment")
        shape, vr = info["shape"], info["value_range"]
        D = math.prod(shape)
        x = preview_start(kind, min(n, self.grid.max_tiles), D, vr, seed) if len(shape) == 3 else None
        if x is not None:
            self.grid.set_geometry(shape, vr)
            self.grid.show_states(x, 0)

    def place(self, settings: QtCore.QSettings | None = None) -> None:
        """Where the main window will be: its saved geometry, else where a first launch puts it (≤ 1400×900
        and 95 % of the free area, centred)."""
        saved = settings.value("window/geometry") if settings is not None else None
        if saved is not None and self.restoreGeometry(saved):
            return
        screen = QtGui.QGuiApplication.primaryScreen()
        g = first_launch_geometry(screen.availableGeometry() if screen is not None else QtCore.QRect(0, 0, 1400, 900))
        self.resize(g.size())
        self.move(g.topLeft())

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        if obj is self.grid and ev.type() == QtCore.QEvent.Type.Paint and self.painted_at is None:
            import time

            self.painted_at = time.perf_counter()
            self.painted_unix = time.time()
            self.torch_at_paint = "torch" in sys.modules
        return False
