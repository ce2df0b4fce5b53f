"""The engines by name: what ``--engine``, ``--workers``, ``--address``, ``--cpus-per-trial`` and
``--gpus-per-trial`` ask for, built in one place for the CLI, the API and the window (no Qt)."""

from __future__ import annotations

from ..errors import EngineError
from .engine import InProcess, LocalEngine

ENGINES = ("local", "ray")


def make_engine(
    name: str = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
):
    """The engine ``kgn … --engine NAME`` names, with its options (the CLI, the API and the window all build
    theirs here). local: ``workers`` trials at once (default 1: in this process); ray: Ray tasks of
    ``cpus_per_trial`` CPUs (default 1) and ``gpus_per_trial`` GPUs (default 0) on the cluster at
    ``address`` (None: a local Ray for the run), at most ``workers`` in flight (None: as resources allow).
    EngineError (one line) for a request that cannot be."""
    if name == "local":
        for given, option in ((address, "--address"), (cpus_per_trial, "--cpus-per-trial")):
            if given is not None:
                raise EngineError(f"{option} is for --engine ray (the local engine shares this machine's cores)")
        if gpus_per_trial:
            raise EngineError("--gpus-per-trial is for --engine ray (the local engine trains on --device)")
        if workers is not None and workers < 1:
            raise EngineError(f"--workers must be ≥ 1, got {workers}")
        return InProcess() if (workers or 1) == 1 else LocalEngine(workers)
    if name == "ray":
        from .ray_engine import RayEngine

        return RayEngine(
            address=address,
            cpus_per_trial=1 if cpus_per_trial is None else cpus_per_trial,
            gpus_per_trial=gpus_per_trial or 0,
            workers=workers,
        )
    raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
