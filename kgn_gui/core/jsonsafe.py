"""JSON from files that may be hostile, and JSON that other programs can read.

:func:`loads_bounded` parses a document whose nesting depth and number sizes are bounded *before* the
parser can recurse or build a huge integer: a header of a million ``[`` or a number of 100,000 digits is
one :class:`JSONError` (a ``ValueError``) with a one-line message, never a ``RecursionError`` or a long
conversion. :func:`dumps_strict` writes strict JSON: non-finite numbers (NaN, ±Infinity, which Python's
``json`` writes as bare tokens no other parser accepts) become ``null``; numpy scalars and arrays become
numbers and lists.

Used by every reader of the app's JSON: model metadata (``checkpoint``), run bundles (``bundle``),
recovery files (``recovery``), and by ``kgn info --json`` / ``kgn analyze --json``.
"""

from __future__ import annotations

import json
import math
import re

MAX_DEPTH = 32  # the app's own documents nest at most 4 deep
MAX_NUMBER_CHARS = 40  # a 63-bit seed has 19 digits; a float's repr at most 24 characters
MAX_CONTAINERS = 1_000_000  # arrays + objects in one document (a model header has about 3 per tensor)

# A JSON string (opening quote to closing quote, escapes skipped), or an unterminated one to the end: the
# closing quote is optional, so the pattern never fails once started and never backtracks (linear time).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")


class JSONError(ValueError):
    """A document that is not JSON, or exceeds the bounds; the message says which (one line)."""


def _check_nesting(raw: bytes, max_depth: int) -> None:
    """Refuse documents nested deeper than ``max_depth`` before the parser sees them (so it cannot recurse
    deeply): the brackets outside strings, all made ``[ ]`` (whether they match is the parser's business),
    lose their innermost pairs once per pass — one level a pass, so the passes count the depth."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    s = _STRING.sub(b"", raw).translate(_SQUARE, _NOT_BRACKETS)
    if s.count(b"[") > MAX_CONTAINERS:  # parsing them would take seconds
        raise JSONError(f"JSON with more than {MAX_CONTAINERS:,} arrays and objects")
    for _ in range(max_depth):
        t = s.replace(b"[]", b"")
        if len(t) == len(s):
            break
        s = t
    if s:
        if b"[]" in s:
            raise JSONError(f"JSON nested deeper than {max_depth} levels")
        raise JSONError("not valid JSON: unbalanced brackets")


def loads_bounded(
    text: str | bytes | bytearray,
    max_depth: int = MAX_DEPTH,
    max_number_digits: int = MAX_NUMBER_CHARS,
):
    """``json.loads`` for untrusted text: at most ``max_depth`` levels of arrays / objects and numbers of at
    most ``max_number_digits`` characters (sign, point and exponent included). NaN and ±Infinity are read as
    floats (Python writes them). Raises JSONError (one line) for anything else. Linear time: the checks are
    made on the bytes before parsing."""
    if isinstance(text, str):
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(text)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JSONError("not valid JSON: not UTF-8 text") from None
    _check_nesting(raw, max_depth)

    def number(kind):
        def parse(s: str):
            if len(s) > max_number_digits:
                raise JSONError(f"a number of {len(s):,} characters (at most {max_number_digits})")
            return kind(s)

        return parse

    try:
        obj = json.loads(text, parse_int=number(int), parse_float=number(float), parse_constant=float)
    except JSONError:
        raise
    except json.JSONDecodeError as e:
        raise JSONError(f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except (ValueError, RecursionError) as e:  # not expected after the checks above; still one line
        raise JSONError(f"not valid JSON: {type(e).__name__}") from None
    return obj


def _strict(o, default):
    if isinstance(o, float):  # numpy float64 too
        return float(o) if math.isfinite(o) else None
    if o is None or isinstance(o, (str, int, bool)):
        return o
    if isinstance(o, dict):
        return {k: _strict(v, default) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v, default) for v in o]
    import numpy as np

    if isinstance(o, np.generic):
        return _strict(o.item(), default)
    if isinstance(o, np.ndarray):
        return _strict(o.tolist(), default)
    if default is not None:
        return _strict(default(o), default)
    return o  # json.dumps raises its own TypeError for it


def dumps_strict(obj, *, default=None, **kwargs) -> str:
    """``json.dumps`` that always writes strict JSON: NaN and ±Infinity become ``null``; numpy scalars and
    arrays become numbers and lists; ``default`` converts other objects (its result is cleaned too)."""
    return json.dumps(_strict(obj, default), allow_nan=False, **kwargs)
