"""Every data-source string people type (mnist, mnist:test, points:PRESET, a list of points, a file or
folder) → a Dataset: open_source; the paper's point sets; what a model is measured against (reference_data)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from ..errors import DataError, printable
from ..safe_io import kind_of, reason_of, shown
from .arrays import has_test_split, load_array, load_idx, load_idx_folder
from .cache import cached_import
from .dataset import Dataset, set_aside
from .images import load_image_folder
from .mnist import load_mnist

# The paper's point experiments (PAPER.md).
POINT_PRESETS: dict[str, tuple[list[list[float]], tuple[float, float]]] = {
    "1d-sigmoid": ([[0.2], [0.8]], (0.0, 1.0)),
    "1d-tanh": ([[-0.8], [-0.2], [0.2], [0.8]], (-1.0, 1.0)),
    "2d-corners": ([[0.2, 0.2], [0.2, 0.8], [0.8, 0.2], [0.8, 0.8]], (0.0, 1.0)),
    "2d-center": ([[0.5, 0.5]], (0.0, 1.0)),
}


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
    spec: str,
    value_range: tuple[float, float] = (-1.0, 1.0),
    image_size: tuple[int, int] = (28, 28),
    subset: tuple[int, int] | None = None,
) -> Dataset:
    """Resolve a data-source string as the CLI and the UI accept it.

    ``mnist`` / ``mnist:train`` / ``mnist:test``; ``points:PRESET`` or ``points:0.2,0.8`` or
    ``points:0.2/0.2,0.8/0.8``; a ``.npz``/``.npy`` file; an IDX file or folder; a folder of images. Files
    and folders of images are decoded once and then mapped from the data cache (core.data.cache).
    ``subset`` = (n, seed): the data set's ``.subset(n, seed)`` (from the cache only those rows are read).
    """
    ds = _open(spec, value_range, image_size, subset)
    if subset is not None and ds.M > subset[0]:
        return ds.subset(*subset)
    ds.source = spec if tuple(image_size) == (28, 28) else None  # (a command line's default image size)
    return ds


def _open(spec: str, value_range, image_size, subset) -> Dataset:
    if spec in ("mnist", "mnist:train", "mnist:test"):
        ds = load_mnist("test" if spec.endswith("test") else "train", value_range)
        if not spec.endswith("test"):  # the test digits: its held-out split (loaded once, a background read)
            ds.heldout = load_mnist("test", value_range)
        return ds
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
    vr, size = (float(value_range[0]), float(value_range[1])), tuple(image_size)
    if stat.S_ISREG(st.st_mode):
        if p.suffix.lower() in (".npz", ".npy"):
            ds = cached_import(p, "array", vr, size, lambda r: load_array(p, r))
            if ds.is_image and p.suffix.lower() == ".npz":
                try:
                    ds.heldout = cached_import(p, "array-test", vr, size, lambda r: load_array(p, r, split="test"))
                except DataError:  # no x_test: a part is set aside below
                    pass
            return set_aside(ds) if ds.is_image else ds
        if "idx" in p.name or "ubyte" in p.name:
            ds = cached_import(p, "idx", vr, size, lambda r: load_idx(p, value_range=r), subset=subset)
            test = p.with_name("t10k" + p.name[len("train") :]) if p.name.lower().startswith("train") else None
            if test is not None and test.is_file():  # its split, as MNIST ships it
                ds.heldout = cached_import(test, "idx", vr, size, lambda r: load_idx(test, value_range=r))
            return ds
        raise DataError(f"{shown(p)}: unknown file type")
    if not stat.S_ISDIR(st.st_mode):
        raise DataError(f"{printable(spec)}: not a regular file or a folder ({kind_of(st.st_mode)})")
    sub = p / "raw" if (p / "raw").is_dir() else p
    try:
        names = [q.name for q in sub.iterdir()]
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{printable(spec)}: cannot list: {reason_of(e)}") from None
    if any("ubyte" in n or "idx" in n for n in names):
        ds = cached_import(p, "idx-folder", vr, size, lambda r: load_idx_folder(p, value_range=r), subset=subset)
        if has_test_split(p):  # t10k files: the set's own held-out split
            test = lambda r: load_idx_folder(p, "test", value_range=r)  # noqa: E731
            ds.heldout = cached_import(p, "idx-folder-test", vr, size, test)
        return ds
    load = lambda r: load_image_folder(p, size, value_range=r)[0]  # noqa: E731
    return set_aside(cached_import(p, "images", vr, size, load))


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
