"""The Ray engine (no Qt; Ray is the optional ``cluster`` extra, imported only when this engine runs).

Each trial is one Ray task with the resources it asks for (``cpus_per_trial``, ``gpus_per_trial``: a
fraction shares a GPU); torch in the task uses as many threads as it has CPUs. With an ``address``
(``auto``, or ``HOST:PORT`` of a head started by ``ray start --head``) the trials run on that cluster; without
one a local Ray is started for the run and shut down after it. Ray is told never to run a task again
itself (``max_retries=0``): as in :class:`~kgn_gui.core.experiment.engine.LocalEngine`, a trial whose worker
or node died runs again at most ``retries`` more times, then is recorded as failed with a one-line reason,
and the attempts are counted. A trial that raises fails at once with its one-line message.

The tasks receive a trial's keyword arguments (settings, a data source's name or path, an output folder)
and the data cache's folder (``KGN_CACHE``, core.data.cache): never arrays. Every node must have kgn-gui installed and see the paths the trials name (shared storage).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable

from ..errors import EngineError
from .engine import RETRIES, Outcome, Trial, reason, run_in_worker

INSTALL = 'pip install "kgn-gui[cluster]"'
PASSED_ON = ("KGN_CACHE", "KGN_CACHE_MAX_GB")  # environment each task gets from the driver


def _ray():
    try:
        import ray
    except ImportError:
        raise EngineError(f"--engine ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


class RayEngine:
    """Trials as Ray tasks. address: None (a local Ray for the run), ``auto`` or ``HOST:PORT``. workers: the
    most trials in flight at once (None: as many as the cluster's free resources take)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        cpus_per_trial: float = 1,
        gpus_per_trial: float = 0,
        workers: int | None = None,
        retries: int = RETRIES,
        poll_s: float = 0.2,
    ):
        if not (isinstance(cpus_per_trial, (int, float)) and math.isfinite(cpus_per_trial) and cpus_per_trial > 0):
            raise EngineError(f"--cpus-per-trial must be a number > 0, got {cpus_per_trial!r}")
        if not (isinstance(gpus_per_trial, (int, float)) and math.isfinite(gpus_per_trial) and gpus_per_trial >= 0):
            raise EngineError(f"--gpus-per-trial must be a number ≥ 0, got {gpus_per_trial!r}")
        if gpus_per_trial > 1 and gpus_per_trial != int(gpus_per_trial):
            raise EngineError(f"--gpus-per-trial above 1 must be whole, got {gpus_per_trial:g}")
        if workers is not None and workers < 1:
            raise EngineError(f"workers must be ≥ 1, got {workers}")
        if address is not None and not str(address).strip():
            raise EngineError("--address is empty: give auto or HOST:PORT")
        _ray()  # not installed: the one line now, before any work
        if address not in (None, "auto"):
            _check_reachable(str(address))
        self.address = address
        self.cpus, self.gpus = float(cpus_per_trial), float(gpus_per_trial)
        self.workers, self.retries, self.poll_s = workers, retries, poll_s
        self.threads = max(1, int(self.cpus))

    def _start(self, ray) -> bool:
        """Join the cluster (or start a local Ray); True when this call started it (and so shuts it down)."""
        if ray.is_initialized():
            return False
        quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        try:
            if self.address is None:
                ray.init(num_cpus=os.cpu_count() or 1, **quiet)
            else:
                ray.init(address=self.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as e:
            if self.address == "auto" and isinstance(e, ConnectionError):
                raise EngineError(
                    "--address auto found no running Ray cluster: start one with `ray start --head`, "
                    "or leave --address out for a local Ray"
                ) from None
            where = "a local Ray" if self.address is None else f"the Ray cluster at {self.address}"
            raise EngineError(f"could not start or join {where}: {reason(e)}") from None
        return True

    def run(
        self,
        fn: Callable[..., dict],
        trials: Iterable[Trial],
        on_outcome: Callable[[Outcome], None],
        cancelled: Callable[[], bool] | None = None,
        on_retry: Callable[[Trial, str], None] | None = None,
    ) -> None:
        """Returns when every trial has an outcome, or (the tasks cancelled) when ``cancelled()``."""
        ray = _ray()
        from ray.exceptions import RayError, RayTaskError

        todo = list(trials)
        if not todo:
            return
        started = self._start(ray)
        options = dict(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=0)
        passed = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
        if passed:  # the data cache's folder (kgn --cache): the tasks map it instead of decoding again
            options["runtime_env"] = {"env_vars": passed}
        task = ray.remote(run_in_worker).options(**options)
        attempts: dict[tuple, int] = {}
        pending: dict = {}  # ObjectRef → trial
        t_sent: dict[tuple, float] = {}
        try:
            while todo or pending:
                if cancelled is not None and cancelled():
                    return
                while todo and (self.workers is None or len(pending) < self.workers):
                    trial = todo.pop(0)
                    attempts[trial.key] = attempts.get(trial.key, 0) + 1
                    t_sent[trial.key] = time.monotonic()
                    pending[task.remote(fn, trial, self.threads)] = trial
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    trial = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except RayTaskError as e:  # run_in_worker catches a trial's errors: this is Ray's own
                        out = Outcome(trial, None, error=reason(e))
                    except RayError as e:  # the worker or its node died: killed, out of memory, lost
                        if attempts[trial.key] <= self.retries:
                            todo.insert(0, trial)
                            if on_retry is not None:
                                a = attempts[trial.key]
                                on_retry(trial, f"its worker died ({type(e).__name__}); running it again "
                                         f"(attempt {a + 1} of {self.retries + 1})")  # fmt: skip
                            continue
                        why = f"its worker died {attempts[trial.key]} times (last: {reason(e)})"
                        out = Outcome(trial, None, error=why, seconds=time.monotonic() - t_sent[trial.key])
                    out.attempts = attempts[trial.key]
                    on_outcome(out)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) answers a TCP connection within ``timeout_s``: else EngineError at
    once (Ray itself would retry a dead address for minutes)."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EngineError(f"--address {address!r}: give auto or HOST:PORT (the head's address, e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise EngineError(
            f"no Ray cluster answers at {address} ({why}): start one there with `ray start --head`"
        ) from None
