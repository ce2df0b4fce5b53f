"""The Plots dock's curves before there is anything to draw: labelled ticks over 0.01 … 1, never
pyqtgraph's crowded minor-tick labels of its default log range."""

import numpy as np

from kgn_gui.ui.widgets.plots import PlotsPanel


def test_empty_log_curves_show_whole_decades_and_the_linear_one_plain_ticks(qtbot):
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    for key, c in panel.curves.items():
        nan = np.full(1, np.nan)
        c.set_data(np.zeros(1), nan, nan, nan)  # step 0: no step size, residual or distance yet
        ticks = c.getAxis("left")._tickLevels[0]
        if key == "nearest":  # linear: 0.01 … 1 padded by 10 %
            assert [label for _, label in ticks] == ["0", "0.5", "1"]
        else:  # log: view units are log10 of the value, padded by a quarter decade
            assert ticks == [(-2.0, "0.01"), (-1.0, "0.1"), (0.0, "1")]


def test_the_distance_plot_ticks_are_round_values_when_one_multiple_of_the_step_fits(qtbot):
    """Issue 30: the distance plot showed ticks at 0.288 and 0.695 — a quarter and three quarters of its range,
    the fallback when a single multiple of the 1-2-5 step (0.5) fell inside 0.0845 … 0.8985."""
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    c = panel.curves["nearest"]
    lo, hi = 0.1523, 0.8307  # padded by 10 % of the span on each side: 0.0845 … 0.8985
    t = np.arange(3.0)
    c.reset()  # a new session: the y range is fitted to the first data afresh
    c.set_data(t, np.full(3, 0.5), np.array([lo, 0.4, 0.45]), np.array([0.6, 0.7, hi]))
    ticks = c.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == ["0.2", "0.4", "0.6", "0.8"]
