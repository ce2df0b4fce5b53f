"""GIFs of grey data: each frame after the first draws only what changed (exact, frame by frame, with
gif_hold=0; with the default hold every pixel within 3½ grey levels of its value), and the step label lives
in a band above the grid, never on a tile."""

import numpy as np
import pytest

from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.export.animation import export_chain, read_frames
from kgn_gui.core.export.gif import _grey_palette, gif_piece, hold_greys, write_gif
from kgn_gui.core.export.mosaic import band_height, chain_frames, compose_frame
from kgn_gui.core.export.options import ExportOptions
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.core.picture.render import states_to_grid, zoom
from tests.conftest import MODELS

# 248 greys: level v is shown as the palette grey nearest it (at most half a level off), as before.
GREY_SHOWN = _grey_palette()[np.rint(np.arange(256) * (247 / 255)).astype(np.uint8), 0]


@pytest.fixture(scope="module")
def mnist():
    return load_checkpoint(MODELS / "mnist.safetensors")


def _gif_sizes(tmp_path, ck, cfg, steps, hold=0):
    opts = ExportOptions(fmt="gif", scale=4, grey=True, gif_hold=hold)
    frames = list(chain_frames(ck.model, ck.spec, cfg, steps, opts))
    whole = write_gif(iter(frames), tmp_path, opts, len(frames), whole_frames=True).rename(tmp_path / "whole.gif")
    diff = write_gif(iter(frames), tmp_path, opts, len(frames))
    return frames, whole, diff


def test_a_settled_noise_free_chain_gifs_at_least_three_times_smaller_and_decodes_exactly(tmp_path, mnist):
    # 16 chains of the bundled MNIST model, noise-free, steps 100 … 160: the tiles still move a little
    # (14 % of pixels change over the first 60 steps, fewer later) and the label changes every frame.
    cfg = ChainConfig(n=16, seed=0, sampler=Sampler(noise="none", eps=0.0))
    frames, whole, diff = _gif_sizes(tmp_path, mnist, cfg, list(range(100, 161)))
    assert whole.stat().st_size >= 3 * diff.stat().st_size  # measured: 1,281,929 → 274,445 bytes (4.7×)
    got, want = read_frames(diff), [f.rgb() for _, f in frames]
    assert len(got) == len(want) == 61
    band = frames[0][1].band_height
    for g, w in zip(got, want):
        assert g.shape == w.shape == (band + 468, 468, 3)
        # The tiles: exactly the rendered grey levels, each shown as its palette grey.
        assert np.array_equal(g[band:], GREY_SHOWN[w[band:]])
    assert all(np.array_equal(a, b) for a, b in zip(got, read_frames(whole)))  # same pixels as whole frames


def test_a_noisy_chain_gif_is_no_larger_than_whole_frames_when_exact(tmp_path, mnist):
    # With ε = 0.01 noise about half the pixels change by a level or two every step; exact frames are sent
    # as cropped rectangles without transparency (which made them 0.9× as compressible), never larger.
    cfg = ChainConfig(n=16, seed=0, sampler=Sampler(noise="normal", eps=0.01))
    frames, whole, diff = _gif_sizes(tmp_path, mnist, cfg, list(range(0, 30)))
    assert diff.stat().st_size <= whole.stat().st_size
    got = read_frames(diff)
    band = frames[0][1].band_height
    assert all(np.array_equal(g[band:], GREY_SHOWN[f.rgb()[band:]]) for g, (_, f) in zip(got, frames))


def test_the_grey_hold_makes_a_noisy_chain_gif_three_times_smaller_within_its_bound(tmp_path, mnist):
    # The case: 16 chains, ε = 0.01 normal noise, steps 0 … 100. Holding a pixel's grey while it
    # drifts ≤ 3 of 248 levels stops the noise's flicker from being sent again every frame; a redrawn pixel
    # takes the grey that holds longest ahead (1,102,713 bytes when it took its true grey: 3.4×).
    cfg = ChainConfig(n=16, seed=0, sampler=Sampler(noise="normal", eps=0.01))
    frames, whole, held = _gif_sizes(tmp_path, mnist, cfg, list(range(0, 101)), hold=3)
    assert whole.stat().st_size >= 4 * held.stat().st_size  # measured: 3,778,585 → 775,679 bytes (4.9×)
    band = frames[0][1].band_height
    for g, (_, f) in zip(read_frames(held), frames):
        err = np.abs(g[band:, :, 0].astype(int) - f.rgb()[band:, :, 0].astype(int))
        assert err.max() <= 4  # ≤ 3 levels held + ½ level rounding: 3.5 × 255/247 < 4 of 255


def test_hold_greys_keeps_a_pixel_until_it_moves_further_than_the_hold():
    shown = np.array([[10, 10, 10, 250]], np.uint8)
    new = np.array([[12, 13, 14, 247]], np.uint8)
    assert hold_greys([new], shown, 3).tolist() == [[10, 10, 14, 250]]
    assert hold_greys([new], shown, 0).tolist() == new.tolist()


def test_a_redrawn_grey_is_the_one_that_holds_longest_ahead():
    # Pixel a climbs 10, 11, 12, 13: with hold 1, 11 is within 1 of its first three (none is of all four).
    # Pixel b stays at 20: every grey of 19 … 21 holds, and 21, a multiple of 2·1 + 1, is taken.
    ahead = [np.array([[a, 20]], np.uint8) for a in (10, 11, 12, 13)]
    assert hold_greys(ahead, None, 1).tolist() == [[11, 21]]
    # The next frame: 11 and 20 are within 1 of what is shown, nothing is redrawn; 13 is not, and with 13
    # alone ahead it is redrawn with 12, the multiple of 3 within 1 of it.
    assert hold_greys(ahead[1:], np.array([[11, 21]], np.uint8), 1).tolist() == [[11, 21]]
    assert hold_greys(ahead[3:], np.array([[11, 21]], np.uint8), 1).tolist() == [[12, 21]]


def test_a_piece_is_the_changed_rectangle_in_whole_zoom_blocks():
    band = np.zeros((2, 12), np.uint8)
    small = np.zeros((3, 4), np.uint8)
    new_small = small.copy()
    new_small[1, 2] = 7  # one 1× pixel → a 3×3 block at rows 2 + 3…5, columns 6…8
    p = gif_piece(band, new_small, 3, (band, small), transparency=True)
    assert (p.left, p.top, p.size, p.transparent) == (6, 2 + 3, (3, 3), False)  # all of it changed
    assert p.small.tolist() == [[7]]
    new_band = band.copy()
    new_band[1, 4] = 9  # and one band pixel: from band row 1 down to grid row 1, columns of blocks 1…2
    p = gif_piece(new_band, new_small, 3, (band, small), transparency=True)
    assert (p.left, p.top, p.size) == (3, 1, (1 + 2 * 3, 6))
    assert p.transparent and p.band.tolist() == [[255, 9, 255, 255, 255, 255]]
    assert p.small.tolist() == [[255, 255], [255, 7]]
    p = gif_piece(band, small, 3, (band, small), transparency=True)  # nothing changed: one clear pixel
    assert p.size == (1, 1) and p.transparent and p.small.tolist() == [[255]]


def test_the_step_label_is_in_a_band_above_the_tiles_never_on_one(mnist):
    spec = mnist.spec
    cfg = ChainConfig(n=16, seed=0, sampler=Sampler(noise="normal", eps=0.01))
    x = dict(run_chain(mnist.model, spec, cfg, 3, keep={3}))[3]
    opts = ExportOptions(scale=4)
    frame = compose_frame(x, spec.shape, spec.value_range, 3, opts)
    tiles = zoom(states_to_grid(x, spec.shape, spec.value_range), 4)
    band = band_height(*tiles.shape)
    assert band == 28 and frame.shape == (band + 468, 468, 3)
    assert np.array_equal(frame[band:], np.repeat(tiles[..., None], 3, axis=2))  # the tiles, and only them
    amber = (frame[..., 0] > 100) & (frame[..., 2] < frame[..., 0] // 2)
    assert amber[:band].sum() > 20 and not amber[band:].any()  # the label's pixels are all in the band
    plain = compose_frame(x, spec.shape, spec.value_range, 3, ExportOptions(scale=4, overlay=False))
    assert np.array_equal(plain, frame[band:])  # no overlay: the tiles alone, no band


def test_an_exported_gif_has_the_band_and_exact_tiles(tmp_path, mnist):
    cfg = ChainConfig(n=4, seed=1, sampler=Sampler(noise="normal", eps=0.01))
    path = export_chain(mnist.model, mnist.spec, cfg, [0, 1, 2], tmp_path / "a.gif", ExportOptions(scale=2, gif_hold=0))
    got = read_frames(path)
    states = dict(run_chain(mnist.model, mnist.spec, cfg, 2))
    for t, g in enumerate(got):
        tiles = zoom(states_to_grid(states[t], mnist.spec.shape, mnist.value_range), 2)
        band = band_height(*tiles.shape)
        assert np.array_equal(g[band:, :, 0], GREY_SHOWN[tiles]) and (g[:band] != 0).any()
