"""The projection view's PCA (issue 20): it matches numpy's SVD on a toy set, is cached on disk per data set,
and a damaged cache is recomputed, never trusted."""

import numpy as np
import pytest

from kgn_gui.core.picture import projection as P


class DS:
    def __init__(self, x, labels=None, name="toy"):
        self.x, self.labels, self.name = x, labels, name


def _toy(seed=0):
    rng = np.random.default_rng(seed)
    # 500 points in 6-D with variances 9, 4, 1, … along random orthogonal axes
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    z = rng.normal(size=(500, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    return (z @ q.T + 1.5).astype(np.float32)


def test_pca_matches_numpys_svd_on_a_toy_set():
    x = _toy()
    mean, comps, ratio = P.pca(x)
    xc = x.astype(np.float64) - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    for k in range(2):
        assert abs(abs(comps[k] @ vt[k]) - 1) < 1e-9  # the same direction, up to its sign
        assert comps[k][np.abs(comps[k]).argmax()] > 0  # the sign is fixed
    assert np.allclose(ratio, (s**2 / (s**2).sum())[:2], atol=1e-9)
    assert np.allclose(comps @ comps.T, np.eye(2), atol=1e-9)


def test_projection_is_cached_on_disk_and_a_damaged_cache_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    x = _toy(1)
    labels = np.arange(500) % 10
    p = P.projection_for(DS(x, labels))
    files = list((tmp_path / "kgn-gui" / "projection").glob("*.npy"))
    assert len(files) == 1
    want = (x - x.mean(0)) @ p.components.T
    assert np.allclose(p.points, want, atol=1e-4) and np.allclose(p.project(x), want, atol=1e-4)
    P._MEMO.clear()
    q = P.projection_for(DS(x, labels))  # from the disk
    assert np.array_equal(q.points, p.points) and np.array_equal(q.labels, labels)
    files[0].write_bytes(b"\x93NUMPY garbage")
    P._MEMO.clear()
    r = P.projection_for(DS(x, labels))
    assert np.allclose(r.points, p.points, atol=1e-5)
    np.save(files[0], np.full(3 * 6 + 2 + 1000, np.nan, np.float32))  # the right size, not numbers
    P._MEMO.clear()
    assert np.isfinite(P.projection_for(DS(x, labels)).points).all()


def test_too_few_samples_is_a_one_line_error():
    with pytest.raises(P.ProjectionError, match="at least two"):
        P.pca(np.zeros((1, 4)))
