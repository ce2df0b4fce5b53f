"""The feature space of each data set (core.features): its own classifier for labelled data, never the MNIST
one for another data set; a PCA for unlabelled data; the bundled classifier for the MNIST sets; the cache
folder (reused, damaged files retrained and replaced, an unwritable folder survived); the real-data pool."""

import json
import threading

import numpy as np
import pytest

from kgn_gui.core.data.dataset import Dataset
from kgn_gui.core.errors import CheckpointError
from kgn_gui.core.measure import classifier as clf_mod
from kgn_gui.core.measure import features as F

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def patterns(n=600, shape=(1, 28, 28), vr=(-1.0, 1.0), name="stripes", seed=0) -> Dataset:
    """Three classes of simple shapes (a horizontal bar, a vertical bar, a diagonal), each shifted by up to
    3 pixels, on faint noise: any working classifier separates them."""
    rng = np.random.default_rng(seed)
    c, h, w = shape
    y = np.arange(n) % 3
    imgs = rng.uniform(0, 0.2, size=(n, c, h, w)).astype(np.float32)
    for i in range(n):
        o = int(rng.integers(-3, 4))
        if y[i] == 0:
            imgs[i, :, h // 2 + o - 1 : h // 2 + o + 2, :] = 1.0
        elif y[i] == 1:
            imgs[i, :, :, w // 2 + o - 1 : w // 2 + o + 2] = 1.0
        else:
            r = np.arange(h)
            imgs[i, :, r, np.clip(r + o, 0, w - 1)] = 1.0
    lo, hi = vr
    return Dataset(imgs.reshape(n, -1) * (hi - lo) + lo, shape, vr, name=name, labels=y * 2 + 5)


@pytest.fixture(autouse=True)
def _fresh_memory():
    F.clear_memory_cache()
    yield
    F.clear_memory_cache()


@pytest.fixture(scope="module")
def stripes_space(tmp_path_factory):
    """The 28×28 stripes set and its classifier (trained once for the module: the conv net takes ~5 s)."""
    ds = patterns()
    folder = tmp_path_factory.mktemp("features")
    return ds, F.feature_space_for(ds, cache_dir=folder), folder


def accuracy(space, ds) -> float:
    probs, _ = space.predict(ds.x, ds.value_range)
    return float((np.asarray(space.labels)[probs.argmax(1)] == ds.labels).mean())


def test_a_labelled_28x28_set_that_is_not_mnist_gets_its_own_classifier_never_the_mnist_one(stripes_space):
    ds, space, _ = stripes_space
    assert space.kind == "classifier" and space.source == "trained"
    assert space.classes == 3 and space.labels == (5, 7, 9)
    assert space.meta["arch"] == "conv" and space.meta["dataset"] == "stripes" and space.meta["held_out"] >= 3
    assert space.accuracy >= 0.95
    assert space.name == f"classifier trained on stripes ({space.accuracy * 100:.1f} % held-out accuracy)"
    assert space.info() == {"dataset": "stripes", "test_accuracy": space.accuracy, "source": "trained"}
    bundled = clf_mod.bundled_classifier()
    assert space._clf is not bundled and space.classes != 10
    probs, feats = space.predict(patterns(n=90, seed=1).x, (-1.0, 1.0))
    assert probs.shape == (90, 3) and feats.shape == (90, 128) and feats.dtype == np.float32
    assert accuracy(space, patterns(n=300, seed=2)) >= 0.95  # new samples of the same shapes


def test_the_same_data_set_or_the_same_data_give_the_same_space_object_and_threads_share_one(stripes_space):
    ds, _, folder = stripes_space
    first = F.feature_space_for(ds, cache_dir=folder)
    assert F.feature_space_for(ds, cache_dir=folder) is first
    assert F.feature_space_for(patterns(), cache_dir=folder) is first  # another object, the same data
    F.clear_memory_cache()
    small = patterns(shape=(1, 8, 8), name="small")
    got = []
    threads = [threading.Thread(target=lambda: got.append(F.feature_space_for(small, cache_dir=folder))) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2 and got[0] is got[1] and got[0].kind == "classifier"


def test_a_labelled_set_of_another_shape_gets_the_mlp(tmp_path):
    ds = patterns(shape=(3, 12, 12), vr=(0.0, 1.0), name="rgb")
    space = F.feature_space_for(ds, cache_dir=tmp_path)
    assert space.kind == "classifier" and space.meta["arch"] == "mlp" and space.meta["D"] == 432
    assert space.classes == 3 and space.accuracy >= 0.95
    assert space.meta["shape"] == [3, 12, 12] and space.meta["data_hash"] == F.data_hash(ds)
    probs, feats = space.predict(ds.x[:7])
    assert probs.shape == (7, 3) and feats.shape == (7, 128)


def test_unlabelled_or_one_class_data_get_a_pca_of_themselves_without_class_measures(tmp_path):
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, size=(500, 1)).astype(np.float32)
    u = np.zeros((1, 40), np.float32)
    u[0, :4] = 0.5  # unit length
    x = t * u + 0.01 * rng.standard_normal((500, 40)).astype(np.float32)
    ds = Dataset(x, (40,), (-1.0, 1.0), name="line")
    space = F.feature_space_for(ds, cache_dir=tmp_path)
    assert space.kind == "pca" and space.classes == 0 and space.accuracy is None and space.info() is None
    assert space.name == "PCA-32 of line (no labels)" and space.dim == 32
    probs, feats = space.predict(x)
    assert probs is None and feats.shape == (500, 32) and feats.dtype == np.float32
    # The first component is the line: its projection is t up to a sign and the mean.
    assert abs(np.corrcoef(feats[:, 0], t[:, 0])[0, 1]) > 0.999
    # Samples in another value range are mapped onto the data set's range first.
    _, same = space.predict((x + 1) / 2, (0.0, 1.0))
    np.testing.assert_allclose(same, feats, atol=1e-5)
    assert list(tmp_path.iterdir()) == []  # nothing cached: a PCA is quick
    one = Dataset(x[:150, :3], (3,), (-1.0, 1.0), name="one", labels=np.zeros(150, np.int64))
    assert F.feature_space_for(one).name == "PCA-3 of one (no labels)"


def test_fewer_than_100_samples_get_no_feature_space_and_no_pool():
    ds = patterns(n=99)
    assert F.feature_space_for(ds) is None and F.real_pool(ds) is None


def test_a_second_process_loads_the_cached_classifier_with_the_same_features(tmp_path):
    ds = patterns(shape=(1, 10, 10), name="tens")
    first = F.feature_space_for(ds, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    assert first.source == "trained" and path.suffix == ".safetensors"
    F.clear_memory_cache()  # as a new process would start
    assert F.feature_space_for(ds, cache_dir=tmp_path, train=False).source == "cache"
    F.clear_memory_cache()
    again = F.feature_space_for(ds, cache_dir=tmp_path)
    assert again is not first and again.source == "cache" and again.accuracy == first.accuracy
    assert again.info() == {"dataset": "tens", "test_accuracy": first.accuracy, "source": "cache"}
    np.testing.assert_array_equal(again.predict(ds.x)[1], first.predict(ds.x)[1])
    F.clear_memory_cache()
    assert F.feature_space_for(ds, cache_dir=tmp_path / "empty", train=False) is None  # not cached, not trained


def _damage_truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_names(path):
    import torch
    from safetensors.torch import save

    meta = clf_mod.load_classifier(path).meta
    tensors = {"other.weight": torch.zeros(3, 3)}
    path.write_bytes(save(tensors, metadata={"kgn": json.dumps(meta)}))


def _damage_other_data(path):
    meta = dict(clf_mod.load_classifier(path).meta, data_hash="0" * 64)
    clf_mod.save_classifier(path, clf_mod.load_classifier(path).model, meta)


def _damage_garbage(path):
    path.write_bytes(b"\xff" * 8 + b"not a safetensors file")


@pytest.mark.parametrize("damage", [_damage_truncated, _damage_names, _damage_other_data, _damage_garbage])
def test_a_damaged_or_foreign_cache_file_is_retrained_and_replaced(tmp_path, damage):
    ds = patterns(shape=(1, 10, 10), name="tens")
    F.feature_space_for(ds, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    damage(path)
    F.clear_memory_cache()
    said = []
    space = F.feature_space_for(ds, cache_dir=tmp_path, log=said.append)
    assert space.source == "trained" and space.accuracy >= 0.95
    assert any("ignoring the cached feature network" in s for s in said)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # replaced whole, no stray temporary file
    clf = clf_mod.load_classifier(path)
    assert clf.meta["data_hash"] == F.data_hash(ds)
    F.clear_memory_cache()
    assert F.feature_space_for(ds, cache_dir=tmp_path).source == "cache"


def test_an_unusable_cache_folder_still_gives_a_space_kept_in_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    said = []
    ds = patterns(shape=(1, 10, 10), name="tens")
    space = F.feature_space_for(ds, cache_dir=blocker / "features", log=said.append)
    assert space.kind == "classifier" and space.source == "trained"
    assert any("not cached" in s for s in said)
    assert F.feature_space_for(ds, cache_dir=blocker / "features") is space


def test_training_reports_progress_and_stops_when_cancelled_caching_nothing(tmp_path):
    from kgn_gui.core.errors import Cancelled

    ds = patterns(shape=(1, 10, 10), name="tens")
    calls = []
    with pytest.raises(Cancelled):
        F.feature_space_for(ds, cache_dir=tmp_path, progress=lambda d, n: calls.append((d, n)), cancelled=lambda: True)
    assert calls == [] or calls[-1][0] <= 1
    assert list(tmp_path.iterdir()) == []
    F.feature_space_for(ds, cache_dir=tmp_path, progress=lambda d, n: calls.append((d, n)))
    assert calls[-1][0] == calls[-1][1] > 1 and [d for d, _ in calls] == list(range(1, calls[-1][1] + 1))


MNIST_CLF = pytest.mark.skipif(not clf_mod.DEFAULT_PATH.exists(), reason="models/mnist-classifier.safetensors missing")


@MNIST_CLF
@pytest.mark.parametrize("name", [*clf_mod.MNIST_NAMES, "mnist-train[10000]", "mnist-test[256]"])
def test_the_bundled_mnist_names_get_the_bundled_classifier(name):
    ds = Dataset(np.zeros((100, 784), np.float32), (1, 28, 28), (-1.0, 1.0), name=name)
    space = F.feature_space_for(ds)
    assert space._clf is clf_mod.bundled_classifier()
    acc = clf_mod.bundled_classifier().meta["test_accuracy"]
    assert space.kind == "classifier" and space.classes == 10 and space.accuracy == acc
    assert space.name == f"MNIST classifier (bundled, {acc * 100:.2f} % test accuracy)"
    assert space.info() == {"dataset": "MNIST (bundled)", "test_accuracy": acc, "source": "bundled"}
    assert F.feature_space_for(Dataset(np.zeros((100, 784), np.float32), (1, 28, 28), (0.0, 1.0), name=name)) is space


@MNIST_CLF
def test_a_set_named_like_mnist_with_another_shape_is_not_scored_by_the_digit_classifier(tmp_path):
    ds = patterns(shape=(1, 10, 10), name="mnist-train")
    space = F.feature_space_for(ds, cache_dir=tmp_path)
    assert space.source == "trained" and space.classes == 3 and space._clf is not clf_mod.bundled_classifier()


def test_the_bundled_classifier_file_still_loads_and_an_mlp_file_round_trips(tmp_path):
    if clf_mod.DEFAULT_PATH.exists():
        clf = clf_mod.load_classifier(clf_mod.DEFAULT_PATH)
        assert isinstance(clf.model, clf_mod.Classifier) and clf.classes == 10
    model = clf_mod.build_classifier("mlp", 4, 6)
    path = clf_mod.save_classifier(tmp_path / "m.safetensors", model, {"arch": "mlp", "classes": 4, "D": 6})
    back = clf_mod.load_classifier(path)
    x = np.random.default_rng(0).uniform(size=(5, 6)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(x)[1], clf_mod.LoadedClassifier(model.eval(), {}).predict(x)[1])


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"arch": "mlp", "classes": 4, "D": 10**9}, "metadata D"),  # refused before anything is allocated
        ({"arch": "mlp", "classes": 4, "D": 7}, "do not match"),
        ({"arch": "rnn", "classes": 4, "D": 6}, "unknown classifier architecture"),
        ({"arch": "mlp", "classes": True, "D": 6}, "metadata classes"),
        ({"arch": "conv", "classes": 4, "D": 6}, "conv classifier takes 784"),
    ],
)
def test_a_classifier_file_whose_metadata_does_not_fit_its_tensors_is_refused_in_one_line(tmp_path, meta, message):
    path = clf_mod.save_classifier(tmp_path / "m.safetensors", clf_mod.build_classifier("mlp", 4, 6), meta)
    with pytest.raises(CheckpointError, match=message) as e:
        clf_mod.load_classifier(path)
    assert "\n" not in str(e.value)


def test_nan_weights_are_refused(tmp_path):
    import torch

    model = clf_mod.build_classifier("mlp", 4, 6)
    with torch.no_grad():
        model.head.bias[0] = float("nan")
    path = clf_mod.save_classifier(tmp_path / "m.safetensors", model, {"arch": "mlp", "classes": 4, "D": 6})
    with pytest.raises(CheckpointError, match="NaN"):
        clf_mod.load_classifier(path)


def test_the_real_pool_is_held_out_mnist_where_there_is_one_else_the_data_itself():
    train_sub = Dataset(np.zeros((100, 784), np.float32), (1, 28, 28), (-1.0, 1.0), name="mnist-train[100]")
    pool = F.real_pool(train_sub)
    assert pool.held_out and pool.what == "the 10,000 MNIST test digits"
    assert pool.x.shape == (10000, 784) and pool.x.dtype == np.float32 and pool.labels.shape == (10000,)
    assert pool.x.min() == -1.0 and pool.x.max() == 1.0
    for name in ("mnist-train", "mnist", "mnist:train"):
        assert F.real_pool(Dataset(train_sub.x, (1, 28, 28), (0.0, 1.0), name=name)).what.startswith("the 10,000")
    for name in ("mnist-test", "mnist:test"):
        pool = F.real_pool(Dataset(train_sub.x, (1, 28, 28), (0.0, 1.0), name=name))
        assert pool.held_out and pool.what == "the 60,000 MNIST training digits" and pool.x.max() == 1.0
    ds = patterns(n=120, name="stripes")
    pool = F.real_pool(ds)
    assert not pool.held_out and pool.x is ds.x and pool.labels is ds.labels
    assert pool.what == "stripes (no held-out split: the training data itself)"


def test_the_held_out_split_is_stratified_seeded_and_keeps_one_of_each_class():
    labels = np.array([0] * 50 + [1] * 3 + [2] * 1 + [3] * 2)
    tr, ho = F.split_held_out(labels, 0.1, 0, 10_000)
    assert sorted(set(labels[ho])) == [0, 1, 3] and (labels[ho] == 0).sum() == 5
    assert len(np.intersect1d(tr, ho)) == 0 and len(tr) + len(ho) == len(labels) and 2 in labels[tr]
    again = F.split_held_out(labels, 0.1, 0, 10_000)
    np.testing.assert_array_equal(again[1], ho)
