"""Issue 32 item 3: compute, not only memory, is checked before work. A step list, an export, a sample and an
analysis are timed on one step of their own chains and refused in one line, with the estimate, when they
would take longer than core.preflight.TIME_LIMIT_S, unless --yes; every option is read before any work."""

import time

import pytest

from kgn_gui.cli import main
from kgn_gui.core.errors import PreflightError
from kgn_gui.core.preflight import TIME_LIMIT_S, check_time, duration_text


def test_the_estimate_is_steps_times_the_step_and_refuses_over_the_limit():
    assert check_time("--steps", 500, 1.0, chains=4) == 500.0  # 8.3 min: under the 10 min limit
    with pytest.raises(PreflightError) as e:
        check_time("--steps", 1000, 1.0, chains=4)
    assert str(e.value) == (
        "--steps: 1,000 steps of 4 chains at 1e+03 ms a step would take about 17 min, over the 10 min limit: "
        "ask for fewer steps, or pass --yes"
    )
    assert check_time("--steps", 10**12, 0.001, chains=2, yes=True) == 1e9  # asked for: it runs
    assert TIME_LIMIT_S == 600
    assert [duration_text(s) for s in (40, 119, 720, 12_600, 86400 * 41)] == [
        "40 s",
        "119 s",
        "12 min",
        "3.5 h",
        "41 days",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "mnist", "--steps", "0,1000000000000", "-n", "2", "-o", "far.gif"],
        ["sample", "mnist", "--steps", "1000000000000", "-n", "2", "-o", "far"],
        ["analyze", "mnist", "--steps", "100000000", "-n", "2"],  # (800 MB of step sizes: fits any CI machine)
        ["analyze", "mnist", "--steps", "10000000", "-n", "2", "--mixing", "0.01,0.1"],
    ],
)
def test_runs_that_would_take_days_are_refused_in_seconds_with_the_estimate(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "would take about" in err and "pass --yes" in err, err
    assert time.monotonic() - t0 < 60  # (one timed step; the run itself would take days)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "argv, said",
    [
        (
            ["analyze", "mnist", "-n", "4", "--steps", "5", "--mixing", "1e308"],
            "ε values must be finite numbers in 0 … 10",
        ),
        (
            ["analyze", "mnist", "-n", "4", "--steps", "5", "--sigmas", "1e308"],
            "σ levels must be finite numbers in 0 … 10",
        ),
        (
            ["analyze", "mnist", "-n", "4", "--steps", "5", "--against", "nowhere.safetensors"],
            "nowhere.safetensors: no such file",
        ),
    ],
)
def test_every_analyze_option_is_checked_before_any_work(argv, said, tmp_path, monkeypatch, capsys):
    # --mixing 1e308 was said after the attractor audit, the basin recovery and a scan (over a minute here)
    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusal of an option
        code = e.code
    assert code in (1, 2)
    err = capsys.readouterr().err.strip()
    assert said in err and err.count("\n") == 0, err
    assert time.monotonic() - t0 < 30


def test_with_yes_a_short_run_runs_and_the_api_checks_only_when_asked(tmp_path):
    import kgn_gui as kgn

    assert main(["sample", "mnist", "--steps", "3", "-n", "2", "--yes", "-o", str(tmp_path / "s")]) == 0
    with pytest.raises(PreflightError, match="would take about"):
        kgn.analyze("mnist", n=2, steps=10**7, max_seconds=1)  # (80 MB of step sizes: the memory check passes)
