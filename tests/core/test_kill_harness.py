"""Issue 32 item 1: every writer, killed with SIGKILL at any moment, leaves its target as it was or whole and
new, never torn, and the next write of the same target removes what the killed one left.

Each writer runs in a forked child that writes its target over and over (new content each time) until the
parent SIGKILLs it after a seeded random delay; then the target must load and hold one of the versions
written whole. 5 writers × 44 kills = 220 kills a run (seeded); a fork is cheap, so this takes seconds."""

import json
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from kgn_gui.core.data.dataset import Dataset
from kgn_gui.core.experiment.grid import read_csv, write_csv
from kgn_gui.core.files import atomic_folder, atomic_write_text, remove_stale_parts
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.checkpoint import load_checkpoint, save_checkpoint
from kgn_gui.core.model.recovery import pending_recoveries, recovery_name, save_recovery

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="kills forked writers (POSIX)")

KILLS = 44  # per writer
SPEC = ModelSpec(D=6, L=2, H=64, bound="sigmoid", shape=(6,))
MODELS = [build_model(SPEC, seed=s) for s in range(3)]  # made before forking: a child only writes


def write_model(target: Path, i: int) -> None:
    save_checkpoint(target, MODELS[i % 3], SPEC, dataset=f"v{i % 3}")


def check_model(target: Path):
    ck = load_checkpoint(target)
    k = int(ck.meta["dataset"][1:])
    for a, b in zip(ck.model.state_dict().values(), MODELS[k].state_dict().values()):
        assert torch.equal(a, b)  # the weights of the version its metadata names: not a mix
    return ck.meta["date"]  # (a new write is a new date or the same one: the version is its content)


def write_csv_rows(target: Path, i: int) -> None:
    write_csv([{"depth": d, "seed": i, "frechet": float(d * i)} for d in range(1 + i % 50)], target, "# settings")


def check_csv(target: Path):
    rows = read_csv(target)
    i = int(rows[0]["seed"])
    assert len(rows) == 1 + i % 50 and all(int(r["seed"]) == i for r in rows)
    return i


def write_sample_folder(target: Path, i: int) -> None:  # kgn sample -o DIR's writer
    with atomic_folder(target, owned={"final_states.npy", "sample.json"}.__contains__) as tmp:
        np.save(tmp / "final_states.npy", np.full((64, 784), i, np.float32))
        atomic_write_text(tmp / "sample.json", json.dumps({"steps": i}))


def check_sample_folder(target: Path):
    i = json.loads((target / "sample.json").read_text())["steps"]
    assert (np.load(target / "final_states.npy") == i).all()
    return i


TOY = Dataset(x=np.zeros((4, 6), np.float32), shape=(6,), value_range=(0.0, 1.0), name="toy")
_NAMES: dict[int, str] = {}


def write_recovery(folder: Path, i: int) -> None:  # the training worker's: one file a run, replaced each time
    name = _NAMES.setdefault(os.getpid(), recovery_name())
    save_recovery(folder, MODELS[i % 3], SPEC, TOY, {}, step=i, steps=10**6, source=None, app_pid=4194303, name=name)


def check_recovery(folder: Path):
    steps = []
    for rec in pending_recoveries(folder):  # (its app, pid 4194303, is not running: every entry is offered)
        steps.append(load_checkpoint(rec.path).meta["recovery"]["step"])
    return tuple(sorted(steps))


def write_text(target: Path, i: int) -> None:  # JSON outputs, figures' text, settings files
    atomic_write_text(target, json.dumps({"i": i, "pad": "x" * (i * 997 % 200_000)}))


def check_text(target: Path):
    d = json.loads(target.read_text())
    assert len(d["pad"]) == d["i"] * 997 % 200_000
    return d["i"]


WRITERS = {
    "model": (write_model, check_model, "m.safetensors"),
    "csv": (write_csv_rows, check_csv, "sweep_runs.csv"),
    "sample folder": (write_sample_folder, check_sample_folder, "out"),
    "recovery": (write_recovery, check_recovery, None),
    "json": (write_text, check_text, "measures.json"),
}


def _kill_while_writing(write, target: Path, delay_s: float, start: int) -> None:
    pid = os.fork()
    if pid == 0:  # the child: write until killed
        try:
            i = start
            while True:
                write(target, i)
                i += 1
        finally:
            os._exit(0)
    time.sleep(delay_s)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # reaped: its PID no longer runs


@pytest.mark.parametrize("name", list(WRITERS))
def test_a_writer_killed_at_any_moment_leaves_its_target_whole_and_no_litter(name, tmp_path):
    write, check, target_name = WRITERS[name]
    target = tmp_path / target_name if target_name else tmp_path / "recovery"
    if target_name is None:
        target.mkdir()
    rng = random.Random(f"kills-{name}")
    write(target, 1)  # a first version, whole
    seen = {check(target)}
    for k in range(KILLS):
        _kill_while_writing(write, target, rng.uniform(0.0, 0.2), start=(k + 1) * 1000)
        seen.add(check(target))  # as it was, or whole and new: never torn
    assert len(seen) >= 3  # the children wrote new versions before they were killed (mid-run, not all at once)
    write(target, 7)  # the next write of the target removes what the killed writers left
    check(target)
    litter = [p.name for p in (tmp_path.iterdir() if target_name else target.iterdir()) if p.name.endswith(".part")]
    if target_name is None:  # the recovery folder removes its own dead writers' temporaries when it is read
        pending_recoveries(target)
        litter = [p.name for p in target.iterdir() if p.name.endswith(".part")]
    assert litter == [], litter


def test_stale_temporaries_of_a_running_writer_or_another_target_are_kept(tmp_path):
    target = tmp_path / "a.gif"
    mine = tmp_path / f".a.gif.{os.getpid()}-abc.part"  # this process is alive: a write in progress
    other = tmp_path / ".b.gif.999999999-abc.part"  # another target's
    odd = tmp_path / ".a.gif.notapid.part"  # not named by this scheme
    dead = tmp_path / ".a.gif.4194303-xyz.part"  # a PID above the kernel's limit: never running
    for p in (mine, other, odd, dead):
        p.write_text("x")
    assert remove_stale_parts(target) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (mine, other, odd))
