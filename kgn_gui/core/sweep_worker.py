"""The depth sweep in a child process: the entry point the window's sweep controller spawns (no Qt).

Training many models in the GUI's process would stall its event loop (see ``core/train_worker.py``),
so the window runs :func:`~kgn_gui.core.sweep.run_sweep` here, the same function as ``kgn sweep``.

Protocol (the types are in ``core/messages.py``). The parent may send ``Command.STOP`` over a pipe
(anything else is ignored; a closed pipe counts as STOP): the sweep stops at its next check, between
training steps and chain steps. The child answers on a queue with:

* ``SweepProgress(fraction, message)``: the fraction done (0 … 1) and what runs now ("depth 4:
  training"); at most every ``PROGRESS_INTERVAL_S`` seconds, and always when the stage changes or
  the sweep reaches 1;
* ``SweepLog(line)``: a line of the sweep's log (what ``kgn sweep`` prints);
* last, one of ``SweepDone(folder, rows)``, ``SweepFailed(message)`` or ``SweepCancelled()``.
"""

from __future__ import annotations

import os
import threading
import time

from .messages import Command, SweepCancelled, SweepDone, SweepFailed, SweepLog, SweepProgress

PROGRESS_INTERVAL_S = 0.1


def sweep_worker(job: dict, out_q, ctrl) -> None:
    """Child-process main. job: config (a :class:`~kgn_gui.core.sweep.SweepConfig`), out_dir, and
    threads (torch threads; default: all cores but one)."""
    stop = threading.Event()

    def control() -> None:
        while not stop.is_set():
            try:
                cmd = ctrl.recv()
            except (EOFError, OSError):  # the parent went away: stop, never sweep on as an orphan
                stop.set()
                return
            if cmd is Command.STOP:
                stop.set()

    try:
        threading.Thread(target=control, name="kgn-sweep-control", daemon=True).start()
        import torch

        torch.set_num_threads(int(job.get("threads") or max(1, (os.cpu_count() or 2) - 1)))
        from .measures import Cancelled
        from .sweep import check_output_folder, run_sweep, sweep_classifier
        from .train import TrainError

        cfg = job["config"]
        out = str(job["out_dir"])
        now = {"fraction": 0.0, "stage": f"starting the sweep on {cfg.source}", "sent": None, "at": 0.0}

        def send(force: bool = False) -> None:
            t, key = time.monotonic(), (now["fraction"], now["stage"])
            if key != now["sent"] and (force or key[0] >= 1 or t - now["at"] >= PROGRESS_INTERVAL_S):
                out_q.put(SweepProgress(*key))
                now["sent"], now["at"] = key, t

        def progress(fraction: float) -> None:
            now["fraction"] = float(fraction)
            send()

        def stage(message: str) -> None:
            now["stage"] = message
            send(force=True)

        try:
            cfg.validate()
            check_output_folder(out)
            clf, test_features = sweep_classifier(cfg.source)
            if stop.is_set():
                raise Cancelled("sweep cancelled")
            rows = run_sweep(
                cfg,
                out,
                classifier=clf,
                test_features=test_features,
                log=lambda line: out_q.put(SweepLog(line)),
                progress=progress,
                cancelled=stop.is_set,
                stage=stage,
            )
        except Cancelled:
            out_q.put(SweepCancelled())
        except (ValueError, TrainError, OSError) as e:  # refused settings, a folder not empty, unreadable data
            out_q.put(SweepFailed(str(e)))
        else:
            out_q.put(SweepDone(out, rows))
    except Exception as e:  # the parent shows this as a line: a message, not a traceback
        out_q.put(SweepFailed(f"the sweep failed: {type(e).__name__}: {e}"))
    finally:
        stop.set()
        out_q.close()
        out_q.join_thread()  # everything put is flushed to the parent before the process ends
