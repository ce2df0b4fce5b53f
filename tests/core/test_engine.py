"""core.experiment.engine: trials in this process or in a pool of child processes, a killed worker's trial
run again (at most twice), a failing trial one line; the sweep's trials, resumable, the same rows either way."""

import os
import signal
from pathlib import Path

from kgn_gui.core.experiment.engine import InProcess, LocalEngine, Trial, threads_per_worker


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
    got = collect(LocalEngine(workers=2), dies_once, trials)
    assert got[(0,)].ok and got[(0,)].attempts == 2 and got[(0,)].row == seeded_sum(0)
    assert got[(1,)].ok and got[(1,)].attempts == 1


def test_a_trial_whose_worker_always_dies_fails_after_two_retries_and_one_that_raises_at_once():
    died = collect(LocalEngine(workers=1), always_dies, [Trial((7,), {"seed": 7})])[(7,)]
    assert not died.ok and died.attempts == 3 and "its worker died 3 times" in died.error
    failed = collect(LocalEngine(workers=1), raises, [Trial((5,), {"seed": 5})])[(5,)]
    assert failed.error == "no model for seed 5 second line" and failed.attempts == 1
