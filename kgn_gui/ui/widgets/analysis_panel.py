"""The Analysis dock: the kaleidoscope's measures at the shown step, and two longer audits.

Cheap measures follow the shown step whenever playback pauses (computed off the GUI thread); the
attractor audit and the basin recovery are background jobs with a progress bar and Cancel. Every
number has a tooltip with its formula (see :mod:`kgn_gui.core.measures`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

ROWS = [  # key, label, tooltip
    (
        "burn_in",
        "burn-in (steps)",
        "First step where the median step size ‖x_{t+1} − x_t‖/√D falls below the tolerance",
    ),
    (
        "converged",
        "converged",
        "Fraction of chains whose last step size is below the tolerance\n"
        "(tolerance = 1e-3 above the noise floor 2·ε·r)",
    ),
    ("fixed_points", "fixed points", "Fraction of chains with ‖x_t − x_{t−1}‖/√D below the tolerance (period 1)"),
    ("cycles", "cycles", "Fraction of chains that repeat with a period 2 … 8 (‖x_t − x_{t−k}‖/√D below the tolerance)"),
    ("contraction_last", "contraction q", "q_t = s_t / s_{t−1}, median over chains, at the last step: < 1 contracts"),
    (
        "copy_fraction",
        "copies",
        "Fraction of chains within 0.05 (RMS per value) of a training example: memorized samples",
    ),
    ("distinct", "distinct examples", "How many different training examples are some chain's nearest (coverage)"),
    ("top_basin_share", "largest basin", "Share of the chains whose nearest training example is the most common one"),
    (
        "nearest_mean",
        "nearest distance",
        "Mean over chains of the distance to the nearest training example (RMS per value)",
    ),
    (
        "class_entropy",
        "class entropy",
        "Entropy of the classifier's labels of the samples / log(classes):\n"
        "1 = every class equally often, 0 = a single class",
    ),
    ("confidence", "confidence", "Mean top-class probability the classifier gives the samples"),
    (
        "frechet",
        "Fréchet distance",
        "‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) between the samples and the MNIST test set in\n"
        "the project classifier's 128-d features. FID-style, NOT comparable with Inception FID.",
    ),
    (
        "inside_training_range",
        "outputs in training range",
        "Over-generalization: fraction of f(z) values, z uniform on the\n"
        "whole input box, inside the training data's per-value [min, max]",
    ),
    ("saturated", "saturated outputs", "Fraction of f(z) values within 1e-3 of the output bounds"),
    (
        "attractor_fraction",
        "attractors (audit)",
        "Fraction of audited training examples whose refined fixed point has\nJacobian spectral radius ρ < 1",
    ),
]


class AnalysisPanel(QtWidgets.QWidget):
    """Numbers, plots and buttons of an AnalysisController (``bind``): its requests go to it, its results
    come back here."""

    IDLE = "not measured yet: press Measure (Ctrl+M), or pause playback, to measure the shown step"

    measureRequested = QtCore.Signal()
    auditRequested = QtCore.Signal(int)
    recoveryRequested = QtCore.Signal(list)
    cancelRequested = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QtWidgets.QVBoxLayout(self)
        v.setContentsMargins(4, 4, 4, 4)
        self.status = QtWidgets.QLabel(self.IDLE)
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        v.addWidget(self.status)
        self.table = QtWidgets.QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["measure", "value"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self._row = {}
        for i, (key, label, tip) in enumerate(ROWS):
            a, b = QtWidgets.QTableWidgetItem(label), QtWidgets.QTableWidgetItem("–")
            a.setToolTip(tip)
            b.setToolTip(tip)
            self.table.setItem(i, 0, a)
            self.table.setItem(i, 1, b)
            self._row[key] = i
        self.table.resizeColumnToContents(0)
        self.table.setMinimumHeight(180)
        v.addWidget(self.table, 3)

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
            "Refine training examples to fixed points of f and compute the spectral radius ρ of\n"
            "the Jacobian there (exact eigenvalues for D ≤ 1024, Arnoldi above): ρ < 1 attracts"
        )
        self.audit_btn.clicked.connect(lambda: self.auditRequested.emit(self.audit_n.value()))
        row.addWidget(self.audit_btn)
        row.addWidget(self.audit_n)
        v.addLayout(row)
        row = QtWidgets.QHBoxLayout()
        self.sigmas = QtWidgets.QLineEdit("0.05, 0.1, 0.2, 0.4")
        self.sigmas.setToolTip("Corruption levels σ (value units): each training example gets N(0, σ²) noise per value")
        self.recovery_btn = QtWidgets.QPushButton("Basin recovery")
        self.recovery_btn.setToolTip(
            "Corrupt training examples by σ, iterate 50 steps without noise, and count those\n"
            "that end nearest the example they started from"
        )
        self.recovery_btn.clicked.connect(self._recovery_clicked)
        row.addWidget(self.recovery_btn)
        row.addWidget(self.sigmas, 1)
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
        for w, name in (
            (self.class_plot, "Classes"),
            (self.basin_plot, "Basins"),
            (self.rho_plot, "ρ"),
            (self.recovery_plot, "Recovery"),
        ):
            self.plots.addTab(w, name)
        v.addWidget(self.plots, 2)

    def bind(self, ctl) -> None:
        """Show an AnalysisController: requests go to it; its results, progress and state come back here."""
        self.measureRequested.connect(ctl.measure_now)
        self.auditRequested.connect(ctl.attractor_audit)
        self.recoveryRequested.connect(ctl.basin_recovery)
        self.cancelRequested.connect(ctl.cancel)
        ctl.measured.connect(self.show_analysis)
        ctl.audited.connect(self.show_audit)
        ctl.recovered.connect(self.show_recovery)
        ctl.busy.connect(lambda what: self.set_busy(what or None))
        ctl.progress.connect(self.set_progress)
        ctl.status.connect(self.status.setText)
        ctl.cleared.connect(self.clear)
        ctl.current.connect(self.table.setEnabled)  # another step's numbers are greyed

    def clear(self, model_too: bool = True) -> None:
        """No numbers of chains that are gone; with ``model_too`` (a new model or new weights) none of the
        model's either (the attractor audit and basin recovery)."""
        for key in self._row:
            if model_too or key != "attractor_fraction":
                self._set(key, None)
        for plot in (self.class_plot, self.basin_plot) + ((self.rho_plot, self.recovery_plot) if model_too else ()):
            plot.clear()
        self.status.setText(self.IDLE)

    @staticmethod
    def _plot(x: str, y: str) -> pg.PlotWidget:
        p = pg.PlotWidget()
        p.setLabel("bottom", x)
        p.setLabel("left", y)
        p.setMinimumHeight(140)
        return p

    def _recovery_clicked(self) -> None:
        try:
            sig = sorted({float(s) for s in self.sigmas.text().replace(";", ",").split(",") if s.strip()})
            if not sig or sig[0] < 0:
                raise ValueError
        except ValueError:
            self.status.setText("σ: give numbers ≥ 0 separated by commas, e.g. 0.05, 0.1, 0.2")
            return
        self.recoveryRequested.emit(sig)

    def set_busy(self, what: str | None) -> None:
        self.progress.setVisible(what is not None)
        self.cancel_btn.setVisible(what is not None)
        self.audit_btn.setEnabled(what is None)
        self.recovery_btn.setEnabled(what is None)
        if what:
            self.progress.setFormat(f"{what} %p%")
            self.progress.setValue(0)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)

    def value(self, key: str) -> str:
        return self.table.item(self._row[key], 1).text()

    def _set(self, key: str, v) -> None:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            text = "–"
        elif isinstance(v, float):
            text = f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
        else:
            text = str(v)
        self.table.item(self._row[key], 1).setText(text)

    def show_analysis(self, t: int, a) -> None:
        summary = a.summary()
        for key, _, _ in ROWS:
            if key in summary:
                self._set(key, summary[key])
            elif key != "attractor_fraction":
                self._set(key, None)
        self.status.setText(f"step {t}: {a.n} chains, tolerance {a.tol:.2g}")
        self.class_plot.clear()
        if a.classes is not None:
            h = a.classes["histogram"]
            self.class_plot.addItem(pg.BarGraphItem(x=np.arange(len(h)), height=h, width=0.8, brush="#4c9be8"))
        self.basin_plot.clear()
        occ = a.memo["occupancy"][:30]
        self.basin_plot.addItem(pg.BarGraphItem(x=np.arange(1, len(occ) + 1), height=occ, width=0.8, brush="#f0a04b"))

    def show_audit(self, audit) -> None:
        self._set("attractor_fraction", audit.attractor_fraction)
        counts, edges = audit.histogram()
        self.rho_plot.clear()
        self.rho_plot.plot(edges, counts, stepMode="center", fillLevel=0, brush=(76, 155, 232, 120))
        self.rho_plot.addItem(
            pg.InfiniteLine(1.0, angle=90, pen=pg.mkPen("#e05050", style=QtCore.Qt.PenStyle.DashLine))
        )
        self.plots.setCurrentWidget(self.rho_plot)
        self.status.setText(
            f"attractor audit: {len(audit.rho)} examples, {100 * audit.attractor_fraction:.0f} % "
            f"attract (median ρ {np.median(audit.rho):.3f})"
        )

    def show_recovery(self, sigmas, rates) -> None:
        self.recovery_plot.clear()
        self.recovery_plot.plot(sigmas, rates, symbol="o", pen=pg.mkPen("#4c9be8", width=2))
        self.recovery_plot.setYRange(0, 1)
        self.plots.setCurrentWidget(self.recovery_plot)
        self.status.setText("basin recovery: " + ", ".join(f"σ={s:g}: {100 * r:.0f} %" for s, r in zip(sigmas, rates)))
