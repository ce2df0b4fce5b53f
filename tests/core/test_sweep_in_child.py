"""core's sweep in a child process (what the window's sweep Job runs): typed events become progress, Cancel
stops the child, a child that does not stop is terminated, and refusals are one line."""

import csv

import pytest

from kgn_gui.core.errors import Cancelled, SweepError
from kgn_gui.core.experiment.sweep_worker import run_sweep_in_child
from tests.core.test_worker_messages import tiny_sweep  # the same tiny sweep as the worker's own tests


def test_the_sweep_runs_in_a_child_and_returns_its_rows(tmp_path):
    out = tmp_path / "sw"
    seen, procs = [], []
    rows = run_sweep_in_child(tiny_sweep(), out, progress=lambda d, n, t: seen.append((d, n, t)), started=procs.append)
    assert [r["depth"] for r in rows] == [1, 2]
    assert not procs[0].is_alive() and procs[0].exitcode == 0
    permille = [d for d, n, _ in seen]
    assert permille[0] == 0 and permille[-1] == 1000 and permille == sorted(permille)
    assert all(n == 1000 for _, n, _ in seen)
    texts = [t for _, _, t in seen if t]
    assert texts[:3] == [
        "seed 0: feature space and real-data baselines",
        "no feature space for 1d-sigmoid: no distribution measures",
        "depth 1, seed 0: training",
    ]
    assert (
        "depth 1, seed 0: training 25 parameters for 50 steps" in texts
        and "depth 2, seed 0: training" in texts
        and texts[-1] == "drawing the chart"
    )
    with open(out / "sweep.csv") as f:
        got = list(csv.DictReader(ln for ln in f if not ln.startswith("#")))
    assert [r["depth"] for r in got] == ["1", "2"] and [r["parameters"] for r in got] == ["25", "97"]
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cancel_stops_the_child_by_itself(tmp_path):
    seen, procs = [], []

    def cancelled():
        return any("depth 1, seed 0: training" in t for t in seen)

    with pytest.raises(Cancelled, match="cancelled"):
        run_sweep_in_child(
            tiny_sweep(steps=10_000_000),
            tmp_path / "sw",
            progress=lambda d, n, t: seen.append(t),
            cancelled=cancelled,
            started=procs.append,
        )
    assert not procs[0].is_alive() and procs[0].exitcode == 0  # it stopped between steps
    assert not (tmp_path / "sw" / "sweep.csv").exists()


def test_a_child_that_outlives_its_grace_period_is_terminated(tmp_path):
    procs = []
    with pytest.raises(Cancelled):
        run_sweep_in_child(
            tiny_sweep(steps=10_000_000),
            tmp_path / "sw",
            cancelled=lambda: bool(procs) and procs[0].is_alive(),
            grace_s=0.0,
            started=procs.append,
        )
    assert not procs[0].is_alive() and procs[0].exitcode != 0  # terminated


def test_refusals_are_one_line_and_start_no_child(tmp_path):
    (tmp_path / "old.csv").write_text("x")
    procs = []
    with pytest.raises(ValueError, match="exists and is not empty"):
        run_sweep_in_child(tiny_sweep(), tmp_path, started=procs.append)
    with pytest.raises(ValueError, match="depths must be whole numbers in 1 … 64"):
        run_sweep_in_child(tiny_sweep(depths=(0, 2)), tmp_path / "new", started=procs.append)
    assert procs == []


def test_data_the_child_cannot_read_is_a_sweep_error(tmp_path):
    with pytest.raises(SweepError, match="no such file"):
        run_sweep_in_child(tiny_sweep(source=str(tmp_path / "missing.npz")), tmp_path / "sw")
