import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kgn_gui.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "kgn_gui.cli", *args], capture_output=True, text=True)


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
    assert final.shape == (10, 2) and final.min() >= 0 and final.max() <= 1


def test_sample_writes_a_png_grid_of_chosen_steps(tmp_path):
    from kgn_gui.core.checkpoint import save_checkpoint
    from kgn_gui.core.models import ModelSpec, build_model

    spec = ModelSpec(D=16, L=1, H=8, bound="sigmoid", shape=(1, 4, 4))
    path = save_checkpoint(tmp_path / "img.safetensors", build_model(spec, seed=0), spec)
    out = tmp_path / "o"
    assert (
        main(["sample", str(path), "-n", "4", "--steps", "6", "--grid-steps", "0:6:3", "--grid-n", "4", "-o", str(out)])
        == 0
    )
    img = Image.open(out / "grid.png")
    assert img.height > img.width / 4  # three rows of tiles
    assert json.loads((out / "sample.json").read_text())["grid_steps"] == [0, 3, 6]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["info", "/no/such.safetensors"], "no such file"),
        (["train", "--data", "points:0.2,0.8", "--bound", "sigmoid", "-o", "/tmp/x.pt"], ".safetensors"),
        (["train", "--data", "nowhere", "-o", "/tmp/x.safetensors"], "no such file"),
        (
            ["train", "--data", "points:0.2,0.8", "--bound", "sigmoid", "--lr", "-1", "-o", "/tmp/kgn-x.safetensors"],
            "learning rate",
        ),
        (["sample", "/no/such.safetensors"], "no such file"),
    ],
)
def test_bad_input_gives_a_one_line_error_and_nonzero_exit(args, needle):
    r = run(*args)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_unknown_option_exits_2():
    r = run("train", "--nonsense")
    assert r.returncode == 2


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
    from kgn_gui.core.checkpoint import save_checkpoint
    from kgn_gui.core.data import load_mnist
    from kgn_gui.core.models import ModelSpec, build_model

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
    img = load_mnist("test").x[7]
    assert x0.shape == (3, 784) and ((x0 == img) | (x0 == -1)).all() and not np.array_equal(x0[0], img)
    assert main(["sample", str(path), "--start", "data:mnist:test#99999", "-o", str(out)]) == 2


def test_analyze_measures_the_corner_model(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert (
        main(
            [
                "analyze",
                "models/2d-corners.safetensors",
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
    assert got["reference"] == "2d-corners" and got["distinct"] == 4 and got["converged"] > 0.9
    assert got["attractor_fraction"] == 1.0 and got["recovery_0"] == 1.0
    assert "copy_fraction" in capsys.readouterr().out


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
                "-o",
                str(out),
            ]
        )
        == 0
    )
    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0].startswith("# source=points:2d-corners") and lines[1].startswith("depth,parameters,")
    assert [ln.split(",")[0] for ln in lines[2:]] == ["1", "3"]
    assert Image.open(out / "sweep.png").size[0] > 500
    assert (out / "depth_1.safetensors").exists() and (out / "depth_3.safetensors").exists()
    r = run("sweep", "--data", "points:2d-corners", "--depths", "1", "-o", str(out))
    assert r.returncode == 2 and "not empty" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["sweep", "--depths", "0,2", "-o", "x"], "depths"),
        (["sweep", "--depths", "a", "-o", "x"], "whole numbers"),
        (["analyze", "models/2d-corners.safetensors", "--sigmas", "-1"], "≥ 0"),
    ],
)
def test_analysis_commands_refuse_bad_input_in_one_line(args, needle):
    r = run(*args)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


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
    assert got["reference"] == "mnist-test" and 0 <= got["attractor_fraction"] <= 1
    assert 0 <= got["class_entropy"] <= 1


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


def test_architecture_that_does_not_fit_the_data_is_one_line():
    r = run("train", "--data", "points:2d-corners", "--arch", "cnn", "-o", "/tmp/kgn-x.safetensors")
    assert r.returncode == 2 and "needs images" in r.stderr and "Traceback" not in r.stderr


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
                "-o",
                str(out),
            ]
        )
        == 0
    )
    lines = (out / "sweep.csv").read_text().splitlines()
    assert "arch=cnn" in lines[0] and [ln.split(",")[0] for ln in lines[2:]] == ["1", "2"]
    from kgn_gui.core.checkpoint import load_checkpoint

    assert load_checkpoint(out / "depth_2.safetensors").spec.arch == "cnn"


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

    from kgn_gui.core.checkpoint import load_checkpoint

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
