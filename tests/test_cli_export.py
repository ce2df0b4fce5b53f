"""kgn export: the output's extension and --format agree, or it is one line and exit 2, nothing written."""

import time

import numpy as np
import pytest

from kgn_gui.cli import main
from kgn_gui.core.errors import ExportError
from kgn_gui.core.export.animation import read_frames
from kgn_gui.core.export.options import ExportOptions
from kgn_gui.core.export.targets import output_for
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


POINTS_2D = str(MODELS / "2d-corners.safetensors")
POINTS_1D = str(MODELS / "1d-sigmoid.safetensors")


@pytest.mark.parametrize(
    ("model", "args", "says"),
    [
        (POINTS_2D, ["--chain", "1"], "a 2-D points export draws every chain"),
        (POINTS_1D, ["--chain", "9"], "there is no chain 9 (0 … 3)"),
        (POINTS_2D, ["--bundle"], "run bundles are made for image models"),
        (MNIST, ["--size", "200x200"], "--size is the picture size of a 1-D or 2-D points model"),
        (POINTS_2D, ["--size", "20000x10"], "each side from 16 to 8192 pixels"),
        (POINTS_2D, ["--size", "300x300", "--scale", "32"], "larger than 8192 pixels"),
    ],
)
def test_an_option_of_the_other_kind_of_model_is_one_line_and_exit_2(tmp_path, capsys, model, args, says):
    argv = ["export", model, "--steps", "0:2", "-n", "4", "-o", str(tmp_path / "y.gif"), *args]
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's own refusal (a --size it cannot read): exit 2 as well
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and says in err
    assert list(tmp_path.iterdir()) == []


def test_a_points_model_exports_its_points_view_with_the_step_band(tmp_path, capsys):
    from kgn_gui.core.export.mosaic import band_height

    out = tmp_path / "p.webm"
    assert (
        main(["export", POINTS_1D, "--steps", "0:6:2", "-n", "8", "--size", "160x120", "--scale", "2", "-o", str(out)])
        == 0
    )
    frames = read_frames(out)
    assert "wrote" in capsys.readouterr().out
    assert len(frames) == 4 and frames[0].shape == (band_height(240, 320) + 240, 320, 3)


def _settled_size(qtbot, widget, still_ms: int = 300):
    """The widget's size once it has not changed for ``still_ms``: on a busy machine the docks and splitters
    settle after the first frames (a fixed 50 ms wait once read 470 px while the export drew 511)."""
    seen = {"size": widget.size(), "since": time.monotonic()}

    def still() -> bool:
        if widget.size() != seen["size"]:
            seen.update(size=widget.size(), since=time.monotonic())
        return time.monotonic() - seen["since"] >= still_ms / 1000

    qtbot.waitUntil(still, timeout=10_000)
    return widget.size()


@pytest.mark.parametrize("name", ["2d-corners", "1d-sigmoid"])
def test_the_window_and_kgn_export_draw_the_same_frames(make_window, qtbot, tmp_path, name):
    """The Points tab's export and kgn export of the same model, chains and size: identical frames."""
    w = make_window(size=(1000, 760))
    assert w.model_actions.load_model(MODELS / f"{name}.safetensors")
    cfg, view = w.session.config, w.points_view
    if name == "1d-sigmoid":
        view.cobweb_chain.setValue(2)  # the cobweb's chain: --chain 2
    w.chain.step_by(4)
    qtbot.waitUntil(lambda: w.points_split.isVisible())
    size = _settled_size(qtbot, w.points_split)  # laid out: the Points tab at its size on screen
    job = w.export_actions.start_export(
        [0, 3, 6], ExportOptions(fmt="apng", scale=1), str(tmp_path / "win"), target="points"
    )
    with qtbot.waitSignal(job.done, timeout=60_000) as blocker:
        pass
    argv = ["export", str(MODELS / f"{name}.safetensors"), "--steps", "0,3,6", "--format", "apng", "--scale", "1"]
    argv += ["-n", str(cfg.n), "--start", cfg.start, "--seed", str(cfg.seed), "--sampler", cfg.sampler.text()]
    argv += ["--size", f"{size.width()}x{size.height()}", "-o", str(tmp_path / "cli.png")]
    argv += ["--chain", "2"] if name == "1d-sigmoid" else []
    assert main(argv) == 0
    win, cli = read_frames(blocker.args[0]), read_frames(tmp_path / "cli.png")
    assert len(win) == len(cli) == 3 and win[0].shape[1] == size.width()
    assert all(np.array_equal(a, b) for a, b in zip(win, cli))
    assert not np.array_equal(win[0], win[2])  # the chains moved
