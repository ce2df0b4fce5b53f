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
