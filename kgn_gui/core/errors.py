"""Errors shared across the core's stages (one module, so no stage imports another for an exception).

Every one is a one-line message meant for a person: the CLI prints it after ``kgn CMD: error:``, the window
shows it in a dialog, the API raises it.
"""

from __future__ import annotations


class ChainError(ValueError):
    """Chain settings that cannot be used; the message says why."""


class LabError(ChainError):
    """A lab setting (a condition, an edit, a branch) that cannot be used; the message says why."""


class Cancelled(Exception):
    """A long piece of work (a measurement, an import, a training of a feature network) was cancelled."""
