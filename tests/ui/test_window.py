"""The first window: opens on the bundled MNIST model and plays its chain."""
import numpy as np
import pytest

from kgn_gui.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, mnist_model_path):
    w = MainWindow(mnist_model_path, n_chains=16)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.timer.stop()


def test_opens_on_the_bundled_model_and_shows_noise(window):
    assert window.checkpoint is not None and window.checkpoint.spec.D == 784
    img = window.grid.current_image()
    assert img is not None and img.shape[0] > 4 * 28 and img.std() > 20  # uniform noise
    assert "3,039,784 parameters" in window.statusBar().currentMessage()


def test_play_advances_and_digits_emerge(window, qtbot):
    first = window.grid.current_image().copy()
    window.toggle_play()
    qtbot.waitUntil(lambda: window.step >= 10, timeout=20_000)
    window.toggle_play()
    assert window.step_label.text() == f"step {window.step}"
    later = window.grid.current_image()
    assert not np.array_equal(first, later)
    # Digits are mostly background: far more dark pixels than in the uniform noise start.
    assert (later < 40).mean() > (first < 40).mean() + 0.3


def test_step_shortcut_and_reset(window, qtbot):
    window.step_forward()
    window.step_forward()
    assert window.step == 2 and window.step_label.text() == "step 2"
    window.reset_chain()
    assert window.step == 0


def test_a_bad_model_file_shows_an_error_and_keeps_the_app_usable(window, tmp_path, monkeypatch):
    from PySide6 import QtWidgets

    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert not window.load_model(bad)
    assert shown and "bad.safetensors" in shown[0]
    window.step_forward()
    assert window.step == 1


def test_window_renders_to_png(window, tmp_path):
    for _ in range(20):
        window.step_forward()
    pix = window.grab()
    out = tmp_path / "window.png"
    assert pix.save(str(out)) and out.stat().st_size > 5000
