"""Exports of a chain: export_session and export_chain (frames recomputed deterministically, so any step range
can be exported whether or not a window showed it), the states of chosen steps (export_states), the
Points view's frames, and read_frames. Every output is written under a temporary name and renamed at the
end: a cancelled or failed export leaves nothing behind."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..chain.chain import ChainConfig, run_chain
from ..errors import ExportCancelled, ExportError, ExportOptionError
from ..files import WriteError, atomic_path, swap_in, temporary_beside
from ..picture.render import COBWEB_STEPS, POINTS_SIZE, TRAIL, PointsPicture
from .encode import torch_threads_beside_encoders, write_apng, write_pngs, write_video
from .gif import write_gif
from .mosaic import Mosaic, mosaic, with_label
from .options import ExportOptions, check_steps
from .targets import check_target, target_path


def write_frames(
    frames: Iterator[tuple[int, object]],
    n_frames: int,
    out: str | os.PathLike,
    opts: ExportOptions,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    inputs=(),
) -> Path:
    """Encode frames (each a :class:`Mosaic` or an H×W×3 uint8 array) to ``out``, atomically.
    progress(done, total) after each frame; cancelled() is polled before each frame and, when it
    returns True, the partial output is removed and ExportCancelled raised. Returns the path written.
    ``inputs``: the files the export reads (the model, a start array); ``out`` may be none of them. A PNG
    frame folder that holds a previous export is replaced as a unit: a failure leaves the old one whole.

    The frames are produced in the calling thread (a chain's steps release the GIL) while encoder
    threads (PyAV releases it too) turn earlier frames into bytes, so both cores work."""
    opts.validate()
    path = target_path(out, opts.fmt)
    check_target(path, opts.fmt, inputs)
    tmp_dir = temporary_beside(path, folder=True)
    try:
        writer = {
            "gif": functools.partial(write_gif, n_frames=n_frames),
            "apng": write_apng,
            "mp4": write_video,
            "webm": write_video,
            "png": write_pngs,
        }[opts.fmt]

        def guarded():
            for i, item in enumerate(frames):
                if cancelled is not None and cancelled():
                    raise ExportCancelled("export cancelled; nothing was written")
                yield item
                if progress is not None:
                    progress(i + 1, n_frames)

        produced = writer(guarded(), tmp_dir, opts)
        check_target(path, opts.fmt, inputs)  # again: the folder may have changed while the frames were made
        if opts.fmt == "png":
            swap_in(produced, path, tmp_dir)
        else:
            os.replace(produced, path)
        return path
    except ExportError:
        raise
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def export_session(
    session,
    steps: list[int],
    out: str | os.PathLike,
    opts: ExportOptions,
    *,
    frames: Iterator[tuple[int, np.ndarray]] | None = None,
    points: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    inputs=(),
) -> Path:
    """Write ``steps`` of a :class:`~kgn_gui.core.chain.session.ChainSession` to ``out`` in ``opts.fmt``: the one
    export entry point of ``kgn export`` and the window. Steps the session has reached come from its
    timeline (what the window showed, noise changes included); later ones are computed on from its head
    without changing it. An image model's frames are its grid (or one chain); a points model's (D = 1 or 2)
    are its Points view drawn by :class:`~kgn_gui.core.picture.render.PointsPicture` at ``opts.size`` × ``opts.scale``,
    with ``points`` (M×D, or None: unknown) as its training points. ``frames``: (t, H×W×3 uint8) pictures
    drawn elsewhere (the whole window), in step order; then only the encoding happens here. It owns the step check, the frame
    cap, grey detection (one-channel images get the 248-grey GIF palette) and torch's thread budget beside
    the encoder threads. ``inputs``: the files the export reads; the output may be none of them. Returns the
    path written (the format's suffix added when missing)."""
    steps = check_steps(steps)
    opts = replace(opts, grey=frames is None and len(session.shape) == 3 and session.shape[0] == 1)
    opts.validate()
    if frames is not None:
        source = frames
    elif len(session.shape) == 3:
        if opts.size is not None:
            raise ExportError("an image model's frames are sized by the scale; a picture size is for points models")
        source = session_frames(session, steps, opts)
    else:
        source = points_frames(session, steps, opts, points)
    with torch_threads_beside_encoders():
        return write_frames(source, len(steps), out, opts, progress=progress, cancelled=cancelled, inputs=inputs)


def export_chain(
    model,
    spec,
    cfg: ChainConfig,
    steps: list[int],
    out: str | os.PathLike,
    opts: ExportOptions,
    *,
    start_array: np.ndarray | None = None,
    points: np.ndarray | None = None,
    progress=None,
    cancelled=None,
    inputs=(),
    lab=None,
) -> Path:
    """A new chain of ``model`` from its start (with the core.chain.lab.Lab ``lab``: a condition, live edits),
    exported with :func:`export_session` (``points``: a points model's training points). Returns the path."""
    from ..chain.session import ChainSession

    opts.validate()
    check_target(target_path(out, opts.fmt), opts.fmt, inputs)  # before the chain's memory is taken
    session = ChainSession(
        model, spec.shape, spec.value_range, cfg, start_array=start_array, lab=None if lab is None else lab.copy()
    )
    return export_session(
        session, steps, out, opts, points=points, progress=progress, cancelled=cancelled, inputs=inputs
    )


def read_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """Decode an exported file (any of FORMATS) back into H×W×3 uint8 frames (for checks and tests)."""
    from PIL import Image, ImageSequence

    p = Path(path)
    if p.is_dir():
        return [np.asarray(Image.open(f).convert("RGB")) for f in sorted(p.glob("frame_*.png"))]
    if p.suffix.lower() in (".gif", ".png"):
        with Image.open(p) as im:
            return [np.asarray(fr.convert("RGB")) for fr in ImageSequence.Iterator(im)]
    import av

    with av.open(str(p)) as c:
        return [fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]


def session_states(session, steps: list[int], back: int = 0):
    """(t, x_t, history) for each of ``steps`` (sorted) of a live :class:`~kgn_gui.core.chain.session.ChainSession`:
    steps already reached come from its timeline (exactly what the window showed, noise changes included);
    later ones are computed on from its last state with its current step map, without touching the session.
    ``history(s)`` gives the states of any step t − ``back`` ≤ s ≤ t (for trails and cobwebs)."""
    import torch

    t_max = session.t_max
    reached: dict[int, np.ndarray] = {}  # read from the timeline, the last back + 1 asked for
    recent: dict[int, np.ndarray] = {}  # computed past t_max, the last back + 1

    def history(s: int) -> np.ndarray:
        if s > t_max:
            return recent[s]
        if s not in reached:
            reached[s] = session.state(s)
        return reached[s]

    x = t_x = chain = None
    for t in sorted(steps):
        for kept in (reached, recent):
            for s in [s for s in kept if s < t - back]:
                del kept[s]
        if t <= t_max:
            yield t, history(t), history
            continue
        if x is None:
            x, t_x = torch.from_numpy(session.state(t_max).copy()).to(session.device), t_max
            chain = session.timeline.chain_at(t_max)
        while t_x < t:
            x = chain.step(x, t_x)
            t_x += 1
            if t - t_x <= back:
                recent[t_x] = x.cpu().numpy()
        yield t, recent[t], history


def session_frames(session, steps: list[int], opts: ExportOptions) -> Iterator[tuple[int, Mosaic]]:
    """An image model's frames (:func:`mosaic`) from a live session (:func:`session_states`)."""
    shape, vr = session.shape, session.value_range
    for t, x, _ in session_states(session, steps):
        yield t, mosaic(x, shape, vr, t, opts)


def check_points_options(shape: tuple[int, ...], n_chains: int, opts: ExportOptions) -> None:
    """What a points model's export (shape (1,) or (2,)) can be asked: ExportError, one line, for a model of
    another kind, a chain on a 2-D model (its export draws every chain; in 1-D the chain picks the cobweb) or
    a chain that is not there."""
    if len(shape) != 1 or shape[0] not in (1, 2):
        raise ExportOptionError("only image models and 1-D or 2-D points models can be exported as animations")
    if opts.chain is not None:
        if shape[0] == 2:
            raise ExportOptionError(
                "a 2-D points export draws every chain; a chain is chosen for the cobweb of 1-D models"
            )
        if not 0 <= opts.chain < n_chains:
            raise ExportOptionError(f"there is no chain {opts.chain} (0 … {n_chains - 1})")


def points_picture(session, opts: ExportOptions, points: np.ndarray | None = None) -> PointsPicture:
    """The :class:`~kgn_gui.core.picture.render.PointsPicture` of a points session (D = 1 or 2) for ``opts``: its size
    (default POINTS_SIZE) and scale; in 1-D ``opts.chain`` is the cobweb's chain. ExportError, one line, for a
    model of another kind or a chain that is not there."""
    check_points_options(session.shape, session.n, opts)
    if points is not None and np.asarray(points).reshape(len(points), -1).shape[1] != session.D:
        points = None  # training points of another dimension: unknown, as in the window
    return PointsPicture(
        session.model,
        session.value_range,
        session.D,
        points,
        size=opts.size or POINTS_SIZE,
        scale=opts.scale,
        cobweb_chain=opts.chain or 0,
    )


def points_frames(
    session, steps: list[int], opts: ExportOptions, points: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """A points model's frames: its :func:`points_picture` at each step, the step label in a band above."""
    picture = points_picture(session, opts, points)
    back = COBWEB_STEPS if session.D == 1 else TRAIL
    for t, x, history in session_states(session, steps, back=back):
        frame = picture.draw(x, t, history)
        yield t, with_label(frame, f"t = {t}") if opts.overlay else frame


def export_states(
    model,
    spec,
    cfg: ChainConfig,
    steps: list[int],
    out: str | os.PathLike,
    *,
    start_array: np.ndarray | None = None,
    meta: dict | None = None,
    states=None,
    inputs=(),
    lab=None,
) -> Path:
    """The chain's states at ``steps`` to an .npz: ``states`` (len(steps)×N×D float32), ``steps``,
    ``shape`` (one sample's shape), ``value_range`` and ``meta`` (a JSON string: chain settings, model
    name, package version). ``states``, if given, is a callable t → N×D (e.g. a live session's); else
    the chain is recomputed from its start (with ``lab``, a core.chain.lab.Lab). ``inputs``: the files it reads; the output may be none of them.
    Written atomically; loads with allow_pickle=False."""
    import json

    from ..._version import __version__

    if not steps:
        raise ExportError("no steps to export")
    path = Path(out)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    check_target(path, "npz", inputs)
    steps = sorted(set(steps))
    if states is not None:
        arr = np.stack([np.asarray(states(t), np.float32) for t in steps])
    else:
        got = dict(run_chain(model, spec, cfg, max(steps), start_array=start_array, keep=set(steps), lab=lab))
        arr = np.stack([got[t] for t in steps]).astype(np.float32)
    info = {"chain": cfg.to_dict(), "version": __version__, **(meta or {})}
    if lab is not None and not lab.empty:
        info["lab"] = lab.to_dict()
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                states=arr,
                steps=np.asarray(steps, np.int64),
                shape=np.asarray(spec.shape),
                value_range=np.asarray(spec.value_range, np.float32),
                meta=np.asarray(json.dumps(info)),
            )
    except WriteError as e:
        raise ExportError(str(e)) from None
    return path
