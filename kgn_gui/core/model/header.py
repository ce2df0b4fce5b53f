"""A model file's header without torch: the safetensors tensor table and the kgn metadata, checked.

``checkpoint`` (which loads the weights with torch) builds on this; the window's first frame reads a model's
shape, value range and name from here before torch has been imported (``ui.first_frame``).
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

from ..errors import CheckpointError, printable
from ..jsonsafe import JSONError, loads_bounded
from ..safe_io import Refused, open_regular

FORMAT = "kgn-gui/1"
CLASSIFIER_FORMAT = "kgn-classifier/1"  # the measures' feature nets (core.measure.classifier)
MAX_HEADER_BYTES = 16 << 20
_SIZES = {"F32": 4}  # bytes a value, for each dtype a model file may hold


def read_header(path: str | os.PathLike, fmt: str = FORMAT) -> tuple[dict, dict, int]:
    """Parse and check a safetensors header whose kgn metadata says ``format: fmt``. Returns (tensor
    table, kgn metadata, data start). Only regular files are read; the JSON's size, depth and numbers are
    bounded (``jsonsafe``)."""
    path = Path(path)
    if path.suffix.lower() in (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"):
        raise CheckpointError(
            f"{path.name}: pickled model files are refused because loading them can run "
            "arbitrary code; use a .safetensors file"
        )
    try:
        f = open_regular(path)  # regular files only, never a blocking open (safe_io)
        size = os.fstat(f.fileno()).st_size
        with f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path.name}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", head)
            if n < 2 or n > MAX_HEADER_BYTES:  # its first 8 bytes are no header size: text, an image, …
                raise CheckpointError(f"{path.name}: not a safetensors file")
            if 8 + n > size:
                raise CheckpointError(
                    f"{path.name}: truncated (its header needs {n:,} bytes, the file holds {size - 8:,})"
                )
            raw = f.read(n)
    except Refused as e:
        raise CheckpointError(f"{e}, not a model file" if e.reason.startswith("not a regular") else str(e)) from None
    except OSError as e:
        raise CheckpointError(f"{path.name}: cannot read: {e.strerror or e}") from None
    try:
        header = loads_bounded(raw)
    except JSONError as e:
        raise CheckpointError(f"{path.name}: damaged header ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.name}: damaged header")
    md = header.pop("__metadata__", None)
    if not isinstance(md, dict) or "kgn" not in md:
        raise CheckpointError(f"{path.name}: a safetensors file, but not a Kaleidoscope Studio model (no kgn metadata)")
    if not isinstance(md["kgn"], str):
        raise CheckpointError(f"{path.name}: damaged model metadata (not a JSON text)")
    try:
        meta = loads_bounded(md["kgn"])
    except JSONError as e:
        raise CheckpointError(f"{path.name}: damaged model metadata ({e})") from None
    if isinstance(meta, dict) and meta.get("format") == CLASSIFIER_FORMAT != fmt:
        raise CheckpointError(f"{path.name}: a classifier (the feature net the measures use), not a Kaleidoscope model")
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise CheckpointError(
            f"{path.name}: unknown model format {meta.get('format') if isinstance(meta, dict) else None!r}"
        )
    data_len = size - 8 - n
    for name, info in header.items():
        if (
            not isinstance(info, dict)
            or not isinstance(info.get("shape"), list)
            or not isinstance(info.get("data_offsets"), list)
            or len(info["data_offsets"]) != 2
        ):
            raise CheckpointError(f"{path.name}: tensor {name!r} has a damaged entry")
        if info.get("dtype") not in _SIZES:
            raise CheckpointError(f"{path.name}: tensor {name!r} has dtype {info.get('dtype')!r}; expected F32")
        a, b = info["data_offsets"]
        if not (isinstance(a, int) and isinstance(b, int) and 0 <= a <= b <= data_len):
            raise CheckpointError(f"{path.name}: tensor {name!r} lies outside the file (truncated?)")
        numel = 1
        for s in info["shape"]:
            if not isinstance(s, int) or s < 0:
                raise CheckpointError(f"{path.name}: tensor {name!r} has a bad shape")
            numel *= s
        if numel * _SIZES[info["dtype"]] != b - a:
            raise CheckpointError(f"{path.name}: tensor {name!r} size does not match its shape")
    return header, meta, 8 + n


def first_look(path: str | os.PathLike) -> dict | None:
    """What the window's first frame shows of a model, from its header alone: {"name", "shape", "value_range",
    "L", "H", "bound", "arch", "parameters"}; None when the file cannot be read or its metadata lacks any of
    them (the full checks run when the model loads)."""
    try:
        meta = read_header(path)[1]
    except CheckpointError:
        return None
    spec = meta.get("spec")
    if not isinstance(spec, dict):
        return None
    shape = meta.get("data_shape") or spec.get("shape")
    vr = meta.get("value_range")
    ok_shape = (
        isinstance(shape, list) and 1 <= len(shape) <= 3 and all(isinstance(v, int) and 0 < v <= 4096 for v in shape)
    )
    ok_range = (
        isinstance(vr, list)
        and len(vr) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in vr)
        and vr[0] < vr[1]
    )
    if not (ok_shape and ok_range) or math.prod(shape) > 1 << 20:
        return None
    name = meta.get("name")
    return {
        "name": printable(name) if isinstance(name, str) and name else Path(path).stem,
        "shape": tuple(shape),
        "value_range": (float(vr[0]), float(vr[1])),
        "L": spec.get("L"),
        "H": spec.get("H"),
        "bound": spec.get("bound"),
        "arch": spec.get("arch", "mlp"),
        "parameters": meta.get("parameters"),
    }
