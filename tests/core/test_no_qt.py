"""core and the CLI never import Qt."""

import subprocess
import sys

from tests.conftest import REPO


def test_core_and_cli_import_without_qt():
    code = (
        "import sys, kgn_gui.core.data.sources, kgn_gui.core.model.architectures, kgn_gui.core.model.train, kgn_gui.core.chain.chain, "
        "kgn_gui.core.chain.timeline, kgn_gui.core.model.checkpoint, kgn_gui.core.picture.render, kgn_gui.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'qasync'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""


def test_core_sources_do_not_mention_qt():
    from pathlib import Path

    import kgn_gui.core as core

    for p in Path(core.__file__).parent.rglob("*.py"):
        text = p.read_text()
        for name in ("PySide6", "PyQt", "pyqtgraph", "qasync"):
            assert f"import {name}" not in text and f"from {name}" not in text, (p.name, name)
