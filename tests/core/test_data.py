import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from kgn_gui.core.data.arrays import load_array, load_idx, load_idx_folder, read_idx
from kgn_gui.core.data.dataset import Dataset
from kgn_gui.core.data.images import load_image_folder
from kgn_gui.core.data.mnist import load_mnist
from kgn_gui.core.data.sources import make_points, open_source, point_preset
from kgn_gui.core.errors import DataError
from tests.conftest import REPO

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_bundled_mnist_has_the_canonical_label_counts():
    tr, te = load_mnist("train"), load_mnist("test")
    assert (tr.M, te.M) == (60_000, 10_000)
    assert np.bincount(tr.labels, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(te.labels, minlength=10).tolist() == TEST_COUNTS
    assert tr.shape == (1, 28, 28) and tr.D == 784


@pytest.mark.parametrize("vr", [(-1.0, 1.0), (0.0, 1.0)])
def test_mnist_is_scaled_onto_the_value_range(vr):
    ds = load_mnist("test", vr)
    assert ds.x.dtype == np.float32
    assert ds.x.min() == vr[0] and ds.x.max() == vr[1]
    # Every pixel is lo + (hi − lo)·v/255 of the bundled bytes; 0 maps to lo and 255 to hi exactly.
    with np.load(REPO / "resources" / "mnist" / "mnist.npz", allow_pickle=False) as z:
        raw = z["x_test"].reshape(len(ds.x), -1)
    lo, hi = vr
    assert np.allclose(ds.x, lo + (hi - lo) * raw / 255.0, rtol=0, atol=1e-6)
    assert np.array_equal(ds.x == lo, raw == 0) and np.array_equal(ds.x == hi, raw == 255)


def _write_idx(path, arr: np.ndarray, code=0x08, compress=False):
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = head + arr.astype(">u1" if code == 0x08 else ">f4").tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_raw_and_gzip(tmp_path, compress):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 6, 7), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    suf = ".gz" if compress else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suf}", imgs, compress=compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suf}", labels, compress=compress)
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{suf}"), imgs)
    ds = load_idx(tmp_path / f"train-images-idx3-ubyte{suf}", tmp_path / f"train-labels-idx1-ubyte{suf}", (0.0, 1.0))
    assert ds.shape == (1, 6, 7) and ds.M == 5
    assert np.allclose(ds.images()[:, 0], imgs / 255.0)
    assert ds.labels.tolist() == [3, 1, 4, 1, 5]


def test_torchvision_style_raw_folder(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
    _write_idx(raw / "train-images-idx3-ubyte", imgs)
    _write_idx(raw / "train-labels-idx1-ubyte", np.array([7, 2], np.uint8))
    _write_idx(raw / "t10k-images-idx3-ubyte", imgs[:1])
    ds = load_idx_folder(tmp_path / "MNIST")
    assert ds.M == 2 and ds.labels.tolist() == [7, 2] and ds.value_range == (-1.0, 1.0)
    assert load_idx_folder(tmp_path / "MNIST", split="test").M == 1
    assert open_source(str(tmp_path / "MNIST")).M == 2


def test_idx_with_lying_header_or_bad_magic_is_refused(tmp_path):
    imgs = np.zeros((4, 5, 5), np.uint8)
    _write_idx(tmp_path / "a-idx3-ubyte", imgs)
    data = (tmp_path / "a-idx3-ubyte").read_bytes()
    (tmp_path / "trunc-idx3-ubyte").write_bytes(data[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "trunc-idx3-ubyte")
    (tmp_path / "magic-idx3-ubyte").write_bytes(b"\x01\x02" + data[2:])
    with pytest.raises(DataError, match="magic"):
        read_idx(tmp_path / "magic-idx3-ubyte")
    huge = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**31, 2**16, 2**16)
    (tmp_path / "huge-idx3-ubyte").write_bytes(huge)
    with pytest.raises(DataError, match="more than allowed"):
        read_idx(tmp_path / "huge-idx3-ubyte")


def test_npz_and_npy_arrays(tmp_path):
    imgs = np.random.default_rng(1).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=imgs, labels=np.arange(6))
    ds = load_array(tmp_path / "a.npz", (0.0, 1.0))
    assert ds.shape == (3, 8, 8) and ds.labels.tolist() == list(range(6))
    assert np.allclose(ds.images()[2].transpose(1, 2, 0), imgs[2] / 255.0)
    pts = np.array([[0.1, 0.9], [0.5, 0.5]], np.float32)
    np.save(tmp_path / "p.npy", pts)
    p = load_array(tmp_path / "p.npy", (0.0, 1.0))
    assert p.shape == (2,) and np.allclose(p.x, pts)


def test_object_arrays_are_never_unpickled(tmp_path):
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError):
        load_array(tmp_path / "evil.npy")


def test_image_folder_with_labels_resizes_and_reports_skipped(tmp_path):
    for cls, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40 + i, 30), colour).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not a png")
    ds, skipped = load_image_folder(tmp_path, size=(16, 16), value_range=(0.0, 1.0))
    assert ds.shape == (3, 16, 16) and ds.M == 6
    assert ds.class_names == ["cats", "dogs"] and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert np.allclose(ds.images()[0, 0], 1.0) and np.allclose(ds.images()[3, 2], 1.0)
    assert len(skipped) == 1 and "broken.png" in skipped[0]


def test_grey_image_folder_is_one_channel(tmp_path):
    for i in range(2):
        Image.new("L", (10, 10), 128).save(tmp_path / f"{i}.bmp")
    ds, _ = load_image_folder(tmp_path, size=(10, 10))
    assert ds.shape == (1, 10, 10) and ds.labels is None


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no PNG"):
        load_image_folder(tmp_path)


def test_points_and_presets():
    assert point_preset("1d-sigmoid").x.ravel().tolist() == pytest.approx([0.2, 0.8])
    assert point_preset("1d-tanh").value_range == (-1.0, 1.0)
    assert np.allclose(point_preset("2d-corners").x, [[0.2, 0.2], [0.2, 0.8], [0.8, 0.2], [0.8, 0.8]])
    p = make_points([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    assert p.shape == (2,) and p.M == 3
    assert np.allclose(open_source("points:0.2/0.3,0.7/0.9", (0.0, 1.0)).x, [[0.2, 0.3], [0.7, 0.9]])
    with pytest.raises(DataError):
        make_points([[1.5]])
    with pytest.raises(DataError):
        make_points([[0.1, 0.2, 0.3]])


def test_dataset_checks_and_range_mapping():
    with pytest.raises(DataError):
        Dataset(x=np.zeros((2, 3)), shape=(4,), value_range=(0, 1))
    with pytest.raises(DataError):
        Dataset(x=np.array([[np.nan]]), shape=(1,), value_range=(0, 1))
    ds = make_points([[0.0], [0.5], [1.0]])
    assert ds.to_range((-1.0, 1.0)).x.ravel().tolist() == pytest.approx([-1.0, 0.0, 1.0])
    sub = ds.subset(2, seed=0)
    assert sub.M == 2 and len(np.unique(sub.x)) == 2 and set(sub.x.ravel().tolist()) <= {0.0, 0.5, 1.0}


def test_unknown_source_is_a_clear_error():
    with pytest.raises(DataError, match="no such file"):
        open_source("/nonexistent/data")


def test_prefetched_mnist_is_the_same_data_and_taken_once():
    from kgn_gui.core.data import mnist

    mnist.prefetch_mnist("test", (0.0, 1.0))
    assert ("test", (0.0, 1.0)) in mnist._prefetched
    a = mnist.load_mnist("test", (0.0, 1.0))  # takes the prefetched result
    assert ("test", (0.0, 1.0)) not in mnist._prefetched
    b = mnist.load_mnist("test", (0.0, 1.0))  # loads afresh: its own arrays
    assert np.array_equal(a.x, b.x) and a.x is not b.x and list(a.labels) == list(b.labels)
    mnist.prefetch_mnist("test", (-1.0, 1.0))
    mnist.drop_prefetched()
    assert mnist._prefetched == {}
