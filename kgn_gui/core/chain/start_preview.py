"""The start states of a chain without torch, for the window's first frame (drawn before torch is imported).

``chain.start_states`` draws a ``uniform`` or ``normal`` start with a torch CPU generator seeded by
``seeds.start_seed(seed)``: torch's Mersenne Twister seeded with the seed's low 32 bits, each uniform float the
low 24 bits of one 32-bit output × 2⁻²⁴, and normals by Box–Muller on blocks of 16 uniforms (torch's
``normal_fill``). numpy's ``RandomState`` is the same Mersenne Twister, so:

* a ``uniform`` start here equals torch's bit for bit;
* a ``normal`` start equals it to float rounding (≤ 1e-6: the logarithm and cosine are numpy's, not torch's);
  the window replaces it with the chain's own start as soon as the model has loaded.

Other starts (painted, data, array) need the data or the drawing: None.
"""

from __future__ import annotations

import numpy as np

from .seeds import start_seed


def _uniform(rs: np.random.RandomState, n: int) -> np.ndarray:
    raw = np.frombuffer(rs.bytes(4 * n), dtype=np.uint32)
    return (raw & np.uint32((1 << 24) - 1)).astype(np.float32) * np.float32(2.0**-24)


def _box_muller_16(u: np.ndarray) -> np.ndarray:
    """torch's normal_fill_16 on blocks of 16 uniforms: the first 8 give the cosines, the last 8 the sines."""
    b = u.astype(np.float64).reshape(-1, 16)
    r = np.sqrt(-2.0 * np.log(1.0 - b[:, :8]))
    th = 2.0 * np.pi * b[:, 8:]
    return np.concatenate([r * np.cos(th), r * np.sin(th)], axis=1).astype(np.float32).ravel()


def preview_start(kind: str, n: int, D: int, value_range: tuple[float, float], seed: int) -> np.ndarray | None:
    """x_0 (n×D float32) of a ``uniform`` or ``normal`` start, as ``chain.start_states`` draws it; None for
    other kinds, or n·D under 16 (torch's normal draws those another way)."""
    lo, hi = float(value_range[0]), float(value_range[1])
    size = int(n) * int(D)
    rs = np.random.RandomState(start_seed(seed) & 0xFFFFFFFF)
    if kind == "uniform":
        x = _uniform(rs, size) * np.float32(hi - lo) + np.float32(lo)
    elif kind == "normal" and size >= 16:
        u = _uniform(rs, size)
        x = np.empty(size, np.float32)
        whole = size - size % 16
        x[:whole] = _box_muller_16(u[:whole])
        if size % 16:  # torch recomputes the last 16 from 16 new uniforms
            x[size - 16 :] = _box_muller_16(_uniform(rs, 16))
        mean, std = (lo + hi) / 2, (hi - lo) / 2
        x = np.clip(x * np.float32(std) + np.float32(mean), np.float32(lo), np.float32(hi))
    else:
        return None
    return x.reshape(int(n), int(D))
