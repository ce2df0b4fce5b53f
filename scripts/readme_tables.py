"""The measurement tables of docs/science.md from the JSON of ``scripts/readme_measures.sh`` (issue 17).

    python scripts/readme_tables.py /tmp/tbl

Each distribution measure is shown as value [95 % interval]; a last row gives the same measures of real
held-out digits at the same n (the baseline), so a reader sees what "good" is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def ci(d: dict, key: str, fmt: str = "{:.2f}") -> str:
    v, iv = d.get(key), d.get(f"{key}_ci")
    if v is None:
        return "–"
    s = fmt.format(v)
    return s + (f" [{fmt.format(iv[0])}, {fmt.format(iv[1])}]" if iv else "")


def real(d: dict, key: str, fmt: str = "{:.2f}") -> str:
    return ci({key: d.get(f"{key}_real"), f"{key}_ci": d.get(f"{key}_real_ci")}, key, fmt)


COLS = [  # header, key, format
    ("class entropy", "class_entropy", "{:.2f}"),
    ("Fréchet", "frechet", "{:.0f}"),
    ("KID", "kid", "{:.0f}"),
    ("precision", "precision", "{:.2f}"),
    ("recall", "recall", "{:.2f}"),
    ("nearest", "nearest_mean", "{:.3f}"),
]


def fmt_num(v, f="{:.2f}") -> str:
    return "–" if v is None else f.format(v)


def paper(folder: Path) -> None:
    rows = [
        ("published code's `reference` (biased uniform)", "reference"),
        ("ours: `normal` (zero-mean)", "normal"),
        ("`none`", "none"),
    ]
    head = ["noise", "step", "converged", "burn-in", "distinct", "largest basin", '"1"s']
    head += [h for h, _, _ in COLS] + ["mixing"]
    print("| " + " | ".join(head) + " |")
    print("| --- | " + " | ".join("---:" for _ in head[1:]) + " |")
    last = None
    for label, noise in rows:
        for S in (25, 300):
            d = json.loads((folder / f"paper_{noise}_{S}.json").read_text())
            last = d
            ones = d.get("class_1", 0)
            cells = [label, str(S), fmt_num(d["converged"]), fmt_num(d["burn_in"], "{:.0f}"), str(d["distinct"])]
            cells += [fmt_num(d["top_basin_share"]), f"{ones} ({100 * ones / d['chains']:.0f} %)"]
            cells += [ci(d, k, f) for _, k, f in COLS] + [fmt_num(d.get("mixing_class"), "{:.2f}")]
            print("| " + " | ".join(cells) + " |")
    cells = [f"real: {last['real']}", "", "", "", "", "", ""] + [real(last, k, f) for _, k, f in COLS] + [""]
    print("| " + " | ".join(cells) + " |")


def arch(folder: Path) -> None:
    names = [
        ("MLP L=10 H=500 (the paper's, `mnist`)", "mnist"),
        ("CNN autoencoder L=3 H=32, bottleneck 128 (`mnist-cnn`)", "mnist-cnn"),
        ("U-Net L=3 H=16 (`mnist-unet`)", "mnist-unet"),
        ("Transformer L=4 H=64, 4×4 patches (`mnist-transformer`)", "mnist-transformer"),
    ]
    head = ["model", "converged", "distinct"] + [h for h, _, _ in COLS]
    head += ["attractors (fixed of 32, median ρ)", "saturated (identity)", "recovery σ = 0.1"]
    print("| " + " | ".join(head) + " |")
    print("| --- | " + " | ".join("---:" for _ in head[1:]) + " |")
    last = None
    for label, m in names:
        d = json.loads((folder / f"arch_{m}.json").read_text())
        last = d
        att = f"{fmt_num(d['attractor_fraction'])} ({d['audit_fixed']} of {d['audit_n']}, {fmt_num(d['rho_median'])})"
        sat = f"{100 * d['saturated']:.1f} % ({100 * d['saturated_identity']:.1f} %)"
        cells = [label, fmt_num(d["converged"]), str(d["distinct"])] + [ci(d, k, f) for _, k, f in COLS]
        cells += [att, sat, f"{100 * d['recovery_0.1']:.0f} %"]
        print("| " + " | ".join(cells) + " |")
    cells = [f"real: {last['real']}", "", ""] + [real(last, k, f) for _, k, f in COLS] + ["", "", ""]
    print("| " + " | ".join(cells) + " |")


def mixing(folder: Path) -> None:
    d = json.loads((folder / "mixing.json").read_text())
    print("| noise | ε | burn-in | class changes / 100 steps | nearest-digit changes / 100 steps |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in d["mixing_scan"]:
        print(
            f"| {r['noise']} | {r['eps']:g} | {fmt_num(r['burn_in'], '{:.0f}')} | "
            f"{fmt_num(r['mixing_class'])} | {fmt_num(r['mixing_nearest'])} |"
        )


def audit(folder: Path) -> None:
    d = json.loads((folder / "audit.json").read_text())
    keys = [k for k in d if k.startswith("recovery_") and not k.endswith("_ends")]
    print(
        f"audit: {d['audit_fixed']} of {d['audit_n']} fixed (residual < {d['audit_tol']:g}; largest residual "
        f"{d['residual_max']:.3g}), attractor fraction {d['attractor_fraction']:.2f}, median ρ {d['rho_median']:.3f}, "
        f"largest {d['rho_max']:.3f}; " + ", ".join(f"{k} {d[k]:.3f}" for k in keys)
    )


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tbl")
    for part in (paper, audit, mixing, arch):
        print(f"\n## {part.__name__}\n")
        part(folder)
