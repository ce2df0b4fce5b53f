import os

import numpy as np
import pytest

from kgn_gui.core.chain import ChainConfig, run_chain
from kgn_gui.core.checkpoint import load_checkpoint
from kgn_gui.core.export import (FORMATS, ExportCancelled, ExportError, ExportOptions, compose_frame, export_chain,
                                 parse_steps, read_frames)
from kgn_gui.core.models import ModelSpec, build_model
from tests.conftest import MODELS

SPEC = ModelSpec(D=64, L=2, H=32, bound="tanh", shape=(1, 8, 8))


@pytest.fixture(scope="module")
def model():
    return build_model(SPEC, seed=0).eval()


def expected_frames(model, cfg, steps, opts):
    out = dict(run_chain(model, SPEC, cfg, max(steps), keep=set(steps)))
    return [compose_frame(out[t], SPEC.shape, SPEC.value_range, t, opts) for t in steps]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_with_the_chain_states(tmp_path, model, fmt):
    cfg = ChainConfig(n=9, noise="normal", eps=0.05, seed=3)
    steps = parse_steps("0:20:2")
    opts = ExportOptions(fmt=fmt, fps=10, scale=3, overlay=(fmt != "gif"))
    path = export_chain(model, SPEC, cfg, steps, tmp_path / "anim", opts)
    frames = read_frames(path)
    expect = expected_frames(model, cfg, steps, opts)
    assert len(frames) == len(steps) == 11
    assert frames[0].shape[:2] == expect[0].shape[:2] == (3 * 28, 3 * 28)  # 3×3 tiles of 8 px + padding, ×3
    for got, want in ((frames[0], expect[0]), (frames[-1], expect[-1])):
        err = np.abs(got.astype(int) - want.astype(int))
        if fmt in ("apng", "png"):
            assert err.max() == 0  # lossless
        elif fmt == "gif":
            assert err.mean() < 0.5 and err.max() <= 1  # 248 greys: at most half a level off
        else:
            assert err.mean() < 6.0  # lossy video
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary leftovers


def test_a_single_chain_can_be_exported_enlarged(tmp_path, model):
    p = export_chain(model, SPEC, ChainConfig(n=4), [0, 1, 2], tmp_path / "one.gif",
                     ExportOptions(fmt="apng", chain=2, scale=10, overlay=False))
    frames = read_frames(p)
    assert frames[0].shape == (80, 80, 3)
    with pytest.raises(ExportError, match="no chain 7"):
        export_chain(model, SPEC, ChainConfig(n=4), [0], tmp_path / "x.gif", ExportOptions(chain=7))


def test_a_cancelled_export_leaves_no_file(tmp_path, model):
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 3

    for fmt in ("gif", "mp4", "png"):
        calls["n"] = 0
        with pytest.raises(ExportCancelled):
            export_chain(model, SPEC, ChainConfig(n=4), list(range(10)), tmp_path / f"c_{fmt}",
                         ExportOptions(fmt=fmt), cancelled=cancelled)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_target_is_a_clear_error(tmp_path, model):
    with pytest.raises(ExportError, match="does not exist"):
        export_chain(model, SPEC, ChainConfig(n=4), [0, 1], tmp_path / "no" / "x.gif", ExportOptions())
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(ExportError, match="not writable"):
            export_chain(model, SPEC, ChainConfig(n=4), [0, 1], ro / "x.gif", ExportOptions())
    finally:
        os.chmod(ro, 0o700)


def test_bad_options_and_steps_are_refused(model, tmp_path):
    for bad in ("5:1", "a:b", "", "-1,2"):
        with pytest.raises(ExportError):
            parse_steps(bad)
    assert parse_steps("0:10:5") == [0, 5, 10] and parse_steps("3,1,2") == [1, 2, 3]
    for opts in (ExportOptions(fmt="avi"), ExportOptions(fps=0), ExportOptions(scale=0)):
        with pytest.raises(ExportError):
            opts.validate()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_chain(model, SPEC, ChainConfig(n=4), [0], tmp_path / "full", ExportOptions(fmt="png"))
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_the_bundled_model_exports_an_mp4_from_the_cli(tmp_path):
    from kgn_gui.cli import main

    assert main(["export", str(MODELS / "mnist.safetensors"), "--steps", "0:10:1", "--format", "mp4",
                 "-n", "16", "--scale", "2", "-o", str(tmp_path / "m")]) == 0
    frames = read_frames(tmp_path / "m.mp4")
    assert len(frames) == 11 and frames[0].shape == (234, 234, 3)  # 4×4 tiles of 28 px + padding, ×2
    ck = load_checkpoint(MODELS / "mnist.safetensors")
    assert ck.spec.D == 784


def test_states_export_to_npz_with_metadata(tmp_path, model):
    import json

    from kgn_gui.cli import main

    cfg = ChainConfig(n=5, seed=2)
    from kgn_gui.core.export import export_states

    p = export_states(model, SPEC, cfg, [0, 3, 7], tmp_path / "states", meta={"model_name": "toy"})
    with np.load(p, allow_pickle=False) as z:
        assert z["states"].shape == (3, 5, 64) and z["steps"].tolist() == [0, 3, 7]
        meta = json.loads(str(z["meta"]))
        expect = dict(run_chain(model, SPEC, cfg, 7, keep={3}))[3]
        assert np.array_equal(z["states"][1], expect)
    assert meta["chain"]["seed"] == 2 and meta["model_name"] == "toy"
    assert main(["export", str(MODELS / "1d-sigmoid.safetensors"), "--format", "npz", "--steps", "0:30:10",
                 "-n", "8", "-o", str(tmp_path / "pts")]) == 0
    with np.load(tmp_path / "pts.npz", allow_pickle=False) as z:
        assert z["states"].shape == (4, 8, 1)
