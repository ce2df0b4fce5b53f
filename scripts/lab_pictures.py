"""The README's picture of conditioned completions (issue 20): for the first MNIST test digit of each class,
its top half known, 8 chains from uniform noise fill in the rest — one `kgn sample` per digit:

    kgn sample models/mnist.safetensors -n 8 --steps 100 --condition data:mnist:test#I --known top \
        --grid-steps 0,100 --grid-n 8 -o OUT

    python scripts/lab_pictures.py docs/lab_condition.png

Each row: the 8 chains at step 0 (the known half, the rest noise) beside the same chains at step 100."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from PIL import Image

    from kgn_gui.cli import main as kgn
    from kgn_gui.core.data.mnist import load_mnist

    out = Path((argv or sys.argv[1:] or ["docs/lab_condition.png"])[0])
    test = load_mnist("test", (0.0, 1.0))
    first = [int(np.flatnonzero(test.labels == c)[0]) for c in range(10)]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for i in first:
            o = Path(d) / f"s{i}"
            args = ["sample", str(ROOT / "models" / "mnist.safetensors"), "-n", "8", "--steps", "100"]
            args += ["--condition", f"data:mnist:test#{i}", "--known", "top", "--grid-steps", "0,100"]
            if kgn([*args, "--grid-n", "8", "-o", str(o)]) != 0:
                return 1
            g = np.asarray(Image.open(o / "grid.png").convert("L"))
            h = g.shape[0] // 2
            rows.append(np.hstack([g[:h], g[h : 2 * h]]))  # step 0 (the known half, the rest noise) | step 100
    pic = np.vstack(rows)
    Image.fromarray(pic).resize((pic.shape[1] * 2, pic.shape[0] * 2), Image.NEAREST).save(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
