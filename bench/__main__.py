"""Run every benchmark, each in its own process, and write one table.

    python -m bench [--quick] [--only train_flops,chain_speed] [--out bench/results.md] [--device cpu]

Each benchmark measures its own baseline in the same run and reports value, baseline and ratio. The
table (Markdown) starts with the machine it ran on; docs/performance.md shows the latest one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (module, arguments, quick arguments)
BENCHMARKS = [
    ("train_flops", [], ["--steps", "10", "--rounds", "2"]),
    ("train_vs_reference", ["--steps", "100", "--rounds", "3"], ["--steps", "20", "--rounds", "2"]),
    ("chain_speed", [], ["--seconds", "0.5", "--sizes", "64,1024"]),
    ("timeline_jump", [], ["--steps", "700", "--jumps", "8"]),
    ("launch_time", [], ["--repeat", "1"]),
    ("ui_frame_rate", [], ["--seconds", "2"]),
    ("export_speed", ["--repeat", "3"], ["--repeat", "1", "--frames", "60"]),
    ("time_to_quality", [], ["--scale", "0.01"]),
    ("experiments", [], ["--images", "2000", "--sweep-steps", "50", "--ray-trials", "2"]),
]
DEVICE_AWARE = {"train_flops", "train_vs_reference", "chain_speed", "time_to_quality", "timeline_jump"}
# On a GPU a step takes well under a millisecond: longer runs so that the timings mean something.
CUDA_ARGS = {"train_flops": ["--steps", "300"], "train_vs_reference": ["--steps", "3000"]}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    mem = ""
    try:
        mem = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}{gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {platform.system()} {platform.release()}"
    )


def fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def table(rows: list[dict], header: str) -> str:
    out = [
        header,
        "",
        "| benchmark | measure | value | baseline (same run) | ratio | target |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        base = f"{fmt(r['baseline'])} ({r['baseline_is']})" if r["baseline"] is not None else "–"
        ratio = f"**{r['ratio']:.2f}**" if r["ratio"] is not None else "–"
        out.append(
            f"| `{r['benchmark']}` | {r['measure']} | {fmt(r['value'])} {r['unit']} | {base} | {ratio} | "
            f"{r['target']} |"
        )
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke test, not numbers to quote)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--device", default="cpu", help="for the benchmarks that take one (cpu, cuda)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    args = ap.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    unknown = only - {b[0] for b in BENCHMARKS}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    rows, failed = [], []
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    with tempfile.TemporaryDirectory() as d:
        for name, full, quick in BENCHMARKS:
            if only and name not in only:
                continue
            out = Path(d) / f"{name}.json"
            cmd = [sys.executable, "-m", f"bench.{name}", *(quick if args.quick else full), "--json", str(out)]
            if name in DEVICE_AWARE:
                cmd += ["--device", args.device]
                if args.device.startswith("cuda") and not args.quick:
                    cmd += CUDA_ARGS.get(name, [])
            print(f"== {name}: {' '.join(cmd[2:])}", flush=True)
            t0 = time.perf_counter()
            r = subprocess.run(cmd, cwd=ROOT, env=env)
            if r.returncode != 0 or not out.exists():
                failed.append(name)
                print(f"== {name} failed (exit {r.returncode})", flush=True)
                continue
            print(f"== {name}: {time.perf_counter() - t0:.0f} s", flush=True)
            rows += [{"benchmark": name, **x} for x in json.loads(out.read_text())]
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    text = table(rows, f"Benchmarks{' (quick)' if args.quick else ''}, {stamp}, on {machine()}")
    tmp = Path(args.out).with_name(f".{Path(args.out).name}.part")
    tmp.write_text(text)
    os.replace(tmp, args.out)
    print("\n" + text)
    print(f"wrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
