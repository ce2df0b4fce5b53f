"""What the fuzz harness (tests/test_fuzz_entry_points.py) found, each pinned by one known answer."""

import os
from pathlib import Path

import pytest

from kgn_gui.cli import main
from kgn_gui.core.errors import CheckpointError, ExportError
from kgn_gui.core.export.targets import target_path
from kgn_gui.core.model.checkpoint import load_checkpoint

MODELS = Path(__file__).resolve().parents[1] / "models"


def exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's refusals
        return e.code


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "Warning" not in err, err
    return err


def test_a_huge_number_option_is_refused_so_no_unloadable_model_is_ever_written(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert exit_code(["train", "--data", "points:1d-sigmoid", "--batch", "9" * 50, "-o", str(out)]) == 2
    assert "must be ≤ 9,007,199,254,740,992, got a number of 50 digits" in one_line_error(capsys)
    assert not out.exists()


def test_a_tolerance_that_overflows_is_refused_instead_of_warning(capsys):
    assert exit_code(["analyze", str(MODELS / "2d-corners.safetensors"), "--copy-tol", "1e308"]) == 2
    assert one_line_error(capsys).endswith(
        "argument --copy-tol: must be in (0, 10], got 1e308 (see kgn analyze --help)"
    )
    assert exit_code(["analyze", str(MODELS / "2d-corners.safetensors"), "--tol", "nan"]) == 2
    assert "must be in (0, 10], got nan" in one_line_error(capsys)


def test_a_folder_where_a_file_is_written_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(MODELS / "2d-corners.safetensors"), "-o", "."]) == 1
    assert one_line_error(capsys) == "kgn export: error: .: name the GIF file to write, not a folder"
    with pytest.raises(ExportError, match="name the APNG file"):
        target_path("..", "apng")
    assert target_path(".", "png") == tmp_path.resolve()
    assert os.listdir(tmp_path) == []


def test_a_model_file_name_with_a_newline_stays_one_line(tmp_path):
    p = tmp_path / "a\nb.safetensors"
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"\xff" * 16)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(p)
    assert "\n" not in str(e.value) and str(e.value).startswith("a\\nb.safetensors: ")


def test_a_name_the_loader_would_refuse_is_refused_before_training(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert exit_code(["train", "--data", "points:1d-sigmoid", "--name", "x" * 201, "-o", str(out)]) == 2
    assert "argument --name: one line of at most 200 printable characters" in one_line_error(capsys)
    assert not out.exists()


def test_the_writer_refuses_metadata_its_own_loader_would_refuse(tmp_path):
    from kgn_gui.core.model.checkpoint import save_checkpoint

    ck = load_checkpoint(MODELS / "1d-sigmoid.safetensors")
    with pytest.raises(CheckpointError, match="name must be text of at most 200 characters"):
        save_checkpoint(tmp_path / "m.safetensors", ck.model, ck.spec, name="x" * 201)
    with pytest.raises(CheckpointError, match="the metadata cannot be written"):
        save_checkpoint(tmp_path / "m.safetensors", ck.model, ck.spec, recipe={"steps_done": 10**60})
    assert list(tmp_path.iterdir()) == []


def test_an_infinite_shape_in_a_spec_is_a_spec_error():
    from kgn_gui.core.errors import SpecError
    from kgn_gui.core.model.architectures import ModelSpec

    with pytest.raises(SpecError, match="shape must be a list of integers"):
        ModelSpec(D=4, shape=(float("inf"),))  # a model file's spec.shape [Infinity]: int(inf) overflows
