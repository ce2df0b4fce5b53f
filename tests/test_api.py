"""Issue 27: the public API (import kgn_gui as kgn) — its documented examples run, and it gives the CLI's answers
bit for bit (the CLI is one API call per command)."""

import base64
import doctest
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kgn_gui as kgn
from kgn_gui.cli import main
from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.errors import SamplerError

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_api_page_examples_run():
    res = doctest.testfile(str(DOCS / "api.md"), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert res.attempted >= 20 and res.failed == 0


def test_import_kgn_gui_alone_does_not_import_torch():
    import subprocess

    code = "import sys, kgn_gui; assert 'torch' not in sys.modules; kgn_gui.Sampler; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sample_state_is_kgn_samples_final_states_bit_for_bit(tmp_path):
    run = kgn.sample(kgn.load("mnist"), n=8, steps=20, seed=3)
    assert main(["sample", "mnist", "-n", "8", "--steps", "20", "--seed", "3", "-o", str(tmp_path / "s")]) == 0
    cli = np.load(tmp_path / "s" / "final_states.npy")
    assert cli.shape == (8, 784) and np.array_equal(run.state(20), cli)
    # … and the core loop that neither face wrote
    ck = kgn.load("mnist").checkpoint
    cfg = ChainConfig(n=8, seed=3)
    *_, (_, want) = run_chain(ck.model, ck.spec, cfg, 20)
    assert np.array_equal(cli, want)


def test_a_run_is_exact_at_any_step_in_any_order():
    run = kgn.sample("2d-corners", n=32, steps=40, seed=2, sampler=Sampler.DIVERSE)
    ck = run.model.checkpoint
    want = dict(run_chain(ck.model, ck.spec, ChainConfig(n=32, seed=2, sampler=Sampler.DIVERSE), 60))
    for t in (40, 3, 27, 0, 60, 11):  # 60: past the run, computed on demand
        assert np.array_equal(run.state(t), want[t]), t


def test_branches_and_sampler_text_match_kgn_sample(tmp_path):
    out = tmp_path / "b"
    argv = ["sample", "2d-corners", "-n", "4", "--steps", "12", "--seed", "5", "--branch", "6:3"]
    assert main([*argv, "--sampler", "noise=uniform,eps=0.05,damping=0.5", "-o", str(out)]) == 0
    run = kgn.sample("2d-corners", n=4, steps=12, seed=5, sampler="noise=uniform,eps=0.05,damping=0.5")
    br = run.branch(6, 3)
    assert np.array_equal(br.state(6), np.load(out / "final_states.npy"))
    div = [float(line.split(",")[1]) for line in (out / "divergence.csv").read_text().splitlines()[1:]]
    from kgn_gui.core.chain.lab import divergence

    assert div == pytest.approx([divergence(br.state(t), 3) for t in range(7)], rel=1e-5)


def test_export_writes_kgn_exports_frames(tmp_path):
    from kgn_gui.core.export.animation import read_frames

    run = kgn.sample("mnist", n=9, steps=6, seed=1)
    a = run.export(tmp_path / "api.png", steps=[0, 3, 6])
    argv = ["export", "mnist", "-n", "9", "--seed", "1", "--steps", "0,3,6", "-o", str(tmp_path / "cli.png")]
    assert main(argv) == 0
    fa, fc = read_frames(a), read_frames(tmp_path / "cli.png")
    assert len(fa) == len(fc) == 3 and all(np.array_equal(x, y) for x, y in zip(fa, fc))


def test_analyze_gives_kgn_analyzes_json(tmp_path):
    got = kgn.analyze("2d-corners", steps=60, n=32, seed=4, sampler="diverse", sigmas=[0.1], recovery_n=20)
    js = tmp_path / "a.json"
    argv = ["analyze", "2d-corners", "--steps", "60", "-n", "32", "--seed", "4", "--preset", "diverse", "--audit", "0"]
    assert main([*argv, "--sigmas", "0.1", "--recovery-n", "20", "--json", str(js)]) == 0
    cli = json.loads(js.read_text())
    assert cli.pop("model").endswith("2d-corners.safetensors") and got.pop("model").endswith("2d-corners.safetensors")
    from kgn_gui.core.jsonsafe import dumps_strict  # (what --json writes: NaN as null

    assert json.loads(dumps_strict(got, default=float)) == cli
    assert cli["damping"] == 0.1 and cli["chains"] == 32


def test_a_run_shows_itself_in_jupyter_as_an_animation():
    html = kgn.sample("2d-corners", n=16, steps=10, seed=0)._repr_html_()
    assert html.startswith('<img src="data:image/gif;base64,')
    data = base64.b64decode(html.split(",", 1)[1].split('"', 1)[0])
    im = Image.open(io.BytesIO(data), formats=["GIF"])
    assert im.n_frames == 11 and im.is_animated


def test_the_api_refuses_bad_requests_with_one_line():
    for call in (
        lambda: kgn.sample("mnist", n=0),
        lambda: kgn.sample("mnist", n=2, steps=-1),
        lambda: kgn.sample("mnist", n=2, sampler="noise=pink"),
        lambda: kgn.sample("mnist", n=2, sampler="wild"),
        lambda: kgn.load("no-such-model"),
        lambda: Sampler.parse("eps=0.1,eps=0.2"),
        lambda: Sampler(eps=float("inf")),
        lambda: kgn.train("points:1d-sigmoid", lr=-1),
        lambda: kgn.train("points:1d-sigmoid", depth=3),
        lambda: kgn.train("points:1d-sigmoid", steps=5, output="x.txt"),
        lambda: kgn.train("no-such-data"),
    ):
        with pytest.raises((ValueError, OSError)) as e:
            call()
        assert "\n" not in str(e.value) and str(e.value)
    assert issubclass(SamplerError, ValueError)


def test_model_save_keeps_the_metadata(tmp_path):
    m = kgn.load("2d-corners")
    p = m.save(tmp_path / "copy.safetensors")
    back = kgn.load(p)
    assert back.spec == m.spec and back.checkpoint.meta["dataset"] == m.checkpoint.meta["dataset"]
    assert np.array_equal(kgn.sample(back, n=4, steps=5).state(5), kgn.sample(m, n=4, steps=5).state(5))


def test_train_gives_kgn_trains_weights_bit_for_bit(tmp_path):
    """kgn.train, kgn train and the core loop (Trainer.run) on the same recipe: the same weights."""
    from kgn_gui.core.data.sources import point_preset
    from kgn_gui.core.model.checkpoint import load_checkpoint
    from kgn_gui.core.model.recipes import recipe_for
    from kgn_gui.core.model.train import Trainer

    out = tmp_path / "cli.safetensors"
    argv = ["train", "--data", "points:2d-corners", "--preset", "paper", "--steps", "150", "--seed", "2"]
    assert main([*argv, "--save-every", "0", "-o", str(out)]) == 0
    m = kgn.train("points:2d-corners", "paper", steps=150, seed=2)
    r = recipe_for("points:2d-corners", "paper").with_overrides(steps=150, seed=2)
    ds = point_preset("2d-corners")
    core = Trainer(r.spec(ds.D, ds.shape), ds, r.train_config())
    assert core.run().kind == "done" and m.trained.kind == "done"
    cli = load_checkpoint(out)
    assert cli.spec == m.spec and cli.meta["recipe"]["config"] == m.checkpoint.meta["recipe"]["config"]
    for k, v in core.model.state_dict().items():
        assert np.array_equal(v.numpy(), cli.model.state_dict()[k].numpy())
        assert np.array_equal(v.numpy(), m.network.state_dict()[k].numpy())
    # saved from the API, it is the file kgn train wrote (but for the date and the name)
    back = load_checkpoint(m.save(tmp_path / "api.safetensors", name="cli"))
    drop = ("date", "recipe")
    assert {k: v for k, v in back.meta.items() if k not in drop} == {k: v for k, v in cli.meta.items() if k not in drop}


def test_train_writes_its_output_and_the_best_weights_so_far_while_it_trains(tmp_path, monkeypatch):
    from kgn_gui.core.model import train as train_mod
    from kgn_gui.core.model.checkpoint import load_checkpoint

    clock = iter(range(0, 10**6, 7))  # each reading of the clock 7 s after the last: a save is due at once
    monkeypatch.setattr(train_mod.time, "monotonic", lambda: next(clock))
    writes, real = [], train_mod.Trainer.save

    def spy(self, path, **kw):
        writes.append((kw.get("extra") or {}).get("partial"))
        return real(self, path, **kw)

    monkeypatch.setattr(train_mod.Trainer, "save", spy)
    out = tmp_path / "m.safetensors"
    m = kgn.train("points:1d-sigmoid", "paper", steps=300, output=out, save_every=5, progress=lambda ev: None)
    assert m.path == out and len(writes) >= 2 and writes[-1] is None  # partial saves, then the whole run's
    assert all(0 < p["step"] < 300 for p in writes[:-1])
    assert "partial" not in load_checkpoint(out).meta
