"""Transport bar: step back/forward, play/pause, speed, reset, ε, noise kind, burn-in, and the
timeline slider that scrubs every step reached so far (burn-in marked)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ...core.chain.sampler import DEFAULT_SCHEDULE_T, NOISE_KINDS, Sampler, parse_schedule
from ...core.errors import SamplerError
from .ranges import guard_ranges

NOISE_TIPS = {
    "none": "No noise: the plain recursion f(f(…f(z)…)); chains settle on fixed points.",
    "normal": "Zero-mean Gaussian noise N(0, r²), r = half the value range, scaled by ε.",
    "uniform": "Zero-mean uniform noise U(−r, r), r = half the value range, scaled by ε.",
    "reference": "The published code's uniform noise (hi−lo)·U[0,1)+hi: always positive, so every step "
    "drifts upward before the clamp. For reproducing the paper.",
    "reference-normal": "The published code's normal noise: N(0.5, 0.5) on [0,1] data, N(0, 1) on [−1,1].",
}


class TimelineSlider(QtWidgets.QSlider):
    """A horizontal slider over steps 0 … t_max that marks the burn-in B, the steps of live edits (small
    triangles) and, when ε follows a schedule, ε(t) as a thin curve along the groove."""

    def __init__(self, parent=None):
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.burn_in = 0
        self.marks: list[int] = []
        self.schedule = None  # a core.chain.sampler.Schedule, or None (ε constant)
        self.setRange(0, 0)
        self.setMinimumHeight(26)
        self.setMinimumWidth(140)  # the timeline stays a timeline on a small screen
        self.setToolTip(
            "Scrub through every step reached so far. The orange mark is the burn-in B: iterates after it are "
            "treated as samples. Triangles mark live edits; the thin line is ε(t) when ε follows a schedule."
        )

    def set_burn_in(self, b: int) -> None:
        self.burn_in = b
        self.update()

    def set_lab(self, marks: list[int], schedule) -> None:
        self.marks, self.schedule = list(marks), schedule
        self.update()

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:
        super().paintEvent(ev)
        if self.maximum() <= 0 or (self.burn_in <= 0 and not self.marks and self.schedule is None):
            return
        opt = QtWidgets.QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(
            QtWidgets.QStyle.ComplexControl.CC_Slider, opt, QtWidgets.QStyle.SubControl.SC_SliderGroove, self
        )
        handle = self.style().subControlRect(
            QtWidgets.QStyle.ComplexControl.CC_Slider, opt, QtWidgets.QStyle.SubControl.SC_SliderHandle, self
        )
        span = groove.width() - handle.width()
        left = groove.left() + handle.width() / 2

        def x_of(t: float) -> float:
            return left + min(1.0, t / self.maximum()) * span

        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        if self.schedule is not None:
            n = max(2, min(int(span), 400))
            ts = [self.maximum() * i / (n - 1) for i in range(n)]
            eps = [self.schedule.eps(int(t)) for t in ts]
            top = max(eps) or 1.0
            y0, h = self.height() - 2.0, self.height() - 4.0
            path = QtGui.QPainterPath(QtCore.QPointF(x_of(ts[0]), y0 - h * eps[0] / top))
            for t, e in zip(ts[1:], eps[1:]):
                path.lineTo(QtCore.QPointF(x_of(t), y0 - h * e / top))
            p.setPen(QtGui.QPen(QtGui.QColor(90, 170, 255, 200), 1.5))
            p.drawPath(path)
        if self.burn_in > 0:
            x = x_of(self.burn_in)
            p.setPen(QtGui.QPen(QtGui.QColor("#ff9f1c"), 3))
            p.drawLine(QtCore.QPointF(x, groove.top() - 2), QtCore.QPointF(x, groove.bottom() + 2))
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QtGui.QColor("#e84855"))
        for t in self.marks:
            x, y = x_of(t), float(groove.top() - 1)
            p.drawPolygon(
                QtGui.QPolygonF([QtCore.QPointF(x - 4, y - 6), QtCore.QPointF(x + 4, y - 6), QtCore.QPointF(x, y)])
            )
        p.end()


def glyph_icon(kind: str, color: QtGui.QColor, size: int = 32) -> QtGui.QIcon:
    """A transport glyph drawn in ``color`` (the palette's button text), so it reads in a light and a dark
    theme alike — the style's standard media icons are fixed dark pixmaps. ``kind``: play, pause, back,
    forward or reset."""
    pm = QtGui.QPixmap(size, size)
    pm.fill(QtCore.Qt.GlobalColor.transparent)
    p = QtGui.QPainter(pm)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    p.setPen(QtCore.Qt.PenStyle.NoPen)
    p.setBrush(color)
    s = size / 32.0

    def poly(*pts):
        p.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(x * s, y * s) for x, y in pts]))

    if kind == "play":
        poly((9, 6), (26, 16), (9, 26))
    elif kind == "pause":
        p.drawRect(QtCore.QRectF(8 * s, 6 * s, 6 * s, 20 * s))
        p.drawRect(QtCore.QRectF(18 * s, 6 * s, 6 * s, 20 * s))
    elif kind == "back":
        poly((16, 8), (16, 24), (4, 16))
        poly((28, 8), (28, 24), (16, 16))
    elif kind == "forward":
        poly((4, 8), (16, 16), (4, 24))
        poly((16, 8), (28, 16), (16, 24))
    elif kind == "reset":
        pen = QtGui.QPen(color, 3.2 * s)
        pen.setCapStyle(QtCore.Qt.PenCapStyle.FlatCap)
        p.setPen(pen)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        p.drawArc(QtCore.QRectF(7 * s, 7 * s, 18 * s, 18 * s), 90 * 16, 270 * 16)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(color)
        poly((14, 2), (22, 7.5), (14, 13))
    else:
        raise ValueError(f"unknown glyph {kind!r}")
    p.end()
    return QtGui.QIcon(pm)


class TransportBar(QtWidgets.QWidget):
    """Controls for the chain; emits what the user asks for, the window does it."""

    playToggled = QtCore.Signal()
    stepBy = QtCore.Signal(int)
    seekRequested = QtCore.Signal(int)
    gotoRequested = QtCore.Signal(int)  # a step typed in the go-to box (it may lie past the last step reached)
    resetRequested = QtCore.Signal()
    samplerChanged = QtCore.Signal(object)  # the core.sampler.Sampler the boxes now show
    samplerInvalid = QtCore.Signal(str)  # what is wrong with them (a schedule that does not parse)
    speedChanged = QtCore.Signal(float)
    burnInChanged = QtCore.Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._glyphs: dict[QtWidgets.QToolButton, str] = {}
        self._playing = False

        def button(glyph, tip, slot):
            b = QtWidgets.QToolButton()
            self._glyphs[b] = glyph
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            return b

        self.back_button = button("back", "Step back one step (←; Shift+← ten)", lambda: self.stepBy.emit(-1))
        self.play_button = button("play", "Play / pause the chain (Space)", self.playToggled.emit)
        self.fwd_button = button("forward", "Step forward one step (→; Shift+→ ten)", lambda: self.stepBy.emit(1))
        self.reset_button = button(
            "reset", "Reset: back to the start input, history cleared (Ctrl+R)", self.resetRequested.emit
        )
        self.slider = TimelineSlider()
        self.slider.valueChanged.connect(self._slider_moved)
        self.step_label = QtWidgets.QLabel("step 0 / 0")
        self.step_label.setMinimumWidth(120)
        self.step_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        f = self.step_label.font()
        f.setFamily("monospace")
        self.step_label.setFont(f)
        # Room for the longest text it shows, so the slider beside it never changes width under a drag.
        widest = self.step_label.fontMetrics().horizontalAdvance("step 10000 / 10000 · replaying…")
        self.step_label.setFixedWidth(widest + 8)
        self.goto = QtWidgets.QLineEdit()
        self.goto.setObjectName("goto_step")
        self.goto.setPlaceholderText("go to…")
        self.goto.setValidator(QtGui.QIntValidator(0, 2**31 - 1, self.goto))
        self.goto.setToolTip("Go to a step (Ctrl+G): type its number and press Enter")
        self.goto.setFixedWidth(self.goto.fontMetrics().horizontalAdvance("go to…100") + 16)
        self.goto.returnPressed.connect(self._goto_entered)

        self.speed = QtWidgets.QDoubleSpinBox()
        self.speed.setRange(0.5, 1000)
        self.speed.setValue(30)
        self.speed.setDecimals(1)
        self.speed.setSuffix(" steps/s")
        self.speed.setToolTip("How many chain steps per second while playing (the display redraws on its own clock)")
        self.speed.valueChanged.connect(self.speedChanged.emit)
        self.noise = QtWidgets.QComboBox()
        # As wide as "uniform" plus the arrow: "reference-normal" is elided in the box (its list shows it whole),
        # so the bar fits a 1366-pixel screen beside the docks.
        self.noise.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.noise.setMinimumContentsLength(6)
        for k in NOISE_KINDS:
            self.noise.addItem(k)
            self.noise.setItemData(self.noise.count() - 1, NOISE_TIPS[k], QtCore.Qt.ItemDataRole.ToolTipRole)
        self.noise.setCurrentText("normal")
        self.noise.setToolTip(
            "Noise n added at every step: x ← clamp(f(x) + ε·n). A little noise keeps the "
            "kaleidoscope moving instead of settling on one sample."
        )
        self.eps = QtWidgets.QDoubleSpinBox()
        self.eps.setDecimals(4)
        self.eps.setRange(0.0, 1.0)
        self.eps.setSingleStep(0.005)
        self.eps.setValue(0.01)
        self.eps.setPrefix("ε ")
        self.eps.setToolTip(
            "Noise scale ε (the paper used 0.01 for MNIST). Changing it applies from the "
            "current step; later history is recomputed."
        )
        self.noise.currentTextChanged.connect(self._noise_edited)
        self.eps.editingFinished.connect(self._noise_edited)
        self.schedule = QtWidgets.QLineEdit()
        self.schedule.setObjectName("eps_schedule")
        self.schedule.setPlaceholderText("ε(t) schedule")
        self.schedule.setToolTip(
            "An ε schedule instead of a constant ε: KIND:START:END[:T] with KIND constant, linear, cosine or exp, "
            f"from ε START to ε END over T steps (default {DEFAULT_SCHEDULE_T:,}), e.g. cosine:0.3:0.01:500. "
            "Empty: the constant ε beside it. Drawn along the timeline."
        )
        self.schedule.setFixedWidth(self.schedule.fontMetrics().horizontalAdvance("cos:0.3:0.01:10") + 10)
        self.schedule.editingFinished.connect(self._schedule_edited)
        self.damping = QtWidgets.QDoubleSpinBox()
        self.damping.setObjectName("damping")
        self.damping.setDecimals(2)  # (finer α from kgn --damping; two decimals keep the bar on a 1366-px screen)
        self.damping.setRange(0.01, 1.0)
        self.damping.setSingleStep(0.05)
        self.damping.setValue(1.0)
        self.damping.setPrefix("α ")
        self.damping.setToolTip(
            "Damping α: x ← clamp((1 − α)·x + α·f(x) + ε·n). 1 is the paper's step; smaller α moves each chain "
            "part of the way toward f(x)."
        )
        self.damping.editingFinished.connect(self._noise_edited)
        self.burn_in = QtWidgets.QSpinBox()
        self.burn_in.setRange(0, 100_000)
        self.burn_in.setValue(20)
        self.burn_in.setPrefix("B ")
        self.burn_in.setToolTip("Burn-in B: the steps before the iterates look like samples (marked on the timeline)")
        self.burn_in.valueChanged.connect(self._burn_in_edited)
        self.slider.set_burn_in(20)

        top = QtWidgets.QHBoxLayout()
        for w in (self.back_button, self.play_button, self.fwd_button, self.reset_button):
            top.addWidget(w)
        top.addWidget(self.slider, 1)
        top.addWidget(self.step_label)
        top.addWidget(self.goto)
        bottom = QtWidgets.QHBoxLayout()
        # No text labels: each box says what it is (steps/s, the noise kind, ε, α, B) and has a tooltip; the bar
        # then fits beside the docks on a 1366-pixel screen.
        for w in (self.speed, self.noise, self.eps, self.schedule, self.damping, self.burn_in):
            bottom.addWidget(w)
        bottom.addStretch(1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addLayout(top)
        lay.addLayout(bottom)
        self._updating = False
        self._paint_glyphs()
        guard_ranges(self)  # each bounded field says its range and a value it refuses

    def _slider_moved(self, v: int) -> None:
        if not self._updating:
            self.seekRequested.emit(v)

    def focus_goto(self) -> None:
        """Focus the go-to box, its text selected (Ctrl+G)."""
        self.goto.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)
        self.goto.selectAll()

    def _goto_entered(self) -> None:
        text = self.goto.text().strip()
        self.goto.clear()
        if text.isdigit():
            self.gotoRequested.emit(int(text))

    def _noise_edited(self, *_):
        try:
            sampler = self.sampler()
        except SamplerError as e:
            self.samplerInvalid.emit(str(e))
            return
        self.samplerChanged.emit(sampler)

    def sampler(self) -> Sampler:
        """The Sampler the boxes show (a schedule typed without its T runs over core.sampler's
        DEFAULT_SCHEDULE_T steps: the window's chains have no length). Raises SamplerError with one line."""
        return Sampler(
            noise=self.noise.currentText(),
            eps=float(self.eps.value()),
            schedule=parse_schedule(self.schedule.text()),
            damping=round(float(self.damping.value()), 6),
        )

    def _schedule_edited(self) -> None:
        try:
            sch = parse_schedule(self.schedule.text())
        except SamplerError:
            pass  # left as typed: _noise_edited says what is wrong
        else:
            self.schedule.setText(sch.text() if sch is not None else "")  # canonical: the T made explicit
            self.schedule.setCursorPosition(0)  # the kind and ε start in sight
        self._noise_edited()

    def set_sampler(self, sampler: Sampler) -> None:
        """Show ``sampler`` in the boxes without emitting samplerChanged."""
        boxes = (self.noise, self.eps, self.schedule, self.damping)
        for b in boxes:
            b.blockSignals(True)
        self.noise.setCurrentText(sampler.noise)
        self.eps.setValue(sampler.eps)
        self.schedule.setText(sampler.schedule.text() if sampler.schedule is not None else "")
        self.schedule.setCursorPosition(0)
        self.damping.setValue(sampler.damping)
        for b in boxes:
            b.blockSignals(False)

    def _burn_in_edited(self, b: int) -> None:
        self.slider.set_burn_in(b)
        self.burnInChanged.emit(b)

    def show_position(self, t: int, t_max: int) -> None:
        """Reflect the current step without emitting seekRequested."""
        self._updating = True
        self.slider.setMaximum(t_max)
        self.slider.setValue(t)
        self._updating = False
        self.step_label.setText(f"step {t} / {t_max}")

    def set_playing(self, playing: bool) -> None:
        self._playing = playing
        self._glyphs[self.play_button] = "pause" if playing else "play"
        self._paint_glyphs()

    def _paint_glyphs(self) -> None:
        color = QtWidgets.QApplication.palette().color(QtGui.QPalette.ColorRole.ButtonText)
        for b, glyph in self._glyphs.items():
            b.setIcon(glyph_icon(glyph, color))

    def set_theme(self, name: str) -> None:  # theme.Theme.apply calls it once the new palette is set
        self._paint_glyphs()

    # -- settings
    def save_settings(self, st) -> None:
        try:
            st.setValue("chain/sampler", self.sampler().text())
        except SamplerError:
            pass  # a schedule that does not parse is not kept
        st.setValue("chain/speed", self.speed.value())
        st.setValue("chain/burn_in", self.burn_in.value())

    def restore_settings(self, st) -> None:
        def num(key, default, kind=float):
            try:
                return kind(st.value(key, default))
            except (TypeError, ValueError):
                return default

        try:
            self.set_sampler(Sampler.parse(str(st.value("chain/sampler", "paper"))))
        except SamplerError:
            self.set_sampler(Sampler.PAPER)  # a damaged setting: the paper's sampler
        self.speed.setValue(num("chain/speed", 30.0))
        self.burn_in.setValue(num("chain/burn_in", 20, int))
