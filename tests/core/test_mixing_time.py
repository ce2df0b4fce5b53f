"""core.measure.mixing: the integrated autocorrelation time of an AR(1) series is (1 + φ)/(1 − φ), its ESS
n/τ; a summary that does not move has none; analyze reports both after the settling step."""

import numpy as np
import pytest

from kgn_gui.core.measure.mixing import autocorrelation, chain_times, integrated_time, mixing_summary


def ar1(phi: float, n: int, chains: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n, chains))
    x = np.zeros((n, chains))
    x[0] = e[0] / np.sqrt(1 - phi * phi)  # stationary from the start
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_the_ar1_time_matches_its_formula(phi):
    tau = integrated_time(ar1(phi, 200_000)[:, 0])
    assert tau == pytest.approx((1 + phi) / (1 - phi), rel=0.06)


def test_the_autocorrelation_of_ar1_is_phi_to_the_lag():
    rho = autocorrelation(ar1(0.7, 200_000)[:, 0])
    assert rho[0] == 1.0
    np.testing.assert_allclose(rho[1:4], [0.7, 0.49, 0.343], atol=0.01)


def test_chains_take_their_slowest_summary_and_still_ones_are_left_out():
    fast, slow = ar1(0.0, 20_000, seed=1), ar1(0.8, 20_000, seed=2)
    still = np.zeros((20_000, 1))
    s = np.stack([np.concatenate([fast, still], 1), np.concatenate([slow, still], 1)], axis=2)  # T × 2 chains × 2
    taus = chain_times(s)
    assert taus[0] == pytest.approx(9.0, rel=0.15) and np.isnan(taus[1])
    got = mixing_summary(s)
    assert got["ess_chains"] == 1 and got["ess_steps"] == 20_000
    assert got["ess_median"] == pytest.approx(20_000 / 9.0, rel=0.15)
    assert np.isnan(integrated_time(np.ones(100))) and np.isnan(integrated_time(np.arange(5.0)))


def test_analyze_reports_the_time_and_the_measures_over_t():
    import kgn_gui as kgn

    m = kgn.analyze("models/mnist.safetensors", n=16, steps=60, over_t=(10, 30))
    assert m["ess_steps"] == 60 - m["burn_in"] + 1 and m["ess_chains"] <= 16
    assert m["autocorrelation_time_median"] >= 1 and m["ess_median"] <= m["ess_steps"]
    assert [r["t"] for r in m["over_t"]] == [10, 30]
    assert all({"frechet", "recall", "class_entropy", "memorized_fraction"} <= set(r) for r in m["over_t"])
