"""The sampling lab: what a chain may do beyond the paper's single loop (issue 20).

Every feature here keeps the chain a pure function of (model, start, settings, seed, t), so a scrubbed,
replayed, exported or bundled chain gives the same states bit for bit:

* the sampler's settings — a **noise schedule** ε(t) and **damping** α — are one value, ``core.sampler.Sampler``;
* a **condition** (:class:`Condition`): a known image and a known-pixel mask; after every step (and on the
  start) the known pixels are reset to the known image, so the chain fills in the rest (inpainting, as the
  denoising-autoencoder chains of Bengio et al. 2013 do);
* **live edits** (:class:`Edit`): brush, erase or kick (add noise of σ to) some chains' pixels at a step; an
  edit at step t changes x_t itself, so the state shown at t is the edited one and every later step follows;
* **branching** (:func:`branch_seeds`, :func:`divergence`): K copies of a state that differ only in their
  noise seeds (each row draws its own noise), and how far apart they drift.

The order within a step: f, damping, noise, clamp, then the edits of the new step, then the condition (known
pixels always equal the known image, an edit cannot move them). ``core.chain.Chain`` applies it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import LabError
from .seeds import MAX_BRANCHES, _seed, branch_seeds

__all__ = ["Condition", "Edit", "Lab", "LabError", "branch_seeds", "divergence", "parse_branch", "parse_condition"]

KNOWN_REGIONS = ("top", "bottom", "left", "right")
EDIT_KINDS = ("brush", "erase", "kick")
MAX_EDITS = 100_000


# -- conditions (inpainting)


def region_mask(region: str, shape: tuple[int, ...]) -> np.ndarray:
    """The known-pixel mask (D bools) of a half of an image: ``top``, ``bottom``, ``left`` or ``right``."""
    if region not in KNOWN_REGIONS:
        raise LabError(f"unknown known region {region!r}; choose one of {', '.join(KNOWN_REGIONS)} or a mask image")
    if len(shape) != 3:
        raise LabError("a known half needs an image model; give a mask file (.npy) for other data")
    C, H, W = shape
    m = np.zeros((C, H, W), dtype=bool)
    if region == "top":
        m[:, : H // 2] = True
    elif region == "bottom":
        m[:, H - H // 2 :] = True
    elif region == "left":
        m[:, :, : W // 2] = True
    else:
        m[:, :, W - W // 2 :] = True
    return m.reshape(-1)


def load_mask(path: str | os.PathLike, shape: tuple[int, ...]) -> np.ndarray:
    """A known-pixel mask from a file: an image (known where it is brighter than mid-grey; resized to the
    model's H×W, one mask for every channel) or a .npy of D numbers (known where non-zero)."""
    from ..data.images import load_image
    from ..errors import DataError, StartError
    from .start import load_start_array

    p = Path(path)
    D = int(np.prod(shape))
    if p.suffix.lower() == ".npy":
        try:
            a = load_start_array(p)
        except StartError as e:
            raise LabError(str(e)) from None
        if a.size != D:
            raise LabError(f"{p.name}: a mask has one value per state value ({D}), this one has {a.size}")
        m = a.reshape(-1) != 0
    else:
        grey = (1,) + tuple(shape[1:]) if len(shape) == 3 else shape
        try:
            u = load_image(p, grey, (0.0, 1.0))
        except DataError as e:
            raise LabError(str(e)) from None
        m = np.tile(u > 0.5, shape[0]) if len(shape) == 3 else u > 0.5
    if not m.any():
        raise LabError(f"{p.name}: the mask marks no known pixel (white = known)")
    return m


@dataclass(frozen=True, eq=False)
class Condition:
    """known: the known image (D float32, in the model's value range), or one per chain (N×D: each chain
    completes its own image, as the class-match measure does). mask: D bools, True where known. source and
    region say where they came from (``mnist:test#3``, ``top``), for descriptions and files."""

    known: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    source: str = ""
    region: str = ""

    def __post_init__(self) -> None:
        known = np.asarray(self.known, dtype=np.float32)
        mask = np.asarray(self.mask).reshape(-1).astype(bool)
        known = np.ascontiguousarray(known if known.ndim == 2 else known.reshape(-1))
        if known.shape[-1] != mask.size or known.ndim == 2 and known.shape[0] < 1:
            raise LabError(f"the known image has {known.shape[-1]} values but the mask {mask.size}")
        if not np.isfinite(known).all():
            raise LabError("the known image contains NaN or infinite values")
        if not mask.any():
            raise LabError("the mask marks no known pixel")
        object.__setattr__(self, "known", known)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "_index", np.flatnonzero(mask))
        object.__setattr__(self, "_cache", {})

    @property
    def D(self) -> int:
        return int(self.known.shape[-1])

    @property
    def rows(self) -> int | None:
        """The chains it is made for (one known image each), or None: one image for every chain."""
        return int(self.known.shape[0]) if self.known.ndim == 2 else None

    @property
    def fraction(self) -> float:
        return float(self.mask.mean())

    def _on(self, device):
        import torch

        key = str(device)
        if key not in self._cache:
            idx = torch.from_numpy(self._index).to(device)
            self._cache[key] = (idx, torch.from_numpy(np.ascontiguousarray(self.known[..., self._index])).to(device))
        return self._cache[key]

    def apply_(self, x):
        """Reset the known pixels of every chain of the N×D tensor x to the known image (in place)."""
        idx, vals = self._on(x.device)
        x[:, idx] = vals
        return x

    def to_dict(self) -> dict:
        return {"source": self.source, "region": self.region}

    def to_array(self) -> np.ndarray:
        """The known image (or one per chain) and, last, the mask (1 where known) as one float32 array of 2×D
        (or (N + 1)×D): a bundle's condition.npy."""
        return np.vstack([self.known.reshape(-1, self.D), self.mask.astype(np.float32)[None]])

    @classmethod
    def from_array(cls, a: np.ndarray, source: str = "", region: str = "") -> Condition:
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[0] < 2:
            raise LabError(f"a condition array is 2×D (the known image, the mask) or (N + 1)×D, not {a.shape}")
        if not np.isin(a[-1], (0.0, 1.0)).all():
            raise LabError("a condition's mask row must hold only 0 and 1")
        known = a[0] if a.shape[0] == 2 else a[:-1]
        return cls(known, a[-1] != 0, source=str(source)[:200], region=str(region)[:200])


def parse_condition(
    condition: str, known: str, shape: tuple[int, ...], value_range: tuple[float, float], *, open_source=None
) -> Condition:
    """``--condition`` (``data:SOURCE#INDEX``, a .npy state or an image file) and ``--known`` (top, bottom,
    left, right or a mask file) → a Condition. Raises LabError (or the data loader's DataError), one line."""
    from ..data.images import load_image
    from .start import parse_start

    condition, known = str(condition).strip(), str(known or "").strip()
    if not known:
        raise LabError("--condition needs --known: top, bottom, left, right or a mask file")
    D = int(np.prod(shape))
    p = Path(condition)
    if condition.startswith("data:") or p.suffix.lower() == ".npy":
        st = parse_start(condition, value_range, n=1, open_source=open_source)
        img, source = st.array.reshape(-1), st.source or condition
    elif p.exists():
        img, source = load_image(p, shape, value_range), p.name
    else:
        raise LabError(f"--condition must be data:SOURCE#INDEX, a .npy state or an image file, not {condition!r}")
    if img.size != D:
        raise LabError(f"the known image has {img.size} values but the model expects {D}")
    lo, hi = value_range
    img = np.clip(img, lo, hi)
    if known not in KNOWN_REGIONS and not Path(known).exists():
        raise LabError(f"unknown known region {known!r}: give top, bottom, left, right or a mask file")
    mask = region_mask(known, shape) if known in KNOWN_REGIONS else load_mask(known, shape)
    return Condition(img, mask, source=source, region=known if known in KNOWN_REGIONS else Path(known).name)


def condition_of(
    condition: str | None, known: str | None, shape: tuple[int, ...], value_range: tuple[float, float], **kw
) -> Condition | None:
    """:func:`parse_condition` of ``--condition`` / ``--known`` (kgn's and the API's), or None when neither
    is given."""
    if not condition:
        if known:
            raise LabError("--known needs --condition (the known image: data:SOURCE#INDEX, a .npy or an image)")
        return None
    return parse_condition(condition, known, shape, value_range, **kw)


def condition_files(condition: str | None, known: str | None) -> list[Path]:
    """The files ``--condition`` and ``--known`` read (an output must be none of them)."""
    from ..files import existing_paths
    from .start import start_files

    return [*start_files(condition), *([] if known in KNOWN_REGIONS else existing_paths(known))]


# -- live edits


@dataclass(frozen=True, eq=False)
class Edit:
    """An edit of chains ``rows`` at step ``t``: ``brush`` sets ``pixels`` to ``value`` (default: the top of
    the value range), ``erase`` to the bottom, ``kick`` adds N(0, σ²) noise (seeded by ``seed``) to them;
    pixels None: the whole state. Applied to x_t, so the state shown at t is the edited one."""

    t: int
    kind: str
    rows: tuple[int, ...]
    pixels: tuple[int, ...] | None = None
    value: float | None = None
    sigma: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in EDIT_KINDS:
            raise LabError(f"unknown edit {self.kind!r}; choose one of {', '.join(EDIT_KINDS)}")
        if not (isinstance(self.t, int) and 0 <= self.t):
            raise LabError(f"an edit's step must be a whole number ≥ 0, got {self.t!r}")
        # Sorted and unique: a hostile list of one row repeated millions of times is one row, not millions of
        # index entries (and a CUDA scatter with repeated indices would not be deterministic).
        rows = tuple(sorted({int(r) for r in self.rows}))
        if not rows or min(rows) < 0:
            raise LabError("an edit needs the chains it changes (rows ≥ 0)")
        object.__setattr__(self, "rows", rows)
        if self.pixels is not None:
            px = tuple(sorted({int(p) for p in self.pixels}))
            if not px or min(px) < 0:
                raise LabError("an edit's pixels must be indices ≥ 0")
            object.__setattr__(self, "pixels", px)
        if self.kind == "kick" and not (math.isfinite(self.sigma) and 0.0 < self.sigma <= 10.0):
            raise LabError(f"a kick's σ must be in (0, 10], got {self.sigma!r}")
        if self.value is not None and not math.isfinite(self.value):
            raise LabError("a brush value must be a finite number")

    def check(self, n: int, D: int) -> None:
        if max(self.rows) >= n:
            raise LabError(f"the edit at step {self.t} changes chain {max(self.rows)}, but there are {n} chains")
        if self.pixels is not None and max(self.pixels) >= D:
            raise LabError(f"the edit at step {self.t} changes value {max(self.pixels)}, but a state has {D}")

    def apply_(self, x, value_range: tuple[float, float]):
        """Apply to the N×D tensor x in place (x is the chain's own new state, never a stored one)."""
        import torch

        lo, hi = value_range
        rows = torch.tensor(self.rows, dtype=torch.long, device=x.device)
        cols = (
            torch.arange(x.shape[1], device=x.device)
            if self.pixels is None
            else torch.tensor(self.pixels, dtype=torch.long, device=x.device)
        )
        r, c = rows[:, None], cols[None, :]
        if self.kind == "kick":
            g = torch.Generator(device="cpu")
            g.manual_seed(_seed(self.seed, 2, self.t))
            n = torch.randn((len(rows), len(cols)), generator=g).to(x.device)
            x[r, c] = (x[r, c] + n * float(self.sigma)).clamp_(lo, hi)
        else:
            v = (hi if self.value is None else min(max(float(self.value), lo), hi)) if self.kind == "brush" else lo
            x[r, c] = v
        return x

    def to_dict(self) -> dict:
        d = {"t": self.t, "kind": self.kind, "rows": list(self.rows)}
        if self.pixels is not None:
            d["pixels"] = list(self.pixels)
        if self.value is not None:
            d["value"] = self.value
        if self.kind == "kick":
            d["sigma"], d["seed"] = self.sigma, self.seed
        return d

    @classmethod
    def from_dict(cls, d) -> Edit:
        if not isinstance(d, dict):
            raise LabError("an edit must be a JSON object")
        extra = set(d) - {"t", "kind", "rows", "pixels", "value", "sigma", "seed"}
        if extra:
            raise LabError(f"an edit has unknown fields: {', '.join(sorted(map(str, extra)))[:80]}")

        def ints(v, what):
            if (
                not isinstance(v, list)
                or len(v) > 1 << 24
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in v)
            ):
                raise LabError(f"an edit's {what} must be a list of whole numbers")
            return tuple(v)

        t, kind = d.get("t"), d.get("kind")
        if not isinstance(t, int) or isinstance(t, bool) or not isinstance(kind, str):
            raise LabError("an edit needs a whole-number t and a kind")
        num = (int, float)
        for k in ("value", "sigma"):
            if k in d and (not isinstance(d[k], num) or isinstance(d[k], bool)):
                raise LabError(f"an edit's {k} must be a number")
        seed = d.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise LabError("an edit's seed must be a whole number in [0, 2^63)")
        return cls(
            t=t,
            kind=kind,
            rows=ints(d.get("rows"), "rows"),
            pixels=ints(d["pixels"], "pixels") if "pixels" in d else None,
            value=float(d["value"]) if "value" in d else None,
            sigma=float(d.get("sigma", 0.0)),
            seed=seed,
        )


def brush_pixels(shape: tuple[int, ...], cy: float, cx: float, radius: float) -> tuple[int, ...]:
    """The state indices within ``radius`` pixels of (cy, cx) on an image of ``shape`` (every channel)."""
    if len(shape) != 3:
        raise LabError("a brush needs an image model")
    C, H, W = shape
    yy, xx = np.mgrid[0:H, 0:W]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= max(radius, 0.5) ** 2
    return tuple(int(i) for i in np.flatnonzero(np.tile(inside.reshape(-1), C)))


# -- the lab: a condition and the edits, beside the ChainConfig's scalars


class Lab:
    """What a chain carries beyond its ChainConfig: a Condition (or None) and the live edits by step.

    A session owns one Lab and changes it only under its lock (``add_edit`` is followed by a truncation of
    the history after the edit's step); every Chain of the session reads it."""

    def __init__(self, condition: Condition | None = None, edits=()):
        self.condition = condition
        self.edits: dict[int, list[Edit]] = {}
        for e in edits:
            self.add(e)

    def add(self, edit: Edit) -> None:
        if sum(len(v) for v in self.edits.values()) >= MAX_EDITS:
            raise LabError(f"at most {MAX_EDITS:,} edits in one run")
        self.edits.setdefault(edit.t, []).append(edit)

    def drop_after(self, t: int) -> None:
        """Forget the edits after step t (their steps are being recomputed differently)."""
        self.edits = {k: v for k, v in self.edits.items() if k <= t}

    def all_edits(self) -> list[Edit]:
        return [e for t in sorted(self.edits) for e in self.edits[t]]

    def check(self, n: int, D: int) -> None:
        c = self.condition
        if c is not None and c.D != D:
            raise LabError(f"the condition's image has {c.D} values but the model expects {D}")
        if c is not None and c.rows is not None and c.rows != n:
            raise LabError(f"the condition has {c.rows} known images for {n} chains")
        for e in self.all_edits():
            e.check(n, D)

    def finish_(self, x, t: int, value_range: tuple[float, float]):
        """The edits of step t, then the condition, on the new state x (in place)."""
        for e in self.edits.get(t, ()):
            e.apply_(x, value_range)
        if self.condition is not None:
            self.condition.apply_(x)
        return x

    @property
    def empty(self) -> bool:
        return self.condition is None and not self.edits

    def copy(self) -> Lab:
        """A snapshot (an export in progress does not see the edits made after it began)."""
        return Lab(self.condition, self.all_edits())

    @classmethod
    def from_dict(cls, d, known: np.ndarray | None = None) -> Lab:
        """The Lab of :meth:`to_dict`'s ``d`` (untrusted: every field checked, LabError), with ``known`` the
        condition's 2×D array (:meth:`Condition.to_array`) when ``d`` has a condition."""
        if not isinstance(d, dict) or set(d) - {"condition", "edits"}:
            raise LabError("lab must be a JSON object with condition and edits")
        cond, edits = d.get("condition"), d.get("edits", [])
        if not isinstance(edits, list) or len(edits) > MAX_EDITS:
            raise LabError(f"lab.edits must be a list of at most {MAX_EDITS:,} edits")
        condition = None
        if cond is not None:
            if not isinstance(cond, dict) or not all(isinstance(cond.get(k, ""), str) for k in ("source", "region")):
                raise LabError("lab.condition must be an object with text source and region")
            if known is None:
                raise LabError("lab.condition is set, but there is no condition array")
            condition = Condition.from_array(known, cond.get("source", ""), cond.get("region", ""))
        elif known is not None:
            raise LabError("a condition array without lab.condition")
        return cls(condition, [Edit.from_dict(e) for e in edits])

    def to_dict(self) -> dict:
        return {
            "condition": None if self.condition is None else self.condition.to_dict(),
            "edits": [e.to_dict() for e in self.all_edits()],
        }


# -- branching


def parse_branch(text: str) -> tuple[int, int]:
    """``STEP:K`` → (step, K)."""
    try:
        step, K = (int(v) for v in str(text).split(":"))
    except ValueError:
        raise LabError(f"--branch reads STEP:K (e.g. 100:8), not {text!r}") from None
    if step < 0:
        raise LabError("the branch step must be ≥ 0")
    if not 2 <= K <= MAX_BRANCHES:
        raise LabError(f"branches K must be in [2, {MAX_BRANCHES}], got {K}")
    return step, K


def divergence(x: np.ndarray, K: int) -> float:
    """Mean pairwise RMS distance between the K branches of each chain (rows i·K + k), averaged over chains."""
    if K < 2:
        return 0.0
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0] // K
    b = x[: n * K].reshape(n, K, -1)
    pairs = [np.sqrt(((b[:, j] - b[:, k]) ** 2).mean(-1)) for j in range(K) for k in range(j + 1, K)]
    return float(np.mean(pairs))


# -- settling after an edit


def settle_time(step_sizes: np.ndarray, t_edit: int, tol: float, hold: int = 5) -> int | None:
    """Steps from an edit at ``t_edit`` until the chain has settled again: the first s ≥ 1 such that the step
    sizes at t_edit + s … t_edit + s + hold − 1 (step size at t: RMS of x_{t+1} − x_t) are all below ``tol``;
    None when that has not happened within the steps recorded."""
    y = np.asarray(step_sizes, dtype=np.float64)
    for s in range(1, max(0, len(y) - t_edit - hold + 1)):
        if (y[t_edit + s : t_edit + s + hold] < tol).all():
            return s
    return None
