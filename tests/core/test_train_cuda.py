"""The CUDA training path: the captured-graph step against the eager loop, precision modes, divergence.

Skipped without a CUDA device (CI has none); run on a GPU machine with
``python -m pytest --noconftest -p no:cacheprovider tests/core/test_train_cuda.py``.
"""

import numpy as np
import pytest
import torch

from kgn_gui.core.data.dataset import Dataset
from kgn_gui.core.model.architectures import ModelSpec, paper_mnist_spec
from kgn_gui.core.model.train import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def digits(M=3000, seed=0) -> Dataset:
    """MNIST-shaped data in [−1, 1]: smooth random blobs, so that a loss curve means something."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    c = rng.uniform(6, 22, size=(M, 2, 1, 1))
    img = np.exp(-((yy - c[:, 0]) ** 2 + (xx - c[:, 1]) ** 2) / rng.uniform(4, 30, size=(M, 1, 1)))
    x = (img.reshape(M, 784) * 2 - 1).astype(np.float32)
    return Dataset(x=x, shape=(1, 28, 28), value_range=(-1.0, 1.0), name="blobs")


def train(spec, ds, **kw):
    cfg = TrainConfig(
        **{"lr": 1e-3, "batch": 250, "steps": 60, "device": "cuda", "eval_every": 20, "report_interval_s": 0.0, **kw}
    )
    tr = Trainer(spec, ds, cfg)
    events = list(tr.events())
    return tr, events


def weights(tr):
    return torch.cat([p.detach().flatten().double().cpu() for p in tr.model.parameters()])


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_graph_step_matches_the_eager_loop(schedule):
    ds = digits()
    g, ev_g = train(paper_mnist_spec(), ds, schedule=schedule, warmup=10)
    e, ev_e = train(paper_mnist_spec(), ds, schedule=schedule, warmup=10, graphs=False)
    assert g.graph_used and not e.graph_used and not g.graph_note
    assert ev_g[-1].kind == ev_e[-1].kind == "done"
    # Same batches (same generator, same draws), same arithmetic: the curves agree to float32 rounding.
    np.testing.assert_allclose(g.losses, e.losses, rtol=2e-4, atol=1e-6)
    assert g.losses[-1] < g.losses[0] * 0.8
    wg, we = weights(g), weights(e)
    assert float((wg - we).norm() / we.norm()) < 1e-4
    assert g.recipe()["cuda_graph"] is True


def test_graph_full_batch_and_cnn():
    ds = digits(M=200)
    tr, ev = train(paper_mnist_spec(), ds, batch=1000, steps=20)  # B ≥ M: the whole set each step
    assert tr.graph_used and ev[-1].kind == "done" and np.isfinite(tr.losses).all()
    spec = ModelSpec(D=784, L=2, H=8, bound="tanh", arch="cnn", shape=(1, 28, 28))
    tr, ev = train(spec, digits(M=500), batch=100, steps=30)
    assert tr.graph_used and ev[-1].kind == "done" and tr.losses[-1] < tr.losses[0]


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_reduced_precision_trains_close_to_fp32(precision):
    ds = digits()
    ref, _ = train(paper_mnist_spec(), ds, steps=100)
    tr, ev = train(paper_mnist_spec(), ds, steps=100, precision=precision)
    assert ev[-1].kind == "done" and tr.graph_used
    assert np.isfinite(tr.losses).all()
    assert tr.losses[-1] < tr.losses[0] * 0.8
    assert abs(tr.best_loss - ref.best_loss) < 0.1 * ref.best_loss
    assert torch.get_float32_matmul_precision() == "highest"  # put back after training


def test_divergence_and_stop_under_graphs():
    ds = digits()
    tr = Trainer(
        paper_mnist_spec(),
        ds,
        TrainConfig(lr=1e-3, batch=250, steps=1000, device="cuda", eval_every=50, report_interval_s=0.0),
    )
    for e in tr.events():
        if e.step >= 100 and e.kind == "progress":
            with torch.no_grad():  # poison a weight the captured graph reads: the next loss is NaN
                next(tr.model.parameters())[0, 0] = float("nan")
    # On CUDA the losses are read every 50 steps (and a progress event follows each read): the poison goes in
    # after step 100, so step 101 is the first NaN loss, found when step 150's batch of losses is read.
    assert tr.graph_used and e.kind == "diverged" and "NaN or infinite at step 101" in e.message
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    assert 0 < tr.best_step <= 100  # the weights of an evaluation before the poison (50 or 100), not the initial
    tr = Trainer(
        paper_mnist_spec(), ds, TrainConfig(lr=1e-3, batch=250, steps=100_000, device="cuda", report_interval_s=0.0)
    )
    for e in tr.events():
        if e.step >= 200:
            tr.stop()
    assert e.kind == "stopped" and tr.step == e.step == 200  # progress comes every 50 steps: stopped at 200


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_over_generalization_measure_of_a_model_on_the_gpu_equals_the_cpus():
    from kgn_gui.core.measure.dynamics import over_generalization
    from kgn_gui.core.model.architectures import ModelSpec, build_model

    model = build_model(ModelSpec(D=2, L=3, H=16, bound="sigmoid"), seed=0)
    train = np.array([[0.2, 0.2], [0.8, 0.8]], np.float32)
    cpu = over_generalization(model, (0.0, 1.0), train)
    gpu = over_generalization(model.cuda(), (0.0, 1.0), train)
    # fractions of 2,048 inputs: a float rounding may move one input across a bound
    assert cpu.keys() == gpu.keys() and all(abs(cpu[k] - gpu[k]) <= 1e-3 for k in cpu)
