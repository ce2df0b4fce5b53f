"""Help (quick start, About with every library and its licence) and the light and dark themes."""

import re
import tomllib
from importlib import metadata

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from kgn_gui.ui import dialogs, theme
from tests.conftest import REPO

WINDOW = QtGui.QPalette.ColorRole.Window


@pytest.fixture
def clean_settings():
    """No theme or quick-start choice saved before or after (the tests' settings folder is shared)."""
    st = QtCore.QSettings()
    for key in (theme.SETTING, dialogs.QUICK_START_SETTING):
        st.remove(key)
    yield st
    for key in (theme.SETTING, dialogs.QUICK_START_SETTING):
        st.remove(key)
    QtWidgets.QApplication.instance().setPalette(theme.palette("light"))


def window_colour() -> str:
    return QtWidgets.QApplication.instance().palette().color(WINDOW).name()


def plot_backgrounds(w) -> set[str]:
    plots = [*w.plots.curves.values(), w.plots.histogram]
    return {p.backgroundBrush().color().name() for p in plots}


def test_about_lists_every_runtime_dependency_with_its_version_and_licence(make_window):
    w = make_window()
    d = dialogs.about(w)
    assert d.isVisible() and not d.isModal()
    t = d.table
    rows = {t.item(r, 1).text(): [t.item(r, c).text() for c in range(4)] for r in range(t.rowCount())}
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", d).group(0)).lower() for d in deps]
    assert len(names) == 8
    for name in names:
        assert name in rows, name
        assert rows[name][2] == metadata.version(name)
    expected = {
        "pyside6-essentials": "LGPL-3.0",
        "pyqtgraph": "MIT",
        "torch": "BSD-3-Clause",
        "numpy": "BSD-3-Clause",
        "qasync": "BSD-2-Clause",
        "safetensors": "Apache-2.0",
        "pillow": "MIT-CMU",
        "av": "BSD-3-Clause",
    }
    for name, licence in expected.items():
        assert rows[name][3].startswith(licence), rows[name]
    ffmpeg = next(t.item(r, 3).text() for r in range(t.rowCount()) if t.item(r, 0).text() == "FFmpeg")
    assert "GPL" in ffmpeg and "x264" in ffmpeg
    # The codec paragraph says what the README says: x264 makes a redistributed build GPL.
    readme = (REPO / "README.md").read_text()
    para = readme[readme.index("**Codec licences:**") :].split("\n\n")[0]
    doc = QtGui.QTextDocument()
    doc.setHtml(d.codec_note.text())
    words = lambda s: " ".join(s.replace("**", "").replace("`", "").split())
    assert words(doc.toPlainText()) == words(para)
    assert "falls under the GPL" in words(para)
    assert dialogs.about(w) is d  # one About window, raised again


def test_quick_start_is_offered_on_the_first_launch_and_while_show_at_start_is_ticked(make_window, clean_settings):
    w = make_window()
    d = dialogs.offer_quick_start(w)
    assert d is not None and d.isVisible() and not d.isModal()
    assert "Space" in dialogs.QUICK_START_HTML and not d.at_start.isChecked()
    d.close()
    assert dialogs.offer_quick_start(w) is None  # once
    d.at_start.setChecked(True)
    assert clean_settings.value(dialogs.QUICK_START_SETTING, type=bool) is True
    assert dialogs.offer_quick_start(w) is d and d.isVisible()
    d.at_start.setChecked(False)
    d.close()
    assert dialogs.offer_quick_start(w) is None


def test_the_theme_follows_the_system_and_view_theme_switches_the_palette_and_the_plots(make_window, clean_settings):
    w = make_window()
    # Offscreen the colour scheme is unknown: light.
    assert QtGui.QGuiApplication.styleHints().colorScheme() == QtCore.Qt.ColorScheme.Unknown
    assert w.theme.choice == "system" and w.theme.name == "light" and w.theme_actions["system"].isChecked()
    assert window_colour() == "#efefef" and plot_backgrounds(w) == {"#ffffff"}
    names = []
    w.theme.changed.connect(names.append)
    w.theme_actions["dark"].trigger()
    assert window_colour() == theme._DARK["Window"] == "#2d2d2d"
    assert plot_backgrounds(w) == {"#1e1e1e"}
    axis = w.plots.curves["step"].getAxis("left")
    assert axis.pen().color().name() == axis.textPen().color().name() == theme.PLOT_COLOURS["dark"]["foreground"]
    assert w.plots.curves["step"].cursor.pen.color().name() == "#ffd166"
    style = QtWidgets.QApplication.instance().style()
    assert isinstance(style, theme.FusionStyle) and style.baseStyle().name().lower() == "fusion"
    w.theme_actions["light"].trigger()
    assert window_colour() == "#efefef" and plot_backgrounds(w) == {"#ffffff"}
    assert axis.textPen().color().name() == "#404040"
    assert names == ["dark", "light"]
    # The inspector's pictures keep their dark mat in either theme.
    assert w.inspector.chain_view.backgroundBrush().color().name() == "#181818"
    # The transport's glyphs are drawn in the theme's text colour: dark on light, light on dark.
    assert glyph_lightness(w.transport.play_button) < 100
    w.theme_actions["dark"].trigger()
    assert glyph_lightness(w.transport.play_button) > 180
    w.chain.play()
    assert glyph_lightness(w.transport.play_button) > 180  # the pause glyph too
    w.chain.pause()


def glyph_lightness(button) -> int:
    """The lightness of the most opaque pixels of a tool button's icon."""
    img = button.icon().pixmap(32, 32).toImage()
    best = max(
        ((img.pixelColor(x, y).alpha(), img.pixelColor(x, y).lightness()) for x in range(32) for y in range(32)),
    )
    assert best[0] > 200  # the glyph is drawn
    return best[1]


def test_the_theme_survives_a_restart(make_window, clean_settings):
    w = make_window()
    w.theme_actions["dark"].trigger()
    assert clean_settings.value(theme.SETTING) == "dark"
    w.close()
    QtWidgets.QApplication.instance().setPalette(theme.palette("light"))
    again = make_window(restore_settings=True)
    assert again.theme.choice == "dark" and again.theme_actions["dark"].isChecked()
    assert window_colour() == "#2d2d2d" and plot_backgrounds(again) == {"#1e1e1e"}


def test_the_lab_preset_and_damping_survive_a_restart(make_window, clean_settings):
    """Issue 30 #26 (α 0.30 came back 1.00, "diverse" came back "custom"): both are restored."""
    w = make_window()
    w.lab_panel.presetPicked.emit("diverse")
    w.close()
    again = make_window(restore_settings=True)
    assert again.lab_panel.preset.currentText() == "diverse" and again.session.config.sampler.damping == 0.1
    again.transport.damping.setValue(0.3)
    again.transport.damping.editingFinished.emit()  # as leaving the box does
    assert again.lab_panel.preset.currentText() == "custom"
    again.close()
    third = make_window(restore_settings=True)
    assert third.transport.damping.value() == 0.3 and third.session.config.sampler.damping == 0.3
    assert third.lab_panel.preset.currentText() == "custom"
