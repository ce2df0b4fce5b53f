"""The projection view's map: a training set in two dimensions (PCA), and chains' paths over it (issue 20).

PCA of the M×D training set: the two directions of largest variance, from the D×D covariance's
eigenvectors (the same as the right singular vectors of the centred data, as numpy's SVD gives them; a
direction's sign is fixed so that its largest loading is positive, so the map does not flip between runs).
The training points' 2-D coordinates are computed once per data set and cached in memory and in the user's
cache folder (``$XDG_CACHE_HOME/kgn-gui/projection/``, keyed by a hash of the data): the second launch on
MNIST reads 60,000 × 2 numbers instead of recomputing. A damaged or foreign cache file is ignored and written
again. No Qt.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ProjectionError

CACHE_FORMAT = 1
MAX_POINTS = 1 << 22


@dataclass(frozen=True, eq=False)
class Projection:
    """mean (D), components (2×D, rows orthonormal), explained (the variance share of each direction),
    points (M×2: the training set projected), labels (M ints, or None), name (the data set's)."""

    mean: np.ndarray = field(repr=False)
    components: np.ndarray = field(repr=False)
    explained: tuple[float, float]
    points: np.ndarray = field(repr=False)
    labels: np.ndarray | None = field(repr=False, default=None)
    name: str = ""

    def project(self, x: np.ndarray) -> np.ndarray:
        """N×D states → N×2 coordinates (float32)."""
        x = np.asarray(x, np.float32).reshape(-1, self.mean.size)
        return ((x - self.mean) @ self.components.T).astype(np.float32)


def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean D, components k×D, explained variance ratio k) of the rows of x, in float64 arithmetic."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] < 2 or not 1 <= k <= x.shape[1]:
        raise ProjectionError(f"PCA needs at least two rows of at least {k} values, not {x.shape}")
    mean = x.mean(0, dtype=np.float64)
    cov = np.zeros((x.shape[1], x.shape[1]))
    for i in range(0, x.shape[0], 8192):  # in blocks: a float64 copy of all of MNIST would take 376 MB
        b = x[i : i + 8192].astype(np.float64) - mean
        cov += b.T @ b
    cov /= x.shape[0] - 1
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1][:k]
    comps = v[:, order].T
    flip = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
    comps *= flip[:, None]
    total = float(np.clip(w, 0, None).sum())
    ratio = np.clip(w[order], 0, None) / total if total > 0 else np.zeros(k)
    return mean, comps, ratio


def _key(x: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((x.shape, str(x.dtype), CACHE_FORMAT)).encode())
    h.update(np.ascontiguousarray(x).view(np.uint8).reshape(-1))
    return h.hexdigest()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kgn-gui" / "projection"


_MEMO: dict[str, Projection] = {}
_LOCK = threading.Lock()


def projection_for(ds, *, use_disk: bool = True) -> Projection:
    """The Projection of a core.data.Dataset (its x, labels and name), from the memory or disk cache when
    there is one for the same data."""
    x = np.asarray(ds.x)
    if x.ndim != 2 or not 2 <= x.shape[0] <= MAX_POINTS:
        raise ProjectionError(f"a projection needs 2 … {MAX_POINTS:,} samples, not {x.shape}")
    key = _key(x)
    with _LOCK:
        hit = _MEMO.get(key)
    if hit is not None:
        return hit
    labels = None if getattr(ds, "labels", None) is None else np.asarray(ds.labels)
    proj = _read_cache(key, x.shape, labels, getattr(ds, "name", "")) if use_disk else None
    if proj is None:
        mean, comps, ratio = pca(x)
        mean, comps = mean.astype(np.float32), comps.astype(np.float32)
        pts = ((x.astype(np.float32) - mean) @ comps.T).astype(np.float32)
        proj = Projection(mean, comps, (float(ratio[0]), float(ratio[1])), pts, labels, getattr(ds, "name", ""))
        if use_disk:
            _write_cache(key, proj)
    with _LOCK:
        _MEMO.clear()  # one data set at a time
        _MEMO[key] = proj
    return proj


def _read_cache(key: str, shape, labels, name: str) -> Projection | None:
    from ..safe_io import Refused, read_npy

    path = cache_dir() / f"{key}.npy"
    try:
        with open(path, "rb") as f:
            a = read_npy(f, path.name, max_bytes=16 * (shape[0] + 8) * max(shape[1], 2))
    except (OSError, Refused, ValueError):
        return None
    M, D = shape
    # rows: mean, component 1, component 2, explained (2 values), then the M points (2 values each)
    if a.dtype != np.float32 or a.shape != (3 * D + 2 + 2 * M,) or not np.isfinite(a).all():
        return None
    mean, comps = a[:D], a[D : 3 * D].reshape(2, D)
    explained, pts = a[3 * D : 3 * D + 2], a[3 * D + 2 :].reshape(M, 2)
    return Projection(mean.copy(), comps.copy(), (float(explained[0]), float(explained[1])), pts.copy(), labels, name)


def _write_cache(key: str, p: Projection) -> None:
    """Best effort: a folder that cannot be written only means the next launch computes it again."""
    from ..files import atomic_path

    a = np.concatenate([p.mean, p.components.reshape(-1), np.asarray(p.explained, np.float32), p.points.reshape(-1)])
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        with atomic_path(cache_dir() / f"{key}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, a.astype(np.float32), allow_pickle=False)
    except Exception:  # noqa: BLE001 — a cache is never a reason to fail
        pass
