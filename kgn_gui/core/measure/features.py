"""The feature space of each data set, and the real samples its measures are compared with (no Qt).

Class and feature measures (class histogram and entropy, confidence, Fréchet distance, KID, precision,
recall) are only meaningful in a space made from the model's own data set: a digit classifier files shirts
under digit classes. :func:`feature_space_for` is the one rule:

- the bundled MNIST sets (``classifier.MNIST_NAMES`` and their subsets ``mnist-train[N]``, 784 values a
  sample) → the bundled MNIST classifier;
- any other data set with labels of at least 2 classes → a classifier trained on *that* data on demand
  (``classifier.fit_classifier``: the conv net for 1×28×28 images, an MLP for every other shape; a seeded
  90/10 split, its held-out accuracy reported), cached as .safetensors in the user's cache folder, keyed by
  a hash of the data;
- data without labels → a PCA of the data set itself (no class measures);
- fewer than 100 samples → None: too few for distribution measures.

A classifier of one data set never scores another. Cached files are untrusted like every model file
(checked header, never unpickled); one that is damaged or made for other data is retrained and replaced.

:func:`real_pool` gives the real samples to draw the reference and the real-data baselines from: held-out
data where the project has them (the MNIST test digits for a model of the training digits), else the
training data itself, said so.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import Cancelled
from . import classifier as clf_mod

MIN_SAMPLES = 100  # below this a data set gets no feature space: distribution measures need more
PCA_COMPONENTS = 32
PCA_FIT_SAMPLES = 10_000
# On-demand training: quick on a 2-core CPU (a 60,000-sample set trains on 20,000 of them for 2 epochs);
# a small set gets more passes, up to MIN_SEEN samples seen in all, so that it still learns.
TRAIN = {
    "max_samples": 20_000,
    "epochs": 2,
    "max_epochs": 20,
    "min_seen": 10_000,
    "held_out": 0.1,
    "max_held_out": 10_000,
    "batch": 128,
    "lr": 1e-3,
    "seed": 0,
}
CACHE_VERSION = "kgn-features/1"  # part of every cache key: a change of the recipe above retrains


@dataclass
class FeatureSpace:
    """Where a data set's samples are measured: a classifier (class probabilities and its 128-d
    penultimate features) or a PCA of the data (features only)."""

    name: str  # shown to people: which network or space, made from what, how accurate
    kind: str  # "classifier" | "pca"
    dataset: str  # ds.name it was made from
    classes: int  # 0 for "pca"
    accuracy: float | None  # held-out (bundled: test) accuracy of a classifier; None for pca
    source: str = ""  # "bundled" | "trained" | "cache" | "pca"
    labels: tuple[int, ...] = ()  # the label value of each probability column
    class_names: tuple[str, ...] = ()  # a name per column (the data set's class names, else its label values)
    meta: dict = field(default_factory=dict, repr=False, compare=False)  # the classifier file's metadata
    value_range: tuple[float, float] = (0.0, 1.0)  # the data set's own value range
    _clf: clf_mod.LoadedClassifier | None = field(default=None, repr=False, compare=False)
    _mean: np.ndarray | None = field(default=None, repr=False, compare=False)  # PCA: D
    _components: np.ndarray | None = field(default=None, repr=False, compare=False)  # PCA: k×D

    @property
    def dim(self) -> int:
        """The number of features a sample."""
        return clf_mod.FEATURES if self._clf is not None else int(self._components.shape[0])

    def predict(self, x: np.ndarray, value_range=None, cancelled=None) -> tuple[np.ndarray | None, np.ndarray]:
        """Samples in value units of ``value_range`` (N×D; default the data set's range) → (class
        probabilities N×C, or None for pca; features N×F), float32. A classifier sees them mapped to
        [0, 1]; a PCA maps them linearly onto the data set's range first. ``cancelled()``: asked between
        batches."""
        vr = self.value_range if value_range is None else (float(value_range[0]), float(value_range[1]))
        x = np.asarray(x, np.float32)
        if self._clf is not None:
            return self._clf.predict(clf_mod.to_unit(x, vr), cancelled=cancelled)
        lo, hi = vr
        dlo, dhi = self.value_range
        if (lo, hi) != (dlo, dhi):
            x = (x - np.float32(lo)) * np.float32((dhi - dlo) / (hi - lo)) + np.float32(dlo)
        return None, ((x - self._mean) @ self._components.T).astype(np.float32, copy=False)

    def info(self) -> dict | None:
        """The JSON ``classifier`` entry: {"dataset", "test_accuracy", "source"}; None for pca."""
        if self.kind != "classifier":
            return None
        dataset = "MNIST (bundled)" if self.source == "bundled" else self.dataset
        out = {"dataset": dataset, "test_accuracy": self.accuracy, "source": self.source}
        split = self.meta.get("heldout_accuracy") if isinstance(self.meta, dict) else None
        if isinstance(split, int | float) and not isinstance(split, bool) and math.isfinite(split):
            out["heldout_accuracy"] = float(split)
        return out


@dataclass
class RealPool:
    """Real samples of a data set to draw the reference and the real-data baseline from."""

    x: np.ndarray  # real samples in the model's value range (float32, M×D)
    what: str  # "the 10,000 MNIST test digits" / "foo (no held-out split: the training data itself)"
    held_out: bool  # True when disjoint from the model's training data
    labels: np.ndarray | None = None


# --------------------------------------------------------------------------- names


def base_name(name: str) -> str:
    """A data set's name without the ``[N]`` suffixes ``Dataset.subset`` adds and the ``[half0]`` /
    ``[half1]`` of ``dataset.half_of``: ``mnist-train[half1][10000]`` → ``mnist-train``."""
    return re.sub(r"(\[(\d+|half[01])\])+$", "", str(name))


def mnist_split(ds) -> str | None:
    """ "train" or "test" for the bundled MNIST sets and their subsets (784 values a sample), else None."""
    name = base_name(ds.name)
    if ds.D != 784 or name not in clf_mod.MNIST_NAMES:
        return None
    return "test" if name.endswith("test") else "train"


# --------------------------------------------------------------------------- caches

_LOCK = threading.Lock()
_BY_ID: dict[int, tuple[weakref.ref, FeatureSpace]] = {}  # id(ds) → (a weak reference to ds, its space)
_BY_HASH: OrderedDict[str, FeatureSpace] = OrderedDict()  # data hash → space (the newest 16)
_KEY_LOCKS: dict[str, threading.Lock] = {}  # one per data hash: a second caller waits for the first
_BUNDLED: list = []  # the bundled MNIST space, made once ([None] when the file is missing)
_MAX_BY_HASH = 16


def clear_memory_cache() -> None:
    """Forget every feature space made in this process (the cache folder stays)."""
    with _LOCK:
        _BY_ID.clear()
        _BY_HASH.clear()
        _BUNDLED.clear()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kgn-gui/features``, or ``~/.cache/kgn-gui/features``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "kgn-gui" / "features"


def data_hash(ds) -> str:
    """A hash of the samples, labels, shape and value range of ``ds`` and of the training recipe: the key of
    its feature space in memory and in the cache folder."""
    h = hashlib.sha256()
    h.update(
        json.dumps(
            [CACHE_VERSION, TRAIN, list(ds.shape), list(ds.value_range), ds.x.shape, ds.labels is not None]
        ).encode()
    )
    h.update(memoryview(np.ascontiguousarray(ds.x, np.float32)).cast("B"))
    if ds.labels is not None:
        h.update(memoryview(np.ascontiguousarray(ds.labels, np.int64)).cast("B"))
    return h.hexdigest()


def _remember(ds, key: str | None, space: FeatureSpace) -> FeatureSpace:
    with _LOCK:
        _BY_ID[id(ds)] = (weakref.ref(ds), space)
        for k, (ref, _) in list(_BY_ID.items()):
            if ref() is None:
                del _BY_ID[k]
        if key is not None:
            _BY_HASH[key] = space
            _BY_HASH.move_to_end(key)
            while len(_BY_HASH) > _MAX_BY_HASH:
                _BY_HASH.popitem(last=False)
    return space


def _known(ds) -> FeatureSpace | None:
    with _LOCK:
        hit = _BY_ID.get(id(ds))
        return hit[1] if hit is not None and hit[0]() is ds else None


# --------------------------------------------------------------------------- the rule


def feature_space_for(
    ds,
    *,
    train: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    log: Callable[[str], None] | None = None,
) -> FeatureSpace | None:
    """The feature space to measure samples of ``ds`` (a ``data.Dataset``) in; see the module docstring for
    the rule. ``train=False``: a labelled set whose classifier is neither in memory nor in ``cache_dir``
    (default :func:`default_cache_dir`) gets None instead of training one. Training calls
    ``progress(done, total)`` after every batch and checks ``cancelled()`` (then
    ``errors.Cancelled`` is raised and nothing is cached). The same ``ds`` object or the same data give
    the same FeatureSpace object (thread-safe). ``log(str)`` hears what was loaded, trained or not cached."""
    if ds is None or ds.M < MIN_SAMPLES:
        return None
    hit = _known(ds)
    if hit is not None:
        return hit
    say = log or (lambda _s: None)
    if mnist_split(ds) is not None:
        space = _bundled_space(say)
        if space is not None:
            return _remember(ds, None, space)
        say("the bundled MNIST classifier is missing; training one on this data")
    values = None if ds.labels is None else np.unique(ds.labels)
    key = data_hash(ds)
    with _LOCK:
        hit = _BY_HASH.get(key)
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    if hit is not None:
        return _remember(ds, key, hit)
    with key_lock:  # one caller trains; another asking for the same data waits and shares its result
        with _LOCK:
            hit = _BY_HASH.get(key)
        if hit is not None:
            return _remember(ds, key, hit)
        if values is None or len(values) < 2:
            space = _pca_space(ds, "no labels")
        elif len(values) > clf_mod.MAX_CLASSES:
            space = _pca_space(ds, f"{len(values):,} classes: too many for a classifier")
        else:
            space = _classifier_space(ds, key, values, train, cache_dir, progress, cancelled, say)
            if space is None:
                return None
        return _remember(ds, key, space)


def _bundled_space(say) -> FeatureSpace | None:
    with _LOCK:
        if _BUNDLED:
            return _BUNDLED[0]
    try:
        clf = clf_mod.bundled_classifier()
    except clf_mod.CheckpointError as e:
        say(f"the bundled MNIST classifier cannot be used: {e}")
        clf = None
    space = None
    if clf is not None:
        acc = clf.meta.get("test_accuracy")
        acc = float(acc) if isinstance(acc, int | float) and not isinstance(acc, bool) and math.isfinite(acc) else None
        shown = f"{acc * 100:.2f} % test accuracy" if acc is not None else "test accuracy unknown"
        space = FeatureSpace(
            name=f"MNIST classifier (bundled, {shown})",
            kind="classifier",
            dataset="mnist-train",
            classes=clf.classes,
            accuracy=acc,
            source="bundled",
            labels=tuple(range(clf.classes)),
            class_names=tuple(str(i) for i in range(clf.classes)),
            meta=dict(clf.meta),
            _clf=clf,
        )
    with _LOCK:
        if not _BUNDLED:
            _BUNDLED.append(space)
        return _BUNDLED[0]


def _pca_space(ds, why: str) -> FeatureSpace:
    """k = min(32, D, M-1) principal components of ``ds`` in its own units, fitted on a seeded subsample of
    at most 10,000 samples; features are the centered projections."""
    k = min(PCA_COMPONENTS, ds.D, ds.M - 1)
    rng = np.random.default_rng(TRAIN["seed"])
    idx = np.sort(rng.choice(ds.M, size=PCA_FIT_SAMPLES, replace=False)) if ds.M > PCA_FIT_SAMPLES else slice(None)
    x = ds.x[idx].astype(np.float64)
    mean = x.mean(0)
    x -= mean
    if ds.D <= 2048:
        vals, vecs = np.linalg.eigh(x.T @ x)
        comps = vecs[:, ::-1][:, :k].T
    else:  # a randomized range finder (Halko et al. 2011): exact enough for the top k, and fast for large D
        q = np.linalg.qr(x @ rng.standard_normal((ds.D, k + 10)))[0]
        for _ in range(4):
            q = np.linalg.qr(x @ (x.T @ q))[0]
        comps = np.linalg.svd(q.T @ x, full_matrices=False)[2][:k]
    # A component's sign is arbitrary: fix it (largest entry positive) so that the features are reproducible.
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    return FeatureSpace(
        name=f"PCA-{k} of {ds.name} ({why})",
        kind="pca",
        dataset=ds.name,
        classes=0,
        accuracy=None,
        source="pca",
        value_range=tuple(ds.value_range),
        _mean=mean.astype(np.float32),
        _components=np.ascontiguousarray(comps, np.float32),
    )


def _classifier_space(ds, key, values, train, cache_dir, progress, cancelled, say) -> FeatureSpace | None:
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"{clf_mod.arch_for(ds.shape)}-{key[:40]}.safetensors"
    expect = {
        "arch": clf_mod.arch_for(ds.shape),
        "classes": len(values),
        "D": ds.D,
        "data_hash": key,
        "label_values": [int(v) for v in values],
    }
    clf, source = None, "cache"
    if path.exists():
        try:
            clf = clf_mod.load_classifier(path)
            wrong = [k for k, v in expect.items() if clf.meta.get(k) != v]
            if wrong:
                raise clf_mod.CheckpointError(f"{path.name}: made for other data ({', '.join(wrong)} differ)")
        except Exception as e:  # noqa: BLE001 - a cached file is untrusted input: any failure means retrain
            say(f"ignoring the cached feature network: {e}")
            clf = None
    if clf is None:
        if not train:
            return None
        model, meta = _train(ds, values, progress, cancelled, say)
        meta.update(expect)
        clf, source = clf_mod.LoadedClassifier(model, meta), "trained"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            clf_mod.save_classifier(path, model, meta)
        except Exception as e:  # noqa: BLE001 - a read-only or full cache folder: keep it in memory only
            say(f"the feature network is not cached ({type(e).__name__}: {e})")
    acc = clf.meta.get("test_accuracy")
    acc = float(acc) if isinstance(acc, int | float) and not isinstance(acc, bool) and math.isfinite(acc) else None
    shown = f"{acc * 100:.1f} % held-out accuracy" if acc is not None else "no held-out samples"
    names = list(ds.class_names)
    return FeatureSpace(
        name=f"classifier trained on {ds.name} ({shown})",
        kind="classifier",
        dataset=ds.name,
        classes=len(values),
        accuracy=acc,
        source=source,
        labels=tuple(int(v) for v in values),
        class_names=tuple(names[v] if 0 <= v < len(names) else str(v) for v in (int(v) for v in values)),
        meta=dict(clf.meta),
        value_range=tuple(ds.value_range),
        _clf=clf,
    )


def split_held_out(labels: np.ndarray, fraction: float, seed: int, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices): a seeded split stratified by class, ``fraction`` of each class
    held out and at least one sample of every class that has two or more; at most ``cap`` held out."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    scale = min(fraction, cap / n) if n else fraction
    held = []
    for v in np.unique(labels):
        idx = np.flatnonzero(labels == v)
        if len(idx) < 2:
            continue
        h = min(len(idx) - 1, max(1, round(scale * len(idx))))
        held.append(rng.choice(idx, size=h, replace=False))
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    mask = np.ones(n, bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def _train(ds, values, progress, cancelled, say):
    """Train the data set's own classifier on a seeded ≤ 20,000-sample part of a 90/10 split; its accuracy
    on the held-out 10 %."""
    cfg = TRAIN
    y_all = np.searchsorted(values, ds.labels)
    tr, ho = split_held_out(y_all, cfg["held_out"], cfg["seed"], cfg["max_held_out"])
    rng = np.random.default_rng(cfg["seed"] + 1)
    if len(tr) > cfg["max_samples"]:
        tr = np.sort(rng.choice(tr, size=cfg["max_samples"], replace=False))
    epochs = max(cfg["epochs"], min(cfg["max_epochs"], math.ceil(cfg["min_seen"] / len(tr))))
    stop = Cancelled

    def step(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)
        if cancelled is not None and cancelled():
            raise stop("cancelled")

    if cancelled is not None and cancelled():
        raise stop("cancelled")
    arch = clf_mod.arch_for(ds.shape)
    say(f"training a {arch} classifier on {len(tr):,} samples of {ds.name} ({epochs} epochs)")
    t0 = time.perf_counter()
    model = clf_mod.fit_classifier(
        clf_mod.to_unit(ds.x[tr], ds.value_range),
        y_all[tr],
        ds.shape,
        len(values),
        epochs=epochs,
        batch=cfg["batch"],
        lr=cfg["lr"],
        seed=cfg["seed"],
        step=step,
    )
    seconds = time.perf_counter() - t0
    acc = None
    if len(ho):
        probs, _ = clf_mod.LoadedClassifier(model, {}).predict(clf_mod.to_unit(ds.x[ho], ds.value_range))
        acc = float((probs.argmax(1) == y_all[ho]).mean())
    say(f"held-out accuracy {acc if acc is None else f'{acc:.3f}'} on {len(ho):,} samples ({seconds:.1f} s)")
    split_acc = None  # on the data set's own held-out split (never trained on by the model or the classifier)
    held = getattr(ds, "heldout", None)
    if held is not None and held.labels is not None and held.D == ds.D:
        known = np.isin(held.labels, values)
        if known.any():
            hx = held.to_range(ds.value_range).x[known]
            probs, _ = clf_mod.LoadedClassifier(model, {}).predict(clf_mod.to_unit(hx, ds.value_range))
            split_acc = float((probs.argmax(1) == np.searchsorted(values, held.labels[known])).mean())
            say(f"accuracy on the held-out split {split_acc:.3f} ({int(known.sum()):,} samples)")
    meta = {
        "shape": list(ds.shape),
        "dataset": ds.name,
        "value_range": list(ds.value_range),
        "test_accuracy": acc,
        "heldout_accuracy": split_acc,
        "held_out": int(len(ho)),
        "train_samples": int(len(tr)),
        "epochs": epochs,
        "batch": cfg["batch"],
        "lr": cfg["lr"],
        "seed": cfg["seed"],
        "train_seconds": round(seconds, 1),
        "input": f"{'x'.join(map(str, ds.shape))} in [0, 1]",
        "features": "128-d penultimate layer (after ReLU)",
    }
    return model, meta


# --------------------------------------------------------------------------- real samples


def real_pool(ds) -> RealPool | None:
    """The real samples to draw the reference and the real-data baselines from, in ``ds.value_range``:
    the MNIST test digits for the MNIST training set (and its subsets), the training digits for the test
    set, the data set's own held-out split (``ds.heldout``: IDX t10k files, an npz's x_test, or the part an
    import set aside), else ``ds`` itself (``held_out`` False: a baseline of the training data, which a model may have
    memorized). None below 100 samples."""
    if ds is None or ds.M < MIN_SAMPLES:
        return None
    split = mnist_split(ds)
    if split is not None:
        from ..data.mnist import load_mnist
        from ..errors import DataError

        other = "test" if split == "train" else "train"
        try:
            real = load_mnist(other, ds.value_range)
        except DataError:
            real = None
        if real is not None:
            what = f"the {real.M:,} MNIST {'test' if other == 'test' else 'training'} digits"
            return RealPool(real.x, what, True, real.labels)
    held = getattr(ds, "heldout", None)
    if held is not None and held.M >= MIN_SAMPLES and held.D == ds.D:
        held = held.to_range(ds.value_range)
        return RealPool(held.x, f"the {held.M:,} held-out samples of {base_name(ds.name)}", True, held.labels)
    return RealPool(ds.x, f"{ds.name} (no held-out split: the training data itself)", False, ds.labels)
