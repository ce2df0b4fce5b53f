"""Training in a child process: the entry point the window's training controller spawns.

Why a process and not a thread: on two cores a training thread inside the GUI process shares
the GIL, the garbage collector and the allocator with the event loop, and the loop stalled for
11–62 ms (bench/ui_frame_rate.py); with training in its own process the loop's longest gap
stays near its idle 6 ms. A crash in training can no longer take the window down either.

Protocol (the types are in ``core/messages.py``). The parent sends a :class:`Command` over a pipe:
PAUSE, RESUME, STOP, SNAPSHOT, SHARE_CORES / ALL_CORES (torch's threads from the next step: all the
machine's cores but one, or all; anything else is ignored). job["nice"]: the child lowers its priority by
that much. The child answers on a queue with:

* ``Progress(event, first, losses)``: a TrainEvent; ``losses`` are the per-step losses of steps
  first+1 … first+len(losses) not sent before;
* ``Snapshot(path)``: the current weights, saved as a model file (for "use current weights"), or
  ``SnapshotFailed(message)``;
* ``RecoverySaved(path)``: a recovery checkpoint was written (job["recovery"]: folder, every_s, source,
  app_pid; see ``core/model/recovery.py``): every ``every_s`` seconds and once more at the end, so if the app
  dies the weights survive it; the app deletes the file once it has the result. ``TrainWarning(message)``
  when it could not be written (training goes on);
* ``Ended(event, path, recipe)``: training finished (done, stopped or diverged) and its best weights are
  saved at ``path``;
* ``Failed(message)``: training could not start or failed; nothing more follows.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from ..messages import Command, Ended, Failed, Progress, RecoverySaved, Snapshot, SnapshotFailed, TrainWarning


def cores_for_training(window_busy: bool) -> int:
    """torch threads for the training child: every core while the window rests, all but one while it computes
    (the controller starts the child with this count and sends SHARE_CORES / ALL_CORES as it changes)."""
    cores = os.cpu_count() or 1
    return max(1, cores - 1) if window_busy else cores


def train_worker(job: dict, out_q, ctrl) -> None:
    """Child-process main. job: spec (dict), config (dict), source (key, value range, image size)
    or data (Dataset fields), threads, out_dir."""
    try:
        import torch

        if job.get("nice"):  # below the window that plays: it keeps its frames, and an idle window loses
            with contextlib.suppress(OSError):  # nothing (an idle window takes no CPU from training)
                os.nice(int(job["nice"]))
        torch.set_num_threads(int(job.get("threads", 1)))
        from ..data.dataset import Dataset
        from ..data.sources import open_source
        from .architectures import ModelSpec
        from .train import TrainConfig, Trainer, TrainHooks

        if job.get("source") is not None:
            key, vr, size = job["source"]
            ds = open_source(key, tuple(vr), image_size=tuple(size))
        else:
            ds = Dataset(**job["data"])
        spec = ModelSpec.from_dict(job["spec"])
        cfg = job["config"]
        cfg = TrainConfig(**{**cfg, "betas": tuple(cfg["betas"])})
        tr = Trainer(spec, ds, cfg)
    except Exception as e:  # the parent shows this as a dialog: a message, not a traceback
        out_q.put(Failed(f"training could not start: {e}"))
        return

    out_dir = Path(job["out_dir"])
    snapshots = [0]

    def save(name: str, best: bool = True) -> str:
        return str(tr.save(out_dir / f"{name}.safetensors", name=name, best=best))

    def control() -> None:
        while True:
            try:
                cmd = ctrl.recv()
            except (EOFError, OSError):  # the parent went away: stop, never train on as an orphan
                tr.stop()
                return
            match cmd:
                case Command.PAUSE:
                    tr.pause()
                case Command.RESUME:
                    tr.resume()
                case Command.STOP:
                    tr.stop()
                case Command.SHARE_CORES | Command.ALL_CORES:
                    tr.set_threads(cores_for_training(cmd is Command.SHARE_CORES))
                case Command.SNAPSHOT:
                    snapshots[0] += 1
                    try:
                        out_q.put(Snapshot(save(f"snapshot-{snapshots[0]}", best=False)))
                    except Exception as e:
                        out_q.put(SnapshotFailed(str(e)))
                case _:  # not a command: ignored
                    pass

    threading.Thread(target=control, name="kgn-train-control", daemon=True).start()
    from .recovery import recovery_name
    from .recovery import save_recovery as write_recovery

    rec = job.get("recovery")
    rec_name = recovery_name()  # one file per run, rewritten each time

    def save_recovery(_tr=None) -> None:
        try:
            p = write_recovery(
                Path(rec["folder"]),
                tr.model,
                spec,
                ds,
                tr.recipe(),
                step=tr.step,
                steps=cfg.steps,
                source=rec.get("source"),
                app_pid=rec["app_pid"],
                name=rec_name,
            )
            out_q.put(RecoverySaved(str(p)))
        except Exception as e:  # a full disk must not stop training: say so, try again next time
            out_q.put(TrainWarning(f"could not write the recovery checkpoint: {e}"))

    sent = [0]

    def progress(ev) -> None:
        n = tr.step
        out_q.put(Progress(ev, sent[0], tr.losses[sent[0] : n].copy()))
        sent[0] = n

    hooks = TrainHooks(progress, save_recovery if rec else None, rec.get("every_s", 60) if rec else 0.0)
    try:
        last = tr.run(hooks)
        if rec:
            save_recovery()  # the final (best) weights: kept until the app has them
        path = save("trained")
        out_q.put(Ended(last, path, tr.recipe()))
    except Exception as e:
        out_q.put(Failed(f"training failed: {type(e).__name__}: {e}"))
    finally:
        out_q.close()
        out_q.join_thread()  # everything put is flushed to the parent before the process ends
