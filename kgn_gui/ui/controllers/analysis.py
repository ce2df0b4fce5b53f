"""Measures of the current chains and model: the shown step's measures, the attractor audit, basin recovery,
the mixing scan and the depth sweep. All run off the GUI thread as Jobs (one at a time each); the sweep's Job
follows a child process that runs core's sweep.

Signals (GUI thread): ``measured(int, Analysis)`` the shown step t measured; ``audited((AttractorAudit, FixedPointCensus))``;
``recovered(list, list, list)`` σ values, recovery rates and their chance levels; ``mixed(list)`` the mixing scan's rows; ``busy(str)``
the long job running ("" when none); ``progress(int, int)``; ``status(str)`` a one-line state ("measures need …", "measuring failed: …");
``sweepStarted(int)`` a sweep of that many trials began; ``sweepTrial(dict, int, int)`` a trial's row as
it finishes (done, total); ``sweepDone(str)`` the sweep's output folder; ``cleared(bool)`` the numbers shown belong to chains that are
gone (a new start; True: a new model or new weights too, so the audit and recovery go as well);
``current(bool)`` whether the measures shown belong to the step shown (views grey them when not).
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from ...core.errors import Cancelled
from ...core.measure import analysis, distribution, dynamics
from ...core.measure.fixed_points import fixed_point_census
from ..jobs import Job

MIXING_EPS = (0.0, 0.003, 0.01, 0.03, 0.1)
MIXING_KINDS = ("normal", "uniform", "none")
CENSUS_STARTS = 8  # training examples (and as many chains) the audit's root finding starts from: ~1 min on MNIST


class AnalysisController(QtCore.QObject):
    measured = QtCore.Signal(int, object)
    audited = QtCore.Signal(object)
    recovered = QtCore.Signal(list, list, list)
    mixed = QtCore.Signal(list)  # the mixing scan's rows {noise, eps, mixing_class, mixing_nearest, burn_in}
    busy = QtCore.Signal(str)
    progress = QtCore.Signal(int, int)
    status = QtCore.Signal(str)
    sweepDone = QtCore.Signal(str)
    sweepTrial = QtCore.Signal(dict, int, int)  # a finished trial's row, trials done, trials in all
    sweepStarted = QtCore.Signal(int)  # a sweep of this many trials began
    cleared = QtCore.Signal(bool)
    current = QtCore.Signal(bool)  # whether the numbers shown are of the step shown (False: another step's)

    def __init__(self, model, chain, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.model, self.chain = model, chain
        self.measure_job: Job | None = None
        self.job: Job | None = None  # the audit or the recovery
        self.sweep = None
        self.measured_t: int | None = None  # the step the shown measures belong to
        self._again = False  # a measurement was asked for while one ran
        self._current = False
        chain.stepShown.connect(lambda t: self._set_current(self.measured_t == t))
        chain.playingChanged.connect(self._playing)
        chain.sessionChanged.connect(lambda: self._invalidate(False))
        model.modelChanged.connect(lambda _ck: self._invalidate(True))

    def _invalidate(self, model_too: bool) -> None:
        # Measures of the old chains: cancelled, and an answer that still comes is dropped (_measured).
        if self.measure_job is not None and self.measure_job.running():
            self.measure_job.cancel()
        self.measured_t = None
        self._again = False
        self._set_current(False)
        if model_too and self.job is not None and self.job.running():
            self.job.cancel()  # an audit or recovery of the old weights
        self.cleared.emit(model_too)

    def _set_current(self, current: bool) -> None:
        if current != self._current:
            self._current = current
            self.current.emit(current)

    def _playing(self, playing: bool) -> None:
        if playing and self.measure_job is not None and self.measure_job.running():
            # A measure of the step playing leaves behind would take a core from the chains for seconds (at
            # launch: 13 s, the feature space's first making, while frames fell by a third; issue 31).
            self.measure_job.cancel()
            self._again = False
            self.status.emit("measuring stopped: playing (pause to measure the shown step)")
            return
        if playing and self.measured_t is not None:
            self.status.emit(f"measures of step {self.measured_t}; playing: pause to measure the shown step")

    def _inputs(self):
        s, ck, ds = self.chain.session, self.model.checkpoint, self.model.train_data
        if s is None or ck is None or ds is None or ds.D != ck.spec.D:
            self.status.emit("measures need the model's training data (open a bundled model, or train one)")
            return None
        return s, ck, ds

    @staticmethod
    def _reference_progress(ds, progress):
        """The Job's progress while a feature space is made for ``ds`` (a classifier trained on demand the
        first time a labelled data set other than MNIST is measured; cached after that)."""
        return lambda done, total: progress(
            done, total, f"training a feature classifier for {ds.name} ({done}/{total})"
        )

    # -- the shown step
    def measure_now(self) -> Job | None:
        """Measure the shown step in the background (convergence, copies, distribution measures with their
        intervals and real-data baselines, output range)."""
        if self.chain.playing:
            self.status.emit("playing: pause the chain to measure the shown step")
            return None
        got = self._inputs()
        if got is None:
            return None
        if self.measure_job is not None and self.measure_job.running():
            self._again = True  # measured when this one ends (the first one makes the feature space: seconds)
            return None
        self._again = False
        s, ck, ds = got
        t = self.chain.view_t
        residuals = np.array(s.curves.chains("residual")[:t])  # a copy: the curves grow while it measures
        tol = dynamics.converge_tolerance(ck.value_range)
        n = s.n
        comp = self.chain.companion  # a second model beside the first (Compare with…): measured alike
        if comp is not None:
            self.chain._catch_up(comp, t)  # (the views compute it as they show the step; paused, it is there)
        comp_res = None if comp is None else np.array(comp.curves.chains("residual")[:t])

        def work(progress, cancelled):
            # The states are fetched here, not in the GUI thread: past steps are replayed from keyframes.
            final = s.state(t)
            if cancelled():
                raise Cancelled("measuring cancelled")
            reference = distribution.reference_for(
                ds, n, progress=self._reference_progress(ds, progress), cancelled=cancelled
            )
            if cancelled():
                raise Cancelled("measuring cancelled")
            a = analysis.measure_states(
                ck.model, ck.spec, final, residuals, ds.x, tol=tol, reference=reference, train_t=s.train_tensor(),
                cancelled=cancelled,
            )  # fmt: skip
            # τ and ESS over the steps before t, and the distribution at t/10 and t/3: is it stationary?
            a.ess, a.over_t = analysis.measure_history(
                s.state, t, a.burn_in, ds.x, reference, over_t=analysis.over_t_steps(t), train_t=s.train_tensor(),
                cancelled=cancelled,
            )  # fmt: skip
            if comp is not None:  # (the same shape and value range: the first's spec serves)
                a.second = analysis.measure_states(
                    comp.model, ck.spec, comp.state(t), comp_res, ds.x, tol=tol, reference=reference,
                    train_t=comp.train_tensor(), cancelled=cancelled,
                )  # fmt: skip
                a.second.ess, _ = analysis.measure_history(
                    comp.state, t, a.second.burn_in, ds.x, train_t=comp.train_tensor(), cancelled=cancelled
                )
            return a

        job = Job(work, "measure", self)
        session = s
        job.message.connect(lambda msg: self._measure_message(session, msg))
        job.done.connect(lambda a: self._measured(session, t, a))
        job.failed.connect(lambda msg: None if job.was_cancelled else self.status.emit(f"measuring failed: {msg}"))
        job.done.connect(self._measure_again)
        job.failed.connect(self._measure_again)
        self.status.emit(f"measuring step {t}…")
        self.measure_job = job.start()
        return job

    def _measure_message(self, session, msg: str) -> None:
        if session is self.chain.session:
            self.status.emit(msg)

    def _measured(self, session, t: int, a) -> None:
        if session is not self.chain.session:
            return  # the chains changed while it measured: the numbers belong to nothing shown
        self.measured_t = t
        self.measured.emit(t, a)
        self._current = self.chain.view_t == t
        self.current.emit(self._current)  # always: numbers shown for the first time may be of another step

    def _measure_again(self, _result=None) -> None:
        """A request that came while the last measurement ran: the shown step now, unless it is the one just
        measured or the chain plays (new chains cancel it: _invalidate)."""
        if self._again and not self.chain.playing and self.measured_t != self.chain.view_t:
            QtCore.QTimer.singleShot(0, self.measure_now)
        self._again = False

    # -- audit, recovery and the mixing scan (the model's: one at a time)
    def _start(self, what: str, work, on_done) -> Job | None:
        if self.job is not None and self.job.running():
            self.status.emit(f"{self.job.title} is still running")
            return None
        ck = self.model.checkpoint
        job = Job(work, what, self)
        job.progress.connect(self.progress)
        job.message.connect(self.status)

        def done(result) -> None:
            self.busy.emit("")
            if self.model.checkpoint is ck:  # an answer about weights that are gone is dropped
                on_done(result)

        job.done.connect(done)
        job.failed.connect(lambda msg: (self.busy.emit(""), self.status.emit(f"{what}: {msg}")))
        self.busy.emit(what)
        self.job = job.start()
        return job

    def attractor_audit(self, n: int = 32) -> Job | None:
        """The attractor audit of ``n`` training examples, then the fixed-point census (root finding) from
        min(n, CENSUS_STARTS) of them and as many chains at the shown step. ``audited((audit, census))``."""
        got = self._inputs()
        if got is None:
            return None
        s, ck, ds = got
        t, k = self.chain.view_t, min(n, CENSUS_STARTS)

        def work(progress, cancelled):
            audit = dynamics.attractor_audit(
                ck.model, ck.value_range, ds.x, n=n, progress=progress, cancelled=cancelled
            )
            ends = s.state(t)[:k]
            census = fixed_point_census(
                ck.model, ds.x, n=k, chain_ends=ends, progress=progress, cancelled=cancelled
            )  # fmt: skip
            return audit, census

        return self._start("attractor audit", work, self.audited.emit)

    def basin_recovery(self, sigmas: list[float]) -> Job | None:
        got = self._inputs()
        if got is None:
            return None
        _, ck, ds = got
        return self._start(
            "basin recovery",
            lambda p, c: dynamics.recovery_census(ck.model, ck.value_range, ds.x, sigmas, progress=p, cancelled=c),
            lambda rec: self.recovered.emit(
                list(sigmas), [float(r) for r in rec.rates], [float(c) for c in rec.chance]
            ),
        )

    def mixing_scan(self, steps: int = 200) -> Job | None:
        """How often each chain's class (or nearest training example) changes after burn-in, for each ε of
        MIXING_EPS and noise kind of MIXING_KINDS: fresh chains from the current start, ``steps`` steps each
        (core's ``measure.analysis.mixing_scan``)."""
        got = self._inputs()
        if got is None:
            return None
        s, ck, ds = got
        cfg = s.config
        array_start = cfg.start not in ("uniform", "normal")

        def work(progress, cancelled):
            start_array = s.state(0) if array_start else None
            ref = distribution.reference_for(
                ds, cfg.n, progress=self._reference_progress(ds, progress), cancelled=cancelled
            )
            if cancelled():
                raise Cancelled("mixing scan cancelled")
            return analysis.mixing_scan(
                ck.model,
                ck.spec,
                cfg,
                int(steps),
                ds.x,
                ref,
                eps_list=MIXING_EPS,
                kinds=MIXING_KINDS,
                start_array=start_array,
                progress=lambda d, n: progress(d, n, f"mixing scan: run {d} of {n} ({int(steps)} steps each)"),
                cancelled=cancelled,
            )

        return self._start("mixing scan", work, lambda rows: self.mixed.emit(list(rows)))

    def cancel(self) -> None:
        for j in (self.job, self.sweep):
            if j is not None and j.running():
                j.cancel()

    # -- depth sweep (a child process: training many models in the GUI's process would stall it)
    def start_sweep(self, config, folder: str, engine: dict | None = None) -> Job | None:
        """``core.experiment.sweep.run_sweep(config)`` into ``folder`` in a child process (core.sweep_worker), followed
        by a Job: progress and what runs now in the Analysis dock, each finished trial as ``sweepTrial``, Cancel
        stops the child. ``engine``: make_engine's options, built in the child (default: the trials there)."""
        from ...core.experiment.sweep_worker import run_sweep_in_child

        if self.sweep is not None and self.sweep.running():
            self.status.emit("a depth sweep is already running")
            return None

        def work(p, c):
            trial = self.sweepTrial.emit  # from the Job's thread: queued to the GUI thread
            return run_sweep_in_child(config, folder, progress=p, cancelled=c, engine=engine, on_trial=trial)

        job = Job(work, "depth sweep", self)
        job.progress.connect(self.progress)
        job.message.connect(self.status)
        job.done.connect(lambda _rows: (self.busy.emit(""), self.sweepDone.emit(str(folder))))
        job.failed.connect(lambda msg: (self.busy.emit(""), self.status.emit(f"depth sweep: {msg}")))
        self.busy.emit("depth sweep")
        self.sweepStarted.emit(len(config.runs))
        self.sweep = job.start()
        return job

    def shutdown(self) -> None:
        """Cancel and wait for what runs (on window close): torch code still running in a daemon thread when
        the interpreter ends aborts the process."""
        for j in (self.sweep, self.job, self.measure_job):
            if j is not None and j.running():
                j.cancel()
                j.wait(120.0)
