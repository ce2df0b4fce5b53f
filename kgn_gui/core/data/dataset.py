"""A Dataset: M samples of one shape in a model's value range, with labels and class names; labels checked."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import DataError
from ..safe_io import Refused, reason_of, shown
from ..wording import count

MAX_LABEL = 2**31 - 1
IMAGE_CHANNELS = (1, 3)  # what a C×H×W sample can be drawn as: grey or RGB (import, models and pictures alike)


@contextlib.contextmanager
def reading(path):
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
    # the source's held-out split (IDX t10k files, an npz's x_test, or a seeded part an import set aside):
    # real unseen samples to measure against, never trained on
    heldout: Dataset | None = field(default=None, repr=False, compare=False)
    # the data-source text it was opened from (open_source's spec: ``mnist``, a file), when it is that data
    # whole: what a command line names it by (core.export.as_code); a subset has none
    source: str | None = field(default=None, repr=False, compare=False)

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

    def extent(self) -> tuple[float, float]:
        """The smallest and the largest value in the data."""
        return float(self.x.min()), float(self.x.max())

    def rows(self, idx) -> np.ndarray:
        """The samples ``idx`` as float32 (a copy)."""
        return self.x[idx]

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
        held = None if self.heldout is None else self.heldout.to_range(value_range)
        return replace(self, x=x.astype(np.float32), value_range=(nlo, nhi), heldout=held)

    def subset(self, n: int, seed: int = 0) -> Dataset:
        """A random subset of n samples (all of them when n ≥ M), reproducible in ``seed``."""
        idx = subset_rows(self.M, n, seed)
        if idx is None:
            return self
        return replace(
            self, x=self.x[idx], labels=None if self.labels is None else self.labels[idx], name=f"{self.name}[{n}]",
            source=None,
        )  # fmt: skip

    def describe(self) -> str:
        lab = f", {len(np.unique(self.labels))} classes" if self.labels is not None else ""
        skip = f"; skipped {len(self.skipped)} file{'s' * (len(self.skipped) != 1)}" if self.skipped else ""
        return f"{self.name}: {count(self.M, 'sample', commas=False)} of shape {self.shape} in {list(self.value_range)}{lab}{skip}"

    def import_report(self, limit: int = 20) -> str:
        """What an import loaded and what it skipped and why (the first ``limit`` skipped files)."""
        lines = [f"Loaded {self.describe()}."]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)}:")
            lines += [f"  {s}" for s in self.skipped[:limit]]
            if len(self.skipped) > limit:
                lines.append(f"  … and {len(self.skipped) - limit} more")
        return "\n".join(lines)


class ByteDataset(Dataset):
    """A Dataset whose samples are bytes: ``codes`` (M×D uint8, a data-cache map on disk or an array) stands
    for ``byte_table(value_range)[codes]``. ``x`` (float32, four bytes a value) is made only when something
    reads the data whole; :meth:`rows`, :meth:`subset` and the trainer convert only the rows they use, so
    their memory follows the rows, not M — and a map is shared by every process that opens it."""

    def __init__(
        self, codes, shape, value_range, name="data", labels=None, class_names=(), skipped=(), heldout=None, source=None
    ):
        codes = codes if isinstance(codes, np.memmap) else np.asarray(codes)
        if codes.dtype != np.uint8 or codes.ndim != 2:
            raise DataError(f"{name}: byte data must be an M×D uint8 array, got {codes.dtype} {codes.shape}")
        self.shape = tuple(int(s) for s in shape)
        if int(np.prod(self.shape)) != codes.shape[1]:
            raise DataError(f"{name}: sample shape {self.shape} does not match D = {codes.shape[1]}")
        if codes.shape[0] == 0:
            raise DataError(f"{name}: the data set is empty")
        self.codes, self._x = codes, None
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.name, self.class_names, self.skipped = str(name), list(class_names), list(skipped)
        self.heldout, self.source = heldout, source
        self.labels = None if labels is None else check_labels(np.asarray(labels).reshape(-1), len(codes), name)

    @property
    def x(self) -> np.ndarray:
        """The samples as float32, made on first use. Raises DataError, one line, when the system has not
        the memory for them (training needs none of it: it converts a batch at a time)."""
        if self._x is None:
            from ..chain.chain import available_memory_bytes

            need, free = 4 * self.codes.size, available_memory_bytes()
            if need > 0.8 * free:
                raise DataError(
                    f"{self.name}: {self.M:,} samples take {need / 2**30:.1f} GB as floats and "
                    f"{free / 2**30:.1f} GB of memory is free: use a subset (--subset N)"
                )
            self._x = self.table()[self.codes]
        return self._x

    @property
    def M(self) -> int:
        return int(self.codes.shape[0])

    @property
    def D(self) -> int:
        return int(self.codes.shape[1])

    def table(self) -> np.ndarray:
        return byte_table(self.value_range)

    def extent(self) -> tuple[float, float]:
        t = self.table()
        return float(t[self.codes.min()]), float(t[self.codes.max()])

    def rows(self, idx) -> np.ndarray:
        return self.table()[self.codes[idx]]

    def _like(self, codes, **given) -> ByteDataset:
        kw = dict(shape=self.shape, value_range=self.value_range, name=self.name, labels=self.labels)
        kw["heldout"], kw["source"] = self.heldout, self.source
        kw.update(given)
        return ByteDataset(codes, class_names=self.class_names, skipped=self.skipped, **kw)

    def to_range(self, value_range: tuple[float, float]) -> Dataset:
        held = None if self.heldout is None else self.heldout.to_range(value_range)
        return self._like(self.codes, value_range=value_range, heldout=held)

    def subset(self, n: int, seed: int = 0) -> Dataset:
        idx = subset_rows(self.M, n, seed)
        if idx is None:
            return self
        labels = None if self.labels is None else self.labels[idx]
        return self._like(np.ascontiguousarray(self.codes[idx]), labels=labels, name=f"{self.name}[{n}]", source=None)


def byte_table(value_range: tuple[float, float]) -> np.ndarray:
    """The float32 value each byte k stands for in ``value_range``: k/255 mapped by the float32 operations of
    :func:`from_unit`, so a ByteDataset's samples are bit for bit those of the float import."""
    t = np.arange(256, dtype=np.float32)
    t /= np.float32(255.0)
    return from_unit(t, value_range)


HELDOUT_FRACTION = 0.1  # of a data set without a split of its own, set aside at import (seeded)
HELDOUT_MIN_M = 1000  # smaller sets keep every sample for training (and are measured against themselves)
HELDOUT_SEED = 0


def set_aside(ds: Dataset, fraction: float = HELDOUT_FRACTION, seed: int = HELDOUT_SEED) -> Dataset:
    """``ds`` less a seeded ``fraction`` of its samples, which become its ``heldout`` part (never trained
    on); ``ds`` itself when it is smaller than HELDOUT_MIN_M or already has a held-out split."""
    if ds.heldout is not None or ds.M < HELDOUT_MIN_M:
        return ds
    held = np.sort(np.random.default_rng(seed).choice(ds.M, size=int(round(fraction * ds.M)), replace=False))
    keep = np.setdiff1d(np.arange(ds.M), held)
    return _rows_of(ds, keep, heldout=_rows_of(ds, held, name=f"{ds.name} (held out)"))


def _rows_of(ds: Dataset, rows: np.ndarray, **given) -> Dataset:
    labels = None if ds.labels is None else ds.labels[rows]
    if isinstance(ds, ByteDataset):
        return ds._like(np.ascontiguousarray(ds.codes[rows]), labels=labels, **given)
    return replace(ds, x=ds.x[rows], labels=labels, **given)


HALF_SEED = 0


def half_of(ds: Dataset, k: int, seed: int = HALF_SEED) -> Dataset:
    """Half ``k`` (0 or 1) of two disjoint, equal, seeded halves of ``ds`` (the two-halves test: a model on
    each, Kadkhodaie et al. 2024); named ``NAME[half0]`` / ``NAME[half1]``, its held-out split kept."""
    if k not in (0, 1):
        raise DataError(f"half must be 0 or 1, not {k!r}")
    if ds.M < 2:
        raise DataError(f"{ds.name}: {ds.M} sample cannot be split in halves")
    perm = np.random.default_rng(seed).permutation(ds.M)
    h = ds.M // 2
    rows = np.sort(perm[:h] if k == 0 else perm[h : 2 * h])
    return _rows_of(ds, rows, name=f"{ds.name}[half{k}]")


def subset_rows(M: int, n: int, seed: int) -> np.ndarray | None:
    """The rows (sorted) that :meth:`Dataset.subset` keeps of ``M`` samples, or None when it keeps them all
    (the data cache reads just these rows from its map)."""
    if n <= 0 or n >= M:
        return None
    return np.sort(np.random.default_rng(seed).choice(M, size=n, replace=False))


def from_unit(u: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    out = u.astype(np.float32)  # one copy, then in place: the same float32 operations, no temporaries
    out *= np.float32(hi - lo)
    out += np.float32(lo)
    return out


def images_to_dataset(imgs: np.ndarray, labels, value_range, name, class_names=None) -> Dataset:
    """imgs: (M, C, H, W) in [0, 1]."""
    m = imgs.shape[0]
    return Dataset(
        x=from_unit(imgs.reshape(m, -1), value_range),
        shape=tuple(imgs.shape[1:]),
        value_range=value_range,
        name=name,
        labels=labels,
        class_names=class_names or [],
    )
