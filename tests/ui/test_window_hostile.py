"""The window's ways in (open, import, export, bundle) with hostile inputs: one line in a dialog, no hang,
nothing written, the app stays usable (issue 16, item 8)."""

import os
from pathlib import Path

import pytest

from kgn_gui.core.export.options import ExportOptions
from tests.conftest import no_hang

MODELS = Path(__file__).resolve().parents[2] / "models"
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


def test_opening_a_fifo_as_a_model_is_one_line_and_never_blocks(make_window, errors, tmp_path):
    window = make_window()
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with no_hang(10):
        assert not window.model_actions.load_model(fifo)
    assert errors[-1] == ("Cannot open model", "model.safetensors: not a regular file (a named pipe), not a model file")
    assert window.checkpoint.name == "mnist"  # the old model stays


def test_a_model_whose_images_no_picture_draws_is_refused_in_one_line(make_window, errors, tmp_path):
    from tests.core.test_untrusted_models import undrawable_model

    window = make_window()
    assert not window.model_actions.load_model(undrawable_model(tmp_path, 2))
    title, msg = errors[-1]
    assert title == "Cannot open model" and msg.startswith("bad.safetensors: images of 2 channels") and "\n" not in msg
    assert window.checkpoint.name == "mnist"  # the old model stays
    window.chain.step_by(2)  # and its chains still step


def test_importing_a_fifo_is_one_line_off_the_gui_thread(make_window, errors, qtbot, tmp_path):
    window = make_window()
    fifo = tmp_path / "data.npy"
    os.mkfifo(fifo)
    with no_hang(10):
        job = window.model_actions.import_data(str(fifo))
        qtbot.waitUntil(lambda: not job.running(), timeout=10_000)
    assert errors[-1][0] == "Import failed" and errors[-1][1].endswith(
        "data.npy: not a regular file or a folder (a named pipe)"
    )


def test_an_export_that_does_not_fit_in_memory_is_refused_before_it_starts(make_window, errors, monkeypatch, tmp_path):
    import kgn_gui.core.preflight as preflight

    window = make_window()
    monkeypatch.setattr(preflight, "available_bytes", lambda available=None, device=None: 64 << 20)
    assert (
        window.export_actions.start_export(list(range(100)), ExportOptions(fmt="apng", scale=32), str(tmp_path / "big"))
        is None
    )
    assert errors[-1][0] == "Export" and "APNG frames" in errors[-1][1] and "frames fit" in errors[-1][1]
    assert list(tmp_path.iterdir()) == []
