"""kgn search and kgn analyze --seeds: one trial per (sampler, seed) on the engine, each the numbers
kgn.analyze gives for that sampler and seed; rows written as they finish, resumable; the mean over seeds."""

import json

import pytest

import kgn_gui as kgn
from kgn_gui.cli import main
from kgn_gui.core.experiment.grid import RUN_COLUMNS, read_csv, value

FAST = ["-n", "16", "--steps", "8"]


def numbers(rows):
    """Rows read back, without where and how long they ran (NaN as text: NaN ≠ NaN)."""
    return [{k: v if v == "nan" else value(v) for k, v in r.items() if k not in RUN_COLUMNS} for r in rows]


def test_a_search_runs_each_sampler_and_seed_as_kgn_analyze_would(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["search", "mnist", "--samplers", "paper; noise=normal,eps=0.1", "--seeds", "0,1", *FAST, "-o", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("noise=normal,eps=0.01 (2 seeds): ") and "precision" in printed[0]
    runs = read_csv(out / "search_runs.csv")
    assert [(r["sampler"], r["seed"]) for r in runs] == [
        ("noise=normal,eps=0.01", "0"),
        ("noise=normal,eps=0.01", "1"),
        ("noise=normal,eps=0.1", "0"),
        ("noise=normal,eps=0.1", "1"),
    ]
    alone = kgn.analyze("mnist", n=16, steps=8, seed=1, sampler="noise=normal,eps=0.1")
    row = numbers(runs)[3]
    assert row["converged"] == pytest.approx(alone["converged"], rel=1e-5)
    assert row["precision"] == pytest.approx(alone["precision"], rel=1e-5)
    summary = read_csv(out / "search.csv")
    assert [r["sampler"] for r in summary] == ["noise=normal,eps=0.01", "noise=normal,eps=0.1"]
    mean = (float(runs[0]["converged"]) + float(runs[1]["converged"])) / 2
    assert float(summary[0]["converged"]) == pytest.approx(mean, abs=1e-5)
    # two workers: the same rows; resume: nothing runs again
    two = tmp_path / "two"
    assert main([*argv[:-1], str(two), "--workers", "2"]) == 0
    assert numbers(read_csv(two / "search_runs.csv")) == numbers(runs)
    capsys.readouterr()
    assert main([*argv[:-1], str(two), "--resume"]) == 0
    assert "4 of 4 trials already done" in capsys.readouterr().err


def test_analyze_seeds_is_the_mean_of_each_seed_s_analysis(tmp_path, capsys):
    js = tmp_path / "m.json"
    argv = ["analyze", "mnist", *FAST, "--audit", "0", "--sigmas", "0"]
    assert main([*argv, "--seeds", "0,2", "--json", str(js)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("noise=normal,eps=0.01 (2 seeds): ")
    got = json.loads(js.read_text())
    each = []
    for seed in (0, 2):
        assert main([*argv, "--seed", str(seed), "--json", str(tmp_path / f"{seed}.json")]) == 0
        each.append(json.loads((tmp_path / f"{seed}.json").read_text())["converged"])
    assert got["seeds"] == 2 and got["converged"] == pytest.approx(sum(each) / 2, abs=1e-6)
    assert got["converged_lo"] <= got["converged"] <= got["converged_hi"]


@pytest.mark.parametrize(
    "argv, says",
    [
        (["search", "mnist", "--samplers", "paper;warp=9", "-o", "{tmp}/a"], "warp"),
        (["search", "mnist", "--samplers", "paper;paper", "-o", "{tmp}/b"], "none twice"),
        (["search", "mnist", "--seeds", "0,x", "-o", "{tmp}/c"], "seeds"),
        (["analyze", "mnist", "--seeds", "0,1", "--start", "normal"], "--start is not for --seeds"),
        (["analyze", "mnist", "--workers", "2"], "are for --seeds"),
        (["search", "mnist", "--engine", "ray", "--address", "127.0.0.1:1", "-o", "{tmp}/d"], "no Ray cluster"),
    ],
)
def test_bad_search_requests_are_one_line_before_any_trial(tmp_path, capsys, argv, says):
    if "ray" in argv:
        pytest.importorskip("ray")
    try:
        rc = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    except SystemExit as e:  # an option argparse refuses
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())  # no folder made, nothing half-written
