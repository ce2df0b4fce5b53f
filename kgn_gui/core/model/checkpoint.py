"""One ``.safetensors`` file per model: the weights plus JSON metadata in its header.

The metadata (key ``kgn``) records the model spec, the data range and shape, the data set,
the training recipe, seed, steps, final loss, the package version and the date. Loading
reads and checks the header (size, JSON, metadata, tensor names, dtypes, shapes, offsets)
*before* anything large is allocated, and never unpickles anything.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..._version import __version__
from ..errors import CheckpointError, SpecError
from ..files import WriteError, atomic_write_bytes
from ..jsonsafe import JSONError, loads_bounded
from .architectures import ModelSpec, build_model
from .header import FORMAT, MAX_HEADER_BYTES, read_header  # noqa: F401 (re-exported

_DTYPES = {"F32": (torch.float32, 4)}


@dataclass
class Checkpoint:
    """A loaded model and what its file says about it."""

    model: nn.Module
    spec: ModelSpec
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.meta.get("name") or (self.path.stem if self.path else "model")

    @property
    def value_range(self) -> tuple[float, float]:
        return tuple(self.meta.get("value_range", self.spec.value_range))  # type: ignore[return-value]

    def save(self, path: str | os.PathLike, *, name: str | None = None, extra: dict | None = None) -> Path:
        """Write this model to ``path`` (atomically) with what its file recorded — data set, data shape,
        training recipe — under ``name`` (default: the name it has). Raises CheckpointError."""
        path = Path(path)
        save_checkpoint(
            path,
            self.model,
            self.spec,
            dataset=str(self.meta.get("dataset", "")),
            data_shape=tuple(self.meta.get("data_shape", self.spec.shape)),
            recipe=self.meta.get("recipe") or {},
            name=name or self.name,
            extra=extra,
        )
        return path


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    spec: ModelSpec,
    *,
    dataset: str = "",
    data_shape: tuple[int, ...] | None = None,
    recipe: dict | None = None,
    name: str | None = None,
    extra: dict | None = None,
) -> Path:
    """Save weights and metadata to ``path`` (atomically). Returns the path."""
    from safetensors.torch import save

    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path.name}: model files must end in .safetensors")
    if not path.parent.exists():
        raise CheckpointError(f"{path.parent}: folder does not exist")
    recipe = recipe or {}
    config = recipe.get("config") if isinstance(recipe.get("config"), dict) else {}
    meta = {
        "format": FORMAT,
        "name": name or path.stem,
        "spec": spec.to_dict(),
        "value_range": list(spec.value_range),
        "data_shape": list(data_shape or spec.shape),
        "dataset": dataset,
        "recipe": recipe,
        "seed": config.get("seed"),
        "steps": recipe.get("steps_done"),
        "final_loss": recipe.get("best_eval_loss"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "version": __version__,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if extra:
        meta.update(extra)
    text = json.dumps(meta, default=_json_default)
    # What is written must read back: the same schema and JSON bounds as the loader, checked before writing.
    try:
        check_metadata(loads_bounded(text), spec, path.name, path.stem)
    except JSONError as e:
        raise CheckpointError(f"{path.name}: the metadata cannot be written ({e})") from None
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    try:
        blob = save(tensors, metadata={"kgn": text})
        atomic_write_bytes(path, blob)
    except WriteError as e:
        raise CheckpointError(str(e)) from None
    return path


def _json_default(o):
    # Called only for what json cannot write itself: numpy scalars become numbers, the rest strings.
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


def read_metadata(path: str | os.PathLike) -> dict:
    """The model's metadata, without loading the weights: its spec and every field the app reads checked
    (:func:`check_metadata`), as :func:`load_checkpoint` checks them. Raises CheckpointError."""
    path = Path(path)
    meta = read_header(path)[1]
    try:
        spec = ModelSpec.from_dict(meta.get("spec"))
    except SpecError as e:
        raise CheckpointError(f"{path.name}: {e}") from None
    return check_metadata(meta, spec, path.name, path.stem)


def describe_metadata(meta: dict) -> list[str]:
    """A model file's metadata (checked: :func:`read_metadata`) for people, one fact a line (``kgn info``)."""
    from .architectures import spec_parameter_count

    spec = ModelSpec.from_dict(meta["spec"])
    rec = meta.get("recipe") or {}
    cfg = rec.get("config") or {}
    shape = tuple(meta.get("data_shape", []))
    return [
        f"name:        {meta.get('name')}",
        f"model:       {spec.describe()}, D={spec.D}, {spec_parameter_count(spec):,} parameters",
        f"data:        {meta.get('dataset')} shape {shape} range {meta.get('value_range')}",
        f"training:    {rec.get('steps_done')} steps, lr {cfg.get('lr')}, batch {cfg.get('batch')}, "
        f"seed {cfg.get('seed')}, device {rec.get('device')}, {rec.get('elapsed_s')} s",
        f"final loss:  best eval {meta.get('final_loss')}, last batch {rec.get('final_batch_loss')}",
        f"written:     {meta.get('date')} by kgn-gui {meta.get('version')}",
    ]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_count(v) -> bool:
    return _is_int(v) and v >= 0


def _is_text(limit: int):
    return lambda v: isinstance(v, str) and len(v) <= limit


# The recipe's fields that are read (kgn info, Checkpoint.save); each may be missing or null.
_RECIPE_SCHEMA = {
    "steps_done": (_is_count, "a non-negative integer"),
    "best_step": (_is_count, "a non-negative integer"),
    "M": (_is_count, "a non-negative integer"),
    "processes": (_is_count, "a non-negative integer"),
    "best_eval_loss": (_is_number, "a number"),
    "final_batch_loss": (_is_number, "a number"),
    "elapsed_s": (_is_number, "a number"),
    "device": (_is_text(100), "text of at most 100 characters"),
    "dataset": (_is_text(1000), "text of at most 1000 characters"),
    "cuda_graph": (lambda v: isinstance(v, bool), "true or false"),
}
_CONFIG_SCHEMA = {
    "lr": (_is_number, "a number"),
    "batch": (_is_count, "a non-negative integer"),
    "seed": (_is_count, "a non-negative integer"),
    "steps": (_is_count, "a non-negative integer"),
}


def check_metadata(meta: dict, spec: ModelSpec, filename: str, default_name: str) -> dict:
    """The metadata fields the app reads, checked against a schema and the spec; missing ones filled in.
    Raises CheckpointError naming the first bad field."""

    def bad(field_name: str, expected: str, value=None):
        if "." not in field_name:
            value = meta.get(field_name)
        try:
            shown = json.dumps(value)[:60]
        except (TypeError, ValueError):
            shown = type(value).__name__
        return CheckpointError(f"{filename}: damaged model metadata: {field_name} must be {expected}, got {shown}")

    out = dict(meta)
    lo, hi = spec.value_range
    vr = out.setdefault("value_range", [lo, hi])
    if not (
        isinstance(vr, list)
        and len(vr) == 2
        and all(_is_number(v) for v in vr)
        and abs(vr[0] - lo) < 1e-9
        and abs(vr[1] - hi) < 1e-9
    ):
        raise bad("value_range", f"[{lo:g}, {hi:g}] (the {spec.bound} bound's range)")
    ds = out.setdefault("data_shape", list(spec.shape))
    if not (
        isinstance(ds, list) and 0 < len(ds) <= 4 and all(_is_int(v) and v > 0 for v in ds) and math.prod(ds) == spec.D
    ):
        raise bad("data_shape", f"a list of positive sizes whose product is D = {spec.D}")
    for key, default, limit in (
        ("name", default_name, 200),
        ("dataset", "", 1000),
        ("date", "", 100),
        ("version", "", 100),
        ("format", FORMAT, 100),
    ):
        v = out.setdefault(key, default)
        if not isinstance(v, str) or len(v) > limit:
            raise bad(key, f"text of at most {limit} characters")
    recipe = out.setdefault("recipe", {})
    if not isinstance(recipe, dict):
        raise bad("recipe", "a JSON object")
    config = recipe.get("config")
    if config is not None and not isinstance(config, dict):
        raise bad("recipe.config", "a JSON object or null", config)
    for prefix, fields, schema in (("recipe", recipe, _RECIPE_SCHEMA), ("recipe.config", config or {}, _CONFIG_SCHEMA)):
        for key, (ok, expected) in schema.items():
            v = fields.get(key)
            if v is not None and not ok(v):
                raise bad(f"{prefix}.{key}", f"{expected} or null", v)
    for key in ("steps", "seed", "parameters"):
        if out.get(key) is not None and not (_is_int(out[key]) and out[key] >= 0):
            raise bad(key, "a non-negative integer or null")
    if out.get("final_loss") is not None and not _is_number(out["final_loss"]):
        raise bad("final_loss", "a number or null")
    return out


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a model file written by :func:`save_checkpoint`, checking everything first."""
    path = Path(path)
    header, meta, _ = read_header(path)
    try:
        spec = ModelSpec.from_dict(meta.get("spec"))
    except SpecError as e:
        raise CheckpointError(f"{path.name}: {e}") from None
    meta = check_metadata(meta, spec, path.name, path.stem)
    # Compare against the shapes the spec implies without allocating the model's weights.
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build_model(spec).state_dict().items()}
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{path.name}: tensors do not match the model spec"
            + (f"; missing {', '.join(missing[:4])}" if missing else "")
            + (f"; unexpected {', '.join(extra[:4])}" if extra else "")
        )
    for k, shp in expected.items():
        if tuple(header[k]["shape"]) != shp:
            raise CheckpointError(
                f"{path.name}: tensor {k} has shape {tuple(header[k]['shape'])}, the spec needs {shp}"
            )
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path.name}: damaged weights: {e}") from None
    model = build_model(spec)
    model.load_state_dict(tensors)
    for v in tensors.values():
        if not torch.isfinite(v).all():
            raise CheckpointError(f"{path.name}: the weights contain NaN or infinite values")
    model.eval()
    return Checkpoint(model=model.to(device), spec=spec, meta=meta, path=path)
