"""Desktop integration (freedesktop): the application icon, and ``kgn-gui --install-desktop``, which writes a
``.desktop`` entry and the icon for the current user, so that the app appears in the application menu.

Written under ``$XDG_DATA_HOME`` (default ``~/.local/share``): ``applications/kgn-gui.desktop`` and
``icons/hicolor/{256x256,scalable}/apps/kgn-gui.{png,svg}``. Each file is written whole (a temporary file
renamed); running it again replaces them. No Qt here, so it runs before a display is needed."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..core.bundled import RESOURCES_DIR

ICON_PNG = RESOURCES_DIR / "icons" / "kgn-gui.png"
ICON_SVG = RESOURCES_DIR / "icons" / "kgn-gui.svg"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher() -> str:
    """The command the menu entry runs: this installation's kgn-gui script, else this Python with -m."""
    exe = shutil.which("kgn-gui")
    here = Path(sys.executable).parent / "kgn-gui"
    if here.exists():
        exe = str(here)
    return _exec_arg(exe) if exe else f"{_exec_arg(sys.executable)} -m kgn_gui"


def _exec_arg(path: str) -> str:
    """One argument of a desktop entry's Exec key: double-quoted when it must be, with ", `, $ and \\ escaped,
    % written %%, and then every backslash doubled (the freedesktop Desktop Entry specification's two escape
    rules; shell quoting is not what it reads)."""
    s = path.replace("%", "%%")
    if not any(c in s for c in " \t\n\"'\\><~|&;$*?#()`"):
        return s
    for c in ("\\", '"', "`", "$"):
        s = s.replace(c, "\\" + c)
    return f'"{s}"'.replace("\\", "\\\\")  # the string-type escape, applied before the quoting one


def desktop_entry(exec_cmd: str) -> str:
    from .._version import __version__

    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Kaleidoscope Studio\n"
        "GenericName=Generative Kaleidoscopic Networks explorer\n"
        "Comment=Watch a network trained to copy its input turn noise into samples\n"
        f"Exec={exec_cmd} %f\n"
        "Icon=kgn-gui\n"
        "Terminal=false\n"
        "Categories=Science;Education;Graphics;\n"
        "Keywords=neural network;kaleidoscope;MNIST;generative;\n"
        f"X-KGN-Version={__version__}\n"
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def install_desktop(base: Path | None = None) -> list[Path]:
    """Write the menu entry and the icons; returns the files written. Raises OSError (one line) when the
    folder cannot be written or the icons are missing."""
    base = data_home() if base is None else Path(base)
    if not ICON_PNG.exists():
        raise OSError(f"the application icon is missing ({ICON_PNG})")
    files = [
        (base / "applications" / "kgn-gui.desktop", desktop_entry(launcher()).encode()),
        (base / "icons" / "hicolor" / "256x256" / "apps" / "kgn-gui.png", ICON_PNG.read_bytes()),
    ]
    if ICON_SVG.exists():
        files.append((base / "icons" / "hicolor" / "scalable" / "apps" / "kgn-gui.svg", ICON_SVG.read_bytes()))
    for path, data in files:
        _write(path, data)
    return [p for p, _ in files]
