"""Issue 20 in kgn: --condition/--known, --eps-schedule, --damping and --branch give what core gives, and their
bad values are one-line errors (exit 2) that write nothing."""

import json

import numpy as np

from kgn_gui.cli import main
from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.lab import Lab, divergence, parse_condition
from kgn_gui.core.chain.sampler import Sampler, parse_schedule
from kgn_gui.core.model.checkpoint import load_checkpoint
from tests.conftest import MODELS

MNIST = str(MODELS / "mnist.safetensors")


def test_sample_with_a_condition_and_a_schedule_matches_core(tmp_path):
    out = tmp_path / "s"
    args = ["sample", MNIST, "-n", "6", "--steps", "12", "--condition", "data:mnist:test#3", "--known", "top"]
    args += ["--eps-schedule", "linear:0.05:0.01", "--damping", "0.8", "--seed", "3", "-o", str(out)]
    assert main(args) == 0
    meta = json.loads((out / "sample.json").read_text())
    assert meta["chain"]["schedule"] == "linear:0.05:0.01:12"  # T: the run's steps
    assert meta["chain"]["damping"] == 0.8 and meta["lab"]["condition"] == {"source": "mnist:test#3", "region": "top"}
    ck = load_checkpoint(MNIST)
    cond = parse_condition("data:mnist:test#3", "top", ck.spec.shape, ck.value_range)
    cfg = ChainConfig(n=6, seed=3, sampler=Sampler(schedule=parse_schedule("linear:0.05:0.01:12"), damping=0.8))
    want = dict(run_chain(ck.model, ck.spec, cfg, 12, keep=[12], lab=Lab(cond)))[12]
    got = np.load(out / "final_states.npy")
    assert np.array_equal(got, want)
    assert np.array_equal(got[:, cond.mask], np.broadcast_to(cond.known[cond.mask], (6, int(cond.mask.sum()))))


def test_sample_branch_writes_the_divergence_curve(tmp_path):
    out = tmp_path / "b"
    assert main(["sample", MNIST, "-n", "3", "--steps", "10", "--branch", "4:3", "--eps", "0.05", "-o", str(out)]) == 0
    final = np.load(out / "final_states.npy")
    assert final.shape == (9, 784)
    rows = (out / "divergence.csv").read_text().splitlines()
    assert rows[0] == "t,divergence" and [r.split(",")[0] for r in rows[1:]] == [str(t) for t in range(4, 11)]
    assert float(rows[1].split(",")[1]) == 0.0  # at the branch step the K copies are one state
    assert abs(float(rows[-1].split(",")[1]) - divergence(final, 3)) < 1e-5 and divergence(final, 3) > 0
    assert json.loads((out / "sample.json").read_text())["branch"]["K"] == 3


def test_bad_lab_options_are_one_line_errors_that_write_nothing(tmp_path, capsys):
    out = tmp_path / "o"
    bad = [
        (["--known", "top"], "--known needs --condition"),
        (["--condition", "data:mnist:test#3"], "--condition needs --known"),
        (["--condition", "data:mnist:test#3", "--known", "middle"], "unknown known region"),
        (["--condition", str(tmp_path / "none.png"), "--known", "top"], "--condition must be"),
        (["--eps-schedule", "wobble:1:2"], "unknown ε schedule"),
        (["--eps-schedule", "exp:0:0.1"], "exponential"),
        (["--damping", "1.5"], "damping"),
        (["--branch", "3"], "STEP:K"),
        (["--branch", "99:2"], "branch step"),
        (["--branch", "2:1"], "branches K"),
    ]
    for extra, msg in bad:
        assert main(["sample", MNIST, "-n", "2", "--steps", "5", *extra, "-o", str(out)]) == 2, extra
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1, (extra, err)
        assert not out.exists()


def test_a_condition_file_is_never_an_output(tmp_path, capsys):
    from PIL import Image

    mask = tmp_path / "m.gif"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(mask)
    before = mask.read_bytes()
    assert main(["export", MNIST, "--condition", "data:mnist:test#1", "--known", str(mask), "-o", str(mask)]) == 2
    assert "input" in capsys.readouterr().err and mask.read_bytes() == before


def test_a_preset_sets_the_sampler_and_refuses_a_clashing_option(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["sample", MNIST, "-n", "2", "--steps", "3", "--preset", "diverse", "-o", str(out)]) == 0
    chain = json.loads((out / "sample.json").read_text())["chain"]
    assert Sampler.from_dict(chain) == Sampler.DIVERSE
    assert main(["sample", MNIST, "--preset", "paper", "--eps", "0.2", "-o", str(tmp_path / "q")]) == 2
    assert "give it or the option, not both" in capsys.readouterr().err
    assert main(["sample", MNIST, "--sampler", "diverse", "--damping", "0.5", "-o", str(tmp_path / "q")]) == 2
    assert "--damping" in capsys.readouterr().err
    # --sampler's text, --preset's name and the single options: one sampler, however it is said
    out2 = tmp_path / "p2"
    argv = ["sample", MNIST, "-n", "2", "--steps", "3", "--sampler", "noise=normal,eps=0.01,damping=0.1", "-o"]
    assert main([*argv, str(out2)]) == 0
    assert json.loads((out2 / "sample.json").read_text())["chain"] == chain
    assert np.array_equal(np.load(out2 / "final_states.npy"), np.load(out / "final_states.npy"))
