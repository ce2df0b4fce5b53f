"""Where an export writes: the suffix of each format, the output name and the format agreeing (output_for,
export_target: ``y.gif`` is never written as ``y.gif.mp4``), frame folders and what may be replaced."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ExportError, OutputNameError
from ..files import WriteError, check_not_input, check_own_folder
from .options import SUFFIX


def target_path(out: str | os.PathLike, fmt: str) -> Path:
    """The output path, with the format's suffix added when it has none."""
    p = Path(out)
    suf = SUFFIX[fmt]
    if p.name in ("", ".", ".."):  # a folder, given where a file is written
        if not suf:
            return p.resolve()
        raise ExportError(f"{out}: name the {fmt.upper()} file to write, not a folder")
    return p if (not suf or p.suffix.lower() == suf) else p.with_name(p.name + suf)


# The formats a file name's extension names (``.png`` is an APNG: PNG frames are a folder); npz: states.
FORMAT_OF_SUFFIX = {".gif": "gif", ".png": "apng", ".apng": "apng", ".mp4": "mp4", ".webm": "webm", ".npz": "npz"}


def format_of(out: str | os.PathLike) -> str | None:
    """The format the output's extension names, or None when it names none."""
    return FORMAT_OF_SUFFIX.get(Path(out).suffix.lower())


def output_for(out: str | os.PathLike, fmt: str) -> Path:
    """The path an export of ``fmt`` writes for the name ``out``: the format's suffix added when the name has
    no known extension; OutputNameError (one line) when its extension names another format — ``y.gif`` is
    never written as ``y.gif.mp4``. The rule of ``kgn export -o`` and of the window's export dialog."""
    named = format_of(out)
    if named is not None and named != fmt:
        what = "a folder of PNG frames" if fmt == "png" else f"{fmt.upper()}"
        fix = Path(out).stem if fmt == "png" else Path(out).stem + SUFFIX.get(fmt, ".npz")
        raise OutputNameError(
            f"{Path(out).name} names a{'n' if named[0] in 'ae' else ''} {named.upper()} file but the format is "
            f"{what}: name it {fix} or choose the format {named}"
        )
    if fmt == "npz":
        return Path(out) if named == "npz" else Path(str(out) + ".npz")
    return target_path(out, fmt)


def export_target(out: str | os.PathLike, fmt: str | None = None, bundle: bool = False) -> tuple[str, Path]:
    """(format, path) of an export to ``out``: ``fmt``, else the format ``out``'s extension names, else GIF
    (:func:`output_for`: an extension naming another format is an OutputNameError). A bundle's ``out`` is
    the bundle itself (a folder or .zip)."""
    if bundle:
        return fmt or "gif", Path(out)
    fmt = fmt or format_of(out) or "gif"
    return fmt, output_for(out, fmt)


_FRAME_NAME = re.compile(r"frame_\d+\.png")


def is_frame_name(name: str) -> bool:
    """A name a PNG frame export writes (frame_000012.png)."""
    return _FRAME_NAME.fullmatch(name) is not None


def check_target(path: Path, fmt: str, inputs=()) -> None:
    """The output's folder exists and is writable; it is none of ``inputs`` (nor, for a folder, holds one); a
    PNG frame folder is new, empty or a previous frame export (replaced as a unit), never a folder of other
    files."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ExportError(f"cannot write {path}: the folder {parent} is not writable")
    try:
        check_not_input(path, inputs)
        if fmt == "png":
            check_own_folder(path, is_frame_name, "a previous frame export")
    except WriteError as e:
        raise ExportError(str(e)) from None
