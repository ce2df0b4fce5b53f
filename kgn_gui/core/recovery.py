"""Recovery checkpoints: training in the window saves its weights every so often, so a crash or a kill
loses at most that much work; the next start offers to restore them.

A recovery file is an ordinary model file (``training-PID-NS.safetensors``, written atomically) whose metadata
has a ``recovery`` entry: the step reached, the run's length, the data source, the time, and the process
id of the app that ran the training. When training ends normally and the app has the result, the app
deletes the file; a file whose app is no longer running is therefore work that was interrupted.

The folder is ``$KGN_RECOVERY_DIR`` when set, else ``$XDG_STATE_HOME/kgn-gui/recovery`` (by default
``~/.local/state/kgn-gui/recovery``).
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import CheckpointError, read_metadata, save_checkpoint

ENV = "KGN_RECOVERY_DIR"


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
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if isinstance(start, int) and process_start(pid) not in (None, start):
        return False  # the pid now belongs to another process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


def recovery_name() -> str:
    """A file name for this process's run, unique even when pids repeat (after a reboot, in a sandbox)."""
    return f"training-{os.getpid()}-{time.time_ns()}.safetensors"


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
        return self.meta.get("recovery", {})

    def describe(self) -> str:
        from .models import ModelSpec

        i = self.info
        try:
            model = ModelSpec.from_dict(self.meta.get("spec")).describe()
        except (ValueError, TypeError):
            model = "a model"

        def n(v):
            return f"{v:,}" if isinstance(v, int) else "?"

        return (
            f"{model} on {self.meta.get('dataset') or 'unknown data'}: step {n(i.get('step'))} of "
            f"{n(i.get('steps'))}, saved {str(i.get('saved', '?')).replace('T', ' ')[:19]} UTC"
        )

    def discard(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def pending_recoveries(folder: Path | None = None) -> list[Recovery]:
    """Recovery files left by training runs whose app is no longer running (newest first). Files that
    are not readable model files are skipped; half-written temporaries of dead writers are removed."""
    folder = folder or recovery_dir()
    if not folder.is_dir():
        return []
    for part in folder.glob(".training-*.part"):  # a write cut short by a kill: its writer's pid is in the name
        pid = part.name[len(".training-") :].split(".", 1)[0].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)
    found = []
    for p in folder.glob("training-*.safetensors"):
        try:
            meta = read_metadata(p)
        except CheckpointError:
            continue
        info = meta.get("recovery")
        if not isinstance(info, dict) or _alive(info.get("app_pid"), info.get("app_start")):
            continue
        found.append(Recovery(p, meta))
    return sorted(found, key=lambda r: str(r.info.get("saved", "")), reverse=True)
