"""A small MNIST classifier, trained by the project, to measure what the chains produce (no Qt).

Two 3×3 convolutions (32 and 64 channels, each followed by ReLU and 2×2 max-pooling), a 128-unit
penultimate layer (the "features" of the Fréchet distance) and 10 logits. Inputs are 1×28×28 images in
[0, 1]; :func:`to_unit` maps a model's value range there. Saved as .safetensors with its own metadata
(``format: kgn-classifier/1``), checked before loading like every model file; never unpickled.

    python -m kgn_gui.core.classifier --out models/mnist-classifier.safetensors
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import CheckpointError, atomic_write_bytes, read_header

FORMAT = "kgn-classifier/1"


class Classifier(nn.Module):
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
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
        )
        self.head = nn.Linear(128, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N×784 (or N×1×28×28) in [0, 1] → N×128 penultimate features."""
        return self.conv(x.reshape(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class LoadedClassifier:
    model: Classifier
    meta: dict

    @torch.no_grad()
    def predict(self, x_unit: np.ndarray | torch.Tensor, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """Images in [0, 1] (N×784) → (class probabilities N×10, features N×128)."""
        x = torch.as_tensor(np.asarray(x_unit, np.float32))
        probs, feats = [], []
        for s in range(0, len(x), batch):
            f = self.model.features(x[s : s + batch])
            probs.append(torch.softmax(self.model.head(f), 1))
            feats.append(f)
        if not probs:
            return np.zeros((0, 10), np.float32), np.zeros((0, 128), np.float32)
        return torch.cat(probs).numpy(), torch.cat(feats).numpy()


def to_unit(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    return np.clip((np.asarray(x, np.float32) - lo) / (hi - lo), 0.0, 1.0)


def save_classifier(path: str | Path, model: Classifier, meta: dict) -> Path:
    from safetensors.torch import save

    path = Path(path)
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(tensors, metadata={"kgn": json.dumps({"format": FORMAT, **meta})}))
    return path


def load_classifier(path: str | Path) -> LoadedClassifier:
    """Load and check a classifier file (names and shapes against the architecture first)."""
    path = Path(path)
    header, meta, _ = read_header(path, fmt=FORMAT)
    expected = {k: tuple(v.shape) for k, v in Classifier().state_dict().items()}
    if set(header) != set(expected) or any(tuple(header[k]["shape"]) != s for k, s in expected.items()):
        raise CheckpointError(f"{path.name}: tensors do not match the classifier's architecture")
    from safetensors.torch import load_file

    model = Classifier()
    model.load_state_dict(load_file(str(path), device="cpu"))
    return LoadedClassifier(model.eval(), meta)


DEFAULT_PATH = Path(__file__).resolve().parents[2] / "models" / "mnist-classifier.safetensors"


def default_classifier() -> LoadedClassifier | None:
    """The bundled MNIST classifier, or None where it is missing."""
    return load_classifier(DEFAULT_PATH) if DEFAULT_PATH.exists() else None


_TEST_FEATURES: dict[int, np.ndarray] = {}


def mnist_test_features(clf: LoadedClassifier) -> np.ndarray:
    """The classifier's features of the 10,000 MNIST test digits (the Fréchet reference), cached."""
    key = id(clf.model)
    if key not in _TEST_FEATURES:
        from .data import load_mnist

        _TEST_FEATURES[key] = clf.predict(load_mnist("test", (0.0, 1.0)).x.astype(np.float32))[1]
    return _TEST_FEATURES[key]


_LOCK = threading.Lock()
# The bundled MNIST sets: the names core.data.load_mnist gives them (and model files record) and their
# source keys. An imported folder or file gets its own name, even when it holds digits: no classifier.
MNIST_NAMES = ("mnist-train", "mnist-test", "mnist", "mnist:train", "mnist:test")
_DEFAULT: list = []  # the bundled classifier, loaded once (an empty list until then; [None] when missing)


def classifier_for(dataset_name: str, D: int) -> tuple[LoadedClassifier | None, np.ndarray | None]:
    """The feature network that fits a data set, and its reference features: (classifier, features of the
    10,000 MNIST test digits) for the bundled MNIST sets (a model file's dataset name ``mnist-train`` /
    ``mnist-test``, or the source keys ``mnist``, ``mnist:train``, ``mnist:test``, with 784 values a
    sample); (None, None) for every other data set: a digit classifier says nothing about another data
    set's images. The one rule ``kgn analyze``, ``kgn sweep`` and the window's measures use. Loaded once
    and shared (thread-safe)."""
    if D != 784 or dataset_name not in MNIST_NAMES:
        return None, None
    with _LOCK:
        if not _DEFAULT:
            _DEFAULT.append(default_classifier())
        clf = _DEFAULT[0]
        if clf is None:
            return None, None
        return clf, mnist_test_features(clf)


def train_classifier(
    epochs: int = 3, batch: int = 128, lr: float = 1e-3, seed: int = 0, log=print
) -> tuple[Classifier, dict]:
    """Train on the bundled MNIST training set (random ±2-pixel shifts), report test accuracy."""
    from .data import load_mnist

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
        "test_accuracy": acc,
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
