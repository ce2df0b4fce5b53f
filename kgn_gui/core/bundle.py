"""Run bundles: everything needed to reproduce a chain's pictures, in one folder or zip.

A bundle holds ``model.safetensors`` (the weights and their metadata), ``run.json`` (the chain settings,
the steps and the export options), ``start.npy`` when the start was an array (a painting or a data image),
``metrics.csv`` (step size, residual and nearest-distance mean / 10 % / 90 % for every step) and the
animation itself. ``kgn sample --bundle PATH -o OUT`` recomputes the frames from the first three and
writes them again: since the chain is a pure function of (weights, start, noise, ε, seed, t), they match.

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

from .. import __version__
from .chain import ChainConfig
from .checkpoint import Checkpoint, load_checkpoint
from .export import ExportError, ExportOptions, export_chain
from .files import WriteError, check_not_input
from .metrics import CURVES
from .session import ChainSession

FORMAT = "kgn-bundle/1"


def write_bundle(
    out: str | os.PathLike,
    ck: Checkpoint,
    cfg: ChainConfig,
    steps: list[int],
    opts: ExportOptions,
    *,
    start_array: np.ndarray | None = None,
    curves=None,
    progress=None,
    cancelled=None,
    inputs=(),
) -> Path:
    """Write a bundle folder (or a .zip when ``out`` ends in .zip), atomically. ``curves``: a ChainCurves
    to save as metrics.csv (else they are computed, without the nearest-distance columns). ``inputs``: files
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
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=parent))
    try:
        folder = work / "bundle"
        folder.mkdir()
        ck.save(folder / "model.safetensors")
        if start_array is not None:
            np.save(folder / "start.npy", np.asarray(start_array, np.float32), allow_pickle=False)
        run = {
            "format": FORMAT,
            "version": __version__,
            "chain": cfg.to_dict(),
            "steps": list(map(int, steps)),
            "export": opts.to_dict(),
            "has_start": start_array is not None,
        }
        (folder / "run.json").write_text(json.dumps(run, indent=2))
        if curves is None or len(curves) < max(steps):
            session = ChainSession(ck.model, ck.spec.shape, ck.value_range, cfg, start_array=start_array)
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


def read_bundle(path: str | os.PathLike):
    """(checkpoint, ChainConfig, start array or None, steps, ExportOptions) from a bundle folder or zip."""
    path = Path(path)
    tmp = None
    try:
        if path.is_file() and zipfile.is_zipfile(path):
            tmp = Path(tempfile.mkdtemp(prefix="kgn-bundle-"))
            with zipfile.ZipFile(path) as z:
                for name in ("run.json", "model.safetensors", "start.npy"):
                    if name in z.namelist():
                        z.extract(name, tmp)
            folder = tmp
        elif path.is_dir():
            folder = path
        else:
            raise ExportError(f"{path}: not a run bundle (a folder or .zip)")
        try:
            run = json.loads((folder / "run.json").read_text())
        except (OSError, json.JSONDecodeError):
            raise ExportError(f"{path}: not a run bundle (no readable run.json)") from None
        if not isinstance(run, dict) or run.get("format") != FORMAT:
            raise ExportError(f"{path}: unknown bundle format")
        ck = load_checkpoint(folder / "model.safetensors")
        try:
            cfg = ChainConfig(**run["chain"])
            opts = ExportOptions(**run["export"])
            steps = [int(t) for t in run["steps"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ExportError(f"{path}: damaged run.json ({e})") from None
        start = np.load(folder / "start.npy", allow_pickle=False) if run.get("has_start") else None
        return ck, cfg, start, steps, opts
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
    from .export import target_path

    ck, cfg, start, steps, opts = read_bundle(path)
    inputs = bundle_files(path)
    try:
        check_not_input(target_path(out, opts.fmt), inputs)
    except WriteError as e:
        raise ExportError(str(e)) from None
    return export_chain(ck.model, ck.spec, cfg, steps, out, opts, start_array=start, progress=progress, inputs=inputs)
