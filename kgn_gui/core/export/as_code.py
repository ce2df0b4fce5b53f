"""A run as text: the ``kgn sample`` command line and the Python snippet over the public API that reproduce its
states exactly (no Qt). The window's Edit → Copy as kgn command / Copy as Python call these; a test runs the
copied text and compares its states with the window's, bit for bit.

What a run is made of, and how each part is written:

* the model — its file (a model whose weights are in no file has no text form: save it first);
* the start — ``uniform``, ``normal``, ``data:SOURCE#INDEX`` (with ``--sigma`` / ``--mask``) or a .npy file;
  a painting has no text form;
* the chains and the seed — ``-n``, ``--seed``;
* the sampler — ``--sampler TEXT``, and each later change ``--sampler-from STEP:TEXT``;
* the condition — ``--condition data:SOURCE#INDEX --known REGION`` (a region or a mask file);
* the edits (brush, erase, kick) — ``--edits JSON``, the list a result's sample.json records;
* the step shown — ``--steps``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ..chain.lab import KNOWN_REGIONS, Edit, Lab
from ..chain.sampler import Sampler
from ..chain.start import Start
from ..errors import LabError

EDITS_TEXT_MAX = 200_000  # characters of --edits JSON on a command line (a few hundred brush strokes)


class CodeError(LabError):
    """A run that has no text form (one line, saying what to do instead)."""


@dataclass(frozen=True)
class RunText:
    """What reproduces a run's states: each part in the form ``kgn sample`` and ``kgn_gui.sample`` take."""

    model: str
    n: int
    seed: int
    start: str  # --start
    sigma: float
    mask: int
    samplers: tuple[tuple[int, str], ...]  # (from step, the sampler's text); the first from step 0
    condition: tuple[str, str] | None  # (--condition, --known)
    edits: tuple[dict, ...]
    steps: int

    def command(self, output: str = "kgn-sample") -> str:
        """The ``kgn sample`` command line (POSIX shell quoting)."""
        q = shlex.quote
        parts = [
            "kgn",
            "sample",
            q(self.model),
            "-n",
            str(self.n),
            "--seed",
            str(self.seed),
            "--steps",
            str(self.steps),
        ]
        if self.start != "uniform":
            parts += ["--start", q(self.start)]
        if self.sigma:
            parts += ["--sigma", repr(self.sigma)]
        if self.mask:
            parts += ["--mask", str(self.mask)]
        parts += ["--sampler", q(self.samplers[0][1])]
        for t, text in self.samplers[1:]:
            parts += ["--sampler-from", q(f"{t}:{text}")]
        if self.condition is not None:
            parts += ["--condition", q(self.condition[0]), "--known", q(self.condition[1])]
        if self.edits:
            text = json.dumps(list(self.edits), separators=(",", ":"))
            if len(text) > EDITS_TEXT_MAX:
                raise CodeError(
                    f"the edits take {len(text):,} characters, too long for a command line: copy as Python, or "
                    "save a run bundle (kgn sample --bundle reproduces it)"
                )
            parts += ["--edits", q(text)]
        parts += ["-o", q(output)]
        return " ".join(parts)

    def python(self) -> str:
        """A snippet over the public API (``import kgn_gui as kgn``); ``run.state(steps)`` is the shown step."""
        args = [repr(self.model), f"n={self.n}", f"steps={self.steps}", f"seed={self.seed}"]
        args.append(f"sampler={self.samplers[0][1]!r}")
        if self.start != "uniform" or self.sigma or self.mask:
            args.append(f"start={self.start!r}")
        if self.sigma:
            args.append(f"sigma={self.sigma!r}")
        if self.mask:
            args.append(f"mask={self.mask}")
        if self.condition is not None:
            args += [f"condition={self.condition[0]!r}", f"known={self.condition[1]!r}"]
        if len(self.samplers) > 1:
            args.append(f"sampler_from={[(t, s) for t, s in self.samplers[1:]]!r}")
        if self.edits:
            args.append(f"edits={list(self.edits)!r}")
        lines = ["import kgn_gui as kgn", "", "run = kgn.sample("]
        lines += [f"    {a}," for a in args]
        lines += [")", f"x = run.state({self.steps})  # the states at step {self.steps}: {self.n} × D"]
        return "\n".join(lines) + "\n"


def start_text(start: Start) -> str:
    """The ``--start`` of a Start (CodeError for a painting or an array from no file)."""
    if start.kind in ("uniform", "normal"):
        return start.kind
    if start.kind == "data" and start.source and "#" in start.source:
        return f"data:{start.source}"
    if start.kind == "array" and start.source and start.source.endswith(".npy"):
        return start.source
    what = "a painted start" if start.kind == "painted" else f"a start from {start.source or 'an array'}"
    raise CodeError(
        f"{what} has no text form: save a run bundle instead (File → Save run bundle; kgn sample --bundle "
        "reproduces it)"
    )


def run_text(
    model: str | None,
    start: Start,
    samplers: list[tuple[int, Sampler]],
    lab: Lab,
    steps: int,
    n: int | None = None,
    seed: int | None = None,
) -> RunText:
    """The text form of the chains of ``model`` (a file; None: weights in no file) from ``start``, stepped by
    ``samplers`` ((from step, Sampler), the first from 0), with ``lab``'s condition and edits, to ``steps``."""
    if not model:
        raise CodeError("the model's weights are in no file: save the model first (File → Save model as…)")
    if not samplers or samplers[0][0] != 0:
        raise CodeError("a run's first sampler steps from step 0")
    cond = None
    c = lab.condition
    if c is not None:
        if "#" not in (c.source or "") or c.region not in KNOWN_REGIONS:
            raise CodeError(
                f"a condition from {c.source or 'a painting'} with {c.region or 'a mask'} has no text form: save a "
                "run bundle instead (File → Save run bundle)"
            )
        cond = (f"data:{c.source}", c.region)
    edits = tuple(e.to_dict() for e in lab.all_edits() if e.t <= steps)
    return RunText(
        model=str(model),
        n=int(start.n if n is None else n),
        seed=int(start.seed if seed is None else seed),
        start=start_text(start),
        sigma=float(start.sigma),
        mask=int(start.mask),
        samplers=tuple((int(t), s.text()) for t, s in samplers if t <= steps or t == 0),
        condition=cond,
        edits=edits,
        steps=int(steps),
    )


def parse_sampler_from(text: str, steps: int | None = None) -> tuple[int, Sampler]:
    """``--sampler-from STEP:TEXT`` → (step, Sampler). Raises CodeError with one line."""
    head, sep, body = str(text).partition(":")
    try:
        t = int(head)
    except ValueError:
        t = -1
    if not sep or t < 1:
        raise CodeError(
            f"--sampler-from reads STEP:SAMPLER with STEP ≥ 1 (e.g. 40:noise=uniform,eps=0.05), not {text!r}"
        )
    return t, Sampler.parse(body, steps=steps)


def parse_edits(text: str) -> list[Edit]:
    """``--edits JSON``: a JSON list of edits as a result's sample.json records them (lab.edits)."""
    from ..jsonsafe import JSONError, loads_bounded

    if len(str(text)) > 8 * EDITS_TEXT_MAX:
        raise CodeError(f"--edits: {len(str(text)):,} characters is too long")
    try:
        items = loads_bounded(str(text))
    except (JSONError, ValueError) as e:
        raise CodeError(f"--edits is not JSON: {str(e)[:120]}") from None
    if not isinstance(items, list):
        raise CodeError("--edits must be a JSON list of edits (as sample.json's lab.edits)")
    return [Edit.from_dict(d) for d in items]


@dataclass(frozen=True)
class LogEntry:
    """One run of a session log: when it began, what it was (``64 chains of mnist to step 85``), and its
    text form (None with ``why`` when it has none)."""

    when: str
    what: str
    text: RunText | None
    why: str = ""


def session_log(entries: list[LogEntry], form: str = "command") -> str:
    """The runs of a window session, oldest first, as a shell script of ``kgn sample`` lines (``form``
    "command", each run into its own folder run-K) or as one Python file (``form`` "python")."""
    py = form == "python"
    head = "# Kaleidoscope Studio session log: each run of the window, in the order it was made"
    lines = [head, ""] if py else ["#!/bin/sh", head, "set -e", ""]
    if py:
        lines += ["import kgn_gui as kgn", ""]
    for k, e in enumerate(entries, 1):
        lines.append(f"# run {k}, {e.when}: {e.what}")
        if e.text is None:
            lines += [f"# (no text form: {e.why})", ""]
            continue
        if py:
            body = e.text.python().split("\n")[2:]  # without the import
            body = [b.replace("run = ", f"run{k} = ", 1).replace("x = run.", f"x{k} = run{k}.", 1) for b in body]
            lines += [b for b in body if b] + [""]
        else:
            try:
                lines += [e.text.command(output=f"run-{k}"), ""]
            except CodeError as err:
                lines += [f"# (no command line: {err})", ""]
    return "\n".join(lines)
