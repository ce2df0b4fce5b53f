"""The fuzz harness over every entry point (issue 16, item 9).

Hypothesis (derandomized: the same cases every run) draws about 5,000 cases: files for every loader made by
mutating seeds — the bundled models, a tiny image model trained here with ``kgn train``, bundles made with
``kgn export --bundle``, a recovery file made with ``save_recovery``, small .npy / .npz / IDX / image files —
and option strings for every ``kgn`` subcommand (random mixes, plus one command line per hostile value of each
option). Two driver processes (one per core, each with a memory limit and a per-case time bound) run them
and check each: a loader returns or raises its own error type with one line; ``kgn`` exits 0 or prints
exactly one ``kgn CMD: error: …`` line as its last line, with no traceback and no Python warning; inputs
are unchanged; nothing is written outside the output; no temporary is left; no other program is started;
and the oracles of some cases (a valid input loads, a 16-bit image is scaled, a good recovery file is
offered, what ``kgn train`` / ``kgn export --bundle`` / ``--json`` wrote reads back). About 70 s on 2 cores.
See tests/fuzz/ for the plans (``plans``), the files (``build``), the checks (``driver``) and the processes
(``runner``).

``KGN_FUZZ_REPRO=DIR`` keeps one failing case of each class under DIR (its files, plan.json and a README with
the call that reproduces it). ``KGN_FUZZ_ONLY=GROUP[,GROUP]`` runs only those groups (for working on one
loader); ``KGN_FUZZ_SCALE=0.1`` runs a tenth of the cases.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.conftest import REPO
from tests.fuzz import plans as P
from tests.fuzz import runner
from tests.fuzz.driver import AS_LIMIT

MIN_CASES = 2000


def _collect(strategy, n: int) -> list[dict]:
    drawn: list[dict] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(plan):
        drawn.append(plan)

    collect()
    return drawn


def draw_plans() -> list[dict]:
    """Every group's cases (hypothesis, derandomized); for each ``kgn`` command also one command line per
    hostile value of each option (the rest valid), so no value is left to chance."""
    only = {g.strip() for g in os.environ.get("KGN_FUZZ_ONLY", "").split(",") if g.strip()}
    scale = float(os.environ.get("KGN_FUZZ_SCALE", "1"))
    out = []
    for group, (strategy, n) in P.GROUPS.items():
        if only and group not in only:
            continue
        want = max(1, round(n * scale))
        unique: dict[str, dict] = {}
        for plan in _collect(strategy, round(want * 1.5) + 5):  # derandomized generation repeats itself late
            unique.setdefault(json.dumps(plan, sort_keys=True), plan)
        drawn = list(unique.values())[:want]
        cmd = group[4:] if group.startswith("kgn ") and group != "kgn (no command)" else None
        if cmd and scale >= 1:
            for pair in P.forced_pairs(cmd):
                plan = _collect(P.cli_plan(cmd, force=pair), 1)[0]
                key = json.dumps(plan, sort_keys=True)
                if key not in unique:
                    unique[key] = plan
                    drawn.append(plan)
        slug = re.sub(r"[^a-z0-9]+", "-", group.lower()).strip("-")
        for i, plan in enumerate(drawn):
            plan["id"] = f"{slug}-{i:04d}"
            out.append(plan)
    return out


def _repo_state() -> dict:
    """What the cases must never touch in the repository: its top-level names, the models and resources."""
    state = {"names": sorted(os.listdir(REPO))}
    for sub in ("models", "resources"):
        for p in sorted((REPO / sub).rglob("*")):
            if p.is_file():
                state[str(p.relative_to(REPO))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return state


def problem_class(p: str) -> str:
    """A failure's class: the problem without the path or numbers that differ between cases."""
    for prefix in (
        "an input was",
        "a bystander was",
        "a file outside the output was",
        "wrote outside the output",
        "a temporary was left",
        "a recovery log line is not one line",
        "an import report line is not one line",
        "the model kgn train wrote does not load",
        "the bundle kgn export wrote does not read back",
    ):
        if p.startswith(prefix):
            return p.split(":")[0]
    if p.startswith("hang"):
        return "hang"
    return re.sub(r"\d{3,}", "N", p)


def summarize(plans, results, elapsed, stats) -> tuple[str, dict]:
    by_group = defaultdict(Counter)
    classes: dict[tuple, list[dict]] = defaultdict(list)
    for plan in plans:
        r = results[plan["id"]]
        by_group[plan["group"]][r["outcome"]] += 1
        for p in r["problems"][:1] if r["outcome"] != "pass" else []:
            classes[(plan["group"], problem_class(p))].append(plan)
    total = sum(sum(c[k] for k in ("pass", "fail", "hang", "crash", "harness", "not run")) for c in by_group.values())
    lines = [f"{'entry point':<18} {'cases':>6} {'pass':>6} {'fail':>6} {'hang':>5} {'crash':>6}"]
    for group in P.GROUPS:
        c = by_group.get(group)
        if not c:
            continue
        n = sum(c[k] for k in ("pass", "fail", "hang", "crash", "harness", "not run"))
        lines.append(
            f"{group:<18} {n:>6} {c['pass']:>6} {c['fail'] + c['harness'] + c['not run']:>6} {c['hang']:>5} {c['crash']:>6}"
        )
    restarts = sum(s["restarts"] for s in stats)
    lines.append(f"total {total:,} cases in {elapsed:.0f} s on {len(stats)} processes ({restarts} restarts)")
    vm = [p["vm_peak"] for s in stats for p in s["peaks"] if p.get("vm_peak")]
    rss = [p["rss_peak"] for s in stats for p in s["peaks"] if p.get("rss_peak")]
    if vm:
        lines.append(
            f"peak per process: {max(vm) / 2**30:.1f} GiB virtual, {max(rss) / 2**30:.1f} GiB resident "
            f"(limit {AS_LIMIT / 2**30:.1f} GiB virtual)"
        )
    return "\n".join(lines), classes


def _size(plan: dict) -> int:
    return len(json.dumps(plan))


def reproduce_text(plan: dict) -> str:
    a, e = plan["args"], plan["entry"]
    if e == "cli":
        import shlex

        return "kgn " + " ".join(shlex.quote(t) for t in a["argv"])
    call = {
        "checkpoint": f"from kgn_gui.core.model.checkpoint import load_checkpoint; load_checkpoint({a['path']!r})",
        "load_array": f"from kgn_gui.core.data.arrays import load_array; load_array({a['path']!r})",
        "open_source": f"from kgn_gui.core.data.sources import open_source; open_source({a['path']!r})",
        "open_source-file": f"from kgn_gui.core.data.sources import open_source; open_source({a['path']!r})",
        "open_source-folder": f"from kgn_gui.core.data.sources import open_source; open_source({a['path']!r})",
        "load_idx": f"from kgn_gui.core.data.arrays import load_idx; load_idx({a['path']!r}, {a.get('labels')!r})",
        "load_image_folder": f"from kgn_gui.core.data.images import load_image_folder; load_image_folder({a['path']!r})",
        "read_bundle": f"from kgn_gui.core.export.bundle import read_bundle; read_bundle({a['path']!r})",
        "reproduce": f"from kgn_gui.core.export.bundle import reproduce; reproduce({a['path']!r}, {a.get('out')!r})",
        "recovery": f"from pathlib import Path; from kgn_gui.core.model.recovery import pending_recoveries; print(pending_recoveries(Path({a['path']!r})))",
    }[e]
    return f'python -c "{call}"'


def kinds_of(members) -> str:
    return ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in Counter(m["kind"] for m in members).most_common())


def keep_repros(classes, results, dest: Path) -> list[str]:
    lines = []
    for n, (key, members) in enumerate(sorted(classes.items()), 1):
        plan = min(members, key=_size)
        r = results[plan["id"]]
        slug = re.sub(r"[^a-zA-Z0-9]+", "-", f"{key[0]}-{key[1]}").strip("-")[:90]
        d = dest / f"{n:03d}-{slug}"
        runner.keep_case(Path(r["case_dir"]), d / "case")
        (d / "plan.json").write_text(json.dumps(plan, indent=1))
        (d / "README.txt").write_text(
            f"entry point: {key[0]}\nwhat happened: {key[1]}\ncases in this class: {len(members)}\n"
            f"input kinds: {kinds_of(members)}\n"
            f"this case: {plan['id']}: {plan['detail']}\nproblems: {r['problems']}\ncalls: {json.dumps(r.get('calls'), indent=1)}\n"
            f"\nreproduce (in case/):\n  cd case && {reproduce_text(plan)}\n\nstderr (tail):\n{r.get('stderr', '')[-1500:]}\n"
        )
        lines.append(f"{len(members):>4}  {key[0]} | {key[1]}  → {d}")
    return lines


def test_every_entry_point_survives_generated_hostile_input(tmp_path):
    t0 = time.monotonic()
    plans = draw_plans()
    drawn_s = time.monotonic() - t0
    if not os.environ.get("KGN_FUZZ_ONLY") and float(os.environ.get("KGN_FUZZ_SCALE", "1")) >= 1:
        assert len(plans) >= MIN_CASES
    before = _repo_state()
    seeds = tmp_path / "seeds"
    runner.make_seeds(seeds, tmp_path)
    t1 = time.monotonic()
    results, stats = runner.run_all(plans, tmp_path, seeds, workers=2)
    elapsed = time.monotonic() - t1
    table, classes = summarize(plans, results, elapsed, stats)
    print(f"\n{table}\n(drew the cases in {drawn_s:.1f} s, made the seeds in {t1 - t0 - drawn_s:.1f} s)")
    assert _repo_state() == before, "a case changed the repository (models/, resources/ or its top-level names)"
    listing = []
    for key, members in sorted(classes.items()):
        plan = min(members, key=_size)
        listing.append(
            f"{len(members):>4}  {key[0]} | {key[1]} | input kinds: {kinds_of(members)[:200]}\n"
            f"      e.g. {plan['id']}: {plan['detail'][:150]!r}"
        )
    if os.environ.get("KGN_FUZZ_REPRO") and classes:
        kept = keep_repros(classes, results, Path(os.environ["KGN_FUZZ_REPRO"]))
        print("\n".join(kept))
    failing = sum(len(m) for m in classes.values())
    if classes:
        pytest.fail(
            f"{failing} of {len(plans)} cases failed, in {len(classes)} classes:\n"
            + "\n".join(listing)
            + f"\n\n{table}",
            pytrace=False,
        )
