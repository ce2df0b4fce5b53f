"""The Points tab's experiments: train on the placed points with the paper's recipe (core.recipes), and
compare two depths side by side on one timeline; and any two models of one shape on one timeline (File →
Compare with…, ui/compare.py: the same second session, for image models too).

It trains through the training controller with its own recipe and data — never through the Training
dock's form, which keeps what the person set there. The paper's point sets train from their source key
(``points:1d-sigmoid``: exactly what ``kgn train --data points:1d-sigmoid --preset paper`` trains);
hand-placed points as ``points:0.31,0.77`` (or ``x/y`` pairs), a source ``kgn train --data`` takes too.

Signals (GUI thread): ``comparisonChanged(object)`` the second depth's ChainSession, or None;
``status(str)``; ``error(str, str)``.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from ...core.chain.session import ChainSession
from ...core.data.sources import POINT_PRESETS, open_source
from ...core.errors import ChainError, CheckpointError, DataError, TimelineError
from ...core.model.recipes import Recipe, recipe_for
from .training import BUSY


def points_source(points: np.ndarray, preset: str = "") -> str:
    """The data-source key of the placed points: the preset's when they are its points, else the list."""
    if preset in POINT_PRESETS:
        return f"points:{preset}"
    pts = np.asarray(points, np.float64).reshape(len(points), -1)
    return "points:" + ",".join("/".join(f"{v:.6g}" for v in p) for p in pts)


def points_plan(points, value_range, preset: str = "", depth: int | None = None) -> tuple[str, Recipe]:
    """(source key, recipe) of "Train on these points": the paper's recipe for the set (another depth when
    ``depth`` is given)."""
    src = points_source(points, preset)
    pts = np.asarray(points).reshape(len(points), -1)
    r = recipe_for(src, "paper", points_dim=pts.shape[1], value_range=tuple(value_range))
    return src, r.with_overrides(L=depth)


class PointsController(QtCore.QObject):
    comparisonChanged = QtCore.Signal(object)
    status = QtCore.Signal(str)
    error = QtCore.Signal(str, str)

    def __init__(self, model, chain, training, use_weights, parent: QtCore.QObject | None = None):
        """``use_weights(checkpoint, dataset, keep_comparison)`` makes trained weights the current model."""
        super().__init__(parent)
        self.model, self.chain, self.training = model, chain, training
        self._use_weights = use_weights
        self.comparison: ChainSession | None = None
        self.first = None  # the first depth's checkpoint while comparing
        self.second = None  # … and the second's, which runs beside the main chain
        self.depths = True  # Compare depths (False: File → Compare with…, a model file)
        self._args: tuple = ()
        self._pending: list[int] = []  # depths still to train; -1: show the comparison
        self._auto = False  # the running training is ours: use its weights when it ends
        self._plan: tuple[str, Recipe] | None = None
        training.finished.connect(self._training_finished)
        training.failed.connect(self._training_failed)
        chain.sessionChanged.connect(self._follow_session)

    def train(self, points, value_range, preset: str = "", depth: int | None = None) -> bool:
        """Train on the points with the paper's recipe; the chain switches to the result when it ends."""
        try:
            src, recipe = points_plan(points, value_range, preset, depth)
            ds = open_source(src, recipe.value_range)
            spec = recipe.spec(ds.D, ds.shape)
            cfg = recipe.train_config(report_interval_s=0.1)
        except (DataError, ValueError) as e:
            self.error.emit("Train on these points", str(e))
            self._pending.clear()
            return False
        self._plan = (src, recipe)
        if not self.training.start(spec, ds, cfg, source=(src, recipe.value_range, (28, 28))):
            self._pending.clear()
            return False
        self._auto = True
        self.status.emit(f"training {spec.describe()} on {src} (as kgn train --data {src} --preset paper)")
        return True

    def compare(self, points, value_range, preset: str, depth_a: int, depth_b: int) -> bool:
        """Train depth_a, then depth_b, on the points; then show both on one timeline."""
        if self.training.is_busy():
            self.error.emit("Compare depths", BUSY)
            return False
        self.drop()
        self._pending = [depth_b, -1]
        self._args = (points, value_range, preset)
        return self.train(points, value_range, preset, depth=depth_a)

    def compare_with(self, ck) -> str | None:
        """File → Compare with…: the model ``ck`` beside the current one on one locked timeline (its chains
        take the same start, seeds, sampler history, condition and edits). None when it runs, else why not."""
        cur = self.model.checkpoint
        if cur is None or self.chain.session is None:
            return "open a model first"
        if tuple(ck.spec.shape) != tuple(cur.spec.shape):
            shape = lambda c: "×".join(map(str, c.spec.shape))  # noqa: E731
            return f"{ck.name} works on {shape(ck)} values, {cur.name} on {shape(cur)}: they cannot share chains"
        if tuple(ck.value_range) != tuple(cur.value_range):
            return f"{ck.name} works in {ck.value_range}, {cur.name} in {cur.value_range}: they cannot share chains"
        self.drop()
        self.first, self.second, self.depths = cur, ck, False
        self._follow_session()
        return None if self.comparison is not None else f"{ck.name}: its chains could not start"

    def _training_failed(self, _msg: str) -> None:
        if self._auto and self.training.is_busy():
            return  # a refusal of another start (or a failed snapshot): our training goes on
        self._auto = False
        self._pending.clear()

    def _training_finished(self, ev) -> None:
        if not self._auto:
            return
        self._auto = False
        run = self.training.run
        if ev.kind != "done":
            self._pending.clear()  # stopped or diverged: use what it kept, go no further
        if run is None or run.final_path is None:
            self._pending.clear()
            return
        try:
            ck = run.checkpoint()
        except CheckpointError as e:
            self.error.emit("Cannot use the trained weights", str(e))
            self._pending.clear()
            return
        if self._use_weights(ck, run.dataset, bool(self._pending)) and self._pending != [-1]:
            run.used = True  # the current model now (Compare depths' second depth: shown beside it instead)
        if not self._pending:
            return
        stage = self._pending.pop(0)
        if stage == -1:
            self._show_comparison(run)
        else:
            self.first = self.model.checkpoint
            self.train(*self._args, depth=stage)

    def _show_comparison(self, run) -> None:
        first, second = self.first, self.model.checkpoint
        if first is None or second is None:
            return
        self.second, self.depths = second, True
        self.training.beside = run  # its weights are in no file: the guard asks before they go
        # The first depth becomes the main chain again; the second runs beside it in lockstep (built when the
        # main chain's session changes: _follow_session).
        self._use_weights(first, self.model.train_data, True)

    def _follow_session(self) -> None:
        """Same start, seed, sampler history, condition and edits as the main chains: only the depth differs."""
        second = self.second
        s = self.chain.session
        if second is None or s is None or s.model is second.model:
            return
        if tuple(second.spec.shape) != tuple(s.shape):
            self.drop()
            return
        start = self.chain.start
        try:
            self.comparison = ChainSession(
                second.model,
                second.spec.shape,
                second.value_range,
                s.config,  # (its history of samplers follows: ChainController.attach_companion)
                start_array=start.array if start is not None else None,
                train=self.model.train_data,
                overlap_nearest=True,  # (as the first model's chains)
            )
        except (ChainError, TimelineError):
            self.drop()
            return
        self.chain.attach_companion(self.comparison)  # stepped by the chain's worker, beside the main chains
        self.comparisonChanged.emit(self.comparison)

    def state(self, t: int):
        """The second depth's state at step t (computed up to t: one timeline)."""
        cs = self.comparison
        if cs is None:
            return None
        if cs.t_max < t:
            cs.advance(t - cs.t_max)
        return cs.state(t)

    def drop(self) -> None:
        had = self.comparison is not None or self.second is not None
        self.comparison, self.second, self.first = None, None, None
        self.training.beside = None
        self.chain.attach_companion(None)
        if had:
            self.comparisonChanged.emit(None)
