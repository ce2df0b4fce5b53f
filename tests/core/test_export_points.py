"""kgn export on a points model (D = 1, 2): the Points view drawn by core.picture.render.PointsPicture, as an animation."""

import numpy as np
import pytest

from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.session import ChainSession
from kgn_gui.core.errors import ExportError
from kgn_gui.core.export.animation import export_session, read_frames
from kgn_gui.core.export.mosaic import band_height
from kgn_gui.core.export.options import ExportOptions
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.picture.points import output_of
from kgn_gui.core.picture.render import CHAIN_RGB, COBWEB_RGB, CURVE_RGB, POINTS_BG, TRAINING_RGB
from tests.conftest import MODELS


def _session(name, start, noise="none", eps=0.0):
    ck = load_checkpoint(MODELS / f"{name}.safetensors")
    start = np.asarray(start, np.float32)
    cfg = ChainConfig(n=len(start), start="array", sampler=Sampler(noise=noise, eps=eps))
    return ck, cfg, ChainSession(ck.model, ck.spec.shape, ck.value_range, cfg, start_array=start)


def _pixel(xy, box, lo=0.0, hi=1.0):
    """The documented map: the view [lo − 2 %, hi + 2 %] onto the pixel centres of the box, y upwards."""
    v0, v1 = lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo)
    left, top, right, bottom = box
    return (
        int(round(top + (bottom - top) - (xy[1] - v0) / (v1 - v0) * (bottom - top))),
        int(round(left + (xy[0] - v0) / (v1 - v0) * (right - left))),
    )


START_2D = [[0.5, 0.5], [0.3, 0.62], [0.7, 0.4]]


def test_a_2d_export_is_a_gif_of_the_points_view_with_the_band_on_top(tmp_path):
    ck, cfg, s = _session("2d-corners", START_2D)
    path = export_session(s, [0, 1, 2, 3, 4], tmp_path / "p", ExportOptions(fmt="gif", scale=1, size=(200, 160)))
    frames = read_frames(path)
    band = band_height(160, 200)
    assert path.name == "p.gif" and len(frames) == 5 and frames[0].shape == (band + 160, 200, 3)
    # The band: black, the amber label at its left; the picture starts below it on the view's background.
    assert (frames[0][:band, 120:] == 0).all() and (frames[0][:band, :60] != 0).any()
    assert np.abs(frames[0][band + 2, 2].astype(int) - POINTS_BG).max() <= 4
    # 2-D: a square plot box of side min(200, 160) − 1 − 2·8 = 143, centred: (28, 8, 171, 151).
    box = (28, 8, 171, 151)
    states = dict(run_chain(ck.model, ck.spec, cfg, 4, start_array=np.asarray(START_2D, np.float32), keep={0, 4}))
    for t, frame in ((0, frames[0]), (4, frames[4])):
        for xy in states[t]:
            r, c = _pixel(xy, box)
            assert np.abs(frame[band + r, c].astype(int) - CHAIN_RGB).max() <= 6, (t, xy)
    # The training points the model's data names (none given here: none drawn) — and given, they are.
    assert not (np.abs(frames[0].astype(int) - TRAINING_RGB).max(axis=2) <= 6).any()


def test_the_2d_picture_is_exact_in_apng_with_trails_and_training_points(tmp_path):
    ck, cfg, s = _session("2d-corners", START_2D)
    pts = np.array([[0.1, 0.1], [0.9, 0.9]], np.float32)
    opts = ExportOptions(fmt="apng", scale=2, size=(120, 120), overlay=False)
    frames = read_frames(export_session(s, [0, 3], tmp_path / "p", opts, points=pts))
    assert frames[0].shape == (240, 240, 3)  # drawn at 2×: no band without the label
    box = (16, 16, 223, 223)  # 2 × 8 pixels of margin, square
    for p in pts:
        r, c = _pixel(p, box)
        assert tuple(frames[0][r, c]) == TRAINING_RGB
    x = dict(run_chain(ck.model, ck.spec, cfg, 3, start_array=np.asarray(START_2D, np.float32)))
    for xy in x[3]:
        r, c = _pixel(xy, box)
        assert tuple(frames[1][r, c]) == CHAIN_RGB
    # Step 3's trail: the dots of its 3 steps before, fading: step 0 (k = 3 steps back) in the chains' orange at
    # opacity 0.7·(1 − 3/9) over the background (chain 0 moved ≥ 0.09 a step: no later dot covers it).
    r, c = _pixel(x[0][0], box)
    want = [round(b + (o - b) * 0.7 * (1 - 3 / 9)) for o, b in zip(CHAIN_RGB, POINTS_BG)]
    assert frames[1][r, c].tolist() == want


def test_a_1d_export_draws_the_curve_where_f_maps_and_the_chains_on_the_axis(tmp_path):
    start = [[0.05], [0.5], [0.95]]
    ck, cfg, s = _session("1d-sigmoid", start)
    opts = ExportOptions(fmt="apng", scale=1, size=(300, 200), chain=1)
    frames = read_frames(export_session(s, [0, 3], tmp_path / "c", opts))
    band = band_height(200, 300)
    f0 = frames[0][band:]
    assert f0.shape == (200, 300, 3)
    box = (8, 8, 291, 191)  # 1-D: the picture less 8 pixels a side
    xs = np.array([0.35, 0.45, 0.6], np.float32)
    for x, fx in zip(xs, output_of(ck.model, xs)):
        r, c = _pixel((x, fx), box)
        assert abs(fx - x) > 0.03  # away from the identity line
        assert tuple(f0[r, c]) == CURVE_RGB, (x, fx)
    for (x,) in start:  # the chains as dots on the x axis, at y = lo
        assert tuple(f0[_pixel((x, 0.0), box)]) == CHAIN_RGB
    # Step 3: the cobweb of chain 1 (no noise: x₁ = f(x₀)): a vertical from (x₀, x₀) to (x₀, f(x₀)).
    x0 = s.state(0)[1, 0]
    fx0 = float(output_of(ck.model, np.array([x0]))[0])
    assert abs(fx0 - x0) > 0.05
    r, c = _pixel((x0, (x0 + fx0) / 2), box)
    assert tuple(frames[1][band + r, c]) == COBWEB_RGB


def test_points_export_options_of_the_wrong_kind_are_one_line_errors(tmp_path):
    _, _, s2 = _session("2d-corners", START_2D)
    with pytest.raises(ExportError, match="a 2-D points export draws every chain"):
        export_session(s2, [0, 1], tmp_path / "a.gif", ExportOptions(chain=0))
    _, _, s1 = _session("1d-sigmoid", [[0.5]])
    with pytest.raises(ExportError, match=r"there is no chain 4 \(0 … 0\)"):
        export_session(s1, [0, 1], tmp_path / "a.gif", ExportOptions(chain=4))
    with pytest.raises(ExportError, match="larger than 8192 pixels"):
        export_session(s1, [0, 1], tmp_path / "a.gif", ExportOptions(scale=32, size=(300, 300)))
    ck = load_checkpoint(MODELS / "mnist.safetensors")
    img = ChainSession(ck.model, ck.spec.shape, ck.value_range, ChainConfig(n=2))
    with pytest.raises(ExportError, match="a picture size is for points models"):
        export_session(img, [0], tmp_path / "a.gif", ExportOptions(size=(100, 100)))
    assert list(tmp_path.iterdir()) == []


def test_steps_past_the_head_are_computed_on_with_their_history(tmp_path):
    """Frames of steps the session has not reached equal those of a session that reached them."""
    _, _, ahead = _session("1d-sigmoid", [[0.1], [0.7]], noise="normal", eps=0.02)
    _, _, behind = _session("1d-sigmoid", [[0.1], [0.7]], noise="normal", eps=0.02)
    ahead.advance(12)
    opts = ExportOptions(fmt="apng", scale=1, size=(100, 80))
    a = read_frames(export_session(ahead, [0, 5, 12], tmp_path / "a", opts))
    b = read_frames(export_session(behind, [0, 5, 12], tmp_path / "b", opts))
    assert behind.t_max == 0 and all(np.array_equal(x, y) for x, y in zip(a, b))
