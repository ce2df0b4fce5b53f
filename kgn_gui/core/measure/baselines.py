"""Generative baselines, measured as the chains are: same n, same feature space, same reference.

A Fréchet distance of 570 against 16 for real digits says only "far from real"; a reviewer asks how a
simple generator scores on the same measures. Each baseline draws n samples in the model's value range
from the training data (clamped to the range):

* ``retrieval``: n random training examples plus one step of the sampler's noise, ε·n (what a chain that
  only memorized would show; with ε = 0 the examples themselves);
* ``pca_gaussian``: a Gaussian in the span of the top ``k`` principal components of the training data
  (its mean, the components' variances), sampled and mapped back;
* ``gmm``: a mixture of ``components`` diagonal Gaussians fitted by EM in the same PCA space, sampled and
  mapped back.

Each is measured by the Reference (Fréchet, KID, precision, recall, class entropy, with their intervals)
and by the memorization census, and is seeded by ``seed``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..chain.chain import step_noise
from .distribution import memorization_census, memorization_ratio, two_nearest

KINDS = ("retrieval", "pca_gaussian", "gmm")
PCA_K = 50  # principal components of the PCA baselines
GMM_COMPONENTS = 10
FIT_MAX = 10_000  # training examples the PCA and the GMM are fitted on (seeded)


def pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, the top k components as rows (k×D, orthonormal), their variances) of the rows of x."""
    x = np.asarray(x, np.float64)
    mu = x.mean(0)
    # one sample has no spread (and np.cov warns of it): zero variances
    cov = np.atleast_2d(np.cov(x - mu, rowvar=False)) if len(x) > 1 else np.zeros((x.shape[1], x.shape[1]))
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1][: min(k, len(w))]
    return mu, v[:, order].T, np.clip(w[order], 0, None)


def fit_gmm(z: np.ndarray, components: int, seed: int = 0, iters: int = 100, floor: float = 1e-6) -> dict:
    """A diagonal-covariance Gaussian mixture fitted to the rows of z by EM (k-means++-style starts from
    ``seed``): {"weights": (C,), "means": (C×F), "vars": (C×F)}. Variances are floored at ``floor`` × the
    data's per-feature variance."""
    z = np.asarray(z, np.float64)
    n, F = z.shape
    C = max(1, min(components, n))
    rng = np.random.default_rng(seed)
    means = [z[rng.integers(n)]]
    for _ in range(1, C):  # k-means++ seeding: far points more likely
        d2 = np.min(((z[:, None, :] - np.asarray(means)[None]) ** 2).sum(-1), axis=1)
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1 / n)
        means.append(z[rng.choice(n, p=p)])
    means = np.asarray(means)
    base = z.var(0) + 1e-12
    var = np.tile(base, (C, 1))
    weights = np.full(C, 1 / C)
    prev = -np.inf
    for _ in range(iters):
        # E: log N(z | m, diag v) + log w
        logp = -0.5 * (((z[:, None, :] - means[None]) ** 2 / var[None]).sum(-1) + np.log(2 * np.pi * var).sum(-1)[None])
        logp += np.log(weights)[None]
        top = logp.max(1, keepdims=True)
        ll = float((top[:, 0] + np.log(np.exp(logp - top).sum(1))).mean())
        resp = np.exp(logp - top)
        resp /= resp.sum(1, keepdims=True)
        # M
        nk = resp.sum(0) + 1e-12
        weights = nk / n
        means = (resp.T @ z) / nk[:, None]
        var = np.maximum((resp.T @ (z * z)) / nk[:, None] - means**2, floor * base)
        if ll - prev < 1e-6 * abs(ll):
            break
        prev = ll
    return {"weights": weights, "means": means, "vars": var}


def sample_gmm(g: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    comp = rng.choice(len(g["weights"]), size=n, p=g["weights"] / g["weights"].sum())
    return g["means"][comp] + rng.standard_normal((n, g["means"].shape[1])) * np.sqrt(g["vars"][comp])


def draw(kind: str, train_x: np.ndarray, n: int, value_range, *, sampler=None, seed: int = 0) -> np.ndarray:
    """n samples (float32, N×D, clamped to ``value_range``) of the baseline ``kind``."""
    lo, hi = value_range
    rng = np.random.default_rng(seed)
    train_x = np.asarray(train_x)
    if kind == "retrieval":
        x = np.asarray(train_x[rng.integers(0, len(train_x), n)], np.float32).copy()
        if sampler is not None and sampler.noise != "none" and sampler.eps > 0:
            noise = step_noise(sampler.noise, x.shape, (lo, hi), seed, 0, torch.device("cpu"))
            x += float(sampler.eps) * noise.numpy()
        return np.clip(x, lo, hi).astype(np.float32)
    fit = train_x if len(train_x) <= FIT_MAX else train_x[np.sort(rng.choice(len(train_x), FIT_MAX, replace=False))]
    mu, comps, var = pca(fit, PCA_K)
    if kind == "pca_gaussian":
        z = rng.standard_normal((n, len(var))) * np.sqrt(var)
    elif kind == "gmm":
        z = sample_gmm(fit_gmm((np.asarray(fit, np.float64) - mu) @ comps.T, GMM_COMPONENTS, seed=seed), n, rng)
    else:
        raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(KINDS)}")
    return np.clip(mu + z @ comps, lo, hi).astype(np.float32)


def measure_baselines(reference, train_x: np.ndarray, n: int, value_range, *, sampler=None, seed: int = 0,
                      kinds=KINDS) -> dict:  # fmt: skip
    """{kind: {frechet, kid, precision, recall, class_entropy (with a classifier), their ``_ci``,
    memorized_fraction}} for each baseline, measured by ``reference`` as the chains are."""
    out = {}
    within = reference.baseline.get("novel_within") if reference is not None else None
    for kind in kinds:
        x = draw(kind, train_x, n, value_range, sampler=sampler, seed=seed)
        row = {}
        if reference is not None:
            row, _ = reference.measure(x, seed=seed)
        d1, d2 = two_nearest(x, train_x)
        census = memorization_census(memorization_ratio(d1, d2), d1, within)
        row["memorized_fraction"] = census["memorized_fraction"]
        out[kind] = row
    return out
