"""Writing files so that nothing is ever half-written: a temporary name in the same folder, then a rename.

Every file the app and ``kgn`` write (models, exports, bundles, CSV, figures, JSON) goes through
:func:`atomic_path`: the content is written to ``.NAME.PID-XXXX.part`` beside the target, flushed to disk, and
renamed over the target in one step. A full disk, a missing or read-only folder, or an error mid-write
leaves the old file as it was and no stray temporary file; the error says what went wrong. A process killed
mid-write leaves its ``.part`` (the target is still whole): the next write of the same target removes the
temporaries whose writer (PID) is no longer running (:func:`temporary_beside`, :func:`remove_stale_parts`).

Outputs of several files (``kgn sample -o DIR``, a folder of PNG frames) go through :func:`atomic_folder`:
they are built in a temporary folder beside the target and swapped in as a unit (the old folder renamed
out of the way, the new one renamed in, then the old one removed; on a failure the old one is put back).
Such a folder is the command's own: it may be new, empty, or hold only the names that command writes (a
previous result); a folder holding anything else is refused before any work, so no other file is lost.

No output may be one of the command's inputs (:func:`check_not_input`): the same file by device and inode
(so also through a symbolic or hard link), nor a folder that holds an input.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path


class WriteError(OSError):
    """A file could not be written; the message says which and why. The old file, if any, is intact."""


class OutputIsInputError(WriteError):
    """An output that is (or holds) one of the command's own inputs; nothing was written."""


def _read_umask() -> int:
    umask = os.umask(0)  # the only way to read it; done once, at import, before other threads write files
    os.umask(umask)
    return umask


_USUAL_MODE = 0o666 & ~_read_umask()


MAX_SCANNED = 100_000  # entries of a folder looked at for stale temporaries (a bound on a huge folder)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):  # another user's process (or no way to tell): kept
        return True
    return True


def remove_stale_parts(path: str | os.PathLike) -> int:
    """Remove the temporaries of ``path`` left by writers that were killed: ``.NAME.PID-….part`` files and
    folders beside it whose PID no longer runs. Never raises; returns how many were removed."""
    path = Path(path)
    head, removed = f".{path.name}.", 0
    try:
        with os.scandir(path.parent if str(path.parent) else ".") as it:
            for i, entry in enumerate(it):
                if i >= MAX_SCANNED:
                    break
                name = entry.name
                pid, dash, _ = name[len(head) :].partition("-")
                if not (name.startswith(head) and name.endswith(".part") and dash and pid.isascii() and pid.isdigit()):
                    continue
                if _running(int(pid)):
                    continue
                try:
                    kept = Path(entry.path) / "old"  # a folder swap killed between its renames: the old result
                    if entry.is_dir(follow_symlinks=False) and kept.is_dir() and not os.path.lexists(path):
                        os.rename(kept, path)
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
                    removed += 1
                except OSError:
                    pass
    except OSError:
        pass
    return removed


def temporary_beside(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """A new, empty temporary file (or folder) beside ``path``, named ``.NAME.PID-XXXX.part`` after this
    process, once the temporaries of killed writers of the same target are removed. Raises OSError."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    remove_stale_parts(path)
    prefix = f".{path.name}.{os.getpid()}-"
    if folder:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=parent))
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, it replaces ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise WriteError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        tmp_path = temporary_beside(path)
    except OSError as e:
        raise WriteError(f"cannot write {path}: {e.strerror or e}") from None
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


# -- outputs are never inputs -------------------------------------------------------------------------


def file_identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of what ``path`` names, through symbolic links; None when it does not exist."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _ancestors(path: str | os.PathLike) -> Iterator[tuple[int, int]]:
    """The identities of ``path``'s folders, from its own up to the root (links resolved)."""
    p = Path(os.path.realpath(path))
    for q in p.parents:
        ident = file_identity(q)
        if ident is not None:
            yield ident


def check_not_input(
    target: str | os.PathLike, inputs: Iterable[str | os.PathLike | None], what: str = "output"
) -> None:
    """Refuse (:class:`OutputIsInputError`, one line) a ``target`` that is one of ``inputs`` — the same file
    by device and inode, so also through a symbolic or hard link — or a folder that holds one of them
    (an output folder is replaced as a whole). Inputs that do not exist, and None, are ignored."""
    ident = file_identity(target)
    if ident is None:
        return
    is_dir = os.path.isdir(target)
    for inp in inputs:
        if inp is None or file_identity(inp) is None:
            continue
        if file_identity(inp) == ident:
            raise OutputIsInputError(f"the {what} {target} is the input {inp}; choose another {what}")
        if is_dir and ident in set(_ancestors(inp)):
            raise OutputIsInputError(f"the {what} folder {target} holds the input {inp}; choose another {what}")


# -- folders that land whole --------------------------------------------------------------------------


def check_own_folder(path: str | os.PathLike, owned: Callable[[str], bool], what: str = "an output") -> None:
    """A folder output may be new, an empty folder, or a folder whose every entry ``owned(name)`` accepts
    (a previous result of the same kind); anything else raises :class:`WriteError` naming a stranger."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return
    if not p.is_dir():
        raise WriteError(f"cannot write {p}: it exists and is not a folder")
    try:
        strangers = sorted(e.name for e in os.scandir(p) if not owned(e.name))
    except OSError as e:
        raise WriteError(f"cannot write {p}: {e.strerror or e}") from None
    if strangers:
        more = f" and {len(strangers) - 1} more" if len(strangers) > 1 else ""
        raise WriteError(
            f"{p} exists and is not an empty folder or {what} (it holds {strangers[0]}{more}); "
            "choose a new or empty folder"
        )


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def swap_in(new: Path, target: Path, staging: Path) -> None:
    """Put the folder ``new`` at ``target`` in one step: where the system can, the two are exchanged
    atomically (a kill at any moment leaves the old folder or the new one at ``target``) and the old removed;
    elsewhere an old ``target`` is renamed to ``staging/old`` (a folder beside it, on the same file system),
    ``new`` renamed in, then the old removed — a kill between the two renames leaves the old folder in
    ``staging``, which the next write puts back (:func:`remove_stale_parts`). If the second rename fails, the
    old folder is put back and the error raised."""
    if target.is_dir() and not target.is_symlink() and _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # (now the old folder)
        return
    old = None
    if target.exists() or target.is_symlink():
        old = staging / "old"
        os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None and old.is_symlink():
        old.unlink()  # the link is replaced; what it pointed to is left alone
    elif old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(
    path: str | os.PathLike, owned: Callable[[str], bool] | None = None, what: str = "a previous result"
) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; when the block ends without error its contents become
    ``path`` as a unit (:func:`swap_in`). ``owned(name)``: the names this output writes; an existing ``path``
    holding any other entry is refused (:func:`check_own_folder`) before the block runs. On any error the old
    folder is as it was and no temporary is left."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise WriteError(f"cannot write {path}: the folder {parent} does not exist")
    check_own_folder(path, owned or (lambda name: False), what)
    try:
        staging = temporary_beside(path, folder=True)
    except OSError as e:
        raise WriteError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        new = staging / "new"
        new.mkdir()
        yield new  # made with the usual permissions (mkdtemp's 0700 is only the staging folder's)
        swap_in(new, path, staging)
    except OSError as e:
        if isinstance(e, WriteError):
            raise
        raise WriteError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def existing_paths(*texts: str | None) -> list[Path]:
    """The texts that name an existing file, folder or link: a command's inputs (its outputs must differ)."""
    return [Path(t) for t in texts if t and (Path(t).exists() or Path(t).is_symlink())]
