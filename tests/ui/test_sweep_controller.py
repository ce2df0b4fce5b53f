"""The depth sweep's controller on its own (no window): core's run_sweep in a child process, typed events
re-emitted as Qt signals, Cancel."""

import csv

from kgn_gui.core.sweep import SweepConfig
from kgn_gui.ui.controllers.sweep import SweepRun


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
    )
    return SweepConfig(**{**base, **kw})


def record(run: SweepRun) -> dict:
    got = {"progress": [], "message": [], "failed": []}
    run.progress.connect(got["progress"].append)
    run.message.connect(got["message"].append)
    run.failed.connect(got["failed"].append)
    return got


def test_the_sweep_runs_in_a_child_and_finishes_with_its_folder(qtbot, tmp_path):
    out = tmp_path / "sw"
    run = SweepRun(tiny_sweep(), out)
    got = record(run)
    assert not run.running()
    with qtbot.waitSignal(run.finished, timeout=120_000) as blocker:
        assert run.start() is run and run.running()
    assert blocker.args == [str(out)] and not run.running() and got["failed"] == []
    assert not run.process.is_alive() and run.process.exitcode == 0
    pm = got["progress"]
    assert pm[0] == 0 and pm[-1] == 1000 and pm == sorted(pm) and len(set(pm)) == len(pm)
    assert got["message"][:2] == ["depth 1: training", "depth 1: training 25 parameters for 50 steps"]
    assert "depth 2: training" in got["message"] and got["message"][-1] == "drawing the chart"
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(ln for ln in f if not ln.startswith("#")))
    assert [r["depth"] for r in rows] == ["1", "2"] and [r["parameters"] for r in rows] == ["25", "97"]
    assert [r["depth"] for r in run.rows] == [1, 2]
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == [
        "depth_1.safetensors",
        "depth_2.safetensors",
        "sweep.csv",
        "sweep.png",
    ]
    assert run.wait(1.0)  # nothing left to wait for


def test_cancel_mid_way_reports_cancelled_and_the_child_is_gone(qtbot, tmp_path):
    out = tmp_path / "sw"
    run = SweepRun(tiny_sweep(steps=10_000_000), out).start()
    got = record(run)
    qtbot.waitUntil(lambda: "depth 1: training" in got["message"] and run.process.is_alive(), timeout=120_000)
    with qtbot.waitSignal(run.failed, timeout=30_000) as blocker:
        run.cancel()
        assert run.running()  # until the child has said so
    assert blocker.args == ["cancelled"] and got["failed"] == ["cancelled"]
    assert not run.running() and not run.process.is_alive() and run.process.exitcode == 0  # it stopped by itself
    assert not (out / "sweep.csv").exists()
    qtbot.wait(200)
    assert got["failed"] == ["cancelled"]  # said once
    run.cancel()  # after the end: nothing happens
    assert got["failed"] == ["cancelled"]


def test_a_child_that_outlives_its_grace_period_is_terminated(qtbot, tmp_path):
    run = SweepRun(tiny_sweep(steps=10_000_000), tmp_path / "sw", cancel_grace_s=0.0).start()
    got = record(run)
    qtbot.waitUntil(lambda: run.process.is_alive(), timeout=60_000)
    with qtbot.waitSignal(run.failed, timeout=30_000) as blocker:
        run.cancel()
    assert blocker.args == ["cancelled"] and got["failed"] == ["cancelled"]
    assert not run.process.is_alive() and run.process.exitcode != 0  # terminated
    assert run.wait(0.1)


def test_wait_on_close_cancels_within_the_grace_period(qtbot, tmp_path):
    run = SweepRun(tiny_sweep(steps=10_000_000), tmp_path / "sw", cancel_grace_s=60.0).start()
    got = record(run)
    qtbot.waitUntil(lambda: "depth 1: training" in got["message"], timeout=120_000)
    run.cancel()
    assert run.wait(30.0)  # the event loop does not turn: wait reads the child's last word itself
    assert got["failed"] == ["cancelled"] and not run.running() and run.process.exitcode == 0


def test_a_folder_that_is_not_empty_is_refused_without_a_child(qtbot, tmp_path):
    (tmp_path / "old.csv").write_text("x")
    run = SweepRun(tiny_sweep(), tmp_path)
    with qtbot.waitSignal(run.failed, timeout=5000) as blocker:
        run.start()  # said from the event loop: a caller connects after start() and still hears it
    assert blocker.args == [f"{tmp_path} exists and is not empty"]
    assert run.process is None and not run.running() and run.wait(0.1)


def test_settings_the_sweep_refuses_are_reported(qtbot, tmp_path):
    run = SweepRun(tiny_sweep(depths=(0, 2)), tmp_path / "sw").start()
    with qtbot.waitSignal(run.failed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["depths must be whole numbers in 1 … 64"] and run.process is None
