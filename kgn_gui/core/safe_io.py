"""Reading files that may be hostile: by kind, by declared size, with capped reads and one-line errors.

Every function here raises :class:`Refused` (a ValueError whose message is one line naming the file) and
nothing else for a file it cannot use; callers turn it into their own error type (``DataError``,
``StartError``…) with ``str(e)``, or use ``e.reason`` where the name is already shown (an import report).

- :func:`open_regular` opens regular files only: a FIFO, device, socket or folder is refused from
  ``os.stat`` before any open, and the open itself is non-blocking and re-checked on the descriptor
  (a file swapped for a FIFO in between is refused too, never waited on).
- :func:`read_npy` / :func:`load_npy` read a ``.npy`` array from its header first: the version, the
  element type (integers, floats and booleans only: never objects, so never a pickle), the shape and its
  size against a byte budget and against the bytes the file really holds, all before the data are read.
- :class:`NpzArchive` reads the ``.npy`` members of a zip archive the same way, after checking each
  member's declared sizes (and that its compressed data could hold them) in the zip directory.
- :func:`read_exactly` fills a buffer in chunks: a stream that decompresses (gzip, zip) is never asked
  for more than the caller's declared, budgeted size, so a small file cannot inflate into gigabytes.
- :func:`reason_of` is the one-line reason of any exception a reader raised.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from .errors import printable

# Deflate cannot expand better than ~1032:1; a member or stream that declares more than this per byte
# of compressed data lies about its size (or is not deflate), and is refused before it is inflated.
MAX_DEFLATE_RATIO = 1100
RATIO_SLACK_BYTES = 1 << 16
CHUNK_BYTES = 1 << 24  # reads into a caller's buffer go in 16 MiB steps
MAX_NPY_HEADER = 10_000  # numpy's own default limit for the text header of a .npy
MAX_NPZ_MEMBERS = 10_000
ACCEPTED_KINDS = "biuf"  # booleans, signed and unsigned integers, floats

_KIND_NAMES = {
    "c": "complex values",
    "M": "dates",
    "m": "time spans",
    "O": "Python objects",
    "S": "byte strings",
    "U": "text strings",
    "V": "raw or structured records",
}


class Refused(ValueError):
    """A file that cannot be used. ``name``: the file as shown; ``reason``: why, one line."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, one_line(reason)
        super().__init__(f"{name}: {self.reason}")


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (runs of white space, newlines included, become one space), at most ``limit``."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def shown(path: str | os.PathLike) -> str:
    """A file's name for a message, printable (see :func:`printable`)."""
    return printable(Path(path).name or str(path))


def reason_of(e: BaseException) -> str:
    """The one-line reason of an exception raised while reading (any type)."""
    import zlib

    if isinstance(e, Refused):
        return e.reason
    if isinstance(e, MemoryError):
        return "not enough memory to read it"
    if isinstance(e, PermissionError):
        return "cannot read: permission denied"
    if isinstance(e, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, zipfile.BadZipFile):
        return f"damaged or not a zip archive ({one_line(e) or 'bad zip data'})"
    if isinstance(e, zlib.error):
        return f"damaged compressed data ({one_line(e)})"
    if isinstance(e, EOFError):
        return f"truncated: the data end early ({one_line(e) or 'end of file'})"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot read: {e.strerror}"
    text = one_line(e)
    return f"cannot read: {text}" if text else f"cannot read ({type(e).__name__})"


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` is, in words ("a folder", "a named pipe", "a device", …)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"


def regular_stat(path: str | os.PathLike) -> os.stat_result:
    """``os.stat`` of ``path`` (through links) if it is a regular file; else Refused, without opening it."""
    name = shown(path)
    try:
        st = os.stat(path)
    except Exception as e:  # noqa: BLE001 - every failure is one line
        raise Refused(name, reason_of(e)) from None
    if not stat.S_ISREG(st.st_mode):
        raise Refused(name, f"not a regular file ({kind_of(st.st_mode)})")
    return st


def open_regular(path: str | os.PathLike) -> io.BufferedReader:
    """Open a regular file for reading, never blocking: a FIFO, device, socket or folder is refused first
    from ``os.stat``, then again from the opened descriptor (the open is non-blocking, so a file swapped
    for a FIFO meanwhile returns at once and is refused)."""
    name = shown(path)
    regular_stat(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except Exception as e:  # noqa: BLE001
        raise Refused(name, reason_of(e)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(name, f"not a regular file ({kind_of(st.st_mode)})")
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except Refused:
        os.close(fd)
        raise
    except Exception as e:  # noqa: BLE001
        os.close(fd)
        raise Refused(name, reason_of(e)) from None


def read_exactly(f, n: int, name: str, what: str = "data") -> np.ndarray:
    """Exactly ``n`` bytes from ``f`` as a uint8 array, read in chunks (a decompressing stream is asked for
    no more than ``n``); Refused ("truncated") when the stream ends first."""
    buf = np.empty(n, dtype=np.uint8)
    view = memoryview(buf)
    pos = 0
    while pos < n:
        k = f.readinto(view[pos : pos + CHUNK_BYTES])
        if not k:
            raise Refused(name, f"truncated: {what} end after {pos:,} of {n:,} bytes")
        pos += k
    return buf


def check_dtype(dtype: np.dtype, name: str, what: str = "", kinds: str = ACCEPTED_KINDS) -> None:
    """Refuse any element type but those of ``kinds`` (default booleans, integers and floats; "US" for
    fixed-size strings, never Python objects), with the file name and what it is."""
    if dtype.kind in kinds and dtype.names is None and dtype.subdtype is None:
        return
    kind = _KIND_NAMES.get(dtype.kind, "values")
    if dtype.names is not None or dtype.subdtype is not None:
        kind = "structured records"
    where = f"{what} " if what else ""
    raise Refused(name, f"{where}holds {kind} ({dtype}), not an array of numbers (integers or floating point)")


def _npy_header(f, name: str, what: str = ""):
    """(shape, fortran order, dtype) of the .npy header at ``f``'s position. A bad magic or header is
    Refused; failures of the stream itself (a damaged compressed member) propagate to the caller."""
    from numpy.lib import format as npformat

    pre = f"{what}: " if what else ""
    try:
        version = npformat.read_magic(f)
    except ValueError:  # numpy's "the magic string is not correct" and "EOF: reading magic string"
        raise Refused(name, f"{pre}not a .npy array (bad magic number)") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f, max_header_size=MAX_NPY_HEADER)
        elif version in ((2, 0), (3, 0)):  # 3.0 differs only in UTF-8 field names, refused below anyway
            shape, fortran, dtype = npformat.read_array_header_2_0(f, max_header_size=MAX_NPY_HEADER)
        else:
            raise Refused(name, f"{pre}unknown .npy format version {version[0]}.{version[1]}")
    except (ValueError, SyntaxError, TypeError, KeyError) as e:  # numpy's parse of the header dictionary
        if isinstance(e, Refused):
            raise
        raise Refused(name, f"{pre}damaged .npy header ({one_line(e, 120)})") from None
    return tuple(shape), bool(fortran), np.dtype(dtype)


def read_npy(
    f, name: str, *, max_bytes: int, available: int | None = None, what: str = "", kinds: str = ACCEPTED_KINDS
) -> np.ndarray:
    """One ``.npy`` array from the stream ``f``: header first (element type, shape, size against
    ``max_bytes`` both as stored and as float32, and against ``available``, the bytes the file holds after
    its start, when known), then exactly the declared data. Never unpickles anything."""
    start = f.tell() if available is not None else 0
    shape, fortran, dtype = _npy_header(f, name, what)
    check_dtype(dtype, name, what, kinds)
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise Refused(name, f"{what + ': ' if what else ''}damaged .npy header (shape {shape})")
    count = 1
    for d in shape:  # Python ints: a lying header cannot overflow
        count *= d
    if count == 0:
        raise Refused(name, f"{what + ' ' if what else ''}holds no values (shape {shape})")
    nbytes = count * dtype.itemsize
    need = max(nbytes, count * 4)  # the values as stored, or as the float32 the app keeps
    if need > max_bytes:
        raise Refused(
            name,
            f"{what + ' ' if what else ''}declares shape {shape} ({need:,} bytes), more than allowed "
            f"({max_bytes:,} bytes)",
        )
    if available is not None:
        held = available - (f.tell() - start)
        if held < nbytes:
            raise Refused(
                name,
                f"{what + ': ' if what else ''}truncated: the header declares {nbytes:,} bytes of data, "
                f"the file holds {held:,}",
            )
    raw = read_exactly(f, nbytes, name, "the array data")
    arr = raw.view(dtype)
    return arr.reshape(shape[::-1]).T if fortran and len(shape) > 1 else arr.reshape(shape)


def load_npy(path: str | os.PathLike, *, max_bytes: int) -> np.ndarray:
    """A ``.npy`` file read by :func:`read_npy` (regular files only)."""
    name = shown(path)
    with open_regular(path) as f:
        try:
            size = os.fstat(f.fileno()).st_size
            return read_npy(f, name, max_bytes=max_bytes, available=size)
        except Refused:
            raise
        except Exception as e:  # noqa: BLE001
            raise Refused(name, reason_of(e)) from None


class NpzArchive:
    """The ``.npy`` members of a ``.npz`` (zip) archive, each read by :func:`read_npy` after its zip entry's
    declared sizes are checked: uncompressed size within ``max_bytes``, and no more than its compressed
    data can hold. Use as a context manager; ``keys`` are the member names without ``.npy``."""

    def __init__(self, path: str | os.PathLike, *, max_bytes: int):
        self.name, self.max_bytes = shown(path), max_bytes
        self._f = open_regular(path)
        try:
            self._zip = zipfile.ZipFile(self._f)
            infos = self._zip.infolist()
            if len(infos) > MAX_NPZ_MEMBERS:
                raise Refused(self.name, f"{len(infos):,} archive members; at most {MAX_NPZ_MEMBERS:,} are read")
            self._members = {i.filename[:-4]: i for i in infos if i.filename.endswith(".npy") and not i.is_dir()}
        except Exception as e:  # noqa: BLE001
            self._f.close()
            raise Refused(self.name, reason_of(e)) from None

    @property
    def keys(self) -> list[str]:
        return list(self._members)

    def read(self, key: str, kinds: str = ACCEPTED_KINDS) -> np.ndarray:
        """The member ``key`` (as :func:`read_npy` reads it: checked, never unpickled)."""
        info = self._members[key]
        what = f"member {printable(key)}"
        if info.flag_bits & 0x1:
            raise Refused(self.name, f"{what} is encrypted")
        if info.file_size > self.max_bytes + MAX_NPY_HEADER + 128:
            raise Refused(
                self.name, f"{what} declares {info.file_size:,} bytes, more than allowed ({self.max_bytes:,} bytes)"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise Refused(self.name, f"{what}: its stored and declared sizes differ (damaged archive)")
        if (
            info.compress_type == zipfile.ZIP_DEFLATED
            and info.file_size > info.compress_size * MAX_DEFLATE_RATIO + RATIO_SLACK_BYTES
        ):
            raise Refused(
                self.name, f"{what} declares {info.file_size:,} bytes, more than its compressed data can hold"
            )
        try:
            with self._zip.open(info) as m:
                # The zip stream reports no position; the member's declared size bounds what it can hold.
                m_tell = _Counting(m)
                return read_npy(
                    m_tell, self.name, max_bytes=self.max_bytes, available=info.file_size, what=what, kinds=kinds
                )
        except Refused:
            raise
        except zipfile.BadZipFile as e:  # a bad CRC, a bad local header: the archive is damaged
            raise Refused(self.name, f"{what}: damaged ({one_line(e)})") from None
        except Exception as e:  # noqa: BLE001
            raise Refused(self.name, f"{what}: {reason_of(e)}") from None

    def close(self) -> None:
        try:
            self._zip.close()
        finally:
            self._f.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Counting:
    """A read-only stream wrapper that counts what was read (``tell``) for streams that cannot seek."""

    def __init__(self, f):
        self._f, self._pos = f, 0

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        b = self._f.read(n)
        self._pos += len(b)
        return b

    def readinto(self, buf) -> int:
        k = self._f.readinto(buf)
        self._pos += k or 0
        return k
