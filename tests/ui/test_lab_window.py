"""Issue 20 in the window: the Condition tab, ε schedule and damping beside ε, live edits (kick, erase, a brush
stroke on a tile) marked on the timeline and replayed exactly by scrubbing, branches with their divergence, the
projection view, and the sampler presets — each the same core call kgn makes."""

import numpy as np
import pytest
from PySide6 import QtCore

from kgn_gui.core.chain.chain import ChainConfig, run_chain
from kgn_gui.core.chain.lab import Edit, Lab
from kgn_gui.core.chain.sampler import Sampler


@pytest.fixture
def window(make_window):
    return make_window()


def _settle(qtbot, window, t):
    qtbot.waitUntil(lambda: window.transport.step_label.text().startswith(f"step {t} /"), timeout=5000)


def test_the_condition_tab_conditions_new_chains(window, qtbot):
    sp = window.start_panel
    sp.tabs.setCurrentIndex(3)
    assert sp.tabs.tabText(3) == "Condition"
    sp.cond_index.setValue(3)
    sp.cond_region.setCurrentIndex(0)  # top
    sp.n.setValue(8)
    sp._request_condition(restart=True)
    s = window.session
    assert s.n == 8 and s.lab.condition is not None and s.lab.condition.region == "top"
    window.chain.step_by(5)
    c = s.lab.condition
    for t in range(6):
        x = s.state(t)
        assert np.array_equal(x[:, c.mask], np.broadcast_to(c.known[c.mask], (8, int(c.mask.sum()))))
    window.start_panel.conditionRequested.emit(None, False)  # Stop conditioning
    assert window.session.lab.condition is None


def test_schedule_and_damping_beside_eps_follow_into_the_chain_and_the_timeline(window, qtbot):
    tr = window.transport
    tr.schedule.setText("cosine:0.2:0.01")
    tr._schedule_edited()
    assert tr.schedule.text() == "cosine:0.2:0.01:1000"  # T filled in, canonical
    tr.damping.setValue(0.6)
    tr._noise_edited()
    sampler = window.session.config.sampler
    assert (sampler.schedule.text(), sampler.damping) == ("cosine:0.2:0.01:1000", 0.6)
    assert tr.slider.schedule is not None and tr.slider.schedule.eps(0) == pytest.approx(0.2)
    tr.schedule.setText("wobble:1:2")
    tr._schedule_edited()
    assert window._errors and "wobble" in window._errors[-1]
    assert window.session.config.sampler == sampler  # a bad text changes nothing


def test_edits_are_marked_replayed_by_scrubbing_and_match_core(window, qtbot):
    window.start_panel.n.setValue(6)
    window.start_panel.request_random()
    ch, s = window.chain, window.session
    ch.step_by(4)
    window.grid.select(2)
    lp = window.lab_panel
    lp.tool.setCurrentText("kick")
    lp.sigma.setValue(0.7)
    assert window.lab.apply("kick", False)
    ch.step_by(3)
    lp.tool.setCurrentText("erase")
    assert window.lab.apply("erase", True)
    ch.step_by(3)
    # a brush stroke on chain 1's tile, at step 10
    lp.tool.setCurrentText("brush")
    assert window.lab.stroke(1, [(10, 10), (11, 10), (12, 11)])
    ch.step_by(5)
    assert window.transport.slider.marks == [4, 7, 10]
    assert "3 edits" in lp.edits_label.text()
    states = {t: s.state(t).copy() for t in range(16)}
    # scrub back across the edits: the same states, bit for bit
    for t in (3, 4, 8, 10, 15, 0, 12):
        ch.seek(t)
        assert np.array_equal(s.state(t), states[t])
    # the same edits in kgn's core call give the same states
    edits = s.lab.all_edits()
    cfg = s.config
    got = dict(run_chain(window.checkpoint.model, window.checkpoint.spec, cfg, 15, lab=Lab(None, edits)))
    assert all(np.array_equal(got[t], states[t]) for t in range(16))
    assert np.all(states[7] == -1.0)  # erased at 7, before the step that leaves it
    # the inspector marks the edits of the inspected chain and says when it settled
    window.views_ctl.inspect(2)
    assert len(window.inspector._edit_lines) == 2 and "edited at step 7" in window.inspector.caption.text()


def test_a_stroke_on_the_grid_brushes_the_tile(window, qtbot):
    window.start_panel.n.setValue(4)
    window.start_panel.request_random()
    qtbot.waitUntil(lambda: window.grid.current_image() is not None, timeout=5000)
    window.lab_panel.brushing.setChecked(True)
    window.lab_panel.tool.setCurrentText("brush")
    g = window.grid
    r = g.tile_rect(0)
    a = g.mosaic_to_widget(r.x() + 5, r.y() + 5).toPoint()
    b = g.mosaic_to_widget(r.x() + 20, r.y() + 5).toPoint()
    qtbot.mousePress(g, QtCore.Qt.MouseButton.LeftButton, pos=a)
    for k in range(1, 11):
        qtbot.mouseMove(g, pos=a + (b - a) * (k / 10))
    qtbot.mouseRelease(g, QtCore.Qt.MouseButton.LeftButton, pos=b)
    (edit,) = window.session.lab.all_edits()
    assert edit.kind == "brush" and edit.rows == (0,) and len(edit.pixels) > 20
    x = window.session.state(0).reshape(4, 28, 28)
    assert np.all(x[0, 5, 6:19] == 1.0)


def test_branches_open_side_by_side_with_their_divergence(window, qtbot):
    window.start_panel.n.setValue(4)
    window.start_panel.request_random()
    window.chain.step_by(10)
    window.grid.select(1)
    window.lab_panel.K.setValue(4)
    window.lab_panel.branch_steps.setValue(12)
    window.lab_panel.branchRequested.emit(4, 12)
    win = window.branch_window
    qtbot.waitUntil(lambda: win.session.t_max >= 12 and win.slider.maximum() >= 12, timeout=30_000)
    assert win.session.n == 4 and win.div[0] == 0.0 and win.div[-1] > 0
    assert np.array_equal(win.session.state(0)[0], window.session.state(10)[1])
    win.close()


def test_the_projection_view_draws_the_training_set_and_the_chains_paths(window, qtbot):
    window.views.setCurrentWidget(window.projection_view)
    pv = window.projection_view
    qtbot.waitUntil(lambda: pv.projection is not None, timeout=60_000)
    assert len(pv.classes) == 10 and sum(len(c.data) for c in pv.classes) == 6000
    window.chain.step_by(5)
    qtbot.waitUntil(lambda: getattr(pv, "_t", -1) == 5 and len(pv.heads.data) == 64, timeout=5000)
    x = window.session.state(5)[:64]
    want = pv.projection.project(x)
    assert np.allclose(np.c_[pv.heads.data["x"], pv.heads.data["y"]], want, atol=1e-5)


def test_presets_set_the_sampler(window):
    window.lab_panel.presetPicked.emit("diverse")
    assert window.session.config.sampler == Sampler.DIVERSE and window.transport.sampler() == Sampler.DIVERSE
    assert window.lab_panel.preset.currentText() == "diverse"
    window.on_sampler_changed(Sampler(eps=0.02, damping=0.1))
    assert window.lab_panel.preset.currentText() == "custom"  # no longer a preset: the box says so
    window.lab_panel.presetPicked.emit("paper")
    assert window.session.config.sampler == Sampler.PAPER and window.lab_panel.preset.currentText() == "paper"
    assert isinstance(ChainConfig(), ChainConfig) and Edit  # (imports used)


def test_a_condition_for_another_image_size_is_dropped_when_the_model_changes(window):
    window.start_panel.n.setValue(4)
    window.start_panel._request_condition(restart=True)
    assert window.session.lab.condition is not None
    from tests.conftest import MODELS

    assert window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    assert window.session is not None and window.session.D == 2 and window.session.lab.condition is None
    assert window.lab.condition is None and not window._errors


def _stroke(qtbot, g, tile):
    r = g.tile_rect(tile)
    a = g.mosaic_to_widget(r.x() + 5, r.y() + 5).toPoint()
    b = g.mosaic_to_widget(r.x() + 20, r.y() + 5).toPoint()
    qtbot.mousePress(g, QtCore.Qt.MouseButton.LeftButton, pos=a)
    for k in range(1, 11):
        qtbot.mouseMove(g, pos=a + (b - a) * (k / 10))
    qtbot.mouseRelease(g, QtCore.Qt.MouseButton.LeftButton, pos=b)


def test_the_inspector_follows_the_selection_a_brush_stroke_moves(window, qtbot):
    """Issue 30: brushing chain 3 selects it; the inspector showed chain 0's picture, text and curves still."""
    window.start_panel.n.setValue(8)
    window.start_panel.request_random()
    qtbot.waitUntil(lambda: window.grid.current_image() is not None, timeout=5000)
    g = window.grid
    c = g.tile_rect(0).center()
    qtbot.mouseClick(g, QtCore.Qt.MouseButton.LeftButton, pos=g.mosaic_to_widget(c.x(), c.y()).toPoint())
    assert window.views_ctl.inspected == 0 and window.inspector.caption.text().startswith("chain 0 at step 0")
    window.lab_panel.brushing.setChecked(True)
    window.lab_panel.tool.setCurrentText("brush")
    _stroke(qtbot, g, 3)
    assert g.selected == 3 and window.views_ctl.inspected == 3 and window.inspector.index == 3
    assert window.inspector.caption.text().startswith("chain 3 at step 0")
    from kgn_gui.core.picture.render import to_uint8

    want = to_uint8(window.session.state(0)[3].reshape(1, 28, 28), window.checkpoint.value_range)[0]
    # the brushed chain's picture, with its stroke once the edited step is shown
    qtbot.waitUntil(lambda: np.array_equal(window.inspector.chain_view.img.image, want), timeout=5000)
    window.chain.step_by(250)
    window.on_step_shown(250)
    assert window.inspector.caption.text().startswith("chain 3 at step 250")
    y = window.session.curves.chain("step", 3)
    assert len(window.inspector.lines["step"].getData()[0]) == int((np.isfinite(y) & (y > 0)).sum())


def test_apply_says_which_chains_and_a_brush_never_fills_a_whole_state(window, qtbot, errors):
    """Issue 30: "Apply to the whole state" said nothing of the chains it changes, and the brush tool with
    all chains filled every pixel of all 64 chains with ink; a brush paints the stroke."""
    window.start_panel.n.setValue(64)
    window.start_panel.request_random()
    qtbot.waitUntil(lambda: window.grid.current_image() is not None, timeout=5000)
    lp = window.lab_panel
    lp.tool.setCurrentText("erase")
    assert lp.apply.text() == "Erase the selected chain (every pixel)" and lp.apply.isEnabled()
    lp.scope.setCurrentIndex(1)
    assert lp.apply.text() == "Erase all chains (every pixel)"
    lp.tool.setCurrentText("brush")
    assert not lp.apply.isEnabled()
    assert not window.lab.apply("brush", True) and window.session.lab.all_edits() == []
    assert errors == [("Edit", "a brush paints strokes: tick 'Brush on the grid' and drag on a tile")]
    lp.brushing.setChecked(True)
    _stroke(qtbot, window.grid, 3)
    (edit,) = window.session.lab.all_edits()
    x = window.session.state(0)
    assert edit.rows == tuple(range(64)) and 20 < len(edit.pixels) < 100
    assert ((x == 1.0).sum(axis=1) >= len(edit.pixels)).all() and ((x == 1.0).sum(axis=1) < 200).all()
