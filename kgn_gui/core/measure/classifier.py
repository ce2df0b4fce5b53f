"""The feature networks that measure what the chains produce (no Qt).

Two architectures, both with a 128-unit penultimate layer (the "features" of the Fréchet distance, KID,
precision and recall) and one logit per class:

- ``conv`` for 1×28×28 images: two 3×3 convolutions (32 and 64 channels, each followed by ReLU and 2×2
  max-pooling), 128 units, C logits. The bundled MNIST classifier (10 classes) is one.
- ``mlp`` for every other shape: D → 256 → 128 → C with ReLU, so any data set with labels gets a network.

Inputs are in [0, 1]; :func:`to_unit` maps a model's value range there. Saved as .safetensors with their own
metadata (``format: kgn-classifier/1``: arch, classes, D, shape, data set, held-out accuracy, …), checked
before loading like every model file (names and shapes against the architecture the metadata names, values
finite); never unpickled. A file without ``arch`` / ``classes`` / ``D`` (the bundled one) is the conv net of
10 classes. Which network measures which data set is :mod:`kgn_gui.core.measure.features`'s decision.

    python -m kgn_gui.core.measure.classifier --out models/mnist-classifier.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..bundled import MODELS_DIR
from ..errors import CheckpointError
from ..model.checkpoint import atomic_write_bytes, read_header
from ..model.header import CLASSIFIER_FORMAT

FORMAT = CLASSIFIER_FORMAT
ARCHS = ("conv", "mlp")
FEATURES = 128  # the penultimate layer's width, both architectures
MLP_HIDDEN = 256
MAX_CLASSES = 1000
MAX_D = 1 << 24  # values a sample; the file's own size bounds the weights, this bounds the metadata


class Classifier(nn.Module):
    """The conv net for 1×28×28 images in [0, 1]."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N×784 (or N×1×28×28) in [0, 1] → N×128 penultimate features."""
        return self.conv(x.reshape(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class MLPClassifier(nn.Module):
    """D → 256 → 128 → C with ReLU, for samples of any shape (flattened) in [0, 1]."""

    def __init__(self, D: int, classes: int):
        super().__init__()
        self.D = int(D)
        self.body = nn.Sequential(nn.Linear(D, MLP_HIDDEN), nn.ReLU(), nn.Linear(MLP_HIDDEN, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N×D in [0, 1] → N×128 penultimate features."""
        return self.body(x.reshape(-1, self.D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def arch_for(shape: tuple[int, ...]) -> str:
    """The architecture for samples of ``shape``: ``conv`` for 1×28×28 images, ``mlp`` for the rest."""
    return "conv" if tuple(shape) == (1, 28, 28) else "mlp"


def build_classifier(arch: str, classes: int, D: int) -> nn.Module:
    if arch == "conv":
        if D != 784:
            raise ValueError(f"the conv classifier takes 1×28×28 images (784 values), not {D}")
        return Classifier(classes)
    if arch == "mlp":
        return MLPClassifier(D, classes)
    raise ValueError(f"unknown classifier architecture {arch!r}; expected one of {', '.join(ARCHS)}")


def expected_shapes(arch: str, classes: int, D: int) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes of an architecture, computed without building it (a file's metadata is
    untrusted: a D of 10⁹ must not allocate anything before the header is compared)."""
    head = {"head.weight": (classes, FEATURES), "head.bias": (classes,)}
    if arch == "conv":
        return {
            "conv.0.weight": (32, 1, 3, 3),
            "conv.0.bias": (32,),
            "conv.3.weight": (64, 32, 3, 3),
            "conv.3.bias": (64,),
            "conv.7.weight": (FEATURES, 64 * 7 * 7),
            "conv.7.bias": (FEATURES,),
            **head,
        }
    return {
        "body.0.weight": (MLP_HIDDEN, D),
        "body.0.bias": (MLP_HIDDEN,),
        "body.2.weight": (FEATURES, MLP_HIDDEN),
        "body.2.bias": (FEATURES,),
        **head,
    }


@dataclass
class LoadedClassifier:
    model: nn.Module
    meta: dict

    @property
    def classes(self) -> int:
        return int(self.model.head.out_features)

    @torch.no_grad()
    def predict(
        self, x_unit: np.ndarray | torch.Tensor, batch: int = 2048, cancelled=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Samples in [0, 1] (N×D) → (class probabilities N×C, features N×128), float32. ``cancelled()`` is
        asked before each batch (Cancelled ends it)."""
        from .dynamics import check_cancelled

        x = torch.as_tensor(np.asarray(x_unit, np.float32))
        probs, feats = [], []
        for s in range(0, len(x), batch):
            check_cancelled(cancelled)
            f = self.model.features(x[s : s + batch])
            probs.append(torch.softmax(self.model.head(f), 1))
            feats.append(f)
        if not probs:
            return np.zeros((0, self.classes), np.float32), np.zeros((0, FEATURES), np.float32)
        return torch.cat(probs).numpy(), torch.cat(feats).numpy()


def to_unit(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    return np.clip((np.asarray(x, np.float32) - lo) / (hi - lo), 0.0, 1.0)


def save_classifier(path: str | Path, model: nn.Module, meta: dict) -> Path:
    """Write ``model`` and ``meta`` to ``path`` atomically (the old file stays whole on any failure)."""
    from safetensors.torch import save

    path = Path(path)
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(tensors, metadata={"kgn": json.dumps({"format": FORMAT, **meta})}))
    return path


def _count(meta: dict, key: str, default: int, lo: int, hi: int, name: str) -> int:
    v = meta.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise CheckpointError(f"{name}: metadata {key} must be a whole number from {lo} to {hi:,}, not {v!r}")
    return v


def load_classifier(path: str | Path) -> LoadedClassifier:
    """Load and check a classifier file: its metadata's arch, classes and D, the tensor names and shapes
    against that architecture, before anything is built; the weights finite. Raises CheckpointError."""
    path = Path(path)
    header, meta, _ = read_header(path, fmt=FORMAT)
    arch = meta.get("arch", "conv")
    if arch not in ARCHS:
        raise CheckpointError(f"{path.name}: unknown classifier architecture {arch!r}")
    classes = _count(meta, "classes", 10, 2, MAX_CLASSES, path.name)
    D = _count(meta, "D", 784, 1, MAX_D, path.name)
    if arch == "conv" and D != 784:
        raise CheckpointError(f"{path.name}: a conv classifier takes 784 values a sample, not {D}")
    expected = expected_shapes(arch, classes, D)
    if set(header) != set(expected) or any(tuple(header[k]["shape"]) != s for k, s in expected.items()):
        raise CheckpointError(f"{path.name}: tensors do not match the classifier's architecture")
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as e:  # noqa: BLE001 - a file changed or damaged since its header was read: one line
        raise CheckpointError(f"{path.name}: cannot read the weights ({type(e).__name__})") from None
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
        raise CheckpointError(f"{path.name}: the weights hold NaN or infinite values")
    model = build_classifier(arch, classes, D)
    model.load_state_dict(tensors)
    return LoadedClassifier(model.eval(), meta)


DEFAULT_PATH = MODELS_DIR / "mnist-classifier.safetensors"


def default_classifier() -> LoadedClassifier | None:
    """The bundled MNIST classifier, or None where it is missing."""
    return load_classifier(DEFAULT_PATH) if DEFAULT_PATH.exists() else None


_TEST_FEATURES: dict[int, np.ndarray] = {}


def mnist_test_features(clf: LoadedClassifier) -> np.ndarray:
    """The classifier's features of the 10,000 MNIST test digits (the Fréchet reference), cached."""
    key = id(clf.model)
    if key not in _TEST_FEATURES:
        from ..data.mnist import load_mnist

        _TEST_FEATURES[key] = clf.predict(load_mnist("test", (0.0, 1.0)).x.astype(np.float32))[1]
    return _TEST_FEATURES[key]


_LOCK = threading.Lock()
# The bundled MNIST sets: the names core.data.load_mnist gives them (and model files record) and their
# source keys. An imported folder or file gets its own name, even when it holds digits: no classifier.
MNIST_NAMES = ("mnist-train", "mnist-test", "mnist", "mnist:train", "mnist:test")
_DEFAULT: list = []  # the bundled classifier, loaded once (an empty list until then; [None] when missing)


def bundled_classifier() -> LoadedClassifier | None:
    """The bundled MNIST classifier, loaded once and shared (thread-safe); None where the file is missing.
    A damaged file raises CheckpointError (and is tried again on the next call)."""
    with _LOCK:
        if not _DEFAULT:
            _DEFAULT.append(default_classifier())
        return _DEFAULT[0]


def fit_classifier(
    x_unit: np.ndarray,
    y: np.ndarray,
    shape: tuple[int, ...],
    classes: int,
    *,
    epochs: int = 2,
    batch: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    step: Callable[[int, int], None] | None = None,
) -> nn.Module:
    """Train the network :func:`arch_for` picks for ``shape`` on samples in [0, 1] (N×D float32) with class
    indices ``y`` in 0..classes-1: Adam, a cosine-decayed learning rate, ``epochs`` passes in a seeded order.
    ``step(done, total)`` is called after every batch (it may raise to stop). The global torch random state
    and thread settings are left as they were. Returns the model in eval mode."""
    x = torch.from_numpy(np.ascontiguousarray(x_unit, np.float32))
    yt = torch.from_numpy(np.asarray(y, np.int64))
    rng = np.random.default_rng(seed)
    per_epoch = max(1, math.ceil(len(x) / batch))
    total = epochs * per_epoch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_classifier(arch_for(shape), classes, x.shape[1])
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        model.train()
        done = 0
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(x)))
            for s in range(0, len(x), batch):
                idx = order[s : s + batch]
                loss = nn.functional.cross_entropy(model(x[idx]), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                done += 1
                if step is not None:
                    step(done, total)
    return model.eval()


def train_classifier(
    epochs: int = 3, batch: int = 128, lr: float = 1e-3, seed: int = 0, log=print
) -> tuple[Classifier, dict]:
    """Train on the bundled MNIST training set (random ±2-pixel shifts), report test accuracy."""
    from ..data.mnist import load_mnist

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tr, te = load_mnist("train", (0.0, 1.0)), load_mnist("test", (0.0, 1.0))
    x = torch.from_numpy(tr.x.astype(np.float32)).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(tr.labels.astype(np.int64))
    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr * 3, total_steps=steps)
    t0, k = time.time(), 0
    for ep in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x) - batch + 1, batch):
            idx = order[s : s + batch]
            xb = x[idx]
            dy, dx = rng.integers(-2, 3, size=2)
            xb = torch.roll(xb, shifts=(int(dy), int(dx)), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            k += 1
            if k % 200 == 0:
                log(f"epoch {ep + 1} step {k}/{steps} loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    model.eval()
    probs, _ = LoadedClassifier(model, {}).predict(te.x.astype(np.float32))
    acc = float((probs.argmax(1) == te.labels).mean())
    return model, {
        "arch": "conv",
        "classes": 10,
        "D": 784,
        "shape": [1, 28, 28],
        "test_accuracy": acc,
        "held_out": len(te.x),
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "train_seconds": round(time.time() - t0, 1),
        "input": "1x28x28 in [0, 1]",
        "features": "128-d penultimate layer (after ReLU)",
        "dataset": "MNIST (bundled)",
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Train the MNIST classifier used by the measures.")
    ap.add_argument("--out", default="models/mnist-classifier.safetensors")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    model, meta = train_classifier(epochs=a.epochs, seed=a.seed)
    print(f"test accuracy {meta['test_accuracy']:.4f}")
    save_classifier(a.out, model, meta)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
