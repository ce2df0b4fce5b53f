"""Issue 19: the first frame before torch — the start grid drawn from numpy and the model's header."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kgn_gui.core.chain.chain import ChainConfig, start_states
from kgn_gui.core.chain.start_preview import preview_start
from tests.conftest import MODELS, REPO

FRESH = """
import json, sys
sys.path.insert(0, sys.argv[1])
from PySide6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
from kgn_gui.ui.first_frame import FirstFrame
w = FirstFrame(__import__("pathlib").Path(sys.argv[2]), ("uniform", 16, 5))
w.resize(900, 700)
w.show()
for _ in range(20):
    app.processEvents()
img = w.grid.current_image()
print(json.dumps({"torch": "torch" in sys.modules, "title": w.windowTitle(), "status": w.status.text(),
                  "painted": w.painted_at is not None, "image": img.tolist() if img is not None else None}))
"""


def test_the_first_frame_draws_the_chains_start_without_importing_torch(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-c", FRESH, str(REPO), str(MODELS / "mnist.safetensors")],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["torch"] is False and got["painted"]
    assert got["title"] == "mnist – Kaleidoscope Studio" and got["status"].startswith("loading model mnist (MLP L=10")
    # The grid shows the chains' own start: the same picture the window draws from start_states once loaded.
    from kgn_gui.core.picture.render import states_to_grid

    x0 = start_states(ChainConfig(n=16, seed=5), 784, (-1.0, 1.0)).numpy()
    want = states_to_grid(x0, (1, 28, 28), (-1.0, 1.0))
    assert np.array_equal(np.asarray(got["image"], np.uint8), want)


@pytest.mark.parametrize("n, D, vr, seed", [(64, 784, (-1.0, 1.0), 0), (5, 7, (0.0, 1.0), 3), (300, 1, (0.0, 1.0), 9)])
def test_the_numpy_start_is_torchs(n, D, vr, seed):
    uniform = start_states(ChainConfig(n=n, start="uniform", seed=seed), D, vr).numpy()
    assert np.array_equal(preview_start("uniform", n, D, vr, seed), uniform)  # bit for bit
    normal = start_states(ChainConfig(n=n, start="normal", seed=seed), D, vr).numpy()
    assert np.abs(preview_start("normal", n, D, vr, seed) - normal).max() < 2e-6  # to float rounding
    assert preview_start("data", n, D, vr, seed) is None


def test_a_model_file_the_header_cannot_describe_gives_a_plain_loading_line(tmp_path):
    from kgn_gui.core.model.header import first_look

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + json.dumps({"x": 1}).encode()[:16])
    assert first_look(bad) is None and first_look(tmp_path / "missing.safetensors") is None
    info = first_look(MODELS / "2d-corners.safetensors")
    assert info["shape"] == (2,) and info["value_range"] == (0.0, 1.0) and info["L"] == 6
