"""The disk tier of a timeline's keyframes: fixed-size slots in one file in the user's cache folder.

A timeline (``core.timeline``) keeps x_t for every t on its keyframe grid. In RAM that grid must be sparse
for a long run of many chains (256 MNIST chains take 0.8 MB a state), and a sparse grid makes a jump slow:
it replays up to K − 1 steps. This tier holds the grid on disk instead, so K stays small (a jump replays a
few steps) while RAM holds only the head, the keyframes used last and the steps replayed last.

* One folder per history: ``<cache>/kgn-gui/history/<pid>-<random>/``, with ``keyframes.bin`` (slot i at
  byte i × state_bytes, the state's float32 values as they are: a state read back equals the state written,
  bit for bit) and ``owner`` (the pid and its start time).
* Bounded: at most ``budget_bytes`` of slots; :meth:`full` tells the timeline to thin its grid (K doubles,
  the dropped slots are reused). The default budget is :data:`DEFAULT_DISK_BYTES`, or ``KGN_HISTORY_DISK_MB``
  (0 turns the tier off), and never more than a quarter of the free space.
* Removed when closed, at interpreter exit and when garbage-collected; a folder left by a process that died
  (killed, crashed) is removed by the next :func:`open_store` — its owner's pid is gone, or belongs to a
  process started at another time.
* Where the cache folder cannot be written, :func:`open_store` returns None and the timeline keeps its
  keyframes in RAM as before.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import weakref
from pathlib import Path

import numpy as np

DEFAULT_DISK_BYTES = 4 << 30
ENV_DISK_MB = "KGN_HISTORY_DISK_MB"


class StoreError(OSError):
    """The disk tier failed (a write or read of its file); the message says which."""


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/kgn-gui/history`` (``~/.cache/kgn-gui/history`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kgn-gui" / "history"


def disk_budget(default: int = DEFAULT_DISK_BYTES) -> int:
    """The disk tier's budget in bytes: ``KGN_HISTORY_DISK_MB`` when set (0 = no disk tier), else ``default``.
    A value that is not a whole number of MB ≥ 0 is a one-line error."""
    raw = os.environ.get(ENV_DISK_MB)
    if raw is None or raw.strip() == "":
        return int(default)
    try:
        mb = int(raw.strip())
    except ValueError:
        raise StoreError(
            f"{ENV_DISK_MB} must be a whole number of MB (0 turns the disk tier off), got {raw!r}"
        ) from None
    if mb < 0:
        raise StoreError(f"{ENV_DISK_MB} must be ≥ 0, got {mb}")
    return mb << 20


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/PID/stat), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive
    now = _start_time(pid)
    return started is None or now is None or now == started


def clean_stale(root: Path | None = None) -> list[Path]:
    """Remove the history folders under ``root`` whose owner process is gone; returns them. Folders of live
    processes, and anything that is not a history folder, are left alone."""
    root = cache_root() if root is None else root
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for d in entries:
        if not d.is_dir() or d.is_symlink():
            continue
        try:
            words = (d / "owner").read_text().split()
            pid, started = int(words[0]), (words[1] if len(words) > 1 else None)
        except (OSError, ValueError, IndexError):
            # No readable owner: a folder being created right now, or one a crash cut short. Only the latter
            # is old; a folder whose name carries a dead pid is removed.
            try:
                pid, started = int(d.name.split("-", 1)[0]), None
            except ValueError:
                continue
        if pid == os.getpid() and started == _start_time(pid):
            continue
        if not _alive(pid, started):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


class DiskStore:
    """Keyframes on disk: ``put(t, x)``, ``get(t)``, ``keep_only(keep)``, ``t in store``; ``close()`` removes the
    folder. Thread-safe (a lock around the slot table; reads and writes are positioned, pread / pwrite)."""

    def __init__(self, folder: Path, state_shape: tuple[int, int], budget_bytes: int):
        self.folder = folder
        self.shape = (int(state_shape[0]), int(state_shape[1]))
        self.state_bytes = self.shape[0] * self.shape[1] * 4
        self.max_slots = int(budget_bytes) // self.state_bytes
        if self.max_slots < 2:
            raise StoreError(f"a disk budget of {budget_bytes >> 20} MB holds fewer than two states")
        self._slots: dict[int, int] = {}
        self._free: list[int] = []
        self._next = 0
        self._lock = threading.Lock()
        self._fd: int | None = os.open(folder / "keyframes.bin", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        # Runs when the store is collected, on close(), or at interpreter exit (finalize's atexit).
        self._finalizer = weakref.finalize(self, _remove, self._fd, str(folder))

    # -- slots
    def __contains__(self, t: int) -> bool:
        return t in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def steps(self) -> list[int]:
        with self._lock:
            return sorted(self._slots)

    @property
    def bytes_used(self) -> int:
        return len(self._slots) * self.state_bytes

    def full(self) -> bool:
        """No slot left for another keyframe."""
        return len(self._slots) >= self.max_slots

    def put(self, t: int, x: np.ndarray) -> None:
        """Store x_t (an N×D float32 array of this store's shape)."""
        a = np.ascontiguousarray(x, dtype=np.float32)
        if a.shape != self.shape:
            raise StoreError(f"a state of shape {a.shape} does not fit slots of {self.shape}")
        with self._lock:
            if self._fd is None:
                raise StoreError("the keyframe store is closed")
            slot = self._slots.get(t)
            if slot is None:
                if len(self._slots) >= self.max_slots:
                    raise StoreError("the keyframe store is full")
                slot = self._free.pop() if self._free else self._next
                if slot == self._next:
                    self._next += 1
            view = memoryview(a).cast("B")
            off, done = slot * self.state_bytes, 0
            try:
                while done < len(view):
                    done += os.pwrite(self._fd, view[done:], off + done)
            except OSError as e:
                if t not in self._slots:
                    self._free.append(slot)
                raise StoreError(f"could not write a keyframe to {self.folder}: {e.strerror or e}") from None
            self._slots[t] = slot

    def get(self, t: int) -> np.ndarray:
        """x_t as a new N×D float32 array."""
        with self._lock:
            if self._fd is None:
                raise StoreError("the keyframe store is closed")
            slot = self._slots[t]
            fd = self._fd
        out = np.empty(self.shape, np.float32)
        view = memoryview(out).cast("B")
        off, done = slot * self.state_bytes, 0
        try:
            while done < len(view):
                n = os.preadv(fd, [view[done:]], off + done)
                if n == 0:
                    raise OSError(0, "the file is shorter than its slot table")
                done += n
        except OSError as e:
            raise StoreError(f"could not read a keyframe from {self.folder}: {e.strerror or e}") from None
        return out

    def drop_os_cache(self) -> None:
        """Write the file out and drop it from the OS page cache (where the OS allows): the next reads come
        from the disk itself — for benchmarks of a cold jump."""
        with self._lock:
            if self._fd is None:
                return
            try:
                os.fsync(self._fd)
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)
            except OSError:
                pass

    def keep_only(self, keep) -> None:
        """Drop every keyframe t for which ``keep(t)`` is false."""
        with self._lock:
            for t in [t for t in self._slots if not keep(t)]:
                self._free.append(self._slots.pop(t))

    def close(self) -> None:
        """Remove the file and its folder (again harmless)."""
        with self._lock:
            self._fd = None
            self._slots.clear()
        self._finalizer()


def _remove(fd: int, folder: str) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)


def open_store(state_shape: tuple[int, int], budget_bytes: int | None = None, root: Path | None = None):
    """A new DiskStore for states of ``state_shape`` in a fresh folder under ``root`` (the user's cache
    folder), after removing what dead processes left there; None when the tier is off (budget 0), the
    budget holds fewer than two states, or the folder cannot be made or written."""
    budget = disk_budget() if budget_bytes is None else int(budget_bytes)
    root = cache_root() if root is None else Path(root)
    state_bytes = int(state_shape[0]) * int(state_shape[1]) * 4
    try:
        root.mkdir(parents=True, exist_ok=True)
        clean_stale(root)
        free = shutil.disk_usage(root).free
    except OSError:
        return None
    budget = min(budget, free // 4)
    if budget < 2 * state_bytes:
        return None
    folder = root / f"{os.getpid()}-{secrets.token_hex(4)}"
    try:
        folder.mkdir(mode=0o700)
        (folder / "owner").write_text(f"{os.getpid()} {_start_time(os.getpid()) or ''}\n")
        return DiskStore(folder, state_shape, budget)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
