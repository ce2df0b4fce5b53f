"""Every action of the window in one list, read from its menu bar: the command palette (Ctrl+Shift+P) searches
it by fuzzy match, and ``kgn-gui --list-actions`` prints it. The menus are the one source: an action added to a
menu is in the palette and in the list without being named again."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets


def plain(text: str) -> str:
    """A menu text without its mnemonic marks ("&Open model…" → "Open model…", "&&" → "&")."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


@dataclass(frozen=True)
class Entry:
    """One action and the menus that lead to it (("File", "Open model…"))."""

    path: tuple[str, ...]
    action: QtGui.QAction

    @property
    def text(self) -> str:
        return " › ".join(self.path)

    @property
    def shortcut(self) -> str:
        return self.action.shortcut().toString(QtGui.QKeySequence.SequenceFormat.PortableText)


def menu_entries(menubar: QtWidgets.QMenuBar) -> list[Entry]:
    """Every action of every menu and sub-menu of ``menubar`` in menu order (separators and the sub-menus'
    own titles left out)."""
    out: list[Entry] = []

    def walk(menu: QtWidgets.QMenu, path: tuple[str, ...]) -> None:
        for a in menu.actions():
            if a.isSeparator():
                continue
            sub = a.menu()
            if sub is not None:
                walk(sub, (*path, plain(a.text())))
            elif a.text():
                out.append(Entry((*path, plain(a.text())), a))

    for top in menubar.actions():
        if top.menu() is not None:
            walk(top.menu(), (plain(top.text()),))
    return out


def fuzzy_score(query: str, text: str) -> float | None:
    """How well ``query``'s characters, in order and ignoring case and spaces, match ``text`` (None: they do
    not all occur in order). Runs of consecutive characters and characters at the start of a word score
    higher, and a shorter text breaks ties: "opmo" finds "File › Open model…" before "Open recent"."""
    q = "".join(query.lower().split())
    if not q:
        return 0.0
    t = text.lower()
    score, at, run = 0.0, 0, 0
    for ch in q:
        i = t.find(ch, at)
        if i < 0:
            return None
        run = run + 1 if i == at and at > 0 else 1
        word_start = i == 0 or not t[i - 1].isalnum()
        score += run + (2.0 if word_start else 0.0)
        at = i + 1
    return score - 0.01 * len(t)


def search(entries: list[Entry], query: str) -> list[Entry]:
    """The entries matching ``query``, best first (menu order among equals)."""
    scored = [(s, k, e) for k, e in enumerate(entries) if (s := fuzzy_score(query, e.text)) is not None]
    scored.sort(key=lambda r: (-r[0], r[1]))
    return [e for _, _, e in scored]


class CommandPalette(QtWidgets.QDialog):
    """A search field over the window's actions: type, move with Up/Down, Enter runs the highlighted one
    (an action not available now is listed greyed and does not run), Esc closes."""

    def __init__(self, window: QtWidgets.QMainWindow):
        super().__init__(window)
        self.setWindowTitle("Command palette")
        self.entries = menu_entries(window.menuBar())
        self.field = QtWidgets.QLineEdit()
        self.field.setPlaceholderText("Type to find an action (e.g. “exp anim”, “audit”, “theme dark”)")
        self.list = QtWidgets.QTreeWidget()
        self.list.setColumnCount(2)
        self.list.setHeaderHidden(True)
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.itemActivated.connect(lambda _item, _col: self.run_current())
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.field)
        lay.addWidget(self.list, 1)
        self.count = QtWidgets.QLabel()
        lay.addWidget(self.count)
        self.field.textChanged.connect(self.refill)
        self.field.installEventFilter(self)
        self.ran: Entry | None = None
        self.refill("")
        avail = (window.screen() or QtGui.QGuiApplication.primaryScreen()).availableGeometry()
        self.resize(min(640, avail.width() - 40), min(420, avail.height() - 80))

    def shown(self) -> list[Entry]:
        return [
            self.list.topLevelItem(i).data(0, QtCore.Qt.ItemDataRole.UserRole)
            for i in range(self.list.topLevelItemCount())
        ]

    def refill(self, query: str) -> None:
        self.list.clear()
        found = search(self.entries, query)
        for e in found:
            item = QtWidgets.QTreeWidgetItem([e.text, e.shortcut])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, e)
            item.setTextAlignment(1, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            tip = e.action.statusTip() or e.action.toolTip()
            if not e.action.isEnabled():
                item.setDisabled(True)
                tip = f"not available now{': ' + tip if tip else ''}"
            if tip:
                item.setToolTip(0, tip)
            self.list.addTopLevelItem(item)
        self.list.resizeColumnToContents(1)
        self.list.header().setStretchLastSection(False)
        self.list.header().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        first = next((i for i, e in enumerate(found) if e.action.isEnabled()), None)
        if first is not None:
            self.list.setCurrentItem(self.list.topLevelItem(first))
        self.count.setText(f"{len(found)} of {len(self.entries)} actions" + ("" if found else ": none match"))

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.field and ev.type() == QtCore.QEvent.Type.KeyPress:
            K = QtCore.Qt.Key
            if ev.key() in (K.Key_Down, K.Key_Up, K.Key_PageDown, K.Key_PageUp):
                QtWidgets.QApplication.sendEvent(self.list, ev)
                return True
            if ev.key() in (K.Key_Return, K.Key_Enter):
                self.run_current()
                return True
        return False

    def run_current(self) -> None:
        item = self.list.currentItem()
        if item is None or item.isDisabled():
            return
        self.ran = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        self.accept()
        QtCore.QTimer.singleShot(0, self.ran.action.trigger)  # after the palette has closed


def open_palette(window: QtWidgets.QMainWindow) -> CommandPalette:
    """Help → Command palette (Ctrl+Shift+P), at the top of the window."""
    old = getattr(window, "command_palette", None)
    if old is not None:
        old.deleteLater()  # a fresh list: actions are enabled or not as of now
    dlg = CommandPalette(window)
    g = window.geometry()
    dlg.move(g.x() + (g.width() - dlg.width()) // 2, g.y() + 60)
    window.command_palette = dlg
    dlg.finished.connect(lambda _r: keys_back(window))
    dlg.setModal(True)  # typing goes to the search field, never to the window's keys (Space would play)
    dlg.show()
    if QtGui.QGuiApplication.platformName() != "offscreen":  # no window stack to raise it in there
        dlg.raise_()
    dlg.activateWindow()
    dlg.field.setFocus(QtCore.Qt.FocusReason.ActiveWindowFocusReason)
    return dlg


def keys_back(window: QtWidgets.QMainWindow) -> None:
    """The keyboard back to the window's views when the palette closes (under Xvfb with no window manager
    nothing re-activated the window: Space did not play until a click)."""
    window.activateWindow()
    view = window.views.currentWidget() if hasattr(window, "views") else None
    target = view if view is not None and view.focusPolicy() & QtCore.Qt.FocusPolicy.ClickFocus else None
    (target or window.centralWidget()).setFocus(QtCore.Qt.FocusReason.OtherFocusReason)


def list_actions(window: QtWidgets.QMainWindow) -> str:
    """``kgn-gui --list-actions``: one line per action, its menu path and its shortcut, tab-separated."""
    return "\n".join(f"{e.text}\t{e.shortcut}" for e in menu_entries(window.menuBar()))
