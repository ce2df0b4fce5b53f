"""Issue 16, item 2: preflight before long work.

Before the first training step (``kgn train``, ``kgn sweep`` and the window's Training start) the output folder
exists, takes a file and has room for the model; every option that sizes memory (chains, ``--grid-n``,
``--image-size``, L × H, step lists and ranges) is checked against the memory budget — step texts by count,
before any list is built — with one line (exit 2) that says what fits. The memory the system has is replaced
by a known figure here (``core.preflight.available_memory_bytes``), so the answers are known.
"""

import errno
import os
import re
import shutil
import tempfile
import time
from collections import namedtuple

import numpy as np
import pytest
from PIL import Image

from kgn_gui.cli import main
from tests.conftest import MODELS, one_error_line

GiB = 1 << 30
POINTS = ["--data", "points:2d-corners", "--bound", "sigmoid", "--L", "2", "--H", "4", "--steps", "5"]


@pytest.fixture
def trainer_runs(monkeypatch):
    """Every call of Trainer.run (none may happen when preflight refuses)."""
    from kgn_gui.core.model.train import Trainer

    calls = []
    real = Trainer.run

    def run(self):
        calls.append(self)
        return real(self)

    monkeypatch.setattr(Trainer, "run", run)
    return calls


def memory(monkeypatch, n_bytes: int) -> int:
    """Pretend the system can give ``n_bytes``."""
    monkeypatch.setattr("kgn_gui.core.preflight.available_memory_bytes", lambda: n_bytes)
    return n_bytes


def fits(line: str, pattern: str) -> int:
    m = re.search(pattern, line)
    assert m, line
    return int(m.group(1).replace(",", ""))


# -- the output, before any training step ----------------------------------------------------------------


def test_train_to_a_missing_folder_fails_before_any_step(tmp_path, capsys, trainer_runs):
    assert main(["train", *POINTS, "-o", "/nonexistent/x.safetensors"]) == 2
    assert "does not exist" in one_error_line(capsys) and trainer_runs == []


def test_train_to_a_read_only_folder_fails_before_any_step(tmp_path, capsys, trainer_runs, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK):  # root writes anywhere: make creating a file there fail as it does for others
            real = tempfile.mkstemp

            def mkstemp(*a, dir=None, **k):
                if dir is not None and os.path.samefile(dir, ro):
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
                return real(*a, dir=dir, **k)

            monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        assert main(["train", *POINTS, "-o", str(ro / "x.safetensors")]) == 2
        line = one_error_line(capsys)
        assert "not writable" in line and "Permission denied" in line
        assert trainer_runs == [] and list(ro.iterdir()) == []
    finally:
        os.chmod(ro, 0o755)


def test_train_onto_a_full_disk_fails_before_any_step(tmp_path, capsys, trainer_runs, monkeypatch):
    from kgn_gui.core.model.architectures import ModelSpec, spec_parameter_count

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 << 20, (10 << 20) - 4096, 4096))
    assert main(["train", *POINTS, "-o", str(tmp_path / "x.safetensors")]) == 2
    line = one_error_line(capsys)
    # The file needs its parameters × 4 bytes + 1 MB of header slack: 1 MB here, with 4 kB free.
    spec = ModelSpec(D=2, L=2, H=4, bound="sigmoid")
    assert spec_parameter_count(spec) == 42
    assert "4 kB free" in line and "needs about 1 MB" in line
    assert trainer_runs == [] and list(tmp_path.iterdir()) == []


# -- the network, the images, the chains -----------------------------------------------------------------


def test_a_network_too_big_for_memory_says_the_widest_that_fits(tmp_path, capsys, trainer_runs, monkeypatch):
    from dataclasses import replace

    from kgn_gui.core.errors import PreflightError
    from kgn_gui.core.model.architectures import ModelSpec
    from kgn_gui.core.preflight import check_training

    avail = memory(monkeypatch, 4 * GiB)
    out = tmp_path / "big.safetensors"
    assert main(["train", "--data", "mnist", "--L", "64", "--H", "8192", "--device", "cpu", "-o", str(out)]) == 2
    line = one_error_line(capsys)
    # The MLP's parameters: (D+1)H + (L−1)(H+1)H + (H+1)D with D = 784.
    assert 785 * 8192 + 63 * 8193 * 8192 + 8193 * 784 == 4_241_228_560 and "4,241,228,560 parameters" in line
    h = fits(line, r"at L = 64 at most H = ([\d,]+) fits")
    spec = ModelSpec(D=784, L=64, H=h, bound="tanh", shape=(1, 28, 28))
    check_training(spec, 60_000, 1000, 1000, available=avail)  # the answer fits …
    with pytest.raises(PreflightError):
        check_training(replace(spec, H=h + 1), 60_000, 1000, 1000, available=avail)  # … and is the widest
    assert 0 < h < 8192 and trainer_runs == [] and list(tmp_path.iterdir()) == []


def test_an_image_size_too_big_is_refused_before_any_image_is_resized(tmp_path, capsys, monkeypatch):
    from kgn_gui.core.errors import PreflightError
    from kgn_gui.core.preflight import check_image_size

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    avail = memory(monkeypatch, 8 * GiB)
    resized = []
    monkeypatch.setattr(Image.Image, "resize", lambda self, *a, **k: resized.append(a) or pytest.fail("resized"))
    t0 = time.perf_counter()
    code = main(["train", "--data", str(folder), "--image-size", "100000", "-o", str(tmp_path / "m.safetensors")])
    assert code == 2 and time.perf_counter() - t0 < 5 and resized == []
    side = fits(one_error_line(capsys), r"at most --image-size ([\d,]+) fits")
    check_image_size(side, 3, available=avail)
    with pytest.raises(PreflightError):
        check_image_size(side + 1, 3, available=avail)
    assert 1000 < side < 100_000 and sorted(p.name for p in tmp_path.iterdir()) == ["imgs"]


def test_sample_says_how_many_chains_fit(tmp_path, capsys, monkeypatch):
    memory(monkeypatch, GiB)
    out = tmp_path / "o"
    assert main(["sample", str(MODELS / "mnist.safetensors"), "-n", "100000000", "-o", str(out)]) == 2
    line = one_error_line(capsys)
    # Four float32 N×784 arrays a step in 80 % of 1 GiB: 858,993,459 // (16 · 784) chains.
    assert "at most 68,478 chains fit" in line and "-n 100,000,000" in line
    assert not out.exists()


def test_a_grid_too_wide_says_how_many_chains_a_row_fits(tmp_path, capsys, monkeypatch):
    from kgn_gui.core.errors import PreflightError
    from kgn_gui.core.model.architectures import ModelSpec, build_model
    from kgn_gui.core.model.checkpoint import save_checkpoint
    from kgn_gui.core.preflight import check_sample

    spec = ModelSpec(D=16, L=1, H=8, bound="sigmoid", shape=(1, 4, 4))
    model = save_checkpoint(tmp_path / "img.safetensors", build_model(spec, seed=0), spec)
    avail = memory(monkeypatch, GiB)
    out = tmp_path / "o"
    args = ["sample", str(model), "-n", "4", "--steps", "2", "--grid-n", str(10**9), "-o", str(out)]
    assert main(args) == 2
    n = fits(one_error_line(capsys), r"at most --grid-n ([\d,]+) fits at 2 rows")
    check_sample(4, 16, (1, 4, 4), grid_rows=2, grid_n=n, available=avail)
    with pytest.raises(PreflightError):
        check_sample(4, 16, (1, 4, 4), grid_rows=2, grid_n=n + 1, available=avail)
    assert 1000 < n < 10**9 and not out.exists()


# -- step lists: counted, not built ------------------------------------------------------------------------


def test_an_astronomical_step_range_is_refused_at_once(tmp_path, capsys):
    from kgn_gui.core.errors import ExportError
    from kgn_gui.core.export.options import count_steps, parse_steps

    t0 = time.perf_counter()
    code = main(
        ["export", str(MODELS / "mnist.safetensors"), "--steps", "0:1000000000000:1", "-o", str(tmp_path / "x")]
    )
    assert code == 2 and time.perf_counter() - t0 < 1.0
    line = one_error_line(capsys)
    assert "1,000,000,000,001 steps" in line and "at most 100,000 frames per export" in line
    assert list(tmp_path.iterdir()) == []
    assert count_steps("0:1000000000000:1") == 10**12 + 1 and count_steps("0:10:5") == 3 == count_steps("1,1,2")
    t0 = time.perf_counter()
    with pytest.raises(ExportError, match="at most 7 grid rows"):
        parse_steps("5:" + "9" * 100, limit=7, what="grid rows")
    assert time.perf_counter() - t0 < 0.1
    assert parse_steps("0:10:5", limit=3) == [0, 5, 10]


def test_a_bundle_is_never_written_with_steps_it_could_not_be_read_back_with(tmp_path, capsys):
    from kgn_gui.core.chain.chain import ChainConfig
    from kgn_gui.core.errors import ExportError
    from kgn_gui.core.export.bundle import MAX_STEP, write_bundle
    from kgn_gui.core.export.options import ExportOptions
    from kgn_gui.core.model.checkpoint import load_checkpoint

    model = MODELS / "mnist.safetensors"
    t0 = time.perf_counter()
    args = ["export", str(model), "--bundle", "--steps", f"0,{MAX_STEP + 1}", "-o", str(tmp_path / "B")]
    assert main(args) == 2 and time.perf_counter() - t0 < 1.0
    assert f"steps go up to {MAX_STEP:,}" in one_error_line(capsys)
    with pytest.raises(ExportError, match="steps go up to"):
        write_bundle(tmp_path / "B", load_checkpoint(model), ChainConfig(n=2), [0, MAX_STEP + 1], ExportOptions())
    assert list(tmp_path.iterdir()) == []


def test_sample_grid_steps_are_counted_too(tmp_path, capsys):
    out = tmp_path / "o"
    t0 = time.perf_counter()
    args = ["sample", str(MODELS / "mnist.safetensors"), "--grid-steps", "0:1000000000000:1", "-o", str(out)]
    assert main(args) == 2 and time.perf_counter() - t0 < 1.0
    assert "at most 10,000 grid rows" in one_error_line(capsys) and not out.exists()


def test_an_apng_of_too_many_frames_says_how_many_fit(tmp_path, capsys, monkeypatch):
    from kgn_gui.core.preflight import frame_bytes

    memory(monkeypatch, GiB)
    out = tmp_path / "a"
    args = ["export", str(MODELS / "mnist.safetensors"), "--format", "apng", "--steps", "0:99999:1", "-o", str(out)]
    assert main(args) == 2
    # Pillow holds every APNG frame (and its array): 64 chains of 28×28 at 4× are 932×932 RGB, 2.6 MB each.
    assert frame_bytes(64, (1, 28, 28), 4) == 3 * 233 * 233 * 16
    n = fits(one_error_line(capsys), r"at most ([\d,]+) frames fit")
    assert n == int(0.8 * GiB) // (2 * 3 * 233 * 233 * 16) and not any(tmp_path.iterdir())


# -- analyses and sweeps -------------------------------------------------------------------------------------


@pytest.fixture
def analysis_runs(monkeypatch):
    import kgn_gui.core.measure.analysis as measures

    calls = []
    monkeypatch.setattr(measures, "analyze_chain", lambda *a, **k: calls.append(a) or pytest.fail("analyzed"))
    return calls


def test_analyze_says_how_many_chains_and_examples_fit(tmp_path, capsys, monkeypatch, analysis_runs):
    from kgn_gui.core.errors import PreflightError
    from kgn_gui.core.preflight import check_analysis

    model = str(MODELS / "mnist.safetensors")
    memory(monkeypatch, GiB)
    assert main(["analyze", model, "-n", "100000000"]) == 2
    line = one_error_line(capsys)
    # Per chain: four states a step and the last nine states, float32: 16·784 + 4·9·784 bytes.
    assert f"at most {int(0.8 * GiB) // (16 * 784 + 4 * 9 * 784):,} chains fit" in line
    avail = memory(monkeypatch, 64 << 20)
    assert main(["analyze", model, "--recovery-n", "1000000000", "--json", str(tmp_path / "a.json")]) == 2
    n = fits(one_error_line(capsys), r"at most --recovery-n ([\d,]+) fits")
    check_analysis(64, 784, 300, M=60_000, recovery_n=n, audit=32, available=avail)
    with pytest.raises(PreflightError):
        check_analysis(64, 784, 300, M=60_000, recovery_n=n + 1, audit=32, available=avail)
    assert main(["analyze", model, "--steps", str(10**12)]) == 2
    assert "--steps 1,000,000,000,000" in one_error_line(capsys)
    assert analysis_runs == [] and list(tmp_path.iterdir()) == []


def test_sweep_checks_the_deepest_network_the_chains_and_the_disk_first(tmp_path, capsys, monkeypatch, trainer_runs):
    memory(monkeypatch, 4 * GiB)
    out = tmp_path / "sweep"
    base = ["sweep", "--data", "mnist", "--steps", "2", "-o", str(out)]
    assert main([*base, "--depths", "1,64", "--H", "60000"]) == 2
    assert "at L = 64 at most H =" in one_error_line(capsys)
    assert main([*base, "--depths", "1", "--H", "8", "--n", "100000000"]) == 2
    assert "--n 100,000,000" in (line := one_error_line(capsys)) and "chains fit" in line
    assert main([*base, "--depths", "1", "--H", "8", "--sample-steps", str(10**11)]) == 2
    assert "--sample-steps 100,000,000,000" in one_error_line(capsys)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 30, 1 << 30, 1000))
    assert main([*base, "--depths", "1,2", "--H", "8"]) == 2
    assert "free" in one_error_line(capsys)
    assert trainer_runs == [] and list(tmp_path.iterdir()) == []


# -- the window: the same checks ---------------------------------------------------------------------------


def test_the_window_refuses_a_training_that_does_not_fit_before_it_starts(make_window, errors, monkeypatch):
    window = make_window()
    window.training_panel.set_recipe("points:2d-corners", bound="sigmoid", L=3, H=16, lr=1e-3, steps=10)
    with monkeypatch.context() as m:  # (undo() would also undo the errors fixture's patch of the dialogs)
        memory(m, 10_000)
        assert window.training_actions.start_training() is False
    assert window.training.run is None and window.training.state == "idle"
    (title, text), *_ = errors
    assert title == "Cannot train" and "of memory is free" in text and "at L = 3 at most H =" in text
    errors.clear()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 30, 1 << 30, 1000))
    assert window.training_actions.start_training() is False and window.training.run is None
    (title, text), *_ = errors
    assert title == "Cannot train" and "free" in text and tempfile.gettempdir() in text
