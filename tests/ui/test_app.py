"""The launch commands start a real window on the bundled model (offscreen)."""

import os
import subprocess
import sys

from tests.conftest import REPO


def test_python_m_kgn_gui_opens_the_bundled_model_and_plays(tmp_path, mnist_model_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-m", "kgn_gui", "--play", "--quit-after", "4"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    # The first frame (the start grid, "loading model…") is drawn before torch is imported; then the window
    # is playable, and plays.
    assert "first visible frame after" in r.stdout and "torch was not imported" in r.stdout
    first = float(r.stdout.split("first visible frame after ", 1)[1].split(" s", 1)[0])
    playable = float(r.stdout.split("playable after ", 1)[1].split(" s", 1)[0])
    assert 0 < first < playable
    step = int(r.stdout.rsplit("reached step", 1)[1])
    assert step > 0


def test_bad_arguments_exit_2(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--chains", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )
    assert r.returncode == 2 and "chains" in r.stderr
