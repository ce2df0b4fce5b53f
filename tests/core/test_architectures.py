"""Every architecture end to end on a tiny image data set: train, save, load, run a chain, measure."""

import numpy as np
import pytest
import torch

from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.data.dataset import Dataset
from kgn_gui.core.errors import CheckpointError
from kgn_gui.core.measure.dynamics import attractor_audit
from kgn_gui.core.model.architectures import ModelSpec
from kgn_gui.core.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from kgn_gui.core.model.train import TrainConfig, Trainer

# Every test here uses the four models the module fixture trains (400 steps each, minutes on two cores).
pytestmark = pytest.mark.slow

SHAPE = (1, 8, 8)
SPECS = {
    "mlp": dict(L=3, H=64),
    "cnn": dict(L=2, H=8, bottleneck=16),
    "unet": dict(L=2, H=8),
    "transformer": dict(L=2, H=32, patch=2),
}


def tiny_images() -> Dataset:
    """Four 8×8 pictures in [-1, 1]: a bar, a column, a diagonal and a square outline."""
    imgs = -np.ones((4, 8, 8), np.float32)
    imgs[0, 3:5, :] = 1
    imgs[1, :, 2:4] = 1
    np.fill_diagonal(imgs[2], 1)
    imgs[3, 1, 1:7] = imgs[3, 6, 1:7] = imgs[3, 1:7, 1] = imgs[3, 1:7, 6] = 1
    return Dataset(x=imgs.reshape(4, 64), shape=SHAPE, value_range=(-1.0, 1.0), name="tiny")


def last(steps) -> np.ndarray:
    *_, (_, x) = steps
    return x


@pytest.fixture(scope="module")
def trained():
    ds = tiny_images()
    out = {}
    for arch, kw in SPECS.items():
        spec = ModelSpec(D=64, arch=arch, shape=SHAPE, bound="tanh", **kw)
        tr = Trainer(spec, ds, TrainConfig(lr=3e-3, batch=4, steps=400, seed=0, report_interval_s=60))
        for _ in tr.events():
            pass
        out[arch] = (spec, tr.model.eval(), tr.best_loss)
    return ds, out


@pytest.mark.parametrize("arch", list(SPECS))
def test_each_architecture_learns_the_tiny_set(trained, arch):
    _, models = trained
    assert models[arch][2] < 0.02, f"{arch} best loss {models[arch][2]}"


@pytest.mark.parametrize("arch", list(SPECS))
def test_save_and_load_round_trip_needs_no_extra_arguments(trained, tmp_path, arch):
    ds, models = trained
    spec, model, _ = models[arch]
    p = save_checkpoint(tmp_path / f"{arch}.safetensors", model, spec, dataset=ds.name, data_shape=ds.shape)
    assert read_metadata(p)["spec"]["arch"] == arch
    ck = load_checkpoint(p)
    assert ck.spec == spec and type(ck.model) is type(model)
    x = torch.rand(5, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(ck.model(x), model(x))


def test_a_file_whose_tensors_belong_to_another_architecture_is_refused(trained, tmp_path):
    import json

    from safetensors.torch import save_file

    _, models = trained
    spec, model, _ = models["cnn"]
    p = save_checkpoint(tmp_path / "cnn.safetensors", model, spec)
    meta = read_metadata(p)
    meta["spec"]["arch"], meta["spec"]["bottleneck"] = "unet", 0
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    bad = tmp_path / "lying.safetensors"
    save_file(tensors, str(bad), metadata={"kgn": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(bad)


@pytest.mark.parametrize("arch", list(SPECS))
def test_a_chain_from_training_images_settles_on_them_and_one_from_noise_converges(trained, arch):
    ds, models = trained
    spec, model, _ = models[arch]
    x = torch.from_numpy(ds.x)
    # Started on a training image with a little corruption, the noiseless chain returns to it.
    start = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    cfg = ChainConfig(n=4, start="array", seed=0, sampler=Sampler(noise="none", eps=0.0))
    final = last(run_chain(model, spec, cfg, 60, start_array=start.numpy()))
    err = np.sqrt(((final - ds.x) ** 2).mean(1))
    assert err.max() < 0.15, f"{arch}: distance to the training images {err}"
    # From uniform noise the chain stops moving: x_T ≈ f(x_T).
    noise = ChainConfig(n=16, seed=1, start="uniform", sampler=Sampler(noise="none", eps=0.0))
    xT = torch.from_numpy(last(run_chain(model, spec, noise, 200)))
    with torch.no_grad():
        move = (model(xT) - xT).pow(2).mean(1).sqrt()
    assert move.median() < 1e-2, f"{arch}: still moving {move}"


@pytest.mark.parametrize("arch", list(SPECS))
def test_attractor_audit_takes_jacobians_through_every_architecture(trained, arch):
    ds, models = trained
    _, model, _ = models[arch]
    audit = attractor_audit(model, (-1.0, 1.0), ds.x, n=2, seed=0)
    # Two of the four images, each refined to a fixed point next to it; ρ there is the spectral radius of the
    # Jacobian, here taken independently: autograd's full Jacobian at the end of a long noiseless chain.
    assert len(audit.indices) == 2 and audit.residual.max() < 1e-4 and audit.drift.max() < 0.05
    cfg = ChainConfig(n=2, start="array", sampler=Sampler(noise="none", eps=0.0))
    fixed = torch.from_numpy(last(run_chain(model, models[arch][0], cfg, 400, start_array=ds.x[audit.indices])))
    rho = [
        float(torch.linalg.eigvals(torch.autograd.functional.jacobian(lambda v: model(v[None])[0], x)).abs().max())
        for x in fixed
    ]
    assert audit.rho == pytest.approx(rho, rel=1e-3), arch
    # The training images attract (the chain test above returns to them): every audited fixed point has ρ < 1.
    assert audit.attractor_fraction == 1.0, (arch, audit.rho)
