"""Recovery checkpoints: training in the window saves its weights every so often, so a crash or a kill
loses at most that much work; the next start offers to restore them.

A recovery file is an ordinary model file (``training-PID-NS.safetensors``, written atomically) whose metadata
has a ``recovery`` entry: the step reached, the run's length, the data source, the time, and the process
id of the app that ran the training. When training ends normally and the app has the result, the app
deletes the file; a file whose app is no longer running is therefore work that was interrupted.

The folder is ``$KGN_RECOVERY_DIR`` when set, else ``$XDG_STATE_HOME/kgn-gui/recovery`` (by default
``~/.local/state/kgn-gui/recovery``).

The scan at start-up never fails as a whole: an entry it cannot understand (not a regular file, unreadable,
a damaged model file, a ``recovery`` entry of the wrong shape) is skipped with one warning on the
``kgn_gui.recovery`` logger, and the good runs are still offered.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, printable
from .checkpoint import read_metadata, save_checkpoint

ENV = "KGN_RECOVERY_DIR"
MAX_ENTRIES = 1000  # recovery files looked at by one scan (a folder of a million must not stall start-up)
MAX_PID = (1 << 31) - 1  # larger values are no process id (and overflow os.kill)
log = logging.getLogger("kgn_gui.recovery")


def recovery_dir() -> Path:
    d = os.environ.get(ENV)
    if d:
        return Path(d)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "kgn-gui" / "recovery"


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None: with the pid it tells a
    process from a later one that was given the same pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid, start=None) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid <= MAX_PID:
        return False
    if isinstance(start, int) and process_start(pid) not in (None, start):
        return False  # the pid now belongs to another process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except (OSError, OverflowError):
        return False
    return True


def recovery_prefix(pid: int) -> str:
    """What the names of the recovery files of the training process ``pid`` begin with."""
    return f"training-{pid}-"


def recovery_name() -> str:
    """A file name for this process's run, unique even when pids repeat (after a reboot, in a sandbox)."""
    return f"{recovery_prefix(os.getpid())}{time.time_ns()}.safetensors"


def save_recovery(
    folder: Path,
    model,
    spec,
    dataset,
    recipe: dict,
    *,
    step: int,
    steps: int,
    source: str | None,
    app_pid: int,
    name: str | None = None,
) -> Path:
    """Write (replace) the run's recovery file ``name`` (default: a fresh :func:`recovery_name`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or recovery_name())
    info = {
        "step": int(step),
        "steps": int(steps),
        "source": source,
        "app_pid": int(app_pid),
        "app_start": process_start(app_pid),
        "saved": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    save_checkpoint(
        path,
        model,
        spec,
        dataset=dataset.name,
        data_shape=dataset.shape,
        recipe=recipe,
        name=f"recovered-{spec.arch}-L{spec.L}-H{spec.H}",
        extra={"recovery": info},
    )
    return path


@dataclass
class Recovery:
    """An interrupted training run's recovery file."""

    path: Path
    meta: dict

    @property
    def info(self) -> dict:
        info = self.meta.get("recovery")
        return info if isinstance(info, dict) else {}

    def describe(self) -> str:
        from .architectures import ModelSpec

        i = self.info
        try:
            model = ModelSpec.from_dict(self.meta.get("spec")).describe()
        except (ValueError, TypeError):
            model = "a model"

        def n(v):
            return f"{v:,}" if isinstance(v, int) else "?"

        return (
            f"{model} on {str(self.meta.get('dataset') or 'unknown data')[:200]}: step {n(i.get('step'))} of "
            f"{n(i.get('steps'))}, saved {str(i.get('saved', '?')).replace('T', ' ')[:19]} UTC"
        )

    def discard(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


# The fields of a file's ``recovery`` entry: what each must be (each may be missing, except app_pid).
_INFO_SCHEMA = {
    "step": (_is_count, "a non-negative integer"),
    "steps": (_is_count, "a non-negative integer"),
    "source": (lambda v: v is None or (isinstance(v, str) and len(v) <= 4096), "text or null"),
    "app_pid": (lambda v: _is_count(v) and v <= MAX_PID, "a process id"),
    "app_start": (lambda v: v is None or _is_count(v), "a non-negative integer or null"),
    "saved": (lambda v: isinstance(v, str) and len(v) <= 100, "a date (text)"),
}


def check_recovery_info(info) -> str | None:
    """Why a file's ``recovery`` entry cannot be used, or None when it can."""
    if not isinstance(info, dict):
        return "its recovery entry is not a JSON object" if info is not None else "it has no recovery entry"
    if "app_pid" not in info:
        return "its recovery entry has no app_pid"
    for key, (ok, expected) in _INFO_SCHEMA.items():
        if key in info and not ok(info[key]):
            return f"recovery.{key} must be {expected}"
    return None


def _regular(entry: os.DirEntry) -> str | None:
    """Why a folder entry is not a regular file (links are not followed), or None."""
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as e:
        return f"cannot stat it: {e.strerror or e}"
    if stat.S_ISLNK(mode):
        return "a symbolic link, not a file"
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket)"
    return None


def _is_part(name: str) -> bool:
    return name.startswith(".training-") and name.endswith(".part")


def _is_recovery(name: str) -> bool:
    return name.startswith("training-") and name.endswith(".safetensors")


def _entries(folder: Path) -> list[os.DirEntry]:
    """The folder's entries named like recovery files or their temporaries (at most MAX_ENTRIES of them,
    among at most 100 × MAX_ENTRIES entries listed)."""
    out = []
    try:
        with os.scandir(folder) as it:
            for i, entry in enumerate(it):
                if i >= 100 * MAX_ENTRIES or len(out) >= MAX_ENTRIES:
                    log.warning("recovery folder %s: too many entries; the rest are not looked at", printable(folder))
                    break
                if _is_part(entry.name) or _is_recovery(entry.name):
                    out.append(entry)
    except OSError as e:
        log.warning("recovery folder %s: cannot list it: %s", printable(folder), printable(e.strerror or e))
    return out


def _remove_dead_part(entry: os.DirEntry) -> None:
    """A write cut short by a kill leaves ``.training-PID-….part``: removed when its writer is gone."""
    pid = entry.name[len(".training-") :].split(".", 1)[0].split("-", 1)[0]
    if not (pid.isascii() and pid.isdigit() and 0 < int(pid) <= MAX_PID):
        log.warning("recovery folder: skipped %s: no process id in its name", printable(entry.name))
        return
    if _alive(int(pid)):
        return  # still being written
    why = _regular(entry)
    if why:
        log.warning("recovery folder: skipped %s: %s", printable(entry.name), printable(why))
        return
    try:
        os.unlink(entry.path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("recovery folder: cannot remove %s: %s", printable(entry.name), printable(e.strerror or e))


def pending_recoveries(folder: Path | None = None) -> list[Recovery]:
    """Recovery files left by training runs whose app is no longer running (newest first). Entries that
    are not readable recovery files are skipped, each with a warning on the ``kgn_gui.recovery`` logger;
    half-written temporaries of dead writers are removed. Never raises for what is in the folder."""
    folder = Path(folder or recovery_dir())
    try:
        if not folder.is_dir():
            return []
    except OSError:  # e.g. a name too long for the file system
        return []
    entries = _entries(folder)
    for entry in entries:
        if _is_part(entry.name):
            _remove_dead_part(entry)
    found = []
    for entry in entries:
        name = entry.name
        if not _is_recovery(name):
            continue
        why = _regular(entry)
        meta = None
        if why is None:
            try:
                meta = read_metadata(entry.path)
            except CheckpointError as e:
                why = str(e)
            except (OSError, ValueError, RecursionError, MemoryError) as e:  # not expected: still one line
                why = f"{type(e).__name__}: {e}"
        if why is None:
            why = check_recovery_info(meta.get("recovery"))
        if why is not None:
            log.warning("recovery folder: skipped %s: %s", printable(name), printable(why))
            continue
        info = meta["recovery"]
        if _alive(info.get("app_pid"), info.get("app_start")):
            continue  # its app is still running: not interrupted
        found.append(Recovery(Path(entry.path), meta))
    return sorted(found, key=lambda r: str(r.info.get("saved", "")), reverse=True)
