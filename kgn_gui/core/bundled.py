"""Where the bundled models and data live, and bundled models by name (no torch, no Qt).

The repository keeps them at its top level (``models/``, ``resources/``); a wheel ships them inside the package
as ``kgn_gui.models`` and ``kgn_gui.resources`` (package data, mapped in pyproject.toml). They are found through
the import system (``importlib.util.find_spec``): the installed package's folders when there are any, else the
checkout's — so the same code works from a checkout, an editable install and a wheel.

A bare name that is not a file (``mnist``, ``2d-corners``) is the bundled model of that name
(:func:`resolve_model`); :func:`bundled_models` lists them.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
NOT_MODELS = {"mnist-classifier"}  # bundled, but a classifier of the measures, not a model to sample


def bundled_dir(name: str) -> Path:
    """The folder of the bundled ``models`` or ``resources``."""
    try:
        spec = importlib.util.find_spec(f"kgn_gui.{name}")
    except (ImportError, ValueError):
        spec = None
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(loc).is_dir():
            return Path(loc)
    return CHECKOUT / name


MODELS_DIR = bundled_dir("models")
RESOURCES_DIR = bundled_dir("resources")


def bundled_models() -> dict[str, Path]:
    """Every bundled model by name (the file's stem), sorted."""
    try:
        files = sorted(MODELS_DIR.glob("*.safetensors"))
    except OSError:
        return {}
    return {p.stem: p for p in files if p.stem not in NOT_MODELS}


def resolve_model(text: str | os.PathLike) -> str:
    """A model argument: an existing path as given; else a bundled model's name (``mnist``, or
    ``mnist.safetensors``) → its file; else as given (the loader then says it does not exist, and names
    the bundled models)."""
    s = os.fspath(text)
    if os.path.lexists(s):
        return s
    models = bundled_models()
    stem = s[: -len(".safetensors")] if s.endswith(".safetensors") else s
    if os.sep not in s and stem in models:
        return str(models[stem])
    return s


def model_summary(path: Path) -> str:
    """One line about a bundled model from its file's header (no weights read)."""
    from .errors import CheckpointError
    from .model.header import read_header

    try:
        _, meta, _ = read_header(path)
    except (CheckpointError, OSError, ValueError) as e:
        return f"(unreadable: {e})"
    spec = meta.get("spec") or {}
    arch = spec.get("arch", "mlp")
    shape = "×".join(str(v) for v in meta.get("data_shape", []) or [])
    what = f"{arch} L={spec.get('L')} H={spec.get('H')} {spec.get('bound', '')}".strip()
    return f"{what}, {meta.get('dataset', '?')} ({shape}), range {json.dumps(meta.get('value_range'))}"
