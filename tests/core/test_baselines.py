"""core.measure.baselines on data whose answer is known: retrieval returns training rows (memorized), a
PCA-Gaussian of Gaussian data has its mean and covariance, a GMM of two far clusters finds them."""

import numpy as np
import pytest

from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.measure.baselines import draw, fit_gmm, measure_baselines, pca


def test_retrieval_without_noise_is_training_rows_and_with_noise_is_near_them():
    train = np.random.default_rng(0).uniform(-1, 1, (50, 6)).astype(np.float32)
    x = draw("retrieval", train, 20, (-1, 1), sampler=Sampler("none", 0.0), seed=3)
    assert all((train == row).all(1).any() for row in x)
    y = draw("retrieval", train, 20, (-1, 1), sampler=Sampler("normal", 0.01), seed=3)
    d = np.abs(y - x)
    assert 0 < d.max() < 0.06 and np.abs(y).max() <= 1  # ε·N(0, 1), clamped


def test_pca_gaussian_of_gaussian_data_has_its_mean_and_covariance():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4)) * 0.1
    data = rng.normal(size=(20000, 4)) @ A + np.array([0.1, -0.2, 0.3, 0.0])
    mu, comps, var = pca(data, 4)
    np.testing.assert_allclose(comps @ comps.T, np.eye(4), atol=1e-10)
    x = draw("pca_gaussian", data, 20000, (-10, 10), seed=2)
    np.testing.assert_allclose(x.mean(0), data.mean(0), atol=3e-3)
    np.testing.assert_allclose(np.cov(x, rowvar=False), np.cov(data, rowvar=False), atol=3e-3)


def test_a_gmm_finds_two_far_clusters_and_their_weights():
    rng = np.random.default_rng(4)
    z = np.concatenate([rng.normal(-5, 0.5, (3000, 2)), rng.normal(5, 1.0, (1000, 2))])
    g = fit_gmm(z, 2, seed=0)
    order = np.argsort(g["means"][:, 0])
    np.testing.assert_allclose(g["weights"][order], [0.75, 0.25], atol=0.01)
    np.testing.assert_allclose(g["means"][order], [[-5, -5], [5, 5]], atol=0.06)
    np.testing.assert_allclose(np.sqrt(g["vars"][order]), [[0.5, 0.5], [1.0, 1.0]], rtol=0.05)


def test_measured_without_a_reference_they_still_say_what_they_memorize():
    train = np.random.default_rng(0).uniform(-1, 1, (200, 6)).astype(np.float32)
    got = measure_baselines(None, train, 32, (-1, 1), sampler=Sampler("none", 0.0))
    assert set(got) == {"retrieval", "pca_gaussian", "gmm"}
    assert got["retrieval"]["memorized_fraction"] == 1.0
    assert got["pca_gaussian"]["memorized_fraction"] < 0.5
    with pytest.raises(ValueError, match="unknown baseline"):
        draw("vae", train, 4, (-1, 1))


def test_kgn_analyze_baselines_on_the_bundled_model(tmp_path):
    """Same n and feature space as the chains: the baselines come with intervals, and retrieval (training
    digits plus one step of ε = 0.01 noise) is memorized and scores like real digits on recall."""
    import json

    from kgn_gui.cli import main

    out = tmp_path / "m.json"
    args = ["analyze", "models/mnist.safetensors", "-n", "32", "--steps", "20", "--audit", "0", "--sigmas", "0"]
    assert main([*args, "--baselines", "--json", str(out)]) == 0
    got = json.loads(out.read_text())["baselines"]
    for kind in ("retrieval", "pca_gaussian", "gmm"):
        row = got[kind]
        assert {"frechet", "kid", "precision", "recall", "class_entropy", "memorized_fraction"} <= set(row)
        assert row["frechet_ci"][0] <= row["frechet"] <= row["frechet_ci"][1]
    assert got["retrieval"]["memorized_fraction"] == 1.0 and got["gmm"]["memorized_fraction"] == 0.0
    assert got["retrieval"]["recall"] > got["pca_gaussian"]["recall"]
