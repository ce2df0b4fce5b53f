"""kgn export: the output's extension and --format agree, or it is one line and exit 2, nothing written."""

import numpy as np
import pytest

from kgn_gui.cli import main
from kgn_gui.core.export import ExportError, output_for, read_frames
from tests.conftest import MODELS

MNIST = str(MODELS / "mnist.safetensors")


def _export(tmp_path, *args):
    return main(["export", MNIST, "--steps", "0:2", "-n", "4", "--scale", "1", *args])


@pytest.mark.parametrize(
    ("name", "fmt", "named"), [("y.gif", "mp4", "GIF"), ("y.mp4", "gif", "MP4"), ("y.png", "webm", "APNG")]
)
def test_an_extension_naming_another_format_is_one_line_and_exit_2(tmp_path, capsys, name, fmt, named):
    assert _export(tmp_path, "--format", fmt, "-o", str(tmp_path / name)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("kgn export: error: ") and f"{name} names a" in err and named in err
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing half-written


def test_a_name_without_extension_gets_the_formats(tmp_path, capsys):
    assert _export(tmp_path, "--format", "mp4", "-o", str(tmp_path / "y")) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["y.mp4"]
    assert len(read_frames(tmp_path / "y.mp4")) == 3


def test_without_format_the_extension_decides(tmp_path):
    assert _export(tmp_path, "-o", str(tmp_path / "y.webm")) == 0
    assert _export(tmp_path, "-o", str(tmp_path / "z.png")) == 0  # .png: an APNG file
    assert _export(tmp_path, "-o", str(tmp_path / "w")) == 0  # no extension: GIF, as before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.gif", "y.webm", "z.png"]
    assert len(read_frames(tmp_path / "z.png")) == 3 and len(read_frames(tmp_path / "y.webm")) == 3


def test_a_matching_extension_overwrites_nothing_else(tmp_path):
    keep = tmp_path / "y.gif.mp4"
    keep.write_bytes(b"old")
    assert _export(tmp_path, "--format", "gif", "-o", str(tmp_path / "y.gif")) == 0
    assert keep.read_bytes() == b"old" and (tmp_path / "y.gif").stat().st_size > 0


def test_the_rule_is_one_core_function():
    assert output_for("a/y", "mp4").name == "y.mp4"
    assert output_for("y.GIF", "gif").name == "y.GIF"
    assert output_for("y.v2", "gif").name == "y.v2.gif"  # an unknown extension is part of the name
    assert output_for("states", "npz").name == "states.npz"
    with pytest.raises(ExportError, match=r"y\.gif names a GIF file but the format is MP4: name it y\.mp4"):
        output_for("y.gif", "mp4")
    with pytest.raises(ExportError, match="format is a folder of PNG frames: name it frames"):
        output_for("frames.mp4", "png")
    assert np.array_equal(output_for("frames", "png").name, "frames")


def test_the_window_dialog_refuses_the_same_mismatch(qtbot, tmp_path):
    from kgn_gui.ui.widgets.export_dialog import ExportDialog

    d = ExportDialog(None, 10, 4, None, str(tmp_path))
    qtbot.addWidget(d)
    d.fmt.setCurrentIndex(d.fmt.findData("mp4"))
    d.path.setText(str(tmp_path / "y.gif"))
    with pytest.raises(ExportError, match=r"y\.gif names a GIF file but the format is MP4"):
        d.values()
    d.path.setText(str(tmp_path / "y"))
    steps, opts, out = d.values()
    assert opts.fmt == "mp4" and out == str(tmp_path / "y") and steps[0] == 0
    assert list(tmp_path.iterdir()) == []
