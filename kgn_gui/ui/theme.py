"""Light and dark themes: the Fusion style (check boxes outlined on a dark palette) with a light or a dark palette, following the system's colour scheme
unless View → Theme says otherwise (saved in QSettings as ``view/theme``), and pyqtgraph plots recoloured to
match.

Widgets that paint with colours of their own read the application palette in their ``paintEvent``
(``palette().color(QPalette.ColorRole.Window)`` and friends: Qt repaints every widget when the palette
changes), or define ``set_theme(name)`` ("light" / "dark"), which :meth:`Theme.apply` calls on every widget
of the window that has one; ``Theme.changed(name)`` is emitted after."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

THEMES = ("system", "light", "dark")  # what View → Theme offers; "system" follows the desktop's colour scheme
SETTING = "view/theme"

# The plots' colours in each theme: background, axes and text.
PLOT_COLOURS = {
    "light": {"background": "#ffffff", "foreground": "#404040"},
    "dark": {"background": "#1e1e1e", "foreground": "#969696"},
}

# The dark palette (active and inactive groups; disabled ones dimmed below).
_DARK = {
    "Window": "#2d2d2d",
    "WindowText": "#e0e0e0",
    "Base": "#1f1f1f",
    "AlternateBase": "#2a2a2a",
    "ToolTipBase": "#353535",
    "ToolTipText": "#e0e0e0",
    "PlaceholderText": "#8c8c8c",
    "Text": "#e0e0e0",
    "Button": "#353535",
    "ButtonText": "#e0e0e0",
    "BrightText": "#ff6b6b",
    "Light": "#4a4a4a",
    "Midlight": "#3c3c3c",
    "Mid": "#262626",
    "Dark": "#1a1a1a",
    "Shadow": "#0d0d0d",
    "Highlight": "#2f6fb5",
    "HighlightedText": "#ffffff",
    "Link": "#4cc9f0",
    "LinkVisited": "#b48ef0",
}
_DARK_DISABLED = {"WindowText": "#7a7a7a", "Text": "#7a7a7a", "ButtonText": "#7a7a7a", "Highlight": "#404040"}
# The outline of check boxes and radio buttons on a dark palette: Fusion draws it from the window colour
# darkened (#202020 on #2d2d2d), which is all but invisible.
DARK_INDICATOR_BORDER = "#8c8c8c"


class FusionStyle(QtWidgets.QProxyStyle):
    """Fusion, with check boxes and radio buttons outlined in a visible grey on a dark palette."""

    def __init__(self):
        super().__init__(QtWidgets.QStyleFactory.create("Fusion"))

    def drawPrimitive(self, element, option, painter, widget=None):  # noqa: N802 (Qt's name)
        super().drawPrimitive(element, option, painter, widget)
        PE = QtWidgets.QStyle.PrimitiveElement
        if element not in (PE.PE_IndicatorCheckBox, PE.PE_IndicatorRadioButton) or not is_dark(option.palette):
            return
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QtGui.QPen(QtGui.QColor(DARK_INDICATOR_BORDER), 1))
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        r = QtCore.QRectF(option.rect).adjusted(0.5, 0.5, -0.5, -0.5)
        if element == PE.PE_IndicatorRadioButton:
            painter.drawEllipse(r)
        else:
            painter.drawRect(r)
        painter.restore()


def system_scheme() -> str:
    """The desktop's colour scheme, "light" or "dark" (Qt ≥ 6.5; an unknown scheme, as offscreen, is light)."""
    hints = QtGui.QGuiApplication.styleHints()
    return "dark" if hints.colorScheme() == QtCore.Qt.ColorScheme.Dark else "light"


def resolve(choice: str) -> str:
    """The theme a choice of View → Theme shows: "light" or "dark"."""
    return system_scheme() if choice == "system" else choice


def palette(name: str) -> QtGui.QPalette:
    """Fusion's own light palette, or the dark one."""
    if name == "light":
        return QtWidgets.QStyleFactory.create("Fusion").standardPalette()
    p = QtGui.QPalette()
    R, G = QtGui.QPalette.ColorRole, QtGui.QPalette.ColorGroup
    for role, colour in _DARK.items():
        p.setColor(getattr(R, role), QtGui.QColor(colour))
    for role, colour in _DARK_DISABLED.items():
        p.setColor(G.Disabled, getattr(R, role), QtGui.QColor(colour))
    return p


def is_dark(p: QtGui.QPalette) -> bool:
    """Whether a palette is a dark one (its window colour darker than mid-grey)."""
    return p.color(QtGui.QPalette.ColorRole.Window).lightness() < 128


def restyle_plots(root: QtWidgets.QWidget, name: str) -> None:
    """Background, axes, axis labels and titles of every pyqtgraph view under ``root`` in the theme's colours;
    plots made later take them from pyqtgraph's defaults, set here too."""
    c = PLOT_COLOURS[name]
    pg.setConfigOptions(background=c["background"], foreground=c["foreground"])
    for view in root.findChildren(pg.GraphicsView):
        if not getattr(view, "themed", True):  # a picture's dark mat (the inspector's images)
            continue
        view.setBackground(c["background"])
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem):
                item.setPen(c["foreground"])
                item.setTextPen(c["foreground"])
            elif isinstance(item, pg.LabelItem):
                item.setAttr("color", c["foreground"])
                item.setText(item.text)


class Theme(QtCore.QObject):
    """The window's theme. ``choice``: "system", "light" or "dark" (View → Theme); ``name``: what it resolves to
    now. ``changed(name)`` after every change is applied."""

    changed = QtCore.Signal(str)

    def __init__(self, window: QtWidgets.QWidget, settings: QtCore.QSettings, restore: bool = True):
        super().__init__(window)
        self.window, self.settings = window, settings
        saved = str(settings.value(SETTING, "system")) if restore else "system"
        self.choice = saved if saved in THEMES else "system"
        self.name = resolve(self.choice)
        QtGui.QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)
        self.apply()

    def set_choice(self, choice: str) -> None:
        """Show and save the theme ``choice`` ("system", "light" or "dark")."""
        if choice not in THEMES:
            raise ValueError(f"unknown theme {choice!r}: one of {', '.join(THEMES)}")
        self.choice = choice
        self.settings.setValue(SETTING, choice)
        self.apply()

    @QtCore.Slot(QtCore.Qt.ColorScheme)
    def _system_changed(self, _scheme) -> None:
        if self.choice == "system":
            self.apply()

    def apply(self) -> None:
        """The Fusion style, the theme's palette on the whole application, the window's plots recoloured and
        every widget's ``set_theme(name)`` called."""
        self.name = resolve(self.choice)
        app = QtWidgets.QApplication.instance()
        if not isinstance(app.style(), FusionStyle):
            app.setStyle(FusionStyle())
        new = palette(self.name)
        if app.palette() != new:
            app.setPalette(new)
        restyle_plots(self.window, self.name)
        for w in self.window.findChildren(QtWidgets.QWidget):
            hook = getattr(type(w), "set_theme", None)
            if callable(hook):
                w.set_theme(self.name)
        self.changed.emit(self.name)
