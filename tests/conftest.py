"""Test set-up: Qt offscreen, PySide6, and QSettings, recovery files and caches in temporary folders (never the
user's)."""

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_API"] = "pyside6"
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"

import pytest  # noqa: E402

# The repository root: tests find files (models, resources, docs, main.py) from here, never from the working
# folder, and run subprocesses with cwd=REPO. It goes on sys.path too, so `tests.conftest` and `bench`
# import when pytest is started from another folder (``pytest -c /repo/pyproject.toml /repo/tests/...``).
REPO = ROOT = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session", autouse=True)
def _isolated_recovery(tmp_path_factory):
    """Recovery checkpoints of tests go to a temporary folder (never the user's)."""
    os.environ["KGN_RECOVERY_DIR"] = str(tmp_path_factory.mktemp("recovery"))
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))  # feature classifiers trained on demand
    yield


@pytest.fixture(scope="session", autouse=True)
def _isolated_qsettings(tmp_path_factory):
    from PySide6 import QtCore

    d = tmp_path_factory.mktemp("qsettings")
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    for scope in (QtCore.QSettings.Scope.UserScope, QtCore.QSettings.Scope.SystemScope):
        QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, scope, str(d))
    yield


@pytest.fixture
def mnist_model_path():
    p = MODELS / "mnist.safetensors"
    if not p.exists():
        pytest.fail("models/mnist.safetensors is missing: it ships with the repository")
    return p


@pytest.fixture
def errors(monkeypatch):
    """Collect the window's error dialogs (title, text) instead of blocking on them."""
    from PySide6 import QtWidgets

    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text, *a: shown.append((title, text)))
    # Message boxes built and run by hand (the import report) close at once; their text is kept too.
    monkeypatch.setattr(
        QtWidgets.QMessageBox, "exec", lambda self: shown.append((self.windowTitle(), self.text())) or 0
    )
    return shown


@pytest.fixture
def make_window(qtbot, mnist_model_path, errors):
    """make_window(size=None, **MainWindow options): a shown window on the bundled MNIST model (settings not
    restored); closed at the end of the test, dropping weights a test left unsaved."""
    made = []

    def make(size: tuple[int, int] | None = None, **kw):
        from kgn_gui.ui.main_window import MainWindow

        w = MainWindow(kw.pop("model_path", mnist_model_path), restore_settings=kw.pop("restore_settings", False), **kw)
        qtbot.addWidget(w)
        if size is not None:
            w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.ask_unsaved = lambda doing: "discard"
        w.ask_unsaved_run = lambda what, doing: "discard"
        w.close()


@contextmanager
def no_hang(seconds: int = 20):
    """Turn a hang (a blocking open or read of a FIFO, say) into a failure instead of a stuck test run."""

    def fire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def one_error_line(capsys) -> str:
    """The one error line a command printed on stderr (progress lines aside), with no traceback."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def drop_file(window, path) -> None:
    """Drop a file on the window, as a file manager does."""
    from PySide6 import QtCore, QtGui

    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    ev = QtGui.QDropEvent(
        QtCore.QPointF(5, 5),
        QtCore.Qt.DropAction.CopyAction,
        mime,
        QtCore.Qt.MouseButton.LeftButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(ev)
