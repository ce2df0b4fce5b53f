"""Bounded number fields that say their bounds (issue 30: ε "5" stayed 0.0100, chains 99999 became 999 and
"zz-1" became 1, all without a word). Every QSpinBox / QDoubleSpinBox under a panel gets a tooltip line with
its range, and a typed value it refuses (out of range, not a number, too many decimals) or reverts when the
field is left is said in one line — "ε: 5 is out of range 0 … 1; kept 0.0100" — in the status bar of the
window the field is in (``widget.window()``), else as a tooltip at the field."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

NOTE_MS = 8000  # how long the status bar keeps the line


def number_text(box: QtWidgets.QAbstractSpinBox, v: float) -> str:
    """``v`` as a person reads it: whole numbers with thousands separators, others in their shortest form."""
    return f"{int(v):,}" if isinstance(box, QtWidgets.QSpinBox) else f"{float(v):g}"


def range_text(box) -> str:
    return f"{number_text(box, box.minimum())} … {number_text(box, box.maximum())}"


def field_name(box) -> str:
    """What the field is called: its own prefix ("ε ", "α "), else its form label, else its object name."""
    if box.prefix().strip():
        return box.prefix().strip().rstrip("=:#").strip()
    parent = box.parentWidget()
    for form in parent.findChildren(QtWidgets.QFormLayout) if parent is not None else ():
        label = form.labelForField(box)
        if isinstance(label, QtWidgets.QLabel) and label.text().strip():
            return label.text().strip().rstrip(":")
    return box.objectName().replace("_", " ") or "this field"


def say(box, line: str) -> None:
    """``line`` in the status bar of the box's main window, else as a tooltip at the box; kept on the box."""
    box.setProperty("range_note", line)
    win = box.window()
    if isinstance(win, QtWidgets.QMainWindow):
        win.statusBar().showMessage(line, NOTE_MS)
    else:
        QtWidgets.QToolTip.showText(box.mapToGlobal(QtCore.QPoint(0, box.height())), line, box)


def refusal(box, typed: str) -> str:
    """The one line for a text the box does not take."""
    core = typed
    for part in (box.prefix(), box.suffix()):
        core = core.replace(part, "") if part else core
    core = core.strip()
    kept = number_text(box, box.value())
    name = field_name(box)
    try:
        v = float(core.replace(",", ""))
    except ValueError:
        return f"{name}: {core!r} is not a number (range {range_text(box)}); kept {kept}"
    if box.minimum() <= v <= box.maximum():
        places = box.decimals() if isinstance(box, QtWidgets.QDoubleSpinBox) else 0
        return f"{name}: {core} has more than {places} decimals (range {range_text(box)}); kept {kept}"
    return f"{name}: {core} is out of range {range_text(box)}; kept {kept}"


class RangeGuard(QtCore.QObject):
    """Watches one spin box: its tooltip's range line (kept current: a range set later shows), the keys it
    refuses and the text it reverts when left."""

    def __init__(self, box):
        super().__init__(box)
        self.box, self.typed = box, None
        self.base_tip = box.toolTip()
        self._tip()
        box.installEventFilter(self)  # (keys reach the box, which hands them to its line edit past any filter)
        box.lineEdit().textEdited.connect(self._edited)
        box.editingFinished.connect(self._finished)

    def _tip(self) -> None:
        line = f"Range: {range_text(self.box)}"
        self.box.setToolTip(f"{self.base_tip}\n{line}" if self.base_tip else line)

    def _edited(self, text: str) -> None:
        self.typed = text

    def _finished(self) -> None:
        typed, self.typed = self.typed, None
        box = self.box
        if typed is None or typed == box.lineEdit().text():
            return
        if box.validate(typed, len(typed))[0] != QtGui.QValidator.State.Acceptable:
            say(box, refusal(box, typed))

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 (Qt's name)
        if ev.type() == QtCore.QEvent.Type.ToolTip:
            self._tip()
        elif ev.type() == QtCore.QEvent.Type.KeyPress:
            text = ev.text()
            if text and text.isprintable():
                edit = self.box.lineEdit()
                s = edit.text()
                a, b = (edit.selectionStart(), edit.selectionStart() + len(edit.selectedText()))
                if a < 0:
                    a = b = edit.cursorPosition()
                attempt = s[:a] + text + s[b:]
                if self.box.validate(attempt, a + len(text))[0] == QtGui.QValidator.State.Invalid:
                    say(self.box, refusal(self.box, attempt))
        return False


def guard_ranges(root: QtWidgets.QWidget) -> list[RangeGuard]:
    """A RangeGuard on every QSpinBox and QDoubleSpinBox under ``root`` (once each)."""
    guards = []
    for box in root.findChildren(QtWidgets.QAbstractSpinBox):
        if isinstance(box, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)) and not box.property("range_guarded"):
            box.setProperty("range_guarded", True)
            guards.append(RangeGuard(box))
    return guards
