"""Issue 20, the sampling lab in core: ε schedules, damping, conditions, live edits and branches keep the chain a
pure function of (model, start, settings, seed, t): scrubbing and a fresh run give the same states bit for bit."""

import math

import numpy as np
import pytest
import torch

from kgn_gui.core.chain.chain import Chain, ChainConfig, run_chain
from kgn_gui.core.chain.lab import (
    Condition,
    Edit,
    Lab,
    branch_seeds,
    brush_pixels,
    divergence,
    parse_branch,
    parse_condition,
    region_mask,
)
from kgn_gui.core.chain.sampler import Sampler, parse_schedule
from kgn_gui.core.chain.session import ChainSession
from kgn_gui.core.errors import ChainError, LabError, SamplerError

SHAPE = (1, 4, 4)
D = 16
RANGE = (-1.0, 1.0)


class Halve(torch.nn.Module):
    """f(x) = x / 2 + 0.1: simple enough to check a step by hand."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x * 0.5 + 0.1


class Spec:
    shape, D, value_range = SHAPE, D, RANGE


def _run(cfg, steps, **kw):
    return dict(run_chain(Halve(), Spec(), cfg, steps, **kw))


@pytest.mark.parametrize(
    "text, t, want",
    [
        ("linear:0.1:0.0:10", 5, 0.05),
        ("linear:0.1:0.0:10", 50, 0.0),
        ("cosine:0.1:0.0:10", 5, 0.05),
        ("cosine:0.1:0.02:10", 0, 0.1),
        ("exp:0.1:0.001:10", 5, 0.01),
        ("const:0.03", 7, 0.03),
    ],
)
def test_each_schedule_matches_its_formula(text, t, want):
    assert parse_schedule(text, steps=99).eps(t) == pytest.approx(want, abs=1e-12)


def test_a_schedule_without_T_takes_the_runs_steps_and_bad_texts_are_one_line_errors():
    assert parse_schedule("linear:0.1:0", steps=200).T == 200
    assert parse_schedule("") is None
    for bad in ("wiggle:0.1:0:5", "linear:a:0:5", "linear:0.1:0:x", "exp:0:0.1:5", "linear:0.1:0:0", "linear"):
        with pytest.raises(SamplerError) as e:
            parse_schedule(bad, steps=10)
        assert "\n" not in str(e.value)
    with pytest.raises(ChainError):
        Sampler.from_dict({"schedule": "linear:0.1:0"})  # a stored config always names its T
    with pytest.raises(ChainError):
        Sampler(damping=0.0)


def test_the_noise_added_at_each_step_follows_the_schedule():
    cfg = ChainConfig(
        n=3, seed=1, sampler=Sampler(noise="normal", eps=0.0, schedule=parse_schedule("linear:0.2:0.0:4"))
    )
    got = _run(cfg, 6)
    ch = Chain(Halve(), RANGE, Sampler("normal", 1.0), 1)
    for t in range(6):
        fx = torch.from_numpy(got[t]) * 0.5 + 0.1
        n = ch._noise((3, D), t, torch.device("cpu"))
        want = (fx + n * parse_schedule("linear:0.2:0.0:4").eps(t)).clamp(*RANGE)
        assert torch.allclose(torch.from_numpy(got[t + 1]), want, atol=1e-6)
    assert np.array_equal(got[6], np.clip(got[5] * 0.5 + 0.1, *RANGE).astype(np.float32))  # ε(5) = 0


def test_damping_one_is_the_papers_step_and_damping_mixes_in_the_state():
    plain = _run(ChainConfig(n=2, sampler=Sampler(eps=0.0, noise="none")), 3)
    one = _run(ChainConfig(n=2, sampler=Sampler(eps=0.0, noise="none", damping=1.0)), 3)
    assert all(np.array_equal(plain[t], one[t]) for t in plain)
    half = _run(ChainConfig(n=2, sampler=Sampler(eps=0.0, noise="none", damping=0.5)), 3)
    x = half[0].astype(np.float64)
    for t in range(1, 4):
        x = np.clip(0.5 * x + 0.5 * (x * 0.5 + 0.1), *RANGE)
        assert np.allclose(half[t], x, atol=1e-6)


def test_conditioned_pixels_equal_the_known_image_at_every_step():
    known = np.linspace(-1, 1, D).astype(np.float32)
    cond = Condition(known, region_mask("top", SHAPE), source="test", region="top")
    got = _run(ChainConfig(n=4, sampler=Sampler(eps=0.05)), 20, lab=Lab(cond))
    for t, x in got.items():
        assert np.array_equal(x[:, :8], np.broadcast_to(known[:8], (4, 8))), t
    assert not np.array_equal(got[20][:, 8:], np.broadcast_to(known[8:], (4, 8)))  # the rest is free


def test_known_regions_and_a_mask_file(tmp_path):
    assert (
        region_mask("left", SHAPE).reshape(4, 4)[:, :2].all()
        and not region_mask("left", SHAPE).reshape(4, 4)[:, 2:].any()
    )
    assert region_mask("bottom", SHAPE).reshape(4, 4)[2:].all()
    from PIL import Image

    img = np.zeros((8, 8), np.uint8)
    img[:, 4:] = 255  # right half white: known
    Image.fromarray(img).save(tmp_path / "m.png")
    from kgn_gui.core.chain.lab import load_mask

    assert np.array_equal(load_mask(tmp_path / "m.png", SHAPE), region_mask("right", SHAPE))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(LabError, match="no known pixel"):
        load_mask(tmp_path / "black.png", SHAPE)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(LabError, match="junk.png"):
        load_mask(tmp_path / "junk.png", SHAPE)


def test_parse_condition_reads_a_data_sample():
    from types import SimpleNamespace

    x = np.random.default_rng(0).uniform(-1, 1, (3, D)).astype(np.float32)
    ds = SimpleNamespace(x=x, M=3, name="x", shape=SHAPE)
    cond = parse_condition("data:x#2", "top", ds.shape, RANGE, open_source=lambda key, vr: ds)
    assert np.array_equal(cond.known, ds.x[2]) and cond.source == "x#2" and cond.fraction == 0.5
    with pytest.raises(LabError, match="--known"):
        parse_condition("data:x#2", "", ds.shape, RANGE, open_source=lambda key, vr: ds)
    with pytest.raises(LabError, match="unknown known region"):
        parse_condition("data:x#2", "middle", ds.shape, RANGE, open_source=lambda key, vr: ds)


def _session(cfg, **kw):
    return ChainSession(Halve(), SHAPE, RANGE, cfg, keyframe_every=3, **kw)


def test_edits_replay_bit_for_bit_when_scrubbing_across_them():
    cfg = ChainConfig(
        n=5, seed=3, sampler=Sampler(eps=0.05, schedule=parse_schedule("cosine:0.1:0.01:20"), damping=0.9)
    )
    cond = Condition(np.zeros(D, np.float32), region_mask("left", SHAPE))
    s = _session(cfg, lab=Lab(cond))
    s.advance(8)
    kick = Edit(t=5, kind="kick", rows=(0, 3), sigma=0.5, seed=9)
    s.add_edit(kick)  # the steps after 5 are recomputed from the kicked state
    assert s.t_max == 5
    s.advance(9)
    brush = Edit(t=11, kind="brush", rows=(2,), pixels=brush_pixels(SHAPE, 1, 3, 1))
    s.add_edit(brush)
    s.advance(10)
    on_the_way = [s.state(t).copy() for t in range(s.t_max + 1)]
    # A fresh run with the same lab (what kgn does), and a cold scrub of the session, give the same states.
    fresh = _run(cfg, s.t_max, lab=Lab(cond, [kick, brush]))
    s.timeline._cache.clear()
    for t in (21, 4, 5, 6, 11, 12, 0, 17):
        assert np.array_equal(s.state(t), on_the_way[t]) and np.array_equal(fresh[t], on_the_way[t]), t
    assert not np.array_equal(on_the_way[5], _run(cfg, 5, lab=Lab(cond))[5])  # the kick changed x_5
    assert (on_the_way[11][2, list(brush.pixels)] == 1.0).all()
    # an edit at step 0 edits the start
    s.add_edit(Edit(t=0, kind="erase", rows=(1,)))
    x0 = s.state(0)[1].reshape(4, 4)
    assert s.t_max == 0 and (x0[:, 2:] == -1.0).all() and (x0[:, :2] == 0.0).all()  # the known pixels stay
    with pytest.raises(ChainError):
        s.add_edit(Edit(t=3, kind="kick", rows=(0,), sigma=0.1))  # past the head
    with pytest.raises(LabError):
        s.add_edit(Edit(t=0, kind="kick", rows=(7,), sigma=0.1))  # no chain 7


def test_edits_read_back_from_their_dicts_and_refuse_damaged_ones():
    e = Edit(t=4, kind="kick", rows=(1, 2), pixels=(3,), sigma=0.25, seed=8)
    back = Edit.from_dict(e.to_dict())
    assert back.to_dict() == e.to_dict()
    for bad in ({"t": 1}, {"t": "1", "kind": "brush", "rows": [0]}, {"t": 1, "kind": "brush", "rows": [0], "x": 1},
                {"t": 1, "kind": "kick", "rows": [0], "sigma": 0}, {"t": 1, "kind": "brush", "rows": "0"}):  # fmt: skip
        with pytest.raises(LabError):
            Edit.from_dict(bad)


def test_branches_with_one_seed_are_identical_and_with_two_differ():
    cfg = ChainConfig(n=3, seed=2, sampler=Sampler(eps=0.05))
    s = _session(cfg)
    s.advance(6)
    b = s.branch(4, [1], 3)
    b.advance(10)
    x = b.state(10)
    assert not np.array_equal(x[0], x[1]) and divergence(x, 3) > 0 and divergence(b.state(0), 3) == 0
    # The same branch seed twice: identical rows; and a branch is the same however many are made.
    seeds = branch_seeds(2, 4, [1], 3)
    twin = ChainSession(Halve(), SHAPE, RANGE, ChainConfig(n=2, start="array", seed=2, sampler=Sampler(eps=0.05)),
                        start_array=np.repeat(s.state(4)[[1]], 2, 0), row_seeds=[seeds[0], seeds[0]], offset=4)  # fmt: skip
    twin.advance(10)
    assert np.array_equal(twin.state(10)[0], twin.state(10)[1]) and np.array_equal(twin.state(10)[0], x[0])
    two = s.branch(4, [1], 2)
    two.advance(10)
    assert np.array_equal(two.state(10), x[:2])
    # kgn's --branch gives the same rows
    fresh = _run(cfg, 14, branch=(4, 3))
    assert np.array_equal(fresh[14][3:6], x)
    assert parse_branch("100:8") == (100, 8)
    for bad in ("100", "a:2", "5:1", "5:65", "-1:2"):
        with pytest.raises(LabError):
            parse_branch(bad)


def test_divergence_is_the_mean_pairwise_rms_distance():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.0, 2.0]])  # two chains, K = 2
    assert divergence(x, 2) == pytest.approx((1.0 + math.sqrt(2.0)) / 2)


@pytest.mark.parametrize("zipped", [False, True])
def test_a_bundle_with_edits_a_condition_and_a_schedule_reproduces_its_frames_exactly(tmp_path, zipped):
    from kgn_gui.core.export.animation import export_chain, read_frames
    from kgn_gui.core.export.bundle import read_bundle, reproduce, write_bundle
    from kgn_gui.core.export.options import ExportOptions
    from kgn_gui.core.model.checkpoint import load_checkpoint
    from tests.conftest import MODELS

    ck = load_checkpoint(MODELS / "mnist.safetensors")
    known = np.linspace(-1, 1, 784, dtype=np.float32)
    cond = Condition(known, region_mask("left", (1, 28, 28)), source="ramp", region="left")
    edits = [
        Edit(t=3, kind="brush", rows=(0, 2), pixels=brush_pixels((1, 28, 28), 14, 20, 3)),
        Edit(t=5, kind="kick", rows=(1,), sigma=0.5, seed=4),
        Edit(t=5, kind="erase", rows=(3,), pixels=tuple(range(400, 500))),
    ]
    lab = Lab(cond, edits)
    cfg = ChainConfig(
        n=4,
        seed=5,
        sampler=Sampler(noise="normal", eps=0.02, schedule=parse_schedule("cosine:0.1:0.01:8"), damping=0.75),
    )
    out = tmp_path / ("b.zip" if zipped else "b")
    steps = list(range(9))
    opts = ExportOptions(fmt="apng", scale=1, overlay=False)
    write_bundle(out, ck, cfg, steps, opts, lab=lab)
    _, cfg2, _, _, _, lab2 = read_bundle(out)
    assert cfg2 == cfg and lab2.to_dict() == lab.to_dict()
    assert np.array_equal(lab2.condition.known, known) and np.array_equal(lab2.condition.mask, cond.mask)
    again = read_frames(reproduce(out, tmp_path / "again"))
    fresh = read_frames(export_chain(ck.model, ck.spec, cfg, steps, tmp_path / "fresh", opts, lab=lab))
    plain = read_frames(export_chain(ck.model, ck.spec, cfg, steps, tmp_path / "plain", opts))
    assert len(again) == len(fresh) == 9 and all(np.array_equal(a, b) for a, b in zip(again, fresh))
    assert not np.array_equal(again[8], plain[8])  # the lab is in the frames, not lost on the way


def test_damaged_lab_fields_of_a_bundle_are_one_line_errors(tmp_path):
    import json

    from kgn_gui.core.errors import ExportError
    from kgn_gui.core.export.bundle import read_bundle, write_bundle
    from kgn_gui.core.export.options import ExportOptions
    from kgn_gui.core.model.checkpoint import load_checkpoint
    from tests.conftest import MODELS

    ck = load_checkpoint(MODELS / "mnist.safetensors")
    cond = Condition(np.zeros(784, np.float32), region_mask("top", (1, 28, 28)))
    b = tmp_path / "b"
    write_bundle(b, ck, ChainConfig(n=2), [0, 1], ExportOptions(scale=1), lab=Lab(cond, [Edit(1, "erase", (1,))]))
    run = json.loads((b / "run.json").read_text())
    cases = [
        ({**run, "lab": {**run["lab"], "edits": [{"t": 1, "kind": "erase", "rows": [7]}]}}, None, "chain 7"),
        ({**run, "lab": {**run["lab"], "edits": "x"}}, None, "edits must be a list"),
        ({**run, "lab": {**run["lab"], "edits": [{"t": 1, "kind": "melt", "rows": [0]}]}}, None, "unknown edit"),
        ({**run, "chain": {**run["chain"], "schedule": "linear:1"}}, None, "schedule"),
        ({**run, "chain": {**run["chain"], "damping": 2.0}}, None, "damping"),
        (run, np.full((2, 784), np.nan, np.float32), "NaN"),
        (run, np.stack([np.full(784, 5.0), np.ones(784)]).astype(np.float32), "value range"),
        (run, np.zeros((3, 784), np.float32), "no known pixel"),
        (run, np.vstack([np.zeros((3, 784)), np.ones((1, 784))]).astype(np.float32), "3 known images for 2 chains"),
        (run, np.ones((1, 784), np.float32), "2×D"),
    ]
    for damaged, arr, msg in cases:
        (b / "run.json").write_text(json.dumps(damaged))
        np.save(b / "condition.npy", cond.to_array() if arr is None else arr)
        with pytest.raises(ExportError, match=msg):
            read_bundle(b)
    (b / "run.json").write_text(json.dumps(run))
    (b / "condition.npy").unlink()
    with pytest.raises(ExportError, match="no condition array"):
        read_bundle(b)


def test_condition_match_counts_a_completions_class_against_its_sources():
    from kgn_gui.core.measure.analysis import condition_match

    class Erase(torch.nn.Module):
        """f(x) = −1 everywhere: a free chain forgets its start; a conditioned one keeps the known half."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.full_like(x, -1.0) + 0 * self.w

    class TopBright:
        """Class 1 when the top half is brighter than the background, else 0."""

        def predict(self, x_unit):
            top = np.asarray(x_unit).reshape(-1, 4, 4)[:, :2].mean((1, 2))
            return np.stack([top <= 0.25, top > 0.25], 1).astype(np.float32), None

    rng = np.random.default_rng(0)
    images = np.where(rng.random((10, 16)) < 0.5, 1.0, -1.0).astype(np.float32)
    labels = ((images.reshape(10, 4, 4)[:, :2] + 1) / 2).mean((1, 2)) > 0.25
    labels = labels.astype(int)
    out = condition_match(Erase(), Spec(), images, labels, TopBright(), "top", chains=3, steps=5, noise="none")
    assert out["conditioned"] == 1.0  # the known top half decides the class: always the source's
    assert out["free"] == pytest.approx(float((labels == 0).mean()))  # everything erased: class 0
    assert out["conditioned_ci"][0] <= 1.0 and out["images"] == 10 and out["chains"] == 3
    assert out["blank"] == 1.0 and out["noise"] == 1.0  # the known half alone decides here
    assert "nearest" not in out  # no training data given

    class BottomBright:
        """Class 1 when the (unknown) bottom half is brighter than the background."""

        def predict(self, x_unit):
            bottom = np.asarray(x_unit).reshape(-1, 4, 4)[:, 2:].mean((1, 2))
            return np.stack([bottom <= 0.25, bottom > 0.25], 1).astype(np.float32), None

    hidden = (((images.reshape(10, 4, 4)[:, 2:] + 1) / 2).mean((1, 2)) > 0.25).astype(int)
    out = condition_match(
        Erase(), Spec(), images, hidden, BottomBright(), "top", chains=3, steps=5, noise="none", train_x=images
    )
    assert out["blank"] == pytest.approx(float((hidden == 0).mean()))  # a blank bottom: always class 0
    assert out["nearest"] == 1.0  # the nearest training example on the top half is the image itself
    assert out["noise"] == pytest.approx(float((hidden == 1).mean()), abs=0.1)  # noise is bright on average


def test_a_setting_changed_at_a_step_survives_an_edit_there_and_a_restart():
    """Review: an edit at the step where ε changed (or at step 0) dropped the new step map; the chain went on
    with the old ε while the session said the new one."""
    s = ChainSession(Halve(), SHAPE, RANGE, ChainConfig(n=3, seed=2, sampler=Sampler(eps=0.01)))
    s.advance(8)
    s.set_sampler(Sampler("normal", 0.2), at=5)
    s.add_edit(Edit(t=5, kind="kick", rows=(1,), sigma=0.3, seed=1))
    assert s.timeline.chain_at(5).sampler.eps == 0.2 and s.timeline.chain_at(4).sampler.eps == 0.01
    s.advance(4)
    fresh = Chain(Halve(), RANGE, Sampler("normal", 0.2), 2, lab=s.lab)
    assert torch.equal(torch.from_numpy(s.state(6)), fresh.step(torch.from_numpy(s.state(5).copy()), 5))
    s.add_edit(Edit(t=0, kind="erase", rows=(0,)))  # a restart from an edited start
    assert s.timeline.chain_at(7).sampler.eps == 0.2


def test_hostile_edits_and_conditions_are_bounded_or_refused():
    e = Edit(t=0, kind="erase", rows=[0] * 1_000_000, pixels=[3, 3, 1] * 100_000)
    assert e.rows == (0,) and e.pixels == (1, 3)  # one row, two pixels — not millions of index entries
    s = ChainSession(Halve(), SHAPE, RANGE, ChainConfig(n=3))
    per_chain = Condition(np.zeros((5, D), np.float32), region_mask("top", SHAPE))
    with pytest.raises(ChainError, match="5 known images for 3 chains"):
        s.set_condition(per_chain)
    assert s.lab.condition is None
