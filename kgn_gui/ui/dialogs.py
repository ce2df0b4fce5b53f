"""The window's small dialogs: questions (unsaved weights, interrupted training), reports, and Help (quick start,
keyboard shortcuts, About)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from .._version import __version__
from ..core.wording import count


def _save_discard_cancel(parent: QtWidgets.QWidget, title: str, text: str) -> str:
    """A warning with Save / Discard / Cancel: "save", "discard" or "cancel" (Esc or closing the box: cancel)."""
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, text, parent=parent)
    B = QtWidgets.QMessageBox.StandardButton
    box.setStandardButtons(B.Save | B.Discard | B.Cancel)
    box.setDefaultButton(B.Save)
    box.setEscapeButton(B.Cancel)
    box.exec()
    clicked = box.clickedButton()
    role = box.standardButton(clicked) if clicked is not None else B.Cancel
    return {B.Save: "save", B.Discard: "discard"}.get(role, "cancel")


def ask_unsaved(parent: QtWidgets.QWidget, name: str, doing: str) -> str:
    """Save / Discard / Cancel for weights that are not in a file yet. ``doing``: what would drop them
    ("open another model", "quit")."""
    text = f"The weights of “{name}” came from training and are not saved in a file.\n\nSave them before you {doing}?"
    return _save_discard_cancel(parent, "Unsaved weights", text)


def ask_unsaved_run(parent: QtWidgets.QWidget, what: str, doing: str) -> str:
    """Save / Discard / Cancel for a training run's weights (one that runs, or finished unused). ``what``:
    the run, in a sentence."""
    return _save_discard_cancel(parent, "Unsaved training", f"{what}\n\nSave its weights before you {doing}?")


def ask_recovery(parent: QtWidgets.QWidget, rec) -> str:
    """Restore / Discard / Later for an interrupted training run's recovery checkpoint."""
    box = QtWidgets.QMessageBox(
        QtWidgets.QMessageBox.Icon.Question,
        "Restore interrupted training?",
        "A training run did not finish in an earlier session (the app was closed "
        "or ended while it trained).\n\n"
        f"{rec.describe()}.\n\nRestore its weights as the current model?",
        parent=parent,
    )
    restore = box.addButton("Restore", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QtWidgets.QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Later", QtWidgets.QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    box.exec()
    clicked = box.clickedButton()
    return "restore" if clicked is restore else "discard" if clicked is discard else "later"


def import_report(parent: QtWidgets.QWidget, ds, path: str) -> str:
    """What an import left out and why (an information, not an error: the rest loaded). Returns the report."""
    box = QtWidgets.QMessageBox(
        QtWidgets.QMessageBox.Icon.Information,
        "Import report",
        f"Imported {count(ds.M, 'sample')} from {Path(path).name}; skipped {count(len(ds.skipped), 'file')}.",
        parent=parent,
    )
    box.setDetailedText(ds.import_report(limit=1000))
    box.exec()
    return box.detailedText()


def sweep_result(parent: QtWidgets.QWidget, folder: str) -> QtWidgets.QDialog:
    """The depth sweep's chart (sweep.png), scaled down to fit the screen (a 1062×1132 chart on a 768-pixel
    screen left a third of it out of reach); the file itself is named for the full size."""
    d = QtWidgets.QDialog(parent)
    d.setObjectName("sweep_result")
    d.setWindowTitle(f"Depth sweep — {folder}")
    png = Path(folder) / "sweep.png"
    pix = QtGui.QPixmap(str(png))
    screen = (parent.screen() if parent is not None else None) or QtGui.QGuiApplication.primaryScreen()
    avail = screen.availableGeometry()
    room = QtCore.QSize(avail.width() - 60, avail.height() - 110)  # the frame, the caption and the button row
    shown = pix.scaled(
        room, QtCore.Qt.AspectRatioMode.KeepAspectRatio, QtCore.Qt.TransformationMode.SmoothTransformation
    )
    if pix.isNull() or (pix.width() <= room.width() and pix.height() <= room.height()):
        shown = pix
    lay = QtWidgets.QVBoxLayout(d)
    chart = QtWidgets.QLabel()
    chart.setPixmap(shown)
    chart.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
    lay.addWidget(chart, 1)
    scale = "" if pix.isNull() or shown.width() == pix.width() else f", shown at {shown.width() / pix.width():.0%}"
    note = QtWidgets.QLabel(f"{png} ({pix.width()}×{pix.height()}{scale}); the table is sweep.csv beside it")
    note.setWordWrap(True)
    note.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    lay.addWidget(note)
    _close_row(d, lay)
    d.show()
    return d


# ---------------------------------------------------------------------------------------------------- Help
# Help windows are not modal: they stay open beside the window (and never block a test); one of each kind.


def _help_window(parent: QtWidgets.QWidget, key: str, title: str) -> tuple[QtWidgets.QDialog, bool]:
    """The parent's open help window ``key`` (raised), or a new one; the flag says whether it is new."""
    opened = parent.__dict__.setdefault("_help_windows", {})
    d = opened.get(key)
    if d is not None:
        d.show()
        if QtGui.QGuiApplication.platformName() != "offscreen":  # no window stack to raise it in there
            d.raise_()
            d.activateWindow()
        return d, False
    d = QtWidgets.QDialog(parent)
    d.setObjectName(key)
    d.setWindowTitle(title)
    d.setModal(False)
    opened[key] = d
    return d, True


def _close_row(d: QtWidgets.QDialog, lay: QtWidgets.QVBoxLayout) -> None:
    box = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
    box.rejected.connect(d.close)
    lay.addWidget(box)


def _table(headers: list[str], rows: list[tuple[str, ...]]) -> QtWidgets.QTableWidget:
    t = QtWidgets.QTableWidget(len(rows), len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().hide()
    t.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            t.setItem(r, c, QtWidgets.QTableWidgetItem(text))
    t.resizeColumnsToContents()
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _plain(text: str) -> str:
    """A menu text without its mnemonic ampersands ("&Play / pause" → "Play / pause", "&&" → "&")."""
    return re.sub(r"&(.)", r"\1", text)


def _keys(seqs) -> str:
    return ", ".join(s.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for s in seqs if not s.isEmpty())


def shortcut_rows(window: QtWidgets.QMainWindow) -> list[tuple[str, str, str]]:
    """(where, what, keys) of every action of the window that has a shortcut — the menus' actions in menu
    order (sub-menus as "View → Theme"), then the window's actions in no menu, then the actions and
    shortcuts (QShortcut, described by their What's This text) of its widgets — read from the actions
    themselves. A dialog's own keys (a progress dialog's Esc: its Cancel) work in that dialog only and are
    left out."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def in_window(obj) -> bool:  # not a part of another top-level window (a dialog parented to the window)
        w = obj.parent()
        return not isinstance(w, QtWidgets.QWidget) or w.window() is window

    def walk(menu: QtWidgets.QMenu, where: str) -> None:
        for a in menu.actions():
            seen.add(id(a))
            if a.menu() is not None:
                walk(a.menu(), f"{where} → {_plain(a.text())}")
            elif not a.isSeparator() and _keys(a.shortcuts()):
                rows.append((where, _plain(a.text()).rstrip("…"), _keys(a.shortcuts())))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.text()))
    for a in window.actions():
        if id(a) not in seen and _keys(a.shortcuts()):
            seen.add(id(a))
            rows.append(("Window", _plain(a.text()), _keys(a.shortcuts())))
    for a in window.findChildren(QtGui.QAction):  # a widget's own actions (the grid's zoom, say)
        if id(a) not in seen and _keys(a.shortcuts()) and in_window(a):
            seen.add(id(a))
            rows.append((_place(a.parent(), window), _plain(a.text()), _keys(a.shortcuts())))
    for sc in window.findChildren(QtGui.QShortcut):
        if _keys([sc.key()]) and in_window(sc):
            rows.append((_place(sc.parent(), window), sc.whatsThis() or sc.objectName(), _keys([sc.key()])))
    return rows


def _place(widget, window) -> str:
    """Where a widget sits, in the names a user sees: its dock and tabs ("Start input → Paint", "Images")."""
    names = []
    w = widget
    while isinstance(w, QtWidgets.QWidget) and w is not window:
        parent = w.parentWidget()
        if isinstance(w, QtWidgets.QDockWidget):
            names.append(_plain(w.windowTitle()))
        elif isinstance(parent, QtWidgets.QStackedWidget) and isinstance(parent.parentWidget(), QtWidgets.QTabWidget):
            tabs = parent.parentWidget()
            names.append(_plain(tabs.tabText(tabs.indexOf(w))))
        w = parent
    return " → ".join(reversed(names)) or "Window"


FIELD_KEYS_NOTE = (
    "While a text field is being edited it keeps Space, the arrows, Home and End; Enter or Esc ends the edit "
    "and gives the keys back to the chains (so does clicking the chain grid)."
)


def shortcuts(window: QtWidgets.QMainWindow) -> QtWidgets.QDialog:
    """Help → Keyboard shortcuts: a table of every shortcut of the window, made from its actions when opened."""
    d, new = _help_window(window, "shortcuts_dialog", "Keyboard shortcuts")
    if new:
        lay = QtWidgets.QVBoxLayout(d)
        d.table = _table(["Menu", "Action", "Shortcut"], [])
        lay.addWidget(d.table)
        note = QtWidgets.QLabel(FIELD_KEYS_NOTE)
        note.setWordWrap(True)
        lay.addWidget(note)
        _close_row(d, lay)
        d.resize(560, 560)
    rows = shortcut_rows(window)
    d.table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            d.table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
    d.table.resizeColumnsToContents()
    d.show()
    return d


QUICK_START_SETTING = "help/quick_start_at_start"

QUICK_START_HTML = """<h3>Kaleidoscope Studio in one minute</h3>
<p><b>What you see.</b> A network f was trained so that f(x) ≈ x on a data set (MNIST digits at first). Each
tile of the grid is a <i>chain</i>: it starts from noise and applies f again and again, x ← f(x) + a little
noise. Because f maps anything into the range it saw in training, after a burn-in the tiles come to look like
digits — a kaleidoscope of the data set.</p>
<ol>
<li><b>Press Space</b> to play and pause; ← and → step one step, Shift with them ten; Home and End go to the
first and last step reached; Ctrl+G jumps to a step you type. The slider under the grid scrubs every step
reached so far (the orange mark is the burn-in).</li>
<li><b>Click a tile</b> to follow that one chain in the Inspector: its picture, its curves, its nearest
training image.</li>
<li><b>Paint</b> a start of your own in the Start input dock (Paint tab), then <i>Start one chain</i> or
<i>Start all chains</i>: where does f take your drawing?</li>
<li><b>Train</b> a network of your own in the Training dock: pick a data set and a preset, press Train, then
<i>Use weights</i>. The Points tab does the paper's 1-D and 2-D experiments.</li>
</ol>
<p>Noise kind and ε sit under the slider; the Plots dock shows how far chains move and how close they are to
a fixed point; the Analysis dock measures the shown step. Help → Keyboard shortcuts lists every key.</p>"""


def quick_start(window: QtWidgets.QWidget) -> QtWidgets.QDialog:
    """Help → Quick start: what the kaleidoscope is and how to drive it, with a "Show at start" box (saved)."""
    d, new = _help_window(window, "quick_start_dialog", "Quick start")
    if new:
        st = QtCore.QSettings()
        lay = QtWidgets.QVBoxLayout(d)
        text = QtWidgets.QTextBrowser()
        text.setHtml(QUICK_START_HTML)
        lay.addWidget(text)
        d.at_start = QtWidgets.QCheckBox("Show at start")
        d.at_start.setChecked(st.value(QUICK_START_SETTING, False, type=bool))
        d.at_start.toggled.connect(lambda on: QtCore.QSettings().setValue(QUICK_START_SETTING, on))
        lay.addWidget(d.at_start)
        _close_row(d, lay)
        d.resize(560, 520)
    d.show()
    return d


def offer_quick_start(window: QtWidgets.QWidget) -> QtWidgets.QDialog | None:
    """At start-up: the quick start on the first launch (once: its "Show at start" box comes unticked) and on
    every launch while that box is ticked."""
    st = QtCore.QSettings()
    if st.contains(QUICK_START_SETTING) and not st.value(QUICK_START_SETTING, False, type=bool):
        return None
    if not st.contains(QUICK_START_SETTING):
        st.setValue(QUICK_START_SETTING, False)
    return quick_start(window)


# The licence of every runtime dependency (pyproject.toml's [project] dependencies), by distribution name as
# pip normalises it; one missing here falls back to what its own metadata declares.
LICENCES = {
    "pyside6-essentials": ("PySide6 (Qt for Python)", "LGPL-3.0 (also GPL-2.0 / GPL-3.0)"),
    "pyqtgraph": ("pyqtgraph", "MIT"),
    "torch": ("PyTorch", "BSD-3-Clause"),
    "numpy": ("NumPy", "BSD-3-Clause"),
    "qasync": ("qasync", "BSD-2-Clause"),
    "safetensors": ("safetensors", "Apache-2.0"),
    "pillow": ("Pillow", "MIT-CMU (HPND)"),
    "av": ("PyAV", "BSD-3-Clause (its FFmpeg: below)"),
}
RUNTIME_DEPENDENCIES = tuple(LICENCES)  # when the app runs from a source tree that was never installed


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies() -> list[str]:
    """The distribution names the installed kgn-gui requires at run time (extras left out), in its order."""
    from importlib import metadata

    try:
        reqs = metadata.requires("kgn-gui") or []
    except metadata.PackageNotFoundError:
        return list(RUNTIME_DEPENDENCIES)
    names = [re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in reqs if "extra ==" not in r.replace("'", '"')]
    return [_normalise(n) for n in names]


def _declared_licence(dist: str) -> str:
    from importlib import metadata

    try:
        md = metadata.metadata(dist)
    except metadata.PackageNotFoundError:
        return "not installed"
    if md.get("License-Expression"):
        return md["License-Expression"]
    if md.get("License") and len(md["License"]) < 80:
        return md["License"]
    for c in md.get_all("Classifier") or []:
        if c.startswith("License ::"):
            return c.split("::")[-1].strip()
    return "see the package"


def library_rows() -> list[tuple[str, str, str, str]]:
    """(library, distribution, version, licence) of every runtime dependency, versions read now, then Qt, Python
    and the FFmpeg inside PyAV."""
    import platform
    from importlib import metadata

    rows = []
    for dist in runtime_dependencies():
        name, licence = LICENCES.get(dist, (dist, None))
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append((name, dist, version, licence or _declared_licence(dist)))
    rows.append(("Qt", "(inside PySide6)", QtCore.qVersion(), "LGPL-3.0"))
    try:
        import av

        ffmpeg = str(getattr(av, "ffmpeg_version_info", "") or "?")
    except ImportError:
        ffmpeg = "not installed"
    rows.append(("FFmpeg", "(inside PyAV)", ffmpeg, "LGPL-2.1+; with libx264 GPL-2.0+"))
    rows.append(("Python", "", platform.python_version(), "PSF-2.0"))
    return rows


ABOUT_HTML = """<h3>Kaleidoscope Studio {version}</h3>
<p>A desktop explorer for <b>Generative Kaleidoscopic Networks</b>. A deep ReLU network with bounded outputs,
trained so that f(x) ≈ x, maps unseen inputs into the range it saw in training (over-generalization). Applied
again and again to noise, f(f(…f(z)…)), its iterates come to look like training samples after a burn-in:
a kaleidoscope of the data set.</p>
<p>H. Shrivastava, <i>Generative Kaleidoscopic Networks</i>, arXiv:2402.11793 (2024).<br>
Related: Radhakrishnan, Belkin &amp; Uhler, <i>Overparameterized neural networks implement associative memory</i>,
PNAS 2020; Zhang, Bengio, Hardt, Mozer &amp; Singer, <i>Identity Crisis</i>, ICLR 2020.</p>
<p><b>Bundled data:</b> MNIST by Y. LeCun, C. Cortes and C. J. C. Burges, under CC BY-SA 3.0.</p>
<p><b>Libraries</b> (the versions running now):</p>"""

# The README's codec paragraph, word for word (tests/ui/test_help_theme.py compares them).
CODEC_NOTE = """<p><b>Codec licences:</b> MP4/WebM use PyAV (<code>av</code>), whose wheels bundle FFmpeg built
with libx264 (GPL-2.0+) and libvpx (BSD). A redistributed build of this app that includes them falls under the
GPL.</p>"""


def about(parent: QtWidgets.QWidget) -> QtWidgets.QDialog:
    """Help → About: the method, the bundled data, and every library with its version and licence."""
    d, new = _help_window(parent, "about_dialog", "About Kaleidoscope Studio")
    if new:
        lay = QtWidgets.QVBoxLayout(d)
        intro = QtWidgets.QLabel(ABOUT_HTML.format(version=__version__))
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextBrowserInteraction)
        lay.addWidget(intro)
        d.table = _table(["Library", "Distribution", "Version", "Licence"], library_rows())
        lay.addWidget(d.table, 1)
        d.codec_note = QtWidgets.QLabel(CODEC_NOTE)
        d.codec_note.setWordWrap(True)
        lay.addWidget(d.codec_note)
        _close_row(d, lay)
        d.resize(640, 640)
    d.show()
    return d
