"""What escapes a slot never reaches stderr as a traceback: one line in a dialog, the traceback in a log."""

import sys

from kgn_gui.ui.app import install_error_hook


def test_an_unexpected_exception_is_one_line_in_a_dialog_and_a_traceback_in_the_log(
    make_window, errors, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("KGN_ERROR_LOG", str(tmp_path / "errors.log"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back whatever pytest had after the test
    window = make_window()
    install_error_hook(window)
    try:
        {}["missing"]
    except KeyError:
        sys.excepthook(*sys.exc_info())
    assert errors[-1] == ("Unexpected error", f"KeyError: 'missing' (details in {tmp_path / 'errors.log'})")
    log = (tmp_path / "errors.log").read_text()
    assert "Traceback (most recent call last)" in log and "KeyError: 'missing'" in log
    assert capsys.readouterr().err == ""
