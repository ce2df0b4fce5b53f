import math

import numpy as np
import pytest
import torch

import kgn_gui.core.model.train as train_mod
from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.data.mnist import load_mnist
from kgn_gui.core.data.sources import make_points, point_preset
from kgn_gui.core.errors import TrainError
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.train import TrainConfig, Trainer, draw_batch, train

SIGMOID_1D = ModelSpec(D=1, L=6, H=10, bound="sigmoid")


@pytest.fixture(scope="module")
def sigmoid_1d():
    """The paper's 1D Sigmoid recipe: X = {0.2, 0.8}, 6 hidden layers of width 10, Adam 1e-3, full batch."""
    model, tr = train(SIGMOID_1D, point_preset("1d-sigmoid"), TrainConfig(lr=1e-3, steps=1000, seed=0))
    return model, tr


def test_1d_sigmoid_recipe_trains_to_loss_below_1e_6_within_1000_steps(sigmoid_1d):
    _, tr = sigmoid_1d
    assert tr.best_loss < 1e-6 and tr.losses.shape == (1000,) and tr.losses[-1] < 1e-6
    assert tr.step == 1000 and tr.best_step % 100 == 0 and tr.best_state is not None  # evaluated every 100


def test_1d_sigmoid_chains_land_on_the_training_points(sigmoid_1d):
    """≥ 95% of 1000 chains from the paper's noise, N(0.5, 0.5) clipped, end within 0.01 of 0.2 or 0.8."""
    model, _ = sigmoid_1d
    cfg = ChainConfig(n=1000, start="normal", seed=0, sampler=Sampler(noise="none"))
    *_, (t, x) = run_chain(model, SIGMOID_1D, cfg, 30)
    d = np.minimum(np.abs(x - 0.2), np.abs(x - 0.8)).ravel()
    assert (d < 0.01).mean() >= 0.95


def test_training_is_reproducible_on_cpu_for_a_seed():
    ds = make_points([[0.1, 0.2], [0.3, 0.9], [0.7, 0.5], [0.9, 0.1]])
    spec = ModelSpec(D=2, L=3, H=16, bound="sigmoid")
    cfg = lambda s: TrainConfig(lr=1e-2, batch=2, steps=50, seed=s)  # noqa: E731
    a, ta = train(spec, ds, cfg(1))
    b, tb = train(spec, ds, cfg(1))
    c, tc = train(spec, ds, cfg(2))
    assert np.array_equal(ta.losses, tb.losses)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not np.array_equal(ta.losses, tc.losses)


def test_minibatches_have_no_repeats():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        idx = draw_batch(100, 60, g)
        assert len(set(idx.tolist())) == 60 and idx.min() >= 0 and idx.max() < 100
    assert sorted(draw_batch(100, 100, g).tolist()) == list(range(100))  # a whole batch: a permutation


def test_progress_events_report_step_loss_rate_and_eta():
    ds = point_preset("2d-corners")
    tr = Trainer(ModelSpec(D=2, L=2, H=8, bound="sigmoid"), ds, TrainConfig(lr=1e-3, steps=200, report_interval_s=0))
    events = list(tr.events())
    assert events[-1].kind == "done" and events[-1].step == 200
    progress = events[:-1]
    # No report interval: one progress event after every step but the last; each carries that step's loss,
    # and rate × time left = samples still to train (4 points a step), whatever the clock said.
    assert [e.kind for e in progress] == ["progress"] * 199 and [e.step for e in progress] == list(range(1, 200))
    assert [e.loss for e in progress] == tr.losses[:199].tolist()
    assert all(e.samples_per_s > 0 and e.samples_per_s * e.eta_s == pytest.approx((200 - e.step) * 4) for e in progress)
    assert events[-1].eta_s == 0 and events[-1].loss == tr.losses[-1] and events[-1].best_loss == tr.best_loss


def test_progress_rate_is_bounded():
    ds = point_preset("2d-corners")
    tr = Trainer(ModelSpec(D=2, L=2, H=8, bound="sigmoid"), ds, TrainConfig(lr=1e-3, steps=300, report_interval_s=60))
    events = list(tr.events())
    # One report at the first step, then none for 60 s: only the end (300 steps of a tiny net take < 60 s).
    assert [(e.kind, e.step) for e in events] == [("progress", 1), ("done", 300)]


def test_stop_ends_training_cleanly_with_the_best_weights():
    ds = load_mnist("test").subset(500)
    spec = ModelSpec(D=784, L=2, H=32, bound="tanh", shape=(1, 28, 28))
    tr = Trainer(spec, ds, TrainConfig(lr=1e-3, batch=100, steps=10_000, report_interval_s=0))
    for ev in tr.events():
        if ev.step >= 5:
            tr.stop()
    # Stopped before the next step; the best evaluated weights (the first evaluation, at step 100, was not
    # reached) are the initial ones, and they are what the model holds now.
    assert (ev.kind, ev.step, tr.step, tr.best_step) == ("stopped", 5, 5, 0) and "(step 0)" in ev.message
    initial = build_model(spec, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(tr.model.state_dict().values(), initial.state_dict().values()))


def test_nan_loss_stops_training_and_keeps_the_last_good_weights(monkeypatch):
    calls = {"n": 0}
    real = train_mod.manifold_loss

    def flaky(model, x):
        calls["n"] += 1
        loss = real(model, x)
        return loss * float("nan") if calls["n"] > 30 else loss

    monkeypatch.setattr(train_mod, "manifold_loss", flaky)
    tr = Trainer(
        ModelSpec(D=2, L=2, H=8, bound="sigmoid"),
        point_preset("2d-corners"),
        TrainConfig(lr=1e-3, steps=100, eval_every=5),
    )
    events = list(tr.events())
    # manifold_loss calls: 1 = the evaluation at step 0, then 5 steps and an evaluation, five times (31 calls,
    # the last, step 25's evaluation, already NaN and not kept): step 26's loss is the first NaN one.
    assert events[-1].kind == "diverged" and "NaN or infinite at step 26" in events[-1].message
    assert tr.step == 26 and tr.best_step == 20 and f"(step {tr.best_step})" in events[-1].message
    assert all(torch.equal(v, tr.best_state[k]) for k, v in tr.model.state_dict().items())
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    with pytest.raises(TrainError):
        monkeypatch.setattr(train_mod, "manifold_loss", flaky)
        calls["n"] = 0
        train(ModelSpec(D=2, L=2, H=8, bound="sigmoid"), point_preset("2d-corners"), TrainConfig(steps=100))


def test_bad_settings_and_mismatched_data_are_refused():
    ds = point_preset("2d-corners")
    with pytest.raises(TrainError, match="expects D"):
        Trainer(ModelSpec(D=3, L=1, H=4, bound="sigmoid"), ds)
    with pytest.raises(TrainError, match="outside"):
        Trainer(ModelSpec(D=2, L=1, H=4, bound="tanh"), make_points([[-1.5, 0.5]], (-2, 2)))
    for bad in (dict(lr=0), dict(batch=0), dict(steps=-1), dict(device="tpu")):
        with pytest.raises(TrainError):
            TrainConfig(**bad).validate()


def test_full_batch_when_batch_at_least_M(monkeypatch):
    ds = point_preset("1d-sigmoid")
    tr = Trainer(SIGMOID_1D, ds, TrainConfig(lr=1e-3, batch=1000, steps=3))
    seen = []
    real = train_mod.manifold_loss
    monkeypatch.setattr(train_mod, "manifold_loss", lambda model, x: seen.append(x.clone()) or real(model, x))
    list(tr.events())
    assert tr.step == 3
    # Every training step (between the evaluations at steps 0 and 3) sees both points, in order.
    assert len(seen) == 5 and all(torch.equal(x, torch.from_numpy(ds.x)) for x in seen)


def test_cosine_schedule_warms_up_linearly_then_decays_to_zero():
    cfg = TrainConfig(lr=1.0, steps=10, schedule="cosine", warmup=2)
    lrs = [cfg.lr_at(s) for s in range(10)]
    assert lrs[:3] == [0.5, 1.0, 1.0]
    # then ½(1 + cos(π(s − 2)/8)): down to ½(1 + cos 7π/8) ≈ 0.038 at the last step
    assert lrs[2:] == pytest.approx([0.5 * (1 + math.cos(math.pi * (s - 2) / 8)) for s in range(2, 10)])
    assert lrs[-1] == pytest.approx(0.0380602337)
    assert TrainConfig(lr=0.3).lr_at(5000) == 0.3  # constant: the paper's


@pytest.mark.parametrize(
    "kw, needle",
    [(dict(schedule="step"), "schedule"), (dict(steps=5, warmup=5), "warm-up"), (dict(warmup=-1), "warm-up")],
)
def test_bad_schedules_are_refused(kw, needle):
    with pytest.raises(TrainError, match=needle):
        TrainConfig(**kw).validate()


def test_the_schedule_sets_the_optimizer_learning_rate_each_step(monkeypatch):
    seen = []
    real = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return real(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    cfg = TrainConfig(lr=1e-2, steps=6, schedule="cosine", warmup=2, report_interval_s=60)
    tr = Trainer(ModelSpec(D=2, L=1, H=4, bound="sigmoid"), point_preset("2d-corners"), cfg)
    for _ in tr.events():
        pass
    assert seen == pytest.approx([cfg.lr_at(s) for s in range(6)])


# -- Trainer.run(hooks): the one loop of kgn train, the window's child process, the sweep and kgn.train
def _corners(steps, **kw):
    cfg = TrainConfig(lr=1e-3, steps=steps, report_interval_s=0, eval_every=10, **kw)
    return Trainer(ModelSpec(D=2, L=2, H=8, bound="sigmoid"), point_preset("2d-corners"), cfg)


def test_run_with_no_hooks_is_the_event_loop_and_returns_its_last_event():
    a, b = _corners(40), _corners(40)
    events = list(a.events())
    last = b.run()
    assert (last.kind, last.step) == (events[-1].kind, events[-1].step) == ("done", 40)
    assert np.array_equal(a.losses, b.losses) and a.best_step == b.best_step


def test_run_hooks_report_save_stop_at_a_target_and_cancel(monkeypatch):
    seen, saves = [], []
    clock = iter(range(0, 10_000, 5))  # each monotonic() reading is 5 s after the one before
    monkeypatch.setattr(train_mod.time, "monotonic", lambda: next(clock))
    tr = _corners(400)
    from kgn_gui.core.model.train import TrainHooks

    last = tr.run(TrainHooks(seen.append, lambda t: saves.append(t.step), save_every_s=12))
    assert last is seen[-1] and last.kind == "done" and seen[0].kind == "progress"
    # the save hook runs at progress events once 12 s have passed since the start or the last save
    assert saves and all(b > a for a, b in zip(saves, saves[1:])) and saves[-1] < 400
    monkeypatch.undo()
    # target: the run stops once the best evaluation loss is ≤ it, keeping those weights
    full = _corners(400)
    full.run()
    target = float(np.nanmedian(full.losses[:200]))
    tr = _corners(400)
    last = tr.run(TrainHooks(target_loss=target))
    assert last.kind == "stopped" and tr.best_loss <= target and tr.step < 400
    # cancelled(): polled at each event
    calls = []
    tr = _corners(400)
    last = tr.run(TrainHooks(cancelled=lambda: len(calls) > 3 or calls.append(1)))
    assert last.kind == "stopped" and tr.step == 5


def test_ctrl_c_ends_a_run_with_the_best_weights_only_when_the_hooks_say_so():
    from kgn_gui.core.model.train import TrainHooks

    def interrupt_at(n):
        def hook(ev):
            if ev.step == n and ev.kind == "progress":
                raise KeyboardInterrupt

        return hook

    tr = _corners(400)
    last = tr.run(TrainHooks(interrupt_at(50), interrupt_stops=True))
    assert last.kind == "stopped" and last.step == 50 and last.message.startswith("interrupted at step 50")
    best = {k: v.clone() for k, v in tr.best_state.items()}
    assert all(torch.equal(best[k], v) for k, v in tr.model.state_dict().items())  # the best weights are back
    with pytest.raises(KeyboardInterrupt):
        _corners(400).run(TrainHooks(interrupt_at(50)))


def test_save_writes_the_best_or_the_current_weights_with_the_recipe(tmp_path):
    from kgn_gui.core.model.checkpoint import load_checkpoint

    tr = _corners(400)
    for ev in tr.events():
        if ev.step >= 55:
            break  # mid-run: the best weights (step 50) are not the current ones
    best = tr.save(tmp_path / "best.safetensors", name="b", extra={"partial": {"step": tr.step}})
    now = tr.save(tmp_path / "now.safetensors", best=False)
    b, n = load_checkpoint(best), load_checkpoint(now)
    assert b.meta["partial"] == {"step": tr.step} and b.meta["recipe"]["best_step"] == 50 and b.name == "b"
    assert all(torch.equal(v, tr.best_state[k]) for k, v in b.model.state_dict().items())
    assert all(torch.equal(v, tr.model.state_dict()[k]) for k, v in n.model.state_dict().items())
    assert not all(torch.equal(v, tr.best_state[k]) for k, v in n.model.state_dict().items())
