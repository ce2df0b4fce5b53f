"""Where the chain grid's hover readout goes: beside the mosaic when the grid has room there, else next to
the hovered tile (under it, or above it), never over it — at 1366 px a readout in the bottom-left corner covered
the bottom-left tiles (issue 30). Badges (the step, the readout) are drawn here too."""

from __future__ import annotations

from PySide6 import QtCore, QtGui

GAP = 4  # screen pixels between the readout and what it sits beside
EDGE = 8  # screen pixels between a badge and the widget's edge


def readout_box(
    view: QtCore.QRectF, mosaic: QtCore.QRectF, tile: QtCore.QRectF | None, size: QtCore.QSize, avoid: QtCore.QRectF
) -> QtCore.QRectF:
    """A ``size`` box inside ``view``: beside the part of ``mosaic`` shown (left of it, right of it, under it,
    above it, clear of ``avoid``: the step's badge), else under or above the hovered ``tile``; the bottom-left
    corner when nothing else fits (a tile zoomed past the view)."""
    w, h = float(size.width()), float(size.height())
    shown = mosaic.intersected(view)
    beside = (
        QtCore.QRectF(view.left() + EDGE, shown.bottom() - h, w, h),
        QtCore.QRectF(shown.right() + GAP, shown.bottom() - h, w, h),
        QtCore.QRectF(shown.left(), shown.bottom() + GAP, w, h),
        QtCore.QRectF(shown.left(), shown.top() - GAP - h, w, h),
    )
    for box in beside:
        if view.contains(box) and not box.intersects(shown) and not box.intersects(avoid):
            return box
    if tile is not None:
        x = min(max(view.left() + EDGE, tile.left()), view.right() - EDGE - w)
        for y in (tile.bottom() + GAP, tile.top() - GAP - h):
            box = QtCore.QRectF(x, y, w, h)
            if view.contains(box) and not box.intersects(tile) and not box.intersects(avoid):
                return box
    return QtCore.QRectF(view.left() + EDGE, view.bottom() - h - EDGE, w, h)


def badge_size(fm: QtGui.QFontMetrics, text: str) -> QtCore.QSize:
    return QtCore.QSize(fm.horizontalAdvance(text) + 12, fm.height() + 6)


def draw_badge(p: QtGui.QPainter, box: QtCore.QRectF, text: str, colour: str) -> None:
    """``text`` in ``colour`` on a translucent black box."""
    p.fillRect(box, QtGui.QColor(0, 0, 0, 170))
    p.setPen(QtGui.QColor(colour))
    p.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, text)
