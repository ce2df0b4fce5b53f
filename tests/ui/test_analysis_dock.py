"""The Analysis dock's table, header and plots, fed hand-made results with known values (no model, no Job):
each measure beside its 95 % interval (± h, the exact [lo, hi] in the tooltip) and its real-data baseline."""

import types

import numpy as np
import pytest

from kgn_gui.ui.widgets.analysis_panel import INTERVAL, NO_FEATURES, REAL, ROWS, VALUE, AnalysisPanel
from kgn_gui.ui.widgets.plots import eps_positions


@pytest.fixture
def panel(qtbot):
    p = AnalysisPanel()
    qtbot.addWidget(p)
    p.resize(360, 900)
    p.show()
    return p


def summary(**over):
    s = {
        "chains": 64,
        "steps": 40,
        "tol": 0.05,
        "burn_in": 17,
        "converged": 0.5,
        "cycles": 0.125,
        "residual_median": 0.04,
        "contraction_last": 0.97,
        "copy_fraction": 0.0,
        "distinct": 40,
        "top_basin_share": 0.0625,
        "nearest_mean": 0.27,
        "nearest_mean_ci": [0.26, 0.28],
        "nearest_mean_real": 0.304,
        "nearest_mean_real_ci": [0.3, 0.308],
        "class_entropy": 0.93,
        "class_entropy_ci": [0.9, 0.96],
        "class_entropy_real": 0.99,
        "class_entropy_real_ci": [0.98, 1.0],
        "frechet": 12.5,
        "frechet_ci": [10.0, 15.0],
        "frechet_real": 9.0,
        "frechet_real_ci": [8.0, 10.0],
        "kid": 0.0123,
        "kid_ci": [0.01, 0.0146],
        "kid_real": 0.0,
        "kid_real_ci": [-0.001, 0.001],
        "precision": 0.75,
        "precision_ci": [0.7, 0.8],
        "precision_real": 0.8,
        "precision_real_ci": [0.76, 0.84],
        "recall": 0.5,
        "recall_ci": [0.4, 0.6],
        "recall_real": 0.8,
        "recall_real_ci": [0.75, 0.85],
        "confidence": 0.95,
        "class_0": 3,
        "mixing_class": None,
        "mixing_nearest": None,
        "inside_training_range": 0.991,
        "inside_training_range_identity": 0.861,
        "saturated": 0.25,
        "saturated_identity": 0.0,
        "feature_space": "MNIST classifier (bundled, 99.10 % test accuracy)",
        "classifier": {"dataset": "mnist-test", "test_accuracy": 0.991, "source": "bundled"},
        "real": "256 of the 10,000 MNIST test digits",
        "interval": "bootstrap 95 %, 200 resamples of the samples",
    }
    s.update(over)
    return s


def analysis(s):
    return types.SimpleNamespace(
        summary=lambda: s,
        n=s["chains"],
        tol=s["tol"],
        classes={"histogram": np.array([3, 1, 0])},
        memo={"occupancy": np.array([4, 2, 1])},
    )


def test_every_row_reads_its_value_interval_and_baseline(panel):
    panel.show_analysis(40, analysis(summary()))
    assert (panel.value("frechet"), panel.interval("frechet"), panel.real("frechet")) == ("12.5", "± 2.5", "9")
    assert "[10, 15]" in panel.tip("frechet", INTERVAL) and "bootstrap" in panel.tip("frechet", INTERVAL)
    real_tip = panel.tip("frechet", REAL)
    assert "9 ± 1" in real_tip and "[8, 10]" in real_tip and "256 of the 10,000 MNIST test digits" in real_tip
    assert (panel.value("kid"), panel.interval("kid"), panel.real("kid")) == ("0.0123", "± 0.0023", "0")
    assert (panel.value("precision"), panel.interval("precision"), panel.real("precision")) == ("0.75", "± 0.05", "0.8")
    assert (panel.value("recall"), panel.interval("recall"), panel.real("recall")) == ("0.5", "± 0.1", "0.8")
    assert (panel.value("nearest_mean"), panel.interval("nearest_mean"), panel.real("nearest_mean")) == (
        "0.27",
        "± 0.01",
        "0.304",
    )
    assert (panel.value("class_entropy"), panel.real("class_entropy")) == ("0.93", "0.99")
    assert panel.value("burn_in") == "17" and panel.value("converged") == "0.5" and panel.value("cycles") == "0.125"
    assert panel.value("distinct") == "40" and panel.value("top_basin_share") == "0.0625"
    assert panel.value("confidence") == "0.95" and panel.value("contraction_last") == "0.97"
    # the output-range rows: the identity map is their baseline, said so
    assert (panel.value("inside_training_range"), panel.real("inside_training_range")) == ("0.991", "0.861")
    assert "identity" in panel.tip("inside_training_range", REAL)
    assert (panel.value("saturated"), panel.real("saturated")) == ("0.25", "0")
    # rows without an interval or baseline leave those cells empty; mixing is "–" until measured
    assert panel.interval("converged") == "" and panel.real("converged") == ""
    assert panel.value("mixing") == "–"
    assert "fixed_points" not in {r.key for r in ROWS}
    assert panel.status.text() == "step 40: 64 chains, tolerance 0.05"


def test_memorized_ess_rows_and_the_over_t_line(panel):
    a = analysis(summary(memorized_fraction=0.0, memorized_fraction_ci=[0.0, 0.057], memorized_fraction_real=0.0,
                         autocorrelation_time_median=24.0, ess_median=12.5))  # fmt: skip
    a.over_t = [{"t": 4, "class_entropy": 0.69, "frechet": 406.0, "recall": 0.53, "memorized_fraction": 0.0},
                {"t": 13, "class_entropy": 0.63, "frechet": 512.0, "recall": 0.48, "memorized_fraction": 0.0}]  # fmt: skip
    panel.show_analysis(40, a)
    assert (panel.value("memorized_fraction"), panel.real("memorized_fraction")) == ("0", "0")
    assert "[0, 0.057]" in panel.tip("memorized_fraction", INTERVAL) and "d₁/d₂ < 1/3" in panel.tip(
        "memorized_fraction"
    )
    assert (panel.value("autocorrelation_time_median"), panel.value("ess_median")) == ("24", "12.5")
    assert panel.over_t.text() == (
        "steps 4 · 13 · 40, class entropy 0.69 · 0.63 · 0.93, Fréchet 406 · 512 · 12.5, recall 0.53 · 0.48 · 0.5, "
        "memorized 0 · 0 · 0"
    )
    panel.clear(False)
    assert panel.over_t.text() == "" and panel.value("ess_median") == "–"


def test_the_header_names_the_feature_space_and_the_real_data(panel):
    panel.show_analysis(40, analysis(summary()))
    assert panel.header.text() == (
        "features: MNIST classifier (bundled, 99.10 % test accuracy) · real: 256 of the 10,000 MNIST test digits"
    )
    bare = {
        k: v
        for k, v in summary(feature_space=None, classifier=None).items()
        if not k.startswith(("frechet", "kid", "precision", "recall", "class_", "confidence"))
    }
    panel.show_analysis(40, analysis(bare))
    assert panel.header.text().startswith(NO_FEATURES)
    assert panel.value("frechet") == "–" and panel.interval("frechet") == "–" and panel.real("frechet") == "–"


def test_the_tooltips_give_the_formulas_and_the_tolerance(panel):
    panel.show_analysis(40, analysis(summary()))
    assert "‖f(x_T) − x_T‖/√D < tol, the same for every noise kind" in panel.tip("converged")
    assert "tol = 0.05" in panel.tip("converged") and "median residual at this step 0.04" in panel.tip("converged")
    assert "cubic polynomial kernel" in panel.tip("kid") and "unbiased MMD²" in panel.tip("kid")
    assert "Kynkäänniemi et al. 2019" in panel.tip("precision") and "k = 3" in panel.tip("recall")
    assert "tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)" in panel.tip("frechet")
    assert "after burn-in" in panel.tip("mixing")


def test_nan_values_and_missing_intervals_read_as_dashes(panel):
    panel.show_analysis(40, analysis(summary(burn_in=None, frechet=float("nan"), frechet_ci=[float("nan"), 1.0])))
    assert panel.value("burn_in") == "–" and panel.value("frechet") == "–" and panel.interval("frechet") == "–"


def test_mixing_fills_its_row_when_measured(panel):
    panel.show_analysis(40, analysis(summary(mixing_class=0.125)))
    assert panel.value("mixing") == "0.125" and "class changes" in panel.tip("mixing")
    panel.show_analysis(40, analysis(summary(mixing_nearest=0.25)))
    assert panel.value("mixing") == "0.25" and "nearest" in panel.tip("mixing")


def audit(n=50, n_fixed=47, frac=0.94):
    rho = np.linspace(0.5, 1.2, n)
    fixed = np.arange(n) < n_fixed
    s = {
        "attractor_fraction": frac,
        "audit_n": n,
        "audit_fixed": n_fixed,
        "rho_median": 0.8,
        "rho_max": 1.2,
        "residual_max": 0.039,
        "audit_tol": 0.05,
    }
    return types.SimpleNamespace(
        rho=rho,
        residual=np.full(n, 0.01),
        fixed=fixed,
        n_fixed=n_fixed,
        tol=0.05,
        attractor_fraction=frac,
        summary=lambda: s,
    )


def test_the_audit_says_how_many_reached_a_fixed_point(panel):
    panel.show_audit(audit())
    assert panel.value("attractor_fraction") == "0.94 (47 of 50 fixed)"
    tip = panel.tip("attractor_fraction")
    assert "residual max 0.039" in tip and "residual < 0.05" in tip
    assert "50 examples, 47 fixed (residual < 0.05), 94 % of those attract" in panel.status.text()
    fake = audit()
    fake.summary = lambda: {**audit().summary(), "audit_tol": 1e-4, "residual_max": 0.000123}
    panel.show_audit(fake)
    assert "residual < 0.0001" in panel.tip("attractor_fraction") and "residual max 0.000123" in panel.tip(
        "attractor_fraction"
    )
    panel.show_audit(audit())
    assert panel.plots.currentWidget() is panel.rho_plot
    # new chains keep the model's audit; a new model drops it
    panel.clear(model_too=False)
    assert panel.value("attractor_fraction").startswith("0.94") and panel.value("frechet") == "–"
    panel.clear(model_too=True)
    assert panel.value("attractor_fraction") == "–"


def test_recovery_plot_and_the_default_sigmas_include_zero(panel):
    assert panel.sigmas.text().startswith("0,")
    got = []
    panel.recoveryRequested.connect(got.append)
    panel._recovery_clicked()
    assert got == [[0.0, 0.05, 0.1, 0.2, 0.4]]
    panel.show_recovery([0.0, 0.1], [1.0, 0.5])
    assert "σ=0: 100 %" in panel.status.text()


def mixing_rows(with_classes=True):
    """As measures.mixing_scan gives them: ``none`` once at ε = 0, the other kinds at every ε > 0."""
    rows = [{"noise": "none", "eps": 0.0, "mixing_class": 0.0 if with_classes else None, "mixing_nearest": 0.0}]
    for kind, scale in (("normal", 100.0), ("uniform", 50.0)):
        for e in (0.003, 0.01, 0.03, 0.1):
            m = scale * e
            rows.append(
                {
                    "noise": kind,
                    "eps": e,
                    "mixing_class": m if with_classes else None,
                    "mixing_nearest": 2 * m,
                    "burn_in": 5,
                }
            )
    return rows


def test_the_mixing_plot_draws_one_curve_per_noise_kind_against_eps(panel):
    panel.show_mixing(mixing_rows())
    item = panel.mixing_plot.getPlotItem()
    curves = item.listDataItems()
    assert len(curves) == 3
    assert [label.text for _, label in item.legend.items] == ["none (ε = 0)", "normal", "uniform"]
    pos = eps_positions([0, 0.003, 0.01, 0.03, 0.1])
    xs, ys = curves[1].getData()  # normal: from the noise-free point at ε = 0 on
    assert list(xs) == [pos[0.0], pos[0.003], pos[0.01], pos[0.03], pos[0.1]]
    assert xs[0] < xs[1] and np.allclose(xs[1:], np.log10([0.003, 0.01, 0.03, 0.1]))  # ε = 0 at the left
    assert list(ys) == pytest.approx([0, 0.3, 1, 3, 10])
    assert list(curves[2].getData()[1]) == pytest.approx([0, 0.15, 0.5, 1.5, 5])
    assert list(curves[0].getData()[0]) == [pos[0.0]]
    ticks = panel.mixing_plot.getAxis("bottom")._tickLevels[0]
    assert [t for _, t in ticks] == ["0", "0.003", "0.01", "0.03", "0.1"]
    assert panel.mixing_plot.getAxis("left").labelText == "class changes per 100 steps"
    assert panel.plots.currentWidget() is panel.mixing_plot
    assert panel.mixing_plot.getViewBox().viewRange()[1][0] == 0  # a rate: its axis starts at 0
    assert curves[0].zValue() > curves[1].zValue()  # the shared ε = 0 point drawn over the curves from it
    # no classes: the nearest training example's changes
    panel.show_mixing(mixing_rows(with_classes=False))
    curves = panel.mixing_plot.getPlotItem().listDataItems()
    assert len(curves) == 3 and list(curves[1].getData()[1]) == pytest.approx([0, 0.6, 2, 6, 20])
    assert panel.mixing_plot.getAxis("left").labelText == "nearest-example changes per 100 steps"
    panel.clear(model_too=False)
    assert len(panel.mixing_plot.getPlotItem().listDataItems()) == 3  # the model's: kept for new chains
    panel.clear(model_too=True)
    assert panel.mixing_plot.getPlotItem().listDataItems() == [] and panel.mixing_rows is None


def test_the_mixing_button_asks_for_a_scan_and_long_jobs_disable_it(panel):
    got = []
    panel.mixingRequested.connect(got.append)
    panel.mixing_steps.setValue(120)
    panel.mixing_btn.click()
    assert got == [120]
    panel.set_busy("mixing scan")
    assert not panel.mixing_btn.isEnabled() and panel.cancel_btn.isVisible()
    panel.set_busy(None)
    assert panel.mixing_btn.isEnabled()


def test_numbers_read_short_and_plain(panel):
    panel.show_analysis(
        0,
        analysis(
            summary(
                frechet=1460.3, frechet_ci=[1420.0, 1465.6], kid=2130.0, kid_ci=[2000.0, 2270.0], class_entropy=-0.0
            )
        ),
    )
    assert (panel.value("frechet"), panel.interval("frechet")) == ("1,460", "± 23")
    assert (panel.value("kid"), panel.interval("kid")) == ("2,130", "± 135")
    assert panel.value("class_entropy") == "0"  # never "-0"
    panel.show_analysis(0, analysis(summary(nearest_mean=1.07, nearest_mean_ci=[1.0669, 1.0731])))
    assert panel.interval("nearest_mean") == "± 0.0031"


def test_the_columns_fit_a_dock_300_pixels_wide(qtbot):
    p = AnalysisPanel()
    qtbot.addWidget(p)
    p.resize(300, 900)
    p.show()
    qtbot.waitExposed(p)
    p.show_analysis(40, analysis(summary(frechet=1460.3, frechet_ci=[1420.0, 1465.6], kid_real=0.000123)))
    t = p.table
    fm = t.fontMetrics()
    assert sum(t.columnWidth(c) for c in range(4)) <= t.viewport().width() + 1  # no column cut off at the right
    for key in ("frechet", "kid", "nearest_mean", "inside_training_range", "precision"):
        i = p._row[key]
        for c in (VALUE, INTERVAL, REAL):
            assert fm.horizontalAdvance(t.item(i, c).text()) + 6 < t.columnWidth(c), (key, c, t.item(i, c).text())
    for r in ROWS:
        assert fm.horizontalAdvance(r.label) < t.columnWidth(0), r.label


def test_the_dock_says_which_step_it_measured_and_whether_it_is_shown(panel):
    panel.show_analysis(120, analysis(summary()))
    panel.set_current(True)
    assert panel.step_label.text() == "measured at step 120, the step shown" and panel.table.isEnabled()
    panel.set_current(False)  # the user scrubbed away
    assert panel.step_label.text().startswith("measured at step 120, not the step shown")
    assert not panel.table.isEnabled()
    panel.clear()
    assert panel.step_label.text() == "" and panel.measured_t is None


def test_class_rows_and_the_classes_plot_hide_without_a_classifier(panel):
    tall = panel.table.height()
    panel.show_analysis(5, analysis(summary()))
    classes_tab = panel.plots.indexOf(panel.class_plot)
    assert not panel.table.isRowHidden(ROWS.index(next(r for r in ROWS if r.key == "class_entropy")))
    assert panel.plots.isTabVisible(classes_tab)
    points = summary(class_entropy=None, confidence=None, classifier=None, feature_space=None, class_0=None)
    panel.show_analysis(5, analysis(points))
    hidden = [r.key for i, r in enumerate(ROWS) if panel.table.isRowHidden(i)]
    assert hidden == ["class_entropy", "confidence"] and not panel.plots.isTabVisible(classes_tab)
    assert panel.table.height() == tall - 2 * panel.table.verticalHeader().defaultSectionSize()
    panel.show_analysis(6, analysis(summary()))  # an MNIST model again
    assert not any(panel.table.isRowHidden(i) for i in range(len(ROWS))) and panel.table.height() == tall


def test_the_audit_shows_the_root_finding_census_beside_it(panel):
    """The audit job's answer is (audit, census): the row counts the roots by kind, the tooltip and the
    status line say what Newton found — here on the map whose 9 roots are known (tests/core/test_fixed_points)."""
    from torch import nn

    from kgn_gui.core.measure.fixed_points import fixed_point_census

    class Cubic(nn.Module):
        def forward(self, x):
            return x - (x + 0.5) * x * (x - 0.5)

    g = np.array([[a, b] for a in (-0.5, 0.0, 0.5) for b in (-0.5, 0.0, 0.5)])
    census = fixed_point_census(Cubic(), g + 0.04, n=9)
    panel.show_audit((audit(), census))
    assert panel.value("attractor_fraction") == "0.94 (47 of 50 fixed); roots 9: 4 attr, 4 saddle, 1 rep"
    tip = panel.tip("attractor_fraction")
    assert "Root finding (Newton" in tip and "9 distinct — 4 attracting, 4 saddle, 1 repelling" in tip
    assert "fixed points (Newton from 9 starts, 9 converged)" in panel.status.text()
