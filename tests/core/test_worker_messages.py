"""The typed messages between the window and its child processes (training, the depth sweep), and the
workers' ends of the protocol, run in real spawned processes (no Qt)."""

import multiprocessing as mp
import pickle
import queue

import numpy as np
import pytest

from kgn_gui.core.experiment.sweep import SweepConfig, check_output_folder
from kgn_gui.core.experiment.sweep_worker import sweep_worker
from kgn_gui.core.messages import (
    Command,
    Ended,
    Failed,
    Progress,
    RecoverySaved,
    Snapshot,
    SnapshotFailed,
    SweepCancelled,
    SweepDone,
    SweepFailed,
    SweepLog,
    SweepProgress,
    SweepTrial,
    TrainWarning,
)
from kgn_gui.core.model.train import TrainEvent
from kgn_gui.core.model.train_worker import train_worker

EVENT = TrainEvent("progress", 7, 50, 0.25, 0.125, 1000.0, 3.5, 1.0, "")

MESSAGES = [
    Ended(EVENT, "/tmp/trained.safetensors", {"lr": 0.001, "steps": 50}),
    Ended(None, "/tmp/x.safetensors"),
    RecoverySaved("/tmp/training-1.safetensors"),
    TrainWarning("could not write the recovery checkpoint: disk full"),
    Snapshot("/tmp/snapshot-1.safetensors"),
    SnapshotFailed("no space"),
    Failed("training could not start: bad data"),
    SweepProgress(0.375, "depth 4: training"),
    SweepLog("depth 1: loss 0.01, copies 1.00, distinct 2, attractors 1.00"),
    SweepTrial({"depth": 2, "seed": 1, "train_loss": 0.25, "host": "node-3", "attempts": 2}, 3, 6),
    SweepDone("/tmp/sw", [{"depth": 1, "train_loss": 0.5}, {"depth": 2, "train_loss": 0.25}]),
    SweepFailed("/tmp/sw exists and is not empty"),
    SweepCancelled(),
]


def _via_spawn_queue(items):
    """Each item put on a spawn-context queue and read back (pickled by its feeder thread)."""
    q = mp.get_context("spawn").Queue()
    for m in items:
        q.put(m)
    got = [q.get(timeout=10) for _ in items]
    q.close()
    q.join_thread()
    return got


def test_every_message_and_command_survives_pickling_and_a_spawn_queue():
    for m in MESSAGES:
        assert pickle.loads(pickle.dumps(m)) == m
    assert _via_spawn_queue(MESSAGES) == MESSAGES
    assert _via_spawn_queue(list(Command)) == [
        Command.PAUSE, Command.RESUME, Command.STOP, Command.SNAPSHOT, Command.SHARE_CORES, Command.ALL_CORES
    ]  # fmt: skip
    assert pickle.loads(pickle.dumps(Command.STOP)) is Command.STOP  # an enum member: `is` works after the trip


def test_progress_carries_its_event_and_losses_through_a_spawn_queue():
    p = Progress(EVENT, 40, np.arange(10, dtype=np.float32) / 8)
    (back,) = _via_spawn_queue([p])
    assert isinstance(back, Progress) and back.event == EVENT and back.first == 40
    assert back.losses.dtype == np.float32 and back.losses.tolist() == [k / 8 for k in range(10)]


def test_messages_are_frozen():
    with pytest.raises(AttributeError):
        SweepProgress(0.5, "x").fraction = 1.0


def _spawn(target, job):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    parent, child = ctx.Pipe()
    p = ctx.Process(target=target, args=(job, q, child), daemon=True)
    p.start()
    child.close()
    return p, q, parent


def _until_last(q, last_types, timeout=120):
    got = []
    while not got or not isinstance(got[-1], last_types):
        got.append(q.get(timeout=timeout))
    return got


def test_the_training_worker_answers_a_bad_job_with_failed():
    from kgn_gui.core.model.architectures import ModelSpec
    from kgn_gui.core.model.train import TrainConfig

    job = {
        "spec": ModelSpec(D=1, L=2, H=8, bound="sigmoid").to_dict(),
        "config": TrainConfig(steps=5).to_dict(),
        "source": ["points:no-such-preset", [0.0, 1.0], [28, 28]],
        "threads": 1,
        "out_dir": "/nonexistent",
    }
    p, q, _conn = _spawn(train_worker, job)
    (msg,) = _until_last(q, (Failed,))
    p.join(30)
    assert msg.message.startswith("training could not start: ") and "no-such-preset" in msg.message
    assert p.exitcode == 0


def tiny_sweep(**kw) -> SweepConfig:
    """Two depths on the paper's two 1-d points, small enough to run in a few seconds."""
    base = dict(
        source="points:1d-sigmoid",
        depths=(1, 2),
        H=8,
        bound="sigmoid",
        steps=50,
        batch=2,
        chains=8,
        sample_steps=10,
        audit=2,
        sigmas=(0.1,),
        recovery_n=8,
        recovery_T=5,
        seeds=(0,),
    )
    return SweepConfig(**{**base, **kw})


def test_the_sweep_worker_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    p, q, _conn = _spawn(sweep_worker, {"config": tiny_sweep(), "out_dir": str(tmp_path), "threads": 1})
    (msg,) = _until_last(q, (SweepFailed,))
    p.join(30)
    assert msg == SweepFailed(f"{tmp_path} exists and is not empty") and p.exitcode == 0


def test_the_sweep_worker_reports_progress_logs_and_its_rows(tmp_path):
    out = tmp_path / "sw"
    p, q, _conn = _spawn(sweep_worker, {"config": tiny_sweep(), "out_dir": str(out), "threads": 1})
    got = _until_last(q, (SweepDone, SweepFailed, SweepCancelled))
    p.join(30)
    done = got[-1]
    assert isinstance(done, SweepDone), got[-1]
    assert done.folder == str(out) and [r["depth"] for r in done.rows] == [1, 2]
    assert [r["parameters"] for r in done.rows] == [25, 97]  # 1→8→1 and 1→8→8→1 with biases
    fractions = [m.fraction for m in got if isinstance(m, SweepProgress)]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    stages = list(dict.fromkeys(m.message for m in got if isinstance(m, SweepProgress)))
    assert stages == [
        "seed 0: feature space and real-data baselines",
        "depth 1, seed 0: training",
        "depth 1, seed 0: sampling 8 chains",
        "depth 1, seed 0: attractor audit",
        "depth 1, seed 0: basin recovery",
        "depth 2, seed 0: training",
        "depth 2, seed 0: sampling 8 chains",
        "depth 2, seed 0: attractor audit",
        "depth 2, seed 0: basin recovery",
        "drawing the chart",
    ]
    logs = [m.line for m in got if isinstance(m, SweepLog)]
    assert logs[:2] == [
        "no feature space for 1d-sigmoid: no distribution measures",  # 1-d points: no distribution measures
        "depth 1, seed 0: training 25 parameters for 50 steps",
    ]
    assert len(logs) == 7 and logs[2].startswith("depth 1, seed 0: evaluation loss ")
    assert (
        done.rows[0]["seeds"] == 1
        and done.rows[0]["feature_space"] is None
        and done.rows[0]["missing"] == "mixing_class:1 autocorrelation_time_median:1 ess_median:1"
    )  # no classes for points; chains that sit still after settling have no autocorrelation time
    assert (out / "sweep.csv").read_text().count("\n") == 4 and (out / "sweep.png").exists()


def test_stop_cancels_the_sweep_worker(tmp_path):
    out = tmp_path / "sw"
    p, q, conn = _spawn(sweep_worker, {"config": tiny_sweep(steps=10_000_000), "out_dir": str(out), "threads": 1})
    conn.send(Command.STOP)
    got = _until_last(q, (SweepDone, SweepFailed, SweepCancelled))
    p.join(30)
    assert got[-1] == SweepCancelled() and p.exitcode == 0
    assert not (out / "sweep.csv").exists()


def test_a_closed_pipe_stops_the_sweep_worker_too(tmp_path):
    p, q, conn = _spawn(
        sweep_worker, {"config": tiny_sweep(steps=10_000_000), "out_dir": str(tmp_path / "sw"), "threads": 1}
    )
    conn.close()  # the parent went away
    got = _until_last(q, (SweepDone, SweepFailed, SweepCancelled))
    p.join(30)
    assert got[-1] == SweepCancelled()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.2)  # nothing follows the last word


def test_the_window_s_sweep_child_runs_its_trials_on_local_workers_and_reports_each(tmp_path):
    """The sweep child is not daemonic, so its engine may start worker processes (a daemonic one may not)."""
    from kgn_gui.core.experiment.sweep import read_csv
    from kgn_gui.core.experiment.sweep_worker import run_sweep_in_child

    trials = []
    rows = run_sweep_in_child(
        tiny_sweep(), tmp_path / "sw", engine={"name": "local", "workers": 2}, on_trial=lambda *a: trials.append(a)
    )
    assert [r["depth"] for r in rows] == [1, 2] and sorted(d for _r, d, _n in trials) == [1, 2]
    assert {r["depth"] for r, _d, n in trials} == {1, 2} and all(n == 2 for *_x, n in trials)
    runs = read_csv(tmp_path / "sw" / "sweep_runs.csv")
    assert len({r["worker"] for r in runs}) == 2  # two worker processes, neither of them the sweep's child


def test_the_output_folder_check(tmp_path):
    assert check_output_folder(tmp_path / "new") == tmp_path / "new"
    assert check_output_folder(tmp_path) == tmp_path  # empty
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="exists and is not empty"):
        check_output_folder(tmp_path)
