"""Data sets for manifold learning.

A :class:`Dataset` is an M×D float32 array in the model's value range ([0, 1] for a Sigmoid
network, [−1, 1] for a Tanh one), the shape of one sample ((C, H, W) for images, (d,) for
points), optional integer labels and a name. Every loader reads pixels as [0, 1] first and
then maps them linearly onto the requested range.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import stat
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .bundled import RESOURCES_DIR
from .errors import DataError, printable
from .safe_io import (
    MAX_DEFLATE_RATIO,
    RATIO_SLACK_BYTES,
    NpzArchive,
    Refused,
    kind_of,
    load_npy,
    one_line,
    open_regular,
    read_exactly,
    reason_of,
    shown,
)

RESOURCES = RESOURCES_DIR  # the bundled data (core.bundled: inside the package, or the checkout's)
MNIST_FILE = RESOURCES / "mnist" / "mnist.npz"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
IMAGE_KINDS = "PNG, JPEG, BMP, GIF, TIFF or WebP"  # in messages
# The only Pillow decoders an image import ever uses, named before a file is opened: content sniffing never
# reaches another plugin (EPS/PS/PDF hand the file to Ghostscript, a separate program).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
# The most memory one data file may ask for: the bytes its header declares, or its values as float32
# (what the app keeps), whichever is larger. Checked from the header before any data are read; compressed
# data (gzip'd IDX, .npz members) are never inflated past it.
MAX_DATA_BYTES = 2 << 30
MAX_LABEL = 2**31 - 1

# The paper's point experiments (PAPER.md).
POINT_PRESETS: dict[str, tuple[list[list[float]], tuple[float, float]]] = {
    "1d-sigmoid": ([[0.2], [0.8]], (0.0, 1.0)),
    "1d-tanh": ([[-0.8], [-0.2], [0.2], [0.8]], (-1.0, 1.0)),
    "2d-corners": ([[0.2, 0.2], [0.2, 0.8], [0.8, 0.2], [0.8, 0.8]], (0.0, 1.0)),
    "2d-center": ([[0.5, 0.5]], (0.0, 1.0)),
}


@contextlib.contextmanager
def _reading(path):
    """Every failure while reading ``path`` (any exception type) as one DataError naming the file."""
    try:
        yield
    except DataError:
        raise
    except Refused as e:
        raise DataError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - a hostile file can raise anything; the user sees one line
        raise DataError(f"{shown(path)}: {reason_of(e)}") from None


def check_labels(labels, n: int, what: str) -> np.ndarray:
    """Labels as int64: a 1-D array of n class numbers, integers ≥ 0 (booleans, or floats that are exactly
    whole numbers, are taken as such). Anything else is refused with ``what`` (the file) in the message."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or len(lab) != n:
        raise DataError(f"{what}: {lab.shape} labels for {n} samples")
    if lab.dtype.kind not in "biuf" or lab.dtype.names is not None:
        raise DataError(f"{what}: labels must be whole numbers ≥ 0, not {lab.dtype} values")
    if lab.dtype.kind == "b":
        return lab.astype(np.int64)
    if lab.dtype.kind == "f":
        bad = ~np.isfinite(lab)
        if bad.any():
            raise DataError(f"{what}: labels must be whole numbers ≥ 0; found {lab[bad][0]}")
        frac = lab != np.floor(lab)
        if frac.any():
            raise DataError(f"{what}: labels must be whole numbers ≥ 0; found {float(lab[frac][0]):g}")
    lo, hi = lab.min(), lab.max()
    if lo < 0:
        raise DataError(f"{what}: labels must be whole numbers ≥ 0; found {lo}")
    if hi > MAX_LABEL:
        raise DataError(f"{what}: labels must be whole numbers ≥ 0 up to {MAX_LABEL:,}; found {hi}")
    return lab.astype(np.int64)


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
        x = np.asarray(self.x)
        if x.dtype.kind not in "biuf" or x.dtype.names is not None:
            raise DataError(f"{self.name}: data must be numbers (integers or floating point), not {x.dtype}")
        self.x = np.ascontiguousarray(x, dtype=np.float32)
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
            self.labels = check_labels(np.asarray(self.labels).reshape(-1), len(self.x), self.name)

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
    out = u.astype(np.float32)  # one copy, then in place: the same float32 operations, no temporaries
    out *= np.float32(hi - lo)
    out += np.float32(lo)
    return out


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
    """Read one IDX file (raw or gzip-compressed; regular files only), checking its header against its size
    and against MAX_DATA_BYTES before reading: a gzip'd file is inflated only up to the declared size."""
    path = Path(path)
    name = shown(path)
    with _reading(path), open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        gz = path.suffix.lower() == ".gz"
        src = gzip.GzipFile(fileobj=f, mode="rb") if gz else f
        head = src.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
            raise DataError(f"{name}: not an IDX file (bad magic number)")
        dtype, ndim = np.dtype(_IDX_DTYPES[head[2]]), head[3]
        if not 1 <= ndim <= 4:
            raise DataError(f"{name}: IDX header declares {ndim} dimensions")
        dims_raw = src.read(4 * ndim)
        if len(dims_raw) < 4 * ndim:
            raise DataError(f"{name}: truncated IDX header")
        dims = struct.unpack(f">{ndim}I", dims_raw)
        count = 1
        for d in dims:  # Python ints: a lying header cannot overflow
            count *= d
        if count == 0:
            raise DataError(f"{name}: the IDX header declares no values (dimensions {list(dims)})")
        nbytes = count * dtype.itemsize
        need = max(nbytes, 4 * count)  # as stored, or as the float32 the data set keeps
        if need > MAX_DATA_BYTES:
            raise DataError(
                f"{name}: IDX header declares {list(dims)} values ({need:,} bytes), more than allowed "
                f"({MAX_DATA_BYTES:,} bytes)"
            )
        if not gz:
            held = size - 4 - 4 * ndim
            if held < nbytes:
                raise DataError(f"{name}: truncated: header declares {nbytes} bytes, file holds {held}")
            if held > nbytes:
                raise DataError(f"{name}: more data than the IDX header declares")
        elif nbytes > size * MAX_DEFLATE_RATIO + RATIO_SLACK_BYTES:
            raise DataError(
                f"{name}: truncated: header declares {nbytes:,} bytes, more than a {size:,}-byte gzip file can hold"
            )
        body = read_exactly(src, nbytes, name, "the IDX data")
        if gz and src.read(1):
            raise DataError(f"{name}: more data than the IDX header declares")
    return body.view(dtype).reshape(dims)


def load_idx(
    images: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    name: str | None = None,
) -> Dataset:
    """IDX images (M×H×W, or M×H×W×C with C = 1 or 3; uint8 or numbers) with optional IDX labels."""
    arr = read_idx(images)
    iname = shown(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[3] not in (1, 3):
            raise _channel_error(iname, arr.shape[3], arr.shape)
        arr = arr.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{iname}: expected 3 or 4 dimensions, got {arr.ndim}")
    u = _to_unit(arr, iname)
    lab = None
    if labels is not None:
        lab = read_idx(labels)
        if lab.ndim != 1 or len(lab) != len(arr):
            raise DataError(f"{shown(labels)}: {lab.shape} labels for {len(arr)} images")
        lab = check_labels(lab, len(arr), shown(labels))
    return _images_to_dataset(u, lab, value_range, name or Path(images).name.split(".")[0])


def load_idx_folder(
    folder: str | os.PathLike, split: str = "train", value_range: tuple[float, float] = (-1.0, 1.0)
) -> Dataset:
    """A folder of IDX files as MNIST / Fashion-MNIST ship them (also torchvision's ``MNIST/raw``)."""
    folder = Path(folder)
    if (folder / "raw").is_dir():
        folder = folder / "raw"
    prefix = "train" if split == "train" else "t10k"
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    except OSError as e:
        raise DataError(f"{printable(folder)}: cannot list: {reason_of(e)}") from None
    if not files:
        raise DataError(f"{printable(folder)}: no such folder or it is empty")

    def find(kind: str) -> Path | None:
        for p in files:
            n = p.name.lower()
            if n.startswith(prefix) and kind in n and ("idx" in n or "ubyte" in n):
                return p
        return None

    img, lab = find("images"), find("labels")
    if img is None:
        raise DataError(f"{printable(folder)}: no {prefix}-images IDX file found")
    return load_idx(
        img, lab, value_range, name=f"{folder.parent.name if folder.name == 'raw' else folder.name}-{split}"
    )


# ---------------------------------------------------------------- arrays
def _check_finite(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(f"{what}: contains NaN or infinite values ({int(bad.sum()):,} of {arr.size:,})")


def _channel_error(what: str, c: int, shape: tuple[int, ...]) -> DataError:
    hint = "; drop the alpha channel" if c == 4 else ""
    return DataError(
        f"{what}: images with {c} channels (shape {tuple(shape)}); the models draw 1 (grey) or 3 (RGB){hint}"
    )


def _to_unit(arr: np.ndarray, what: str) -> np.ndarray:
    """Map raw pixel values to [0, 1]: uint8 by /255, floats already in [0,1] or [−1,1] kept, else min-max."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if arr.dtype.kind not in "fiub" or arr.dtype.names is not None:
        raise DataError(f"{what}: unsupported element type {arr.dtype}")
    if arr.dtype.kind == "b":
        return arr.astype(np.float32)
    _check_finite(arr, what)
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0.0 and hi <= 1.0:
        return arr.astype(np.float32)
    if lo >= -1.0 and hi <= 1.0:
        return (arr.astype(np.float32) + np.float32(1.0)) / np.float32(2.0)
    if arr.dtype.kind in "iu" and lo >= 0 and hi <= 255:
        return arr.astype(np.float32) / np.float32(255.0)
    if max(abs(lo), abs(hi)) < 1e30:  # min-max in float32: no overflow on the way
        a = arr.astype(np.float32)
        return (a - np.float32(lo)) / np.float32(max(hi - lo, 1e-12))
    # Values beyond float32 (finite float64 up to 1.8e308): scale in float64 by halves (hi − lo may overflow).
    a = arr.astype(np.float64) * 0.5
    return ((a - lo * 0.5) / (hi * 0.5 - lo * 0.5)).astype(np.float32)


def _as_images(arr: np.ndarray, what: str) -> np.ndarray:
    """(M, H, W) → (M, 1, H, W); (M, H, W, C) → (M, C, H, W) when C is 1 or 3 and dimension 1 is not;
    (M, C, H, W) with C = 1 or 3 kept. Other channel counts (RGBA, grey + alpha, …) are refused: the models
    and every drawing of a sample handle 1 or 3 channels only."""
    if arr.ndim == 3:
        return arr[:, None]
    a, c = arr.shape[1], arr.shape[3]
    if c in (1, 3) and a not in (1, 3):
        return arr.transpose(0, 3, 1, 2)
    if a in (1, 3):
        return arr
    raise _channel_error(what, min(a, c), arr.shape)  # the shorter axis is the likelier channel axis


def load_array(
    path: str | os.PathLike, value_range: tuple[float, float] = (-1.0, 1.0), name: str | None = None
) -> Dataset:
    """A ``.npy`` or ``.npz`` array (regular files only; never unpickled; headers checked before reading).

    Accepted layouts: (M, D) points or flat samples, (M, H, W) grey images, (M, H, W, C) or
    (M, C, H, W) with C in {1, 3}. In an .npz the images are the key ``x``, ``images``, ``data``
    or ``x_train`` (else the first array); labels are ``y``, ``labels`` or ``y_train``: whole numbers
    ≥ 0, one per sample. Values are integers, booleans or floats, all finite; anything else is refused
    with the file's name.
    """
    path = Path(path)
    fname = shown(path)
    suffix = path.suffix.lower()
    labels, yk = None, None
    with _reading(path):
        if suffix == ".npz":
            with NpzArchive(path, max_bytes=MAX_DATA_BYTES) as z:
                keys = z.keys
                if not keys:
                    raise DataError(f"{fname}: the archive holds no arrays")
                xk = next((k for k in ("x", "images", "data", "x_train", "X") if k in keys), keys[0])
                arr = z.read(xk)
                yk = next((k for k in ("y", "labels", "y_train", "Y") if k in keys and k != xk), None)
                if yk is not None:
                    labels = z.read(yk)
        elif suffix == ".npy":
            arr = load_npy(path, max_bytes=MAX_DATA_BYTES)
        else:
            raise DataError(f"{fname}: expected a .npy or .npz file")
    name = name or path.stem
    if arr.ndim not in (2, 3, 4):
        raise DataError(f"{fname}: expected 2 to 4 dimensions, got shape {arr.shape}")
    if labels is not None:
        labels = check_labels(labels, len(arr), f"{fname} (labels {printable(yk)!r})")
    _check_finite(arr, fname)
    if arr.ndim == 2:
        # Points or flat samples: values already inside the range are taken as they are; anything else
        # (uint8 pixels, other scales) is mapped to [0, 1] and then onto the range.
        lo, hi = value_range
        if arr.dtype != np.uint8 and float(arr.min()) >= lo and float(arr.max()) <= hi:
            x = arr.astype(np.float32)
        else:
            x = _from_unit(_to_unit(arr, fname), value_range)
        return Dataset(x=x, shape=(arr.shape[1],), value_range=value_range, name=name, labels=labels)
    return _images_to_dataset(_to_unit(_as_images(arr, fname), fname), labels, value_range, name)


# ---------------------------------------------------------------- image folders
MAX_IMAGE_PIXELS = 40_000_000  # larger images are skipped (decompression bombs, accidental photos of 100 MP)
MAX_IMAGE_FILES = 1_000_000


_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # more than 8 bits: scaled by numpy, not Pillow


class _Skip(Exception):
    """An image left out of an import; the message is the reason."""


def _describe_image_error(e: BaseException) -> str:
    from PIL import Image, UnidentifiedImageError

    if isinstance(e, _Skip):
        return str(e)
    if isinstance(e, Refused):
        return e.reason
    if isinstance(e, UnidentifiedImageError):
        return "not an image PIL can read (wrong extension or damaged)"
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too large to import (more than {MAX_IMAGE_PIXELS:,} pixels)"
    if isinstance(e, MemoryError):
        return "not enough memory to decode it"
    if isinstance(e, PermissionError):
        return "cannot read: permission denied"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot read: {e.strerror}"
    return f"damaged image ({one_line(str(e), 200) or type(e).__name__})"


@contextlib.contextmanager
def _open_image(p: Path):
    """A Pillow image of the regular file ``p``, decoded only by one of IMAGE_FORMATS (never by sniffing
    into another plugin), with Pillow's warnings silenced except decompression bombs, which raise."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with open_regular(p) as f, Image.open(f, formats=IMAGE_FORMATS) as im:
            yield im


def _image_to_unit(im, mode: str, size: tuple[int, int]) -> np.ndarray:
    """One image as a (C, h, w) float32 array in [0, 1], C = 1 for mode "L" and 3 for "RGB", resized to
    ``size`` (h, w). 8-bit modes go through Pillow (palette → RGBA first so transparency needs no guess;
    alpha is dropped; CMYK/YCbCr → RGB); 16-bit greys are scaled by 1/65535, 32-bit integers the same when
    they lie in 0…65535, float images are taken when they lie in [0, 1]. Nothing is clipped: a value outside
    those ranges skips the image with the reason."""
    from PIL import Image

    h, w = size
    if im.mode in _DEEP_MODES:
        a = np.asarray(im)
        if im.mode == "F":
            if not np.isfinite(a).all():
                raise _Skip("float pixels that are NaN or infinite")
            lo, hi = float(a.min()), float(a.max())
            if lo < 0.0 or hi > 1.0:
                raise _Skip(f"float pixels outside 0…1 ({lo:g} … {hi:g})")
            u = a.astype(np.float32)
        else:
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi > 65535:
                raise _Skip(f"32-bit pixels outside 0…65535 ({lo} … {hi})")
            u = a.astype(np.float32) / np.float32(65535.0)
        del a
        small = np.asarray(Image.fromarray(u).resize((w, h), Image.Resampling.BILINEAR), np.float32)
        return np.repeat(small[None], 3 if mode == "RGB" else 1, axis=0)
    im.draft(mode, (w, h))  # JPEG: decode at a reduced size when that is enough
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")
    base = "L" if im.mode in _GREY_MODES else "RGB"
    if im.mode != base:
        im = im.convert(base)
    if im.mode != mode:
        im = im.convert(mode)
    small = np.asarray(im.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32) / np.float32(255.0)
    return small[None] if small.ndim == 2 else small.transpose(2, 0, 1)


def load_image(path: str | os.PathLike, shape: tuple[int, ...], value_range: tuple[float, float]) -> np.ndarray:
    """One image file as a state of ``shape`` (C, H, W) in ``value_range`` (resized to H×W, grey when C = 1);
    any failure is one DataError line naming the file (never a traceback)."""
    p = Path(path)
    if len(shape) != 3:
        raise DataError(f"{printable(p.name)}: an image needs an image model (this model's states are {shape})")
    C, H, W = shape
    try:
        with _open_image(p) as im:
            u = _image_to_unit(im, "L" if C == 1 else "RGB", (H, W))
    except Exception as e:  # noqa: BLE001 - one line, whatever went wrong
        raise DataError(f"{printable(p.name)}: {_describe_image_error(e)}") from None
    return _from_unit(u, value_range).reshape(-1)


def load_image_folder(
    folder: str | os.PathLike,
    size: tuple[int, int] = (28, 28),
    mode: str = "auto",
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> tuple[Dataset, list[str]]:
    """PNG/JPEG/BMP/GIF/TIFF/WebP images from ``folder``; each sub-folder is one class.

    size: (height, width) every image is resized to. mode: "L" (grey), "RGB", or "auto" (RGB if
    any image has colour). Returns the data set and the list of skipped files with the reason (also
    the data set's ``skipped``): other file types, files that are not regular files (FIFOs, devices),
    unreadable files, damaged images, images over MAX_IMAGE_PIXELS (checked from the header, before
    decoding: decompression bombs are never expanded), pixel values that cannot be scaled to [0, 1].
    Only the decoders in IMAGE_FORMATS are used, whatever a file's name or content; any exception a
    decoder raises skips that file, never the folder. Each image is resized as soon as it is decoded, so
    memory follows the output size, not the files'. Alpha is dropped; 16-bit images are scaled, not clipped.
    """
    from PIL import Image

    if mode not in ("auto", "L", "RGB"):
        raise DataError(f"image mode must be auto, L or RGB, not {mode!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{printable(folder)}: not a folder")
    entries: list[tuple[Path, str | None]] = []
    skipped: list[str] = []

    def rel(p: Path) -> str:
        return printable(p.relative_to(folder).as_posix())

    try:
        files = sorted(folder.rglob("*"))
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{printable(folder)}: cannot list: {reason_of(e)}") from None
    for p in files:
        if p.name.startswith("."):
            continue
        try:
            st = os.stat(p)
        except Exception as e:  # noqa: BLE001 - a broken link, a file removed meanwhile
            skipped.append(f"{rel(p)}: {reason_of(e)}")
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(f"{rel(p)}: not a {IMAGE_KINDS} file")
            continue
        if not stat.S_ISREG(st.st_mode):
            skipped.append(f"{rel(p)}: not a regular file ({kind_of(st.st_mode)})")
            continue
        parts = p.relative_to(folder).parts
        entries.append((p, parts[0] if len(parts) > 1 else None))
    if not entries:
        raise DataError(
            f"{printable(folder)}: no {IMAGE_KINDS} images found"
            + (f" ({len(skipped)} other files)" if skipped else "")
        )
    if len(entries) > MAX_IMAGE_FILES:
        raise DataError(f"{printable(folder)}: {len(entries):,} images; at most {MAX_IMAGE_FILES:,} can be imported")

    def bad(p: Path, e: BaseException) -> None:
        skipped.append(f"{rel(p)}: {_describe_image_error(e)}")

    # Pass 1: headers only (size, colour mode): refuse huge images before any pixel is decoded.
    ok: list[tuple[Path, str | None, str]] = []
    for p, cls in entries:
        try:
            with _open_image(p) as im:
                w, h = im.size
                if w < 1 or h < 1 or w * h > MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError(f"{w}×{h}")
                ok.append((p, cls, im.mode))
        except Exception as e:  # noqa: BLE001 - any decoder failure skips the file, never the folder
            bad(p, e)
    if mode == "auto":
        mode = "RGB" if any(m not in _GREY_MODES for *_, m in ok) else "L"
    # Pass 2: decode, convert, resize one at a time.
    arrs, classes_of = [], []
    for p, cls, _ in ok:
        try:
            with _open_image(p) as im:
                arrs.append(_image_to_unit(im, mode, size))
        except Exception as e:  # noqa: BLE001
            bad(p, e)
            continue
        classes_of.append(cls)
    if not arrs:
        first = next((s for s in skipped if f"not a {IMAGE_KINDS} file" not in s), "unknown")
        raise DataError(f"{printable(folder)}: none of {len(entries)} images could be read; first problem: {first}")
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
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(
            f"{printable(spec)}: no such file or folder (try mnist, points:1d-sigmoid, a .npz, IDX or image folder)"
        ) from None
    except Exception as e:  # noqa: BLE001 - permission, a link loop, a name too long: one line
        raise DataError(f"{printable(spec)}: {reason_of(e)}") from None
    if stat.S_ISREG(st.st_mode):
        if p.suffix.lower() in (".npz", ".npy"):
            return load_array(p, value_range)
        if "idx" in p.name or "ubyte" in p.name:
            return load_idx(p, value_range=value_range)
        raise DataError(f"{shown(p)}: unknown file type")
    if not stat.S_ISDIR(st.st_mode):
        raise DataError(f"{printable(spec)}: not a regular file or a folder ({kind_of(st.st_mode)})")
    sub = p / "raw" if (p / "raw").is_dir() else p
    try:
        names = [q.name for q in sub.iterdir()]
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{printable(spec)}: cannot list: {reason_of(e)}") from None
    if any("ubyte" in n or "idx" in n for n in names):
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
