"""Run bundles: everything needed to reproduce a chain's pictures, in one folder or zip.

A bundle holds ``model.safetensors`` (the weights and their metadata), ``run.json`` (the chain settings,
the steps, the export options and the lab's live edits), ``start.npy`` when the start was an array (a painting
or a data image), ``condition.npy`` when the chains were conditioned (the known image and its mask),
``metrics.csv`` (step size, residual and nearest-distance mean / 10 % / 90 % for every step) and the
animation itself. ``kgn sample --bundle PATH -o OUT`` recomputes the frames from the first three and
writes them again: since the chain is a pure function of (weights, start, settings, lab, seed, t), they match.

A bundle is built in a temporary folder beside its target and renamed in whole; an existing target is never
replaced (a bundle is a record: a new one takes a new name). No output is one of its inputs: a bundle is
never written over its model file, and a reproduction never over the bundle it reads (nor into a folder
holding it).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..._version import __version__
from ..chain.chain import ChainConfig
from ..chain.curves import CURVES
from ..chain.session import ChainSession
from ..errors import ExportError
from ..files import WriteError, check_not_input, temporary_beside
from ..model.checkpoint import Checkpoint, load_checkpoint
from .animation import export_chain
from .options import ExportOptions

FORMAT = "kgn-bundle/1"


def write_bundle(
    out: str | os.PathLike,
    ck: Checkpoint,
    cfg: ChainConfig,
    steps: list[int],
    opts: ExportOptions,
    *,
    start_array: np.ndarray | None = None,
    lab=None,
    curves=None,
    progress=None,
    cancelled=None,
    inputs=(),
) -> Path:
    """Write a bundle folder (or a .zip when ``out`` ends in .zip), atomically. ``curves``: a ChainCurves
    to save as metrics.csv (else they are computed, without the nearest-distance columns). ``lab``: the
    core.chain.lab.Lab of the chains (a condition, live edits), stored and replayed. ``inputs``: files
    the caller read (the model's own file is always one); ``out`` may be none of them."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"cannot write {out}: the folder {parent} does not exist")
    try:
        check_not_input(out, [ck.path, *inputs])
    except WriteError as e:
        raise ExportError(str(e)) from None
    if out.exists() or out.is_symlink():
        raise ExportError(f"{out} already exists")
    if steps and max(steps) > MAX_STEP:  # a bundle that could not be read back is never written
        raise ExportError(f"a run bundle's steps go up to {MAX_STEP:,}; this one asks for {max(steps):,}")
    work = temporary_beside(out, folder=True)
    try:
        folder = work / "bundle"
        folder.mkdir()
        ck.save(folder / "model.safetensors")
        if start_array is not None:
            np.save(folder / "start.npy", np.asarray(start_array, np.float32), allow_pickle=False)
        lab = None if lab is None or lab.empty else lab.copy()
        if lab is not None and lab.condition is not None:
            np.save(folder / "condition.npy", lab.condition.to_array(), allow_pickle=False)
        run = {
            "format": FORMAT,
            "version": __version__,
            "chain": cfg.to_dict(),
            "steps": list(map(int, steps)),
            "export": opts.to_dict(),
            "has_start": start_array is not None,
        }
        if lab is not None:
            run["lab"] = lab.to_dict()
        (folder / "run.json").write_text(json.dumps(run, indent=2))
        if curves is None or len(curves) < max(steps):
            session = ChainSession(ck.model, ck.spec.shape, ck.value_range, cfg, start_array=start_array, lab=lab)
            session.advance(max(steps))
            curves = session.curves
        _write_metrics(folder / "metrics.csv", curves)
        anim = export_chain(
            ck.model,
            ck.spec,
            cfg,
            steps,
            folder / "animation",
            opts,
            start_array=start_array,
            progress=progress,
            cancelled=cancelled,
            lab=lab,
        )
        (folder / "README.txt").write_text(
            "Kaleidoscope Studio run bundle.\n"
            f"Reproduce the frames:  kgn sample --bundle {out.name} -o reproduced\n"
            f"animation: {anim.name} ({len(steps)} frames); model: model.safetensors; settings: run.json\n"
        )
        if out.suffix.lower() == ".zip":
            tmpzip = work / "bundle.zip"
            with zipfile.ZipFile(tmpzip, "w", zipfile.ZIP_DEFLATED) as z:
                for p in sorted(folder.rglob("*")):
                    z.write(p, p.relative_to(folder).as_posix())
            os.replace(tmpzip, out)
        else:
            os.replace(folder, out)
        return out
    except OSError as e:
        raise ExportError(f"cannot write {out}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_metrics(path: Path, curves) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t"] + [f"{k}_{s}" for k in CURVES for s in ("mean", "p10", "p90")])
        cols = [curves.arrays(k) for k in CURVES]
        for i in range(len(curves)):
            w.writerow([i] + [f"{c[j][i]:.6g}" for c in cols for j in (1, 2, 3)])


# -- reading a bundle: everything in it is untrusted (a bundle may come from anyone)

MAX_RUN_JSON_BYTES = 4 << 20  # run.json: 100,000 steps written one a line take about 1.2 MB
MAX_START_BYTES = 256 << 20  # start.npy: one start state (or one per chain)
MAX_MODEL_BYTES = 4 << 30  # model.safetensors inside a zip (copied to a temporary folder first)
MAX_ZIP_DIRECTORY_BYTES = 32 << 20  # a zip's table of contents (a folder of 100,000 frames: about 8 MB)
MAX_STEP = 10_000_000  # the last step a bundle may ask for
_ROOM = 64 << 20  # left free on the temporary folder's disk after extracting a zip's members
MAX_CONDITION_BYTES = 64 << 20  # condition.npy: 2×D float32
_INPUTS = {
    "run.json": MAX_RUN_JSON_BYTES,
    "model.safetensors": MAX_MODEL_BYTES,
    "start.npy": MAX_START_BYTES,
    "condition.npy": MAX_CONDITION_BYTES,
}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# What each run.json field of the chain settings and export options must be (fields read by the dataclasses'
# own validate() are range-checked there).
_CHAIN_TYPES = {
    "n": (_is_int, "a whole number"),
    "start": (lambda v: isinstance(v, str), "text"),
    "noise": (lambda v: isinstance(v, str), "text"),
    "eps": (_is_number, "a number"),
    "seed": (_is_int, "a whole number"),
    "sigma": (_is_number, "a number"),
    "mask": (_is_int, "a whole number"),
    "schedule": (lambda v: isinstance(v, str) and len(v) <= 200, "text (KIND:START:END:T)"),
    "damping": (_is_number, "a number"),
}
_EXPORT_TYPES = {
    "fmt": (lambda v: isinstance(v, str), "text"),
    "fps": (_is_number, "a number"),
    "scale": (_is_int, "a whole number"),
    "overlay": (lambda v: isinstance(v, bool), "true or false"),
    "chain": (lambda v: v is None or (_is_int(v) and v >= 0), "a chain number or null"),
    "max_tiles": (lambda v: _is_int(v) and 1 <= v <= 1 << 20, "a whole number in [1, 1048576]"),
    "grey": (lambda v: isinstance(v, bool), "true or false"),
    "gif_hold": (lambda v: _is_int(v) and 0 <= v <= 16, "a whole number in [0, 16]"),
    "size": (lambda v: v is None, "null (bundles are of image models)"),
}


def _settings(path: Path, run: dict, key: str, cls, types: dict):
    """The dataclass ``cls`` built from run.json's ``key`` object, each field type-checked first."""
    import dataclasses

    d = run.get(key)
    if not isinstance(d, dict):
        raise ExportError(f"{path}: damaged run.json: {key} must be a JSON object")
    flat = getattr(cls, "FILE_FIELDS", None)  # a config whose file form is flat (ChainConfig: its sampler's fields)
    known = set(flat) if flat is not None else {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(d) - known)
    if extra:
        raise ExportError(f"{path}: damaged run.json: {key} has unknown fields: {', '.join(map(str, extra))[:100]}")
    for name, (ok, expected) in types.items():
        if name in d and not ok(d[name]):
            raise ExportError(f"{path}: damaged run.json: {key}.{name} must be {expected}, got {str(d[name])[:40]!r}")
    try:
        obj = cls.from_dict(d) if flat is not None else cls(**d)
        obj.validate()
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as e:  # ChainError / ExportError included
        raise ExportError(f"{path}: run.json: {e}") from None
    return obj


def _check_zip_directory(path: Path, f) -> None:
    """Refuse a zip whose table of contents is huge before zipfile reads it all into memory."""
    end = getattr(zipfile, "_EndRecData", None)  # zipfile's own reader of the end records (zip64 too)
    if end is None:
        return
    rec = end(f)
    if rec is None:
        raise ExportError(f"{path}: not a run bundle (damaged zip)")
    if rec[zipfile._ECD_SIZE] > MAX_ZIP_DIRECTORY_BYTES:
        raise ExportError(f"{path}: the zip's table of contents is {rec[zipfile._ECD_SIZE]:,} bytes; too many entries")


def _extract_inputs(path: Path, f, tmp: Path) -> None:
    """Copy run.json, model.safetensors and start.npy out of the zip ``f`` into ``tmp``: the declared sizes
    checked against their caps and the free disk first, each copy stopped at its declared size."""
    import zlib

    try:
        _check_zip_directory(path, f)
        f.seek(0)
        with zipfile.ZipFile(f) as z:
            members = []
            for name, cap in _INPUTS.items():
                try:
                    info = z.getinfo(name)
                except KeyError:
                    continue
                if info.is_dir():
                    raise ExportError(f"{path}: {name} in the zip is a folder")
                if info.flag_bits & 1:
                    raise ExportError(f"{path}: {name} in the zip is encrypted")
                if info.file_size > cap:
                    raise ExportError(f"{path}: {name} in the zip declares {info.file_size:,} bytes (at most {cap:,})")
                members.append(info)
            need = sum(i.file_size for i in members)
            if need + _ROOM > shutil.disk_usage(tmp).free:
                raise ExportError(f"{path}: no room to unpack it ({need:,} bytes) in {tmp.parent}")
            for info in members:
                left = info.file_size
                with z.open(info) as src, open(tmp / info.filename, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        left -= len(chunk)
                        if left < 0:
                            raise ExportError(f"{path}: {info.filename} in the zip is larger than it declares")
                        dst.write(chunk)
    except ExportError:
        raise
    except OSError as e:
        raise ExportError(f"{path}: cannot unpack it: {e.strerror or e}") from None
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        ValueError,
        RuntimeError,
        OverflowError,
    ) as e:
        raise ExportError(f"{path}: damaged zip ({str(e)[:100] or type(e).__name__})") from None


def _inside(path: Path, folder: Path, name: str) -> Path | None:
    """``folder/name`` when it exists (None when not); refused when it leads outside the folder."""
    p = folder / name
    if not os.path.lexists(p):
        return None
    base = os.path.realpath(folder)
    if os.path.commonpath([os.path.realpath(p), base]) != base:
        raise ExportError(f"{path}: {name} points outside the bundle")
    return p


def _read_input(path: Path, p: Path, cap: int) -> bytes:
    """A regular file's bytes, at most ``cap`` of them."""
    from ..safe_io import Refused, open_regular

    try:
        with open_regular(p) as f:
            size = os.fstat(f.fileno()).st_size
            if size > cap:
                raise ExportError(f"{path}: {p.name} is {size:,} bytes (at most {cap:,})")
            data = f.read(cap + 1)
    except Refused as e:
        raise ExportError(f"{path}: {p.name}: {e.reason}") from None
    except OSError as e:
        raise ExportError(f"{path}: cannot read {p.name}: {e.strerror or e}") from None
    if len(data) > cap:
        raise ExportError(f"{path}: {p.name} is larger than {cap:,} bytes")
    return data


def _read_lab(path: Path, folder: Path, run: dict, n: int, D: int, value_range: tuple[float, float]):
    """run.json's ``lab`` (edits, the condition's source) with condition.npy: a core.chain.lab.Lab, or None."""
    import io

    from ..chain.lab import Lab
    from ..errors import LabError
    from ..safe_io import Refused, read_npy

    if "lab" not in run:
        return None
    known = None
    cond_path = _inside(path, folder, "condition.npy")
    if cond_path is not None:
        data = _read_input(path, cond_path, MAX_CONDITION_BYTES)
        try:
            known = read_npy(io.BytesIO(data), "condition.npy", max_bytes=MAX_CONDITION_BYTES, available=len(data))
        except Refused as e:
            raise ExportError(f"{path}: {e}") from None
        if not np.isfinite(known).all():
            raise ExportError(f"{path}: condition.npy contains NaN or infinite values")
        if (
            known.ndim == 2
            and known.shape[0] >= 2
            and not ((known[:-1] >= value_range[0]) & (known[:-1] <= value_range[1])).all()
        ):
            raise ExportError(f"{path}: condition.npy's known image leaves the model's value range {value_range}")
    try:
        lab = Lab.from_dict(run["lab"], known)
        lab.check(n, D)
    except LabError as e:
        raise ExportError(f"{path}: run.json: {e}") from None
    return lab


def _read_start(path: Path, data: bytes, D: int) -> np.ndarray:
    """start.npy: read by core.safe_io (header first: numbers only, the declared size against the bytes
    present), then checked against the model (D values, or rows of D) and for finite values."""
    import io

    from ..safe_io import Refused, read_npy

    try:
        a = read_npy(io.BytesIO(data), "start.npy", max_bytes=MAX_START_BYTES, available=len(data))
    except Refused as e:
        raise ExportError(f"{path}: {e}") from None
    if not (a.size == D or (a.ndim == 2 and a.shape[1] == D)):
        raise ExportError(f"{path}: start.npy has shape {a.shape}; the model needs {D} values (or rows of {D})")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ExportError(f"{path}: start.npy contains NaN or infinite values")
    return a


def read_bundle(path: str | os.PathLike):
    """(checkpoint, ChainConfig, start array or None, steps, ExportOptions, Lab or None) from a bundle folder
    or zip.
    Everything in it is checked before use (run.json's fields by type, its step list by count and range,
    start.npy's header, zip members by declared size, paths that would lead outside the folder); every
    problem is one ExportError naming the bundle."""
    from ..errors import CheckpointError
    from ..jsonsafe import JSONError, loads_bounded
    from ..safe_io import Refused, open_regular
    from .options import MAX_FRAMES

    path = Path(path)
    tmp = None
    try:
        if path.is_dir():
            folder = path
        else:
            try:
                f = open_regular(path)
            except (Refused, OSError):
                raise ExportError(f"{path}: not a run bundle (a folder or .zip)") from None
            with f:
                if not zipfile.is_zipfile(f):
                    raise ExportError(f"{path}: not a run bundle (a folder or .zip)")
                tmp = Path(tempfile.mkdtemp(prefix="kgn-bundle-"))
                _extract_inputs(path, f, tmp)
            folder = tmp
        run_path = _inside(path, folder, "run.json")
        if run_path is None:
            raise ExportError(f"{path}: not a run bundle (no run.json)")
        try:
            run = loads_bounded(_read_input(path, run_path, MAX_RUN_JSON_BYTES))
        except JSONError as e:
            raise ExportError(f"{path}: damaged run.json ({e})") from None
        if not isinstance(run, dict) or run.get("format") != FORMAT:
            raise ExportError(f"{path}: unknown bundle format")
        cfg = _settings(path, run, "chain", ChainConfig, _CHAIN_TYPES)
        if isinstance(run.get("export"), dict) and "gif_hold" not in run["export"]:
            run["export"] = {**run["export"], "gif_hold": 0}  # written before GIFs held greys: every frame exact
        opts = _settings(path, run, "export", ExportOptions, _EXPORT_TYPES)
        if opts.chain is not None and opts.chain >= cfg.n:
            raise ExportError(f"{path}: run.json: export.chain {opts.chain} but there are {cfg.n} chains")
        steps = run.get("steps")
        if not isinstance(steps, list) or not steps:
            raise ExportError(f"{path}: damaged run.json: steps must be a non-empty list of whole numbers")
        if len(steps) > MAX_FRAMES:  # by count, before anything is built from it
            raise ExportError(f"{path}: run.json asks for {len(steps):,} frames (at most {MAX_FRAMES:,})")
        if not all(_is_int(t) and 0 <= t <= MAX_STEP for t in steps):
            raise ExportError(f"{path}: damaged run.json: steps must be whole numbers in [0, {MAX_STEP:,}]")
        has_start = run.get("has_start", False)
        if not isinstance(has_start, bool):
            raise ExportError(f"{path}: damaged run.json: has_start must be true or false")
        if cfg.start in ("array", "data") and not has_start:
            raise ExportError(f"{path}: run.json: a {cfg.start!r} start needs start.npy (has_start is false)")
        model_path = _inside(path, folder, "model.safetensors")
        if model_path is None:
            raise ExportError(f"{path}: not a run bundle (no model.safetensors)")
        try:
            ck = load_checkpoint(model_path)
        except CheckpointError as e:
            raise ExportError(f"{path}: {e}") from None
        start = None
        if has_start:
            start_path = _inside(path, folder, "start.npy")
            if start_path is None:
                raise ExportError(f"{path}: run.json says it has a start, but there is no start.npy")
            start = _read_start(path, _read_input(path, start_path, MAX_START_BYTES), ck.spec.D)
        lab = _read_lab(path, folder, run, cfg.n, ck.spec.D, ck.value_range)
        return ck, cfg, start, [int(t) for t in steps], opts, lab
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def bundle_files(path: str | os.PathLike) -> list[Path]:
    """The bundle itself and every file in it (a folder's, listed; a zip is one file): what a reproduction
    reads, so none of them may be its output."""
    path = Path(path)
    files = [path]
    if path.is_dir():
        try:
            files += [p for p in path.rglob("*") if p.is_file()]
        except OSError:
            pass
    return files


def reproduce(path: str | os.PathLike, out: str | os.PathLike, progress=None) -> Path:
    """Recompute a bundle's frames and write them to ``out`` in the bundle's format; ``out`` may be neither
    the bundle nor any file in it (nor a folder holding it)."""
    from .targets import target_path

    ck, cfg, start, steps, opts, lab = read_bundle(path)
    inputs = bundle_files(path)
    try:
        check_not_input(target_path(out, opts.fmt), inputs)
    except WriteError as e:
        raise ExportError(str(e)) from None
    return export_chain(
        ck.model, ck.spec, cfg, steps, out, opts, start_array=start, progress=progress, inputs=inputs, lab=lab
    )
