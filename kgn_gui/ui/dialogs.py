"""The window's small dialogs: questions (unsaved weights, interrupted training), reports and About."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtGui, QtWidgets

from .. import __version__


def ask_unsaved(parent: QtWidgets.QWidget, name: str, doing: str) -> str:
    """Save / Discard / Cancel for weights that are not in a file yet. ``doing``: what would drop them
    ("open another model", "quit"). Returns "save", "discard" or "cancel" (Esc or closing the box: cancel)."""
    box = QtWidgets.QMessageBox(
        QtWidgets.QMessageBox.Icon.Warning,
        "Unsaved weights",
        f"The weights of “{name}” came from training and are not saved in a file.\n\nSave them before you {doing}?",
        parent=parent,
    )
    B = QtWidgets.QMessageBox.StandardButton
    box.setStandardButtons(B.Save | B.Discard | B.Cancel)
    box.setDefaultButton(B.Save)
    box.setEscapeButton(B.Cancel)
    box.exec()
    clicked = box.clickedButton()
    role = box.standardButton(clicked) if clicked is not None else B.Cancel
    return {B.Save: "save", B.Discard: "discard"}.get(role, "cancel")


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
        f"Imported {ds.M:,} samples from {Path(path).name}; skipped {len(ds.skipped):,} files.",
        parent=parent,
    )
    box.setDetailedText(ds.import_report(limit=1000))
    box.exec()
    return box.detailedText()


def sweep_result(parent: QtWidgets.QWidget, folder: str) -> QtWidgets.QDialog:
    d = QtWidgets.QDialog(parent)
    d.setWindowTitle(f"Depth sweep — {folder}")
    lab = QtWidgets.QLabel()
    lab.setPixmap(QtGui.QPixmap(str(Path(folder) / "sweep.png")))
    QtWidgets.QVBoxLayout(d).addWidget(lab)
    d.show()
    return d


def about(parent: QtWidgets.QWidget) -> None:
    QtWidgets.QMessageBox.about(parent, "About Kaleidoscope Studio", ABOUT_HTML.format(version=__version__))


ABOUT_HTML = """<h3>Kaleidoscope Studio {version}</h3>
<p>A desktop explorer for <b>Generative Kaleidoscopic Networks</b>. A deep ReLU network with bounded outputs,
trained so that f(x) ≈ x, maps unseen inputs into the range it saw in training (over-generalization). Applied
again and again to noise, f(f(…f(z)…)), its iterates come to look like training samples after a burn-in:
a kaleidoscope of the data set.</p>
<p>H. Shrivastava, <i>Generative Kaleidoscopic Networks</i>, arXiv:2402.11793 (2024).<br>
Related: Radhakrishnan, Belkin &amp; Uhler, <i>Overparameterized neural networks implement associative memory</i>,
PNAS 2020; Zhang, Bengio, Hardt, Mozer &amp; Singer, <i>Identity Crisis</i>, ICLR 2020.</p>
<p><b>Bundled data:</b> MNIST by Y. LeCun, C. Cortes and C. J. C. Burges, under CC BY-SA 3.0.<br>
<b>Libraries:</b> PySide6 / Qt (LGPLv3), pyqtgraph (MIT), PyTorch (BSD), NumPy (BSD), qasync (BSD),
safetensors (Apache 2.0), Pillow (MIT-CMU).</p>"""
