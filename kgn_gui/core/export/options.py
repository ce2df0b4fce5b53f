"""What an export is asked for: the format and its options (ExportOptions), and the steps — step texts
counted before any list is built (count_steps, parse_steps; at most MAX_FRAMES frames)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ExportError, ExportOptionError
from ..picture.render import MAX_POINTS_SIDE

FORMATS = ("gif", "apng", "mp4", "webm", "png")
SUFFIX = {"gif": ".gif", "apng": ".png", "mp4": ".mp4", "webm": ".webm", "png": ""}


def count_steps(text: str) -> int:
    """How many steps a step text asks for ("from:to:every", "from:to" or "0,5,10"), counted without building
    the list (a comma list counts its items, repeats included). ExportOptionError (a bad option) when it cannot be read."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) > 3:
                raise ValueError
            a, b = parts[0], parts[1]
            k = parts[2] if len(parts) > 2 else 1
            if a < 0 or b < a or k < 1:
                raise ValueError
            return (b - a) // k + 1
        n = sum(1 for p in text.split(",") if p.strip())
        if not n:
            raise ValueError
        return n
    except ValueError:
        raise ExportOptionError(f"cannot read steps {text!r}: use FROM:TO:EVERY (e.g. 0:300:1) or 0,10,30") from None


def parse_steps(text: str, limit: int | None = None, what: str = "frames per export") -> list[int]:
    """ "from:to:every" (to inclusive), "from:to", or a comma list "0,5,10" → sorted step list. At most ``limit``
    steps (default MAX_FRAMES), checked by count before the list is built: "0:10**12:1" is refused at once."""
    limit = MAX_FRAMES if limit is None else limit
    count = count_steps(text)
    if count > limit:
        raise ExportOptionError(f"steps {text!r} ask for {count:,} steps; at most {limit:,} {what}")
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            return list(range(parts[0], parts[1] + 1, parts[2] if len(parts) > 2 else 1))
        steps = sorted({int(p) for p in text.split(",") if p.strip()})
        if not steps or steps[0] < 0:
            raise ValueError
        return steps
    except ValueError:
        raise ExportOptionError(f"cannot read steps {text!r}: use FROM:TO:EVERY (e.g. 0:300:1) or 0,10,30") from None


@dataclass
class ExportOptions:
    """fmt: one of FORMATS. fps: frames per second. scale: whole-number nearest-neighbour zoom.
    overlay: the step label "t = …" in a band above the grid. chain: export only this chain (enlarged), else the grid of up to
    ``max_tiles`` chains; on a 1-D points model, the chain whose cobweb is drawn (default 0). size: a points
    model's picture, (width, height) pixels at 1× (default POINTS_SIZE; the window passes its Points view's);
    image models are sized by their mosaic and take none."""

    fmt: str = "gif"
    fps: float = 20.0
    scale: int = 4
    overlay: bool = True
    chain: int | None = None
    max_tiles: int = 256
    grey: bool = False  # grey data: GIFs then use a fixed palette of 248 greys + 7 label shades
    size: tuple[int, int] | None = None
    # grey GIFs: a grid pixel keeps the grey it shows while its value stays within this many of the 248
    # grey levels of it (shown − true ≤ gif_hold + ½ level; 3: ≤ 1.4 % of the value range), so that ε-noise
    # flicker of a level or two is not sent again every frame; 0: every frame exact. Other formats are exact.
    gif_hold: int = 3

    def validate(self) -> None:
        if self.fmt not in FORMATS:
            raise ExportOptionError(f"unknown format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        if not 0.1 <= self.fps <= 240:
            raise ExportOptionError("frames per second must be in [0.1, 240]")
        if not isinstance(self.scale, int) or not 1 <= self.scale <= 32:
            raise ExportOptionError("scale must be a whole number in [1, 32]")
        if not isinstance(self.gif_hold, int) or isinstance(self.gif_hold, bool) or not 0 <= self.gif_hold <= 16:
            raise ExportOptionError("the GIF grey hold must be a whole number of grey levels in [0, 16]")
        if self.size is not None:
            w, h = self.size
            if not all(isinstance(v, int) and v >= 16 for v in (w, h)):
                raise ExportOptionError("a points picture's size is whole numbers of pixels, at least 16×16")
            if max(w, h) * self.scale > MAX_POINTS_SIDE:
                raise ExportOptionError(
                    f"{w}×{h} at {self.scale}× is larger than {MAX_POINTS_SIDE} pixels; choose a smaller scale or size"
                )

    def to_dict(self) -> dict:
        return asdict(self)


MAX_FRAMES = 100_000


def check_steps(steps) -> list[int]:
    """The steps of an export, checked: at least one, whole numbers ≥ 0, at most MAX_FRAMES; sorted, each once."""
    steps = list(steps)
    if not steps:
        raise ExportError("no steps to export")
    if len(steps) > MAX_FRAMES:
        raise ExportError(f"at most {MAX_FRAMES:,} frames per export, got {len(steps):,}")
    if any(not isinstance(t, int | np.integer) or t < 0 for t in steps):
        raise ExportError("steps are whole numbers ≥ 0")
    return sorted({int(t) for t in steps})


def frame_count_duration(n_frames: int, fps: float) -> str:
    s = n_frames / fps
    return f"{n_frames} frames, {s:.1f} s at {fps:g} fps" if math.isfinite(s) else f"{n_frames} frames"
