"""Keyboard first: the transport's keys work anywhere in the window unless a text field is being edited;
Enter or Esc leaves a field, clicking the chain grid does too; Ctrl+G and the go-to box; Help → Keyboard
shortcuts lists every action's shortcut."""

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from kgn_gui.ui import dialogs
from kgn_gui.ui.menus import GOTO_COMPUTE_MAX

K = QtCore.Qt.Key


@pytest.fixture
def window(make_window, qtbot):
    w = make_window()
    w.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w, timeout=2000)
    return w


def focus(qtbot, widget):
    widget.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is widget, timeout=2000)


def press(qtbot, key, modifier=QtCore.Qt.KeyboardModifier.NoModifier):
    """A key pressed where the keyboard is now: the focus widget, else the window (as a user types)."""
    target = QtWidgets.QApplication.focusWidget() or QtWidgets.QApplication.activeWindow()
    qtbot.keyClick(target, key, modifier)


def left_field(qtbot, window, field):
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is not field, timeout=2000)
    now = QtWidgets.QApplication.focusWidget()
    assert now is None or window.isAncestorOf(now)  # still in the window: the chains' side of it


def test_a_spin_box_being_edited_keeps_space_and_the_arrows_and_enter_gives_them_back(window, qtbot):
    seed = window.start_panel.seed  # a QSpinBox in the Start input dock
    focus(qtbot, seed)
    seed.selectAll()
    qtbot.keyClicks(seed, "17")
    assert seed.lineEdit().text() == "17"
    press(qtbot, K.Key_Space)
    press(qtbot, K.Key_Left)
    press(qtbot, K.Key_Right)
    assert not window.chain.playing and window.chain.view_t == 0
    assert QtWidgets.QApplication.focusWidget() is seed
    press(qtbot, K.Key_Return)
    left_field(qtbot, window, seed)
    assert seed.value() == 17  # Enter took the value before the focus left
    press(qtbot, K.Key_Space)
    assert window.chain.playing
    press(qtbot, K.Key_Space)
    assert not window.chain.playing
    t = window.chain.view_t
    press(qtbot, K.Key_Right)
    press(qtbot, K.Key_Right, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert window.chain.view_t == t + 11
    press(qtbot, K.Key_Left)
    assert window.chain.view_t == t + 10
    press(qtbot, K.Key_Home)
    assert window.chain.view_t == 0
    press(qtbot, K.Key_End)
    assert window.chain.view_t == window.chain.t_max == t + 11


def test_escape_leaves_a_line_edit_and_the_arrows_step_again(window, qtbot):
    box = window.transport.goto  # a QLineEdit
    focus(qtbot, box)
    qtbot.keyClicks(box, "42")
    press(qtbot, K.Key_Left)  # moves the text cursor, not the chain
    press(qtbot, K.Key_Space)
    assert box.text() == "42" and box.cursorPosition() == 1
    assert window.chain.view_t == 0 and not window.chain.playing
    press(qtbot, K.Key_Escape)
    left_field(qtbot, window, box)
    assert window.chain.view_t == 0  # Esc does not go to the step typed
    press(qtbot, K.Key_Right)
    press(qtbot, K.Key_Right)
    assert window.chain.view_t == 2


def test_clicking_the_grid_ends_an_edit(window, qtbot):
    eps = window.transport.eps
    focus(qtbot, eps)
    press(qtbot, K.Key_Space)
    assert not window.chain.playing
    qtbot.mouseClick(window.grid, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(3, 3))
    left_field(qtbot, window, eps)
    press(qtbot, K.Key_Space)
    assert window.chain.playing
    window.chain.pause()


def test_space_plays_while_a_button_or_a_combo_box_has_the_focus(window, qtbot):
    for w in (window.start_panel.findChildren(QtWidgets.QPushButton)[0], window.transport.noise):
        focus(qtbot, w)
        press(qtbot, K.Key_Space)
        assert window.chain.playing, type(w).__name__
        press(qtbot, K.Key_Space)
        assert not window.chain.playing


def test_ctrl_g_focuses_the_go_to_box_and_enter_jumps_to_the_step(window, qtbot):
    box = window.transport.goto
    for _ in range(20):
        press(qtbot, K.Key_Right)
    assert window.chain.view_t == window.chain.t_max == 20
    press(qtbot, K.Key_G, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert QtWidgets.QApplication.focusWidget() is box
    qtbot.keyClicks(box, "7")
    press(qtbot, K.Key_Return)
    assert window.chain.view_t == 7
    qtbot.waitUntil(lambda: window.transport.step_label.text() == "step 7 / 20", timeout=2000)
    left_field(qtbot, window, box)
    assert box.text() == ""
    # Past the last step reached: computed up to it …
    press(qtbot, K.Key_G, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, "31")
    press(qtbot, K.Key_Return)
    assert window.chain.view_t == window.chain.t_max == 31
    # … unless it is too far ahead: the last step reached, and the status bar says why.
    far = 31 + GOTO_COMPUTE_MAX + 1
    press(qtbot, K.Key_G, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, str(far))
    press(qtbot, K.Key_Return)
    assert window.chain.view_t == window.chain.t_max == 31
    assert f"step {far:,} is not reached yet" in window.statusBar().currentMessage()


def _menu_actions(menu: QtWidgets.QMenu):
    for a in menu.actions():
        if a.menu() is not None:
            yield from _menu_actions(a.menu())
        else:
            yield a


def test_the_shortcuts_dialog_lists_every_actions_shortcut(window, qtbot):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    next(a for a in help_menu.actions() if a.text() == "&Keyboard shortcuts").trigger()
    d = window._help_windows["shortcuts_dialog"]
    assert d.isVisible() and not d.isModal()
    t = d.table
    rows = {(t.item(r, 1).text(), t.item(r, 2).text()) for r in range(t.rowCount())}
    keys_of = {}
    for what, keys in rows:
        keys_of.setdefault(what, []).append(keys.split(", "))
    actions = set(window.actions()) | set(window.findChildren(QtGui.QAction))  # widgets' own actions too
    for top in window.menuBar().actions():
        actions.update(_menu_actions(top.menu()))
    with_keys = [a for a in actions if not a.shortcut().isEmpty()]
    assert len(with_keys) >= 18
    for a in with_keys:
        text = a.text().replace("&", "").rstrip("…")
        keys = [k.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()]
        assert keys in keys_of.get(text, []), (text, keys)  # every shortcut of the action, in one row
    # The keys the transport promises, by name.
    for expected in [
        ("Play / pause", "Space"),
        ("Step forward", "Right"),
        ("Back 10", "Shift+Left"),
        ("First step", "Home"),
        ("Last step reached", "End"),
        ("Go to step", "Ctrl+G"),
    ]:
        assert expected in rows
    # Edit → Undo / Redo: the chains' last change, or the paint canvas's stroke when it has the keyboard
    assert ("Undo", "Ctrl+Z") in rows and ("Redo", "Ctrl+Shift+Z") in rows
    where = {t.item(r, 1).text(): t.item(r, 0).text() for r in range(t.rowCount())}
    assert where["Play / pause"] == "Chain" and where["Undo"] == "Edit"
    assert t.rowCount() == len(dialogs.shortcut_rows(window))
