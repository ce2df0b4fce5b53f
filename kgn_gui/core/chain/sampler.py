"""The sampler: how a chain steps, as one frozen value — noise kind, ε, an ε(t) schedule and damping α.

x_{t+1} = clamp((1 − α)·x_t + α·f(x_t) + ε(t)·n_t, lo, hi), with n_t of the noise kind (core.chain) and ε(t)
either the constant ε or a :class:`Schedule`. :class:`Sampler` is the one contract the CLI's options, the
presets, the window's transport bar, run files, bundles and the public API share: a setting added here is
added everywhere. Its text form (:meth:`Sampler.text`, :meth:`Sampler.parse`) is what ``kgn --sampler``,
the API and copied commands read and write::

    noise=normal,eps=0.01                          the paper's sampler (Sampler.PAPER)
    diverse                                        a preset by name
    diverse,eps=0.02                               a preset with one setting changed
    noise=uniform,eps=0.05,schedule=cosine:0.05:0.005:300,damping=0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

from ..errors import SamplerError

NOISE_KINDS = ("none", "normal", "uniform", "reference", "reference-normal")
SCHEDULE_KINDS = ("constant", "linear", "cosine", "exp")
MAX_SCHEDULE_T = 10_000_000
MAX_EPS = 10.0
# A schedule given without its T runs over the run's steps; where a run has no length (the window's chains
# play on), over this many.
DEFAULT_SCHEDULE_T = 1000


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# -- ε schedules


@dataclass(frozen=True)
class Schedule:
    """ε(t) for the noise added at step t (which makes x_{t+1}); u = min(t, T)/T:

    constant: ε_start · linear: ε_start + (ε_end − ε_start)·u · cosine: ε_end + (ε_start − ε_end)·(1 + cos πu)/2 ·
    exp: ε_start·(ε_end/ε_start)^u (both > 0)."""

    kind: str = "constant"
    start: float = 0.01
    end: float = 0.01
    T: int = 1

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise SamplerError(f"unknown ε schedule {self.kind!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
        for name, v in (("start", self.start), ("end", self.end)):
            if not (_finite(v) and 0.0 <= v <= MAX_EPS):
                raise SamplerError(f"the schedule's ε {name} must be in [0, {MAX_EPS:g}], got {v!r}")
        if not (isinstance(self.T, int) and 1 <= self.T <= MAX_SCHEDULE_T):
            raise SamplerError(
                f"the schedule's T must be a whole number of steps in [1, {MAX_SCHEDULE_T:,}], got {self.T!r}"
            )
        if self.kind == "exp" and (self.start <= 0 or self.end <= 0):
            raise SamplerError("an exponential ε schedule needs ε start and ε end > 0")

    def eps(self, t: int) -> float:
        u = min(max(int(t), 0), self.T) / self.T
        a, b = float(self.start), float(self.end)
        if self.kind == "constant":
            return a
        if self.kind == "linear":
            return a + (b - a) * u
        if self.kind == "cosine":
            return b + (a - b) * (1.0 + math.cos(math.pi * u)) / 2.0
        return a * (b / a) ** u

    def text(self) -> str:
        """The canonical ``KIND:START:END:T`` form (what run files and bundles store)."""
        return f"{self.kind}:{self.start!r}:{self.end!r}:{self.T}"


def default_schedule_T(steps: int | None) -> int:
    """The T of a schedule typed without one: the run's steps, or DEFAULT_SCHEDULE_T for chains with no
    length (the window's)."""
    return DEFAULT_SCHEDULE_T if steps is None else max(1, int(steps))


def parse_schedule(text: str, steps: int | None = None, *, need_T: bool = False) -> Schedule | None:
    """``KIND:START:END[:T]`` (``const`` for constant; a missing T: :func:`default_schedule_T` of ``steps``)
    → a Schedule; an empty text → None (constant ε). need_T: a missing T is an error (a stored schedule always
    names its T). Raises SamplerError with one line."""
    text = str(text or "").strip()
    if not text:
        return None
    parts = text.split(":")
    kind = {"const": "constant", "exponential": "exp", "cos": "cosine"}.get(parts[0].lower(), parts[0].lower())
    if kind not in SCHEDULE_KINDS:
        raise SamplerError(f"unknown ε schedule {parts[0]!r} in {text!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
    if len(parts) not in (3, 4) and not (kind == "constant" and len(parts) == 2):
        raise SamplerError(f"an ε schedule reads KIND:START:END[:T] (e.g. linear:0.05:0.005:1000), not {text!r}")
    try:
        start = float(parts[1])
        end = float(parts[2]) if len(parts) > 2 else start
    except ValueError:
        raise SamplerError(f"the ε of a schedule must be numbers: {text!r}") from None
    if len(parts) == 4:
        try:
            T = int(parts[3])
        except ValueError:
            raise SamplerError(f"the T of a schedule must be a whole number of steps: {text!r}") from None
    elif need_T:
        raise SamplerError(f"give the schedule's T (the steps it runs over): {text}:T")
    else:
        T = default_schedule_T(steps)
    return Schedule(kind, start, end, T)


def check_damping(alpha) -> float:
    if not (_finite(alpha) and 0.0 < alpha <= 1.0):
        raise SamplerError(f"damping α must be in (0, 1] (1: the paper's step), got {alpha!r}")
    return float(alpha)


# -- the sampler


@dataclass(frozen=True)
class Sampler:
    """noise: one of NOISE_KINDS. eps: the noise scale ε in [0, 10] (value units × the range's half-width, see
    core.chain). schedule: ε(t) instead of the constant ε, or None. damping: α in (0, 1] (1: the paper's
    step). Checked when made: a Sampler that exists can be used."""

    noise: str = "normal"
    eps: float = 0.01
    schedule: Schedule | None = None
    damping: float = 1.0

    PAPER: ClassVar[Sampler]
    DIVERSE: ClassVar[Sampler]

    def __post_init__(self) -> None:
        if self.noise not in NOISE_KINDS:
            raise SamplerError(f"unknown noise {self.noise!r}; choose one of {', '.join(NOISE_KINDS)}")
        if not (_finite(self.eps) and 0.0 <= self.eps <= MAX_EPS):
            raise SamplerError(f"ε must be in [0, {MAX_EPS:g}], got {self.eps!r}")
        if self.schedule is not None and not isinstance(self.schedule, Schedule):
            raise SamplerError(f"the ε schedule must be a Schedule, got {type(self.schedule).__name__}")
        check_damping(self.damping)
        object.__setattr__(self, "eps", float(self.eps))
        object.__setattr__(self, "damping", float(self.damping))

    def eps_at(self, t: int) -> float:
        """ε of the noise added at (global) step t."""
        return self.eps if self.schedule is None else self.schedule.eps(t)

    # -- the text form
    def text(self) -> str:
        """``noise=KIND,eps=ε[,schedule=KIND:START:END:T][,damping=α]``: what :meth:`parse` reads back."""
        parts = [f"noise={self.noise}", f"eps={self.eps!r}"]
        if self.schedule is not None:
            parts.append(f"schedule={self.schedule.text()}")
        if self.damping != 1.0:
            parts.append(f"damping={self.damping!r}")
        return ",".join(parts)

    __str__ = text

    @classmethod
    def parse(cls, text: str, steps: int | None = None) -> Sampler:
        """A sampler from its text form: comma-separated ``KEY=VALUE`` settings (noise, eps, schedule,
        damping), the first of which may instead be a preset's name (its settings, then the others on top).
        Settings not given are the paper's. ``steps``: the run's length, the T of a schedule given without
        one. Raises SamplerError with one line."""
        text = str(text or "").strip()
        if not text:
            raise SamplerError(f"an empty sampler: give a preset ({', '.join(PRESETS)}) or noise=…,eps=…")
        if len(text) > 500:
            raise SamplerError(f"a sampler text of {len(text):,} characters is not one (at most 500)")
        items = [s.strip() for s in text.split(",")]
        base = cls.PAPER
        if items and "=" not in items[0]:
            name = items.pop(0)
            if name not in PRESETS:
                raise SamplerError(f"unknown sampler preset {name!r}; choose one of {', '.join(PRESETS)}")
            base = PRESETS[name]
        changes: dict = {}
        for item in items:
            key, sep, value = item.partition("=")
            key = key.strip().lower()
            if not sep or key not in ("noise", "eps", "schedule", "damping"):
                raise SamplerError(
                    f"a sampler setting reads KEY=VALUE with KEY noise, eps, schedule or damping: {item!r}"
                )
            if key in changes:
                raise SamplerError(f"{key} is given twice in {text!r}")
            value = value.strip()
            if key == "noise":
                changes[key] = value
            elif key == "schedule":
                changes[key] = parse_schedule(value, steps)
            else:
                try:
                    changes[key] = float(value)
                except ValueError:
                    raise SamplerError(f"{key} must be a number, got {value!r}") from None
        return replace(base, **changes)

    @classmethod
    def of(cls, text: str | None = None, steps: int | None = None, **settings) -> Sampler:
        """The sampler of a whole text (:meth:`parse`), else of single settings — noise, eps, schedule (its
        text) and damping, each None or missing: the paper's. ``steps``: the T of a schedule without one."""
        if text:
            return cls.parse(text, steps)
        given = {k: v for k, v in settings.items() if v is not None}
        if set(given) - {"noise", "eps", "schedule", "damping"}:
            raise SamplerError(f"unknown sampler settings: {', '.join(sorted(set(given) - set(cls.PAPER.to_dict())))}")
        if "schedule" in given:
            given["schedule"] = parse_schedule(given["schedule"], steps)
        return replace(cls.PAPER, **given)

    # -- the file form (run files, bundles, sample.json): flat fields, as ChainConfig has always written them
    def to_dict(self) -> dict:
        return {
            "noise": self.noise,
            "eps": self.eps,
            "schedule": self.schedule.text() if self.schedule is not None else "",
            "damping": self.damping,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Sampler:
        """The sampler of a file's flat fields (missing ones: the paper's); the schedule text carries its T."""
        paper = cls.PAPER
        return cls(
            noise=d.get("noise", paper.noise),
            eps=d.get("eps", paper.eps),
            schedule=parse_schedule(d.get("schedule", ""), need_T=True),
            damping=d.get("damping", paper.damping),
        )


Sampler.PAPER = Sampler()
# The sampler search's best row (docs/sampler_search.md, bench/sampler_search.py).
Sampler.DIVERSE = Sampler(damping=0.1)

# Named samplers, in kgn (--preset) and the window (Lab → Sampler), with what each one is.
PRESETS: dict[str, Sampler] = {"paper": Sampler.PAPER, "diverse": Sampler.DIVERSE}
PRESET_ABOUT = {
    "paper": "The published sampler: normal noise, ε 0.01, the full step",
    "diverse": "The sampler search's best: damping 0.1 keeps more classes at no lower precision (class entropy "
    "0.82 at step 1,000 against the paper's 0.64; docs/sampler_search.md)",
}
