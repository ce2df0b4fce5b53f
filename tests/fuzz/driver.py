"""Run a batch of fuzz cases in one process, checking each (issue 16, item 9).

    python -m tests.fuzz.driver --setup SEEDS                    make the seed files (run from the repo root)
    python -m tests.fuzz.driver --cases CASES.json --results RESULTS.jsonl --root ROOT --seeds SEEDS [--start-at K]

A fresh process per case would spend most of its time importing torch, so one process runs many cases: the
memory limit (RLIMIT_AS) and the file-size limit are set once, kgn_gui is imported once, and each case runs
in-process under a time bound (SIGALRM) with its working folder as the current folder, its stdout and
stderr captured at the file-descriptor level, and every program it starts recorded. For each case it
writes one JSON line to RESULTS: a "start" line before it runs and the result after, so the runner can
tell which case a crash or a kill belongs to. After a time-out the process exits (its state is unknown);
the runner starts a fresh one at the next case.

What each case must do (the checks are in :func:`check_case`):

- a loader returns, or raises its own error type (``CheckpointError``, ``DataError``, ``ExportError``) with a
  one-line message; never another type, never a MemoryError, never a hang; the recovery scan never raises;
- ``kgn``: exit 0, or a non-zero exit whose stderr ends with exactly one line ``kgn CMD: error: …`` (argparse:
  ``kgn CMD: error: …`` too) and holds no traceback and no Python warning;
- the inputs are unchanged, nothing is written outside the outputs, no temporary (``.NAME.*.part``, ``*.tmp``,
  hidden names, anything in $TMPDIR) is left, no program other than this Python is started;
- oracles where a plan has them: a valid input loads; a 16-bit image is scaled; a good recovery file is
  offered; a model ``kgn train`` wrote loads; ``kgn info --json`` prints strict JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import signal
import stat
import sys
import time
import traceback
from pathlib import Path

AS_LIMIT = int(os.environ.get("KGN_FUZZ_AS_BYTES", str(3 << 30)))  # measured peak: 2.3 GiB
FSIZE_LIMIT = 1 << 30
ERROR_LINE_PREFIXES = ("kgn: error: ",)
TEMP_SUFFIXES = (".part", ".tmp", ".temp")


class CaseTimeout(BaseException):
    """Raised by SIGALRM when a case runs past its time bound (a BaseException: no `except Exception` eats it)."""


def _alarm(signum, frame):
    raise CaseTimeout()


def set_limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit is an OSError, not a kill


# ---------------------------------------------------------------- programs started


SPAWNS: list[str] = []


def spy_on_programs() -> None:
    """Record every program a case starts (subprocess, os.system, posix_spawn, exec); os.system does not run."""
    import posix
    import subprocess

    orig_init = subprocess.Popen.__init__

    def init(self, args, *a, **k):
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        SPAWNS.append(os.fsdecode(argv[0]) if argv else "")
        return orig_init(self, args, *a, **k)

    subprocess.Popen.__init__ = init

    def system(cmd):
        SPAWNS.append(f"sh -c {cmd!r}")
        return 0

    posix.system = os.system = system
    for name in ("posix_spawn", "posix_spawnp", "execv", "execve", "execvp", "execvpe", "execl", "execlp"):
        orig = getattr(os, name, None)
        if orig is None:
            continue

        def wrapped(path, *a, _orig=orig, **k):
            SPAWNS.append(os.fsdecode(path))
            return _orig(path, *a, **k)

        setattr(os, name, wrapped)


def foreign_spawns() -> list[str]:
    return [s for s in SPAWNS if os.path.realpath(s) != os.path.realpath(sys.executable)]


# ---------------------------------------------------------------- log records


class Records:
    """The kgn_gui loggers' records of the current case. With ``echo`` (a kgn command) warnings also go to
    stderr, as Python's last-resort handler prints them in a real ``kgn`` process."""

    def __init__(self):
        import logging

        self.items: list[str] = []
        self.echo = False
        outer = self

        class H(logging.Handler):
            def emit(self, record):
                try:
                    msg = record.getMessage()
                except Exception as e:  # noqa: BLE001 - a message that cannot be formatted is a finding too
                    msg = f"<unformattable log record: {type(e).__name__}: {e}>"
                outer.items.append(msg)
                if outer.echo and record.levelno >= logging.WARNING:
                    sys.stderr.write(msg + "\n")

        logging.getLogger("kgn_gui").addHandler(H())
        logging.getLogger("kgn_gui").setLevel(logging.DEBUG)
        logging.getLogger("kgn_gui").propagate = False


# ---------------------------------------------------------------- file tree snapshots


def _hash(path: str) -> str:
    h = hashlib.sha1()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


def snapshot(root: str, prev: dict | None = None) -> dict:
    """{relative path: state} of everything under ``root`` (links not followed). A file's state holds its
    size and content hash; a file whose stat is the same as in ``prev`` keeps its hash without rereading."""
    out: dict = {}

    def walk(d: str, rel: str) -> None:
        try:
            entries = list(os.scandir(d))
        except OSError:
            return
        for e in entries:
            r = rel + e.name
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                out[r] = ("?",)
                continue
            m = st.st_mode
            if stat.S_ISLNK(m):
                out[r] = ("link", os.readlink(e.path))
            elif stat.S_ISDIR(m):
                out[r] = ("dir",)
                walk(e.path, r + "/")
            elif stat.S_ISREG(m):
                key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                old = prev.get(r) if prev else None
                if old is not None and old[0] == "file" and old[3] == key:
                    out[r] = old
                else:
                    try:
                        digest = _hash(e.path)
                    except OSError as err:
                        digest = f"unreadable: {err.strerror}"
                    out[r] = ("file", st.st_size, digest, key)
            elif stat.S_ISFIFO(m):
                out[r] = ("fifo",)
            else:
                out[r] = ("other", stat.S_IFMT(m))

    walk(root, "")
    return out


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if a[0] == "file" and b[0] == "file":
        return a[1:3] == b[1:3]
    return a == b


def _norm(p: str) -> str:
    p = os.path.normpath(p) if p else "."
    return "" if p == "." else p


def _under(rel: str, roots) -> bool:
    return any(r == "" or rel == r or rel.startswith(r + "/") for r in roots)


def _output(rel: str, outs) -> bool:
    """``rel`` is an output, inside one, or an output with a suffix added (OUT.gif, OUT.npz)."""
    for o in outs:
        if o == "" or rel == o or rel.startswith(o + "/"):
            return True
        if rel.startswith(o + ".") and "/" not in rel[len(o) :]:
            return True
    return False


def _temporary(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.startswith(".") or name.endswith(TEMP_SUFFIXES) or ".part" in name


def compare_trees(before: dict, after: dict, plan: dict) -> list[str]:
    inputs = [_norm(p) for p in plan.get("inputs", [])]
    keep = [_norm(p) for p in plan.get("keep", [])]
    outputs = [_norm(p) for p in plan.get("outputs", [])]
    removable = {_norm(p) for p in plan.get("removable", [])}
    problems = []
    for rel in sorted(set(before) | set(after)):
        b, a = before.get(rel), after.get(rel)
        if _same(b, a):
            continue
        shown = ascii(rel)[1:-1]
        if rel.rsplit("/", 1)[-1] == "PICKLE-EXECUTED":
            problems.append("unpickled the input: its code ran")
            continue
        if b is not None:
            if a is None and rel in removable:
                continue
            what = "removed" if a is None else "changed"
            if _under(rel, keep):
                problems.append(f"a bystander was {what}: {shown}")
            elif _under(rel, inputs):
                problems.append(f"an input was {what}: {shown}")
            elif not _output(rel, outputs):
                problems.append(f"a file outside the output was {what}: {shown}")
        elif _temporary(rel):
            problems.append(f"a temporary was left: {shown}")
        elif not _output(rel, outputs) and not (a[0] == "dir" and any(o.startswith(rel + "/") for o in outputs)):
            problems.append(f"wrote outside the output: {shown}")  # (making the output's own folders is fine)
    return problems


# ---------------------------------------------------------------- entry points


def one_line(msg: str) -> bool:
    return bool(msg.strip()) and "\n" not in msg and "\r" not in msg


class Call:
    """The outcome of one call: status ok / error (an allowed type, message one line) / bad (anything else)."""

    def __init__(self, name: str):
        self.name, self.status, self.what, self.value, self.message = name, "ok", "", None, ""

    def as_dict(self):
        return {"call": self.name, "status": self.status, "what": self.what, "message": self.message[:400]}


def run_call(name: str, fn, allowed: tuple) -> Call:
    c = Call(name)
    try:
        c.value = fn()
    except CaseTimeout:
        raise
    except MemoryError as e:
        c.status, c.what, c.message = "bad", "MemoryError escaped", str(e)
    except allowed as e:
        c.status, c.message = "error", str(e)
        if not one_line(str(e)):
            c.status, c.what = "bad", f"{type(e).__name__} not one line"
    except BaseException as e:  # noqa: BLE001 - any other type is the finding
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        c.status, c.what, c.message = "bad", f"raised {type(e).__name__} ({where})", str(e)
    return c


def dataset_problems(ds, value_range=(-1.0, 1.0)) -> list[str]:
    """What a returned data set must be: finite float32 values in the range, 1 or 3 channels for images,
    whole-number labels ≥ 0, at least one sample."""
    import numpy as np

    out = []
    x = np.asarray(ds.x)
    lo, hi = value_range
    if x.ndim != 2 or x.shape[0] < 1:
        out.append(f"returned data of shape {x.shape}")
    elif not np.isfinite(x).all():
        out.append("returned NaN or infinite values")
    elif x.min() < lo - 1e-4 or x.max() > hi + 1e-4:
        out.append(f"returned values outside {list(value_range)}: {float(x.min()):g} … {float(x.max()):g}")
    if len(ds.shape) == 3 and ds.shape[0] not in (1, 3):
        out.append(f"returned images with {ds.shape[0]} channels")
    if ds.labels is not None:
        lab = np.asarray(ds.labels)
        if lab.dtype.kind not in "iu" or (lab.size and lab.min() < 0) or len(lab) != x.shape[0]:
            out.append(f"returned labels {lab.dtype} {lab.shape}")
    return out


def run_entry(plan: dict) -> tuple[list[Call], list[str], dict]:
    """Run a case's calls; returns (calls, oracle problems, extra info)."""
    e, a, expect = plan["entry"], plan["args"], plan.get("expect", {})
    problems: list[str] = []
    info: dict = {}
    if e == "cli":
        return run_cli(plan)
    if e == "checkpoint":
        from kgn_gui.core.errors import CheckpointError
        from kgn_gui.core.model.checkpoint import load_checkpoint, read_metadata

        calls = [
            run_call("load_checkpoint", lambda: load_checkpoint(a["path"]), (CheckpointError,)),
            run_call("read_metadata", lambda: read_metadata(a["path"]), (CheckpointError,)),
        ]
    elif e in ("load_array", "open_source", "load_idx", "open_source-file", "open_source-folder", "load_image_folder"):
        from kgn_gui.core.data.arrays import load_array, load_idx
        from kgn_gui.core.data.images import load_image_folder
        from kgn_gui.core.data.sources import open_source
        from kgn_gui.core.errors import DataError

        fn = {
            "load_array": lambda: load_array(a["path"]),
            "load_idx": lambda: load_idx(a["path"], a.get("labels")),
            "load_image_folder": lambda: load_image_folder(a["path"])[0],
        }.get(e, lambda: open_source(a["path"]))
        calls = [run_call(e, fn, (DataError,))]
        if calls[0].status == "ok":
            ds = calls[0].value
            problems += dataset_problems(ds)
            for s in getattr(ds, "skipped", []):
                if not one_line(s):
                    problems.append(f"an import report line is not one line: {s[:200]!r}")
                    break
            if expect.get("x16") is not None and ds.M != 1:
                problems.append(f"a folder of one readable 16-bit image loaded {ds.M} images")
            elif expect.get("x16") is not None:
                want = expect["x16"] / 65535 * 2 - 1
                got = float(ds.x.mean())
                if abs(got - want) > 0.01:
                    problems.append(f"a 16-bit image of {expect['x16']} loaded as {got:.3f}, not {want:.3f} (clipped?)")
    elif e in ("read_bundle", "reproduce"):
        from kgn_gui.core.errors import ExportError
        from kgn_gui.core.export.bundle import read_bundle, reproduce

        if e == "read_bundle":
            calls = [run_call(e, lambda: read_bundle(a["path"]), (ExportError,))]
        else:
            calls = [run_call(e, lambda: reproduce(a["path"], a["out"]), (ExportError,))]
    elif e == "recovery":
        from kgn_gui.core.model.recovery import pending_recoveries

        c = run_call("pending_recoveries", lambda: pending_recoveries(Path(a["path"])), ())
        calls = [c]
        if c.status == "ok":
            found = [str(r.path) for r in c.value]
            info["offered"] = found
            if expect.get("offered") and expect["offered"] not in found:
                problems.append("the good recovery file was not offered")
            for r in c.value:
                d = run_call("Recovery.describe", r.describe, ())
                if d.status != "ok":
                    calls.append(d)
                elif not one_line(d.value):
                    problems.append("Recovery.describe is not one line")
    else:
        raise ValueError(f"unknown entry {e!r}")
    if expect.get("ok") and calls[0].status != "ok":
        problems.append("refused a valid input")
    return calls, problems, info


def _strict_json(text: str) -> bool:
    def bad(token):
        raise ValueError(token)

    try:
        json.loads(text, parse_constant=bad)
        return True
    except ValueError:
        return False


def run_cli(plan: dict):
    """``kgn`` in-process: the exit code as the real command would give it (SystemExit, or a traceback for an
    exception that escapes main)."""
    from kgn_gui import cli

    argv = plan["args"]["argv"]
    c = Call("kgn " + " ".join(argv[:1]))
    try:
        rc = cli.main(list(argv))
    except CaseTimeout:
        raise
    except SystemExit as e:
        code = e.code
        if isinstance(code, str):
            sys.stderr.write(code + "\n")
            rc = 1
        else:
            rc = 0 if code is None else int(code)
    except BaseException as e:  # noqa: BLE001 - the real command would print a traceback
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        c.status, c.what, c.message = "bad", f"traceback: {type(e).__name__} ({where})", str(e)
        rc = 1
    c.value = rc
    return [c], [], {"rc": rc}


def cli_problems(plan: dict, rc: int, out: str, err: str) -> list[str]:
    argv = plan["args"]["argv"]
    cmd = argv[0] if argv else ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    problems = []
    if "Traceback (most recent call last)" in err:
        problems.append("traceback on stderr")
    if any(_python_warning(ln) for ln in lines):
        problems.append("a Python warning on stderr")
    if rc != 0:
        prefixes = (f"kgn {cmd}: error: ", *ERROR_LINE_PREFIXES)
        errors = [ln for ln in lines if ln.startswith(prefixes)]
        if not errors:
            problems.append(f"exit {rc} without a 'kgn {cmd}: error:' line")
        elif len(errors) > 1:
            problems.append("more than one error line")
        elif lines[-1] != errors[0]:
            problems.append("the error is not one line (text after the error line)")
    return problems


def _python_warning(line: str) -> bool:
    import re

    return re.match(r"^\S.*:\d+: \w*Warning: ", line) is not None


def oracle_after_cli(plan: dict, rc: int, out: str) -> list[str]:
    expect = plan.get("expect", {})
    problems = []
    if rc != 0 or {"-h", "--help"} & set(plan["args"]["argv"]):
        return problems
    if expect.get("json_stdout") and not _strict_json(out):
        problems.append("kgn info --json printed JSON that is not strict (NaN?) or not JSON")
    if expect.get("json_file"):
        try:
            text = Path(expect["json_file"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"kgn analyze --json exited 0 but its file cannot be read: {type(e).__name__}")
        else:
            if not _strict_json(text):
                problems.append("kgn analyze --json wrote JSON that is not strict (NaN?) or not JSON")
    if expect.get("loads"):
        from kgn_gui.core.errors import CheckpointError
        from kgn_gui.core.model.checkpoint import load_checkpoint

        try:
            load_checkpoint(expect["loads"])
        except CheckpointError as e:
            problems.append(f"the model kgn train wrote does not load: {str(e)[:120]}")
    if expect.get("bundle"):
        from kgn_gui.core.errors import ExportError
        from kgn_gui.core.export.bundle import read_bundle

        try:
            read_bundle(expect["bundle"])
        except ExportError as e:
            problems.append(f"the bundle kgn export wrote does not read back: {str(e)[:120]}")
    return problems


# ---------------------------------------------------------------- one case


class Capture:
    """stdout and stderr (file descriptors 1 and 2, and sys.stdout / sys.stderr with them) into files."""

    def __init__(self, folder: Path):
        self.out_path, self.err_path = folder / "stdout.txt", folder / "stderr.txt"

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = os.dup(1), os.dup(2)
        self.fo = open(self.out_path, "wb")
        self.fe = open(self.err_path, "wb")
        os.dup2(self.fo.fileno(), 1)
        os.dup2(self.fe.fileno(), 2)
        return self

    def __exit__(self, *exc):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        os.close(self.saved[0])
        os.close(self.saved[1])
        self.fo.close()
        self.fe.close()

    def texts(self) -> tuple[str, str]:
        return (
            self.out_path.read_bytes().decode("utf-8", "replace"),
            self.err_path.read_bytes().decode("utf-8", "replace"),
        )


def clear_folder(d: Path) -> None:
    import shutil

    for e in list(os.scandir(d)):
        if e.is_dir(follow_symlinks=False):
            shutil.rmtree(e.path, ignore_errors=True)
        else:
            try:
                os.unlink(e.path)
            except OSError:
                pass


def run_case(plan: dict, root: Path, ctx, records: Records, keep_all: bool = False) -> dict:
    import shutil
    import warnings

    from . import build

    case = root / "cases" / plan["id"]
    tmp, home, recdir = Path(os.environ["TMPDIR"]), Path(os.environ["HOME"]), Path(os.environ["KGN_RECOVERY_DIR"])
    if case.exists():
        shutil.rmtree(case)
    try:
        build.materialize(plan, case, ctx)
    except Exception as e:  # noqa: BLE001 - a harness bug, reported as such
        return {"outcome": "harness", "problems": [f"could not build the case: {type(e).__name__}: {e}"], "calls": []}
    clear_folder(tmp)
    before = snapshot(str(case))
    outside_before = {str(d): snapshot(str(d)) for d in (home, recdir)}
    cases_before = sorted(os.listdir(root / "cases"))
    SPAWNS.clear()
    records.items.clear()
    records.echo = plan["entry"] == "cli"
    getattr(warnings, "_filters_mutated", lambda: None)()  # "once per location" starts afresh, as in a new process
    cap = Capture(root)
    t0 = time.monotonic()
    hang = False
    os.chdir(case)
    try:
        with cap:
            signal.setitimer(signal.ITIMER_REAL, plan.get("timeout", 20))
            try:
                calls, problems, info = run_entry(plan)
            except CaseTimeout:
                hang = True
                calls, problems, info = [], [], {}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        os.chdir(root)
    elapsed = time.monotonic() - t0
    out, err = cap.texts()
    if hang:
        problems.append(f"hang: still running after {plan.get('timeout', 20)} s")
    for c in calls:
        if c.status == "bad":
            problems.append(f"{c.name}: {c.what}")
    if plan["entry"] == "cli" and not hang and calls:
        rc = calls[0].value
        if calls[0].status == "ok":
            problems += cli_problems(plan, rc, out, err)
        os.chdir(case)
        try:
            signal.setitimer(signal.ITIMER_REAL, plan.get("timeout", 20))
            try:
                problems += oracle_after_cli(plan, rc, out)
            except CaseTimeout:
                problems.append("hang: reading back the output")
                hang = True
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            os.chdir(root)
    if plan["entry"] == "recovery":
        for msg in records.items:
            if not one_line(msg):
                problems.append(f"a recovery log line is not one line: {msg[:200]!r}")
                break
    after = snapshot(str(case), before)
    problems += compare_trees(before, after, plan)
    left = sorted(os.listdir(tmp))
    if left:
        problems.append(f"a temporary was left in $TMPDIR: {ascii(left[0])[1:-1]}")
        clear_folder(tmp)
    for d, snap in outside_before.items():
        if snapshot(d) != snap:
            problems.append(f"wrote outside the output: {d}")
    strangers = sorted(set(os.listdir(root / "cases")) - set(cases_before) - {plan["id"]})
    if strangers:
        problems.append(f"wrote outside the output: ../{strangers[0]}")
    for s in foreign_spawns():
        problems.append(f"ran a program: {Path(s.split(' ')[0]).name if not s.startswith('sh -c') else s[:60]}")
    result = {
        "outcome": "hang" if hang else ("fail" if problems else "pass"),
        "problems": list(dict.fromkeys(problems)),
        "calls": [c.as_dict() for c in calls],
        "info": info,
        "stderr": err[-2000:],
        "stdout": out[-500:],
        "elapsed": round(elapsed, 3),
    }
    if result["outcome"] == "pass" and not keep_all:
        shutil.rmtree(case, ignore_errors=True)
    return result


# ---------------------------------------------------------------- setup: the seed files


def make_seeds(seeds: Path) -> None:
    """The seeds the plans mutate: a tiny image data set and model (trained here with ``kgn train``), run
    bundles made with ``kgn export --bundle`` (with and without a start array, as a folder; the zips are
    built by the harness from the folders), a recovery file (``save_recovery``), and the zero bombs."""
    import numpy as np

    from kgn_gui import cli
    from kgn_gui.core.model.checkpoint import load_checkpoint
    from kgn_gui.core.model.recovery import save_recovery

    from . import build

    seeds.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = np.zeros((16, 8, 8), np.uint8)
    for i in range(16):  # four blobs, one class each
        c = i % 4
        x[i, 2 * c : 2 * c + 2, 1:7] = 200 + rng.integers(0, 50, (2, 6))
    np.savez(seeds / "tiny.npz", x=x, y=np.arange(16) % 4)
    np.save(seeds / "tiny.npy", x.astype(np.float32) / 255)
    np.save(seeds / "points.npy", rng.uniform(0.1, 0.9, (6, 2)).astype(np.float32))
    cwd = os.getcwd()
    os.chdir(seeds)
    try:

        def kgn(*argv):
            rc = cli.main(list(argv))
            if rc != 0:
                raise RuntimeError(f"kgn {' '.join(argv)} exited {rc}")

        kgn(
            "train",
            "--data",
            "tiny.npz",
            "--L",
            "1",
            "--H",
            "8",
            "--steps",
            "3",
            "--batch",
            "16",
            "--eval-size",
            "16",
            "--save-every",
            "0",
            "-o",
            "img.safetensors",
        )
        kgn("export", "img.safetensors", "--steps", "0:3:1", "-n", "4", "--bundle", "-o", "bundle")
        kgn(
            "export",
            "img.safetensors",
            "--steps",
            "0:2:1",
            "-n",
            "2",
            "--start",
            "data:tiny.npz#1",
            "--bundle",
            "-o",
            "bundle_start",
        )
    finally:
        os.chdir(cwd)
    ck = load_checkpoint(seeds / "img.safetensors")

    class Data:
        name, shape = "tiny", (1, 8, 8)

    rec = seeds / "rec"
    save_recovery(
        rec,
        ck.model,
        ck.spec,
        Data(),
        ck.meta.get("recipe") or {},
        step=3,
        steps=10,
        source="tiny.npz",
        app_pid=build.DEAD_PID,
        name="training-1-1.safetensors",
    )
    os.replace(rec / "training-1-1.safetensors", seeds / "recovery.safetensors")
    rec.rmdir()
    build.make_bombs(seeds)


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--setup", default=None)
    ap.add_argument("--cases")
    ap.add_argument("--results")
    ap.add_argument("--root")
    ap.add_argument("--seeds")
    ap.add_argument("--start-at", type=int, default=0)
    ap.add_argument("--keep-all", action="store_true")
    args = ap.parse_args()
    set_limits()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    if args.setup:
        make_seeds(Path(args.setup).resolve())
        return 0
    t0 = time.monotonic()
    import numpy  # noqa: F401
    import torch  # noqa: F401

    import kgn_gui.cli  # noqa: F401
    from kgn_gui.core.data import sources  # noqa: F401
    from kgn_gui.core.export import bundle  # noqa: F401
    from kgn_gui.core.model import checkpoint, recovery  # noqa: F401

    from . import build

    spy_on_programs()
    records = Records()
    signal.signal(signal.SIGALRM, _alarm)
    root = Path(args.root).resolve()
    (root / "cases").mkdir(parents=True, exist_ok=True)
    ctx = build.Context(Path(args.seeds).resolve())
    cases = json.loads(Path(args.cases).read_text())
    with open(args.results, "a", buffering=1) as res:
        res.write(json.dumps({"ready": round(time.monotonic() - t0, 2), "start_at": args.start_at}) + "\n")
        for i in range(args.start_at, len(cases)):
            plan = cases[i]
            res.write(json.dumps({"start": i, "id": plan["id"]}) + "\n")
            res.flush()
            result = run_case(plan, root, ctx, records, args.keep_all)
            result.update(done=i, id=plan["id"])
            res.write(json.dumps(result) + "\n")
            res.flush()
            if result["outcome"] == "hang":
                return 3  # the interrupted work may still hold locks or threads: the runner starts afresh
        res.write(json.dumps({"bye": True, **memory_peaks()}) + "\n")
    return 0


def memory_peaks() -> dict:
    """This process's peak virtual size and peak resident size (bytes): what the memory limit must allow."""
    peaks = {"vm_peak": None, "rss_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmPeak:"):
                peaks["vm_peak"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return peaks


if __name__ == "__main__":
    sys.exit(main())
