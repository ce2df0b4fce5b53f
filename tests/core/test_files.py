"""Atomic writes: a failed write (full disk, unwritable folder) raises a clear error and leaves the old file."""

import errno
import os

import numpy as np
import pytest

from kgn_gui.core import files
from kgn_gui.core.errors import CheckpointError
from kgn_gui.core.files import WriteError, atomic_path, atomic_write_bytes, atomic_write_text
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.checkpoint import load_checkpoint, save_checkpoint


def _full_disk(*a, **k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_replaces_the_file_whole(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "old")
    atomic_write_bytes(p, b"new")
    assert [q.name for q in tmp_path.iterdir()] == ["a.txt"]
    plain = tmp_path / "plain.txt"  # the usual permissions of a new file (0666 less the umask), not mkstemp's 0600
    plain.write_text("x")
    assert p.read_bytes() == b"new" and os.stat(p).st_mode & 0o777 == os.stat(plain).st_mode & 0o777


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    p.write_text("old")
    monkeypatch.setattr(files.os, "fsync", _full_disk)
    with pytest.raises(WriteError, match="No space left on device"):
        atomic_write_text(p, "new")
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["a.txt"]


def test_an_error_inside_the_block_leaves_the_old_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("the writer failed")
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["a.txt"]


def test_missing_or_unwritable_folders_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(WriteError, match="does not exist"):
        atomic_write_text(tmp_path / "nope" / "a.txt", "x")

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    with pytest.raises(WriteError, match="Permission denied"):
        atomic_write_text(tmp_path / "a.txt", "x")


def test_saving_a_model_on_a_full_disk_keeps_the_old_model(tmp_path, monkeypatch):
    spec = ModelSpec(D=2, L=1, H=3, bound="sigmoid")
    p = save_checkpoint(tmp_path / "m.safetensors", build_model(spec, seed=0), spec)
    before = p.read_bytes()
    monkeypatch.setattr(files.os, "fsync", _full_disk)
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(p, build_model(spec, seed=1), spec)
    assert p.read_bytes() == before and load_checkpoint(p).spec == spec
    assert [q.name for q in tmp_path.iterdir()] == ["m.safetensors"]


def test_exports_and_csv_on_a_full_disk(tmp_path, monkeypatch):
    from kgn_gui.core.chain.chain import ChainConfig
    from kgn_gui.core.errors import ExportError
    from kgn_gui.core.experiment.sweep import write_csv
    from kgn_gui.core.export.animation import export_states

    spec = ModelSpec(D=2, L=1, H=3, bound="sigmoid")
    out = tmp_path / "s.npz"
    export_states(build_model(spec, seed=0), spec, ChainConfig(n=2), [0, 3], out)
    before = out.read_bytes()
    write_csv([{"a": 1.0}], tmp_path / "r.csv")
    monkeypatch.setattr(files.os, "fsync", _full_disk)
    with pytest.raises(ExportError, match="No space left"):
        export_states(build_model(spec, seed=0), spec, ChainConfig(n=2), [0, 5], out)
    with pytest.raises(WriteError):
        write_csv([{"a": 2.0}], tmp_path / "r.csv")
    assert out.read_bytes() == before and np.load(out)["steps"].tolist() == [0, 3]
    assert (tmp_path / "r.csv").read_text() == "a\n1\n"  # the first write, whole
    assert sorted(q.name for q in tmp_path.iterdir()) == ["r.csv", "s.npz"]
