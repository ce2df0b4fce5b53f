"""Every decision made once in core: ``kgn`` and the window give the same answer to the same request
(recipe, start, classifier, reference data, export)."""

from pathlib import Path

import numpy as np
import pytest

import kgn_gui as kgn
from kgn_gui.api import train_recipe
from kgn_gui.cli import main
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.start import Start, parse_start
from kgn_gui.core.data.dataset import Dataset
from kgn_gui.core.data.sources import POINT_PRESETS, make_points
from kgn_gui.core.errors import RecipeError, StartError
from kgn_gui.core.export.animation import read_frames
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.model.recipes import Recipe, recipe_for
from kgn_gui.ui.controllers.points import points_plan, points_source

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"


def trained_recipe(tmp_path, *argv) -> Recipe:
    """The recipe ``kgn train`` ran with ``argv``, read back from the model file it wrote."""
    out = tmp_path / "cli.safetensors"
    assert main(["train", *argv, "--save-every", "0", "-o", str(out)]) == 0
    ck = load_checkpoint(out)
    c, sp = ck.meta["recipe"]["config"], ck.spec
    opt = {k: c[k] for k in ("lr", "batch", "steps", "schedule", "warmup", "seed")}
    return Recipe(arch=sp.arch, L=sp.L, H=sp.H, bound=sp.bound, **opt)


# -- recipes
@pytest.mark.parametrize(
    "preset, L, H, bound, seed",
    [("1d-sigmoid", 6, 10, "sigmoid", 0), ("1d-tanh", 10, 10, "tanh", 3), ("2d-corners", 6, 50, "sigmoid", 0)],
)
def test_the_points_tab_and_kgn_train_preset_paper_plan_the_same_recipe(preset, L, H, bound, seed, tmp_path):
    pts, vr = POINT_PRESETS[preset]
    src, window = points_plan(np.array(pts, np.float32), vr, preset)
    cli = train_recipe(f"points:{preset}", "paper")
    assert src == f"points:{preset}" and window == cli
    ran = trained_recipe(tmp_path, "--data", src, "--preset", "paper", "--steps", "3")
    assert ran == window.with_overrides(steps=3)
    assert (cli.L, cli.H, cli.bound, cli.lr, cli.steps, cli.seed, cli.schedule) == (
        L,
        H,
        bound,
        1e-3,
        2000,
        seed,
        "constant",
    )


def test_hand_placed_points_train_from_a_source_kgn_takes_too(tmp_path):
    src, window = points_plan(np.array([[0.31], [0.77]], np.float32), (0.0, 1.0))
    assert src == "points:0.31,0.77"
    assert window == train_recipe(src, None)
    assert trained_recipe(tmp_path, "--data", src, "--steps", "3") == window.with_overrides(steps=3)
    assert (window.L, window.H, window.bound) == (6, 10, "sigmoid")
    src2, r2 = points_plan(np.array([[0.2, 0.2], [-0.5, 0.8]], np.float32), (-1.0, 1.0))
    assert src2 == "points:0.2/0.2,-0.5/0.8" and (r2.H, r2.bound) == (50, "tanh")
    assert points_source(np.array(POINT_PRESETS["2d-center"][0]), "2d-center") == "points:2d-center"


def test_the_training_forms_preset_and_kgn_train_default_are_the_papers_mnist_recipe(qtbot):
    from kgn_gui.ui.widgets.training_panel import TrainingPanel

    tp = TrainingPanel()
    qtbot.addWidget(tp)
    tp.set_recipe("mnist:train", L=3, lr=0.5)
    tp.fill_preset()
    cli = train_recipe("mnist", None)  # kgn train's default preset: the paper's
    assert tp.recipe() == cli == recipe_for("mnist", "paper")
    assert (cli.L, cli.H, cli.bound, cli.lr, cli.batch, cli.steps) == (10, 500, "tanh", 1e-4, 1000, 10_000)
    tp.preset.setCurrentIndex(tp.preset.findData("fast"))
    tp.fill_preset()
    fast = train_recipe("mnist", "fast")
    assert tp.recipe() == fast and (fast.lr, fast.batch, fast.steps, fast.schedule, fast.warmup) == (
        1e-3,
        256,
        8000,
        "cosine",
        400,
    )


def test_explicit_options_win_over_the_preset_and_a_short_run_shortens_the_warm_up(tmp_path):
    r = train_recipe("mnist", "fast", steps=100, L=3)
    assert (r.L, r.H, r.steps, r.warmup, r.lr) == (3, 500, 100, 10, 1e-3)
    argv = ["--data", "points:2d-corners", "--preset", "fast", "--steps", "20", "--L", "3", "--H", "7"]
    ran = trained_recipe(tmp_path, *argv, "--lr", "0.002", "--seed", "5")
    assert ran == train_recipe("points:2d-corners", "fast", steps=20, L=3, H=7, lr=0.002, seed=5)
    assert (ran.L, ran.H, ran.steps, ran.warmup, ran.lr, ran.seed) == (3, 7, 20, 2, 0.002, 5)
    assert Recipe().with_overrides(L=None) == Recipe()
    with pytest.raises(RecipeError, match="not a recipe option"):
        Recipe().with_overrides(depth=3)
    with pytest.raises(RecipeError, match="needs images"):
        recipe_for("points:2d-corners", arch="cnn")


@pytest.mark.slow
def test_the_points_tab_trains_exactly_what_kgn_train_trains(window, qtbot, tmp_path):
    """Same recipe, same data, same seed: bit-identical weights from the window's child process and kgn."""
    out = tmp_path / "cli.safetensors"
    assert main(["train", "--data", "points:1d-sigmoid", "--preset", "paper", "--save-every", "0", "-o", str(out)]) == 0
    pv = window.points_view
    pv.preset_box.setCurrentText("1d-sigmoid")
    with qtbot.waitSignal(window.modelChanged, timeout=180_000):
        pv.train_button.click()
    a, b = load_checkpoint(out).model.state_dict(), window.checkpoint.model.state_dict()
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


# -- starts
def test_a_data_start_from_kgn_and_from_the_start_panel_is_the_same_x0(window, tmp_path):
    ck = window.checkpoint
    argv = ["sample", "mnist", "--start", "data:mnist:test#5", "--sigma", "0.3", "--mask", "6", "-n", "8"]
    assert main([*argv, "--seed", "4", "--steps", "0", "-o", str(tmp_path / "s")]) == 0
    x_kgn = np.load(tmp_path / "s" / "final_states.npy")
    cli = parse_start("data:mnist:test#5", ck.value_range, n=8, seed=4, sigma=0.3, mask=6)
    sp = window.start_panel
    sp.set_dataset(window.models.dataset("mnist:test", ck.value_range))
    sp.index.setValue(5)
    sp.sigma.setValue(0.3)
    sp.mask.setValue(6)
    sp.n.setValue(8)
    sp.seed.setValue(4)
    sp.request_data()
    shown = window.chain.start
    assert (shown.kind, shown.n, shown.seed, shown.sigma, shown.mask) == ("data", 8, 4, 0.3, 6)
    assert cli.chain_config(Sampler.PAPER) == shown.chain_config(Sampler.PAPER)
    assert np.array_equal(cli.array, shown.array)
    from kgn_gui.core.chain.chain import start_states

    x_cli = start_states(cli.chain_config(), 784, ck.value_range, shape=ck.spec.shape, start_array=cli.array)
    assert np.array_equal(x_cli.numpy(), window.session.state(0)) and np.array_equal(x_kgn, window.session.state(0))


def test_start_strings_parse_to_typed_starts_and_bad_ones_are_one_line(tmp_path):
    s = parse_start("uniform", (-1, 1), n=3, seed=2)
    assert (s.kind, s.n, s.seed, s.array) == ("uniform", 3, 2, None)
    np.save(tmp_path / "one.npy", np.full(4, 0.5, np.float32))
    a = parse_start(str(tmp_path / "one.npy"), (0, 1), n=2)
    assert a.kind == "array" and a.array.tolist() == [0.5] * 4 and a.chain_config().start == "array"
    np.save(tmp_path / "bad.npy", np.array([1 + 2j]))
    for text, msg in [
        ("gauss", "must be uniform, normal"),
        (str(tmp_path / "bad.npy"), "array of numbers"),
        (str(tmp_path / "missing.npy"), "no such file"),
        ("data:points:1d-sigmoid#7", "no sample 7"),
        ("data:points:1d-sigmoid#x", "whole number"),
    ]:
        with pytest.raises(StartError, match=msg):
            parse_start(text, (0, 1))
    with pytest.raises(StartError, match="data start"):
        parse_start("uniform", (0, 1), sigma=0.3)
    assert Start("painted", array=np.zeros(3, np.float32)).chain_config().start == "array"


# -- classifier and reference data
def test_the_feature_space_fits_the_data_set_and_kgn_and_the_window_pick_the_same_one(window):
    from kgn_gui.core.measure.distribution import reference_for
    from kgn_gui.core.measure.features import feature_space_for

    cli_ref = kgn.load("mnist").data  # what kgn analyze measures against without --data
    assert window.train_data.name == cli_ref.name == "mnist-train"
    assert np.array_equal(window.train_data.x, cli_ref.x)
    # one feature space for the data set, whoever asks: the bundled MNIST classifier, loaded once
    space = feature_space_for(cli_ref)
    assert space is feature_space_for(window.train_data) and space.source == "bundled" and space.classes == 10
    ref = reference_for(cli_ref, 32)
    assert ref.space is space and ref.what == "32 of the 10,000 MNIST test digits"
    # another data set of 784 values never gets the digit classifier; too few samples get none
    other = Dataset(np.random.default_rng(0).uniform(size=(150, 784)), (1, 28, 28), (0.0, 1.0), name="noise-784")
    assert feature_space_for(other).kind == "pca" and feature_space_for(other) is not space
    assert feature_space_for(make_points([[0.2], [0.8]], (0.0, 1.0))) is None


def test_reference_data_of_a_points_model_is_the_same_in_kgn_and_the_window(window):
    window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    cli_ref = kgn.load(MODELS / "2d-corners.safetensors").data
    assert window.train_data.name == cli_ref.name
    assert np.array_equal(window.train_data.x, cli_ref.x)
    assert np.allclose(window.train_data.x, POINT_PRESETS["2d-corners"][0])


def test_a_model_of_hand_placed_points_uses_the_points_in_hand(window):
    from kgn_gui.core.data.sources import reference_data

    ds = make_points([[0.3], [0.6]], (0.0, 1.0), name="mine")
    assert reference_data("mine", 1, (0.0, 1.0), known=[ds]) is ds
    with pytest.raises(Exception, match="not bundled"):
        reference_data("mine", 1, (0.0, 1.0))


# -- export
def test_the_windows_export_and_kgn_export_write_the_same_frames(window, qtbot, tmp_path):
    window.transport.set_sampler(Sampler.PAPER)
    sp = window.start_panel
    sp.n.setValue(9)
    sp.seed.setValue(3)
    sp.request_random()
    from kgn_gui.core.export.options import ExportOptions

    job = window.export_actions.start_export(
        [0, 2, 4, 6], ExportOptions(fmt="gif", fps=10, scale=2), str(tmp_path / "win")
    )
    with qtbot.waitSignal(job.done, timeout=60_000):
        pass
    argv = ["export", str(MODELS / "mnist.safetensors"), "--steps", "0:6:2", "--fps", "10", "--scale", "2"]
    assert main([*argv, "-n", "9", "--seed", "3", "-o", str(tmp_path / "cli")]) == 0
    a, b = read_frames(tmp_path / "win.gif"), read_frames(tmp_path / "cli.gif")
    assert len(a) == len(b) == 4 and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.fixture
def window(make_window):
    return make_window()
