"""Data from array files: IDX (raw or gzip'd, a file or a folder of a split) and .npz / .npy, checked
against their declared sizes before they are read."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import DataError, printable
from ..safe_io import (
    MAX_DEFLATE_RATIO,
    RATIO_SLACK_BYTES,
    NpzArchive,
    load_npy,
    open_regular,
    read_exactly,
    reason_of,
    shown,
)
from .dataset import IMAGE_CHANNELS, ByteDataset, Dataset, check_labels, from_unit, images_to_dataset, reading

# The most memory one data file may ask for: the bytes its header declares, or its values as float32
# (what the app keeps of anything but bytes: uint8 IDX images are kept as bytes, a ByteDataset), whichever
# is larger. Checked from the header before any data are read; compressed
# data (gzip'd IDX, .npz members) are never inflated past it.
MAX_DATA_BYTES = 2 << 30


# ---------------------------------------------------------------- IDX files
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike, *, bytes_kept: bool = False) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed; regular files only), checking its header against its size
    and against MAX_DATA_BYTES before reading: a gzip'd file is inflated only up to the declared size.
    ``bytes_kept``: the caller keeps uint8 values as they are, so they count one byte each, not four."""
    path = Path(path)
    name = shown(path)
    with reading(path), open_regular(path) as f:
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
        kept_as_bytes = bytes_kept and dtype == np.uint8
        need = nbytes if kept_as_bytes else max(nbytes, 4 * count)  # as stored, or as float32
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
    """IDX images (M×H×W, or M×H×W×C with C = 1 or 3; uint8 or numbers) with optional IDX labels. uint8
    images (MNIST's, Fashion-MNIST's) are kept as bytes: a ByteDataset, a quarter of the float32 memory."""
    arr = read_idx(images, bytes_kept=True)
    iname = shown(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[3] not in IMAGE_CHANNELS:
            raise _channel_error(iname, arr.shape[3], arr.shape)
        arr = arr.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{iname}: expected 3 or 4 dimensions, got {arr.ndim}")
    lab = None
    if labels is not None:
        lab = read_idx(labels)
        if lab.ndim != 1 or len(lab) != len(arr):
            raise DataError(f"{shown(labels)}: {lab.shape} labels for {len(arr)} images")
        lab = check_labels(lab, len(arr), shown(labels))
    name = name or Path(images).name.split(".")[0]
    if arr.dtype == np.uint8:  # the bytes k stand for k/255: as _to_unit maps them, bit for bit
        return ByteDataset(np.ascontiguousarray(arr).reshape(len(arr), -1), arr.shape[1:], value_range, name, lab)
    return images_to_dataset(_to_unit(arr, iname), lab, value_range, name)


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
    base = folder.parent.name if folder.name == "raw" else folder.name
    ds = load_idx(img, lab, value_range, name=f"{base}-{split}")
    ds.class_names = _classes_txt(folder, ds.labels) or idx_class_names(base, ds.labels)
    return ds


def _classes_txt(folder: Path, labels) -> list[str]:
    """The names of a ``classes.txt`` beside the IDX files (one a line, as many as there are classes), or []."""
    p = folder / "classes.txt"
    if labels is None or not len(labels) or not p.is_file():
        return []
    try:
        with open_regular(p) as f:
            lines = [
                printable(line.strip())[:MAX_CLASS_NAME]
                for line in f.read(1 << 20).decode("utf-8", "replace").splitlines()
            ]
    except (OSError, DataError):
        return []
    lines = [n for n in lines if n]
    return lines if len(lines) == int(np.max(labels)) + 1 else []


def has_test_split(folder: str | os.PathLike) -> bool:
    """Whether an IDX folder holds a t10k-images file (its test split)."""
    folder = Path(folder)
    folder = folder / "raw" if (folder / "raw").is_dir() else folder
    try:
        return any(p.name.lower().startswith("t10k") and "images" in p.name.lower() for p in folder.iterdir())
    except OSError:
        return False


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
    if c in IMAGE_CHANNELS and a not in IMAGE_CHANNELS:
        return arr.transpose(0, 3, 1, 2)
    if a in IMAGE_CHANNELS:
        return arr
    raise _channel_error(what, min(a, c), arr.shape)  # the shorter axis is the likelier channel axis


def load_array(
    path: str | os.PathLike,
    value_range: tuple[float, float] = (-1.0, 1.0),
    name: str | None = None,
    split: str = "train",
) -> Dataset:
    """A ``.npy`` or ``.npz`` array (regular files only; never unpickled; headers checked before reading).

    Accepted layouts: (M, D) points or flat samples, (M, H, W) grey images, (M, H, W, C) or
    (M, C, H, W) with C in {1, 3}. In an .npz the images are the key ``x``, ``images``, ``data``
    or ``x_train`` (else the first array); labels are ``y``, ``labels`` or ``y_train``: whole numbers
    ≥ 0, one per sample. Values are integers, booleans or floats, all finite; anything else is refused
    with the file's name. ``split="test"``: the archive's ``x_test`` / ``y_test`` (DataError when it has
    none). Class names: an array ``class_names`` (strings) in the archive.
    """
    path = Path(path)
    fname = shown(path)
    suffix = path.suffix.lower()
    labels, yk, class_names = None, None, []
    with reading(path):
        if suffix == ".npz":
            with NpzArchive(path, max_bytes=MAX_DATA_BYTES) as z:
                keys = z.keys
                if not keys:
                    raise DataError(f"{fname}: the archive holds no arrays")
                if split == "test":
                    if "x_test" not in keys:
                        raise DataError(f"{fname}: the archive has no x_test")
                    xk, yk = "x_test", "y_test" if "y_test" in keys else None
                else:
                    xk = next((k for k in ("x", "images", "data", "x_train", "X") if k in keys), keys[0])
                    yk = next((k for k in ("y", "labels", "y_train", "Y") if k in keys and k != xk), None)
                arr = z.read(xk)
                if yk is not None:
                    labels = z.read(yk)
                if "class_names" in keys:
                    class_names = _names(z.read("class_names", kinds="US"), fname)
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
            x = from_unit(_to_unit(arr, fname), value_range)
        ds = Dataset(x=x, shape=(arr.shape[1],), value_range=value_range, name=name, labels=labels)
        ds.class_names = class_names
        return ds
    return images_to_dataset(_to_unit(_as_images(arr, fname), fname), labels, value_range, name, class_names)


MAX_CLASS_NAME = 200  # characters of one class name kept


def _names(arr: np.ndarray, fname: str) -> list[str]:
    """An archive's ``class_names``: a 1-D array of strings (or bytes), each made printable and cut short."""
    if arr.ndim != 1 or arr.dtype.kind not in "US" or len(arr) > 100_000:
        raise DataError(f"{fname}: class_names must be a 1-D array of strings, got {arr.dtype} {arr.shape}")
    out = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr.tolist()]
    return [printable(v)[:MAX_CLASS_NAME] for v in out]


WELL_KNOWN_CLASSES = {  # the IDX sets whose labels have names
    "fashion": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot"],
    "mnist": [str(i) for i in range(10)],
}  # fmt: skip


def idx_class_names(folder_name: str, labels) -> list[str]:
    """Names for the labels of an IDX set from its folder's name: Fashion-MNIST's ten, or the digits for
    an MNIST-like set (ten classes 0 … 9); else none (shown as class_K)."""
    if labels is None or not len(labels) or int(np.max(labels)) > 9:
        return []
    n = folder_name.lower()
    return list(WELL_KNOWN_CLASSES["fashion" if "fashion" in n else "mnist"])
