"""core.experiment.engine: trials in this process or in a pool of child processes, a killed worker's trial
run again (at most twice), a failing trial one line; the sweep's trials, resumable, the same rows either way."""

import os
import signal
from pathlib import Path

import pytest

from kgn_gui.core.experiment.engine import InProcess, LocalEngine, Trial, threads_per_worker
from kgn_gui.core.experiment.grid import RUN_COLUMNS, read_csv
from kgn_gui.core.experiment.sweep import run_sweep, write_csv
from tests.core.test_worker_messages import tiny_sweep


def seeded_sum(seed: int) -> dict:
    """A trial: a number that depends on its seed only (the same in any process)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return {"seed": seed, "value": float(torch.rand(1000, generator=g).sum())}


def dies_once(seed: int, marker: str) -> dict:
    """A trial whose first worker is killed (SIGKILL, as by the kernel's OOM killer); the next one finishes."""
    if not Path(marker).exists():
        Path(marker).write_text("killed once")
        os.kill(os.getpid(), signal.SIGKILL)
    return seeded_sum(seed)


def always_dies(seed: int) -> dict:
    os.kill(os.getpid(), signal.SIGKILL)


def raises(seed: int) -> dict:
    raise ValueError(f"no model for seed {seed}\nsecond line")


def cache_seen(seed: int) -> dict:
    """A trial that says which data cache it would map (tests/core/test_ray_engine.py)."""
    from kgn_gui.core.data.cache import cache_folder

    return {"seed": seed, "cache": str(cache_folder())}


def collect(engine, fn, trials):
    got = []
    engine.run(fn, trials, got.append)
    return {o.trial.key: o for o in got}


def test_the_cores_are_shared_out_between_workers():
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(1, cores=16) == 16
    assert threads_per_worker(3, cores=16) == 5 and threads_per_worker(8, cores=2) == 1


def test_two_workers_give_the_rows_of_one_process():
    trials = [Trial((s,), {"seed": s}) for s in range(4)]
    here = collect(InProcess(), seeded_sum, trials)
    pool = collect(LocalEngine(workers=2), seeded_sum, trials)
    assert set(pool) == set(here) and all(pool[k].row == here[k].row for k in here)
    assert {o.worker for o in pool.values()} - {os.getpid()} == {o.worker for o in pool.values()}  # children
    assert all(o.ok and o.attempts == 1 and o.host for o in pool.values())


def test_a_killed_worker_s_trial_runs_again_and_the_others_go_on(tmp_path):
    trials = [
        Trial((0,), {"seed": 0, "marker": str(tmp_path / "m")}),
        Trial((1,), {"seed": 1, "marker": str(tmp_path / "m1")}),
    ]
    (tmp_path / "m1").write_text("never killed")
    said, got = [], []
    LocalEngine(workers=2).run(dies_once, trials, got.append, on_retry=lambda t, line: said.append((t.key, line)))
    got = {o.trial.key: o for o in got}
    assert got[(0,)].ok and got[(0,)].attempts == 2 and got[(0,)].row == seeded_sum(0)
    assert said == [((0,), "its worker died (exit code -9); running it again (attempt 2 of 3)")]
    assert got[(1,)].ok and got[(1,)].attempts == 1


def test_a_trial_whose_worker_always_dies_fails_after_two_retries_and_one_that_raises_at_once():
    died = collect(LocalEngine(workers=1), always_dies, [Trial((7,), {"seed": 7})])[(7,)]
    assert not died.ok and died.attempts == 3 and "its worker died 3 times" in died.error
    failed = collect(LocalEngine(workers=1), raises, [Trial((5,), {"seed": 5})])[(5,)]
    assert failed.error == "no model for seed 5 second line" and failed.attempts == 1


def measured(rows):
    """Rows without where and how long they ran (the host, the worker, the seconds)."""
    return [{k: v for k, v in r.items() if k not in RUN_COLUMNS and "seconds" not in k} for r in rows]


def test_a_sweep_on_two_workers_writes_the_rows_of_one_process(tmp_path):
    cfg = tiny_sweep()
    one = run_sweep(cfg, tmp_path / "one")
    two = run_sweep(cfg, tmp_path / "two", workers=2)
    assert measured(one) == measured(two)  # sweep.csv
    runs_one, runs_two = read_csv(tmp_path / "one" / "sweep_runs.csv"), read_csv(tmp_path / "two" / "sweep_runs.csv")
    assert measured(runs_one) == measured(runs_two)
    assert all(r["host"] and int(r["attempts"]) == 1 and float(r["trial_seconds"]) > 0 for r in runs_two)


def test_resume_runs_only_the_trials_the_folder_does_not_hold(tmp_path):
    cfg = tiny_sweep()
    run_sweep(cfg, tmp_path / "full")
    runs = read_csv(tmp_path / "full" / "sweep_runs.csv")
    part = tmp_path / "part"
    part.mkdir()
    write_csv(runs[:1], part / "sweep_runs.csv", cfg)  # as a sweep stopped after its first trial leaves it
    said = []
    run_sweep(cfg, part, resume=True, log=said.append)
    # the files as a sweep run in one go writes them (the first row read back keeps its written digits)
    assert measured(read_csv(part / "sweep.csv")) == measured(read_csv(tmp_path / "full" / "sweep.csv"))
    assert "1 of 2 trials already done" in said and sum("training" in s for s in said) == 1
    assert measured(read_csv(part / "sweep_runs.csv")) == measured(runs)


def test_resume_refuses_a_folder_of_another_sweep(tmp_path):
    run_sweep(tiny_sweep(), tmp_path)
    with pytest.raises(ValueError, match="holds a sweep of other settings"):
        run_sweep(tiny_sweep(steps=60), tmp_path, resume=True)


def test_kgn_sweep_resume_says_what_is_done_and_refuses_another_sweep(tmp_path, capsys):
    from kgn_gui.cli import main

    out = str(tmp_path / "s")
    argv = ["sweep", "--data", "points:1d-sigmoid", "--depths", "1,2", "--H", "8", "--bound", "sigmoid", "--batch", "2"]
    argv += ["--n", "8", "--sample-steps", "5", "--audit", "0", "--sigmas", "0.1", "--seeds", "0", "-o", out]
    assert main([*argv, "--steps", "20", "--workers", "2"]) == 0
    capsys.readouterr()
    assert main([*argv, "--steps", "20", "--resume"]) == 0
    assert "2 of 2 trials already done" in capsys.readouterr().err
    assert main([*argv, "--steps", "30", "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds a sweep of other settings" in err and len(err.splitlines()) == 1


def test_the_local_engine_and_the_cli_never_import_ray(tmp_path):
    """Ray is an extra: a sweep on the local engine, its options and its help import nothing of it."""
    import subprocess
    import sys

    code = (
        "import sys; from kgn_gui.cli import main, build_parser; build_parser().format_help();"
        "argv = ['sweep', '--data', 'points:1d-sigmoid', '--depths', '1', '--H', '8', '--bound', 'sigmoid',"
        "'--batch', '2', '--steps', '5', '--n', '4', '--sample-steps', '3', '--audit', '0', '--sigmas', '0.1',"
        f"'--seeds', '0', '--workers', '2', '-o', {str(tmp_path / 's')!r}];"
        "rc = main(argv); print(rc, 'ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.splitlines()[-1].split() == ["0", "False"], out.stderr[-500:]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="looks for the workers in /proc")
def test_ctrl_c_stops_a_sweep_on_workers_cleanly_and_resume_finishes_it(tmp_path):
    """From outside, as a user's Ctrl-C: SIGINT to kgn sweep's process group while its workers run trials."""
    import subprocess
    import sys
    import time

    out = tmp_path / "s"
    argv = [sys.executable, "-m", "kgn_gui.cli", "sweep", "--data", "points:1d-sigmoid", "--depths", "1,2,3"]
    argv += ["--H", "8", "--bound", "sigmoid", "--batch", "2", "--steps", "6000", "--n", "8", "--sample-steps", "5"]
    argv += ["--audit", "0", "--sigmas", "0.1", "--seeds", "0,1", "--workers", "2", "-o", str(out)]
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a terminal's foreground job
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=default_sigint)
    runs = out / "sweep_runs.csv"
    deadline = time.monotonic() + 240
    while not (runs.exists() and len(read_csv(runs)) >= 1) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err.strip().splitlines()[-1] == "kgn sweep: interrupted", err[-800:]
    kept = read_csv(runs)
    assert 1 <= len(kept) < 6 and not any(r.get("error") for r in kept)
    time.sleep(0.5)
    for pid in {int(r["worker"]) for r in kept}:  # the workers went with it
        assert not Path(f"/proc/{pid}").exists() or "multiprocessing" not in Path(f"/proc/{pid}/cmdline").read_text()
    again = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and f"{len(kept)} of 6 trials already done" in again.stderr
    assert len(read_csv(runs)) == 6


def test_a_failed_trial_s_reason_is_one_printable_line():
    from kgn_gui.core.experiment.engine import reason

    assert reason(ValueError("\x1b[36mray::run_in_worker()\x1b[39m (pid=7)\n  No module named 'x'")) == (
        "ray::run_in_worker() (pid=7) No module named 'x'"
    )
    assert reason(RuntimeError("")) == "RuntimeError" and len(reason(ValueError("y" * 999))) == 300
    assert reason(ValueError("bell \x07 here")).isprintable()
