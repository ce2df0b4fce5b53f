"""Issue 16, item 1: outputs never clobber inputs, and outputs of several files land whole.

A command refuses (exit 2, one line, nothing written) an output that is one of its inputs — the same file by
device and inode, so also through a hard or symbolic link — or a folder that holds one. ``kgn sample -o DIR``
and PNG frame folders are built beside the target and swapped in as a unit: a failure half-way leaves the
previous result complete and no temporary behind.
"""

import errno
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from kgn_gui.cli import main
from kgn_gui.core import files
from tests.conftest import MODELS, one_error_line


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (links as links) → a digest of its bytes: the folder, byte for byte."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "link→" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


@pytest.fixture
def work(tmp_path):
    """A folder with the bundled MNIST model M, a hard link H and a symbolic link S to it, a start array."""
    m = tmp_path / "M.safetensors"
    m.write_bytes((MODELS / "mnist.safetensors").read_bytes())
    os.link(m, tmp_path / "H.safetensors")
    os.symlink("M.safetensors", tmp_path / "S.safetensors")
    np.save(tmp_path / "start.npy", np.zeros(784, np.float32))
    return tmp_path


@pytest.fixture
def image_model(tmp_path):
    """A tiny 1×4×4 image model: quick chains for the sample and export tests."""
    from kgn_gui.core.model.architectures import ModelSpec, build_model
    from kgn_gui.core.model.checkpoint import save_checkpoint

    spec = ModelSpec(D=16, L=1, H=8, bound="sigmoid", shape=(1, 4, 4))
    d = tmp_path / "models"
    d.mkdir()
    return save_checkpoint(d / "img.safetensors", build_model(spec, seed=0), spec)


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "{d}/M.safetensors", "--json", "{d}/M.safetensors"],  # the model replaced by JSON, before
        ["analyze", "{d}/M.safetensors", "--json", "{d}/H.safetensors"],  # a hard link to it
        ["analyze", "{d}/M.safetensors", "--json", "{d}/S.safetensors"],  # a symbolic link to it
        ["analyze", "{d}/M.safetensors", "--start", "{d}/start.npy", "--json", "{d}/start.npy"],
        ["sample", "{d}/M.safetensors", "-o", "{d}/H.safetensors"],
        ["sample", "{d}/M.safetensors", "-o", "{d}/S.safetensors"],
        ["sample", "{d}/M.safetensors", "-o", "{d}"],  # a folder output that holds the model
        ["sample", "{d}/M.safetensors", "--start", "{d}/start.npy", "-n", "2", "-o", "{d}"],
        ["export", "{d}/M.safetensors", "--steps", "0:2", "--format", "png", "-o", "{d}"],
        ["export", "{d}/M.safetensors", "--steps", "0:2", "--format", "npz", "-o", "{d}/L.npz"],
        ["export", "{d}/M.safetensors", "--steps", "0:2", "--format", "gif", "-o", "{d}/L.gif"],
        ["export", "{d}/M.safetensors", "--steps", "0:2", "--bundle", "-o", "{d}/H.safetensors"],
        ["train", "--data", "{d}/pts.npy", "--bound", "sigmoid", "--steps", "2", "-o", "{d}/P.safetensors"],
    ],
)
def test_a_command_never_writes_onto_its_own_input(work, capsys, args):
    np.save(work / "pts.npy", np.array([[0.2], [0.8]], np.float32))
    os.symlink("pts.npy", work / "P.safetensors")  # train -o: a link to its own data
    os.symlink("M.safetensors", work / "L.npz")  # export -o: links (suffix included) to the model
    os.symlink("M.safetensors", work / "L.gif")
    before = snapshot(work)
    code = main([a.format(d=work) for a in args])
    line = one_error_line(capsys)
    assert code == 2 and "input" in line and "choose another" in line, line
    assert snapshot(work) == before  # every input byte-identical, no temporary left, nothing new


def test_check_not_input_compares_device_and_inode(tmp_path):
    from kgn_gui.core.files import OutputIsInputError, WriteError, check_not_input

    a = tmp_path / "a.bin"
    a.write_bytes(b"input")
    os.link(a, tmp_path / "hard")
    os.symlink(a, tmp_path / "soft")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "sub", tmp_path / "sublink")
    (tmp_path / "sub" / "b.bin").write_bytes(b"inside")
    for target in (a, tmp_path / "hard", tmp_path / "soft"):
        with pytest.raises(OutputIsInputError, match="is the input"):
            check_not_input(target, [a])
    for folder in (tmp_path, tmp_path / "sub", tmp_path / "sublink"):
        with pytest.raises(OutputIsInputError, match="holds the input"):
            check_not_input(folder, [tmp_path / "sub" / "b.bin"])
    other = tmp_path / "other.bin"
    other.write_bytes(b"input")  # equal bytes, another file: not an input
    check_not_input(other, [a, None, tmp_path / "missing"])
    check_not_input(tmp_path / "new.json", [a])  # a new name is never an input
    assert issubclass(OutputIsInputError, WriteError)


def test_a_sample_that_fails_half_way_leaves_the_previous_result_whole(image_model, tmp_path, capsys, monkeypatch):
    out = tmp_path / "OUT"
    base = ["sample", str(image_model), "-n", "4", "--steps", "6", "--grid-n", "4"]
    assert main([*base, "--seed", "1", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["final_states.npy", "grid.png", "sample.json"]
    old = snapshot(out)
    capsys.readouterr()

    import kgn_gui.core.picture.render as render

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(render, "save_png", full_disk)  # the grid fails after final_states.npy was written
        assert main([*base, "--seed", "2", "-o", str(out)]) == 1
    assert "No space left on device" in one_error_line(capsys)
    assert snapshot(out) == old  # the complete old three files, not a new .npy beside an old grid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OUT", "models"]  # no temporary left

    # A run that succeeds replaces the three together, with the new chain's states.
    assert main([*base, "--seed", "2", "-o", str(out)]) == 0
    assert json.loads((out / "sample.json").read_text())["chain"]["seed"] == 2
    assert snapshot(out) != old and sorted(p.name for p in tmp_path.iterdir()) == ["OUT", "models"]


def test_sample_refuses_a_folder_of_other_files(image_model, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["sample", str(image_model), "-n", "2", "--steps", "2", "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert "not an empty folder" in line and "notes.txt" in line
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "models"]


def test_png_frames_replace_a_previous_export_whole(image_model, tmp_path, capsys, monkeypatch):
    import kgn_gui.core.export.animation as export  # write_frames calls the encoder it imported

    frames = tmp_path / "FRAMES"
    base = ["export", str(image_model), "--format", "png", "-n", "4", "--scale", "1", "-o", str(frames)]
    assert main([*base, "--steps", "0:4:2"]) == 0
    assert sorted(p.name for p in frames.iterdir()) == [f"frame_{t:06d}.png" for t in (0, 2, 4)]
    # A folder that holds only a previous frame export is replaced (it was refused before).
    assert main([*base, "--steps", "0:4:1"]) == 0
    assert sorted(p.name for p in frames.iterdir()) == [f"frame_{t:06d}.png" for t in range(5)]
    old = snapshot(frames)
    capsys.readouterr()

    real = export.write_pngs

    def fails_half_way(frames_iter, tmp_dir, opts):
        def two():
            for i, item in enumerate(frames_iter):
                if i == 2:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                yield item

        return real(two(), tmp_dir, opts)

    monkeypatch.setattr(export, "write_pngs", fails_half_way)
    assert main([*base, "--steps", "0:8:1", "--seed", "3"]) == 1
    assert "No space left on device" in one_error_line(capsys)
    assert snapshot(frames) == old  # the five old frames, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FRAMES", "models"]


def test_a_frame_folder_with_other_files_is_still_refused(image_model, tmp_path, capsys):
    frames = tmp_path / "F"
    frames.mkdir()
    (frames / "frame_000000.png").write_bytes(b"old frame")
    (frames / "keep.txt").write_text("mine")
    before = snapshot(frames)
    code = main(["export", str(image_model), "--format", "png", "--steps", "0:2", "-o", str(frames)])
    line = one_error_line(capsys)
    assert code == 1 and "not an empty folder" in line and "keep.txt" in line
    assert snapshot(frames) == before and sorted(p.name for p in tmp_path.iterdir()) == ["F", "models"]


def test_atomic_folder_puts_the_old_folder_back_when_the_swap_fails(tmp_path, monkeypatch):
    from kgn_gui.core.files import WriteError, atomic_folder

    target = tmp_path / "out"
    with atomic_folder(target, owned=lambda n: n.endswith(".txt")) as tmp:
        (tmp / "a.txt").write_text("old a")
        (tmp / "b.txt").write_text("old b")
    old = snapshot(target)
    with pytest.raises(RuntimeError):  # an error in the block: nothing changes
        with atomic_folder(target, owned=lambda n: n.endswith(".txt")) as tmp:
            (tmp / "a.txt").write_text("new a")
            raise RuntimeError("half-way")
    assert snapshot(target) == old and [p.name for p in tmp_path.iterdir()] == ["out"]

    real_rename, calls = os.rename, []
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)  # the two-rename swap (where no exchange exists)

    def second_rename_fails(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the new folder's rename into place
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", second_rename_fails)
    with pytest.raises(WriteError, match="Input/output error"):
        with atomic_folder(target, owned=lambda n: n.endswith(".txt")) as tmp:
            (tmp / "a.txt").write_text("new a")
    monkeypatch.undo()
    assert len(calls) == 3  # old aside, new in (failed), old back
    assert snapshot(target) == old and [p.name for p in tmp_path.iterdir()] == ["out"]

    (target / "keep.bin").write_bytes(b"not ours")
    with pytest.raises(WriteError, match="keep.bin"):
        with atomic_folder(target, owned=lambda n: n.endswith(".txt")):
            pytest.fail("the block must not run")
    assert (target / "keep.bin").read_bytes() == b"not ours"


def test_a_bundle_is_never_written_over_its_model_nor_reproduced_into_itself(tmp_path):
    from kgn_gui.core.chain.chain import ChainConfig
    from kgn_gui.core.errors import ExportError
    from kgn_gui.core.export.bundle import reproduce, write_bundle
    from kgn_gui.core.export.options import ExportOptions
    from kgn_gui.core.model.checkpoint import load_checkpoint

    m = tmp_path / "M.safetensors"
    m.write_bytes((MODELS / "mnist.safetensors").read_bytes())
    ck = load_checkpoint(m)
    before = snapshot(tmp_path)
    with pytest.raises(ExportError, match="is the input"):
        write_bundle(m, ck, ChainConfig(n=2), [0, 1], ExportOptions(scale=1))
    assert snapshot(tmp_path) == before
    b = write_bundle(tmp_path / "B", ck, ChainConfig(n=2), [0, 1], ExportOptions(fmt="gif", scale=1))
    frames = write_bundle(tmp_path / "P", ck, ChainConfig(n=2), [0, 1], ExportOptions(fmt="png", scale=1))
    before = snapshot(tmp_path)
    for bundle, out in (
        (b, b / "animation.gif"),
        (b, b / "animation"),  # the format's suffix is added: the bundle's own animation
        (frames, frames),  # a frame folder over the bundle that holds it
        (frames, frames / "animation"),  # over the bundle's own frames
    ):
        with pytest.raises(ExportError, match="input"):
            reproduce(bundle, out)
    assert snapshot(tmp_path) == before


def test_sample_still_makes_the_folders_above_its_output(image_model, tmp_path):
    out = tmp_path / "a" / "b" / "OUT"
    assert main(["sample", str(image_model), "-n", "2", "--steps", "2", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["final_states.npy", "grid.png", "sample.json"]
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["OUT"]  # and no temporary beside it
