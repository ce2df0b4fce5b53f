"""Issue 31 in the window: what keeps its frames while other work runs."""


def test_a_training_shares_the_cores_while_the_window_plays_or_a_job_runs(make_window, qtbot):
    from kgn_gui.ui.jobs import RUNNING, Job

    w = make_window()
    w.analysis_dock.hide()  # no measure of the paused step: the only job is the test's
    sent = []
    w.training._send = sent.append  # the commands the child would get
    w.chain.play()
    assert w.training._window_busy
    w.chain.pause()
    assert not w.training._window_busy
    assert RUNNING.count == 0
    job = Job(lambda progress, cancelled: 1, "a job")
    with qtbot.waitSignal(job.done, timeout=10_000):
        job.start()
        assert w.training._window_busy  # computing beside a training: it shares the cores
    qtbot.waitUntil(lambda: not w.training._window_busy, timeout=5_000)
    names = [c.name for c in sent]
    assert names == ["SHARE_CORES", "ALL_CORES", "SHARE_CORES", "ALL_CORES"], names


def test_playing_stops_a_measure_of_the_step_it_leaves(make_window, qtbot):
    w = make_window()
    w.chain.pause()
    job = w.measures.measure_now()
    assert job is not None and job.running()
    w.chain.play()
    assert job.cancelled()
    qtbot.waitUntil(lambda: not job.running(), timeout=120_000)
    assert job.was_cancelled and w.measures.measured_t is None
    w.chain.pause()


def test_a_job_runs_below_the_display(qtbot):
    import os
    import threading

    from kgn_gui.ui.jobs import JOB_NICE, Job

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    job = Job(lambda progress, cancelled: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), "nice")
    with qtbot.waitSignal(job.done, timeout=10_000) as got:
        job.start()
    assert got.args[0] == min(19, base + JOB_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the GUI thread's is its own
