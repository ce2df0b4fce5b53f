"""Plays a :class:`~kgn_gui.core.chain.session.ChainSession`: compute in a worker thread, display on a timer.

The worker thread advances the chain as fast as the chosen speed asks (steps/s); the display
timer (16 ms) only *reads* the newest step and emits ``stepShown`` when the shown step changes,
so compute speed and frame rate are independent (the ScopeFoundry pattern). Scrubbing,
stepping and seeking set the shown step in the GUI thread; a paused jump to a step that must be
replayed from its keyframe (seconds, for long histories of many chains) is replayed by the worker
thread — the window keeps the previous frame, says ``replaying(t)``, and shows the step when it is ready.

The worker logs when each step was reached and how long it took to compute; over a sliding window that
gives the step rate actually run, and ``rateNote`` says when it falls short of the speed asked, and why.
"""

from __future__ import annotations

import sys
import threading
import time

from PySide6 import QtCore

from ...core.chain.sampler import Sampler
from ...core.chain.session import ChainSession
from ...core.chain.start import Start
from .undo import ChainUndo


class ChainController(QtCore.QObject):
    """The single current step shared by every view. Signals (GUI thread):

    stepShown(int): the shown step changed (or must be redrawn). playingChanged(bool).
    sessionChanged(): a new session (model, start or chain count) replaced the old one; every view that
    shows the chains resets from it (before the first stepShown of the new session).
    replaying(int): a paused jump to this step is being replayed from a keyframe.
    provisional(int, int): (k, t) while t is replayed, the nearest stored exact state x_k is at hand in
    ``provisional_state`` (k, x_k): the views show it, labelled as step k, until step t follows.
    error(str): the worker failed (the chain stops; the app stays usable).
    rateNote(str): the chain runs slower than the speed asked, and why ("" when the speed is met or paused)."""

    stepShown = QtCore.Signal(int)
    replaying = QtCore.Signal(int)
    provisional = QtCore.Signal(int, int)
    playingChanged = QtCore.Signal(bool)
    sessionChanged = QtCore.Signal()
    error = QtCore.Signal(str)
    rateNote = QtCore.Signal(str)

    rate_window_s = 2.0  # the step rate is measured over this much of the latest history (longer for slow steps)
    rate_tolerance = 0.9  # a rate within 10 % of the asked one is met
    rate_note_interval_s = 0.5  # rateNote is looked at this often

    def __init__(self, parent: QtCore.QObject | None = None, frame_ms: int = 13):
        super().__init__(parent)
        # A torch kernel releases the GIL; getting it back waits for the other thread's switch interval
        # (5 ms by default). With ~30 kernels a step, the default would starve the worker whenever the GUI
        # thread runs Python; 0.5 ms keeps both moving.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0001))
        self.session: ChainSession | None = None
        self.start: Start | None = None  # where the current chains began (for reset, bundles and comparisons)
        self.view_t = 0
        self.speed = 30.0
        self._playing = False
        self._play_origin = (0.0, 0)  # (wall time, step) when play began
        self._shown = -1
        self._force = False
        self._replay_to: int | None = None  # a paused jump the worker is replaying
        self._replayed: int | None = None  # … and has replayed (shown next, even if its cache entry went)
        self.provisional_state: tuple[int, object] | None = None  # (k, x_k) shown while the worker replays
        self.companion: ChainSession | None = None  # a session stepped in lockstep with this one (Compare depths)
        self.undo = ChainUndo(self)  # Edit → Undo / Redo of the three changes below
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._error: str | None = None
        self._steps_log: list[tuple[float, int, float]] = []  # (when, step reached, seconds it took to compute)
        self._rate_since = 0.0  # the rate is measured from here on (play, a new speed, session or noise)
        self._rate_note = ""
        self._rate_checked = 0.0
        self.frames = 0
        self._frame_log: list[float] = []
        self._thread = threading.Thread(target=self._work, name="kgn-chain", daemon=True)
        self._thread.start()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(frame_ms)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    # -- session
    def begin(self, ck, start: Start, sampler: Sampler, train=None, *, lab=None) -> ChainSession:
        """Start new chains of the model ``ck`` from ``start`` (a core.chain.start.Start) that step with ``sampler``;
        ``train``: the data the live nearest-training curve measures against; ``lab``: a core.chain.lab.Lab (a
        condition). Raises ChainError or TimelineError (the old session stays) with a one-line message."""
        session = ChainSession(
            ck.model,
            ck.spec.shape,
            ck.value_range,
            start.chain_config(sampler),
            start_array=start.array,
            train=train,
            history_disk=True,
            lab=lab,
            overlap_nearest=True,  # the display's core is mostly free: the curve's search runs there
        )
        self.start = start
        self.set_session(session)
        return session

    def set_session(self, session: ChainSession) -> None:
        was = self._playing
        self.pause()
        self.session = session
        self._replay_to = None
        self.view_t = 0
        self._steps_log.clear()
        self._rate_since = time.perf_counter()
        self.sessionChanged.emit()
        self.redraw()
        if was:
            self.play()

    @property
    def t_max(self) -> int:
        return self.session.t_max if self.session else 0

    # -- transport
    @property
    def playing(self) -> bool:
        return self._playing

    def play(self) -> None:
        if self.session is None or self._playing:
            return
        self._play_origin = (time.perf_counter(), self.view_t)
        self._rate_since = self._play_origin[0]
        self._playing = True
        self._wake.set()
        self.playingChanged.emit(True)

    def pause(self) -> None:
        """Stop playing; every view is brought to the shown step at the next frame (the plots, which follow
        a playing chain only a few times a second, included)."""
        if self._playing:
            self._playing = False
            self.redraw()
            self.playingChanged.emit(False)

    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    def set_speed(self, steps_per_s: float) -> None:
        self._play_origin = (time.perf_counter(), self.view_t)
        self._rate_since = self._play_origin[0]
        self.speed = max(0.1, float(steps_per_s))

    def seek(self, t: int) -> None:
        """Show step t (clamped to what has been reached); pauses playback."""
        self.pause()
        if self.session is None:
            return
        self.view_t = max(0, min(int(t), self.session.t_max))
        self.redraw()

    def step_by(self, k: int) -> None:
        """k steps forward (computing new ones past the head) or back."""
        self.pause()
        if self.session is None:
            return
        target = max(0, self.view_t + k)
        if target > self.session.t_max:
            self.session.advance(target - self.session.t_max)
        self.view_t = target
        self.redraw()

    def show_now(self, t: int) -> None:
        """Pause, compute up to step t if needed and show it at once (every view redraws before this
        returns): for rendering views into an export frame by frame."""
        self.pause()
        if self.session is None:
            return
        if t > self.session.t_max:
            self.session.advance(t - self.session.t_max)
        self.view_t = self._shown = int(t)
        self._force = False
        self.stepShown.emit(self.view_t)

    def go_end(self) -> None:
        self.seek(self.t_max)

    # -- what the chains do: the main session and its companion alike
    def set_sampler(self, sampler: Sampler) -> None:
        """Step with ``sampler`` from the shown step on (the companion too); the history after it is recomputed
        as needed."""
        if self.session is None:
            return
        t = self.view_t

        def change():
            self.session.set_sampler(sampler, at=t)
            other = self.companion
            if other is not None:
                self._catch_up(other, t)
                other.set_sampler(sampler, at=t)

        self.undo.record(f"the sampler change at step {t:,}", t, change)
        self._play_origin = (time.perf_counter(), self.view_t)
        self._rate_since = self._play_origin[0]
        self.redraw()

    def add_edit(self, edit) -> None:
        """A live edit (core.chain.lab.Edit) of the chains, and of the companion's. Raises ChainError / LabError."""

        def change():
            self.session.add_edit(edit)
            other = self.companion
            if other is not None:
                self._catch_up(other, int(edit.t) - other.offset)
                other.add_edit(edit)

        what = "brush stroke" if edit.kind == "brush" else edit.kind
        self.undo.record(f"the {what} at step {int(edit.t):,}", int(edit.t) - self.session.offset, change)

    def set_condition(self, condition) -> None:
        """Condition the chains (and the companion's) from their start, or stop. Raises ChainError."""

        def change():
            self.session.set_condition(condition)
            if self.companion is not None:
                self.companion.set_condition(condition)

        self.undo.record("the condition" if condition is not None else "dropping the condition", 0, change)

    def attach_companion(self, other: ChainSession | None) -> None:
        """Step ``other`` in lockstep with the chains (Compare depths' second depth): it takes their history of
        samplers, their condition and their edits, so the two differ only in their model."""
        s = self.session
        if other is not None and s is not None:
            if s.lab.condition is not None:
                other.set_condition(s.lab.condition)
            # In the order they happened at: a step's sampler before its edits (a sampler drops later edits).
            events = [(t, 0, sampler) for t, sampler in s.sampler_changes()]
            events += [(e.t - s.offset, 1, e) for e in s.lab.all_edits()]
            for t, is_edit, what in sorted(events, key=lambda ev: ev[:2]):
                self._catch_up(other, t)
                if is_edit:
                    other.add_edit(what)
                else:
                    other.set_sampler(what, at=t)
        self.companion = other

    @staticmethod
    def _catch_up(other: ChainSession, t: int) -> None:
        if other.t_max < t:
            other.advance(t - other.t_max)

    def redraw(self) -> None:
        self._force = True

    # -- worker: compute
    def _desired(self) -> int:
        t0, s0 = self._play_origin
        return s0 + int((time.perf_counter() - t0) * self.speed)

    def _work(self) -> None:
        while not self._stop.is_set():
            sess = self.session
            if not self._playing or sess is None or self._error:
                t = self._replay_to
                if t is not None and sess is not None and not self._error:
                    try:
                        sess.state(t)  # replays from the keyframe and caches the stretch up to t
                    except Exception as e:  # a worker must never take the app down
                        self._error = f"could not replay step {t}: {type(e).__name__}: {e}"
                    if self._replay_to == t:
                        self._replay_to = None
                    self._replayed = t
                    self._force = True
                    continue
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            if self._desired() > sess.t_max:
                began = time.perf_counter()
                try:
                    sess.advance(1)
                    other = self.companion  # Compare depths' second depth, in lockstep: computed here, not
                    if other is not None and other.t_max < sess.t_max:  # by the display when it draws
                        other.advance(sess.t_max - other.t_max)
                except Exception as e:  # a worker must never take the app down
                    self._error = f"the chain stopped: {type(e).__name__}: {e}"
                    continue
                now = time.perf_counter()
                self._steps_log.append((now, sess.t_max, now - began))
                if len(self._steps_log) > 400:
                    del self._steps_log[:200]
            else:
                time.sleep(min(0.005, 0.5 / self.speed))

    # -- display: pull
    def _tick(self) -> None:
        now = time.perf_counter()
        if now - self._rate_checked > self.rate_note_interval_s:
            self._rate_checked = now
            note = self.rate_note()
            if note != self._rate_note:
                self._rate_note = note
                self.rateNote.emit(note)
        if self._error:
            msg, self._error = self._error, None
            self.pause()
            self.error.emit(msg)
        if self.session is None:
            return
        if self._playing:
            self.view_t = min(self._desired(), self.session.t_max)
        if self.view_t != self._shown or self._force:
            if not self._playing and self._replayed != self.view_t and not self.session.ready(self.view_t):
                if self._replay_to != self.view_t:  # the worker replays; meanwhile the nearest stored state
                    t = self.view_t
                    # Before the worker takes the lock for its replay; a lock held by an earlier replay is
                    # not waited for long (the last frame stays instead).
                    near = self.session.nearest_stored(t, wait_s=0.03)
                    self._replay_to = t
                    self._wake.set()
                    self.replaying.emit(t)
                    if near is not None:
                        self.provisional_state = near
                        self.provisional.emit(near[0], t)
                return
            self._force = False
            self._replayed = None
            self._shown = self.view_t
            self.stepShown.emit(self.view_t)
            now = time.perf_counter()
            self._frame_log.append(now)
            self.frames += 1
            if len(self._frame_log) > 240:
                del self._frame_log[:120]

    def chain_rate(self) -> float:
        """Chain steps per second over the sliding window of :meth:`_rate_log`."""
        return _steps_per_s(self._rate_log())

    def _rate_log(self) -> list[tuple[float, int, float]]:
        """The steps computed in the sliding window since the rate was last reset: the last ``rate_window_s``,
        or three steps' time when a step takes longer than that."""
        log = self._steps_log[:]  # a copy: the worker appends meanwhile
        if not log:
            return []
        window = max(self.rate_window_s, 3 * log[-1][2])
        since = max(time.perf_counter() - window, self._rate_since)
        return [e for e in log if e[0] >= since]

    def rate_note(self) -> str:
        """While playing at the head of the chain: "" when the speed asked is met (within 10 %), else what runs,
        what was asked and why — "running 15 steps/s of the 30 asked: each step takes 66 ms to compute
        (compute bound)". Needs three steps over half a second of the window before it says anything."""
        log = self._rate_log()
        if not self._playing or self.session is None or len(log) < 3 or log[-1][0] - log[0][0] < 0.5:
            return ""
        compute = sum(e[2] for e in log[1:]) / (len(log) - 1)  # the steps the rate's span covers
        return slow_rate_note(_steps_per_s(log), compute, self.speed, self.rate_tolerance)

    def frame_rate(self) -> float:
        log = [t for t in self._frame_log if t > time.perf_counter() - 2.0]
        if len(log) < 2:
            return 0.0
        return (len(log) - 1) / max(log[-1] - log[0], 1e-6)

    def shutdown(self) -> None:
        self.pause()
        self.timer.stop()
        self._stop.set()
        self._wake.set()
        self._thread.join(5.0)


def _steps_per_s(log: list[tuple[float, int, float]]) -> float:
    """Steps per second over a log of (when, step reached, compute seconds): 0 with fewer than two."""
    if len(log) < 2:
        return 0.0
    return (log[-1][1] - log[0][1]) / max(log[-1][0] - log[0][0], 1e-6)


def slow_rate_note(rate: float, step_s: float, asked: float, tolerance: float = 0.9) -> str:
    """What to say of a chain running ``rate`` steps/s, each step computing in ``step_s`` seconds, when
    ``asked`` steps/s were asked: "" when ``rate`` is at least ``tolerance`` × ``asked``; compute bound when
    computing alone takes (nearly) the whole time a step is given, else the rest waited for the CPU."""
    if rate >= tolerance * asked:
        return ""
    ran = f"running {_num(rate)} steps/s of the {_num(asked)} asked"
    if step_s * asked >= tolerance:
        return f"{ran}: each step takes {step_s * 1000:.0f} ms to compute (compute bound)"
    wait = 1000 / max(rate, 1e-9) - step_s * 1000
    return (
        f"{ran}: a step computes in {step_s * 1000:.0f} ms and waits {wait:.0f} ms more for the CPU "
        "(the display and other programs share it)"
    )


def _num(v: float) -> str:
    """A rate as people say it: 15, 6.5, 0.5."""
    return f"{v:.0f}" if v >= 10 or v == round(v) else f"{v:.1f}"
