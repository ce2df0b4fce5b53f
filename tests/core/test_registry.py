"""Issue 27: one registry of measures — the JSON, the CLI printout, the sweep's clipping and the Analysis
dock's rows are all made from it."""

import math

import pytest

from kgn_gui.core.measure.registry import MEASURE, PANEL, Estimate, Measures, clip, measure_of


@pytest.mark.parametrize(
    "column, key",
    [
        ("frechet", "frechet"),
        ("frechet_real", "frechet"),
        ("frechet_real_ci", "frechet"),
        ("frechet_lo", "frechet"),
        ("saturated_identity_hi", "saturated"),
        ("recovery_0.1", "recovery"),
        ("recovery_0.05_lo", "recovery"),
        ("burn_in", "burn_in"),
        ("class_3", None),
        ("feature_space", None),
    ],
)
def test_every_column_finds_its_measure(column, key):
    m = measure_of(column)
    assert (m.key if m else None) == key


def test_intervals_are_clipped_to_the_range_the_measure_can_take():
    assert clip("converged_lo", -0.2, 1.3) == (0.0, 1.0)  # a fraction
    assert clip("recovery_0.1", -0.1, 1.1) == (0.0, 1.0)
    assert clip("frechet_real", -5.0, 9.0) == (0.0, 9.0)  # never negative
    assert clip("kid", -5.0, 9.0) == (-5.0, 9.0)  # unbiased: may dip below 0
    assert clip("parameters", -1.0, 1.0) == (-1.0, 1.0)  # a setting, not a measure


def test_the_panel_rows_and_their_baselines_are_registered():
    assert all(k in MEASURE for k in PANEL) and len(set(PANEL)) == len(PANEL)
    assert MEASURE["frechet"].interval and MEASURE["frechet"].real == "frechet_real"
    assert "identity map" in MEASURE["saturated"].real_about and "real samples" in MEASURE["kid"].real_about
    assert all(m.formula and m.label and m.range[0] <= m.range[1] for m in MEASURE.values())


def test_an_estimate_keeps_only_a_finite_interval():
    assert Estimate.of({"kid": 2.0, "kid_ci": [1.0, 4.0]}, "kid") == Estimate(2.0, 1.0, 4.0)
    assert Estimate.of({"kid": 2.0, "kid_ci": [1.0, 4.0]}, "kid").half == 1.5
    assert Estimate.of({"kid": 2.0, "kid_ci": [math.nan, 4.0]}, "kid") == Estimate(2.0)
    assert Estimate.of({"kid": 2.0, "kid_ci": None}, "kid").half is None


def test_measures_print_a_value_its_interval_and_its_baseline_on_one_line():
    m = Measures(
        model="m",
        converged=0.5,
        frechet=3.25,
        frechet_ci=[2.0, 4.5],
        frechet_real=1.0,
        frechet_real_ci=[0.5, 1.5],
        saturated=0.25,
        saturated_identity=0.002,
        mixing_scan=[{"noise": "none", "eps": 0.0, "burn_in": 4, "mixing_class": 2.5, "mixing_nearest": None}],
    )
    assert m.lines() == [
        "model      m",
        "converged  0.5",
        "frechet    3.25  95 % [2, 4.5]  real 1 [0.5, 1.5]",
        "saturated  0.25  identity 0.002",
        "mixing (changes per 100 steps per chain, after burn-in):",
        "  noise         eps  burn-in    class  nearest",
        "  none            0        4      2.5        –",
    ]
    assert m.estimate("frechet") == Estimate(3.25, 2.0, 4.5) and m.baseline("converged") is None


def test_finite_is_a_real_finite_number_and_nothing_else():
    import numpy as np

    from kgn_gui.core.measure.registry import finite

    assert [finite(v) for v in (0, 2.5, np.float32(1.0), np.int64(3))] == [True] * 4
    assert [finite(v) for v in (None, True, "1.0", float("nan"), float("inf"), np.nan)] == [False] * 6
