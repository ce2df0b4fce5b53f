import json

import numpy as np
import pytest

from kgn_gui.cli import main
from kgn_gui.core.chain.chain import ChainConfig
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.errors import ExportError
from kgn_gui.core.export.animation import read_frames
from kgn_gui.core.export.bundle import read_bundle, reproduce, write_bundle
from kgn_gui.core.export.options import ExportOptions
from kgn_gui.core.model.checkpoint import load_checkpoint
from tests.conftest import MODELS


@pytest.mark.parametrize("zipped", [False, True])
def test_a_bundle_reproduces_the_same_frames(tmp_path, zipped):
    ck = load_checkpoint(MODELS / "mnist.safetensors")
    painted = np.full(784, -1.0, np.float32)
    painted[300:320] = 1.0
    cfg = ChainConfig(n=4, start="array", seed=9, sampler=Sampler(noise="normal", eps=0.02))
    out = tmp_path / ("b.zip" if zipped else "b")
    write_bundle(out, ck, cfg, list(range(0, 12, 2)), ExportOptions(fmt="apng", scale=2), start_array=painted)
    ck2, cfg2, start, steps, opts, lab = read_bundle(out)
    assert cfg2 == cfg and steps == [0, 2, 4, 6, 8, 10] and np.array_equal(start, painted)
    rep = reproduce(out, tmp_path / "again")
    if zipped:
        import zipfile

        with zipfile.ZipFile(out) as z:
            z.extract("animation.png", tmp_path / "x")
            z.extract("metrics.csv", tmp_path / "x")
        original, metrics = tmp_path / "x" / "animation.png", tmp_path / "x" / "metrics.csv"
    else:
        original, metrics = out / "animation.png", out / "metrics.csv"
    a, b = read_frames(original), read_frames(rep)
    assert len(a) == len(b) == 6 and all(np.array_equal(x, y) for x, y in zip(a, b))
    lines = metrics.read_text().splitlines()
    assert lines[0].startswith("t,step_mean") and len(lines) == 1 + 10


def test_bundles_from_the_cli_and_bad_bundles(tmp_path):
    out = tmp_path / "run"
    assert main(["export", str(MODELS / "2d-corners.safetensors"), "--bundle", "--steps", "0:5:1", "-o", str(out)]) == 2
    # (run bundles are of image models: a one-line error, nothing written)
    assert not out.exists()
    assert (
        main(
            [
                "export",
                str(MODELS / "mnist.safetensors"),
                "--bundle",
                "--steps",
                "0:4:1",
                "-n",
                "4",
                "--format",
                "apng",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "run.json").read_text())["chain"]["n"] == 4
    assert main(["sample", "--bundle", str(out), "-o", str(tmp_path / "rep")]) == 0
    assert len(read_frames(tmp_path / "rep.png")) == 5
    with pytest.raises(ExportError, match="already exists"):
        write_bundle(out, load_checkpoint(MODELS / "mnist.safetensors"), ChainConfig(n=2), [0], ExportOptions())
    (tmp_path / "fake").mkdir()
    with pytest.raises(ExportError, match="not a run bundle"):
        read_bundle(tmp_path / "fake")
