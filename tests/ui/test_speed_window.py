"""Issue 31 in the window: what keeps its frames while other work runs."""


def test_a_training_shares_the_cores_while_the_window_plays(make_window, qtbot):
    w = make_window()
    sent = []
    w.training._send = sent.append  # the commands the child would get
    w.chain.play()
    assert w.training._window_busy
    w.chain.pause()
    assert not w.training._window_busy
    w.chain.play()
    w.showMinimized()
    qtbot.waitUntil(lambda: not w.training._window_busy, timeout=5_000)
    w.showNormal()
    qtbot.waitUntil(lambda: w.training._window_busy, timeout=5_000)
    w.chain.pause()
    names = [c.name for c in sent]
    assert names[:3] == ["SHARE_CORES", "ALL_CORES", "SHARE_CORES"] and names[-1] == "ALL_CORES"
