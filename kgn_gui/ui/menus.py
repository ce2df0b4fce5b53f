"""The window's menus and keyboard shortcuts (every action a user can take from the menu bar), and the keyboard
focus: the transport's keys work anywhere in the window unless a text field is being edited, Enter or Esc
leaves a field, clicking the chains takes the focus."""

from __future__ import annotations

from functools import partial

import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from . import dialogs
from .compare import compare_with_dialog
from .palette import open_palette
from .session_log import save_session_log
from .theme import THEMES

GOTO_COMPUTE_MAX = 250  # the go-to box computes at most this many steps past the last one reached (~10 ms each)


def is_text_field(w: QtWidgets.QWidget | None) -> bool:
    """A widget that takes typed text (so it keeps Space, the arrows, Home and End while it has the focus)."""
    if isinstance(w, QtWidgets.QComboBox):
        return w.isEditable()
    if isinstance(w, (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox, QtWidgets.QPlainTextEdit, QtWidgets.QTextEdit)):
        return not w.isReadOnly()
    return False


class KeyboardFocus(QtCore.QObject):
    """Enter, Return or Esc in a single-line field of the window (Esc in a multi-line one) ends the edit: the
    field handles the key first (a spin box takes its value, a line edit emits returnPressed), then the focus
    goes back to the views, where Space and the arrows drive the transport again. Clicking the views (the
    chain grid, which takes no focus itself) gives the central area the focus, so a field being edited lets
    go. The filter sits only on the field that has the focus (an application-wide one would see every event
    of the app)."""

    def __init__(self, window: QtWidgets.QMainWindow):
        super().__init__(window)
        self.window = window
        self.field: QtWidgets.QWidget | None = None
        window.centralWidget().setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        QtWidgets.QApplication.instance().focusChanged.connect(self._focus_changed)

    def _belongs(self, w: QtWidgets.QWidget) -> bool:
        while w is not None:  # a floating dock is a window of its own: walk parents, not window()
            if w is self.window:
                return True
            w = w.parentWidget()
        return False

    @QtCore.Slot(QtWidgets.QWidget, QtWidgets.QWidget)
    def _focus_changed(self, _old, new) -> None:
        if self.field is not None and shiboken6.isValid(self.field):
            self.field.removeEventFilter(self)
        self.field = new if is_text_field(new) and self._belongs(new) else None
        if self.field is not None:
            self.field.installEventFilter(self)

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        if ev.type() == QtCore.QEvent.Type.KeyPress and obj is self.field:
            K = QtCore.Qt.Key
            multi_line = isinstance(obj, (QtWidgets.QPlainTextEdit, QtWidgets.QTextEdit))
            if ev.key() == K.Key_Escape or (ev.key() in (K.Key_Return, K.Key_Enter) and not multi_line):
                QtCore.QTimer.singleShot(0, self, partial(self.leave, obj))
        return False

    def leave(self, field: QtWidgets.QWidget | None = None) -> None:
        """The focus back to the views (the shown tab if it takes focus, else the central area), if ``field``
        (default: whichever field) still has it."""
        focus = QtWidgets.QApplication.focusWidget()
        if focus is None or (field is not None and focus is not field) or not self._belongs(focus):
            return
        w = self.window
        view = w.views.currentWidget() if hasattr(w, "views") else None
        if view is not None and view.focusPolicy() & QtCore.Qt.FocusPolicy.ClickFocus:
            view.setFocus(QtCore.Qt.FocusReason.OtherFocusReason)
        else:
            w.centralWidget().setFocus(QtCore.Qt.FocusReason.OtherFocusReason)


def go_to_step(w, t: int) -> None:
    """Show step ``t``: a reached one at once; up to GOTO_COMPUTE_MAX steps past the last reached are computed,
    further ones are left to playing (the last reached is shown, the status bar says why)."""
    ch = w.chain
    if ch.session is None:
        return
    if t <= ch.t_max:
        ch.seek(t)
    elif t - ch.t_max <= GOTO_COMPUTE_MAX:
        ch.step_by(t - ch.view_t)
    else:
        ch.seek(ch.t_max)
        w.statusBar().showMessage(
            f"step {t:,} is not reached yet: the chains are at step {ch.t_max:,} (play to go further; "
            f"the go-to box computes at most {GOTO_COMPUTE_MAX} steps ahead)",
            10_000,
        )


UNDO_TIP = (
    "The chains' last sampler change, live edit or condition, exactly (the history is recomputed from its "
    "step); in the Paint tab's canvas, when it has the keyboard, its last stroke"
)


def undo(w, redo: bool = False) -> str | None:
    """Edit → Undo / Redo: the paint canvas's stroke when it has the keyboard, else the chains' last change
    (ChainUndo); the status bar says what was undone. Returns that."""
    canvas = w.start_panel.canvas
    if QtWidgets.QApplication.focusWidget() is canvas:
        done = canvas.redo() if redo else canvas.undo()
        what = "the paint stroke" if done else None
    else:
        what = w.chain.undo.redo() if redo else w.chain.undo.undo()
    verb = "redo" if redo else "undo"
    w.statusBar().showMessage(f"{verb}: {what}" if what else f"nothing to {verb}", 5000)
    return what


def undo_texts(w) -> None:
    u = w.chain.undo
    w.undo_action.setText(f"&Undo {u.undo_text()}" if u.undo_text() else "&Undo")
    w.redo_action.setText(f"&Redo {u.redo_text()}" if u.redo_text() else "&Redo")


def after_undo(w) -> None:
    """The panels that show the chains' settings follow an undo: the sampler boxes (the sampler at the head),
    the Condition the lab puts on new chains, the timeline's marks."""
    s = w.session
    w.transport.set_sampler(s.config.sampler)
    w.lab.condition = s.lab.condition
    w.lab.refresh()


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
    ma, ea, aa, ta = w.model_actions, w.export_actions, w.analysis_actions, w.training_actions
    m = w.menuBar().addMenu("&File")
    _action(w, m, "&Open model…", ma.open_model_dialog, SK.Open, "Open a .safetensors model (Ctrl+O)")
    w.recent_menu = m.addMenu("Open &recent")
    w.bundled_menu = m.addMenu("Open &bundled model")
    from ..core.bundled import bundled_models, model_summary

    for name, path in bundled_models().items():
        a = w.bundled_menu.addAction(name)
        a.setToolTip(model_summary(path))
        a.triggered.connect(lambda _c=False, p=path: ma.open_bundled(p))
    w.bundled_menu.setToolTipsVisible(True)
    _action(w, m, "&Compare with…", lambda: compare_with_dialog(w), tip="Another model beside this one on one "
            "locked timeline: the same start, seeds, sampler, condition and edits; curves overlaid")  # fmt: skip
    _action(w, m, "Stop co&mparing", w.points.drop, tip="Back to the one model (Compare with… or Compare depths)")
    _action(w, m, "&Save model as…", ma.save_model_dialog, SK.Save, "Save the current model (Ctrl+S)")
    m.addSeparator()
    _action(
        w,
        m,
        "Import &data file…",
        lambda: ma.import_data_dialog(False),
        tip="IDX (raw or .gz), .npz or .npy",
    )
    _action(
        w,
        m,
        "Import data &folder…",
        lambda: ma.import_data_dialog(True),
        tip="A folder of IDX files (e.g. MNIST/raw) or of PNG/JPEG/BMP/GIF/TIFF/WebP images, sub-folders as labels",
    )
    m.addSeparator()
    _action(
        w,
        m,
        "&Export animation…",
        ea.export_dialog,
        "Ctrl+E",
        "GIF, APNG, MP4, WebM or PNG frames (Ctrl+E)",
    )
    _action(
        w,
        m,
        "Save run &bundle…",
        ea.save_bundle_dialog,
        tip="Model, chain settings, metrics.csv and the animation of every step reached, in one "
        "folder or .zip: `kgn sample --bundle` reproduces it",
    )
    _action(w, m, "Export &states (.npz)…", ea.export_states_dialog, tip="The chains' states at chosen steps")
    _action(w, m, "Save grid &image…", ea.save_grid_dialog, tip="The chain grid at the current step as PNG")
    _action(w, m, "Save session &log…", lambda: save_session_log(w), tip="Every run of this session as the kgn "
            "commands (.sh) or the Python (.py) that reproduce it, as far as each was shown")  # fmt: skip
    m.addSeparator()
    _action(w, m, "&Quit", w.close, "Ctrl+Q")

    e = w.menuBar().addMenu("&Edit")
    w.undo_action = _action(w, e, "&Undo", lambda: undo(w), SK.Undo, UNDO_TIP)
    w.redo_action = _action(w, e, "&Redo", lambda: undo(w, redo=True), "Ctrl+Shift+Z", UNDO_TIP)
    w.chain.undo.changed.connect(lambda: undo_texts(w))
    w.chain.undo.restored.connect(lambda _t: after_undo(w))
    e.addSeparator()
    _action(w, e, "Copy as &kgn command", lambda: ea.copy_as("command"), "Ctrl+Shift+C",
            "The kgn sample command that reproduces the shown step of these chains, exactly")  # fmt: skip
    _action(w, e, "Copy as &Python", lambda: ea.copy_as("python"), tip="The same run over the public API (kgn_gui)")

    c = w.menuBar().addMenu("&Chain")
    w.play_action = _action(w, c, "&Play / pause", ch.toggle, K.Key_Space)
    _action(w, c, "Step &forward", lambda: ch.step_by(1), K.Key_Right)
    _action(w, c, "Step &back", lambda: ch.step_by(-1), K.Key_Left)
    _action(w, c, "Forward 10", lambda: ch.step_by(10), "Shift+Right")
    _action(w, c, "Back 10", lambda: ch.step_by(-10), "Shift+Left")
    _action(w, c, "First step", lambda: ch.seek(0), K.Key_Home)
    _action(w, c, "Last step reached", ch.go_end, K.Key_End)
    _action(w, c, "&Go to step…", w.transport.focus_goto, "Ctrl+G", "Type a step in the go-to box, then Enter")
    w.transport.gotoRequested.connect(lambda t: go_to_step(w, t))
    c.addSeparator()
    _action(w, c, "&Reset to the start input", w.reset_chain, "Ctrl+R")
    _action(w, c, "&Randomize", w.start_panel.request_random, "Ctrl+Shift+R")

    an = w.menuBar().addMenu("&Analysis")
    _action(w, an, "&Measure the shown step", w.measures.measure_now, "Ctrl+M")
    _action(w, an, "&Attractor audit", lambda: w.measures.attractor_audit(w.analysis.audit_n.value()))
    _action(w, an, "&Basin recovery", w.analysis._recovery_clicked)
    _action(
        w,
        an,
        "&Depth sweep…",
        aa.sweep_dialog,
        tip="Train one model per depth on the Training dock's source and recipe and measure each (CSV + PNG)",
    )

    t = w.menuBar().addMenu("&Training")
    _action(w, t, "&Train", ta.start_training, "Ctrl+T")
    _action(w, t, "&Stop", w.training.stop, "Ctrl+.")
    _action(w, t, "&Use current weights", ta.use_trained_weights, "Ctrl+U")

    v = w.menuBar().addMenu("&View")
    for d in (w.training_dock, w.start_dock, w.lab_dock, w.plots_dock, w.inspector_dock, w.analysis_dock):
        v.addAction(d.toggleViewAction())
    v.addSeparator()
    g = w.grid  # the grid's own actions (their shortcuts work over the grid; PgUp/PgDn only when it has focus)
    for a in (g.zoom_in_action, g.zoom_out_action, g.zoom_fit_action, g.next_page_action, g.prev_page_action):
        v.addAction(a)
    v.addSeparator()
    _action(w, v, "Reset &layout", w.default_layout)
    th = v.addMenu("&Theme")
    group = QtGui.QActionGroup(th)
    w.theme_actions = {}
    for choice in THEMES:
        a = th.addAction("System (follow the desktop)" if choice == "system" else choice.capitalize())
        a.setCheckable(True)
        a.setChecked(choice == w.theme.choice)
        a.triggered.connect(lambda _checked=False, c=choice: w.theme.set_choice(c))
        group.addAction(a)
        w.theme_actions[choice] = a

    h = w.menuBar().addMenu("&Help")
    _action(w, h, "&Quick start", lambda: dialogs.quick_start(w), "F1", "What the kaleidoscope is and how to drive it")
    _action(w, h, "&Keyboard shortcuts", lambda: dialogs.shortcuts(w), "Ctrl+/", "Every shortcut of the window")
    _action(w, h, "&Command palette…", lambda: open_palette(w), "Ctrl+Shift+P", "Find any action by typing its name")
    h.addSeparator()
    _action(w, h, "&About Kaleidoscope Studio", lambda: dialogs.about(w), tip="Version, method, libraries, licences")
    w.keyboard = KeyboardFocus(w)
