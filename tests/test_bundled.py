"""Issue 21: bundled models by name in kgn and the window, --version, the desktop entry."""

import numpy as np

from kgn_gui import __version__
from kgn_gui.cli import main
from kgn_gui.core.bundled import MODELS_DIR, bundled_models, resolve_model


def test_a_bundled_name_resolves_to_its_file_and_a_file_wins(tmp_path, monkeypatch):
    assert resolve_model("mnist") == str(MODELS_DIR / "mnist.safetensors")
    assert resolve_model("2d-corners.safetensors") == str(MODELS_DIR / "2d-corners.safetensors")
    assert "mnist-classifier" not in bundled_models() and {"mnist", "1d-sigmoid", "mnist-cnn"} <= set(bundled_models())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist").write_bytes(b"")  # a file of that name in the folder is what the user means
    assert resolve_model("mnist") == "mnist"
    assert resolve_model("sub/mnist") == "sub/mnist"


def test_kgn_takes_bundled_names_and_lists_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "mnist", "-n", "4", "--steps", "3", "-o", "out"]) == 0
    assert np.load(tmp_path / "out" / "final_states.npy").shape == (4, 784)
    assert main(["info", "2d-corners"]) == 0 and "MLP L=6 H=50" in capsys.readouterr().out
    assert main(["models"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(bundled_models())
    assert main(["info", "--list"]) == 0 and capsys.readouterr().out.splitlines() == listed
    assert main(["info", "nothere"]) == 2
    err = capsys.readouterr().err
    assert "nothere: no such file, nor a bundled model (1d-sigmoid" in err and len(err.splitlines()) == 1


def test_version_and_the_desktop_entry(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"kgn {__version__}" and __version__ == "0.2.0"
    from kgn_gui.ui.desktop import install_desktop

    files = install_desktop(tmp_path)
    entry = (tmp_path / "applications" / "kgn-gui.desktop").read_text()
    assert "Exec=" in entry and "Icon=kgn-gui" in entry and "Name=Kaleidoscope Studio" in entry
    png = tmp_path / "icons" / "hicolor" / "256x256" / "apps" / "kgn-gui.png"
    assert png in files and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_kgn_option_has_help_and_shows_its_default():
    import argparse

    from kgn_gui.cli import build_parser

    ap = build_parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for a in p._actions:
            if not isinstance(a, argparse._HelpAction):
                assert a.help, (name, a.option_strings or a.dest)
    text = " ".join(sub.choices["sample"].format_help().split())
    assert "chain steps to run (default: 100)" in text and "(default: 0.01)" in text
