"""Exports of the current chains: animations (core.export.export_session, as ``kgn export``), run bundles
and state archives — each a background Job with progress and Cancel — and the grid as a picture.

Signals (GUI thread): ``started(Job)`` a job began (the window shows its progress dialog);
``finished(str)`` a one-line result ("exported …"); ``error(str, str)`` title and one-line reason;
``note(str)`` a one-line notice that is not an error ("export cancelled; nothing was written").
"""

from __future__ import annotations

import itertools
import queue
from dataclasses import replace

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.errors import ExportCancelled, ExportError, PreflightError
from ...core.export.animation import export_session, export_states
from ...core.export.bundle import write_bundle
from ...core.export.mosaic import with_label
from ...core.export.options import ExportOptions, check_steps, parse_steps
from ...core.files import WriteError, atomic_path
from ...core.preflight import check_export
from ..jobs import Job

MAX_VIEW_SIDE = 8192


class ExportController(QtCore.QObject):
    started = QtCore.Signal(object)
    finished = QtCore.Signal(str)
    error = QtCore.Signal(str, str)
    note = QtCore.Signal(str)

    def __init__(self, model, chain, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.model, self.chain = model, chain
        self.job: Job | None = None
        self._drawer: ViewDrawer | None = None

    def _inputs(self) -> list:
        """The files the current chains were made from (the model file): an export may overwrite none."""
        ck = self.model.checkpoint
        return [ck.path] if ck is not None and ck.path is not None else []

    def busy(self) -> bool:
        return self.job is not None and self.job.running()

    def _run(self, title: str, work, done_text) -> Job | None:
        if self.busy():
            self.error.emit(title, f"{self.job.title} is still running; wait for it or cancel it")
            return None
        job = Job(work, title, self)
        job.done.connect(lambda r: self.finished.emit(done_text(r)))
        job.failed.connect(lambda msg: self.note.emit(msg) if job.was_cancelled else self.error.emit(title, msg))
        self.job = job
        self.started.emit(job)
        return job.start()

    # -- animations
    def export(self, steps: list[int], opts: ExportOptions, out: str, widget: QtWidgets.QWidget | None = None):
        """Export ``steps`` of the current chains to ``out``: the grid or one chain drawn from the states; with
        ``widget`` the Points view (or a splitter holding it first), the same picture ``kgn export`` draws of a
        points model (core.picture.render.PointsPicture) at the widget's size, with the view's training points and, in
        1-D, its cobweb chain (the second depth of Compare depths is not drawn); with another ``widget`` (the
        window), what Qt draws of it at each step."""
        s = self.chain.session
        if s is None:
            self.error.emit("Export", "open a model first")
            return None
        inputs = self._inputs()
        view = points_view_in(widget)
        points = None
        if view is not None and len(s.shape) == 1:
            size = widget.size()
            chain = min(view.selected_chain, s.n - 1) if s.D == 1 else None
            opts = replace(opts, size=(size.width(), size.height()), chain=chain)
            points, widget = view.points.copy(), None
        try:
            steps = check_steps(steps)
            opts.validate()
            check_export(len(steps), s.n, s.D, s.shape, opts.fmt, opts.scale, opts.chain)
            drawer = None if widget is None else ViewDrawer(self.chain, widget, steps, opts, self)
        except (ExportError, PreflightError) as e:
            self.error.emit("Export", str(e))
            return None

        def work(progress, cancelled):
            frames = None if drawer is None else drawer.frames(cancelled)
            return export_session(
                s, steps, out, opts, frames=frames, points=points, progress=progress, cancelled=cancelled, inputs=inputs
            )

        job = self._run("export", work, lambda path: f"exported {path}")
        if job is not None and drawer is not None:
            self._drawer = drawer
            job.failed.connect(lambda _msg: drawer.stop())
            drawer.start(job)
        return job

    # -- run bundles and states
    def save_bundle(self, path: str):
        """A run bundle of the current chain: steps 0 … the furthest reached, as a GIF, with its curves. The
        chain must not have changed noise on the way (a bundle records one setting)."""
        s, ck, start = self.chain.session, self.model.checkpoint, self.chain.start
        if s is None or ck is None or len(s.shape) != 3:
            self.error.emit("Run bundle", "run bundles are made for image models; open one first")
            return None
        if len(s.timeline.segments) > 1:
            self.error.emit(
                "Run bundle",
                "the noise settings changed during this chain; a bundle records one setting — reset the "
                "chain (Ctrl+R) and play it again",
            )
            return None
        steps = list(range(0, max(s.t_max, 1) + 1))
        cfg, curves, lab = s.config, s.curves, s.lab.copy()  # the edits as they are now
        array = start.array if start is not None else None
        inputs = self._inputs()
        try:
            check_export(len(steps), s.n, s.D, s.shape, "gif", 4, max_step=steps[-1], bundle=True)
        except PreflightError as e:
            self.error.emit("Run bundle", str(e))
            return None

        def work(progress, cancelled):
            return write_bundle(
                path,
                ck,
                cfg,
                steps,
                ExportOptions(fmt="gif", scale=4),
                start_array=array,
                lab=lab,
                curves=curves,
                progress=progress,
                cancelled=cancelled,
                inputs=inputs,
            )

        return self._run("run bundle", work, lambda out: f"saved run bundle {out}")

    def export_states(self, steps_text: str, path: str):
        """The session's states at the given steps (all reached) to an .npz with the chain's settings."""
        s, ck = self.chain.session, self.model.checkpoint
        if s is None or ck is None:
            self.error.emit("Export states", "open a model first")
            return None
        try:
            steps = parse_steps(steps_text)
            if steps[-1] > s.t_max:
                raise ExportError(f"step {steps[-1]} has not been reached yet (0 … {s.t_max}); play further first")
            check_steps(steps)
            check_export(len(steps), s.n, s.D, s.shape, "npz")
        except (ExportError, PreflightError) as e:
            self.error.emit("Export states", str(e))
            return None
        meta = {"model_name": ck.name, "model": str(ck.path) if ck.path else None}
        inputs, lab = self._inputs(), s.lab.copy()

        def work(progress, cancelled):
            done = itertools.count(1)  # core asks for each step once, in order

            def state(t):
                if cancelled():
                    raise ExportCancelled("export cancelled; nothing was written")
                progress(next(done), len(steps))
                return s.state(t)

            return export_states(
                ck.model, ck.spec, s.config, steps, path, states=state, meta=meta, inputs=inputs, lab=lab
            )

        return self._run("state export", work, lambda out: f"exported {out}")

    def save_grid(self, grid: QtWidgets.QWidget, path: str) -> bool:
        try:
            with atomic_path(path) as tmp:
                if not grid.grab().save(str(tmp), "PNG"):
                    raise WriteError(f"cannot write {path}: the image could not be encoded")
        except WriteError as e:
            self.error.emit("Cannot save image", str(e))
            return False
        self.finished.emit(f"saved {path}")
        return True

    def shutdown(self) -> None:
        if self._drawer is not None:
            self._drawer.stop()
        if self.busy():
            self.job.cancel()
            self.job.wait(10.0)


def points_view_in(widget: QtWidgets.QWidget | None):
    """The PointsView that ``widget`` is, or that a splitter ``widget`` holds first (the Points tab); else None."""
    from ..widgets.points_view import PointsView

    if isinstance(widget, QtWidgets.QSplitter) and widget.count():
        widget = widget.widget(0)
    return widget if isinstance(widget, PointsView) else None


def render_rgb(widget: QtWidgets.QWidget, size: QtCore.QSize, scale: int) -> np.ndarray:
    """``widget`` drawn by Qt at ``scale``× (sharp, not zoomed) into an H×W×3 uint8 array of ``size``×scale."""
    img = QtGui.QImage(size.width() * scale, size.height() * scale, QtGui.QImage.Format.Format_RGB888)
    img.fill(widget.palette().color(QtGui.QPalette.ColorRole.Window))
    p = QtGui.QPainter(img)
    try:
        p.scale(scale, scale)
        widget.render(p, QtCore.QPoint(0, 0))
    finally:
        p.end()
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


class ViewDrawer(QtCore.QObject):
    """Frames of what a widget shows (the whole window). Qt draws only in the GUI thread,
    so a zero-interval timer there shows each step (``chain.show_now``) and renders the widget, a few frames
    ahead of the export job's encoder; the window stays responsive between frames and goes back to the step
    it showed when the export ends."""

    AHEAD = 4

    def __init__(self, chain, widget: QtWidgets.QWidget, steps: list[int], opts: ExportOptions, parent=None):
        super().__init__(parent)
        self._size = widget.size()
        if max(self._size.width(), self._size.height()) * opts.scale > MAX_VIEW_SIDE:
            raise ExportError(
                f"{self._size.width()}×{self._size.height()} at {opts.scale}× is larger than "
                f"{MAX_VIEW_SIDE} pixels; choose a smaller scale"
            )
        self._chain, self._widget, self._steps, self._opts = chain, widget, steps, opts
        self._queue: queue.Queue = queue.Queue()
        self._error: str | None = None
        self._next = 0
        self._restore = chain.view_t
        self._job: Job | None = None
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._draw_next)

    def start(self, job: Job) -> None:
        self._job = job
        self._timer.start()

    def frames(self, cancelled):
        """The drawn frames, in order (read by the job's thread)."""
        while (item := self._queue.get()) is not None:
            yield item
        if self._error:
            raise ExportError(self._error)
        if cancelled():
            raise ExportCancelled("export cancelled; nothing was written")

    def _draw_next(self) -> None:
        job = self._job
        if job is None or not job.running() or job.cancelled() or self._next >= len(self._steps):
            self.stop()
            return
        if self._queue.qsize() >= self.AHEAD:
            return
        t = self._steps[self._next]
        try:
            self._chain.show_now(t)
            frame = render_rgb(self._widget, self._size, self._opts.scale)
            if self._opts.overlay:
                frame = with_label(frame, f"t = {t}")
        except Exception as e:  # e.g. the chain failed: end the export with a message
            self._error = f"export failed at step {t}: {type(e).__name__}: {e}"
            self.stop()
            return
        self._queue.put((t, frame))
        self._next += 1

    def stop(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self._queue.put(None)
            self._chain.seek(min(self._restore, self._chain.t_max))
