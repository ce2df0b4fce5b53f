"""The start of a chain, x_0, as one typed value for ``kgn`` and the window.

A :class:`Start` says where N chains begin: fresh ``uniform`` or ``normal`` noise (seeded), a ``data``
sample (one data-set image, corrupted per chain by Gaussian noise σ and a masked square), a given
``array`` (one state repeated, or one row per chain, e.g. a .npy file) or a ``painted`` image (an array
that came from the Paint tab). :func:`parse_start` reads the CLI's ``--start`` strings; the window builds
the same values from its Start panel, so the same request gives the same x_0 in both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import StartError
from ..wording import count
from .chain import ChainConfig
from .sampler import Sampler

START_KINDS = ("uniform", "normal", "data", "array", "painted")
NOISE_STARTS = ("uniform", "normal")  # the random starts (the Start panel's choice list)
DEFAULT_DATA_SOURCE = "mnist:test"
MAX_START_FILE_BYTES = 1 << 30


@dataclass(frozen=True, eq=False)
class Start:
    """kind: one of START_KINDS. n: number of chains. seed: seeds the start and every step's noise.
    array: the state (D values) or N×D states of a data / array / painted start (in the model's value
    range). sigma: Gaussian corruption (value units) and mask: side in pixels of a masked square, per
    chain, on a data start. source: where a data start came from (``mnist:test#3``), for descriptions."""

    kind: str = "uniform"
    n: int = 64
    seed: int = 0
    array: np.ndarray | None = field(default=None, repr=False)
    sigma: float = 0.0
    mask: int = 0
    source: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in START_KINDS:
            raise StartError(f"unknown start {self.kind!r}; choose one of {', '.join(START_KINDS)}")
        if self.kind in NOISE_STARTS and self.array is not None:
            raise StartError(f"a {self.kind} start has no array")
        if self.kind not in NOISE_STARTS and self.array is None:
            raise StartError(f"a {self.kind} start needs an array")
        if self.kind != "data" and (self.sigma or self.mask):
            raise StartError("noise σ and a mask apply to a data start only")

    def chain_config(self, sampler: Sampler = Sampler.PAPER) -> ChainConfig:
        """The ChainConfig of chains from this start that step with ``sampler``."""
        start = {"painted": "array"}.get(self.kind, self.kind)
        return ChainConfig(
            n=int(self.n),
            start=start,
            sampler=sampler,
            seed=int(self.seed),
            sigma=float(self.sigma),
            mask=int(self.mask),
        )

    def with_chains(self, n: int | None = None, seed: int | None = None) -> Start:
        return replace(self, n=self.n if n is None else int(n), seed=self.seed if seed is None else int(seed))

    def fits(self, D: int) -> bool:
        """Whether this start can begin chains of a model with D values per state."""
        return self.array is None or (self.array.size == D or (self.array.ndim == 2 and self.array.shape[1] == D))

    def describe(self) -> str:
        what = {
            "uniform": "uniform noise",
            "normal": "normal noise",
            "data": f"data sample {self.source or ''}".strip(),
            "array": f"an array{f' ({self.source})' if self.source else ''}",
            "painted": "a painting",
        }[self.kind]
        extra = "".join([f", σ = {self.sigma:g}" if self.sigma else "", f", {self.mask}-px mask" if self.mask else ""])
        return f"{count(self.n, 'chain', commas=False)} from {what}{extra}, seed {self.seed}"


def data_start(ds, index: int, *, n: int, seed: int, sigma: float = 0.0, mask: int = 0, key: str | None = None):
    """A data start from sample ``index`` of the Dataset ``ds`` (already in the model's value range)."""
    if not 0 <= int(index) < ds.M:
        raise StartError(f"no sample {index} in {ds.name} ({ds.M:,} samples: 0 … {ds.M - 1})")
    src = f"{key or ds.name}#{int(index)}"
    return Start("data", n=n, seed=seed, array=ds.x[int(index)].copy(), sigma=sigma, mask=mask, source=src)


def start_files(text: str | None) -> list[Path]:
    """The file a ``--start`` (or ``--condition``) reads: a .npy, or the source of data:SOURCE#INDEX."""
    from ..files import existing_paths

    if text and text.startswith("data:"):
        return existing_paths(text[len("data:") :].rsplit("#", 1)[0])
    return existing_paths(text)


def parse_start(
    text: str,
    value_range: tuple[float, float],
    *,
    n: int = 64,
    seed: int = 0,
    sigma: float = 0.0,
    mask: int = 0,
    open_source=None,
) -> Start:
    """A ``--start`` string: ``uniform``, ``normal``, ``data:SOURCE#INDEX`` (SOURCE an ``open_source`` key,
    default mnist:test; INDEX default 0) or the path of a .npy file (one state or N×D states in the model's
    value range). ``open_source(key, value_range)`` opens data sources (default: ``data.open_source``).
    Raises StartError (or the data loader's DataError) with a one-line message."""
    text = str(text).strip()
    if text in NOISE_STARTS:
        if sigma or mask:
            raise StartError("--sigma and --mask corrupt a data start; give --start data:SOURCE#INDEX")
        return Start(text, n=n, seed=seed)
    if text.startswith("data:"):
        body = text[len("data:") :]
        src, sep, idx = body.rpartition("#")
        if not sep:
            src, idx = body, "0"
        try:
            index = int(idx)
        except ValueError:
            raise StartError(f"the sample index must be a whole number: {idx!r} in {text!r}") from None
        if open_source is None:
            from ..data.sources import open_source
        key = src or DEFAULT_DATA_SOURCE
        ds = open_source(key, tuple(value_range))
        return data_start(ds, index, n=n, seed=seed, sigma=sigma, mask=mask, key=key)
    p = Path(text)
    if p.suffix.lower() == ".npy" or p.exists():
        if sigma or mask:
            raise StartError("--sigma and --mask corrupt a data start; give --start data:SOURCE#INDEX")
        return Start("array", n=n, seed=seed, array=load_start_array(p), source=p.name)
    raise StartError(f"--start must be uniform, normal, data:SOURCE#INDEX or a .npy file, not {text!r}")


def load_start_array(path: str | os.PathLike) -> np.ndarray:
    """A start array from a .npy file: float32, 1-D (one state) or 2-D (one state per chain), finite.

    Only regular files are opened (a FIFO or device is refused, never waited on); the header is checked
    before the data are read: numbers only (integers, floats, booleans: never objects, so never a pickle),
    non-empty, within MAX_START_FILE_BYTES as stored and as float32. Every failure is one StartError line
    naming the file."""
    from ..errors import printable
    from ..safe_io import Refused, load_npy, reason_of, shown

    p = Path(path)
    name = shown(p)
    try:
        a = load_npy(p, max_bytes=MAX_START_FILE_BYTES)
    except Refused as e:
        if e.reason == "no such file":
            raise StartError(f"{printable(str(p))}: no such file") from None
        if "not an array of numbers" in e.reason:
            what = e.reason.split(", not an array")[0]
            raise StartError(f"{name}: a start is a non-empty 1-D or 2-D array of numbers; this file {what}") from None
        raise StartError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - one line, whatever went wrong
        raise StartError(f"{name}: {reason_of(e)}") from None
    if a.ndim not in (1, 2):
        raise StartError(f"{name}: a start is a non-empty 1-D or 2-D array of numbers, not shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise StartError(f"{name}: the start contains NaN or infinite values")
    if a.dtype.kind == "f" and a.dtype.itemsize > 4 and np.abs(a).max() > np.finfo(np.float32).max:
        raise StartError(f"{name}: the start holds values too large for float32")
    return a.astype(np.float32)
