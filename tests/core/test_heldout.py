"""Held-out pools wherever the data has a split: IDX t10k files, an npz's x_test, and for image arrays and
folders without one a seeded tenth set aside at import and never trained on. Class names where known."""

import gzip
import json
import struct

import numpy as np
import pytest

from kgn_gui.core.data.dataset import HELDOUT_MIN_M
from kgn_gui.core.data.sources import open_source
from kgn_gui.core.measure.features import real_pool


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def idx(path, arr):
    dims = arr.shape
    head = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    path.write_bytes(gzip.compress(head + arr.astype(np.uint8).tobytes()))


def shapes(n, seed):
    """Three kinds of 28×28 picture (a bar across, a bar down, a square) with noise; labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = np.zeros((n, 28, 28), np.uint8)
    x[y == 0, 12:16, :] = 255
    x[y == 1, :, 12:16] = 255
    x[y == 2, 6:22, 6:22] = 255
    return np.clip(x.astype(int) + rng.integers(0, 60, x.shape), 0, 255).astype(np.uint8), y


def idx_folder(root, n_train=300, n_test=120):
    root.mkdir(parents=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        x, y = shapes(n, seed)
        idx(root / f"{prefix}-images-idx3-ubyte.gz", x)
        idx(root / f"{prefix}-labels-idx1-ubyte.gz", y)
    return root


def test_an_idx_folder_is_measured_against_its_t10k_split_with_named_classes(tmp_path):
    ds = open_source(str(idx_folder(tmp_path / "fashion-tiny")))
    assert ds.M == 300 and ds.heldout.M == 120 and ds.heldout.labels.tolist()[:3] == [0, 1, 2]
    assert ds.class_names[:3] == ["T-shirt/top", "Trouser", "Pullover"]  # Fashion-MNIST's, by the name
    pool = real_pool(ds)
    assert pool.held_out and pool.what == "the 120 held-out samples of fashion-tiny-train" and len(pool.x) == 120
    part = ds.subset(100, seed=0)
    assert part.M == 100 and part.heldout is ds.heldout  # a training subset keeps the split
    digits = open_source(str(idx_folder(tmp_path / "plain")))
    assert digits.class_names == [str(k) for k in range(10)]  # an MNIST-like set: the digits


def test_classes_txt_names_an_idx_folder(tmp_path):
    root = idx_folder(tmp_path / "named")
    (root / "classes.txt").write_text("across\ndown\nsquare\n")
    assert open_source(str(root)).class_names == ["across", "down", "square"]
    other = idx_folder(tmp_path / "named2")
    (other / "classes.txt").write_text("only one\n")  # not one name a class: not used
    assert open_source(str(other)).class_names[:3] == ["0", "1", "2"]


def test_an_npz_with_x_test_and_one_without(tmp_path):
    x, y = shapes(400, 0)
    xt, yt = shapes(150, 1)
    with_test = tmp_path / "split.npz"
    np.savez(with_test, x_train=x, y_train=y, x_test=xt, y_test=yt, class_names=np.array(["a", "d", "s"]))
    ds = open_source(str(with_test))
    assert ds.M == 400 and ds.heldout.M == 150 and ds.class_names == ["a", "d", "s"]
    big, yb = shapes(HELDOUT_MIN_M + 200, 2)
    alone = tmp_path / "alone.npz"
    np.savez(alone, x=big, y=yb)
    ds = open_source(str(alone))
    assert (ds.M, ds.heldout.M) == (1080, 120)  # a seeded tenth set aside
    rows = {r.tobytes() for r in ds.x}
    assert not any(r.tobytes() in rows for r in ds.heldout.x)  # disjoint (the pictures are all distinct)
    again = open_source(str(alone))
    assert np.array_equal(again.heldout.x, ds.heldout.x)  # the same tenth every time
    small = tmp_path / "small.npz"
    np.savez(small, x=x, y=y)
    assert open_source(str(small)).heldout is None  # under 1,000 samples: all of them train


def test_analyze_says_the_real_data_is_held_out_and_the_classifier_s_accuracy_on_it(tmp_path):
    from kgn_gui.cli import main

    data = idx_folder(tmp_path / "shapes")
    model = tmp_path / "m.safetensors"
    train = ["train", "--data", str(data), "--L", "2", "--H", "16", "--steps", "5", "--batch", "32"]
    assert main([*train, "--eval-size", "32", "-o", str(model)]) == 0
    out = tmp_path / "a.json"
    analyze = ["analyze", str(model), "--data", str(data), "-n", "16", "--steps", "5", "--audit", "0"]
    assert main([*analyze, "--sigmas", "0", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["real_heldout"] is True and got["real"] == "16 of the 120 held-out samples of shapes-train"
    assert got["classifier"]["heldout_accuracy"] >= 0.9
