"""The Qt face of Kaleidoscope Studio. Everything under ``kgn_gui.ui`` may import Qt; ``core`` never does."""

import os

# pyqtgraph and qasync pick a Qt binding at import; make it PySide6 before either is imported.
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
