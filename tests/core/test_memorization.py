"""The memorization census on data whose answer is known: d₁/d₂ < 1/3 is memorized; not memorized and
farther than real unseen data is spurious; the rest novel. Wilson intervals."""

import numpy as np
import pytest
import torch

from kgn_gui.core.measure.distribution import (
    memorization,
    memorization_census,
    memorization_ratio,
    two_nearest,
    wilson_interval,
)

TRAIN = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
SAMPLES = np.array([[0, 0], [0.1, 0], [0.5, 0], [0.5, 0.5], [3, 3]], np.float32)


def test_two_nearest_distances_and_the_ratio_are_exact():
    d1, d2 = two_nearest(SAMPLES, TRAIN)
    r2 = np.sqrt(2)
    np.testing.assert_allclose(d1, [0, 0.1 / r2, 0.5 / r2, 0.5, 2.0], atol=1e-7)
    np.testing.assert_allclose(d2, [1 / r2, 0.9 / r2, 0.5 / r2, 0.5, np.sqrt(13) / r2], atol=1e-7)
    np.testing.assert_allclose(memorization_ratio(d1, d2), [0, 1 / 9, 1, 1, 2 / np.sqrt(6.5)], atol=1e-7)
    # leave-one-out: a training example's distances to the *other* examples
    e1, e2 = two_nearest(TRAIN, TRAIN, exclude=np.arange(4))
    np.testing.assert_allclose(e1, 1 / r2, atol=1e-7)
    np.testing.assert_allclose(e2, 1 / r2, atol=1e-7)


def test_the_census_counts_memorized_spurious_and_novel():
    d1, d2 = two_nearest(SAMPLES, TRAIN)
    c = memorization_census(memorization_ratio(d1, d2), d1, novel_within=0.4)
    assert (c["memorized"], c["spurious"], c["novel"]) == (2, 2, 1)  # (0.5, 0) is as near as real data lie
    assert c["memorized_fraction"] == pytest.approx(0.4)
    c = memorization_census(memorization_ratio(d1, d2), d1, novel_within=None)
    assert c["memorized"] == 2 and c["spurious"] is None and c["novel"] is None
    m = memorization(SAMPLES, torch.from_numpy(TRAIN), copy_tol=0.05)
    assert (m["ratio"] < 1 / 3).sum() == 2 and m["copy_fraction"] == pytest.approx(0.2)


def test_wilson_interval_is_honest_at_zero_and_symmetric_at_half():
    lo, hi = wilson_interval(0, 256)
    assert lo == 0 and hi == pytest.approx(1.959964**2 / (256 + 1.959964**2))
    lo, hi = wilson_interval(128, 256)
    assert lo == pytest.approx(1 - hi) and 0.43 < lo < 0.44
    assert wilson_interval(0, 0) is None


def test_analyze_reports_the_census_with_its_real_baseline():
    import kgn_gui as kgn

    m = kgn.analyze("models/2d-corners.safetensors", n=64, steps=50)
    # the chains that end at one of the four corners are copies, and memorized; nothing else is
    k = m["memorized"]
    assert k == round(m["copy_fraction"] * 64) and k >= 60 and m["memorized_fraction"] == k / 64
    assert m["memorized_fraction_ci"] == pytest.approx(wilson_interval(k, 64))
    assert m["spurious"] is None and "memorized_fraction_real" not in m  # 4 points: no real pool to judge by
