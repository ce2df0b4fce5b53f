"""Writing files so that nothing is ever half-written: a temporary name in the same folder, then a rename.

Every file the app and ``kgn`` write (models, exports, bundles, CSV, figures, JSON) goes through
:func:`atomic_path`: the content is written to ``.NAME.XXXX.part`` beside the target, flushed to disk, and
renamed over the target in one step. A full disk, a missing or read-only folder, or an error mid-write
leaves the old file as it was and no stray temporary file; the error says what went wrong. (A process killed
mid-write can leave its ``.part`` file; the target is still whole.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class WriteError(OSError):
    """A file could not be written; the message says which and why. The old file, if any, is intact."""


def _read_umask() -> int:
    umask = os.umask(0)  # the only way to read it; done once, at import, before other threads write files
    os.umask(umask)
    return umask


_USUAL_MODE = 0o666 & ~_read_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, it replaces ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise WriteError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:
        raise WriteError(f"cannot write {path}: {e.strerror or e}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:  # on disk before the rename, so a crash cannot leave it empty
            os.fsync(f.fileno())
        os.chmod(tmp_path, _USUAL_MODE)  # mkstemp makes 0600
        os.replace(tmp_path, path)
    except OSError as e:
        _remove(tmp_path)
        if isinstance(e, WriteError):
            raise
        raise WriteError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        _remove(tmp_path)
        raise


def _remove(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
