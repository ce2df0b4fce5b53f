"""The window's controllers on their own (no main window): the Job class, the model, chain, analysis and export
controllers, each driven with pytest-qt and checked against known answers."""

from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.start import Start
from kgn_gui.core.errors import Cancelled
from kgn_gui.core.export.animation import read_frames
from kgn_gui.core.export.mosaic import compose_frame
from kgn_gui.core.export.options import ExportOptions
from kgn_gui.core.model.checkpoint import load_checkpoint
from kgn_gui.ui.controllers.analysis import AnalysisController
from kgn_gui.ui.controllers.chain import ChainController
from kgn_gui.ui.controllers.export import ExportController
from kgn_gui.ui.controllers.model import ModelController
from kgn_gui.ui.jobs import Job

MODELS = Path(__file__).resolve().parents[2] / "models"


# -- Job
def test_a_job_reports_progress_messages_and_one_result(qtbot):
    def work(progress, cancelled):
        for i in range(1, 4):
            progress(i, 3, f"part {i}")
        return 42

    job = Job(work, "count")
    seen, texts = [], []
    job.progress.connect(lambda d, n: seen.append((d, n)))
    job.message.connect(texts.append)
    with qtbot.waitSignal(job.done, timeout=5000) as blocker:
        job.start()
    assert blocker.args == [42] and seen[-1] == (3, 3) and texts == ["part 1", "part 2", "part 3"]
    assert not job.running() and not job.was_cancelled


def test_a_job_that_raises_fails_with_one_line_and_cancel_is_said_as_such(qtbot):
    job = Job(lambda p, c: {}["missing"], "lookup")
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        job.start()
    assert blocker.args == ["KeyError: 'missing'"] and not job.was_cancelled

    def slow(progress, cancelled):
        while not cancelled():
            QtCore.QThread.msleep(5)
        raise Cancelled("counting cancelled")

    job = Job(slow, "slow").start()
    job.cancel()
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["counting cancelled"] and job.was_cancelled and job.wait(1.0)


# -- model controller
@pytest.fixture
def settings(tmp_path):
    return QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)


def test_the_model_controller_loads_remembers_and_names_the_training_data(qtbot, settings):
    mc = ModelController(settings)
    changed, recent = [], []
    mc.modelChanged.connect(changed.append)
    mc.recentChanged.connect(recent.append)
    assert mc.load(MODELS / "2d-corners.safetensors")
    assert changed == [mc.checkpoint] and mc.checkpoint.spec.D == 2
    assert mc.train_data.name == "2d-corners" and np.allclose(
        mc.train_data.x, [[0.2, 0.2], [0.2, 0.8], [0.8, 0.2], [0.8, 0.8]]
    )
    assert recent[-1] == [str((MODELS / "2d-corners.safetensors").resolve())]
    assert mc.title() == "2d-corners – Kaleidoscope Studio" and not mc.dirty


def test_a_bad_file_or_a_refused_model_leaves_the_old_one(qtbot, settings, tmp_path):
    mc = ModelController(settings)
    errors = []
    mc.error.connect(lambda title, msg: errors.append(msg))
    assert mc.load(MODELS / "1d-tanh.safetensors")
    old = mc.checkpoint
    (tmp_path / "x.safetensors").write_bytes(b"not a model")
    assert not mc.load(tmp_path / "x.safetensors") and mc.checkpoint is old
    assert len(errors) == 1 and "x.safetensors" in errors[0]
    mc.accept = lambda ck, train: False  # e.g. its chains could not start
    assert not mc.load(MODELS / "2d-corners.safetensors") and mc.checkpoint is old


def test_trained_weights_are_dirty_until_saved(qtbot, settings, tmp_path):
    mc = ModelController(settings)
    flags = []
    mc.dirtyChanged.connect(flags.append)
    ck = load_checkpoint(MODELS / "1d-sigmoid.safetensors")
    assert mc.set_checkpoint(ck, dirty=True)
    assert mc.dirty and mc.title().startswith("1d-sigmoid*")
    out = mc.save(tmp_path / "kept")
    assert out == tmp_path / "kept.safetensors" and out.exists() and not mc.dirty and flags == [True, False]
    assert load_checkpoint(out).meta["dataset"] == "1d-sigmoid"  # re-saved with what its file recorded


# -- chain, analysis and export controllers together
@pytest.fixture
def trio(qtbot, settings):
    mc = ModelController(settings)
    chain = ChainController()
    mc.accept = lambda ck, train: chain.begin(ck, Start("uniform", n=8, seed=1), Sampler.PAPER, train) is not None
    an, ex = AnalysisController(mc, chain), ExportController(mc, chain)
    assert mc.load(MODELS / "2d-corners.safetensors")
    yield mc, chain, an, ex
    an.shutdown()
    ex.shutdown()
    chain.shutdown()


def test_measures_belong_to_their_chains(qtbot, trio):
    mc, chain, an, ex = trio
    cleared = []
    an.cleared.connect(cleared.append)
    chain.step_by(20)
    with qtbot.waitSignal(an.measured, timeout=60_000) as blocker:
        assert an.measure_now() is not None
    t, a = blocker.args
    assert t == 20 and a.n == 8 and an.measured_t == 20
    chain.begin(mc.checkpoint, Start("normal", n=8, seed=2), Sampler.PAPER, mc.train_data)
    assert cleared == [False] and an.measured_t is None  # a new start: the chains' numbers go, the model's stay
    assert mc.load(MODELS / "2d-corners.safetensors") and cleared[-1] is True


def test_the_measured_step_has_its_autocorrelation_time_ess_and_earlier_steps(qtbot, trio):
    from kgn_gui.core.measure.analysis import measure_history

    mc, chain, an, ex = trio
    assert mc.load(MODELS / "mnist.safetensors")  # (its chains keep moving: they have a τ)
    chain.step_by(90)
    with qtbot.waitSignal(an.measured, timeout=120_000) as blocker:
        assert an.measure_now() is not None
    t, a = blocker.args
    ess, rows = measure_history(chain.session.state, 90, a.burn_in, mc.train_data.x, a.reference, over_t=(9, 30))
    assert a.ess == ess and ess["ess_steps"] == 90 - a.burn_in + 1 and ess["ess_chains"] >= 1
    assert [r["t"] for r in a.over_t] == [9, 30] and a.over_t == rows  # t/10 and t/3, measured as analyze does


def test_the_export_controller_exports_what_the_chain_holds(qtbot, trio, tmp_path):
    mc, chain, an, ex = trio
    failed = []
    ex.error.connect(lambda title, msg: failed.append(msg))
    assert mc.load(MODELS / "mnist.safetensors")
    chain.step_by(3)
    s = chain.session
    opts = ExportOptions(fmt="apng", scale=1, overlay=False)
    job = ex.export([0, 1, 2, 3], opts, str(tmp_path / "a"))
    assert ex.export([0], opts, str(tmp_path / "b")) is None  # one at a time
    with qtbot.waitSignal(job.done, timeout=60_000) as blocker:
        pass
    frames = read_frames(blocker.args[0])
    assert len(frames) == 4 and failed == ["export is still running; wait for it or cancel it"]
    assert all(np.array_equal(frames[t], compose_frame(s.state(t), s.shape, s.value_range, t, opts)) for t in range(4))
