"""Recovery checkpoints: a training process killed mid-run leaves its latest weights for the next start."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from kgn_gui.core.data.sources import point_preset
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.model.recovery import pending_recoveries, save_recovery
from tests.conftest import REPO


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_only_runs_whose_app_is_gone_are_offered(tmp_path):
    spec = ModelSpec(D=2, L=1, H=3, bound="sigmoid")
    ds = point_preset("2d-corners")
    save_recovery(
        tmp_path,
        build_model(spec, seed=0),
        spec,
        ds,
        {},
        step=40,
        steps=100,
        source="points:2d-corners",
        app_pid=os.getpid(),
    )
    assert pending_recoveries(tmp_path) == []  # its app (this process) is still running
    p = save_recovery(
        tmp_path, build_model(spec, seed=0), spec, ds, {}, step=1234, steps=5000, source=None, app_pid=dead_pid()
    )
    (tmp_path / "training-999.safetensors").write_bytes(b"garbage")  # unreadable: skipped, not offered
    (rec,) = pending_recoveries(tmp_path)
    assert rec.path == p and rec.info["step"] == 1234
    assert "step 1,234 of 5,000" in rec.describe() and "2d-corners" in rec.describe()
    assert load_checkpoint(p).spec == spec
    rec.discard()
    assert not p.exists() and pending_recoveries(tmp_path / "absent") == []


WORKER = textwrap.dedent("""
    import os, sys, multiprocessing as mp
    from kgn_gui.core.model.train_worker import train_worker
    from kgn_gui.core.model.architectures import ModelSpec
    from kgn_gui.core.model.train import TrainConfig
    job = {"spec": ModelSpec(D=2, L=2, H=16, bound="sigmoid").to_dict(),
           "config": TrainConfig(lr=1e-3, batch=4, steps=10_000_000, report_interval_s=0.01).to_dict(),
           "source": ["points:2d-corners", [0.0, 1.0], [28, 28]], "threads": 1, "out_dir": sys.argv[2],
           "recovery": {"folder": sys.argv[1], "every_s": 0.2, "source": "points:2d-corners", "app_pid": os.getpid()}}
    q = mp.get_context("spawn").Queue()
    a, b = mp.Pipe()
    train_worker(job, q, b)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_training_process_leaves_a_loadable_recovery_checkpoint(tmp_path):
    rec_dir, out_dir = tmp_path / "rec", tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(rec_dir), str(out_dir)], cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        first = None
        while time.monotonic() < deadline:  # two saves: the file is rewritten as training goes on
            files = list(rec_dir.glob("training-*.safetensors")) if rec_dir.is_dir() else []
            if files:
                first = first or files[0].stat().st_mtime_ns
                if files[0].stat().st_mtime_ns != first:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("no recovery checkpoint was written")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (rec,) = pending_recoveries(rec_dir)
    assert rec.info["steps"] == 10_000_000 and rec.info["source"] == "points:2d-corners"
    ck = load_checkpoint(rec.path)
    assert ck.spec == ModelSpec(D=2, L=2, H=16, bound="sigmoid") and ck.meta["dataset"] == "2d-corners"
    # The file names the step its weights and recipe come from.
    assert ck.meta["recipe"]["steps_done"] == rec.info["step"] > 0
    assert not [p for p in rec_dir.iterdir() if p.suffix == ".part"]


def test_half_written_temporaries_of_dead_writers_are_removed(tmp_path):
    dead, alive = (
        tmp_path / f".training-{dead_pid()}.safetensors.abc.part",
        tmp_path / f".training-{os.getpid()}.safetensors.x.part",
    )
    dead.write_bytes(b"x")
    alive.write_bytes(b"x")
    assert pending_recoveries(tmp_path) == []
    assert not dead.exists() and alive.exists()
