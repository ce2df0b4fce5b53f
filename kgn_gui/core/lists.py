"""What people type — comma lists (σ levels, ε values, depths, seeds) and single values (whole numbers,
numbers in a range, names, picture sizes) — read one way for ``kgn`` and the window.

``parse_list("0, 0.05; 0.1", float, lo=0)`` → [0.0, 0.05, 0.1]: commas or semicolons between the values,
blanks ignored, every value finite and within [lo, hi], at most ``most`` of them. A bad list is a
:class:`ListError` (a ValueError) of one line that says what was wanted, with an example.
"""

from __future__ import annotations

import math
import re


class ListError(ValueError):
    """A comma list that cannot be read; the message says what was wanted."""


def parse_list(
    text: str,
    kind: type = float,
    *,
    lo: float = -math.inf,
    hi: float = math.inf,
    most: int = 64,
    what: str = "numbers",
    example: str = "0.1,0.3,0.5",
) -> list:
    """The values of a comma list, in the order given (see the module's docstring)."""
    parts = [p.strip() for p in re.split(r"[,;]", str(text)[:10_000]) if p.strip()]
    whole = "whole numbers" if kind is int else "numbers"
    try:
        vals = [kind(p) for p in parts]
    except ValueError:
        raise ListError(f"not a comma list of {whole}: {str(text)[:40]!r} (e.g. {example})") from None
    if not vals:
        raise ListError(f"give one or more {what}, e.g. {example}")
    if len(vals) > most:
        raise ListError(f"at most {most} {what}, not {len(vals)}")
    bad = [v for v in vals if not math.isfinite(v) or not lo <= v <= hi]
    if bad:
        span = f"≥ {lo:g}" if hi == math.inf else f"in {lo:g} … {hi:g}"
        raise ListError(f"{what} must be finite {whole} {span}, not {bad[0]:g} (e.g. {example})")
    return vals


MAX_SIGMA = 10.0  # value units: five times the widest value range (tanh's [−1, 1]); beyond it noise is all there is


def sigmas(text: str) -> list[float]:
    """Basin recovery's corruption levels σ (value units): numbers in [0, MAX_SIGMA], sorted, each once."""
    return sorted(set(parse_list(text, float, lo=0.0, hi=MAX_SIGMA, what="σ levels", example="0,0.05,0.1,0.2")))


def eps_values(text: str) -> list[float]:
    """The ε values of a mixing scan: numbers in [0, MAX_EPS] (a sampler's), in the order given: read with
    the option, so a bad one is said before any work."""
    from .chain.sampler import MAX_EPS

    return parse_list(text, float, lo=0.0, hi=MAX_EPS, what="ε values", example="0,0.01,0.03,0.1")


def depths(text: str) -> list[int]:
    """The depths L of a sweep: whole numbers in 1 … 64."""
    return parse_list(text, int, lo=1, hi=64, what="depths", example="1,2,4,8")


def steps_list(text: str) -> list[int]:
    """Chain steps to measure at (``kgn analyze --over-t``): whole numbers ≥ 0, sorted, each once, at most 32."""
    return sorted(set(parse_list(text, int, lo=0, hi=MAX_INT, most=32, what="steps", example="25,100,300")))


MAX_SEEDS = 16  # seeds of one sweep, search or many-seed analysis


def seeds(text: str, most: int = MAX_SEEDS) -> tuple[int, ...]:
    """Training seeds of a sweep: whole numbers ≥ 0, at most ``most``."""
    return tuple(parse_list(text, int, lo=0, hi=2**63 - 1, most=most, what="seeds", example="0,1,2"))


# -- single values people type (kgn's options, the window's fields): the same one-line errors

MAX_INT = 2**53  # the largest whole number JSON (and so a model file's metadata) keeps exactly


def integer(text: str, lo: int = 0, hi: int = MAX_INT) -> int:
    """A whole number in [lo, hi]."""
    try:
        v = int(text)
    except ValueError:
        raise ListError(f"not an integer: {str(text)[:40]!r}") from None
    if v < lo:
        raise ListError(f"must be ≥ {lo}, got {v}")
    if v > hi:
        raise ListError(f"must be ≤ {hi:,}, got a number of {len(str(v))} digits")
    return v


def number(text: str, lo: float, hi: float, lo_open: bool = False) -> float:
    """A finite number in [lo, hi] ((lo, hi] with ``lo_open``)."""
    try:
        v = float(text)
    except ValueError:
        raise ListError(f"not a number: {str(text)[:40]!r}") from None
    if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo):
        raise ListError(f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {str(text)[:40]}")
    return v


def one_line(text: str, limit: int) -> str:
    """One line of printable text of at most ``limit`` characters (a name)."""
    if len(text) > limit or not text.isprintable():
        raise ListError(f"one line of at most {limit} printable characters")
    return text


def picture_size(text: str) -> tuple[int, int]:
    """ "WIDTHxHEIGHT" (or W×H) → (width, height): whole numbers of pixels, each side 16 … 8192."""
    try:
        w, h = (int(v) for v in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise ListError(f"not WIDTHxHEIGHT: {str(text)[:40]!r} (e.g. 640x480)") from None
    if min(w, h) < 16 or max(w, h) > 8192:
        raise ListError(f"{w}x{h}: each side from 16 to 8192 pixels")
    return w, h
