"""Data sets for manifold learning.

A :class:`Dataset` is an M×D float32 array in the model's value range ([0, 1] for a Sigmoid
network, [−1, 1] for a Tanh one), the shape of one sample ((C, H, W) for images, (d,) for
points), optional integer labels and a name. Every loader reads pixels as [0, 1] first and
then maps them linearly onto the requested range.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
MNIST_FILE = RESOURCES / "mnist" / "mnist.npz"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
MAX_IDX_BYTES = 2 << 30  # refuse IDX files that claim more than 2 GiB of data

# The paper's point experiments (PAPER.md).
POINT_PRESETS: dict[str, tuple[list[list[float]], tuple[float, float]]] = {
    "1d-sigmoid": ([[0.2], [0.8]], (0.0, 1.0)),
    "1d-tanh": ([[-0.8], [-0.2], [0.2], [0.8]], (-1.0, 1.0)),
    "2d-corners": ([[0.2, 0.2], [0.2, 0.8], [0.8, 0.2], [0.8, 0.8]], (0.0, 1.0)),
    "2d-center": ([[0.5, 0.5]], (0.0, 1.0)),
}


class DataError(ValueError):
    """A data source that cannot be read; the message says why."""


@dataclass
class Dataset:
    """M samples of dimension D in ``value_range``.

    x: float32 array of shape (M, D). shape: one sample's shape, prod(shape) == D.
    labels: int64 array of shape (M,) or None. value_range: (lo, hi).
    """

    x: np.ndarray
    shape: tuple[int, ...]
    value_range: tuple[float, float]
    name: str = "data"
    labels: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file: reason" for each file an import left out

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        if self.x.ndim != 2:
            raise DataError(f"{self.name}: expected an M×D array, got shape {self.x.shape}")
        self.shape = tuple(int(s) for s in self.shape)
        if int(np.prod(self.shape)) != self.x.shape[1]:
            raise DataError(f"{self.name}: sample shape {self.shape} does not match D = {self.x.shape[1]}")
        if self.x.shape[0] == 0:
            raise DataError(f"{self.name}: the data set is empty")
        lo, hi = self.value_range
        self.value_range = (float(lo), float(hi))
        if not np.isfinite(self.x).all():
            raise DataError(f"{self.name}: data contain NaN or infinite values")
        if self.labels is not None:
            self.labels = np.asarray(self.labels).astype(np.int64).reshape(-1)
            if len(self.labels) != len(self.x):
                raise DataError(f"{self.name}: {len(self.labels)} labels for {len(self.x)} samples")

    @property
    def M(self) -> int:
        return int(self.x.shape[0])

    @property
    def D(self) -> int:
        return int(self.x.shape[1])

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    def images(self) -> np.ndarray:
        """The samples as (M, *shape)."""
        return self.x.reshape((self.M,) + self.shape)

    def to_range(self, value_range: tuple[float, float]) -> Dataset:
        """The same data mapped linearly onto another value range."""
        lo, hi = self.value_range
        nlo, nhi = value_range
        if (lo, hi) == (float(nlo), float(nhi)):
            return self
        x = (self.x - lo) / (hi - lo) * (nhi - nlo) + nlo
        return replace(self, x=x.astype(np.float32), value_range=(nlo, nhi))

    def subset(self, n: int, seed: int = 0) -> Dataset:
        """A random subset of n samples (all of them when n ≥ M), reproducible in ``seed``."""
        if n >= self.M:
            return self
        idx = np.sort(np.random.default_rng(seed).choice(self.M, size=n, replace=False))
        return replace(
            self, x=self.x[idx], labels=None if self.labels is None else self.labels[idx], name=f"{self.name}[{n}]"
        )

    def describe(self) -> str:
        lab = f", {len(np.unique(self.labels))} classes" if self.labels is not None else ""
        skip = f"; skipped {len(self.skipped)} file{'s' * (len(self.skipped) != 1)}" if self.skipped else ""
        return f"{self.name}: {self.M} samples of shape {self.shape} in {list(self.value_range)}{lab}{skip}"

    def import_report(self, limit: int = 20) -> str:
        """What an import loaded and what it skipped and why (the first ``limit`` skipped files)."""
        lines = [f"Loaded {self.describe()}."]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)}:")
            lines += [f"  {s}" for s in self.skipped[:limit]]
            if len(self.skipped) > limit:
                lines.append(f"  … and {len(self.skipped) - limit} more")
        return "\n".join(lines)


def _from_unit(u: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    return (u.astype(np.float32) * np.float32(hi - lo) + np.float32(lo)).astype(np.float32)


def _images_to_dataset(imgs: np.ndarray, labels, value_range, name, class_names=None) -> Dataset:
    """imgs: (M, C, H, W) in [0, 1]."""
    m = imgs.shape[0]
    return Dataset(
        x=_from_unit(imgs.reshape(m, -1), value_range),
        shape=tuple(imgs.shape[1:]),
        value_range=value_range,
        name=name,
        labels=labels,
        class_names=class_names or [],
    )


# ---------------------------------------------------------------- bundled MNIST
_prefetched: dict = {}  # (split, range) → concurrent.futures.Future of a Dataset


def prefetch_mnist(split: str = "train", value_range: tuple[float, float] = (-1.0, 1.0)) -> None:
    """Start loading the bundled MNIST split in a background thread; the next :func:`load_mnist` of the same
    split and range takes the result. The window calls this before importing torch: decompressing and
    converting the digits (~1 s) then overlaps torch's import instead of following it."""
    import concurrent.futures
    import threading

    key = (split, (float(value_range[0]), float(value_range[1])))
    if key in _prefetched:
        return
    fut: concurrent.futures.Future = concurrent.futures.Future()
    _prefetched[key] = fut

    def work() -> None:
        try:
            fut.set_result(_load_mnist(split, value_range, None))
        except BaseException as e:  # noqa: BLE001 - handed to the caller of load_mnist
            fut.set_exception(e)

    threading.Thread(target=work, name="kgn-mnist-prefetch", daemon=True).start()


def drop_prefetched() -> None:
    """Forget prefetched data nobody took (frees its memory once its thread ends)."""
    _prefetched.clear()


def load_mnist(
    split: str = "train", value_range: tuple[float, float] = (-1.0, 1.0), path: Path | None = None
) -> Dataset:
    """The bundled MNIST digits: split "train" (60,000) or "test" (10,000), pixels/255 mapped to range."""
    if path is None:
        fut = _prefetched.pop((split, (float(value_range[0]), float(value_range[1]))), None)
        if fut is not None:
            try:
                return fut.result()
            except Exception:  # noqa: BLE001 - load again below, which raises the error where it belongs
                pass
    return _load_mnist(split, value_range, path)


def _load_mnist(split: str, value_range: tuple[float, float], path: Path | None) -> Dataset:
    if split not in ("train", "test"):
        raise DataError(f"MNIST split must be train or test, not {split!r}")
    path = Path(path or MNIST_FILE)
    if not path.exists():
        raise DataError(f"bundled MNIST not found at {path}; rebuild it with scripts/build_mnist.py")
    imgs, labels = _read_mnist(str(path), split)
    # One table lookup per pixel instead of five passes over 188 MB (~1.1 s → ~0.1 s at launch). The table
    # is computed with the same float32 operations as _from_unit(v / 255), so the values are identical.
    lo, hi = value_range
    lut = (np.arange(256, dtype=np.float32) / np.float32(255.0)) * np.float32(hi - lo) + np.float32(lo)
    x = lut[imgs.reshape(len(imgs), -1)]
    return Dataset(
        x=x,
        shape=(1, *imgs.shape[1:]),
        value_range=value_range,
        name=f"mnist-{split}",
        labels=labels,
        class_names=[str(i) for i in range(10)],
    )


@functools.lru_cache(maxsize=4)
def _read_mnist(path: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    # Decompressing takes ~0.5 s; the uint8 arrays (47 MB for train) are kept once read.
    with np.load(path, allow_pickle=False) as z:
        imgs, labels = z[f"x_{split}"], z[f"y_{split}"]
    imgs.setflags(write=False)
    labels.setflags(write=False)
    return imgs, labels


# ---------------------------------------------------------------- IDX files
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed), checking its header against its size."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
                raise DataError(f"{path.name}: not an IDX file (bad magic number)")
            dtype, ndim = np.dtype(_IDX_DTYPES[head[2]]), head[3]
            if not 1 <= ndim <= 4:
                raise DataError(f"{path.name}: IDX header declares {ndim} dimensions")
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DataError(f"{path.name}: truncated IDX header")
            dims = struct.unpack(f">{ndim}I", dims_raw)
            nbytes = dtype.itemsize
            for d in dims:  # Python ints: a lying header cannot overflow
                nbytes *= d
            if nbytes > MAX_IDX_BYTES:
                raise DataError(f"{path.name}: IDX header declares {nbytes} bytes, more than allowed")
            body = f.read(nbytes + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path.name}: cannot read: {e}") from None
    if len(body) < nbytes:
        raise DataError(f"{path.name}: truncated: header declares {nbytes} bytes, file holds {len(body)}")
    if len(body) > nbytes:
        raise DataError(f"{path.name}: more data than the IDX header declares")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def load_idx(
    images: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    name: str | None = None,
) -> Dataset:
    """IDX images (M×H×W or M×H×W×C, uint8 or float) with optional IDX labels."""
    arr = read_idx(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        arr = arr.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{Path(images).name}: expected 3 or 4 dimensions, got {arr.ndim}")
    u = _to_unit(arr, Path(images).name)
    lab = None
    if labels is not None:
        lab = read_idx(labels)
        if lab.ndim != 1 or len(lab) != len(arr):
            raise DataError(f"{Path(labels).name}: {lab.shape} labels for {len(arr)} images")
    return _images_to_dataset(u, lab, value_range, name or Path(images).name.split(".")[0])


def load_idx_folder(
    folder: str | os.PathLike, split: str = "train", value_range: tuple[float, float] = (-1.0, 1.0)
) -> Dataset:
    """A folder of IDX files as MNIST / Fashion-MNIST ship them (also torchvision's ``MNIST/raw``)."""
    folder = Path(folder)
    if (folder / "raw").is_dir():
        folder = folder / "raw"
    prefix = "train" if split == "train" else "t10k"
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no such folder or it is empty")

    def find(kind: str) -> Path | None:
        for p in files:
            n = p.name.lower()
            if n.startswith(prefix) and kind in n and ("idx" in n or "ubyte" in n):
                return p
        return None

    img, lab = find("images"), find("labels")
    if img is None:
        raise DataError(f"{folder}: no {prefix}-images IDX file found")
    return load_idx(
        img, lab, value_range, name=f"{folder.parent.name if folder.name == 'raw' else folder.name}-{split}"
    )


# ---------------------------------------------------------------- arrays
def _to_unit(arr: np.ndarray, what: str) -> np.ndarray:
    """Map raw pixel values to [0, 1]: uint8 by /255, floats already in [0,1] or [−1,1] kept, else min-max."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{what}: unsupported element type {arr.dtype}")
    a = arr.astype(np.float32)
    if not np.isfinite(a).all():
        raise DataError(f"{what}: contains NaN or infinite values")
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0 and hi <= 1.0:
        return a
    if lo >= -1.0 and hi <= 1.0:
        return (a + 1.0) / 2.0
    if arr.dtype.kind in "iu" and lo >= 0 and hi <= 255:
        return a / 255.0
    return (a - lo) / max(hi - lo, 1e-12)


def load_array(
    path: str | os.PathLike, value_range: tuple[float, float] = (-1.0, 1.0), name: str | None = None
) -> Dataset:
    """A ``.npy`` or ``.npz`` array (never unpickled).

    Accepted layouts: (M, D) points or flat samples, (M, H, W) grey images, (M, H, W, C) or
    (M, C, H, W) with C in {1, 3}. In an .npz the images are the key ``x``, ``images``, ``data``
    or ``x_train`` (else the first array); labels are ``y``, ``labels`` or ``y_train``.
    """
    path = Path(path)
    labels = None
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                if not keys:
                    raise DataError(f"{path.name}: the archive holds no arrays")
                xk = next((k for k in ("x", "images", "data", "x_train", "X") if k in keys), keys[0])
                arr = z[xk]
                yk = next((k for k in ("y", "labels", "y_train", "Y") if k in keys), None)
                if yk is not None:
                    labels = z[yk]
        elif path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            raise DataError(f"{path.name}: expected a .npy or .npz file")
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path.name}: cannot read: {e}") from None
    name = name or path.stem
    if labels is not None and (labels.ndim != 1 or len(labels) != len(arr)):
        labels = None
    if arr.ndim == 2:
        # Points or flat samples: float values already inside the range are taken as they are; anything
        # else (uint8 pixels, other scales) is mapped to [0, 1] and then onto the range.
        x = arr.astype(np.float32)
        lo, hi = value_range
        if arr.dtype == np.uint8 or x.min() < lo or x.max() > hi:
            x = _from_unit(_to_unit(arr, path.name), value_range)
        return Dataset(x=x, shape=(arr.shape[1],), value_range=value_range, name=name, labels=labels)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[-1] in (1, 3) and arr.shape[1] not in (1, 3):
            arr = arr.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{path.name}: expected 2 to 4 dimensions, got shape {arr.shape}")
    return _images_to_dataset(_to_unit(arr, path.name), labels, value_range, name)


# ---------------------------------------------------------------- image folders
MAX_IMAGE_PIXELS = 40_000_000  # larger images are skipped (decompression bombs, accidental photos of 100 MP)
MAX_IMAGE_FILES = 1_000_000


def _describe_image_error(e: BaseException) -> str:
    from PIL import Image, UnidentifiedImageError

    if isinstance(e, UnidentifiedImageError):
        return "not an image PIL can read (wrong extension or damaged)"
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too large to import (more than {MAX_IMAGE_PIXELS:,} pixels)"
    if isinstance(e, PermissionError):
        return "cannot read: permission denied"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot read: {e.strerror}"
    return f"damaged image ({str(e) or type(e).__name__})"


def load_image_folder(
    folder: str | os.PathLike,
    size: tuple[int, int] = (28, 28),
    mode: str = "auto",
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> tuple[Dataset, list[str]]:
    """PNG/JPEG/BMP images from ``folder``; each sub-folder is one class.

    size: (height, width) every image is resized to. mode: "L" (grey), "RGB", or "auto" (RGB if
    any image has colour). Returns the data set and the list of skipped files with the reason (also
    the data set's ``skipped``): other file types, unreadable files, damaged images, images over
    MAX_IMAGE_PIXELS (checked from the header, before decoding: decompression bombs are never expanded).
    Each image is resized as soon as it is decoded, so memory follows the output size, not the files'.
    """
    import warnings

    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    entries: list[tuple[Path, str | None]] = []
    skipped: list[str] = []
    try:
        files = sorted(folder.rglob("*"))
    except OSError as e:
        raise DataError(f"{folder}: cannot list: {e.strerror or e}") from None
    for p in files:
        if not p.is_file() or p.name.startswith("."):
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(f"{p.relative_to(folder)}: not a PNG, JPEG or BMP file")
            continue
        rel = p.relative_to(folder).parts
        entries.append((p, rel[0] if len(rel) > 1 else None))
    if not entries:
        raise DataError(
            f"{folder}: no PNG, JPEG or BMP images found" + (f" ({len(skipped)} other files)" if skipped else "")
        )
    if len(entries) > MAX_IMAGE_FILES:
        raise DataError(f"{folder}: {len(entries):,} images; at most {MAX_IMAGE_FILES:,} can be imported")

    def bad(p: Path, e: BaseException) -> None:
        skipped.append(f"{p.relative_to(folder)}: {_describe_image_error(e)}")

    # Pass 1: headers only (size, colour mode): refuse huge images before any pixel is decoded.
    ok: list[tuple[Path, str | None, str]] = []
    for p, cls in entries:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(p) as im:
                    w, h = im.size
                    if w < 1 or h < 1 or w * h > MAX_IMAGE_PIXELS:
                        raise Image.DecompressionBombError(f"{w}×{h}")
                    ok.append((p, cls, im.mode))
        except (
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            struct.error,
            EOFError,
        ) as e:
            bad(p, e)
    if mode == "auto":
        mode = "RGB" if any(m not in ("L", "1", "I", "I;16", "I;16B", "I;16L", "F", "LA") for *_, m in ok) else "L"
    # Pass 2: decode, convert, resize one at a time.
    h, w = size
    arrs, classes_of = [], []
    for p, cls, _ in ok:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(p) as im:
                    im.draft(mode, (w, h))  # JPEG: decode at a reduced size when that is enough
                    small = im.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
        except (
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            struct.error,
            EOFError,
        ) as e:
            bad(p, e)
            continue
        a = np.asarray(small, dtype=np.float32) / 255.0
        arrs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        classes_of.append(cls)
    if not arrs:
        first = next((s for s in skipped if "not a PNG, JPEG or BMP file" not in s), "unknown")
        raise DataError(f"{folder}: none of {len(entries)} images could be read; first problem: {first}")
    classes = sorted({c for c in classes_of if c is not None})
    labels = np.array([classes.index(c) for c in classes_of]) if classes and all(classes_of) else None
    ds = _images_to_dataset(np.stack(arrs), labels, value_range, folder.name, classes if labels is not None else [])
    ds.skipped = skipped
    return ds, skipped


# ---------------------------------------------------------------- points
def make_points(points, value_range: tuple[float, float] = (0.0, 1.0), name: str = "points") -> Dataset:
    """Any list of 1-D or 2-D points (each inside ``value_range``)."""
    try:
        a = np.asarray(points, dtype=np.float32)
    except (ValueError, TypeError):
        raise DataError("points must be numbers, all of the same dimension (1-D or 2-D)") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] not in (1, 2) or a.shape[0] == 0:
        raise DataError(f"points must be a non-empty list of 1-D or 2-D points, got shape {a.shape}")
    lo, hi = value_range
    if a.min() < lo or a.max() > hi:
        raise DataError(f"points must lie in [{lo}, {hi}]")
    return Dataset(x=a, shape=(a.shape[1],), value_range=value_range, name=name)


def point_preset(name: str) -> Dataset:
    """One of the paper's point sets: 1d-sigmoid, 1d-tanh, 2d-corners, 2d-center."""
    if name not in POINT_PRESETS:
        raise DataError(f"unknown point preset {name!r}; choose one of {', '.join(POINT_PRESETS)}")
    pts, rng = POINT_PRESETS[name]
    return make_points(pts, rng, name=name)


def source_for_name(name: str) -> str | None:
    """The :func:`open_source` key for a data set a model file names (its Dataset.name), or None
    when the name is not one of the bundled sets (a user's folder or file)."""
    if name.startswith("mnist"):
        return "mnist:test" if name.startswith("mnist-test") else "mnist:train"
    if name.startswith("points:"):
        return name
    if name in POINT_PRESETS:
        return f"points:{name}"
    return None


def open_source(
    spec: str, value_range: tuple[float, float] = (-1.0, 1.0), image_size: tuple[int, int] = (28, 28)
) -> Dataset:
    """Resolve a data-source string as the CLI and the UI accept it.

    ``mnist`` / ``mnist:train`` / ``mnist:test``; ``points:PRESET`` or ``points:0.2,0.8`` or
    ``points:0.2/0.2,0.8/0.8``; a ``.npz``/``.npy`` file; an IDX file or folder; a folder of images.
    """
    if spec in ("mnist", "mnist:train", "mnist:test"):
        return load_mnist("test" if spec.endswith("test") else "train", value_range)
    if spec.startswith("points:"):
        body = spec[len("points:") :]
        if body in POINT_PRESETS:
            ds = point_preset(body)
            return ds.to_range(value_range) if ds.value_range != tuple(value_range) else ds
        try:
            pts = [[float(v) for v in p.split("/")] for p in body.split(",") if p]
        except ValueError:
            raise DataError(f"cannot parse points {body!r}: use 0.2,0.8 or 0.2/0.2,0.8/0.8") from None
        return make_points(pts, value_range)
    p = Path(spec)
    if not p.exists():
        raise DataError(f"{spec}: no such file or folder (try mnist, points:1d-sigmoid, a .npz, IDX or image folder)")
    if p.is_file():
        if p.suffix in (".npz", ".npy"):
            return load_array(p, value_range)
        if "idx" in p.name or "ubyte" in p.name:
            return load_idx(p, value_range=value_range)
        raise DataError(f"{p.name}: unknown file type")
    sub = p / "raw" if (p / "raw").is_dir() else p
    if any("ubyte" in q.name or "idx" in q.name for q in sub.iterdir()):
        return load_idx_folder(p, value_range=value_range)
    ds, _ = load_image_folder(p, image_size, value_range=value_range)
    return ds


def reference_data(
    dataset_name: str,
    D: int,
    value_range: tuple[float, float],
    *,
    source: str | None = None,
    known=(),
    opener=None,
) -> Dataset:
    """The training data a model is measured against (nearest-training distances, copies, recovery): the
    data source ``source`` when one is given (``kgn … --data``); else a data set already in hand (``known``:
    the one just trained on, imported files) with the model's dataset name and D values a sample; else the
    bundled set that name names (:func:`source_for_name`). ``opener(key, value_range)`` opens sources
    (default :func:`open_source`; the window passes its cache). Raises DataError, one line, when none fits."""
    vr = (float(value_range[0]), float(value_range[1]))
    if source is None:
        for ds in known:
            if ds is not None and ds.name == dataset_name and ds.D == D:
                return ds if tuple(ds.value_range) == vr else ds.to_range(vr)
        source = source_for_name(str(dataset_name))
        if source is None:
            raise DataError(
                f"the model was trained on {dataset_name!r}, which is not bundled: give its data "
                "(kgn --data, or File → Import data in the window)"
            )
    try:
        ds = (opener or open_source)(source, vr)
    except DataError as e:
        raise DataError(f"cannot open the reference data {source!r}: {e}") from None
    if ds.D != D:
        raise DataError(f"the reference data {ds.name} has {ds.D} values per sample, the model {D}")
    return ds
