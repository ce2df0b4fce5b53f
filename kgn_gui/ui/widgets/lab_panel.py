"""The Lab dock (issue 20): sampler presets, live edits of the running chains, and branches.

The panel only asks; ``ui/controllers/lab.py`` turns each request into core.lab calls on the session."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ...core.chain.lab import EDIT_KINDS
from ...core.chain.sampler import PRESET_ABOUT, PRESETS
from .ranges import guard_ranges

EDIT_TIPS = {
    "kick": "Add Gaussian noise of σ to the chosen chains' whole state at the shown step",
    "erase": "Set the chosen chains' pixels to the background (the whole state, or brushed on the grid)",
    "brush": "Set pixels to ink: brush them on a grid tile with 'Brush on the grid'",
}


class LabPanel(QtWidgets.QWidget):
    """presetPicked(str): a sampler preset's name. editRequested(str kind, bool all_chains): apply an edit to
    the chosen chains' whole state at the shown step. brushingChanged(bool): strokes on the grid become edits.
    branchRequested(int K, int steps): K continuations of the chosen chains from the shown step."""

    presetPicked = QtCore.Signal(str)
    editRequested = QtCore.Signal(str, bool)
    brushingChanged = QtCore.Signal(bool)
    branchRequested = QtCore.Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)

        pre = QtWidgets.QGroupBox("Sampler")
        f = QtWidgets.QFormLayout(pre)
        self.preset = QtWidgets.QComboBox()
        self.preset.setObjectName("sampler_preset")
        self.preset.addItem("custom")
        for name, sampler in PRESETS.items():
            self.preset.addItem(name)
            tip = f"{PRESET_ABOUT[name]} ({sampler.text()})"
            self.preset.setItemData(self.preset.count() - 1, tip, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.preset.setToolTip(
            "paper: the published sampler (normal noise, ε 0.01). diverse: the settings of the sampler search "
            "(docs/sampler_search.md) that keep more classes. Sets noise, ε, the ε schedule and damping."
        )
        self.preset.textActivated.connect(lambda name: name != "custom" and self.presetPicked.emit(name))
        f.addRow("Preset", self.preset)
        lay.addWidget(pre)

        ed = QtWidgets.QGroupBox("Live edits (at the shown step)")
        g = QtWidgets.QFormLayout(ed)
        self.tool = QtWidgets.QComboBox()
        self.tool.setObjectName("edit_tool")
        for k in ("kick", "erase", "brush"):
            assert k in EDIT_KINDS
            self.tool.addItem(k)
            self.tool.setItemData(self.tool.count() - 1, EDIT_TIPS[k], QtCore.Qt.ItemDataRole.ToolTipRole)
        self.scope = QtWidgets.QComboBox()
        self.scope.addItems(["selected chain", "all chains"])
        self.scope.setToolTip("Which chains an edit changes: the one selected in the grid (click a tile), or all")
        self.sigma = QtWidgets.QDoubleSpinBox()
        self.sigma.setRange(0.01, 10.0)
        self.sigma.setSingleStep(0.05)
        self.sigma.setValue(0.5)
        self.sigma.setToolTip("A kick's noise σ, in value units")
        self.radius = QtWidgets.QDoubleSpinBox()
        self.radius.setRange(0.5, 8.0)
        self.radius.setSingleStep(0.5)
        self.radius.setValue(1.5)
        self.radius.setToolTip("Brush radius in model pixels")
        self.apply = QtWidgets.QPushButton()
        self.apply.setObjectName("apply_edit")
        self.apply.clicked.connect(lambda: self.editRequested.emit(self.tool.currentText(), self.all_chains))
        self.brushing = QtWidgets.QCheckBox("Brush on the grid")
        self.brushing.setObjectName("brush_on_grid")
        self.brushing.setToolTip(
            "Drag on a tile to brush (ink) or erase its pixels at the shown step (the tool above); middle-drag "
            "still pans"
        )
        self.brushing.toggled.connect(self.brushingChanged.emit)
        self.edits_label = QtWidgets.QLabel("no edits")
        self.edits_label.setWordWrap(True)
        g.addRow("Tool", self.tool)
        g.addRow("Chains", self.scope)
        g.addRow("Kick σ", self.sigma)
        g.addRow("Brush radius", self.radius)
        g.addRow(self.apply)
        g.addRow(self.brushing)
        g.addRow(self.edits_label)
        lay.addWidget(ed)
        for sig in (self.tool.currentTextChanged, self.scope.currentIndexChanged):
            sig.connect(self._label_apply)
        self._label_apply()

        br = QtWidgets.QGroupBox("Branch")
        h = QtWidgets.QFormLayout(br)
        self.K = QtWidgets.QSpinBox()
        self.K.setRange(2, 16)
        self.K.setValue(6)
        self.K.setToolTip("Continuations per chain: they differ only in their noise seed")
        self.branch_steps = QtWidgets.QSpinBox()
        self.branch_steps.setRange(1, 100_000)
        self.branch_steps.setValue(200)
        self.branch_steps.setToolTip("How many steps the branches run")
        go = QtWidgets.QPushButton("Branch from the shown step")
        go.setObjectName("branch_button")
        go.setToolTip(
            "K continuations of the chosen chains, side by side on one timeline, with their divergence (mean "
            "pairwise distance) over the steps: how firm is this basin?"
        )
        go.clicked.connect(lambda: self.branchRequested.emit(self.K.value(), self.branch_steps.value()))
        h.addRow("Branches K", self.K)
        h.addRow("Steps", self.branch_steps)
        h.addRow(go)
        lay.addWidget(br)
        lay.addStretch(1)
        guard_ranges(self)  # each bounded field says its range and a value it refuses

    def _label_apply(self) -> None:
        """The Apply button says what it changes: the tool, on the selected chain or on all, every pixel. A
        brush paints strokes only ('Brush on the grid'): applied to a whole state it would fill it with ink."""
        tool, who = self.tool.currentText(), "all chains" if self.all_chains else "the selected chain"
        if tool == "brush":
            self.apply.setEnabled(False)
            self.apply.setText("Brush: drag on a tile (Brush on the grid)")
            self.apply.setToolTip("A brush paints the stroke you drag on a tile, never the whole state")
            return
        self.apply.setEnabled(True)
        self.apply.setText(f"{tool.capitalize()} {who} (every pixel)")
        self.apply.setToolTip(f"{tool.capitalize()} {who} at the shown step, every pixel; the chain goes on from there")

    @property
    def all_chains(self) -> bool:
        return self.scope.currentIndex() == 1

    def bind(self, ctl) -> None:
        """Requests to a LabController, the tool's settings kept on it, its marks shown here."""
        self.presetPicked.connect(ctl.preset)
        self.editRequested.connect(ctl.apply)
        self.branchRequested.connect(ctl.branch)

        def keep() -> None:
            ctl.sigma, ctl.tool = float(self.sigma.value()), self.tool.currentText()
            ctl.radius, ctl.all_chains = float(self.radius.value()), self.all_chains

        for sig in (self.sigma.valueChanged, self.radius.valueChanged, self.tool.currentTextChanged,
                    self.scope.currentIndexChanged):  # fmt: skip
            sig.connect(keep)
        keep()
        ctl.refreshed.connect(
            lambda s, steps: (self.show_edits(steps, len(s.lab.all_edits())), self.show_sampler(s.config.sampler))
        )

    def show_sampler(self, sampler) -> None:
        """The preset box names the chains' sampler when it is a preset, else says custom."""
        name = next((n for n, s in PRESETS.items() if s == sampler), "custom")
        self.preset.setCurrentText(name)  # (textActivated, what presetPicked follows, is the user's alone)

    def show_edits(self, steps: list[int], count: int) -> None:
        if not count:
            self.edits_label.setText("no edits")
            return
        shown = ", ".join(map(str, steps[:8])) + (" …" if len(steps) > 8 else "")
        self.edits_label.setText(f"{count} edit{'s' * (count != 1)} at step{'s' * (len(steps) != 1)} {shown}")
