"""The Points workspace: the paper's 1-D and 2-D experiments in the window."""

import numpy as np
import pytest
from PySide6 import QtCore

from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.picture.points import flat_regions, output_manifold
from tests.conftest import MODELS


@pytest.fixture
def window(make_window):
    return make_window(size=(1300, 950))


def test_a_1d_model_opens_the_points_tab_with_its_manifolds(window):
    assert window.model_actions.load_model(MODELS / "1d-sigmoid.safetensors")
    pv = window.points_view
    assert window.views.currentWidget() is window.points_tab and pv.dim == 1
    assert pv.preset_box.currentText() == "1d-sigmoid"
    x, fx = pv.manifold.getData()
    # The curves are the model's own f(x) and (f(x) − x)² over [0, 1] (core.points, tested on their own).
    want_x, want_fx = output_manifold(window.checkpoint.model, (0.0, 1.0))
    assert np.array_equal(x, want_x) and np.allclose(fx, want_fx, rtol=0, atol=1e-7)
    flats = flat_regions(want_x, want_fx)
    assert any(a <= 0.2 <= b for a, b in flats), "a flat (many-to-one) region around 0.2"
    shaded = [item.getRegion() for item in pv.flat_items]
    assert len(shaded) == len(flats) and np.allclose(shaded, flats)  # each one shaded
    _, log_loss = pv.loss_curve.getData()  # drawn on a log axis: the data read back are log₁₀ of the loss
    loss = 10.0**log_loss
    assert np.allclose(loss, np.maximum((want_fx - want_x) ** 2, 1e-16), rtol=1e-4, atol=0)
    assert loss[np.argmin(np.abs(x - 0.2))] < 1e-6
    assert np.allclose(np.sort(pv.points[:, 0]), [0.2, 0.8])


def test_1d_chains_move_along_the_axis_and_land_on_the_points(window):
    window.model_actions.load_model(MODELS / "1d-sigmoid.safetensors")
    window.transport.set_sampler(Sampler("none", 0.0))
    window.on_sampler_changed(Sampler("none", 0.0))
    sp = window.start_panel
    sp.kind.setCurrentText("normal")
    sp.n.setValue(200)
    sp.request_random()
    window.chain.step_by(30)
    window.chain.redraw()
    window.on_step_shown(30)
    pv = window.points_view
    xs, ys = pv.chain_scatter.getData()
    assert len(xs) == 200 and np.allclose(ys, 0.0)
    d = np.minimum(np.abs(xs - 0.2), np.abs(xs - 0.8))
    assert (d < 0.01).mean() >= 0.95
    counts = pv.hist_curve.getData()[1]
    assert counts.tolist() == np.histogram(xs, bins=60, range=(0.0, 1.0))[0].tolist() and counts.sum() == 200
    # The selected chain's cobweb over its 30 steps: (x_0, x_0) → (x_0, f(x_0)) → (x_1, x_1) → …; with no
    # noise, f(x_t) is x_{t+1}.
    cx, cy = pv.cobweb_curve.getData()
    path = np.array([window.session.state(t)[pv.selected_chain, 0] for t in range(31)])
    assert len(cx) == 61 and np.allclose(cx[0::2], path) and np.allclose(cy[0::2], path)
    assert np.allclose(cy[1::2], path[1:], rtol=0, atol=1e-6) and np.allclose(cx[1::2], path[:-1])


def test_a_2d_model_shows_field_basins_and_chains_with_trails(window, qtbot):
    window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    pv = window.points_view
    assert pv.dim == 2 and pv.preset_box.currentText() == "2d-corners"
    ax, ay = pv.arrows.getData()
    # One segment from each of the 21×21 grid points P to f(P).
    from kgn_gui.core.picture.points import vector_field

    P, V = vector_field(window.checkpoint.model, (0.0, 1.0), n=21)
    assert len(ax) == 2 * 21 * 21 and np.allclose(ax[0::2], P[:, 0]) and np.allclose(ay[1::2], (P + V)[:, 1])
    assert pv._basins.shape == (101, 101) and pv._landscape.shape == (101, 101)
    for i in range(4):
        assert (pv._basins == i).any()
    pv.background.setCurrentText("basins")
    assert pv.bg.image.shape == (101, 101, 3)
    pv.background.setCurrentText("loss landscape")
    assert pv.bg.image.shape == (101, 101)
    window.chain.step_by(5)
    window.on_step_shown(5)
    # The trails: the states of the 5 steps before the one shown, oldest first, fading with age.
    from kgn_gui.ui.widgets.points_view import trail_alpha

    layers = pv.trails.layers
    assert [a for _, a in layers] == [trail_alpha(k) for k in (5, 4, 3, 2, 1)]
    assert all(np.array_equal(pts, window.session.state(5 - k)) for (pts, _), k in zip(layers, (5, 4, 3, 2, 1)))
    img = pv.trails.image  # drawn: the newest step's dots at its opacity, where the chains were one step back
    px = img.shape[0]
    ij = np.rint(window.session.state(4) * (px - 1)).astype(int)
    assert (img[ij[:, 1], ij[:, 0], 3] == trail_alpha(1)).all() and (img[..., 3] == 0).mean() > 0.5


def test_points_can_be_added_moved_and_removed_by_mouse(window, qtbot):
    pv = window.points_view
    window.views.setCurrentWidget(window.points_tab)
    pv.preset_box.setCurrentText("custom 2-D")
    qtbot.wait(50)
    assert pv.points.shape == (1, 2)
    vb = pv.vb

    def to_widget(x, y):
        scene = vb.mapViewToScene(QtCore.QPointF(x, y))
        return pv.layout_widget.mapFromScene(scene)

    qtbot.mouseClick(pv.layout_widget.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=to_widget(0.25, 0.75))
    assert pv.points.shape == (2, 2) and np.allclose(pv.points[1], [0.25, 0.75], atol=0.02)
    pv.move_point(1, 0.3, 0.7)
    assert np.allclose(pv.points[1], [0.3, 0.7])
    qtbot.mouseClick(pv.layout_widget.viewport(), QtCore.Qt.MouseButton.RightButton, pos=to_widget(0.3, 0.7))
    assert pv.points.shape == (1, 2)


@pytest.mark.slow
def test_training_on_the_points_tab_switches_the_chain_to_the_result(window, qtbot):
    pv = window.points_view
    pv.preset_box.setCurrentText("custom 1-D")
    pv.add_point(0.2, 0.2)
    pv.add_point(0.9, 0.9)
    with qtbot.waitSignal(window.modelChanged, timeout=120_000):
        pv.train_button.click()
    ck = window.checkpoint
    assert ck.spec.D == 1 and ck.spec.bound == "sigmoid" and window.views.currentWidget() is window.points_tab
    # Trained from the placed points as a source kgn takes too; the Training dock's form is left alone.
    assert window.training.run.dataset.name == "points" and np.allclose(window.training.run.dataset.x, pv.points)
    assert window.training_panel.source_key() == "mnist:train"
    assert pv.points.shape == (3, 1)


@pytest.mark.slow
def test_depth_comparison_runs_two_models_on_one_locked_timeline(window, qtbot):
    pv = window.points_view
    pv.preset_box.setCurrentText("1d-sigmoid")
    pv.depth_a.setValue(1)
    pv.depth_b.setValue(6)
    pv.compare_button.click()
    qtbot.waitUntil(lambda: window.compare_session is not None and window.compare_view.isVisible(), timeout=180_000)
    assert window.checkpoint.spec.L == 1 and window.compare_session.model is not window.checkpoint.model
    assert "L = 6" in window.compare_view.title.text() and window.points_view.title.text() == "L = 1 (left)"
    # Same start and seed: identical x_0; different depth: different x_t.
    assert np.array_equal(window.session.state(0), window.compare_session.state(0))
    window.chain.step_by(10)
    window.on_step_shown(10)
    assert window.compare_session.t_max >= 10
    assert not np.array_equal(window.session.state(10), window.compare_session.state(10))
    xs, _ = window.compare_view.chain_scatter.getData()
    assert np.allclose(xs, window.compare_session.state(10)[:, 0])
    # A new start restarts both sides from the same noise.
    window.start_panel.seed.setValue(5)
    window.start_panel.request_random()
    assert np.array_equal(window.session.state(0), window.compare_session.state(0))
    window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    assert window.compare_session is None and not window.compare_view.isVisible()


def test_a_points_model_with_unknown_training_points_still_opens(window, tmp_path, errors):
    from kgn_gui.core.model.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(MODELS / "2d-corners.safetensors")
    p = save_checkpoint(tmp_path / "elsewhere.safetensors", ck.model, ck.spec, dataset="points")
    window.points_view.preset_box.setCurrentText("1d-sigmoid")  # 1-D points left in the editor
    assert window.model_actions.load_model(p)
    pv = window.points_view
    assert pv.dim == 2 and pv.points.shape == (0, 2) and "unknown" in pv.info.text()
    window.chain.step_by(2)
    window.on_step_shown(2)
    assert not errors


def test_an_unchanged_noise_setting_keeps_the_history(window):
    window.chain.step_by(10)
    window.chain.seek(3)
    window.on_sampler_changed(window.session.config.sampler)
    assert window.session.t_max == 10


def test_the_points_view_exports_as_an_animation_of_what_it_shows(window, qtbot, tmp_path):
    from kgn_gui.core.export.animation import read_frames
    from kgn_gui.core.export.mosaic import band_height
    from kgn_gui.core.export.options import ExportOptions

    window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    window.chain.step_by(3)
    steps = [0, 2, 4, 6, 8]  # past the last step reached too
    job = window.export_actions.start_export(
        steps, ExportOptions(fmt="apng", fps=5, scale=1), str(tmp_path / "pts"), target="points"
    )
    with qtbot.waitSignal(job.done, timeout=60_000) as blocker:
        pass
    frames = read_frames(blocker.args[0])
    size = window.points_split.size()
    band = band_height(size.height(), size.width())  # the step label's band above the view's picture
    assert len(frames) == 5 and frames[0].shape == (band + size.height(), size.width(), 3)
    # Drawn from the states (core.picture.render.PointsPicture), as kgn export draws them: steps past the head are
    # computed on without moving the window's chain.
    assert window.chain.view_t == 3 and window.session.t_max == 3
    # Chains move between frames (the dots and trails are drawn), and every frame is a real picture.
    assert all(f[band:].std() > 5 for f in frames)
    assert np.abs(frames[0].astype(int) - frames[4].astype(int)).sum() > 0
    # The step label is in the band, above the picture: it differs between steps 0 and 8.
    assert not np.array_equal(frames[0][:band], frames[4][:band])


def test_the_whole_window_exports_at_a_rendering_scale(window, qtbot, tmp_path):
    from kgn_gui.core.export.animation import read_frames
    from kgn_gui.core.export.options import ExportOptions

    window.resize(700, 500)
    job = window.export_actions.start_export(
        [0, 1], ExportOptions(fmt="gif", fps=5, scale=2, overlay=False), str(tmp_path / "win"), target="window"
    )
    with qtbot.waitSignal(job.done, timeout=60_000) as blocker:
        pass
    frames = read_frames(blocker.args[0])
    assert len(frames) == 2 and frames[0].shape == (2 * window.height(), 2 * window.width(), 3)
    assert frames[0].std() > 5


def test_a_cancelled_view_export_leaves_nothing_and_restores_the_step(window, qtbot, tmp_path):
    from kgn_gui.core.export.options import ExportOptions

    window.chain.step_by(2)
    job = window.export_actions.start_export(
        list(range(0, 200)), ExportOptions(fmt="mp4", scale=1), str(tmp_path / "c"), target="window"
    )
    qtbot.waitUntil(lambda: window.exports._drawer._next >= 2, timeout=30_000)
    job.cancel()
    with qtbot.waitSignal(job.failed, timeout=60_000) as blocker:
        pass
    assert "cancelled" in blocker.args[0]
    assert list(tmp_path.iterdir()) == [] and window.chain.view_t == 2


def test_the_inspector_says_where_a_points_models_chains_are_instead_of_showing_black(window):
    assert window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    ins = window.inspector
    assert not ins.images.isVisibleTo(ins) and ins.caption.text().startswith("A points model's chains")
    window.start_panel.request_random()  # new chains of the same model: still said
    assert ins.caption.text().startswith("A points model's chains")
    assert window.model_actions.load_model(MODELS / "mnist.safetensors")
    assert ins.images.isVisibleTo(ins) and ins.caption.text().startswith("Click a tile")


def test_compare_depths_follows_the_main_chains_sampler_schedule_damping_and_edits(window):
    """Issue 27: the second depth took only the noise kind and ε of a change (its schedule and damping were
    dropped) and none of the edits. With the same weights on both sides the two must agree bit for bit."""
    from kgn_gui.core.model.checkpoint import load_checkpoint

    assert window.model_actions.load_model(MODELS / "2d-corners.safetensors")
    ch, pts = window.chain, window.points
    ch.step_by(4)
    early = Sampler("uniform", 0.05, damping=0.5)  # set before the comparison exists: it must be replayed
    window.transport.set_sampler(early)
    window.on_sampler_changed(early)
    ch.step_by(2)
    pts.second = load_checkpoint(MODELS / "2d-corners.safetensors")  # a twin: other objects, the same weights
    pts._follow_session()
    other = window.compare_session
    assert other is not None and other.model is not window.session.model
    ch.step_by(3)
    later = Sampler.parse("noise=normal,eps=0.08,schedule=cosine:0.3:0.01:40,damping=0.7")
    window.transport.set_sampler(later)
    window.on_sampler_changed(later)
    window.lab_panel.sigma.setValue(0.2)
    assert window.lab.apply("kick", all_chains=True)
    ch.step_by(12)
    s = window.session
    assert other.config.sampler == s.config.sampler == later and len(other.lab.all_edits()) == 1
    for t in range(s.t_max + 1):
        assert np.array_equal(s.state(t), pts.state(t)), t  # (the views ask the controller: it catches up)


def _left_labels(plot) -> list:
    """The y labels a plot's left axis draws now: (text, top, bottom) in the axis's pixels."""
    from PySide6 import QtGui

    img = QtGui.QImage(8, 8, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(img)
    _, _, texts = plot.getAxis("left").generateDrawSpecs(painter)
    painter.end()
    return sorted((rect.top(), rect.bottom(), text) for rect, _flags, text in texts)


@pytest.mark.parametrize("height", [325, 592])  # the 1-D view's plots at 1366×768 and 1920×1080
def test_the_1d_plots_have_room_and_y_labels_that_never_overlap(qtbot, height):
    """Issue 30: the loss and position plots were capped at 75 and 95 px — 43 and 25 px of data on any
    screen, their y ticks over each other — and, with an image model loaded, the 1-D view was empty without a
    word (its note came only with a points model or a preset)."""
    from kgn_gui.core.model.checkpoint import load_checkpoint
    from kgn_gui.ui.widgets.points_view import PointsView

    pv = PointsView()
    qtbot.addWidget(pv)
    assert pv.info.text().startswith("No points model loaded")  # no points model yet: the view says so
    pv.resize(640, 400)
    pv.show()
    qtbot.waitExposed(pv)
    pv.resize(640, pv.height() + height - pv.layout_widget.height())
    qtbot.waitUntil(lambda: pv.layout_widget.height() == height)
    ck = load_checkpoint(MODELS / "1d-sigmoid.safetensors")
    pv.set_model(ck.model, None, ck.value_range, name="1d-sigmoid")
    pv.show_states(np.linspace(0, 1, 64, dtype=np.float32)[:, None], 0)
    plots = (pv.main, pv.loss_plot, pv.hist_plot)
    qtbot.waitUntil(lambda: all(len(_left_labels(p)) >= 2 for p in plots), timeout=5000)  # laid out
    for plot in plots:
        assert plot.vb.height() >= 45, (plot.titleLabel.text, plot.vb.height())
        labels = _left_labels(plot)
        assert all(a[1] < b[0] for a, b in zip(labels, labels[1:])), labels  # each label clear of the next
