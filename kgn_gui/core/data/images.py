"""Data from image files and folders (sub-folders as labels): only Pillow's PNG, JPEG, BMP, GIF, TIFF and
WebP decoders, sizes checked before decoding, what cannot be read skipped and reported."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import numpy as np

from ..errors import DataError, printable
from ..safe_io import Refused, kind_of, one_line, open_regular, reason_of
from .dataset import Dataset, from_unit, images_to_dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
IMAGE_KINDS = "PNG, JPEG, BMP, GIF, TIFF or WebP"  # in messages
# The only Pillow decoders an image import ever uses, named before a file is opened: content sniffing never
# reaches another plugin (EPS/PS/PDF hand the file to Ghostscript, a separate program).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")


# ---------------------------------------------------------------- image folders
MAX_IMAGE_PIXELS = 40_000_000  # larger images are skipped (decompression bombs, accidental photos of 100 MP)
MAX_IMAGE_FILES = 1_000_000


_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # more than 8 bits: scaled by numpy, not Pillow


class _Skip(Exception):
    """An image left out of an import; the message is the reason."""


def _describe_image_error(e: BaseException) -> str:
    from PIL import Image, UnidentifiedImageError

    if isinstance(e, _Skip):
        return str(e)
    if isinstance(e, Refused):
        return e.reason
    if isinstance(e, UnidentifiedImageError):
        return "not an image PIL can read (wrong extension or damaged)"
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too large to import (more than {MAX_IMAGE_PIXELS:,} pixels)"
    if isinstance(e, MemoryError):
        return "not enough memory to decode it"
    if isinstance(e, PermissionError):
        return "cannot read: permission denied"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot read: {e.strerror}"
    return f"damaged image ({one_line(str(e), 200) or type(e).__name__})"


@contextlib.contextmanager
def _open_image(p: Path):
    """A Pillow image of the regular file ``p``, decoded only by one of IMAGE_FORMATS (never by sniffing
    into another plugin), with Pillow's warnings silenced except decompression bombs, which raise."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with open_regular(p) as f, Image.open(f, formats=IMAGE_FORMATS) as im:
            yield im


def _image_to_unit(im, mode: str, size: tuple[int, int]) -> np.ndarray:
    """One image as a (C, h, w) float32 array in [0, 1], C = 1 for mode "L" and 3 for "RGB", resized to
    ``size`` (h, w). 8-bit modes go through Pillow (palette → RGBA first so transparency needs no guess;
    alpha is dropped; CMYK/YCbCr → RGB); 16-bit greys are scaled by 1/65535, 32-bit integers the same when
    they lie in 0…65535, float images are taken when they lie in [0, 1]. Nothing is clipped: a value outside
    those ranges skips the image with the reason."""
    from PIL import Image

    h, w = size
    if im.mode in _DEEP_MODES:
        a = np.asarray(im)
        if im.mode == "F":
            if not np.isfinite(a).all():
                raise _Skip("float pixels that are NaN or infinite")
            lo, hi = float(a.min()), float(a.max())
            if lo < 0.0 or hi > 1.0:
                raise _Skip(f"float pixels outside 0…1 ({lo:g} … {hi:g})")
            u = a.astype(np.float32)
        else:
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi > 65535:
                raise _Skip(f"32-bit pixels outside 0…65535 ({lo} … {hi})")
            u = a.astype(np.float32) / np.float32(65535.0)
        del a
        small = np.asarray(Image.fromarray(u).resize((w, h), Image.Resampling.BILINEAR), np.float32)
        return np.repeat(small[None], 3 if mode == "RGB" else 1, axis=0)
    im.draft(mode, (w, h))  # JPEG: decode at a reduced size when that is enough
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")
    base = "L" if im.mode in _GREY_MODES else "RGB"
    if im.mode != base:
        im = im.convert(base)
    if im.mode != mode:
        im = im.convert(mode)
    small = np.asarray(im.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32) / np.float32(255.0)
    return small[None] if small.ndim == 2 else small.transpose(2, 0, 1)


def load_image(path: str | os.PathLike, shape: tuple[int, ...], value_range: tuple[float, float]) -> np.ndarray:
    """One image file as a state of ``shape`` (C, H, W) in ``value_range`` (resized to H×W, grey when C = 1);
    any failure is one DataError line naming the file (never a traceback)."""
    p = Path(path)
    if len(shape) != 3:
        raise DataError(f"{printable(p.name)}: an image needs an image model (this model's states are {shape})")
    C, H, W = shape
    try:
        with _open_image(p) as im:
            u = _image_to_unit(im, "L" if C == 1 else "RGB", (H, W))
    except Exception as e:  # noqa: BLE001 - one line, whatever went wrong
        raise DataError(f"{printable(p.name)}: {_describe_image_error(e)}") from None
    return from_unit(u, value_range).reshape(-1)


def load_image_folder(
    folder: str | os.PathLike,
    size: tuple[int, int] = (28, 28),
    mode: str = "auto",
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> tuple[Dataset, list[str]]:
    """PNG/JPEG/BMP/GIF/TIFF/WebP images from ``folder``; each sub-folder is one class.

    size: (height, width) every image is resized to. mode: "L" (grey), "RGB", or "auto" (RGB if
    any image has colour). Returns the data set and the list of skipped files with the reason (also
    the data set's ``skipped``): other file types, files that are not regular files (FIFOs, devices),
    unreadable files, damaged images, images over MAX_IMAGE_PIXELS (checked from the header, before
    decoding: decompression bombs are never expanded), pixel values that cannot be scaled to [0, 1].
    Only the decoders in IMAGE_FORMATS are used, whatever a file's name or content; any exception a
    decoder raises skips that file, never the folder. Each image is resized as soon as it is decoded, so
    memory follows the output size, not the files'. Alpha is dropped; 16-bit images are scaled, not clipped.
    """
    from PIL import Image

    if mode not in ("auto", "L", "RGB"):
        raise DataError(f"image mode must be auto, L or RGB, not {mode!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{printable(folder)}: not a folder")
    entries: list[tuple[Path, str | None]] = []
    skipped: list[str] = []

    def rel(p: Path) -> str:
        return printable(p.relative_to(folder).as_posix())

    try:
        files = sorted(folder.rglob("*"))
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{printable(folder)}: cannot list: {reason_of(e)}") from None
    for p in files:
        if p.name.startswith("."):
            continue
        try:
            st = os.stat(p)
        except Exception as e:  # noqa: BLE001 - a broken link, a file removed meanwhile
            skipped.append(f"{rel(p)}: {reason_of(e)}")
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(f"{rel(p)}: not a {IMAGE_KINDS} file")
            continue
        if not stat.S_ISREG(st.st_mode):
            skipped.append(f"{rel(p)}: not a regular file ({kind_of(st.st_mode)})")
            continue
        parts = p.relative_to(folder).parts
        entries.append((p, parts[0] if len(parts) > 1 else None))
    if not entries:
        raise DataError(
            f"{printable(folder)}: no {IMAGE_KINDS} images found"
            + (f" ({len(skipped)} other files)" if skipped else "")
        )
    if len(entries) > MAX_IMAGE_FILES:
        raise DataError(f"{printable(folder)}: {len(entries):,} images; at most {MAX_IMAGE_FILES:,} can be imported")

    def bad(p: Path, e: BaseException) -> None:
        skipped.append(f"{rel(p)}: {_describe_image_error(e)}")

    # Pass 1: headers only (size, colour mode): refuse huge images before any pixel is decoded.
    ok: list[tuple[Path, str | None, str]] = []
    for p, cls in entries:
        try:
            with _open_image(p) as im:
                w, h = im.size
                if w < 1 or h < 1 or w * h > MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError(f"{w}×{h}")
                ok.append((p, cls, im.mode))
        except Exception as e:  # noqa: BLE001 - any decoder failure skips the file, never the folder
            bad(p, e)
    if mode == "auto":
        mode = "RGB" if any(m not in _GREY_MODES for *_, m in ok) else "L"
    # Pass 2: decode, convert, resize one at a time.
    arrs, classes_of = [], []
    for p, cls, _ in ok:
        try:
            with _open_image(p) as im:
                arrs.append(_image_to_unit(im, mode, size))
        except Exception as e:  # noqa: BLE001
            bad(p, e)
            continue
        classes_of.append(cls)
    if not arrs:
        first = next((s for s in skipped if f"not a {IMAGE_KINDS} file" not in s), "unknown")
        raise DataError(f"{printable(folder)}: none of {len(entries)} images could be read; first problem: {first}")
    classes = sorted({c for c in classes_of if c is not None})
    labels = np.array([classes.index(c) for c in classes_of]) if classes and all(classes_of) else None
    ds = images_to_dataset(np.stack(arrs), labels, value_range, folder.name, classes if labels is not None else [])
    ds.skipped = skipped
    return ds, skipped
