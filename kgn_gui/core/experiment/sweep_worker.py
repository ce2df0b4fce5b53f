"""The depth sweep in a child process: the entry point the window's sweep controller spawns (no Qt).

Training many models in the GUI's process would stall its event loop (see ``core/model/train_worker.py``),
so the window runs :func:`~kgn_gui.core.experiment.sweep.run_sweep` here, the same function as ``kgn sweep``.

Protocol (the types are in ``core/messages.py``). The parent may send ``Command.STOP`` over a pipe
(anything else is ignored; a closed pipe counts as STOP): the sweep stops at its next check, between
training steps and chain steps. The child answers on a queue with:

* ``SweepProgress(fraction, message)``: the fraction done (0 … 1) and what runs now ("depth 4, seed 1:
  training"); at most every ``PROGRESS_INTERVAL_S`` seconds, and always when the stage changes or
  the sweep reaches 1;
* ``SweepLog(line)``: a line of the sweep's log (what ``kgn sweep`` prints);
* ``SweepTrial(row, done, total)``: a trial's row, as soon as it is written to sweep_runs.csv;
* last, one of ``SweepDone(folder, rows)``, ``SweepFailed(message)`` or ``SweepCancelled()``.
"""

from __future__ import annotations

import os
import threading
import time

from ..errors import SweepError
from ..messages import Command, SweepCancelled, SweepDone, SweepFailed, SweepLog, SweepProgress, SweepTrial

PROGRESS_INTERVAL_S = 0.1


def sweep_worker(job: dict, out_q, ctrl) -> None:
    """Child-process main. job: config (a :class:`~kgn_gui.core.experiment.sweep.SweepConfig`), out_dir,
    threads (torch threads; default: all cores but one) and engine (the options of
    core.experiment.engines.make_engine; default: the trials in this child, one after another)."""
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
        from ..errors import Cancelled, TrainError
        from .engines import make_engine
        from .sweep import check_output_folder, run_sweep

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
            engine = make_engine(**job.get("engine", {}))
            if stop.is_set():
                raise Cancelled("sweep cancelled")
            rows = run_sweep(
                cfg,
                out,
                log=lambda line: out_q.put(SweepLog(line)),
                progress=progress,
                cancelled=stop.is_set,
                stage=stage,
                engine=engine,
                on_trial=lambda row, done, total: out_q.put(SweepTrial(row, done, total)),
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


def run_sweep_in_child(
    cfg,
    out_dir,
    *,
    progress=None,
    cancelled=None,
    grace_s: float = 5.0,
    poll_s: float = 0.05,
    threads: int | None = None,
    started=None,
    engine: dict | None = None,
    on_trial=None,
) -> list[dict]:
    """:func:`~kgn_gui.core.experiment.sweep.run_sweep` in a spawned child process, from the calling thread (the window
    runs this in a background Job). ``progress(done, total, text)``: permille of the sweep and what runs now
    (or a log line). ``cancelled()`` is polled: then the child is asked to stop (it stops between steps) and
    terminated if it has not ended ``grace_s`` seconds later; :class:`~kgn_gui.core.errors.Cancelled`
    follows. ``started(process)`` is called once the child runs. ``engine``: the options of
    core.experiment.engines.make_engine the child builds its engine of (default: the trials in the child);
    ``on_trial(row, done, total)`` as each trial's row is written (core.messages.SweepTrial). Returns the rows of sweep.csv; raises
    SweepError with the child's one-line reason, or when the child ended without one."""
    import queue

    from ..errors import Cancelled
    from ..messages import close_channel, spawn_child
    from .sweep import check_output_folder

    cfg.validate()
    check_output_folder(out_dir)
    job = {"config": cfg, "out_dir": str(out_dir), "threads": threads or max(1, (os.cpu_count() or 2) - 1)}
    job["engine"] = dict(engine or {})
    # not daemonic: its engine may start worker processes; it stops itself when the pipe closes (control)
    proc, out_q, conn = spawn_child(sweep_worker, job, "kgn-sweep", daemon=False)
    if started is not None:
        started(proc)
    asked_stop = None
    last = (-1, "")
    try:
        while True:
            if cancelled is not None and cancelled() and asked_stop is None:
                asked_stop = time.monotonic()
                try:
                    conn.send(Command.STOP)
                except (BrokenPipeError, OSError):
                    pass
            if asked_stop is not None and time.monotonic() - asked_stop > grace_s:
                proc.terminate()  # its queue is not read any more: a killed writer may leave half a message
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                raise Cancelled("depth sweep cancelled")
            dead = not proc.is_alive()  # looked at first: what it put before it ended is in the queue now
            try:
                msg = out_q.get(timeout=poll_s)
            except queue.Empty:
                if dead:
                    if asked_stop is not None:
                        raise Cancelled("depth sweep cancelled") from None
                    raise SweepError(f"the sweep process ended unexpectedly (exit status {proc.exitcode})") from None
                continue
            except (EOFError, OSError):
                raise SweepError("the sweep process ended unexpectedly") from None
            if isinstance(msg, SweepProgress):
                now = (int(1000 * min(1.0, max(0.0, msg.fraction))), msg.message)
                if progress is not None and now != last:
                    progress(now[0], 1000, msg.message if msg.message != last[1] else "")
                last = now
            elif isinstance(msg, SweepLog):
                if progress is not None:
                    progress(max(last[0], 0), 1000, msg.line)
            elif isinstance(msg, SweepTrial):
                if on_trial is not None:
                    on_trial(dict(msg.row), msg.done, msg.total)
            elif isinstance(msg, SweepDone):
                if progress is not None and last[0] != 1000:
                    progress(1000, 1000, "")
                return list(msg.rows)
            elif isinstance(msg, SweepFailed):
                raise SweepError(msg.message)
            elif isinstance(msg, SweepCancelled):
                raise Cancelled("depth sweep cancelled")
            # anything else (another version's message): ignored
    finally:
        proc.join(5.0)
        close_channel(conn, out_q)
