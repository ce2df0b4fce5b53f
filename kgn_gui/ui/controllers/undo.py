"""Undo / Redo of what changes the chains' history — a sampler change, a live edit (kick, erase, a brush
stroke on the grid), a condition set or dropped — exactly: each step keeps the session's settings before and
after (core.chain.session.History) and the step it was made at, and undoing puts the old settings back and
recomputes from that step, so the chains take the very steps they had (the edits after it come back too).
Compare depths' second depth is undone with the first. A new session (a model, a start, Reset) clears both
stacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6 import QtCore

LIMIT = 100  # undo steps kept (each holds two settings, not states: a few hundred bytes and its edits)


@dataclass
class UndoStep:
    what: str  # "the kick at step 6"
    t: int  # the step the change was made at: the history is recomputed from there
    before: tuple  # (History of the session, History of the companion or None)
    after: tuple
    companion: object  # the companion session it was made with (None: none)


class ChainUndo(QtCore.QObject):
    """``record(what, t, change)`` runs ``change()`` and keeps it as one undo step; ``undo()`` / ``redo()``
    return what they undid or redid (None when there was nothing). Signals: ``changed()`` the stacks changed
    (the menu's texts); ``restored(int)`` an undo or redo recomputed the history from this step."""

    changed = QtCore.Signal()
    restored = QtCore.Signal(int)

    def __init__(self, chain):
        super().__init__(chain)
        self.chain = chain
        self._undo: list[UndoStep] = []
        self._redo: list[UndoStep] = []
        chain.sessionChanged.connect(self.clear)

    def _histories(self) -> tuple:
        s, c = self.chain.session, self.chain.companion
        return s.history(), (None if c is None else c.history())

    def record(self, what: str, t: int, change: Callable[[], None]) -> None:
        """Make ``change`` (which raises, and then nothing is kept, or changes the history from step t on)."""
        before = self._histories()
        change()
        self._undo.append(UndoStep(what, int(t), before, self._histories(), self.chain.companion))
        del self._undo[:-LIMIT]
        self._redo.clear()
        self.changed.emit()

    def clear(self) -> None:
        if self._undo or self._redo:
            self._undo.clear()
            self._redo.clear()
            self.changed.emit()

    def undo_text(self) -> str | None:
        return self._undo[-1].what if self._undo else None

    def redo_text(self) -> str | None:
        return self._redo[-1].what if self._redo else None

    def undo(self) -> str | None:
        return self._move(self._undo, self._redo, "before")

    def redo(self) -> str | None:
        return self._move(self._redo, self._undo, "after")

    def _move(self, source: list, target: list, which: str) -> str | None:
        if not source or self.chain.session is None:
            return None
        step = source.pop()
        mine, theirs = getattr(step, which)
        ch = self.chain
        was = ch.playing
        ch.pause()
        ch.session.restore(mine, step.t)
        if theirs is not None and ch.companion is step.companion:
            ch.companion.restore(theirs, step.t)
        target.append(step)
        ch.seek(min(step.t, ch.session.t_max))
        if was:
            ch.play()
        self.changed.emit()
        self.restored.emit(step.t)
        return step.what
