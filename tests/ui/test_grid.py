"""The chain grid says its limits and can be looked into: pages of 256 chains, zoom about the cursor, pan,
hover readouts, clicks that still pick the right chain, a background from the palette; and the chain
controller says when it runs slower than the speed asked, and why."""

import re
import time

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from kgn_gui.core.picture.render import states_to_grid
from kgn_gui.ui.controllers.chain import ChainController, slow_rate_note
from kgn_gui.ui.widgets.chain_grid import ChainGrid

Qt = QtCore.Qt
SHAPE = (1, 28, 28)
FIT = 392 / 233  # a 400×400 grid: 8 tiles of 28 + 9 pads = 233 mosaic pixels in 400 − 2×4 margin
TILE_17_PIXEL_3_20 = QtCore.QPoint(60, 138)  # 4 + (30 + 3.5)·FIT, 4 + (59 + 20.5)·FIT


def known_states(n: int = 64) -> np.ndarray:
    """Chain i, pixel (x, y) holds (784 i + 28 y + x) / (784 n): every value says where it is."""
    return (np.arange(n * 784, dtype=np.float32) / (n * 784)).reshape(n, 784)


@pytest.fixture
def grid(qtbot):
    g = ChainGrid()
    qtbot.addWidget(g)
    g.resize(400, 400)
    g.show()
    qtbot.waitExposed(g)
    g.set_geometry(SHAPE, (0.0, 1.0))
    g.show_states(known_states(), step=3)
    return g


def mouse(widget, kind, pos, button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton):
    """Send one mouse event (press, move with buttons held, release) straight to the widget."""
    pos = QtCore.QPointF(pos)
    ev = QtGui.QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


def ctrl_wheel(widget, pos, notches: int = 1):
    pos = QtCore.QPointF(pos)
    ev = QtGui.QWheelEvent(
        pos,
        widget.mapToGlobal(pos),
        QtCore.QPoint(),
        QtCore.QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QtWidgets.QApplication.sendEvent(widget, ev)


# -- pages: more chains than the grid draws
def test_1024_chains_draw_256_a_page_and_page_2_starts_at_chain_256(make_window, qtbot):
    w = make_window(n_chains=1024)
    g = w.grid
    qtbot.waitUntil(lambda: g.current_image() is not None, timeout=5000)
    assert w.session.n == 1024 and g.chain_count == 1024 and g.pages == 4
    assert g.page_bar.isVisible()
    assert g.page_label.text() == "drawing 256 of 1,024 chains (page 1 of 4: chains 0–255)"
    assert not g.prev_button.isEnabled() and g.next_button.isEnabled()
    assert g.current_image().shape == (16 * 29 + 1, 16 * 29 + 1)  # 256 tiles, 16 a row

    g.next_button.click()
    assert g.page == 1 and g.first_chain == 256
    assert g.page_label.text() == "drawing 256 of 1,024 chains (page 2 of 4: chains 256–511)"
    x = w.session.state(w.chain.view_t)
    chain_256 = states_to_grid(x[256:257], SHAPE, w.checkpoint.value_range, cols=1)[1:29, 1:29]
    assert np.array_equal(g.current_image()[1:29, 1:29], chain_256)
    assert not np.array_equal(chain_256, states_to_grid(x[0:1], SHAPE, w.checkpoint.value_range, cols=1)[1:29, 1:29])

    # The first tile of page 2 is chain 256 to a click, and the inspector opens on it.
    r = g.tile_rect(0)
    qtbot.mouseClick(g, Qt.MouseButton.LeftButton, pos=g.mosaic_to_widget(r.center().x(), r.center().y()).toPoint())
    assert g.selected == 256 and w.views_ctl.inspected == 256 and w.inspector.index == 256

    g.setFocus()
    qtbot.keyClick(g, Qt.Key.Key_PageDown)
    assert g.page == 2 and g.page_label.text().endswith("(page 3 of 4: chains 512–767)")
    qtbot.keyClick(g, Qt.Key.Key_PageDown)
    qtbot.keyClick(g, Qt.Key.Key_PageDown)  # past the last page: stays there
    assert g.page == 3 and not g.next_button.isEnabled()
    w.views_ctl.inspect(300)  # the inspector on a chain of another page brings its page into sight
    assert g.page == 1


def test_a_last_page_draws_only_the_chains_left_in_the_same_layout(grid):
    grid.show_states(known_states(300))
    assert grid.page_label.text() == "drawing 256 of 300 chains (page 1 of 2: chains 0–255)"
    grid.set_page(1)
    assert grid.page_label.text() == "drawing 44 of 300 chains (page 2 of 2: chains 256–299)"
    assert grid.current_image().shape == (3 * 29 + 1, 16 * 29 + 1)  # 44 tiles, still 16 a row


def test_64_chains_fit_on_one_page_and_say_nothing(grid):
    assert grid.pages == 1 and grid.page_bar.isHidden()


# -- zoom, pan, hover, click
def test_the_fitted_tile_size_follows_the_grid_size(grid, qtbot):
    assert grid.fit_scale() == pytest.approx(FIT) and grid.zoom == 1.0
    assert grid._target() == QtCore.QRectF(4, 4, 392, 392)
    grid.resize(800, 800)
    qtbot.waitUntil(lambda: grid.width() == 800)
    assert grid.fit_scale() == 3.0  # 792 / 233 = 3.4: whole numbers from 2 on keep pixels square


def test_hover_says_the_chain_the_pixel_and_its_value(grid):
    mouse(grid, QtCore.QEvent.Type.MouseMove, TILE_17_PIXEL_3_20)
    assert grid.hover_text == "chain 17 · pixel (3, 20) · 0.28"  # (784·17 + 28·20 + 3) / 50176 = 0.2768
    mouse(grid, QtCore.QEvent.Type.MouseMove, QtCore.QPoint(2, 2))  # the margin: no tile
    assert grid.hover_text == ""


def test_ctrl_wheel_zooms_about_the_cursor_and_ctrl_0_fits(grid, qtbot):
    p = TILE_17_PIXEL_3_20
    mouse(grid, QtCore.QEvent.Type.MouseMove, p)
    before = grid.widget_to_mosaic(QtCore.QPointF(p))
    ctrl_wheel(grid, p)
    assert grid.scale == pytest.approx(FIT * 1.25)
    assert grid.widget_to_mosaic(QtCore.QPointF(p)) == pytest.approx(before)  # the same point under the cursor
    assert grid.chain_at(QtCore.QPointF(p)) == 17
    assert grid.hover_text == "chain 17 · pixel (3, 20) · 0.28"
    ctrl_wheel(grid, p, 2)
    assert grid.scale == pytest.approx(FIT * 1.25**3)
    assert grid.widget_to_mosaic(QtCore.QPointF(p)) == pytest.approx(before)
    # Tile 0 now sits further up-left than at fit: the view really is magnified around tile 17.
    assert grid.mosaic_to_widget(1, 1).x() < 4 - 30

    grid.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is grid, timeout=2000)
    qtbot.keyClick(grid, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert grid.zoom == 1.0 and grid.scale == pytest.approx(FIT)
    assert grid._target() == QtCore.QRectF(4, 4, 392, 392)
    qtbot.keyClick(grid, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert grid.scale == pytest.approx(FIT * 1.25)
    qtbot.keyClick(grid, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert grid.scale == pytest.approx(FIT)
    qtbot.keyClick(grid, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)  # never smaller than fit
    assert grid.zoom == 1.0


def test_a_click_after_zooming_picks_the_chain_under_it(grid, qtbot):
    ctrl_wheel(grid, TILE_17_PIXEL_3_20, 3)
    clicked = []
    grid.tileClicked.connect(clicked.append)
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=TILE_17_PIXEL_3_20)
    assert clicked == [17] and grid.selected == 17
    # The tile right of it, 29 mosaic pixels on, is chain 18.
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=TILE_17_PIXEL_3_20 + QtCore.QPoint(round(29 * grid.scale), 0))
    assert clicked == [17, 18]


def test_a_left_drag_pans_and_is_not_a_click(grid):
    ctrl_wheel(grid, QtCore.QPoint(200, 200), 4)  # about the centre: 2.44 × fit, the centre stays (116.5, 116.5)
    assert grid.widget_to_mosaic(QtCore.QPointF(200, 200)) == pytest.approx((116.5, 116.5))
    clicked = []
    grid.tileClicked.connect(clicked.append)
    p = QtCore.QPoint(200, 200)
    mouse(grid, QtCore.QEvent.Type.MouseButtonPress, p, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    mouse(grid, QtCore.QEvent.Type.MouseMove, p + QtCore.QPoint(40, 0), buttons=Qt.MouseButton.LeftButton)
    mouse(grid, QtCore.QEvent.Type.MouseButtonRelease, p + QtCore.QPoint(40, 0), Qt.MouseButton.LeftButton)
    assert clicked == [] and grid.selected is None
    # The content followed the cursor 40 px right: the view's centre now shows a point 40 px left of before.
    assert grid.widget_to_mosaic(QtCore.QPointF(200, 200)) == pytest.approx((116.5 - 40 / grid.scale, 116.5))
    # The middle button pans too, from the first pixel.
    mouse(grid, QtCore.QEvent.Type.MouseButtonPress, p, Qt.MouseButton.MiddleButton, Qt.MouseButton.MiddleButton)
    mouse(grid, QtCore.QEvent.Type.MouseMove, p + QtCore.QPoint(0, 2), buttons=Qt.MouseButton.MiddleButton)
    mouse(grid, QtCore.QEvent.Type.MouseButtonRelease, p + QtCore.QPoint(0, 2), Qt.MouseButton.MiddleButton)
    assert grid.widget_to_mosaic(QtCore.QPointF(200, 200))[1] == pytest.approx(116.5 - 2 / grid.scale)
    assert clicked == []


def test_panning_stops_at_the_mosaic_edge(grid):
    ctrl_wheel(grid, QtCore.QPoint(200, 200), 4)
    grid.pan_by(-10_000, -10_000)
    assert grid.mosaic_to_widget(0, 0) == QtCore.QPointF(0, 0)  # the top-left corner, no blank beyond it


def test_the_background_follows_the_application_palette(grid, qtbot):
    app = QtWidgets.QApplication.instance()
    old = app.palette()
    try:
        for colour in ("#123456", "#f0e0d0"):
            pal = QtGui.QPalette(old)
            pal.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor(colour))
            app.setPalette(pal)  # as a theme does; it reaches the widgets with the next events
            qtbot.waitUntil(lambda c=colour: grid.background() == QtGui.QColor(c), timeout=2000)
            assert grid.grab().toImage().pixelColor(390, 2) == QtGui.QColor(colour)  # the margin, off every tile
    finally:
        app.setPalette(old)


# -- the chain's step rate against the speed asked
class TimedSession:
    """A stand-in session whose every step takes ``step_s`` seconds (what a slow network would do)."""

    def __init__(self, step_s: float):
        self.step_s, self.t_max = step_s, 0

    def advance(self, k: int) -> None:
        time.sleep(self.step_s * k)
        self.t_max += k

    def ready(self, t: int) -> bool:
        return True

    def state(self, t: int):
        return np.zeros((1, 2), np.float32)


@pytest.fixture
def controller():
    c = ChainController()
    yield c
    c.shutdown()


def _play(controller, step_s: float) -> list[str]:
    """Play a session whose steps take ``step_s`` seconds at 30 steps/s asked; the rate notes it sends."""
    notes = []
    controller.rateNote.connect(notes.append)
    controller.set_session(TimedSession(step_s))
    controller.set_speed(30)
    controller.play()
    return notes


def test_a_slow_step_says_how_fast_the_chain_runs_of_the_speed_asked_and_why(controller, qtbot):
    notes = _play(controller, 0.1)
    qtbot.waitUntil(lambda: controller.rate_note() != "", timeout=5000)
    m = re.fullmatch(
        r"running ([\d.]+) steps/s of the 30 asked: each step takes (\d+) ms to compute \(compute bound\)",
        controller.rate_note(),
    )
    assert m, controller.rate_note()
    assert 5 <= float(m.group(1)) <= 10.5 and 100 <= int(m.group(2)) <= 200
    qtbot.waitUntil(lambda: any("of the 30 asked" in n for n in notes), timeout=2000)
    controller.pause()
    assert controller.rate_note() == ""
    qtbot.waitUntil(lambda: notes[-1] == "", timeout=2000)


def test_a_fast_step_meets_the_speed_and_says_nothing(controller, qtbot):
    notes = _play(controller, 0.0)
    deadline = time.perf_counter() + 2.0
    while time.perf_counter() < deadline:
        qtbot.wait(100)
        assert controller.rate_note() == ""
    assert controller.chain_rate() == pytest.approx(30, rel=0.1) and controller.t_max >= 50
    assert notes == []


def test_the_note_names_compute_or_a_busy_cpu_as_the_cause():
    assert (
        slow_rate_note(15, 0.066, 30)
        == "running 15 steps/s of the 30 asked: each step takes 66 ms to compute (compute bound)"
    )
    # 10 ms of computing in a step's 50 ms: the other 40 ms went waiting for the CPU.
    assert slow_rate_note(20, 0.010, 30) == (
        "running 20 steps/s of the 30 asked: a step computes in 10 ms and waits 40 ms more for the CPU "
        "(the display and other programs share it)"
    )
    assert slow_rate_note(6.66, 0.15, 10).startswith("running 6.7 steps/s of the 10 asked: each step takes 150 ms")
    assert slow_rate_note(0.3, 3.0, 0.5).startswith("running 0.3 steps/s of the 0.5 asked")
    assert slow_rate_note(27.5, 0.02, 30) == ""  # within 10 %: met


def test_the_window_says_when_the_chain_runs_slower_than_asked(make_window, qtbot, monkeypatch):
    w = make_window(n_chains=4)
    s = w.session
    step = s.advance
    monkeypatch.setattr(s, "advance", lambda k: (time.sleep(0.2), step(k)))
    w.transport.speed.setValue(30)
    w.chain.play()
    label = w.views_ctl.rate_label
    qtbot.waitUntil(lambda: label.isVisible() and "of the 30 asked" in label.text(), timeout=10_000)
    assert "(compute bound)" in label.text()
    w.chain.pause()
    qtbot.waitUntil(lambda: not label.isVisible(), timeout=2000)


def test_after_zooming_the_window_grid_still_inspects_the_chain_clicked(make_window, qtbot):
    w = make_window()
    g = w.grid
    qtbot.waitUntil(lambda: g.current_image() is not None, timeout=5000)
    # A tile near the middle: zooming keeps the point under the cursor where it is (near an edge the view is
    # clamped to the mosaic, so the point moves — then the click inspects what is under it now).
    r = g.tile_rect(27)
    p = g.mosaic_to_widget(r.center().x(), r.center().y())
    ctrl_wheel(g, p, 3)
    assert g.zoom == pytest.approx(1.25**3) and g.chain_at(p.toPoint().toPointF()) == 27
    qtbot.mouseClick(g, Qt.MouseButton.LeftButton, pos=p.toPoint())
    assert w.inspector.index == 27 and g.selected == 27


def test_the_view_menu_lists_the_grids_zoom_and_page_actions(make_window, qtbot):
    window = make_window()
    qtbot.waitUntil(lambda: window.grid.current_image() is not None, timeout=5000)
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    g = window.grid
    wanted = [g.zoom_in_action, g.zoom_out_action, g.zoom_fit_action, g.next_page_action, g.prev_page_action]
    assert all(a in view.actions() for a in wanted)
    g.zoom_in_action.trigger()  # from the menu: the same action as Ctrl++
    assert g.zoom == pytest.approx(1.25)


def _tile_pixels(grid, i: int) -> QtGui.QImage:
    """The on-screen pixels of tile i (widget coordinates) as the grid paints them now."""
    r = grid.tile_rect(i)
    a, b = grid.mosaic_to_widget(r.x(), r.y()), grid.mosaic_to_widget(r.right(), r.bottom())
    return grid.grab().toImage().copy(QtCore.QRectF(a, b).toAlignedRect())


@pytest.mark.parametrize("width", [400, 1100])
def test_the_hover_readout_never_covers_the_hovered_tile_nor_the_mosaic_beside_room(grid, qtbot, width):
    """Issue 30: the readout sat in the bottom-left corner, over the bottom-left tiles (at 1366 px). Now it
    goes beside the mosaic when the grid has room there (1100 px wide), else beside the hovered tile."""
    grid.resize(width, 400)
    qtbot.waitUntil(lambda: grid.width() == width)
    bottom_left = 56  # row 7, column 0 of 8 × 8
    mosaic = grid._target().toAlignedRect()
    before_tile, before_all = _tile_pixels(grid, bottom_left), grid.grab().toImage().copy(mosaic)
    r = grid.tile_rect(bottom_left)
    mouse(grid, QtCore.QEvent.Type.MouseMove, grid.mosaic_to_widget(r.center().x(), r.center().y()).toPoint())
    assert grid.hover_text.startswith("chain 56 · pixel")
    assert _tile_pixels(grid, bottom_left) == before_tile  # the hovered tile is in sight
    if width == 1100:  # room beside the mosaic: no tile is covered
        assert grid.grab().toImage().copy(mosaic) == before_all
