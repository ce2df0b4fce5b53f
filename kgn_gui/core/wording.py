"""Counted words in the texts people read: "1 step", "2 steps", "1,250 samples"; a leaf (imports nothing)."""

from __future__ import annotations


def count(n: int, word: str, plural: str | None = None, *, commas: bool = True) -> str:
    """``n`` and ``word``, singular for exactly one, else ``plural`` (default: ``word`` + "s"); thousands
    separated by commas unless ``commas`` is False."""
    num = f"{n:,}" if commas else str(n)
    return f"{num} {word if n == 1 else (plural or word + 's')}"
