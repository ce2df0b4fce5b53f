"""Errors shared across the core's stages (one module, so no stage imports another for an exception).

Every one is a one-line message meant for a person: the CLI prints it after ``kgn CMD: error:``, the window
shows it in a dialog, the API raises it.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with control characters (a newline in a file name) escaped, so a message stays one line."""
    text = str(text)
    return text if text.isprintable() else ascii(text)[1:-1]


class ChainError(ValueError):
    """Chain settings that cannot be used; the message says why."""


class LabError(ChainError):
    """A lab setting (a condition, an edit, a branch) that cannot be used; the message says why."""


class Cancelled(Exception):
    """A long piece of work (a measurement, an import, a training of a feature network) was cancelled."""


class DataError(ValueError):
    """A data source that cannot be read; the message (one line, naming the file) says why."""


class ExportError(RuntimeError):
    """An export that cannot be done; the message says why."""


class ExportOptionError(ExportError):
    """An export option the model or the format cannot take (a bad option: ``kgn`` exits 2)."""


class OutputNameError(ExportOptionError):
    """The output's extension names another format than the one asked for."""


class ExportCancelled(ExportError):
    """The export was cancelled; nothing was written."""


class CheckpointError(ValueError):
    """A model file that cannot be used; the message says why, on one line (control characters in a file's
    name are escaped)."""

    def __init__(self, message: str = ""):
        super().__init__(printable(message))


class SpecError(ValueError):
    """A model spec with impossible values."""


class PreflightError(ValueError):
    """Work that cannot be done with these options or this output; the message (one line) says what fits."""


class RecipeError(ValueError):
    """A preset or option that has no recipe; the message says why."""


class SamplerError(ChainError):
    """A sampler setting that cannot be used; the message says why (one line)."""


class StartError(ChainError):
    """A start that cannot be used; the message says why (one line)."""


class TimelineError(ValueError):
    """A timeline request that cannot be served."""


class TrainError(ValueError):
    """Training cannot start or cannot go on; the message says why."""


class SweepError(RuntimeError):
    """The sweep could not run or failed in its child process; the message says why (one line)."""


class EngineError(ValueError):
    """An experiment's engine cannot run here (Ray not installed, no cluster at the address, a bad resource
    request); the message says why and what to do (one line)."""


class ProjectionError(ValueError):
    pass
