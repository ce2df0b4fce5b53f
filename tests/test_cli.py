import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kgn_gui.cli import main
from tests.conftest import MODELS, REPO


def run(*args):
    return subprocess.run([sys.executable, "-m", "kgn_gui.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_train_info_sample_end_to_end(tmp_path, capsys):
    model = tmp_path / "c.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                "points:2d-corners",
                "--bound",
                "sigmoid",
                "--L",
                "3",
                "--H",
                "16",
                "--lr",
                "1e-3",
                "--steps",
                "50",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    assert model.exists()
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "L=3 H=16 sigmoid" in out and "50 steps" in out
    assert main(["info", "--json", str(model)]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["spec"]["L"] == 3 and meta["dataset"] == "2d-corners"
    outdir = tmp_path / "s"
    assert main(["sample", str(model), "-n", "10", "--steps", "5", "--noise", "none", "-o", str(outdir)]) == 0
    final = np.load(outdir / "final_states.npy")
    # The chain that sample.json records, rerun here: the same final states, bit for bit.
    from kgn_gui.core.chain.chain import ChainConfig, run_chain
    from kgn_gui.core.model.checkpoint import load_checkpoint

    rec = json.loads((outdir / "sample.json").read_text())
    assert rec["chain"]["n"] == 10 and rec["chain"]["noise"] == "none" and rec["steps"] == 5
    ck = load_checkpoint(model)
    *_, (_, want) = run_chain(ck.model, ck.spec, ChainConfig.from_dict(rec["chain"]), 5)
    assert final.shape == (10, 2) and np.array_equal(final, want)


def test_sample_writes_a_png_grid_of_chosen_steps(tmp_path):
    from kgn_gui.core.model.architectures import ModelSpec, build_model
    from kgn_gui.core.model.checkpoint import save_checkpoint

    spec = ModelSpec(D=16, L=1, H=8, bound="sigmoid", shape=(1, 4, 4))
    path = save_checkpoint(tmp_path / "img.safetensors", build_model(spec, seed=0), spec)
    out = tmp_path / "o"
    assert (
        main(["sample", str(path), "-n", "4", "--steps", "6", "--grid-steps", "0:6:3", "--grid-n", "4", "-o", str(out)])
        == 0
    )
    img = np.asarray(Image.open(out / "grid.png").convert("RGB"))
    # Three rows (t = 0, 3, 6) of four 4×4 tiles with 1-pixel padding (6×21 each), ×2, after a 48-pixel label.
    assert img.shape == (3 * 6 * 2, 48 + 21 * 2, 3)
    assert json.loads((out / "sample.json").read_text())["grid_steps"] == [0, 3, 6]
    from kgn_gui.core.chain.chain import ChainConfig, run_chain
    from kgn_gui.core.picture.render import states_to_grid

    states = dict(run_chain(build_model(spec, seed=0), spec, ChainConfig(n=4), 6, keep={0, 3, 6}))
    tiles = np.concatenate([states_to_grid(states[t], spec.shape, spec.value_range, cols=4) for t in (0, 3, 6)])
    assert np.array_equal(img[:, 48:], np.repeat(np.repeat(tiles, 2, 0), 2, 1)[..., None].repeat(3, 2))


@pytest.mark.parametrize(
    "args,needle",
    [
        (["info", "/no/such.safetensors"], "no such file"),
        (["train", "--data", "points:0.2,0.8", "--bound", "sigmoid", "-o", "{tmp}/x.pt"], ".safetensors"),
        (["train", "--data", "nowhere", "-o", "{tmp}/x.safetensors"], "no such file"),
        (
            ["train", "--data", "points:0.2,0.8", "--bound", "sigmoid", "--lr", "-1", "-o", "{tmp}/x.safetensors"],
            "learning rate",
        ),
        (["sample", "/no/such.safetensors"], "no such file"),
    ],
)
def test_bad_input_gives_a_one_line_error_and_nonzero_exit(args, needle, tmp_path):
    r = run(*(a.format(tmp=tmp_path) for a in args))
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_unknown_option_exits_2():
    r = run("train", "--nonsense", "-o", str(REPO / "no-such-folder" / "x.safetensors"))
    (line,) = r.stderr.splitlines()  # one line, naming the option
    assert r.returncode == 2 and "unrecognized arguments: --nonsense" in line
    assert not (REPO / "no-such-folder").exists()


def test_progress_is_plain_lines_when_not_a_terminal(tmp_path):
    r = run(
        "train",
        "--data",
        "points:1d-sigmoid",
        "--bound",
        "sigmoid",
        "--L",
        "2",
        "--H",
        "4",
        "--steps",
        "30",
        "-o",
        str(tmp_path / "m.safetensors"),
    )
    assert r.returncode == 0
    assert "\r" not in r.stderr and "30/30" in r.stderr


def test_sample_from_a_corrupted_dataset_image(tmp_path):
    from kgn_gui.core.data.mnist import load_mnist
    from kgn_gui.core.model.architectures import ModelSpec, build_model
    from kgn_gui.core.model.checkpoint import save_checkpoint

    spec = ModelSpec(D=784, L=1, H=8, bound="tanh", shape=(1, 28, 28))
    path = save_checkpoint(tmp_path / "m.safetensors", build_model(spec, seed=0), spec)
    out = tmp_path / "o"
    assert (
        main(
            [
                "sample",
                str(path),
                "-n",
                "3",
                "--steps",
                "0",
                "--start",
                "data:mnist:test#7",
                "--mask",
                "8",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    x0 = np.load(out / "final_states.npy")
    img = load_mnist("test").x[7].reshape(28, 28)
    assert x0.shape == (3, 784)

    def masked_at(y, x):
        m = img.copy()
        m[y : y + 8, x : x + 8] = -1
        return m.ravel()

    # Each chain is test digit 7 with one 8×8 square set to −1 (lo), somewhere on it, and nothing else changed.
    for chain in x0:
        assert sum(np.array_equal(chain, masked_at(y, x)) for y in range(21) for x in range(21)) >= 1
    assert main(["sample", str(path), "--start", "data:mnist:test#99999", "-o", str(out)]) == 2


def test_analyze_measures_the_corner_model(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert (
        main(
            [
                "analyze",
                str(MODELS / "2d-corners.safetensors"),
                "-n",
                "100",
                "--steps",
                "150",
                "--noise",
                "none",
                "--audit",
                "4",
                "--sigmas",
                "0,0.05",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    got = json.loads(out.read_text())
    # Noiseless chains from 100 uniform starts all land on one of the four corners and stay (a fixed point);
    # the four corners attract (ρ < 1).
    assert (got["reference"], got["chains"], got["steps"]) == ("2d-corners", 100, 150)
    assert (got["distinct"], got["converged"], got["cycles"], got["copy_fraction"]) == (4, 1.0, 0.0, 1.0)
    assert got["tol"] == 0.025 and got["burn_in"] < 150  # 0.025 × the span of [0, 1], for every noise kind
    assert got["attractor_fraction"] == 1.0 and got["rho_max"] < 1 and got["rho_median"] <= got["rho_max"]
    assert (got["audit_n"], got["audit_fixed"]) == (4, 4) and got["residual_max"] < got["audit_tol"]
    # The corner (0.8, 0.8) has a narrow basin (test_measures): the CLI reports the API's own census.
    from kgn_gui.core.data.sources import point_preset
    from kgn_gui.core.measure.dynamics import recovery_census
    from kgn_gui.core.model.checkpoint import load_checkpoint

    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    rec = recovery_census(ck.model, ck.value_range, point_preset("2d-corners").x, [0.0, 0.05], seed=0)
    assert got["recovery_0"] == 1.0 and got["recovery_0.05"] == rec.rates[1] < 1.0
    # Four points are no distribution: no feature space, no class or distribution measures, said so.
    assert got["feature_space"] is None and got["classifier"] is None and "frechet" not in got
    # The identity map's share of outputs inside the corners' box, beside the model's.
    assert 0 < got["inside_training_range_identity"] < 1
    assert "copy_fraction" in capsys.readouterr().out


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def test_sweep_trains_each_depth_and_writes_csv_png_and_models(tmp_path):
    out = tmp_path / "sw"
    assert (
        main(
            [
                "sweep",
                "--data",
                "points:2d-corners",
                "--bound",
                "sigmoid",
                "--depths",
                "1,3",
                "--H",
                "8",
                "--steps",
                "60",
                "--n",
                "30",
                "--sample-steps",
                "30",
                "--audit",
                "2",
                "--sigmas",
                "0.1",
                "--seeds",
                "0,1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    from kgn_gui.core.experiment.sweep import read_csv
    from kgn_gui.core.experiment.sweep_plot import plotted_keys
    from kgn_gui.core.model.architectures import ModelSpec, spec_parameter_count

    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0].startswith("# source=points:2d-corners") and "seeds=0,1" in lines[0]
    assert lines[1].startswith("depth,seeds,parameters,")
    rows, runs = read_csv(out / "sweep.csv"), read_csv(out / "sweep_runs.csv")
    assert [r["depth"] for r in rows] == ["1", "3"] and [r["seeds"] for r in rows] == ["2", "2"]
    assert [(r["depth"], r["seed"]) for r in runs] == [("1", "0"), ("1", "1"), ("3", "0"), ("3", "1")]
    assert [r["chains"] for r in rows] == ["30", "30"]
    assert [int(r["parameters"]) for r in rows] == [
        spec_parameter_count(ModelSpec(D=2, L=L, H=8, bound="sigmoid")) for L in (1, 3)
    ]  # 42 and 186
    for r in rows:  # the mean over the two seeds, inside its t-interval (t = 12.71 for one degree of freedom)
        a, b = (float(x["train_loss"]) for x in runs if x["depth"] == r["depth"])
        m, h = (a + b) / 2, 12.7062047 * abs(a - b) / 2
        assert float(r["train_loss"]) == pytest.approx(m, rel=1e-4)
        assert float(r["train_loss_lo"]) == pytest.approx(m - h, abs=1e-5)  # 6 significant digits in the CSV
        assert float(r["train_loss_hi"]) == pytest.approx(m + h, abs=1e-5)
        assert r["steps_trained"] == "60" and r["steps_trained_lo"] == "60"  # a fixed budget
    # The figure: one 260×180 panel per plotted measure, four a row, under a 30-pixel title.
    numeric = [{k: float(v) for k, v in r.items() if v not in ("", None) and _is_float(v)} for r in rows]
    panels = len(plotted_keys(numeric))
    assert panels >= 6 and Image.open(out / "sweep.png").size == (4 * 260, -(-panels // 4) * 180 + 30)
    assert sorted(p.name for p in out.glob("*.safetensors")) == [
        f"depth_{L}_seed_{s}.safetensors" for L in (1, 3) for s in (0, 1)
    ]
    r = run("sweep", "--data", "points:2d-corners", "--depths", "1", "-o", str(out))
    assert r.returncode == 2 and "not empty" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["sweep", "--depths", "0,2", "-o", "{tmp}/x"], "depths"),
        (["sweep", "--depths", "a", "-o", "{tmp}/x"], "whole numbers"),
        (["analyze", str(MODELS / "2d-corners.safetensors"), "--sigmas", "-1"], "in 0 … 10"),
    ],
)
def test_analysis_commands_refuse_bad_input_in_one_line(args, needle, tmp_path):
    r = run(*(a.format(tmp=tmp_path) for a in args))
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch, extra, label",
    [
        ("cnn", ["--bottleneck", "8"], "CNN autoencoder L=2 H=4 tanh, bottleneck 8"),
        ("unet", [], "U-Net L=2 H=4 tanh"),
        ("transformer", ["--patch", "7", "--heads", "2"], "Transformer L=2 H=16 tanh, 7×7 patches, 2 heads"),
    ],
)
def test_train_and_analyze_every_image_architecture(tmp_path, capsys, arch, extra, label):
    model = tmp_path / f"{arch}.safetensors"
    H = "16" if arch == "transformer" else "4"
    assert (
        main(
            [
                "train",
                "--data",
                "mnist:test",
                "--subset",
                "256",
                "--arch",
                arch,
                "--L",
                "2",
                "--H",
                H,
                *extra,
                "--steps",
                "5",
                "--batch",
                "32",
                "--eval-size",
                "32",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    assert main(["info", str(model)]) == 0
    assert label in capsys.readouterr().out
    out = tmp_path / "a.json"
    assert (
        main(
            [
                "analyze",
                str(model),
                "-n",
                "8",
                "--steps",
                "5",
                "--audit",
                "1",
                "--sigmas",
                "0.1",
                "--recovery-n",
                "4",
                "--recovery-T",
                "3",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    got = json.loads(out.read_text())
    assert got["reference"] == "mnist-test" and got["chains"] == 8
    # One example audited: when refinement reached a fixed point, it attracts (fraction 1) exactly when its
    # spectral radius is below 1; when it did not, there is no fraction (ρ there would mean nothing).
    if got["audit_fixed"] == 1:
        assert got["attractor_fraction"] == float(got["rho_max"] < 1) and got["rho_median"] == got["rho_max"]
    else:
        assert got["attractor_fraction"] is None and got["residual_max"] >= got["audit_tol"]
    assert got["classifier"]["dataset"] == "MNIST (bundled)" and got["real"].endswith("MNIST training digits")
    # The class make-up of the 8 samples: a histogram of 8, and its entropy in units of log 10.
    hist = np.array([got[f"class_{c}"] for c in range(10)])
    p = hist[hist > 0] / 8
    assert hist.sum() == 8 and got["class_entropy"] == pytest.approx(float(-(p * np.log(p)).sum() / np.log(10)))


def test_train_uses_the_architectures_defaults(tmp_path, capsys):
    model = tmp_path / "u.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                "mnist:test",
                "--subset",
                "64",
                "--arch",
                "unet",
                "--steps",
                "1",
                "--batch",
                "8",
                "--eval-size",
                "8",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    meta = json.loads(run("info", "--json", str(model)).stdout)
    assert (meta["spec"]["L"], meta["spec"]["H"], meta["recipe"]["config"]["lr"]) == (3, 16, 3e-4)


def test_architecture_that_does_not_fit_the_data_is_one_line(tmp_path):
    r = run("train", "--data", "points:2d-corners", "--arch", "cnn", "-o", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and "needs images" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_depth_sweep_runs_for_a_convolutional_architecture(tmp_path):
    out = tmp_path / "sw"
    assert (
        main(
            [
                "sweep",
                "--data",
                "mnist:test",
                "--subset",
                "64",
                "--arch",
                "cnn",
                "--H",
                "4",
                "--depths",
                "1,2",
                "--steps",
                "3",
                "--batch",
                "16",
                "--n",
                "8",
                "--sample-steps",
                "4",
                "--audit",
                "1",
                "--sigmas",
                "0.1",
                "--seeds",
                "0",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    lines = (out / "sweep.csv").read_text().splitlines()
    assert "arch=cnn" in lines[0] and [ln.split(",")[0] for ln in lines[2:]] == ["1", "2"]
    from kgn_gui.core.model.checkpoint import load_checkpoint

    assert load_checkpoint(out / "depth_2_seed_0.safetensors").spec.arch == "cnn"


def test_the_fast_preset_fills_the_recipe_and_explicit_options_win(tmp_path):
    model = tmp_path / "f.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                "points:2d-corners",
                "--bound",
                "sigmoid",
                "--L",
                "2",
                "--H",
                "8",
                "--preset",
                "fast",
                "--steps",
                "20",
                "--warmup",
                "5",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    cfg = json.loads(run("info", "--json", str(model)).stdout)["recipe"]["config"]
    assert (cfg["lr"], cfg["batch"], cfg["steps"], cfg["schedule"], cfg["warmup"]) == (1e-3, 256, 20, "cosine", 5)
    assert (
        main(
            [
                "train",
                "--data",
                "points:2d-corners",
                "--bound",
                "sigmoid",
                "--L",
                "2",
                "--H",
                "8",
                "--preset",
                "fast",
                "--steps",
                "30",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    cfg = json.loads(run("info", "--json", str(model)).stdout)["recipe"]["config"]
    assert (cfg["steps"], cfg["warmup"]) == (30, 3)  # the preset's 400-step warm-up shortened with the run
    r = run("train", "--data", "points:2d-corners", "--bound", "sigmoid", "--lr", "0", "-o", str(model))
    assert r.returncode != 0 and "learning rate" in r.stderr


def test_a_killed_kgn_train_leaves_its_latest_weights_in_the_output(tmp_path):
    import signal
    import time

    from kgn_gui.core.model.checkpoint import load_checkpoint

    out = tmp_path / "m.safetensors"
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kgn_gui.cli",
            "train",
            "--data",
            "points:2d-corners",
            "--bound",
            "sigmoid",
            "--L",
            "2",
            "--H",
            "8",
            "--steps",
            "50000000",
            "--save-every",
            "1",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 120
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    ck = load_checkpoint(out)  # whole (written atomically), with how far it got
    assert ck.meta["partial"]["step"] > 0 and ck.spec.L == 2


def test_a_labelled_data_set_other_than_mnist_is_measured_by_its_own_classifier(tmp_path, monkeypatch, capsys):
    """Issue 17: class and feature measures of a model of another labelled data set come from a classifier
    trained on that data set (on demand, then cached), never from the MNIST digit classifier."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    y = np.arange(360) % 3
    x = np.zeros((360, 28, 28), np.uint8)
    for c in range(3):  # three kinds of picture: a bar across, a bar down, a square
        m = y == c
        if c == 0:
            x[m, 12:16, :] = 255
        elif c == 1:
            x[m, :, 12:16] = 255
        else:
            x[m, 6:22, 6:22] = 255
    x = np.clip(x.astype(int) + rng.integers(0, 60, x.shape), 0, 255).astype(np.uint8)
    data = tmp_path / "shapes.npz"
    np.savez(data, x=x, y=y)
    model = tmp_path / "m.safetensors"
    train = ["train", "--data", str(data), "--L", "2", "--H", "16", "--steps", "5", "--batch", "32"]
    assert main([*train, "--eval-size", "32", "-o", str(model)]) == 0
    out = tmp_path / "a.json"
    analyze = ["analyze", str(model), "--data", str(data), "-n", "16", "--steps", "5", "--audit", "0"]
    assert main([*analyze, "--sigmas", "0", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["classifier"]["dataset"] == "shapes" and got["classifier"]["source"] == "trained"
    assert got["classifier"]["test_accuracy"] >= 0.9
    assert "MNIST" not in got["feature_space"] and "shapes" in got["feature_space"]
    assert sum(got[f"class_{c}"] for c in range(3)) == 16 and "class_3" not in got  # three classes, not ten
    assert "no held-out split" in got["real"] and got["recovery_0"] == 1.0
    for m in ("frechet", "kid", "precision", "recall", "class_entropy", "nearest_mean"):
        assert f"{m}_real" in got and len(got[f"{m}_ci"]) == 2, m
    # a second run finds the classifier in the cache, and measures the same
    assert main([*analyze, "--sigmas", "0", "--json", str(out)]) == 0
    again = json.loads(out.read_text())
    assert again["classifier"]["source"] in ("cache", "trained")  # in this process: the same object
    assert again["frechet"] == got["frechet"] and again["class_entropy"] == got["class_entropy"]
