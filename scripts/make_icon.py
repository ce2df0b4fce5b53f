"""Draw the application icon: resources/icons/kgn-gui.svg and kgn-gui.png (256 px), the same twelve triangles —
a kaleidoscope's six-fold mirror of two colours around a dark disc.

    python scripts/make_icon.py
"""

from __future__ import annotations

import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLOURS = ("#4cc9f0", "#f72585")


def triangles(size: float):
    c, r = size / 2, size * 0.44
    for k in range(12):
        a0, a1 = math.radians(30 * k - 90), math.radians(30 * (k + 1) - 90)
        pts = [(c, c), (c + r * math.cos(a0), c + r * math.sin(a0)), (c + r * math.cos(a1), c + r * math.sin(a1))]
        yield pts, COLOURS[k % 2]


def main() -> int:
    from PIL import Image, ImageDraw

    out = ROOT / "resources" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    S = 256
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{S}" height="{S}" viewBox="0 0 {S} {S}">']
    svg.append(f'<circle cx="{S / 2}" cy="{S / 2}" r="{S * 0.49}" fill="#1e1e2e"/>')
    for pts, col in triangles(S):
        svg.append(f'<polygon points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}" fill="{col}"/>')
    svg.append(f'<circle cx="{S / 2}" cy="{S / 2}" r="{S * 0.09}" fill="#ffd166"/>')
    svg.append("</svg>")
    (out / "kgn-gui.svg").write_text("\n".join(svg) + "\n")
    big = 4 * S  # drawn large, then reduced: smooth edges
    im = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse([big * 0.01, big * 0.01, big * 0.99, big * 0.99], fill="#1e1e2e")
    for pts, col in triangles(big):
        d.polygon(pts, fill=col)
    d.ellipse([big * 0.41, big * 0.41, big * 0.59, big * 0.59], fill="#ffd166")
    im.resize((S, S), Image.LANCZOS).save(out / "kgn-gui.png")
    print(f"wrote {out / 'kgn-gui.svg'} and {out / 'kgn-gui.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
