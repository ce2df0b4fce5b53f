"""Start the drivers (one process per core), follow them, restart one that crashed or hung, collect results.

Each driver gets its own root folder: ``cases/`` (one folder per case, its working folder), ``tmp`` ($TMPDIR),
``home`` ($HOME), ``recovery`` ($KGN_RECOVERY_DIR): a case that writes into any of them, or beside its own
folder, is caught by the driver's checks. The drivers run with ``cwd`` = the repository root, one thread for
torch, no GPU, and a memory limit (driver.AS_LIMIT).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 120  # a driver that has not imported torch by then is stuck
WATCHDOG_SLACK_S = 30  # beyond a case's own time bound (its SIGALRM may not fire inside a C call)


def driver_env(root: Path) -> dict:
    env = dict(os.environ)
    for k in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "PYTEST_CURRENT_TEST"):
        env.pop(k, None)
    env.update(
        TMPDIR=str(root / "tmp"),
        HOME=str(root / "home"),
        KGN_RECOVERY_DIR=str(root / "recovery"),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MALLOC_ARENA_MAX="2",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        CUDA_VISIBLE_DEVICES="",
        QT_QPA_PLATFORM="offscreen",
        TORCHINDUCTOR_CACHE_DIR=str(root / "cache"),  # torch's own cache, kept apart from $TMPDIR
        KGN_CACHE=str(root / "data-cache"),  # the data cache (default ~/.cache/kgn-gui/data), kept apart from $HOME
    )
    return env


def make_root(root: Path) -> Path:
    for sub in ("cases", "tmp", "home", "recovery"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def make_seeds(seeds: Path, work: Path, timeout: float = 300) -> None:
    """Run ``driver --setup`` (the seeds need kgn_gui, and are made under the same limits as the cases)."""
    root = make_root(work / "setup")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.driver", "--setup", str(seeds)],
        cwd=REPO,
        env=driver_env(root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"making the fuzz seeds failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


class Worker:
    def __init__(self, k: int, plans: list[dict], work: Path, seeds: Path, keep_all: bool):
        self.k, self.plans, self.seeds, self.keep_all = k, plans, seeds, keep_all
        self.root = make_root(work / f"w{k}")
        self.cases_path = self.root / "cases.json"
        self.cases_path.write_text(json.dumps(plans))
        self.results_path = self.root / "results.jsonl"
        self.results_path.touch()
        self.results: dict[int, dict] = {}
        self.offset = 0
        self.proc = None
        self.in_flight: int | None = None
        self.in_flight_since = 0.0
        self.started_at = 0.0
        self.ready = False
        self.restarts = 0
        self.startup_s: list[float] = []
        self.peaks: list[dict] = []

    def next_index(self) -> int:
        i = 0
        while i in self.results:
            i += 1
        return i

    def start(self) -> None:
        at = self.next_index()
        if at >= len(self.plans):
            self.proc = None
            return
        log = open(self.root / "driver.log", "ab")
        cmd = [
            sys.executable,
            "-m",
            "tests.fuzz.driver",
            "--cases",
            str(self.cases_path),
            "--results",
            str(self.results_path),
        ]
        cmd += ["--root", str(self.root), "--seeds", str(self.seeds), "--start-at", str(at)]
        if self.keep_all:
            cmd.append("--keep-all")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=driver_env(self.root), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        self.started_at = time.monotonic()
        self.ready = False
        self.in_flight = None

    def read(self) -> None:
        with open(self.results_path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            msg = json.loads(line)
            if "ready" in msg:
                self.ready = True
                self.startup_s.append(msg["ready"])
            elif "start" in msg:
                self.in_flight, self.in_flight_since = msg["start"], time.monotonic()
            elif "bye" in msg:
                self.peaks.append(msg)
            elif "done" in msg:
                self.results[msg["done"]] = msg
                self.in_flight = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def fail_in_flight(self, outcome: str, problem: str) -> None:
        i = self.in_flight
        if i is None:
            return
        plan = self.plans[i]
        self.results[i] = {
            "done": i,
            "id": plan["id"],
            "outcome": outcome,
            "problems": [problem],
            "calls": [],
            "elapsed": None,
        }
        self.in_flight = None

    def step(self) -> bool:
        """Follow the driver; True while it has work left."""
        if self.proc is None:
            return False
        self.read()
        rc = self.proc.poll()
        now = time.monotonic()
        if rc is None:
            if not self.ready and now - self.started_at > STARTUP_S:
                self.kill()
                raise RuntimeError(
                    f"fuzz driver {self.k} did not start in {STARTUP_S} s; see {self.root / 'driver.log'}"
                )
            if self.in_flight is not None:
                limit = self.plans[self.in_flight].get("timeout", 20) + WATCHDOG_SLACK_S
                if now - self.in_flight_since > limit:
                    self.kill()
                    self.read()
                    self.fail_in_flight("hang", f"hang: killed after {limit} s (the time bound did not interrupt it)")
                    self.restart()
            return True
        self.read()
        if self.in_flight is not None:
            how = f"signal {-rc} ({signal.Signals(-rc).name})" if rc < 0 else f"exit {rc}"
            self.fail_in_flight("crash", f"crash: the process died ({how})")
        if not self.ready and rc != 0 and self.next_index() == 0 and self.restarts == 0:
            raise RuntimeError(f"fuzz driver {self.k} failed to start (exit {rc}); see {self.root / 'driver.log'}")
        self.restart()
        return self.proc is not None

    def restart(self) -> None:
        if self.next_index() < len(self.plans):
            self.restarts += 1
            self.start()
        else:
            self.proc = None


def run_all(plans: list[dict], work: Path, seeds: Path, workers: int = 2, wall_s: float = 1800, keep_all: bool = False):
    """Run every plan; returns ({id: result}, per-worker stats). Plans are spread over the workers in a
    fixed shuffled order, so each gets a like mix of cheap and costly cases."""
    order = list(range(len(plans)))
    random.Random(0).shuffle(order)
    shares = [[plans[i] for i in order[k::workers]] for k in range(workers)]
    ws = [Worker(k, share, work, seeds, keep_all) for k, share in enumerate(shares)]
    for w in ws:
        w.start()
    deadline = time.monotonic() + wall_s
    try:
        while any([w.step() for w in ws]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fuzz run took more than {wall_s} s")
            time.sleep(0.1)
    finally:
        for w in ws:
            w.kill()
    results = {}
    for w in ws:
        for i, plan in enumerate(w.plans):
            r = w.results.get(i) or {"outcome": "not run", "problems": ["not run"], "calls": []}
            r["case_dir"] = str(w.root / "cases" / plan["id"])
            results[plan["id"]] = r
    stats = [
        {"worker": w.k, "cases": len(w.plans), "restarts": w.restarts, "startup_s": w.startup_s, "peaks": w.peaks}
        for w in ws
    ]
    return results, stats


# ---------------------------------------------------------------- keeping a failing case


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a case folder as it is: FIFOs made again, links copied as links, never opened or followed."""
    import stat as st_

    dst.mkdir(parents=True, exist_ok=True)
    for e in os.scandir(src):
        s, d = Path(e.path), dst / e.name
        mode = os.lstat(s).st_mode
        if st_.S_ISLNK(mode):
            os.symlink(os.readlink(s), d)
        elif st_.S_ISDIR(mode):
            copy_tree(s, d)
        elif st_.S_ISFIFO(mode):
            os.mkfifo(d)
        elif st_.S_ISREG(mode):
            shutil.copyfile(s, d, follow_symlinks=False)


def keep_case(case_dir: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if case_dir.exists():
        copy_tree(case_dir, dst)
    else:
        dst.mkdir()
