"""Issue 30, items 10 and 18: Save model never proposes the bundled folder; a dropped folder or data file is
imported, and what cannot be dropped is said."""

from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtWidgets

from kgn_gui.ui.first_frame import DEFAULT_MODEL
from tests.conftest import drop_file


@pytest.fixture
def window(make_window):
    return make_window()


def test_save_model_proposes_the_last_save_folder_never_the_bundled_models(window, monkeypatch, tmp_path):
    asked = []

    def fake_save(_parent, _title, start, _filter):
        asked.append(Path(start).parent)
        return "", ""

    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", fake_save)
    window.settings.setValue("chain/last_dir", str(DEFAULT_MODEL.parent))  # opened from the bundled folder
    window.settings.setValue("chain/save_dir", str(DEFAULT_MODEL.parent))
    window.model_actions.save_model_dialog()
    assert asked[-1] == Path.home()
    assert window.model_actions.save_model(tmp_path / "mine.safetensors")
    window.model_actions.save_model_dialog()
    assert asked[-1] == tmp_path  # where the user saved last


def test_a_dropped_data_file_is_imported_and_a_stranger_is_said(window, qtbot, tmp_path):
    data = tmp_path / "digits.npy"
    np.save(data, np.random.default_rng(0).uniform(0, 1, (20, 28, 28)).astype(np.float32))
    drop_file(window, data)
    qtbot.waitUntil(lambda: "imported" in window.statusBar().currentMessage(), timeout=20_000)
    assert any(
        window.training_panel.source.itemData(i) == str(data) for i in range(window.training_panel.source.count())
    )
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    drop_file(window, odd)
    msg = window.statusBar().currentMessage()
    assert msg.startswith("cannot open notes.txt: drop a model (.safetensors), a data file")


def test_after_save_as_the_status_bar_names_the_saved_model(window, tmp_path):
    assert window.model_label.text().startswith("mnist · ")
    assert window.model_actions.save_model(tmp_path / "renamed.safetensors")
    assert window.model_label.text().startswith("renamed · ") and "renamed" in window.windowTitle()
