"""Imported data, decoded once: a memory-mapped cache of image folders, IDX files and image arrays (no Qt).

Decoding 20,000 PNGs takes seconds and every run, every sweep trial and every worker did it again. Now the
first import writes the decoded images to a cache entry and every later open (in any process, on any node
that sees the cache folder) maps that file instead.

* **Key.** What the import read and how: the source's kind, the size it was resized to, and for every file
  under it its name (relative to the source), size and modification time. A file added, removed, rewritten
  or touched gives another key, so a stale entry is never found; nothing of the source's own path is in
  the key, so the same folder mounted at different paths on two nodes shares one entry.
* **Entry.** A folder ``<key>/`` holding ``x.u8`` (the images in [0, 1] as bytes k/255, M × D, when that
  is exact: 8-bit images and IDX files always are) or ``x.f32`` (float32 otherwise, e.g. 16-bit images),
  ``labels.i64`` when there are labels, and ``meta.json`` (shape, name, class names, the files an import
  skipped and why, and the CRC-32 of the data). 10⁶ images of 28 × 28 take 784 MB.
* **Never trusted.** An entry is used only when its meta reads back, the data file has exactly the size
  the meta says and its CRC-32 matches (≈ 0.2 s for 800 MB); anything else (a truncated, edited or
  half-copied entry) is removed and the source imported again.
* **Never torn.** An entry is built in a temporary folder beside it and renamed into place whole; two
  processes that build the same entry at once both finish, the first rename wins.
* **Where.** ``KGN_CACHE`` (a folder, or ``off``), set by ``kgn … --cache DIR`` (which the engines hand to
  their workers: Ray tasks get the path, never the arrays); else ``$XDG_CACHE_HOME/kgn-gui/data`` (by
  default ``~/.cache/kgn-gui/data``). After each new entry the least recently used others are removed
  while the cache holds more than ``KGN_CACHE_MAX_GB`` (default 8) gigabytes.

The data set a cached open gives is the one the import gives, bit for bit (a test). Asked for a subset
(``open_source(…, subset=(n, seed))``, as the sweep's trials ask), a cached open reads only those rows from
the map, so a worker's memory follows the subset, not the data set. Opened whole, an entry of bytes is a
``ByteDataset`` over the map itself: the trainer converts each batch's rows to floats, so training on
10⁶ images takes a batch's memory, not 3 GB per process, and the map's pages are shared. 2-D arrays (points,
flat samples) are read as they are: their values depend on the value range asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..jsonsafe import JSONError, loads_bounded
from .dataset import ByteDataset, Dataset, from_unit, subset_rows

VERSION = 2  # of the entry's layout (2: IDX class names); a change gives every source a new key
ENV, ENV_MAX = "KGN_CACHE", "KGN_CACHE_MAX_GB"
MAX_META_BYTES = 4 << 20
CHUNK = 64 << 20  # bytes per CRC-32 update


def cache_folder() -> Path | None:
    """The cache's folder (KGN_CACHE, else the user's cache folder); None when KGN_CACHE is ``off``."""
    given = os.environ.get(ENV, "").strip()
    if given.lower() == "off":
        return None
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kgn-gui" / "data"


def use_cache_folder(folder: str | os.PathLike | None) -> None:
    """``--cache DIR``: this process and every worker it starts (children inherit the environment; the Ray
    engine passes it on) use ``folder`` (``off``: no cache). DataError when it cannot be a folder."""
    if folder is None:
        return
    text = str(folder)
    if text.lower() != "off":
        p = Path(text).expanduser()
        if p.exists() and not p.is_dir():
            raise DataError(f"--cache {text}: not a folder")
        text = str(p.resolve())
    os.environ[ENV] = text


def fingerprint(source: Path) -> list:
    """[relative name, size, mtime in ns] of the file ``source`` or of every file below the folder (sorted);
    OSError when it cannot be listed."""
    if source.is_file():
        st = source.stat()
        return [[source.name, st.st_size, st.st_mtime_ns]]
    out = []
    for p in sorted(source.rglob("*")):
        try:
            st = p.stat()
        except OSError:  # a broken link: listed, so that fixing it changes the key
            out.append([p.relative_to(source).as_posix(), -1, 0])
            continue
        if not p.is_dir():
            out.append([p.relative_to(source).as_posix(), st.st_size, st.st_mtime_ns])
    return out


def cache_key(source: Path, kind: str, image_size: tuple[int, int]) -> str:
    what = {"version": VERSION, "kind": kind, "size": list(image_size), "files": fingerprint(source)}
    return hashlib.sha256(json.dumps(what, separators=(",", ":")).encode()).hexdigest()[:32]


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _as_bytes(u: np.ndarray) -> np.ndarray | None:
    """u (in [0, 1]) as bytes k/255 when that gives back exactly u, else None."""
    q = np.rint(u * np.float32(255.0)).astype(np.uint8)
    return q if np.array_equal(q.astype(np.float32) / np.float32(255.0), u) else None


def _write_entry(entry: Path, ds: Dataset) -> None:
    """ds (in [0, 1]) as a cache entry, built beside ``entry`` and renamed into place whole."""
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        q = ds.codes if isinstance(ds, ByteDataset) else _as_bytes(ds.x)
        data = tmp / ("x.u8" if q is not None else "x.f32")
        (q if q is not None else ds.x).tofile(data)
        meta = {
            "version": VERSION,
            "dtype": "u8" if q is not None else "f32",
            "M": ds.M,
            "D": ds.D,
            "shape": list(ds.shape),
            "name": ds.name,
            "class_names": list(ds.class_names),
            "skipped": list(ds.skipped),
            "crc32": _crc(data),
            "labels": ds.labels is not None,
        }
        if ds.labels is not None:
            ds.labels.astype("<i8").tofile(tmp / "labels.i64")
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(tmp, entry)
        except OSError:  # another process put the same entry in place first: its copy is as good
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_entry(entry: Path, value_range: tuple[float, float], subset: tuple[int, int] | None) -> Dataset | None:
    """The entry's data set in ``value_range`` (with ``subset`` = (n, seed) only those rows of Dataset.subset,
    read from the map: memory follows n, not the data set), or None when anything of it does not check out."""
    try:
        raw = (entry / "meta.json").read_bytes()[: MAX_META_BYTES + 1]
        if len(raw) > MAX_META_BYTES:
            return None
        meta = loads_bounded(raw)
        kind = {"u8": np.uint8, "f32": np.float32}[meta["dtype"]]
        M, D = int(meta["M"]), int(meta["D"])
        shape = tuple(int(s) for s in meta["shape"])
        data = entry / f"x.{meta['dtype']}"
        if meta["version"] != VERSION or M < 1 or int(np.prod(shape)) != D:
            return None
        if data.stat().st_size != M * D * np.dtype(kind).itemsize or _crc(data) != int(meta["crc32"]):
            return None
        labels = None
        if meta["labels"]:
            lab_path = entry / "labels.i64"
            if lab_path.stat().st_size != M * 8:
                return None
            labels = np.fromfile(lab_path, dtype="<i8")
        name = str(meta["name"])
        mapped = np.memmap(data, dtype=kind, mode="r", shape=(M, D))
        rows = None if subset is None else subset_rows(M, *subset)
        if rows is not None:  # as Dataset.subset: the rows it keeps, its name
            mapped, labels, name = mapped[rows], None if labels is None else labels[rows], f"{name}[{len(rows)}]"
        class_names, skipped = [str(c) for c in meta["class_names"]], [str(s) for s in meta["skipped"]]
        if kind is np.uint8:  # the map itself (or the subset's rows), converted to floats only where used
            ds = ByteDataset(mapped, shape, value_range, name, labels, class_names, skipped)
        else:
            like = Dataset(x=np.zeros((1, D), np.float32), shape=shape, value_range=(0.0, 1.0), name=name)
            like.class_names, like.skipped, like.labels = class_names, skipped, labels
            ds = _in_range(like, value_range, mapped)
            del mapped
        os.utime(entry)  # used now: the last to be removed when the cache is pruned
        return ds
    except (OSError, KeyError, TypeError, ValueError, JSONError, DataError):
        return None


def _prune(folder: Path, keep: Path) -> None:
    """Remove the least recently used entries while the cache holds more than KGN_CACHE_MAX_GB."""
    try:
        limit = float(os.environ.get(ENV_MAX, "8")) * 1e9
    except ValueError:
        limit = 8e9
    entries = []
    for e in folder.iterdir():
        if e.is_dir() and not e.name.startswith(".") and e != keep:
            size = sum(f.stat().st_size for f in e.iterdir() if f.is_file())
            entries.append((e.stat().st_mtime, size, e))
    total = sum(s for _, s, _ in entries) + sum(f.stat().st_size for f in keep.iterdir() if f.is_file())
    for _, size, e in sorted(entries, key=lambda t: t[0]):
        if total <= limit:
            break
        shutil.rmtree(e, ignore_errors=True)
        total -= size


def cached_import(
    source: Path,
    kind: str,
    value_range: tuple[float, float],
    image_size: tuple[int, int],
    load: Callable[[tuple[float, float]], Dataset],
    log: Callable[[str], None] | None = None,
    subset: tuple[int, int] | None = None,
) -> Dataset:
    """The data set ``load(value_range)`` gives for ``source`` (with ``subset`` = (n, seed): its
    ``.subset(n, seed)``), from the cache when it holds it, else imported (``load((0, 1))``, the images in
    [0, 1]) and written there first. A cache that cannot be written (read-only, full) is skipped with a line
    to ``log``: the import is never lost for it."""
    cut = (lambda ds: ds) if subset is None else (lambda ds: ds.subset(*subset))  # noqa: E731
    folder = cache_folder()
    if folder is None:
        return cut(load(value_range))
    try:
        entry = folder / cache_key(source, kind, image_size)
    except OSError:
        return cut(load(value_range))  # the import says what is wrong with the source, in its own words
    if entry.is_dir():
        ds = _read_entry(entry, value_range, subset)
        if ds is not None:
            return ds
        shutil.rmtree(entry, ignore_errors=True)  # damaged or of another layout: imported again
    unit = load((0.0, 1.0))
    if not unit.is_image:  # flat arrays keep values that lie in the range asked for: not cached
        return cut(load(value_range))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_entry(entry, unit)
        _prune(folder, entry)
    except OSError as e:
        if log is not None:
            log(f"data cache {folder}: not written ({e.strerror or type(e).__name__}); the import is not kept")
        return cut(_in_range(unit, value_range))
    ds = _read_entry(entry, value_range, subset)  # as every later run will see it: mapped from the cache
    return ds if ds is not None else cut(_in_range(unit, value_range))


def _in_range(like: Dataset, value_range, x: np.ndarray | None = None) -> Dataset:
    """A data set of ``like``'s shape, labels and names whose samples are ``x`` (default ``like``'s; in
    [0, 1]) mapped onto ``value_range`` by dataset.from_unit, in one copy (a ByteDataset: its bytes kept)."""
    if x is None and isinstance(like, ByteDataset):
        return like.to_range(value_range)
    x = like.x if x is None else x
    ds = Dataset(
        x=from_unit(x, value_range),
        shape=like.shape,
        value_range=value_range,
        name=like.name,
        labels=like.labels,
        class_names=list(like.class_names),
    )
    ds.skipped = list(like.skipped)
    return ds
