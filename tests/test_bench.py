"""The benchmark runner: each benchmark's rows and the table (timings themselves are never asserted)."""

import json
import subprocess
import sys

import pytest

from bench.__main__ import table
from bench._rows import row
from tests.conftest import REPO


def test_rows_carry_value_baseline_and_ratio():
    r = row("x", 30.0, 60.0, unit="fps", baseline_is="clock", target="≥ 30")
    assert r["ratio"] == 0.5 and r["baseline_is"] == "clock"
    assert row("y", 3.0)["ratio"] is None
    text = table([{"benchmark": "b", **r}], "header")
    assert text.startswith("header") and "| `b` | x | 30 fps | 60 (clock) | **0.50** | ≥ 30 |" in text


def test_a_benchmark_writes_its_rows_as_json(tmp_path):
    out = tmp_path / "c.json"
    r = subprocess.run(
        [sys.executable, "-m", "bench.chain_speed", "--seconds", "0.01", "--sizes", "4,8", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())
    assert [x["measure"] for x in rows] == ["chain sample-steps/s, N = 4 on cpu", "chain sample-steps/s, N = 8 on cpu"]
    # (the timings themselves are not asserted; what they mean is: the ratio is chain steps over bare f(x))
    for x in rows:
        assert (x["unit"], x["baseline_is"], x["target"]) == ("sample-steps/s", "bare x = f(x)", "")
        assert x["value"] > 0 and x["baseline"] > 0 and x["ratio"] == pytest.approx(x["value"] / x["baseline"])


def test_the_runner_refuses_an_unknown_benchmark():
    r = subprocess.run([sys.executable, "-m", "bench", "--only", "nope"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and "unknown benchmark" in r.stderr


def test_timeline_jump_predicts_the_keyframe_interval_the_disk_tier_settles_on(tmp_path):
    import torch

    from bench.timeline_jump import keyframe_interval
    from kgn_gui.core.chain.chain import Chain
    from kgn_gui.core.chain.keyframes import DEFAULT_DISK_BYTES, open_store
    from kgn_gui.core.chain.sampler import Sampler
    from kgn_gui.core.chain.timeline import Timeline
    from kgn_gui.core.model.architectures import ModelSpec, build_model

    # The issue's 256 MNIST chains: 10,000 steps keep K = 6 in the default 4 GB; 100,000 steps need K = 24.
    slots = DEFAULT_DISK_BYTES // (256 * 784 * 4)
    assert keyframe_interval(10_000, slots) == 6 and keyframe_interval(100_000, slots) == 24
    spec = ModelSpec(D=2, L=1, H=4, bound="sigmoid")
    chain = Chain(build_model(spec, seed=0), spec.value_range, Sampler("normal", 0.01), 0, "cpu")
    for steps, slots in ((200, 24), (1000, 50), (35, 100)):
        store = open_store((4, 2), budget_bytes=slots * 32, root=tmp_path)
        tl = Timeline(chain, torch.rand(4, 2), budget_bytes=1 << 20, disk=store)
        tl.advance(steps)
        assert tl.K == keyframe_interval(steps, slots) and len(store) <= slots
        tl.close()


def test_timeline_jump_writes_the_rows_the_issue_names(tmp_path):
    out = tmp_path / "t.json"
    argv = ["--steps", "40", "--chains", "8", "--jumps", "3", "--long-steps", "400", "--rounds", "2"]
    r = subprocess.run(
        [sys.executable, "-m", "bench.timeline_jump", *argv, "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    names = [x["measure"] for x in json.loads(out.read_text())]
    assert names == [
        "timeline exact cold jump p95, 8 MNIST chains, 40 steps, ms",
        "timeline first frame p95, 8 MNIST chains, 40 steps, ms",
        "replayed step / bare f(x), 8 MNIST chains, ms",
        "timeline exact cold jump p95, 8 MNIST chains, 400 steps (K = 6, scaled), ms",
        "timeline first frame p95, 8 MNIST chains, 400 steps (K = 6, scaled), ms",
        "timeline RAM, 8 MNIST chains, 40 steps, MB",
    ]


def test_the_frame_rate_guard_fails_only_under_half_the_recorded_ratio(capsys):
    """CI's guard (.ci/run: python -m bench.ui_frame_rate --guard): the best of its runs against half the
    ratio recorded in bench/frame_guard.json."""
    from bench import ui_frame_rate

    recorded = json.loads(ui_frame_rate.GUARD_FILE.read_text())["fps_64_ratio"]
    assert 0.5 <= recorded <= 1.0
    assert ui_frame_rate.guard([0.1, recorded / 2 + 0.01, 0.2]) == []  # one run above the floor is enough
    assert capsys.readouterr().out.rstrip().endswith(": ok")
    with pytest.raises(SystemExit) as e:
        ui_frame_rate.guard([recorded / 2 - 0.01] * 3)
    assert e.value.code == 1 and "FALLEN" in capsys.readouterr().out
