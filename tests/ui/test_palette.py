"""The command palette (Ctrl+Shift+P) and ``kgn-gui --list-actions``: every menu action, found by typing."""

import os
import subprocess
import sys

import pytest
from PySide6 import QtCore, QtWidgets

from kgn_gui.ui.palette import fuzzy_score, menu_entries, plain, search
from tests.conftest import REPO


@pytest.fixture
def window(make_window):
    return make_window()


def test_plain_drops_mnemonics_and_keeps_a_literal_ampersand():
    assert plain("&Open model…") == "Open model…" and plain("Save &&Quit") == "Save &Quit"


def test_fuzzy_score_needs_every_character_in_order_and_prefers_word_starts():
    assert fuzzy_score("opmo", "File › Open model…") is not None
    assert fuzzy_score("omp", "File › Open model…") is None  # "p" after "m" does not occur
    assert fuzzy_score("", "anything") == 0.0
    # word starts and runs beat scattered letters: "exan" → Export animation before a text with e…x…a…n spread
    assert fuzzy_score("exan", "File › Export animation…") > fuzzy_score("exan", "Chain › next page of chains")


def test_the_menus_are_the_palettes_list_with_their_shortcuts(window):
    entries = {e.text: e.shortcut for e in menu_entries(window.menuBar())}
    assert entries["File › Open model…"] == "Ctrl+O" and entries["Chain › Play / pause"] == "Space"
    assert entries["Help › Command palette…"] == "Ctrl+Shift+P" and entries["File › Quit"] == "Ctrl+Q"
    assert "File › Open bundled model › 2d-corners" in entries  # sub-menus are walked
    for dock in ("Training", "Start input", "Lab", "Plots", "Inspector", "Analysis"):  # the Lab dock too (#22)
        assert f"View › {dock}" in entries, dock
    assert not any(t.endswith(" › ") or "&" in t for t in entries)
    found = search(menu_entries(window.menuBar()), "exp anim")
    assert found[0].text == "File › Export animation…"
    assert search(menu_entries(window.menuBar()), "zzzqqq") == []


def test_ctrl_shift_p_finds_an_action_and_enter_runs_it(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=2000)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_P, QtCore.Qt.KeyboardModifier.ControlModifier
                   | QtCore.Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    qtbot.waitUntil(lambda: getattr(window, "command_palette", None) is not None, timeout=2000)
    pal = window.command_palette
    assert pal.isVisible() and pal.count.text().endswith(f"of {len(pal.entries)} actions")
    qtbot.keyClicks(pal.field, "theme dark")
    assert pal.shown()[0].text == "View › Theme › Dark"
    assert window.theme.choice != "dark"
    qtbot.keyClick(pal.field, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.theme.choice == "dark", timeout=2000)
    assert not pal.isVisible()
    window.theme.set_choice("system")


def test_an_action_not_available_now_is_listed_greyed_and_does_not_run(window, qtbot):
    from kgn_gui.ui.palette import open_palette

    window.chain.step_by(3)
    qtbot.waitUntil(lambda: window.chain.view_t == 3, timeout=5000)
    go_home = next(e.action for e in menu_entries(window.menuBar()) if e.text == "Chain › First step")
    go_home.setEnabled(False)
    pal = open_palette(window)
    pal.field.setText("first step")
    item = pal.list.topLevelItem(0)
    assert item.text(0) == "Chain › First step" and item.isDisabled() and "not available now" in item.toolTip(0)
    pal.list.setCurrentItem(item)
    pal.run_current()
    qtbot.wait(50)
    assert window.chain.view_t == 3 and pal.isVisible()
    go_home.setEnabled(True)
    pal.close()


def test_kgn_gui_list_actions_prints_every_action_without_a_display(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # no saved settings: no recent files in the list
    out = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--list-actions", "models/2d-corners.safetensors"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "Help › Command palette…\tCtrl+Shift+P" in lines and "File › Open model…\tCtrl+O" in lines
    assert all(line.count("\t") == 1 for line in lines) and len(lines) > 40
    # settings of its own: Open recent lists only the model it opened, and the user's settings are untouched
    assert [line for line in lines if line.startswith("File › Open recent ›")] == [
        "File › Open recent › 2d-corners.safetensors\t"
    ]
    assert not any(tmp_path.iterdir())
    assert "Traceback" not in out.stderr


def test_closing_the_palette_gives_the_keyboard_back_to_the_views(window, qtbot):
    from kgn_gui.ui.palette import open_palette

    window.activateWindow()
    pal = open_palette(window)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is pal.field, timeout=2000)
    pal.reject()  # Esc
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is not None, timeout=2000)
    focus = QtWidgets.QApplication.focusWidget()
    assert focus is window.centralWidget() or window.centralWidget().isAncestorOf(focus)
