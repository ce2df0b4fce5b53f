"""Issue 30: what a new user found in the window — one refusal while training runs, the Open dialog's
classifier and fake model files, the help windows, tick values, plural texts, the Analysis hint, the Condition
tab's data set, the dark theme's check boxes, bounded fields, Points presets without a model, and the Lab's
saved settings."""

import pytest

from kgn_gui.ui.controllers.training import BUSY


@pytest.fixture
def window(make_window):
    return make_window(n_chains=16)


def test_every_refusal_while_training_runs_is_one_message_that_says_what_to_do(window, qtbot, errors):
    tp = window.training_panel
    tp.set_recipe("points:2d-corners", bound="sigmoid", L=2, H=8, lr=1e-3, steps=5_000_000, batch=4)
    assert window.training_actions.start_training()
    assert not window.training_actions.start_training()  # the Training dock's Train again
    window.points_view.trainRequested.emit("1d-tanh")  # the Points tab's Train on these points
    window.points_view.compareRequested.emit(2, 4)  # Compare depths
    assert [text for _title, text in errors] == [BUSY] * 3
    assert BUSY == "a training is running: stop it first (Training → Stop)"


def test_open_says_a_classifier_is_no_kaleidoscope_model_and_a_fake_file_is_no_safetensors_file(
    window, monkeypatch, tmp_path, errors
):
    from PySide6 import QtWidgets

    from tests.conftest import MODELS

    fake = tmp_path / "fake.safetensors"
    fake.write_text("hello, this is no model at all")
    before = window.checkpoint
    for path in (MODELS / "mnist-classifier.safetensors", fake):
        monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, p=path, **k: (str(p), ""))
        window.model_actions.open_model_dialog()  # File → Open model…
    assert [text for _title, text in errors] == [
        "mnist-classifier.safetensors: a classifier (the feature net the measures use), not a Kaleidoscope model",
        "fake.safetensors: not a safetensors file",
    ]
    assert window.checkpoint is before


def test_keyboard_shortcuts_have_no_blank_action_and_quick_start_names_the_button(window):
    """Issue 30: three rows "Window | (blank) | Esc" — the Esc of each progress dialog a job had shown
    (its Cancel, a key of that dialog only); the Quick start said "Use current weights" where the Training
    dock's button says "Use weights"."""
    from kgn_gui.ui import dialogs
    from kgn_gui.ui.jobs import Job

    for _ in range(3):  # three jobs (exports, imports, …), each with its progress dialog
        window._show_job(Job(lambda progress, cancelled: None, "export", window))
    rows = dialogs.shortcut_rows(window)
    assert rows and all(what.strip() for _where, what, _keys in rows), [r for r in rows if not r[1].strip()]
    assert not any(keys == "Esc" for _where, _what, keys in rows)
    assert ("Training", "Use current weights", "Ctrl+U") in rows  # the menu's own actions stay
    button = window.training_panel.use_button.text()
    assert f"<i>{button}</i>" in dialogs.QUICK_START_HTML and "Use current weights" not in dialogs.QUICK_START_HTML


def test_counted_words_are_singular_for_one(window, monkeypatch, tmp_path):
    """Issue 30: "settled again after 1 steps"; every text that counts says 1 step, 2 steps."""
    import kgn_gui.ui.controllers.lab as lab_ctl
    from kgn_gui.core.chain.lab import Edit
    from kgn_gui.core.chain.start import Start
    from kgn_gui.core.wording import count
    from tests.ui.test_unsaved_work import finished_run

    assert (count(1, "step"), count(2, "step"), count(1250, "sample")) == ("1 step", "2 steps", "1,250 samples")
    window.chain.step_by(3)
    window.chain.add_edit(Edit(t=1, kind="erase", rows=(2,)))
    window.chain.step_by(2)
    monkeypatch.setattr(lab_ctl, "settle_time", lambda *a: 1)
    assert window.lab.settle_note(2) == ([1], "edited at step 1: settled again after 1 step")
    assert Start("uniform", n=1, seed=0).describe() == "1 chain from uniform noise, seed 0"
    run = finished_run(tmp_path)
    run.step = 1
    window.guard.dock_run = run
    asked = []
    window.ask_unsaved_run = lambda what, doing: asked.append(what) or "cancel"
    assert not window.close() and asked[0].startswith("The training that finished (1 step, best loss")


def test_the_analysis_hint_says_pause_only_while_playing(window, qtbot):
    """Issue 30: "press Measure (Ctrl+M), or pause playback" was said with playback already paused."""
    a, ch = window.analysis, window.chain
    window.start_panel.request_random()  # new chains: nothing measured
    assert not ch.playing
    assert a.status.text() == "not measured yet: press Measure (Ctrl+M) to measure the shown step"
    ch.play()
    qtbot.waitUntil(lambda: ch.playing, timeout=5000)
    assert a.status.text() == "not measured yet: press Measure (Ctrl+M), or pause playback, to measure the shown step"
    ch.pause()
    qtbot.waitUntil(lambda: not ch.playing, timeout=5000)
    assert "pause" not in a.status.text().replace("Measure", "")
    a.measured_t = 3  # numbers of step 3 while another step is shown
    a.set_current(False)
    assert a.step_label.text() == "measured at step 3, not the step shown (greyed): press Measure (Ctrl+M)"


def test_the_export_dialog_remembers_its_format_and_file_name(qtbot, tmp_path):
    """Issue 30: each opening of File → Export animation came back to GIF and "kaleidoscope"."""
    from PySide6 import QtCore

    from kgn_gui.ui.widgets.export_dialog import ExportDialog

    st = QtCore.QSettings()
    for key in ("export/format", "export/name"):
        st.remove(key)
    try:
        d = ExportDialog(None, 10, 4, None, str(tmp_path))
        qtbot.addWidget(d)
        d.fmt.setCurrentIndex(d.fmt.findData("webm"))
        d.path.setText(str(tmp_path / "run-7"))
        d.accept()
        again = ExportDialog(None, 10, 4, None, str(tmp_path / "elsewhere"))
        qtbot.addWidget(again)
        assert again.fmt.currentData() == "webm"
        assert again.path.text() == str(tmp_path / "elsewhere" / "run-7")
    finally:
        for key in ("export/format", "export/name"):
            st.remove(key)


def test_an_unchecked_check_box_has_a_visible_border_in_the_dark_theme(window):
    """Issue 30: Fusion outlines a check box in the window colour darkened (#202020 on #2d2d2d): unchecked boxes
    were all but invisible in the dark theme."""
    from PySide6 import QtWidgets

    window.theme.choice = "dark"  # as View → Theme → Dark, without saving the choice
    window.theme.apply()
    try:
        box = QtWidgets.QCheckBox("all chains")
        box.resize(120, 24)
        opt = QtWidgets.QStyleOptionButton()
        box.initStyleOption(opt)
        rect = box.style().subElementRect(QtWidgets.QStyle.SubElement.SE_CheckBoxIndicator, opt, box)
        img = box.grab().toImage()
        y = rect.center().y()
        background = img.pixelColor(rect.right() + 3, rect.top() - 2 if rect.top() >= 2 else y).lightness()
        border = max(img.pixelColor(x, y).lightness() for x in range(rect.left(), rect.left() + 2))
        assert border - background > 60, (border, background)
    finally:
        window.theme.choice = "system"
        window.theme.apply()


class _Curves:
    """One chain's curves over steps 0 … 574, as ChainCurves.chain gives them."""

    def chain(self, key, i):
        import numpy as np

        return np.geomspace(1.0, 0.01, 575) if key != "nearest" else np.full(575, 0.3)


def test_the_inspector_curves_fit_their_steps_in_sight_with_the_key_beside_them(qtbot):
    """Issue 30: the inspector's curves ran over x −400 … 1100 for steps 0 … 574 (kept after a wheel over the
    plot), a legend covered them, they sat below the fold of a 1400×900 window (the plot asked for 480 px), and
    a points model left the plot empty."""
    import numpy as np
    from PySide6 import QtWidgets

    from kgn_gui.ui.widgets.inspector import Inspector

    scroll = QtWidgets.QScrollArea()  # the Inspector dock of a 1400×900 window
    scroll.setWidgetResizable(True)
    insp = Inspector()
    scroll.setWidget(insp)
    scroll.resize(360, 425)
    qtbot.addWidget(scroll)
    scroll.show()
    qtbot.waitExposed(scroll)
    insp.set_image_model(True)
    state = np.zeros(28 * 28, np.float32)
    show = lambda: insp.show_chain(3, 574, state, (1, 28, 28), (0.0, 1.0), None, _Curves())  # noqa: E731
    show()
    insp.plot.setXRange(-400, 1100, padding=0)  # the wheel over the plot, as when scrolling the dock
    show()
    qtbot.wait(50)
    lo, hi = insp.plot.getPlotItem().vb.viewRange()[0]
    assert -15 <= lo <= 0 and 574 <= hi <= 590, (lo, hi)
    assert insp.plot.getPlotItem().legend is None and all(k in insp.key.text() for k in ("step", "residual"))
    assert insp.height() <= scroll.viewport().height(), "the curves are below the fold"
    assert insp.plot.getPlotItem().vb.height() >= 110
    insp.set_image_model(False)  # a points model: no chain pictures, no curves of one chain
    assert insp.plot.isHidden() and "Plots dock" in insp.caption.text()


def test_the_condition_tab_names_its_data_set_and_takes_a_known_image_from_a_file(window, monkeypatch, tmp_path):
    """Issue 30: the Condition tab's index did not say which data set it is in, and docs/window.md lists a file
    as a known image the tab did not offer."""
    import numpy as np
    from PIL import Image
    from PySide6 import QtWidgets

    sp, ds = window.start_panel, window.models.train_data
    assert sp.cond_data.text() == f"of {ds.name} ({ds.M:,} images)"
    assert sp.cond_index.maximum() == ds.M - 1
    picture = np.zeros((28, 28), np.uint8)
    picture[4:12, 10:18] = 255  # a white square in the top half
    path = tmp_path / "known.png"
    Image.fromarray(picture).save(path)
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    sp.cond_source.setCurrentIndex(2)
    sp.cond_source.textActivated.emit(sp.cond_source.itemText(2))  # the person picks "image or .npy file…"
    assert sp.cond_source.currentText() == "file: known.png"
    c = sp.condition()
    lo, hi = window.checkpoint.value_range
    assert c.source == "known.png" and c.region == "top"
    assert np.allclose(c.known.reshape(28, 28), np.where(picture > 0, hi, lo), atol=1e-6)
    assert c.mask.reshape(28, 28)[:14].all() and not c.mask.reshape(28, 28)[14:].any()


def _type(box, keys: str) -> None:
    """Select the field's number and type ``keys``, then Enter, as a person does."""
    from PySide6 import QtCore
    from PySide6.QtTest import QTest

    box.setFocus()
    box.selectAll()
    QTest.keyClicks(box, keys)
    QTest.keyClick(box, QtCore.Qt.Key.Key_Return)


def test_bounded_fields_say_their_range_and_what_they_refused(window):
    """Issue 30: ε "5" stayed 0.0100, chains 99999 became 999 and "zz-1" became 1, without a word. Every
    bounded field of the panels says its range in its tooltip, and a value it refuses is said in one line in
    the status bar."""
    from PySide6 import QtCore, QtGui, QtWidgets

    from kgn_gui.ui.widgets.ranges import RangeGuard

    panels = (window.start_panel, window.training_panel, window.lab_panel, window.analysis, window.transport)
    kinds = (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)
    boxes = [b for p in panels for b in p.findChildren(QtWidgets.QAbstractSpinBox) if isinstance(b, kinds)]
    assert len(boxes) > 20
    for box in boxes:  # the tooltip as it is about to show (a range set after the panel was built included)
        at = box.rect().center()
        box.findChild(RangeGuard).eventFilter(box, QtGui.QHelpEvent(QtCore.QEvent.Type.ToolTip, at, at))
        lo, hi = box.minimum(), box.maximum()
        want = f"{lo:,} … {hi:,}" if isinstance(box, QtWidgets.QSpinBox) else f"{lo:g} … {hi:g}"
        assert box.toolTip().endswith(f"Range: {want}"), (box.objectName() or box.prefix(), box.toolTip())
    bar = window.statusBar()
    eps = window.transport.eps
    _type(eps, "5")
    assert bar.currentMessage() == "ε: 5 is out of range 0 … 1; kept 0.01"
    assert eps.value() == 0.01
    chains = window.start_panel.n
    _type(chains, "99999")  # the fourth 9 is refused: 9,999 chains are more than the field takes
    assert chains.value() == 999
    assert bar.currentMessage() == "Chains: 9999 is out of range 1 … 1,024; kept 999"
    _type(chains, "zz")
    assert bar.currentMessage() == "Chains: 'z' is not a number (range 1 … 1,024); kept 999"
