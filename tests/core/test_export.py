import os

import numpy as np
import pytest

from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.errors import ExportCancelled, ExportError
from kgn_gui.core.export.animation import export_chain, read_frames
from kgn_gui.core.export.mosaic import band_height, compose_frame
from kgn_gui.core.export.options import FORMATS, ExportOptions, parse_steps
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.picture.render import to_uint8
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
    cfg = ChainConfig(n=9, seed=3, sampler=Sampler(noise="normal", eps=0.05))
    steps = parse_steps("0:20:2")
    opts = ExportOptions(fmt=fmt, fps=10, scale=3, overlay=(fmt != "gif"))
    path = export_chain(model, SPEC, cfg, steps, tmp_path / "anim", opts)
    frames = read_frames(path)
    expect = expected_frames(model, cfg, steps, opts)
    assert len(frames) == len(steps) == 11
    band = band_height(3 * 28, 3 * 28) if opts.overlay else 0  # the step label's band above the grid
    assert frames[0].shape[:2] == expect[0].shape[:2] == (band + 3 * 28, 3 * 28)  # 3×3 tiles of 8 px + padding, ×3
    for got, want in ((frames[0], expect[0]), (frames[-1], expect[-1])):
        err = np.abs(got.astype(int) - want.astype(int))
        if fmt in ("apng", "png"):
            assert err.max() == 0  # lossless
        elif fmt == "gif":
            # 248 greys, each pixel held while it drifts ≤ 3 levels (gif_hold): ≤ 3.5 levels = 3.6 of 255 off
            assert err.mean() < 1.5 and err.max() <= 4
        else:
            assert err.mean() < 6.0  # lossy video
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary leftovers


def test_a_single_chain_can_be_exported_enlarged(tmp_path, model):
    p = export_chain(
        model,
        SPEC,
        ChainConfig(n=4),
        [0, 1, 2],
        tmp_path / "one.gif",
        ExportOptions(fmt="apng", chain=2, scale=10, overlay=False),
    )
    frames = read_frames(p)
    # Chain 2 alone, each of its 8×8 values a 10×10 grey block (APNG: lossless), at every step.
    states = dict(run_chain(model, SPEC, ChainConfig(n=4), 2))
    for t, frame in enumerate(frames):
        grey = np.repeat(np.repeat(to_uint8(states[t][2].reshape(8, 8), SPEC.value_range), 10, 0), 10, 1)
        assert np.array_equal(frame, np.repeat(grey[..., None], 3, axis=2)), t
    assert len(frames) == 3 and not np.array_equal(frames[0], frames[2])
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
            export_chain(
                model,
                SPEC,
                ChainConfig(n=4),
                list(range(10)),
                tmp_path / f"c_{fmt}",
                ExportOptions(fmt=fmt),
                cancelled=cancelled,
            )
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

    assert (
        main(
            [
                "export",
                str(MODELS / "mnist.safetensors"),
                "--steps",
                "0:10:1",
                "--format",
                "mp4",
                "-n",
                "16",
                "--scale",
                "2",
                "-o",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    frames = read_frames(tmp_path / "m.mp4")
    # 4×4 tiles of 28 px + padding, ×2, under the step label's band (14 rows at this size)
    assert len(frames) == 11 and frames[0].shape == (band_height(234, 234) + 234, 234, 3)
    assert band_height(234, 234) == 14
    # The frames are the bundled model's chain (the CLI's defaults: 16 chains, seed 0), to within the codec.
    ck = load_checkpoint(MODELS / "mnist.safetensors")
    cfg = ChainConfig(n=16, seed=0, sampler=Sampler(noise="normal", eps=0.01))
    want = dict(run_chain(ck.model, ck.spec, cfg, 10, keep={0, 10}))
    opts = ExportOptions(fmt="mp4", scale=2)
    for t, got in ((0, frames[0]), (10, frames[-1])):
        assert np.abs(got.astype(int) - compose_frame(want[t], ck.spec.shape, ck.value_range, t, opts)).mean() < 6


def test_states_export_to_npz_with_metadata(tmp_path, model):
    import json

    from kgn_gui.cli import main

    cfg = ChainConfig(n=5, seed=2)
    from kgn_gui.core.export.animation import export_states

    p = export_states(model, SPEC, cfg, [0, 3, 7], tmp_path / "states", meta={"model_name": "toy"})
    with np.load(p, allow_pickle=False) as z:
        assert z["states"].shape == (3, 5, 64) and z["steps"].tolist() == [0, 3, 7]
        meta = json.loads(str(z["meta"]))
        expect = dict(run_chain(model, SPEC, cfg, 7, keep={3}))[3]
        assert np.array_equal(z["states"][1], expect)
    assert meta["chain"]["seed"] == 2 and meta["model_name"] == "toy"
    assert (
        main(
            [
                "export",
                str(MODELS / "1d-sigmoid.safetensors"),
                "--format",
                "npz",
                "--steps",
                "0:30:10",
                "-n",
                "8",
                "-o",
                str(tmp_path / "pts"),
            ]
        )
        == 0
    )
    with np.load(tmp_path / "pts.npz", allow_pickle=False) as z:
        assert z["states"].shape == (4, 8, 1)


def test_gif_keeps_grey_exact_and_the_overlay_coloured(tmp_path, model):
    cfg = ChainConfig(n=16, seed=1, sampler=Sampler(noise="normal", eps=0.05))
    steps = list(range(0, 30, 3))
    opts = ExportOptions(fmt="gif", fps=7, scale=4, overlay=True, gif_hold=0)  # every frame exact
    frames = read_frames(export_chain(model, SPEC, cfg, steps, tmp_path / "o.gif", opts))
    expect = expected_frames(model, cfg, steps, opts)
    assert len(frames) == len(steps)
    for got, want in zip(frames, expect):
        err = np.abs(got.astype(int) - want.astype(int))
        grey = (want[..., 0] == want[..., 1]) & (want[..., 1] == want[..., 2])
        assert err[grey].max() <= 1  # every grey pixel within half a level, in every frame
        assert err[~grey].mean() < 20 and (~grey).sum() > 50  # the amber label, on 8 shades
    from PIL import Image

    with Image.open(tmp_path / "o.gif") as im:  # 7 fps: delays of 14 and 15 hundredths that add up
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
    assert set(durations) <= {140, 150} and abs(sum(durations) - 1000 * len(steps) / 7) <= 10


def test_colour_models_export_in_colour(tmp_path):
    spec = ModelSpec(D=3 * 6 * 6, L=2, H=32, bound="sigmoid", shape=(3, 6, 6))
    m = build_model(spec, seed=2).eval()
    cfg = ChainConfig(n=4, seed=0, sampler=Sampler(noise="uniform", eps=0.2))
    for fmt in ("gif", "mp4", "apng"):
        p = export_chain(m, spec, cfg, [0, 1, 2], tmp_path / f"c_{fmt}", ExportOptions(fmt=fmt, scale=5, overlay=False))
        got = read_frames(p)
        want = dict(run_chain(m, spec, cfg, 2, keep={0, 2}))
        want0 = compose_frame(want[0], spec.shape, spec.value_range, 0, ExportOptions(scale=5, overlay=False))
        h, w = want0.shape[:2]
        pad = 1 if fmt == "mp4" else 0  # yuv420p needs even sizes: one black row and column added
        assert len(got) == 3 and got[0].shape[:2] == (h + pad, w + pad)
        # GIF: one octree palette; MP4: 4:2:0 chroma blurs random colours across 5-pixel tiles
        assert np.abs(got[0][:h, :w].astype(int) - want0.astype(int)).mean() < {"gif": 8, "mp4": 16, "apng": 0.5}[fmt]
        assert np.abs(np.diff(got[0].astype(int), axis=2)).max() > 10  # really colour, not grey


def test_zoom_is_nearest_neighbour_into_any_buffer():
    from kgn_gui.core.picture.render import zoom

    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(zoom(a, 3), np.repeat(np.repeat(a, 3, 0), 3, 1))
    rgb = np.random.default_rng(0).integers(0, 255, (2, 3, 3), dtype=np.uint8)
    assert np.array_equal(zoom(rgb, 2), np.repeat(np.repeat(rgb, 2, 0), 2, 1))
    big = np.zeros((10, 13), np.uint8)
    zoom(a, 3, out=big[:9, :12])  # a strided view is filled, not a copy of it
    assert np.array_equal(big[:9, :12], zoom(a, 3)) and big[9:].sum() == 0


def test_long_gifs_are_encoded_in_worker_processes_with_the_same_bytes(tmp_path, model, monkeypatch):
    import kgn_gui.core.export.gif as E
    from kgn_gui.core.export.gif_worker import WorkerProcesses

    cfg = ChainConfig(n=9, seed=3, sampler=Sampler(noise="normal", eps=0.05))
    opts = ExportOptions(fmt="gif", scale=3, overlay=True)
    here = export_chain(model, SPEC, cfg, list(range(12)), tmp_path / "here.gif", opts)
    used = []
    monkeypatch.setattr(E, "PROCESS_MIN_PIXELS", 0)
    monkeypatch.setattr(E, "_gif_encoder", lambda n: used.append(n) or WorkerProcesses(2))
    there = export_chain(model, SPEC, cfg, list(range(12)), tmp_path / "there.gif", opts)
    assert used and here.read_bytes() == there.read_bytes()


def test_a_gif_worker_that_dies_is_a_clear_error_and_leaves_nothing(tmp_path, model, monkeypatch):
    import kgn_gui.core.export.gif as E
    from kgn_gui.core.export.gif_worker import WorkerProcesses

    def dying(_n):
        w = WorkerProcesses(1)
        w._procs[0].kill()
        return w

    monkeypatch.setattr(E, "_gif_encoder", dying)
    with pytest.raises(ExportError, match="GIF encoding failed"):
        export_chain(model, SPEC, ChainConfig(n=4), list(range(5)), tmp_path / "x.gif", ExportOptions(fmt="gif"))
    assert list(tmp_path.iterdir()) == []
