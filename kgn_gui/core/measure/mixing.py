"""Stationarity and mixing of chains: the integrated autocorrelation time and the effective sample size.

The "burn-in" of the analysis is a settling time — the first step after which the median noise-free
residual stays below tol — not evidence that the chain's distribution has stopped changing. Here each chain
is followed through scalar summaries of its state: its coordinates on the top ``PROJECTIONS`` principal
components of the training data, recorded at every step. For each chain and summary, over the steps after
the settling time:

    τ = 1 + 2 Σ_{k=1}^{W} ρ(k)        (ρ: the normalized autocorrelation at lag k, by FFT)

with Sokal's automatic window, the least W ≥ C·τ(W) (C = 5). A chain's τ is the largest over its summaries
(the slowest direction), and its effective sample size is ESS = n / τ for n kept steps. An AR(1) series
x_t = φ x_{t−1} + e_t has τ = (1 + φ)/(1 − φ) exactly: the known answer the tests check. A summary that does
not move (a noise-free chain at a fixed point) has no τ: NaN, and is left out.
"""

from __future__ import annotations

import numpy as np

PROJECTIONS = 3  # principal components each chain is followed through
WINDOW_C = 5.0  # Sokal's window constant
MIN_STEPS = 20  # fewer kept steps than this: no τ


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """The normalized autocorrelation ρ(k), k = 0 … n−1, of a 1-D series (by FFT, zero-padded); NaN for a
    series that does not vary."""
    x = np.asarray(x, np.float64)
    n = len(x)
    x = x - x.mean()
    var = float(x @ x)
    if n < 2 or var <= 1e-300 * n:
        return np.full(n, np.nan)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(x, size)
    acf = np.fft.irfft(f * np.conj(f), size)[:n]
    return acf / acf[0]


def integrated_time(x: np.ndarray, c: float = WINDOW_C) -> float:
    """τ of a 1-D series with Sokal's automatic window (NaN when it does not vary or is too short)."""
    rho = autocorrelation(x)
    if len(rho) < MIN_STEPS or not np.isfinite(rho[0]):
        return float("nan")
    taus = 2.0 * np.cumsum(rho) - 1.0  # τ(W) = 1 + 2 Σ_{k=1}^{W} ρ(k), for W = 0, 1, …
    ok = np.arange(len(taus)) >= c * taus
    w = int(np.argmax(ok)) if ok.any() else len(taus) - 1
    return float(max(taus[w], 1e-12))


def chain_times(series: np.ndarray) -> np.ndarray:
    """τ per chain of a T×N×P array of summaries (P per chain): the largest over a chain's moving summaries
    (NaN when none moves)."""
    s = np.asarray(series, np.float64)
    if s.ndim == 2:
        s = s[..., None]
    T, N, P = s.shape
    out = np.full(N, np.nan)
    for i in range(N):
        taus = [integrated_time(s[:, i, p]) for p in range(P)]
        taus = [t for t in taus if np.isfinite(t)]
        if taus:
            out[i] = max(taus)
    return out


def mixing_summary(series: np.ndarray, start: int = 0) -> dict:
    """``autocorrelation_time_median`` (steps) and ``ess_median`` over chains of the summaries from step
    ``start`` on, with ``ess_steps`` (how many steps they are over) and ``ess_chains`` (chains with a τ)."""
    s = np.asarray(series)[start:]
    n = len(s)
    taus = chain_times(s) if n >= MIN_STEPS else np.full(s.shape[1] if s.ndim > 1 else 0, np.nan)
    ok = np.isfinite(taus)
    return {
        "autocorrelation_time_median": float(np.median(taus[ok])) if ok.any() else float("nan"),
        "ess_median": float(np.median(n / taus[ok])) if ok.any() else float("nan"),
        "ess_steps": int(n),
        "ess_chains": int(ok.sum()),
    }
