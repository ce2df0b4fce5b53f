"""The Ray engine against a real local Ray that these tests start and stop by their own handle (ray.init /
ray.shutdown): the same rows as the local engine, resume, a killed worker's trial run again while the
experiment finishes, and without Ray installed one line that says how to install it."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from kgn_gui.core.errors import EngineError
from kgn_gui.core.experiment.engine import Trial
from kgn_gui.core.experiment.engines import make_engine
from kgn_gui.core.experiment.sweep import read_csv, run_sweep, write_csv
from tests.core.test_engine import always_dies, cache_seen, collect, dies_once, measured, raises, seeded_sum
from tests.core.test_worker_messages import tiny_sweep

ray = pytest.importorskip("ray", reason="the cluster extra is not installed (pip install -e '.[cluster]')")


def test_without_an_address_the_engine_starts_a_local_ray_and_stops_it():
    assert not ray.is_initialized()
    got = collect(make_engine("ray"), seeded_sum, [Trial((s,), {"seed": s}) for s in range(3)])
    assert not ray.is_initialized()  # the engine started it, so the engine shut it down
    assert all(got[(s,)].ok and got[(s,)].row == seeded_sum(s) for s in range(3))
    assert all(o.worker != os.getpid() and o.host for o in got.values())


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for this module's tests: started here, stopped here (never looked up by name)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def test_a_trial_whose_worker_is_killed_runs_again_and_one_that_raises_fails_at_once(local_ray, tmp_path):
    trials = [Trial((0,), {"seed": 0, "marker": str(tmp_path / "m")})]
    (again,) = collect(make_engine("ray"), dies_once, trials).values()
    assert again.ok and again.attempts == 2 and again.row == seeded_sum(0)
    died = collect(make_engine("ray"), always_dies, [Trial((7,), {"seed": 7})])[(7,)]
    assert not died.ok and died.attempts == 3 and died.error.startswith("its worker died 3 times")
    failed = collect(make_engine("ray"), raises, [Trial((5,), {"seed": 5})])[(5,)]
    assert failed.error == "no model for seed 5 second line" and failed.attempts == 1
    assert ray.is_initialized()  # a Ray the engine did not start is left running for its owner


def test_a_sweep_on_ray_writes_the_rows_of_the_local_engine(local_ray, tmp_path):
    cfg = tiny_sweep(seeds=(0, 1))
    here = run_sweep(cfg, tmp_path / "local", workers=2)
    there = run_sweep(cfg, tmp_path / "ray", engine=make_engine("ray", cpus_per_trial=1))
    assert measured(here) == measured(there)  # sweep.csv
    runs_here, runs_ray = read_csv(tmp_path / "local" / "sweep_runs.csv"), read_csv(tmp_path / "ray" / "sweep_runs.csv")
    assert len(runs_ray) == 4 and measured(runs_here) == measured(runs_ray)
    assert all(r["host"] and r["attempts"] == "1" and not r.get("error") for r in runs_ray)


def test_resume_on_ray_runs_only_the_missing_trials(local_ray, tmp_path):
    cfg = tiny_sweep()
    run_sweep(cfg, tmp_path / "full", workers=2)
    runs = read_csv(tmp_path / "full" / "sweep_runs.csv")
    part = tmp_path / "part"
    part.mkdir()
    write_csv(runs[1:], part / "sweep_runs.csv", cfg)  # depth 2 done, depth 1 not
    said = []
    run_sweep(cfg, part, engine=make_engine("ray"), resume=True, log=said.append)
    assert "1 of 2 trials already done" in said
    assert [line.split(":")[0] for line in said[1:]] == ["depth 1, seed 0"]  # only the missing trial ran
    assert measured(read_csv(part / "sweep_runs.csv")) == measured(runs)


def trial_workers_below(root: int) -> list[int]:
    """Pids of the Ray workers, among the descendants of process ``root``, that run a trial now (their title
    is ray::run_in_worker while they do). scripts/ray_worker_loss.py uses it on a running kgn sweep."""
    parent, title = {}, {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                title[int(d.name)] = (d / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
    me = root

    def ours(pid: int) -> bool:
        for _ in range(64):
            pid = parent.get(pid, 0)
            if pid == me:
                return True
            if pid <= 1:
                return False
        return False

    return [p for p, t in title.items() if t.startswith("ray::run_in_worker") and ours(p)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker in /proc")
def test_a_sweep_whose_ray_worker_is_killed_mid_trial_still_finishes_every_row(local_ray, tmp_path):
    cfg = tiny_sweep(steps=400, seeds=(0, 1))
    out = tmp_path / "s"
    done = threading.Event()
    killed = []

    def killer():
        while not done.is_set() and not killed:
            for pid in trial_workers_below(os.getpid())[:1]:
                os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
                killed.append(pid)
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    said = []
    try:
        run_sweep(cfg, out, engine=make_engine("ray"), log=said.append)
    finally:
        done.set()
        t.join(5)
    runs = read_csv(out / "sweep_runs.csv")
    assert killed and len(runs) == 4 and not any(r.get("error") for r in runs)
    assert sorted(r["attempts"] for r in runs) == ["1", "1", "1", "2"]
    assert str(killed[0]) not in {r["worker"] for r in runs}
    assert sum("its worker died (WorkerCrashedError); running it again (attempt 2 of 3)" in s for s in said) == 1
    assert measured(runs) == measured(read_csv(out / "sweep_runs.csv"))


def test_without_ray_installed_the_engine_is_one_line_that_says_how_to_install_it(monkeypatch, capsys):
    from kgn_gui.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError, as without the extra
    with pytest.raises(EngineError, match=r'needs Ray, which is not installed: pip install "kgn-gui\[cluster\]"'):
        make_engine("ray")
    argv = ["sweep", "--data", "points:1d-sigmoid", "--depths", "1", "--H", "8", "--bound", "sigmoid"]
    assert main([*argv, "--engine", "ray", "-o", "/nonexistent/never-made"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kgn sweep: error: --engine ray needs Ray") and len(err.splitlines()) == 1


def test_ray_tasks_get_the_data_cache_s_folder_not_arrays(local_ray, tmp_path, monkeypatch):
    monkeypatch.setenv("KGN_CACHE", str(tmp_path / "shared-cache"))
    (got,) = collect(make_engine("ray"), cache_seen, [Trial((0,), {"seed": 0})]).values()
    assert got.ok, got.error
    assert got.row["cache"] == str(tmp_path / "shared-cache") and got.worker != os.getpid()
