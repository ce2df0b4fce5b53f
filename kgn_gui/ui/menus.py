"""The window's menus and keyboard shortcuts (every action a user can take from the menu bar)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui

from . import dialogs


def _action(w, menu, text, slot, shortcut=None, tip=None) -> QtGui.QAction:
    a = menu.addAction(text)
    a.triggered.connect(slot)
    if shortcut is not None:
        a.setShortcut(QtGui.QKeySequence(shortcut))
        a.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(tip)
    w.addAction(a)
    return a


def build_menus(w) -> None:
    """File, Chain, Analysis, Training, View and Help, on the window ``w`` (a MainWindow)."""
    K, SK, ch = QtCore.Qt.Key, QtGui.QKeySequence.StandardKey, w.chain
    m = w.menuBar().addMenu("&File")
    _action(w, m, "&Open model…", w.open_model_dialog, SK.Open, "Open a .safetensors model (Ctrl+O)")
    w.recent_menu = m.addMenu("Open &recent")
    _action(w, m, "&Save model as…", w.save_model_dialog, SK.Save, "Save the current model (Ctrl+S)")
    m.addSeparator()
    _action(w, m, "Import &data file…", lambda: w.import_data_dialog(False), tip="IDX (raw or .gz), .npz or .npy")
    _action(
        w,
        m,
        "Import data &folder…",
        lambda: w.import_data_dialog(True),
        tip="A folder of IDX files (e.g. MNIST/raw) or of PNG/JPEG/BMP/GIF/TIFF/WebP images, sub-folders as labels",
    )
    m.addSeparator()
    _action(w, m, "&Export animation…", w.export_dialog, "Ctrl+E", "GIF, APNG, MP4, WebM or PNG frames (Ctrl+E)")
    _action(
        w,
        m,
        "Save run &bundle…",
        w.save_bundle_dialog,
        tip="Model, chain settings, metrics.csv and the animation of every step reached, in one "
        "folder or .zip: `kgn sample --bundle` reproduces it",
    )
    _action(w, m, "Export &states (.npz)…", w.export_states_dialog, tip="The chains' states at chosen steps")
    _action(w, m, "Save grid &image…", w.save_grid_dialog, tip="The chain grid at the current step as PNG")
    m.addSeparator()
    _action(w, m, "&Quit", w.close, SK.Quit)

    c = w.menuBar().addMenu("&Chain")
    w.play_action = _action(w, c, "&Play / pause", ch.toggle, K.Key_Space)
    _action(w, c, "Step &forward", lambda: ch.step_by(1), K.Key_Right)
    _action(w, c, "Step &back", lambda: ch.step_by(-1), K.Key_Left)
    _action(w, c, "Forward 10", lambda: ch.step_by(10), "Shift+Right")
    _action(w, c, "Back 10", lambda: ch.step_by(-10), "Shift+Left")
    _action(w, c, "First step", lambda: ch.seek(0), K.Key_Home)
    _action(w, c, "Last step reached", ch.go_end, K.Key_End)
    c.addSeparator()
    _action(w, c, "&Reset to the start input", w.reset_chain, "Ctrl+R")
    _action(w, c, "&Randomize", w.start_panel.request_random, "Ctrl+Shift+R")

    an = w.menuBar().addMenu("&Analysis")
    _action(w, an, "&Measure the shown step", w.measure_now, "Ctrl+M")
    _action(w, an, "&Attractor audit", lambda: w.run_attractor_audit(w.analysis.audit_n.value()))
    _action(w, an, "&Basin recovery", w.analysis._recovery_clicked)
    _action(
        w,
        an,
        "&Depth sweep…",
        w.sweep_dialog,
        tip="Train one model per depth on the Training dock's source and recipe and measure each (CSV + PNG)",
    )

    t = w.menuBar().addMenu("&Training")
    _action(w, t, "&Train", w.start_training, "Ctrl+T")
    _action(w, t, "&Stop", w.training.stop, "Ctrl+.")
    _action(w, t, "&Use current weights", w.use_trained_weights, "Ctrl+U")

    v = w.menuBar().addMenu("&View")
    for d in (w.training_dock, w.start_dock, w.plots_dock, w.inspector_dock, w.analysis_dock):
        v.addAction(d.toggleViewAction())
    v.addSeparator()
    _action(w, v, "Reset &layout", w.default_layout)

    h = w.menuBar().addMenu("&Help")
    _action(w, h, "&About Kaleidoscope Studio", lambda: dialogs.about(w))
