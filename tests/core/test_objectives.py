"""Training beyond the paper: the denoising and contractive objectives on problems whose answer is known,
and the two halves of a data set."""

import numpy as np
import pytest
import torch
from torch import nn

from kgn_gui.core.data.dataset import Dataset, half_of
from kgn_gui.core.errors import DataError, TrainError
from kgn_gui.core.model.architectures import ModelSpec
from kgn_gui.core.model.train import TrainConfig, Trainer, objective_loss, parse_objective


def test_objectives_are_parsed_or_refused_in_one_line():
    assert parse_objective("manifold") == ("manifold", 0.0)
    assert parse_objective("denoise:0.1") == ("denoise", 0.1)
    assert parse_objective("contractive:0") == ("contractive", 0.0)
    for bad, says in (
        ("denoise", "objective denoise needs σ in (0, 10], e.g. denoise:0.1"),
        ("denoise:-1", "objective denoise needs σ in (0, 10]"),
        ("contractive:nan", "objective contractive needs λ in [0, 1e+06], e.g. contractive:0.01"),
        ("score", "unknown objective 'score'; choose manifold, denoise:σ or contractive:λ"),
    ):
        with pytest.raises(TrainError) as e:
            parse_objective(bad)
        assert str(e.value).startswith(says)
    with pytest.raises(TrainError, match="unknown objective"):
        TrainConfig(objective="manifold:1").validate()


def test_the_contractive_term_estimates_the_frobenius_norm_of_the_jacobian():
    lin = nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.diag(torch.tensor([1.0, 2.0, 0.0, 3.0])))
    x = torch.zeros(20000, 4)  # f(x) = x there: the reconstruction term is 0
    gen = torch.Generator().manual_seed(0)
    got = float(objective_loss(lin, x, ("contractive", 1.0), gen).detach())
    assert got == pytest.approx((1 + 4 + 0 + 9) / 4, rel=0.03)  # ‖W‖²_F / D


def test_a_denoiser_of_gaussian_data_learns_the_shrinkage_s2_over_s2_plus_sigma2():
    """For x ~ N(0, s²) the best f(x + σn) ≈ x is the linear shrinkage s²/(s² + σ²) · y."""
    s, sigma = 0.3, 0.3
    x = np.random.default_rng(0).normal(0, s, (4000, 1)).astype(np.float32).clip(-0.99, 0.99)
    ds = Dataset(x=x, shape=(1,), value_range=(-1.0, 1.0), name="gauss")
    spec = ModelSpec(D=1, L=2, H=32, shape=(1,))
    tr = Trainer(spec, ds, TrainConfig(lr=3e-3, batch=500, steps=1500, seed=0, eval_size=500, objective="denoise:0.3"))
    tr.run()
    y = torch.linspace(-0.3, 0.3, 13)[:, None]
    with torch.no_grad():
        slope = float(np.polyfit(y[:, 0].numpy(), tr.model(y)[:, 0].numpy(), 1)[0])
    assert slope == pytest.approx(s**2 / (s**2 + sigma**2), abs=0.06)
    plain = Trainer(spec, ds, TrainConfig(lr=3e-3, batch=500, steps=1500, seed=0, eval_size=500))
    plain.run()
    with torch.no_grad():
        assert float(np.polyfit(y[:, 0].numpy(), plain.model(y)[:, 0].numpy(), 1)[0]) > 0.85  # f ≈ id


def test_halves_are_disjoint_equal_and_seeded():
    ds = Dataset(x=np.arange(21, dtype=np.float32)[:, None] / 21, shape=(1,), value_range=(0.0, 1.0), name="d")
    a, b = half_of(ds, 0), half_of(ds, 1)
    assert a.M == b.M == 10 and (a.name, b.name) == ("d[half0]", "d[half1]")
    assert not set(a.x[:, 0]) & set(b.x[:, 0])
    assert np.array_equal(half_of(ds, 0).x, a.x)
    with pytest.raises(DataError, match="half must be 0 or 1"):
        half_of(ds, 2)


def test_kgn_train_records_the_objective_and_the_half(tmp_path):
    import json

    from kgn_gui.cli import main
    from kgn_gui.core.model.checkpoint import load_checkpoint

    out = tmp_path / "d.safetensors"
    args = ["train", "--data", "points:2d-corners", "--steps", "20", "--objective", "denoise:0.05", "--half", "1"]
    assert main([*args, "-o", str(out)]) == 0
    ck = load_checkpoint(out)
    assert ck.meta["recipe"]["config"]["objective"] == "denoise:0.05"
    assert ck.meta["dataset"].endswith("[half1]") and ck.meta["recipe"]["M"] == 2
    with pytest.raises(SystemExit) as e:
        main(["train", "--data", "points:2d-corners", "--objective", "x", "-o", str(tmp_path / "e.safetensors")])
    assert e.value.code == 2 and not (tmp_path / "e.safetensors").exists()
    json.dumps(ck.meta)


def test_two_halves_a_model_against_itself_is_zero_and_against_another_is_not(tmp_path):
    """Against itself, every pair is the same sample (paired 0, ratio 0, each own pair closer); two models of
    different data make different samples from the same noise (ratio near 1)."""
    import json

    from kgn_gui.cli import main
    from kgn_gui.core.measure.distribution import halves

    rng = np.random.default_rng(0)
    xa = rng.uniform(-1, 1, (50, 8))
    h = halves(xa, xa)
    assert h["paired_mean"] == 0 and h["ratio"] == 0 and h["closer_fraction"] == 1.0
    h = halves(xa, rng.uniform(-1, 1, (50, 8)))
    assert 0.85 < h["ratio"] < 1.15 and h["ratio_ci"][0] < 1 < h["ratio_ci"][1]
    out = tmp_path / "h.json"
    args = ["analyze", "models/2d-corners.safetensors", "-n", "32", "--steps", "30", "--audit", "0", "--sigmas", "0"]
    assert main([*args, "--against", "models/2d-corners.safetensors", "--json", str(out)]) == 0
    got = json.loads(out.read_text())["halves"]
    assert got["paired_mean"] == 0 and got["chains"] == 32 and got["against"].endswith("2d-corners.safetensors")
    with pytest.raises(ValueError, match="same N"):
        halves(xa, xa[:10])


def test_best_weights_can_be_judged_on_the_held_out_split():
    """eval_on="heldout" judges the best weights on the data set's held-out split (never trained on); the
    sweep asks for it. Without a split it is the training subset, as "train" is."""
    rng = np.random.default_rng(0)
    train = Dataset(x=rng.uniform(-0.5, 0.5, (200, 2)).astype(np.float32), shape=(2,), value_range=(-1.0, 1.0))
    train.heldout = Dataset(x=np.full((50, 2), 0.9, np.float32), shape=(2,), value_range=(-1.0, 1.0), name="far")
    spec = ModelSpec(D=2, L=1, H=8, shape=(2,))
    cfg = dict(lr=1e-3, batch=50, steps=20, seed=0, eval_size=50, eval_every=10)
    on_train = Trainer(spec, train, TrainConfig(**cfg))
    on_held = Trainer(spec, train, TrainConfig(**cfg, eval_on="heldout"))
    on_train.run(), on_held.run()
    assert on_held.eval_source == "held-out samples of far" and on_train.eval_source == "fixed training samples"
    with torch.no_grad():
        far = torch.full((50, 2), 0.9)
        assert on_held.best_loss == pytest.approx(float(nn.functional.mse_loss(on_held.model(far), far)), rel=1e-5)
    with pytest.raises(TrainError, match="eval_on must be train or heldout"):
        TrainConfig(eval_on="test").validate()
