"""The Analysis dock: the kaleidoscope's measures at the shown step, each beside its 95 % interval and the same
measure of real data, and three longer jobs (attractor audit, basin recovery, the mixing scan).

Cheap measures follow the shown step whenever playback pauses (computed off the GUI thread); the
attractor audit, the basin recovery and the mixing scan are background jobs with a progress bar and Cancel.
Every number has a tooltip with its formula (see :mod:`kgn_gui.core.measure.measures`). The line above the table
names the feature space the class and distribution measures use and what the real-data baseline is.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...core import lists
from ...core.measure.registry import (
    CLASS_MEASURES,
    IDENTITY_ABOUT,
    MEASURE,
    MODEL_MEASURES,
    PANEL,
    Estimate,
    bracket,
    finite,
    fmt,
    over_t_text,
    plus_minus,
)
from ...core.wording import count
from .plots import draw_mixing
from .ranges import guard_ranges
from .sweep_form import SweepTrials

# The table's columns after the measure's name; SECOND (shown while comparing) beside the value it is compared with
VALUE, SECOND, INTERVAL, REAL = 1, 2, 3, 4


# The rows are the registry's (core.registry): label, formula, interval and baseline of each measure
ROWS = [MEASURE[k] for k in PANEL]
ROW_OF = MEASURE

NO_FEATURES = "no feature space: distribution measures need ≥ 100 samples of the data set"


class AnalysisPanel(QtWidgets.QWidget):
    """Numbers, plots and buttons of an AnalysisController (``bind``): its requests go to it, its results
    come back here."""

    IDLE = "not measured yet: press Measure (Ctrl+M) to measure the shown step"  # paused; playing adds "or pause"
    HEADERS = ("measure", "value", "2nd", "± 95 %", "real data")
    HEADER_TIPS = (
        "What is measured (hover a name for its formula)",
        "The measure at the shown step",
        "The same measure for the second model's chains at the same step (File → Compare with…, Compare depths)",
        "Half-width h of the 95 % interval, shown as ± h (hover for the exact [lo, hi] and how it was made)",
        "The same measure for real data of the data set, the baseline that says what “good” is\n"
        "(for the output-range rows: the identity map's value)",
    )

    measureRequested = QtCore.Signal()
    auditRequested = QtCore.Signal(int)
    recoveryRequested = QtCore.Signal(list)
    mixingRequested = QtCore.Signal(int)
    cancelRequested = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._playing = lambda: False  # (bind: whether the chains play)
        v = QtWidgets.QVBoxLayout(self)
        v.setContentsMargins(4, 4, 4, 4)
        self.status = QtWidgets.QLabel(self.IDLE)
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        v.addWidget(self.status)
        self.header = QtWidgets.QLabel("")
        self.header.setWordWrap(True)
        self.header.setToolTip(
            "The feature space of the class and distribution measures (a classifier of the model's own\n"
            "data set, or a label-free PCA of it) and the real samples the baselines are measured on"
        )
        v.addWidget(self.header)
        self.step_label = QtWidgets.QLabel("")
        self.step_label.setWordWrap(True)
        self.step_label.setToolTip("The step the numbers below were measured at, and whether it is the step shown")
        v.addWidget(self.step_label)
        self.measured_t: int | None = None
        self.table = QtWidgets.QTableWidget(len(ROWS), len(self.HEADERS))
        for c, (name, tip) in enumerate(zip(self.HEADERS, self.HEADER_TIPS)):
            h = QtWidgets.QTableWidgetItem(name)
            h.setToolTip(tip)
            self.table.setHorizontalHeaderItem(c, h)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().lineSpacing() + 6)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self._row = {}
        for i, r in enumerate(ROWS):
            self._row[r.key] = i
            for c in range(len(self.HEADERS)):
                item = QtWidgets.QTableWidgetItem(r.label if c == 0 else "")
                if c:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, c, item)
        self._audit_row = self._row["attractor_fraction"]
        self.table.setSpan(self._audit_row, VALUE, 1, REAL - VALUE + 1)  # "0.94 (47 of 50 fixed)"
        hh = self.table.horizontalHeader()
        # Each column as wide as what it shows; the real data's takes the rest (the dock is ~300 px wide).
        for c in (0, VALUE, SECOND, INTERVAL):
            hh.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        # The last column's least width is its size when the stretch is set (the default 100 px is too wide).
        hh.resizeSection(REAL, self.fontMetrics().horizontalAdvance("real data") + 10)
        hh.setStretchLastSection(True)
        self.table.setColumnHidden(SECOND, True)  # shown while a second model runs beside the first
        for key in self._row:
            self._reset(key)
        # Every row in sight (the dock scrolls, not the table): a scroll bar of its own would take the width.
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_height()
        v.addWidget(self.table)
        self.over_t = QtWidgets.QLabel("")  # the distribution at t/10, t/3 and t: is the chain stationary?
        self.over_t.setWordWrap(True)
        self.over_t.setToolTip("The distribution measures at earlier steps and the shown one (no intervals): a\n"
                               "stationary chain keeps them; a “burn-in” is only the step the residual settled")  # fmt: skip
        v.addWidget(self.over_t)

        row = QtWidgets.QHBoxLayout()
        self.measure_btn = QtWidgets.QPushButton("Measure")
        self.measure_btn.setToolTip("Measure the shown step now (also done whenever playback pauses)")
        self.measure_btn.clicked.connect(self.measureRequested)
        row.addWidget(self.measure_btn)
        self.audit_n = QtWidgets.QSpinBox()
        self.audit_n.setRange(1, 2000)
        self.audit_n.setValue(32)
        self.audit_n.setToolTip("Training examples to audit")
        self.audit_btn = QtWidgets.QPushButton("Attractor audit")
        self.audit_btn.setToolTip(
            "Refine training examples to fixed points of f; where the residual ‖f(x*) − x*‖/√D is below the\n"
            "tolerance, compute the spectral radius ρ of the Jacobian there (exact eigenvalues for D ≤ 1024,\n"
            "Arnoldi above): ρ < 1 attracts"
        )
        self.audit_btn.clicked.connect(lambda: self.auditRequested.emit(self.audit_n.value()))
        row.addWidget(self.audit_btn)
        row.addWidget(self.audit_n)
        v.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        self.sigmas = QtWidgets.QLineEdit("0, 0.05, 0.1, 0.2, 0.4")
        self.sigmas.setToolTip(
            "Corruption levels σ ≥ 0 (value units): each training example gets N(0, σ²) noise per value"
        )
        self.recovery_btn = QtWidgets.QPushButton("Basin recovery")
        self.recovery_btn.setToolTip(
            "Corrupt training examples by σ, iterate 50 steps without noise, and count those that end\n"
            "where the clean example's own noise-free chain ends: ‖f^T(corrupted) − f^T(clean)‖/√D < tol.\n"
            "σ = 0 gives 1 by construction"
        )
        self.recovery_btn.clicked.connect(self._recovery_clicked)
        row.addWidget(self.recovery_btn)
        row.addWidget(self.sigmas, 1)
        v.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        self.mixing_btn = QtWidgets.QPushButton("Mixing…")
        self.mixing_btn.setToolTip(
            "Run fresh chains from the current start for ε = 0, 0.003, 0.01, 0.03, 0.1 and each noise kind\n"
            "(normal, uniform, none), and plot the class changes per 100 steps after burn-in against ε\n"
            "(the Mixing tab): a chain that mixes is a sampler, one that stays is a retrieval"
        )
        self.mixing_btn.clicked.connect(lambda: self.mixingRequested.emit(self.mixing_steps.value()))
        self.mixing_steps = QtWidgets.QSpinBox()
        self.mixing_steps.setRange(10, 5000)
        self.mixing_steps.setValue(200)
        self.mixing_steps.setSuffix(" steps")
        self.mixing_steps.setToolTip("Steps of every run of the mixing scan")
        row.addWidget(self.mixing_btn)
        row.addWidget(self.mixing_steps)
        row.addStretch(1)
        v.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_btn = QtWidgets.QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancelRequested)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_btn)
        v.addLayout(row)
        self.set_busy(None)

        self.plots = QtWidgets.QTabWidget()
        self.class_plot = self._plot("class", "samples")
        self.basin_plot = self._plot("basin (rank)", "chains")
        self.rho_plot = self._plot("spectral radius ρ", "examples")
        self.recovery_plot = self._plot("σ", "recovered")
        self.mixing_plot = self._plot("ε (log scale; 0 at the left)", "class changes per 100 steps")
        self.mixing_plot.addLegend(offset=(-10, 10))
        self.sweep_plot = SweepTrials()  # the trials of the depth sweep, as they finish
        for w, name in (
            (self.class_plot, "Classes"),
            (self.basin_plot, "Basins"),
            (self.rho_plot, "ρ"),
            (self.recovery_plot, "Recovery"),
            (self.mixing_plot, "Mixing"),
            (self.sweep_plot, "Sweep"),
        ):
            self.plots.addTab(w, name)
        v.addWidget(self.plots, 2)
        self.mixing_rows: list[dict] | None = None
        guard_ranges(self)  # each bounded field says its range and a value it refuses

    def bind(self, ctl) -> None:
        """Show an AnalysisController: requests go to it; its results, progress and state come back here."""
        self.measureRequested.connect(ctl.measure_now)
        self.auditRequested.connect(ctl.attractor_audit)
        self.recoveryRequested.connect(ctl.basin_recovery)
        self.mixingRequested.connect(ctl.mixing_scan)
        self.cancelRequested.connect(ctl.cancel)
        ctl.measured.connect(self.show_analysis)
        ctl.audited.connect(self.show_audit)
        ctl.recovered.connect(self.show_recovery)
        ctl.mixed.connect(self.show_mixing)
        ctl.busy.connect(lambda what: self.set_busy(what or None))
        ctl.progress.connect(self.set_progress)
        ctl.status.connect(self.status.setText)
        ctl.cleared.connect(self.clear)
        ctl.sweepStarted.connect(self.sweep_plot.clear_trials)
        ctl.sweepStarted.connect(lambda _n: self.plots.setCurrentWidget(self.sweep_plot))  # follow it from the start
        ctl.sweepTrial.connect(self.sweep_plot.add)
        ctl.current.connect(self.set_current)  # another step's numbers are greyed, and the label says so
        self._playing = lambda: ctl.chain.playing  # the hints say "pause" only while playing
        ctl.chain.playingChanged.connect(lambda _p: (self.set_current(self.table.isEnabled()), self._idle(False)))

    def clear(self, model_too: bool = True) -> None:
        """No numbers of chains that are gone; with ``model_too`` (a new model or new weights) none of the
        model's either (the attractor audit, basin recovery and the mixing scan)."""
        for key in self._row:
            if model_too or key not in MODEL_MEASURES:
                self._reset(key)
        plots = (self.class_plot, self.basin_plot)
        if model_too:
            plots += (self.rho_plot, self.recovery_plot, self.mixing_plot)
            self.mixing_rows = None
        for plot in plots:
            plot.clear()
        self.header.setText("")
        self.over_t.setText("")
        self.measured_t = None
        self.step_label.setText("")
        self._idle(True)

    def _idle(self, force: bool) -> None:  # the not-measured hint: "or pause playback" only while playing
        playing_idle = self.IDLE.replace(" to measure", ", or pause playback, to measure")
        if force or self.status.text() in (self.IDLE, playing_idle):
            self.status.setText(playing_idle if self._playing() else self.IDLE)

    def _fit_height(self) -> None:
        """The table exactly as tall as its shown rows."""
        shown = sum(not self.table.isRowHidden(i) for i in range(self.table.rowCount()))
        rows = shown * self.table.verticalHeader().defaultSectionSize()
        head = self.table.horizontalHeader().sizeHint().height()
        self.table.setFixedHeight(rows + head + 2 * self.table.frameWidth() + 2)

    def set_current(self, current: bool) -> None:
        """Whether the numbers shown are of the step shown: greyed, and said, when they are not."""
        self.table.setEnabled(current)
        if self.measured_t is None:
            self.step_label.setText("")
        elif current:
            self.step_label.setText(f"measured at step {self.measured_t}, the step shown")
        else:
            self.step_label.setText(
                f"measured at step {self.measured_t}, not the step shown (greyed): "
                + ("pause, or press Measure" if self._playing() else "press Measure (Ctrl+M)")
            )

    def show_classes(self, classes: bool) -> None:
        """Show the class rows and the Classes plot only where the model's data have classes (a feature
        classifier): not for points data or an unlabelled set, where they do not apply."""
        for key in CLASS_MEASURES:
            self.table.setRowHidden(self._row[key], not classes)
        self.plots.setTabVisible(self.plots.indexOf(self.class_plot), classes)
        self._fit_height()

    @staticmethod
    def _plot(x: str, y: str) -> pg.PlotWidget:
        p = pg.PlotWidget()
        p.setLabel("bottom", x)
        p.setLabel("left", y)
        p.setMinimumHeight(140)
        return p

    def _recovery_clicked(self) -> None:
        try:
            sig = lists.sigmas(self.sigmas.text())
        except lists.ListError as e:
            self.status.setText(f"σ: {e}")
            return
        self.recoveryRequested.emit(sig)

    def set_busy(self, what: str | None) -> None:
        self.progress.setVisible(what is not None)
        self.cancel_btn.setVisible(what is not None)
        for b in (self.audit_btn, self.recovery_btn, self.mixing_btn):
            b.setEnabled(what is None)
        if what:
            self.progress.setFormat(f"{what} %p%")
            self.progress.setValue(0)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)

    # -- cells
    def _item(self, key: str, col: int) -> QtWidgets.QTableWidgetItem:
        return self.table.item(self._row[key], col)

    def value(self, key: str) -> str:
        return self._item(key, VALUE).text()

    def interval(self, key: str) -> str:
        return self._item(key, INTERVAL).text()

    def real(self, key: str) -> str:
        return self._item(key, REAL).text()

    def tip(self, key: str, col: int = VALUE) -> str:
        return self._item(key, col).toolTip()

    def _reset(self, key: str) -> None:
        r = ROW_OF[key]
        self._item(key, 0).setToolTip(r.formula)
        self._cell(key, VALUE, "–", r.formula)
        if self._row[key] != self._audit_row:
            self._cell(key, INTERVAL, "–" if r.interval else "", self.HEADER_TIPS[INTERVAL] if r.interval else "")
            self._cell(key, REAL, "" if r.real is None else "–", r.real_about)
            self._cell(key, SECOND, "", "")

    def _cell(self, key: str, col: int, text: str, tip: str) -> None:
        item = self._item(key, col)
        item.setText(text)
        item.setToolTip(tip)

    def _set(self, key: str, v, tip: str | None = None) -> None:
        self._cell(key, VALUE, fmt(v), ROW_OF[key].formula if tip is None else tip)

    def show_analysis(self, t: int, a) -> None:
        summary = a.summary()
        how = summary.get("interval") or "bootstrap 95 %"
        for r in ROWS:
            if r.key in MODEL_MEASURES:
                continue
            if r.key == "mixing":
                self._show_mixing_row(summary)
                continue
            tip = r.formula
            if r.key in ("converged", "burn_in", "cycles") and summary.get("tol") is not None:
                tip = f"{tip}\ntol = {fmt(summary['tol'])} here"
                if r.key == "converged" and finite(summary.get("residual_median")):
                    tip += f"; median residual at this step {fmt(summary['residual_median'])}"
            self._set(r.key, summary.get(r.key), tip)
            if r.interval:
                e = Estimate.of(summary, r.key)
                iv = bracket(e)
                self._cell(
                    r.key,
                    INTERVAL,
                    plus_minus(e),
                    f"95 % interval {iv} ({how})" if iv else "no interval (too few samples, or not measured)",
                )
            if r.real is not None:
                base = Estimate.of(summary, r.real)
                iv = bracket(base)
                text = fmt(base.value)
                if r.real.endswith("_identity"):
                    tip = f"{text}: {IDENTITY_ABOUT}"
                else:
                    real = summary.get("real") or "real samples of the data set"
                    tip = f"{text}{' ' + plus_minus(base) if iv else ''}{', 95 % interval ' + iv if iv else ''}\n"
                    tip += f"the same measure for {real}"
                self._cell(r.key, REAL, text, tip)
        self._show_second(getattr(a, "second", None))
        self.over_t.setText(over_t_text(getattr(a, "over_t", None) or [], {**summary, "t": t}))
        self._show_header(summary)
        self.show_classes(summary.get("classifier") is not None or finite(summary.get("class_entropy")))
        self.measured_t = t
        self.set_current(self.table.isEnabled())
        self.status.setText(f"step {t}: {count(a.n, 'chain')}, tolerance {fmt(a.tol)}")
        self.class_plot.clear()
        if getattr(a, "classes", None) is not None:
            h = a.classes["histogram"]
            self.class_plot.addItem(pg.BarGraphItem(x=np.arange(len(h)), height=h, width=0.8, brush="#4c9be8"))
        self.basin_plot.clear()
        occ = a.memo["occupancy"][:30]
        self.basin_plot.addItem(pg.BarGraphItem(x=np.arange(1, len(occ) + 1), height=occ, width=0.8, brush="#f0a04b"))

    def _show_second(self, b) -> None:
        """The second model's measures at the same step (an Analysis), in their own column; None hides it."""
        self.table.setColumnHidden(SECOND, b is None)
        # The real data's header on two lines while the 2nd column is in: all five fit the dock's width.
        self.table.horizontalHeaderItem(REAL).setText(self.HEADERS[REAL].replace(" ", "\n" if b is not None else " "))
        fm = self.fontMetrics()
        self.table.horizontalHeader().resizeSection(REAL, fm.horizontalAdvance("data" if b else "real data") + 10)
        if b is None:
            return
        got = b.summary()
        for r in ROWS:
            if r.key not in MODEL_MEASURES and r.key != "mixing" and self._row[r.key] != self._audit_row:
                self._cell(r.key, SECOND, fmt(got.get(r.key)), f"{r.label} of the second model's chains")

    def _show_header(self, summary: dict) -> None:
        space = summary.get("feature_space")
        parts = [f"features: {space}" if space else NO_FEATURES]
        if summary.get("real"):
            parts.append(f"real: {summary['real']}")
        self.header.setText(" · ".join(parts))

    def _show_mixing_row(self, summary: dict) -> None:
        mc, mn = summary.get("mixing_class"), summary.get("mixing_nearest")
        tip = ROW_OF["mixing"].formula
        if finite(mc):
            self._set("mixing", mc, f"{tip}\nhere: class changes per 100 steps")
        elif finite(mn):
            self._set("mixing", mn, f"{tip}\nhere: nearest-training-example changes per 100 steps (no classes)")
        else:
            self._set("mixing", None)

    def show_audit(self, result) -> None:
        """The attractor audit's row and ρ histogram, and the fixed-point census (root finding) beside it:
        ``result`` is (AttractorAudit, FixedPointCensus)."""
        audit, census = result if isinstance(result, tuple) else (result, None)
        s = audit.summary() if hasattr(audit, "summary") else {}
        n = int(s.get("audit_n", len(audit.rho)))
        fixed_mask = np.asarray(getattr(audit, "fixed", np.ones(len(audit.rho), bool)), bool)
        n_fixed = int(s.get("audit_fixed", getattr(audit, "n_fixed", int(fixed_mask.sum()))))
        frac = s.get("attractor_fraction", audit.attractor_fraction)
        tol = s.get("audit_tol", getattr(audit, "tol", None))
        res_max = s.get("residual_max", float(np.max(audit.residual)) if len(audit.residual) else None)
        rho_med, rho_max = s.get("rho_median"), s.get("rho_max")
        tip = (
            f"{ROW_OF['attractor_fraction'].formula}\n{n_fixed} of {n} audited examples reached a fixed point"
            f" (residual < {fmt(tol)}); residual max {fmt(res_max)}"
        )
        if rho_med is not None:
            tip += f"; ρ at the fixed points: median {fmt(rho_med)}, max {fmt(rho_max)}"
        tip += census.tip_text() if census is not None else ""
        short = census.short() if census is not None else ""
        self._cell("attractor_fraction", VALUE, f"{fmt(frac)} ({n_fixed} of {n} fixed){short}", tip)
        self._item("attractor_fraction", 0).setToolTip(tip)
        rho = np.asarray(audit.rho, float)
        keep = fixed_mask & np.isfinite(rho)  # ρ is only measured (and only means something) at fixed points
        hi = max(2.0, float(rho[keep].max()) if keep.any() else 2.0)
        self.rho_plot.clear()
        if keep.any():
            counts, edges = np.histogram(rho[keep], bins=30, range=(0.0, hi))
            self.rho_plot.plot(edges, counts, stepMode="center", fillLevel=0, brush=(76, 155, 232, 150))
        self.rho_plot.addItem(
            pg.InfiniteLine(1.0, angle=90, pen=pg.mkPen("#e05050", style=QtCore.Qt.PenStyle.DashLine))
        )
        self.plots.setCurrentWidget(self.rho_plot)
        attract = "" if not finite(frac) else f", {100 * frac:.0f} % of those attract"
        med = f" (median ρ {fmt(rho_med)})" if rho_med is not None else ""
        line = f"attractor audit: {n} examples, {n_fixed} fixed (residual < {fmt(tol)}){attract}{med}"
        self.status.setText(line + ("" if census is None else f" · {census.lines()[0]}"))

    def show_recovery(self, sigmas, rates, chance=None) -> None:
        """Recovery against σ, and its chance level (dashed): recovery means something only above it."""
        self.recovery_plot.clear()
        self.recovery_plot.plot(sigmas, rates, symbol="o", pen=pg.mkPen("#4c9be8", width=2))
        if chance is not None:
            self.recovery_plot.plot(sigmas, chance, pen=pg.mkPen("#e05050", style=QtCore.Qt.PenStyle.DashLine))
        self.recovery_plot.setYRange(0, 1)
        self.plots.setCurrentWidget(self.recovery_plot)
        chance = chance if chance is not None else [None] * len(rates)
        got = (
            f"σ={s:g}: {100 * r:.0f} %" + ("" if c is None else f" [{100 * c:.0f} %]")
            for s, r, c in zip(sigmas, rates, chance)
        )
        self.status.setText(
            "basin recovery (ends where the clean example's own chain ends; chance in brackets): " + ", ".join(got)
        )

    def show_mixing(self, rows: list[dict]) -> None:
        """The mixing scan: changes per 100 steps after burn-in against ε, one curve per noise kind (plots.py)."""
        self.mixing_rows = list(rows)
        what = draw_mixing(self.mixing_plot, rows)
        self.plots.setCurrentWidget(self.mixing_plot)
        self.status.setText(
            f"mixing scan: {what} changes per 100 steps after burn-in against ε, one curve per noise kind "
            "(the Mixing tab)"
        )
