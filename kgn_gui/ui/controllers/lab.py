"""The window's face of the sampling lab (issue 20): conditions, live edits, branches and sampler presets.

Every request becomes a core call on the chain controller's session (``ChainSession.add_edit``,
``set_condition``, ``branch``), so the window, ``kgn`` and bundles give the same states. The edits are events
of the session's Lab: the timeline draws them as marks, scrubbing replays them, a bundle stores them.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore

from ...core.chain.lab import Condition, Edit, Lab, brush_pixels, settle_time
from ...core.chain.sampler import PRESETS
from ...core.errors import ChainError, LabError
from ...core.measure.dynamics import converge_tolerance
from ...core.wording import count


class LabController(QtCore.QObject):
    """changed(): the edits, the condition or the schedule changed (the marks and labels follow).
    error(str, str): (title, one line). branchReady(object): a new branch session, for a BranchWindow.
    samplerPicked(Sampler): a preset was chosen (the transport bar shows it, the chains take it).
    refreshed(session, edit steps): the marks to draw — the timeline's, the Lab panel's and the projection's.

    It works on the chain controller's session; ``selected()`` is the chain selected in the grid (or None).
    The Lab panel sets the tool's settings (``LabPanel.bind``): ``sigma`` (a kick's σ), ``tool`` ("brush" or
    "erase"), ``radius`` (the brush's, in model pixels) and ``all_chains`` (edits go to every chain)."""

    changed = QtCore.Signal()
    error = QtCore.Signal(str, str)
    branchReady = QtCore.Signal(object, object)
    samplerPicked = QtCore.Signal(object)
    refreshed = QtCore.Signal(object, list)

    def __init__(self, chain, selected: Callable[[], int | None], parent=None):
        super().__init__(parent)
        self.chain, self.selected = chain, selected
        self.condition: Condition | None = None  # what new chains are conditioned on (the Condition tab)
        self.sigma, self.tool, self.radius, self.all_chains = 0.5, "brush", 1.5, False
        self._seed = 0

    # -- what new chains carry
    def new_lab(self) -> Lab:
        """The Lab of new chains: the condition set in the Condition tab (no edits)."""
        return Lab(self.condition)

    def set_condition(self, condition: Condition | None) -> None:
        """Condition the current chains from their start (and every chain started after), or stop."""
        s = self.chain.session
        if s is not None:
            try:
                self.chain.set_condition(condition)
            except ChainError as e:
                self.error.emit("Condition", str(e))
                return
            self.chain.seek(self.chain.view_t)
        self.condition = condition  # only once the chains took it
        self.changed.emit()

    def fit_model(self, D: int) -> None:
        """A new model: a condition made for another image size no longer applies."""
        if self.condition is not None and self.condition.D != D:
            self.condition = None

    # -- edits
    def _rows(self, all_chains: bool) -> tuple[int, ...] | None:
        s = self.chain.session
        if all_chains:
            return tuple(range(s.n))
        i = self.selected()
        if i is None:
            self.error.emit("Edit", "select a chain first (click its tile), or choose all chains")
            return None
        return (int(i),)

    def _add(self, edit: Edit) -> bool:
        ch = self.chain
        was = ch.playing
        ch.pause()
        try:
            ch.add_edit(edit)
        except (ChainError, LabError) as e:
            self.error.emit("Edit", str(e))
            return False
        ch.seek(ch.view_t)
        if was:
            ch.play()
        self.changed.emit()
        return True

    def apply(self, kind: str, all_chains: bool) -> bool:
        """Kick or erase the chosen chains' whole state at the shown step (a brush paints strokes only:
        :meth:`stroke`)."""
        s = self.chain.session
        if s is None:
            return False
        if kind == "brush":
            self.error.emit("Edit", "a brush paints strokes: tick 'Brush on the grid' and drag on a tile")
            return False
        rows = self._rows(all_chains)
        if rows is None:
            return False
        self._seed += 1
        t = self.chain.view_t + s.offset
        sigma = float(self.sigma) if kind == "kick" else 0.0
        return self._add(Edit(t=t, kind=kind, rows=rows, sigma=sigma, seed=self._seed))

    def stroke(self, chain: int, points: list[tuple[int, int]]) -> bool:
        """A brush stroke on the grid over chain ``chain``'s tile: the pixels within the brush radius of the
        points (x, y), brushed (ink) or erased with the panel's tool, on that chain or on all."""
        s = self.chain.session
        if s is None or len(s.shape) != 3 or not points:
            return False
        kind = "erase" if self.tool == "erase" else "brush"
        r = float(self.radius)
        px: set[int] = set()
        # Mouse events come a few pixels apart on a fast drag: the stroke is the line through them.
        path = [points[0]]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            n = max(1, int(2 * max(abs(x1 - x0), abs(y1 - y0))))
            path += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
        for x, y in path:
            px.update(brush_pixels(s.shape, y, x, r))
        rows = tuple(range(s.n)) if self.all_chains else (int(chain),)
        t = self.chain.view_t + s.offset
        return self._add(Edit(t=t, kind=kind, rows=rows, pixels=tuple(sorted(px))))

    def settle_note(self, i: int) -> tuple[list[int], str]:
        """(the steps where chain i was edited, how long it took to settle after the last one)."""
        s = self.chain.session
        if s is None:
            return [], ""
        steps = [e.t - s.offset for e in s.lab.all_edits() if i in e.rows]
        if not steps:
            return [], ""
        te = steps[-1]
        y = s.curves.chain("step", i)
        if len(y) == 0:
            return steps, ""
        settled = settle_time(y, te, converge_tolerance(s.value_range))
        if settled is None:
            return steps, f"edited at step {te}: not settled yet (step size ≥ {converge_tolerance(s.value_range):g})"
        return steps, f"edited at step {te}: settled again after {count(settled, 'step')}"

    # -- branches
    def branch(self, K: int, steps: int) -> None:
        """K continuations of the chosen chains (all chains, the selected one, or with none selected the first
        four) from the shown step."""
        s = self.chain.session
        if s is None:
            return
        i = self.selected()
        if self.all_chains or i is None:
            rows = list(range(s.n)) if self.all_chains else list(range(min(4, s.n)))
        else:
            rows = [int(i)]
        try:
            b = s.branch(self.chain.view_t, rows, K)
        except (ChainError, LabError) as e:
            self.error.emit("Branch", str(e))
            return
        self.branchReady.emit(b, {"rows": rows, "K": K, "steps": steps, "t": self.chain.view_t + s.offset})

    # -- presets
    def preset(self, name: str) -> None:
        """A named sampler (core.chain.sampler.PRESETS) in the transport bar and on the chains."""
        self.samplerPicked.emit(PRESETS[name])

    def refresh(self) -> None:
        """``refreshed(session, edit steps)``: the timeline's marks and ε curve, the panel's edit list and preset,
        and the projection's paths follow the session (the steps after an edit or a new setting were
        recomputed)."""
        s = self.chain.session
        if s is None:
            return
        self.refreshed.emit(s, sorted({e.t - s.offset for e in s.lab.all_edits()}))
