"""The grid of chains at the current step, nearest-neighbour scaled, with the step number in a
corner. Clicking a tile emits ``tileClicked(chain index)``.

A plain QWidget that blits one RGB32 QImage: per frame that is one numpy conversion and one
scaled ``drawImage`` in C++, a few times cheaper than a pyqtgraph scene (which matters: the
display shares two cores with the chain worker). Only the visible part of the mosaic is drawn, so a
zoomed-in grid costs no more than a fitted one.

It draws at most ``max_tiles`` chains at once: with more, a bar at the bottom says how many and pages
through them (◀ ▶, Page Up / Page Down with the grid focused). Ctrl+wheel zooms about the cursor,
Ctrl++ / Ctrl+− about the centre, Ctrl+0 fits; a drag (left or middle button) or the wheel pans a
zoomed grid, and a drag is never taken for a click. Hovering says the chain, the pixel (x, y) and its
value. The background follows the widget's palette (a dark theme recolours it)."""

from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.picture.render import pixel_text, states_to_grid, to_rgb32
from .readout import EDGE, badge_size, draw_badge, readout_box

ZOOM_STEP = 1.25  # one wheel notch or one Ctrl++
MAX_SCALE = 64.0  # screen pixels per state pixel, at most
MARGIN = 4  # screen pixels around the fitted mosaic
WHEEL_PAN_PX = 48  # screen pixels a wheel notch pans a zoomed grid


class ChainGrid(QtWidgets.QWidget):
    """Shows N image states as a mosaic, ``max_tiles`` of them a page.

    Signals: tileClicked(int): the chain index (not the tile's) of a clicked tile. pageChanged(int): the
    page shown (0-based). hovered(str): what is under the cursor ("" off the tiles)."""

    tileClicked = QtCore.Signal(int)
    pageChanged = QtCore.Signal(int)
    hovered = QtCore.Signal(str)
    strokeFinished = QtCore.Signal(int, object)  # brushing: (chain, [(x, y), …] the pixels the stroke crossed)
    selectionChanged = QtCore.Signal(object)  # the selected chain (None: none), whatever moved it

    def __init__(self, parent=None, max_tiles: int = 256):
        super().__init__(parent)
        self.max_tiles = max_tiles
        self._shape: tuple[int, ...] | None = None
        self._range = (0.0, 1.0)
        self._x: np.ndarray | None = None  # every chain's state at the shown step (N×D)
        self._page = 0
        self._cols = 1
        self._n = 0  # tiles drawn on this page
        self._pad = 1
        self._mosaic: np.ndarray | None = None
        self._rgb: np.ndarray | None = None
        self._qimage: QtGui.QImage | None = None
        self._label = ""
        self._message = ""
        self._selected: int | None = None
        self.brushing = False  # left-drag on a tile is a brush stroke (the Lab's live edits), not a pan
        self._stroke: tuple[int, list[tuple[int, int]]] | None = None
        self._zoom = 1.0  # × the fitted scale
        self._center: tuple[float, float] | None = None  # mosaic point at the view's centre (None: centred)
        self._press: tuple[QtCore.QPointF, QtCore.Qt.MouseButton, tuple[float, float]] | None = None
        self._dragging = False
        self._hover_pos: QtCore.QPointF | None = None
        self.hover_text = ""
        self.setMinimumSize(QtCore.QSize(200, 200))
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMouseTracking(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.WheelFocus)
        self.setToolTip(
            "The chains at the current step. Click a tile to inspect that chain. "
            "Ctrl+wheel or Ctrl++ / Ctrl+− zoom, Ctrl+0 fits; drag or scroll to pan when zoomed."
        )
        self._build_page_bar()
        self._build_actions()

    def _build_page_bar(self) -> None:
        bar = self.page_bar = QtWidgets.QFrame(self)
        bar.setAutoFillBackground(True)
        h = QtWidgets.QHBoxLayout(bar)
        h.setContentsMargins(6, 2, 6, 2)
        self.prev_button, self.next_button = QtWidgets.QToolButton(bar), QtWidgets.QToolButton(bar)
        self.prev_button.setText("◀")
        self.prev_button.setToolTip("The previous page of chains (Page Up)")
        self.next_button.setText("▶")
        self.next_button.setToolTip("The next page of chains (Page Down)")
        self.prev_button.clicked.connect(lambda: self.set_page(self._page - 1))
        self.next_button.clicked.connect(lambda: self.set_page(self._page + 1))
        self.page_label = QtWidgets.QLabel(bar)
        self.page_label.setToolTip(f"The grid draws {self.max_tiles} chains at a time; page through the rest")
        h.addStretch(1)
        h.addWidget(self.prev_button)
        h.addWidget(self.page_label)
        h.addWidget(self.next_button)
        h.addStretch(1)
        bar.hide()

    def _build_actions(self) -> None:
        """The grid's own actions (a menu may list them too): zoom in, out, fit; next and previous page."""
        SK, win = QtGui.QKeySequence.StandardKey, QtCore.Qt.ShortcutContext.WindowShortcut

        def action(text, slot, keys, context=win) -> QtGui.QAction:
            a = QtGui.QAction(text, self)
            a.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            a.setShortcutContext(context)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.zoom_in_action = action("Zoom &in", lambda: self.zoom_by(ZOOM_STEP), [SK.ZoomIn, "Ctrl+="])
        self.zoom_out_action = action("Zoom &out", lambda: self.zoom_by(1 / ZOOM_STEP), [SK.ZoomOut])
        self.zoom_fit_action = action("&Fit the grid", self.fit, ["Ctrl+0"])
        # Page Up / Down also step spin boxes and sliders: only while the grid has the focus.
        local = QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.next_page_action = action("&Next page of chains", lambda: self.set_page(self._page + 1), ["PgDown"], local)
        self.prev_page_action = action(
            "&Previous page of chains", lambda: self.set_page(self._page - 1), ["PgUp"], local
        )

    # -- what it shows
    def set_geometry(self, shape: tuple[int, ...], value_range: tuple[float, float]) -> None:
        self._shape, self._range = tuple(shape), value_range
        self._mosaic = self._qimage = self._rgb = self._x = None
        self._selected = None
        self._message = ""
        self._page = 0
        self._zoom, self._center = 1.0, None
        self.page_bar.hide()
        self.update()

    def show_states(self, x: np.ndarray, step: int | None = None) -> None:
        """x: N×D states of every chain in the model's value range; the shown page's ``max_tiles`` are drawn."""
        if self._shape is None:
            return
        if step is not None:
            self._label = f"t = {step}"
        if len(self._shape) != 3:
            self._mosaic = self._qimage = None
            self._message = f"A {math.prod(self._shape)}-D points model: the curves and histogram follow its chains."
            self.update()
            return
        self._x = x
        self._render()

    def _render(self) -> None:
        x = self._x
        self._page = min(self._page, self.pages - 1)
        first = self.first_chain
        page = x[first : first + self.max_tiles]
        self._n = page.shape[0]
        self._cols = max(1, math.ceil(math.sqrt(min(x.shape[0], self.max_tiles))))  # the same layout every page
        self._mosaic = states_to_grid(page, self._shape, self._range, cols=self._cols, pad=self._pad)
        self._rgb = np.ascontiguousarray(to_rgb32(self._mosaic))
        h, w = self._rgb.shape
        self._qimage = QtGui.QImage(self._rgb.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGB32)
        self._update_page_bar()
        self._update_hover()
        self.update()

    def current_image(self) -> np.ndarray | None:
        """The mosaic last shown (uint8, H×W grey or H×W×3): the shown page."""
        return self._mosaic

    # -- pages
    @property
    def chain_count(self) -> int:
        """How many chains there are (drawn or not)."""
        return 0 if self._x is None else int(self._x.shape[0])

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.chain_count / self.max_tiles))

    @property
    def page(self) -> int:
        """The page shown, 0-based: chains ``page × max_tiles`` on."""
        return self._page

    @property
    def first_chain(self) -> int:
        """The chain index of the first tile."""
        return self._page * self.max_tiles

    def set_page(self, page: int) -> None:
        page = max(0, min(int(page), self.pages - 1))
        if page == self._page:
            return
        self._page = page
        if self._x is not None and self._shape is not None and len(self._shape) == 3:
            self._render()
        self.pageChanged.emit(page)

    def _update_page_bar(self) -> None:
        n = self.chain_count
        if n <= self.max_tiles:
            if not self.page_bar.isHidden():
                self.page_bar.hide()
                self._center = self._clamped(self._center)
            return
        first, last = self.first_chain, self.first_chain + self._n - 1
        self.page_label.setText(
            f"drawing {self._n:,} of {n:,} chains (page {self._page + 1} of {self.pages}: chains {first:,}–{last:,})"
        )
        self.prev_button.setEnabled(self._page > 0)
        self.next_button.setEnabled(self._page < self.pages - 1)
        if self.page_bar.isHidden():
            self.page_bar.show()
            self._place_page_bar()

    def _place_page_bar(self) -> None:
        h = self.page_bar.sizeHint().height()
        self.page_bar.setGeometry(0, self.height() - h, self.width(), h)

    # -- geometry: mosaic pixels ↔ widget pixels
    def _view(self) -> QtCore.QRectF:
        """The part of the widget the mosaic is drawn in (above the page bar)."""
        bar = 0 if self.page_bar.isHidden() else self.page_bar.height()
        return QtCore.QRectF(0, 0, self.width(), max(1, self.height() - bar))

    def fit_scale(self) -> float:
        """Screen pixels per mosaic pixel when the whole page fits (whole numbers from 2 on keep pixels square)."""
        if self._rgb is None:
            return 1.0
        h, w = self._rgb.shape
        v = self._view()
        s = max(min((v.width() - 2 * MARGIN) / w, (v.height() - 2 * MARGIN) / h), 1e-3)
        return float(math.floor(s)) if s >= 2 else s

    @property
    def scale(self) -> float:
        """Screen pixels per mosaic pixel now."""
        return self.fit_scale() * self._zoom

    @property
    def zoom(self) -> float:
        """The scale over the fitted one (1: fit)."""
        return self._zoom

    def _clamped(self, center: tuple[float, float] | None) -> tuple[float, float] | None:
        """A view centre that keeps the mosaic on screen: centred on an axis it fits, else no blank past its edge."""
        if self._rgb is None:
            return None
        h, w = self._rgb.shape
        v, s = self._view(), self.scale
        cx, cy = center if center is not None else (w / 2, h / 2)
        half_w, half_h = v.width() / 2 / s, v.height() / 2 / s
        cx = w / 2 if w <= 2 * half_w else min(max(cx, half_w), w - half_w)
        cy = h / 2 if h <= 2 * half_h else min(max(cy, half_h), h - half_h)
        return cx, cy

    def _view_center(self) -> tuple[float, float]:
        c = self._clamped(self._center)
        return c if c is not None else (0.0, 0.0)

    def mosaic_to_widget(self, mx: float, my: float) -> QtCore.QPointF:
        """Mosaic pixel coordinates → widget coordinates."""
        v, s = self._view(), self.scale
        cx, cy = self._view_center()
        return QtCore.QPointF(v.center().x() + (mx - cx) * s, v.center().y() + (my - cy) * s)

    def widget_to_mosaic(self, p: QtCore.QPointF) -> tuple[float, float]:
        """Widget coordinates → mosaic pixel coordinates."""
        v, s = self._view(), self.scale
        cx, cy = self._view_center()
        return cx + (p.x() - v.center().x()) / s, cy + (p.y() - v.center().y()) / s

    def _target(self) -> QtCore.QRectF:
        """The whole mosaic in widget coordinates (it may reach past the widget when zoomed)."""
        if self._rgb is None:
            return QtCore.QRectF()
        h, w = self._rgb.shape
        return QtCore.QRectF(self.mosaic_to_widget(0, 0), self.mosaic_to_widget(w, h))

    def tile_rect(self, i: int) -> QtCore.QRectF:
        """Tile i of the page in mosaic pixel coordinates."""
        _, H, W = self._shape
        r, c = divmod(i, self._cols)
        return QtCore.QRectF(self._pad + c * (W + self._pad), self._pad + r * (H + self._pad), W, H)

    def tile_at(self, x: float, y: float) -> int | None:
        """The tile of the page under mosaic pixel coordinates (x, y), or None (padding included)."""
        if self._shape is None or len(self._shape) != 3:
            return None
        _, H, W = self._shape
        c, r = int(x // (W + self._pad)), int(y // (H + self._pad))
        if x < 0 or y < 0 or c >= self._cols:
            return None
        i = r * self._cols + c
        return i if i < self._n else None

    def chain_at(self, p: QtCore.QPointF) -> int | None:
        """The chain index under widget point p, or None."""
        if self._rgb is None or not self._view().contains(p):
            return None
        i = self.tile_at(*self.widget_to_mosaic(p))
        return None if i is None else self.first_chain + i

    def pixel_at(self, p: QtCore.QPointF) -> tuple[int, int, int] | None:
        """(chain, x, y): the chain and the pixel of its state under widget point p (None off a tile's pixels)."""
        i = self.chain_at(p)
        if i is None:
            return None
        mx, my = self.widget_to_mosaic(p)
        r = self.tile_rect(i - self.first_chain)
        x, y = math.floor(mx - r.x()), math.floor(my - r.y())
        _, H, W = self._shape
        return (i, x, y) if 0 <= x < W and 0 <= y < H else None

    # -- zoom and pan
    def zoom_by(self, factor: float, at: QtCore.QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the mosaic point under ``at`` (default: the view's centre) where it is."""
        if self._rgb is None:
            return
        at = at if at is not None else self._view().center()
        mx, my = self.widget_to_mosaic(at)
        fit = self.fit_scale()
        self._zoom = min(max(self._zoom * factor, 1.0), max(1.0, MAX_SCALE / fit))
        v, s = self._view(), self.scale
        self._center = self._clamped((mx - (at.x() - v.center().x()) / s, my - (at.y() - v.center().y()) / s))
        self._update_hover()
        self.update()

    def fit(self) -> None:
        """The whole page in view (Ctrl+0)."""
        self._zoom, self._center = 1.0, None
        self._update_hover()
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the view by (dx, dy) screen pixels (the content moves the other way)."""
        cx, cy = self._view_center()
        s = self.scale
        self._center = self._clamped((cx + dx / s, cy + dy / s))
        self._update_hover()
        self.update()

    # -- selection and hover
    @property
    def selected(self) -> int | None:
        """The chain marked as inspected (None: none)."""
        return self._selected

    def select(self, i: int | None) -> None:
        changed, self._selected = i != self._selected, i
        self.update()
        if changed:
            self.selectionChanged.emit(i)

    def _update_hover(self) -> None:
        text = ""
        hit = None if self._hover_pos is None else self.pixel_at(self._hover_pos)
        if hit is not None and self._x is not None:
            i, x, y = hit
            C, H, W = self._shape
            text = f"chain {i} · pixel ({x}, {y}) · {pixel_text(self._x[i].reshape(C, H, W)[:, y, x])}"
        if text != self.hover_text:
            self.hover_text = text
            self.hovered.emit(text)
            self.update()

    # -- events
    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        b = ev.button()
        if b not in (QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.MiddleButton):
            return super().mousePressEvent(ev)
        if self.brushing and b == QtCore.Qt.MouseButton.LeftButton:
            hit = self.pixel_at(ev.position())
            if hit is not None:
                self._stroke = (hit[0], [(hit[1], hit[2])])
                self.select(hit[0])
            return
        self._press = (ev.position(), b, self._view_center())
        self._dragging = b == QtCore.Qt.MouseButton.MiddleButton
        if self._dragging:
            self.setCursor(QtCore.Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:
        p = ev.position()
        if self._stroke is not None:
            hit = self.pixel_at(p)
            if hit is not None and hit[0] == self._stroke[0] and self._stroke[1][-1] != (hit[1], hit[2]):
                self._stroke[1].append((hit[1], hit[2]))
        if self._press is not None:
            p0, _b, (cx, cy) = self._press
            if not self._dragging and (p - p0).manhattanLength() >= QtWidgets.QApplication.startDragDistance():
                self._dragging = True  # from here on a drag: its release is not a click
                self.setCursor(QtCore.Qt.CursorShape.ClosedHandCursor)
            if self._dragging:
                s = self.scale
                self._center = self._clamped((cx - (p.x() - p0.x()) / s, cy - (p.y() - p0.y()) / s))
                self.update()
        self._hover_pos = p
        self._update_hover()

    def mouseReleaseEvent(self, ev: QtGui.QMouseEvent) -> None:
        if self._stroke is not None and ev.button() == QtCore.Qt.MouseButton.LeftButton:
            chain, pts = self._stroke
            self._stroke = None
            self.strokeFinished.emit(chain, pts)
            return
        if self._press is None or ev.button() != self._press[1]:
            return super().mouseReleaseEvent(ev)
        clicked = not self._dragging and ev.button() == QtCore.Qt.MouseButton.LeftButton
        self._press, self._dragging = None, False
        self.unsetCursor()
        i = self.chain_at(ev.position()) if clicked else None
        if i is not None:
            self.select(i)
            self.tileClicked.emit(i)

    def leaveEvent(self, ev: QtCore.QEvent) -> None:
        self._hover_pos = None
        self._update_hover()
        super().leaveEvent(ev)

    def wheelEvent(self, ev: QtGui.QWheelEvent) -> None:
        d = ev.angleDelta()
        if ev.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier:
            if d.y():
                self.zoom_by(ZOOM_STEP ** (d.y() / 120), ev.position())
            ev.accept()
            return
        if self._zoom <= 1.0:
            ev.ignore()
            return
        dx, dy = d.x(), d.y()
        if ev.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier:
            dx, dy = dy, dx
        self.pan_by(-dx / 120 * WHEEL_PAN_PX, -dy / 120 * WHEEL_PAN_PX)
        ev.accept()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        if not self.page_bar.isHidden():
            self._place_page_bar()
        self._center = self._clamped(self._center) if self._center is not None else None

    def changeEvent(self, ev: QtCore.QEvent) -> None:
        if ev.type() == QtCore.QEvent.Type.PaletteChange:  # a theme: repaint with its colours
            self.update()
        super().changeEvent(ev)

    def background(self) -> QtGui.QColor:
        """The colour behind the mosaic: the palette's window colour."""
        return self.palette().color(QtGui.QPalette.ColorRole.Window)

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), self.background())
        if self._qimage is not None:
            self._draw_mosaic(p)
        if self._message:
            p.setPen(pal.color(QtGui.QPalette.ColorRole.WindowText))
            p.drawText(self.rect().adjusted(20, 20, -20, -20), QtCore.Qt.TextFlag.TextWordWrap, self._message)
        f = p.font()
        f.setFamily("monospace")
        f.setPointSize(max(9, f.pointSize()))
        p.setFont(f)
        fm = QtGui.QFontMetrics(f)
        label = QtCore.QRectF(EDGE, EDGE, *badge_size(fm, self._label).toTuple()) if self._label else QtCore.QRectF()
        if self._label:
            draw_badge(p, label, self._label, "#ffd166")
        if self.hover_text:
            draw_badge(p, self.readout_rect(fm, label), self.hover_text, "#f0f0f0")
        p.end()

    def readout_rect(self, fm: QtGui.QFontMetrics, avoid: QtCore.QRectF) -> QtCore.QRectF:
        """Where the hover readout is drawn: beside the mosaic, else beside the hovered tile (readout.py)."""
        hit = None if self._hover_pos is None else self.chain_at(self._hover_pos)
        tile = None
        if hit is not None:
            r = self.tile_rect(hit - self.first_chain)
            tile = QtCore.QRectF(self.mosaic_to_widget(r.x(), r.y()), self.mosaic_to_widget(r.right(), r.bottom()))
        return readout_box(self._view(), self._target(), tile, badge_size(fm, self.hover_text), avoid)

    def _draw_mosaic(self, p: QtGui.QPainter) -> None:
        """The visible part of the mosaic only, whole source pixels, nearest neighbour."""
        h, w = self._rgb.shape
        v = self._view()
        p.setClipRect(v)
        x0, y0 = self.widget_to_mosaic(v.topLeft())
        x1, y1 = self.widget_to_mosaic(v.bottomRight())
        sx0, sy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
        sx1, sy1 = min(w, math.ceil(x1)), min(h, math.ceil(y1))
        if sx1 > sx0 and sy1 > sy0:
            p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            src = QtCore.QRectF(sx0, sy0, sx1 - sx0, sy1 - sy0)
            p.drawImage(
                QtCore.QRectF(self.mosaic_to_widget(sx0, sy0), self.mosaic_to_widget(sx1, sy1)), self._qimage, src
            )
        if self._selected is not None and 0 <= self._selected - self.first_chain < self._n:
            r = self.tile_rect(self._selected - self.first_chain)
            a = self.mosaic_to_widget(r.x(), r.y())
            b = self.mosaic_to_widget(r.right(), r.bottom())
            p.setPen(QtGui.QPen(QtGui.QColor("#ff9f1c"), 2))
            p.drawRect(QtCore.QRectF(a, b).adjusted(-1, -1, 1, 1))
        p.setClipping(False)
