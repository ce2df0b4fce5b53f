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


def test_measure_history_reads_the_ar1_time_of_states_along_the_first_principal_axis():
    from kgn_gui.core.measure.analysis import measure_history

    rng = np.random.default_rng(5)
    D, chains, T = 6, 200, 600
    train = rng.normal(size=(2000, D)) * np.array([5.0, 1, 1, 1, 1, 1])  # the first principal axis is e₀
    z = ar1(0.5, T + 1, chains, seed=6)  # τ = (1 + φ)/(1 − φ) = 3

    def state_at(s):
        x = np.zeros((chains, D), np.float32)
        x[:, 0] = z[s]
        return x

    read = []
    ess, rows = measure_history(lambda s: read.append(s) or state_at(s), T, 100, train, window=450, over_t=(7,))
    assert read[:-1] == list(range(150, T + 1))  # the last 450 steps in order, then the over-t step
    assert ess["ess_steps"] == 451 and ess["ess_chains"] == chains  # (the other coordinates do not move)
    assert ess["autocorrelation_time_median"] == pytest.approx(3.0, rel=0.12)
    assert ess["ess_median"] == pytest.approx(451 / 3.0, rel=0.12)
    assert [r["t"] for r in rows] == [7] and rows[0]["memorized_fraction"] >= 0 and "frechet" not in rows[0]
