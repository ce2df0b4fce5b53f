"""The sampler search of issue 20: which sampler settings give MNIST samples of every class?

    python -m bench.sampler_search [--model models/mnist.safetensors] [--n 256] [--out docs/sampler_search.md]

Each row is one ``kgn analyze`` run (the command is in the table, and reproduces the row), one trial of an
experiment engine (``--engine local --workers N`` or ``--engine ray``; ``kgn search`` runs a grid of samplers
× seeds the same way): class entropy
(normalised by log 10; real digits ≈ 0.99), precision, recall and KID of the final states against the bundled
MNIST test digits, with bootstrap 95 % intervals. The target: class entropy ≥ 0.95 at a precision no lower than
the paper sampler's (normal noise, ε = 0.01). Rows are written as they finish (the table is always whole).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (label, extra kgn options): the paper's sampler first (the baseline), then noise, schedules and damping.
GRID = [
    ("paper: normal ε 0.01", ["--noise", "normal", "--eps", "0.01"]),
    ("normal ε 0.05", ["--noise", "normal", "--eps", "0.05"]),
    ("normal ε 0.1", ["--noise", "normal", "--eps", "0.1"]),
    ("normal ε 0.2", ["--noise", "normal", "--eps", "0.2"]),
    ("uniform ε 0.1", ["--noise", "uniform", "--eps", "0.1"]),
    ("linear 0.3 → 0.01", ["--noise", "normal", "--eps-schedule", "linear:0.3:0.01"]),
    ("cosine 0.3 → 0.01", ["--noise", "normal", "--eps-schedule", "cosine:0.3:0.01"]),
    ("exp 0.3 → 0.005", ["--noise", "normal", "--eps-schedule", "exp:0.3:0.005"]),
    ("cosine 0.5 → 0.01", ["--noise", "normal", "--eps-schedule", "cosine:0.5:0.01"]),
    ("damping 0.5, ε 0.01", ["--noise", "normal", "--eps", "0.01", "--damping", "0.5"]),
    ("damping 0.5, ε 0.1", ["--noise", "normal", "--eps", "0.1", "--damping", "0.5"]),
    ("damping 0.3, cosine 0.3 → 0.01", ["--noise", "normal", "--eps-schedule", "cosine:0.3:0.01", "--damping", "0.3"]),
    ("damping 0.5, cosine 0.5 → 0.01", ["--noise", "normal", "--eps-schedule", "cosine:0.5:0.01", "--damping", "0.5"]),
    ("uniform, cosine 0.5 → 0.01", ["--noise", "uniform", "--eps-schedule", "cosine:0.5:0.01"]),
    ("damping 0.3, ε 0.01", ["--noise", "normal", "--eps", "0.01", "--damping", "0.3"]),
    ("damping 0.2, ε 0.01", ["--noise", "normal", "--eps", "0.01", "--damping", "0.2"]),
    ("damping 0.1, ε 0.01", ["--noise", "normal", "--eps", "0.01", "--damping", "0.1"]),
    ("damping 0.3, ε 0.05", ["--noise", "normal", "--eps", "0.05", "--damping", "0.3"]),
    ("damping 0.2, ε 0.03", ["--noise", "normal", "--eps", "0.03", "--damping", "0.2"]),
    ("damping 0.2, ε 0.01, 1,000 steps", ["--noise", "normal", "--eps", "0.01", "--damping", "0.2", "--steps", "1000"]),
    ("damping 0.2, cosine 0.3 → 0.01", ["--noise", "normal", "--eps-schedule", "cosine:0.3:0.01", "--damping", "0.2"]),
    ("damping 0.1, cosine 0.3 → 0.01", ["--noise", "normal", "--eps-schedule", "cosine:0.3:0.01", "--damping", "0.1"]),
    ("damping 0.3, cosine 0.5 → 0.01", ["--noise", "normal", "--eps-schedule", "cosine:0.5:0.01", "--damping", "0.3"]),
    (
        "damping 0.3, cosine 0.3 → 0.01, 1,000 steps",
        ["--noise", "normal", "--eps-schedule", "cosine:0.3:0.01", "--damping", "0.3", "--steps", "1000"],
    ),
    ("damping 0.3, ε 0.05, 1,000 steps", ["--noise", "normal", "--eps", "0.05", "--damping", "0.3", "--steps", "1000"]),
    ("damping 0.1, ε 0.01, 1,000 steps", ["--noise", "normal", "--eps", "0.01", "--damping", "0.1", "--steps", "1000"]),
    ("damping 0.05, ε 0.01", ["--noise", "normal", "--eps", "0.01", "--damping", "0.05"]),
    ("damping 0.3, ε 0.05, seed 1", ["--noise", "normal", "--eps", "0.05", "--damping", "0.3", "--seed", "1"]),
    ("paper: normal ε 0.01, seed 1", ["--noise", "normal", "--eps", "0.01", "--seed", "1"]),
]
KEYS = ("class_entropy", "precision", "recall", "kid")


def _cell(d: dict, k: str) -> str:
    v, ci = d.get(k), d.get(f"{k}_ci")
    if v is None:
        return "–"
    return f"{v:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else f"{v:.3g}"


def row_trial(label: str, argv: list[str]) -> dict:
    """One row: ``kgn analyze`` with ``argv`` (its --json read back), its label, command and seconds."""
    from kgn_gui.cli import main as kgn

    with tempfile.TemporaryDirectory() as d:
        js = Path(d) / "row.json"
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            rc = kgn([*argv, "--json", str(js)])
        if rc != 0:
            raise RuntimeError(f"{label}: kgn analyze failed ({rc})")
        out = json.loads(js.read_text())
    out["label"], out["command"], out["seconds"] = label, " ".join(["kgn", *argv]), time.perf_counter() - began
    return out


def main(argv=None) -> int:
    from kgn_gui.core.experiment.engines import ENGINES, make_engine
    from kgn_gui.core.experiment.grid import run_grid

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/mnist.safetensors")
    ap.add_argument("--n", type=int, default=256, help="chains per row")
    ap.add_argument("--steps", type=int, default=300, help="chain steps before measuring")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma list of row numbers (0-based) to run")
    ap.add_argument("--out", default=str(ROOT / "docs" / "sampler_search.md"))
    ap.add_argument("--table-only", action="store_true", help="rewrite the table from the stored rows, run nothing")
    ap.add_argument("--engine", default="local", choices=ENGINES, help="rows as trials of this engine (kgn search's)")
    ap.add_argument("--workers", type=int, default=None, help="rows at once (local) or in flight (ray)")
    ap.add_argument("--address", default=None, help="ray: the cluster to join")
    args = ap.parse_args(argv)
    if args.table_only:
        _write(Path(args.out), [], args)
        return 0
    grid = [g for i, g in enumerate(GRID) if not args.only or str(i) in args.only.split(",")]
    rows = []
    base = ["analyze", args.model, "-n", str(args.n), "--steps", str(args.steps), "--seed", str(args.seed)]
    base += ["--audit", "0", "--sigmas", "0", "--recovery-n", "16"]
    extra = dict(grid)

    def finished(out: dict, _done: int, _total: int) -> None:
        if out.get("error"):
            raise SystemExit(f"{out['label']}: {out['error']}")
        rows.append(out)
        print(f"{out['label']}: " + ", ".join(f"{k} {_cell(out, k)}" for k in KEYS), flush=True)
        _write(Path(args.out), rows, args)

    # each row one trial (kgn search and kgn sweep run theirs the same way); the table is rewritten as each ends
    engine = make_engine(args.engine, workers=args.workers, address=args.address)
    run_grid(
        row_trial, [(label,) for label, _ in grid], ("label",),
        lambda key: dict(label=key[0], argv=[*base, *extra[key[0]]]), engine=engine, on_trial=finished,
    )  # fmt: skip
    return 0


def _write(path: Path, rows: list[dict], args) -> None:
    """The table of every row run so far (this run's replace earlier ones of the same label), in GRID order;
    the rows themselves beside it as JSON."""
    store = path.with_suffix(".json")
    old = json.loads(store.read_text()) if store.exists() else []
    by = {r["label"]: r for r in old} | {r["label"]: r for r in rows}
    order = [label for label, _ in GRID]
    rows = sorted(by.values(), key=lambda r: order.index(r["label"]) if r["label"] in order else len(order))
    tmp = store.with_suffix(".part")
    tmp.write_text(json.dumps(rows, indent=1, default=float))
    tmp.replace(store)
    base = rows[0]
    lines = [
        f"Sampler search, {time.strftime('%Y-%m-%d %H:%M')}: `python -m bench.sampler_search --n {args.n} --steps "
        f"{args.steps} --seed {args.seed}` ({args.model}; {args.n} chains, measured at step {args.steps} with "
        "seed 0 unless the row's command says otherwise; bootstrap 95 % intervals over the chains). Target: class "
        "entropy ≥ 0.95 at a precision no lower than the paper sampler's (first row). Real MNIST test digits: "
        "class entropy "
        f"{_fmt(base.get('class_entropy_real'))}, precision {_fmt(base.get('precision_real'))}, recall "
        f"{_fmt(base.get('recall_real'))}, KID {_fmt(base.get('kid_real'))}.",
        "",
        "| settings | class entropy (/ log 10) | precision | recall | KID | burn-in | largest class | command |",
        "| --- | --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        counts = [r.get(f"class_{c}", 0) for c in range(10)]
        top = max(range(10), key=lambda c: counts[c])
        lines.append(
            f"| {r['label']} | {_cell(r, 'class_entropy')} | {_cell(r, 'precision')} | {_cell(r, 'recall')} | "
            f"{_cell(r, 'kid')} | {r.get('burn_in')} | {top}: {counts[top] / max(1, sum(counts)):.0%} | "
            f"`{r['command']}` |"
        )
    tmp = path.with_suffix(".part")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3g}"


if __name__ == "__main__":
    raise SystemExit(main())
