"""The recovery scan never fails as a whole (issue 16, item 7): every entry of the recovery folder that the
scan cannot understand is skipped with one warning on the ``kgn_gui.recovery`` logger, and the good runs are
still offered.

"Before:" in a comment says what the scan did with that entry before this change.
"""

import json
import logging
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgn_gui.core.data.sources import point_preset
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.recovery import Recovery, pending_recoveries, save_recovery
from tests.conftest import no_hang

SPEC = ModelSpec(D=2, L=1, H=3, bound="sigmoid")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, symlinks and permissions are POSIX")


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def recovery_file(folder: Path, name: str, pid: int, step: int = 10) -> Path:
    p = save_recovery(
        folder,
        build_model(SPEC, seed=0),
        SPEC,
        point_preset("2d-corners"),
        {"steps_done": step},
        step=step,
        steps=100,
        source="points:2d-corners",
        app_pid=pid,
        name=name,
    )
    return p


def edited(src: Path, dst: Path, edit=None, raw_kgn: str | None = None, raw_header: bytes | None = None) -> Path:
    """A copy of a model file with its kgn metadata edited (``edit(meta)``), replaced, or its header replaced."""
    data = src.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["kgn"])
    if edit:
        edit(meta)
    header["__metadata__"]["kgn"] = raw_kgn if raw_kgn is not None else json.dumps(meta)
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    return dst


def setitem(key, value):
    def edit(meta):
        *parents, last = key.split(".")
        d = meta
        for k in parents:
            d = d[k]
        d[last] = value

    return edit


def bad_entries(folder: Path, template: Path, dead: int) -> dict[str, str]:
    """Write one entry of each bad kind; returns {entry name: what the scan did with it before}."""
    before = {}

    def add(name, why_before):
        before[name] = why_before
        return folder / name

    add("training-garbage.safetensors", "skipped silently").write_bytes(b"not a model at all")
    add("training-short.safetensors", "skipped silently").write_bytes(b"\x01\x00")
    p = add("training-badheader.safetensors", "skipped silently")
    p.write_bytes(struct.pack("<Q", 40) + b"{this is not json" + b" " * 23 + b"\0" * 8)
    edited(template, add("training-sidecar-garbage.safetensors", "skipped silently"), raw_kgn="{garbage")
    edited(template, add("training-sidecar-string.safetensors", "skipped silently"), setitem("recovery", "abc"))
    # Before: offered (the non-integer pid counted as "not running"); describe() printed "step ? of ?".
    edited(template, add("training-pid-text.safetensors", "offered"), setitem("recovery.app_pid", "123"))
    edited(template, add("training-step-text.safetensors", "offered"), setitem("recovery.step", "many"))
    # Before: os.kill(10**30, 0) raised OverflowError out of the scan: nothing was ever offered.
    edited(template, add("training-pid-huge.safetensors", "raised OverflowError"), setitem("recovery.app_pid", 10**30))
    # Before: offered, though `kgn info` / the dialog could not use its recipe or spec.
    edited(template, add("training-recipe-string.safetensors", "offered"), setitem("recipe", "abc"))
    edited(template, add("training-spec-string.safetensors", "offered"), setitem("spec", "abc"))
    # Before: RecursionError / ValueError out of the scan.
    edited(template, add("training-deep.safetensors", "raised RecursionError"), raw_kgn="[" * 100_000 + "]" * 100_000)
    deep = b"[" * 1_000_000
    p = add("training-deep-header.safetensors", "raised RecursionError")
    p.write_bytes(struct.pack("<Q", len(deep)) + deep)
    digits = b'{"a": {"dtype": "F32", "shape": [' + b"9" * 100_000 + b'], "data_offsets": [0, 0]}}'
    p = add("training-digits.safetensors", "raised ValueError")
    p.write_bytes(struct.pack("<Q", len(digits)) + digits)
    add("training-folder.safetensors", "skipped silently").mkdir()
    os.mkfifo(add("training-fifo.safetensors", "blocked for ever (open of a FIFO)"))
    add("training-loop.safetensors", "skipped silently").symlink_to("training-loop.safetensors")
    add("training-dangling.safetensors", "skipped silently").symlink_to("nowhere.safetensors")
    p = add("training-unreadable.safetensors", "skipped silently")
    p.write_bytes(b"secret")
    p.chmod(0)
    with open(add("training-huge.safetensors", "skipped silently"), "wb") as f:  # 64 GiB, sparse
        f.write(struct.pack("<Q", 16 << 20))
        f.truncate(64 << 30)
    # Half-written temporaries of a dead writer: a folder cannot be unlinked; a pid that overflows os.kill.
    add(f".training-{dead}-1.safetensors.abc.part", "raised IsADirectoryError").mkdir()
    p = add(".training-99999999999999999999-1.safetensors.x.part", "raised OverflowError")
    p.write_bytes(b"")
    return before


def test_one_good_recovery_among_every_kind_of_bad_entry(tmp_path, caplog):
    dead = dead_pid()
    folder = tmp_path / "recovery"
    template = recovery_file(tmp_path / "templates", "template.safetensors", dead)
    good = recovery_file(folder, "training-good.safetensors", dead, step=1234)
    bad = bad_entries(folder, template, dead)
    assert len(bad) == 21
    caplog.set_level(logging.WARNING, logger="kgn_gui.recovery")
    t0 = time.perf_counter()
    with no_hang():
        found = pending_recoveries(folder)
    assert time.perf_counter() - t0 < 20
    assert [r.path for r in found] == [good]
    assert "step 1,234 of 100" in found[0].describe()
    lines = [r.getMessage() for r in caplog.records if r.name == "kgn_gui.recovery"]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "kgn_gui.recovery")
    for name in bad:  # one line for each bad entry, naming it
        assert sum(f" {name}: " in line for line in lines) == 1, (name, lines)
    assert len(lines) == len(bad)
    assert all("\n" not in line for line in lines)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("training-folder.safetensors", "a folder, not a file"),
        ("training-fifo.safetensors", "not a regular file (a FIFO, device or socket)"),
        ("training-loop.safetensors", "a symbolic link, not a file"),
        ("training-sidecar-string.safetensors", "its recovery entry is not a JSON object"),
        ("training-pid-text.safetensors", "recovery.app_pid must be a process id"),
        ("training-step-text.safetensors", "recovery.step must be a non-negative integer"),
        ("training-pid-huge.safetensors", "recovery.app_pid must be a process id"),
        ("training-recipe-string.safetensors", "damaged model metadata: recipe must be a JSON object"),
        ("training-spec-string.safetensors", "model spec must be a JSON object"),
        ("training-deep.safetensors", "damaged model metadata (JSON nested deeper than 32 levels)"),
        ("training-deep-header.safetensors", "damaged header (not valid JSON: unbalanced brackets)"),
        ("training-digits.safetensors", "a number of 100,000 characters"),
        ("training-huge.safetensors", "damaged header (not valid JSON"),
        (".training-99999999999999999999-1.safetensors.x.part", "no process id in its name"),
    ],
)
def test_each_skip_says_why(tmp_path, caplog, name, expected):
    dead = dead_pid()
    template = recovery_file(tmp_path / "templates", "template.safetensors", dead)
    folder = tmp_path / "recovery"
    folder.mkdir()
    bad_entries(folder, template, dead)
    caplog.set_level(logging.WARNING, logger="kgn_gui.recovery")
    with no_hang():
        assert pending_recoveries(folder) == []
    (line,) = [r.getMessage() for r in caplog.records if f" {name}: " in r.getMessage()]
    assert line.startswith(f"recovery folder: skipped {name}: ") and expected in line


def test_a_dead_writers_temporary_file_is_removed_and_a_live_ones_kept(tmp_path, caplog):
    dead = dead_pid()
    stale = tmp_path / f".training-{dead}-5.safetensors.q1.part"
    live = tmp_path / f".training-{os.getpid()}-5.safetensors.q2.part"
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    caplog.set_level(logging.WARNING, logger="kgn_gui.recovery")
    assert pending_recoveries(tmp_path) == []
    assert not stale.exists() and live.exists() and not caplog.records


def test_a_running_apps_recovery_is_not_offered_and_not_logged(tmp_path, caplog):
    recovery_file(tmp_path, "training-mine.safetensors", os.getpid())
    caplog.set_level(logging.WARNING, logger="kgn_gui.recovery")
    assert pending_recoveries(tmp_path) == [] and not caplog.records


def test_an_unlistable_or_missing_folder_offers_nothing(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kgn_gui.recovery")
    assert pending_recoveries(tmp_path / "absent") == []
    (tmp_path / "file").write_text("x")
    assert pending_recoveries(tmp_path / "file") == []
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert pending_recoveries(loop) == []


def test_describe_never_raises_on_odd_metadata(tmp_path):
    # Before: a recovery entry that is not an object raised AttributeError ('str' object has no .get).
    r = Recovery(tmp_path / "x.safetensors", {"recovery": "abc", "spec": "x", "dataset": 5})
    assert r.info == {} and r.describe() == "a model on 5: step ? of ?, saved ? UTC"
    r = Recovery(tmp_path / "x.safetensors", {"recovery": {"step": "3", "steps": 7, "saved": 12}})
    assert r.describe() == "a model on unknown data: step ? of 7, saved 12 UTC"
