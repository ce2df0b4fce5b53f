"""core.lists: what people type, read one way for kgn and the window (known answers and the one-line errors)."""

import pytest

from kgn_gui.core import lists
from kgn_gui.core.chain.lab import condition_of
from kgn_gui.core.chain.sampler import Sampler, parse_schedule
from kgn_gui.core.errors import LabError, OutputNameError, SamplerError
from kgn_gui.core.export.targets import export_target


def test_comma_lists_read_commas_semicolons_and_blanks():
    assert lists.sigmas("0.2; 0, 0.05,0.2") == [0.0, 0.05, 0.2]
    assert lists.depths("1, 2,8") == [1, 2, 8]
    assert lists.seeds("3,1", most=4) == (3, 1)
    with pytest.raises(lists.ListError, match="depths must be finite whole numbers in 1 … 64, not 65"):
        lists.depths("1,65")
    with pytest.raises(lists.ListError, match="at most 2 seeds"):
        lists.seeds("0,1,2", most=2)


@pytest.mark.parametrize(
    "read, text, answer",
    [
        (lambda t: lists.integer(t, 1), "7", 7),
        (lambda t: lists.number(t, 0.0, 10.0, lo_open=True), "2.5", 2.5),
        (lambda t: lists.one_line(t, 5), "mnist", "mnist"),
        (lists.picture_size, "640x480", (640, 480)),
        (lists.picture_size, "32×16", (32, 16)),
    ],
)
def test_single_values_read_back(read, text, answer):
    assert read(text) == answer


@pytest.mark.parametrize(
    "read, text, message",
    [
        (lambda t: lists.integer(t, 1), "0", "must be ≥ 1, got 0"),
        (lambda t: lists.integer(t, 0), "x1", "not an integer: 'x1'"),
        (lambda t: lists.integer(t, 0), "9" * 30, "a number of 30 digits"),
        (lambda t: lists.number(t, 0.0, 10.0, lo_open=True), "0", "must be in (0, 10], got 0"),
        (lambda t: lists.number(t, 0.0, 10.0), "nan", "must be in [0, 10], got nan"),
        (lambda t: lists.one_line(t, 5), "a\nb", "one line of at most 5 printable characters"),
        (lists.picture_size, "8x8", "each side from 16 to 8192 pixels"),
        (lists.picture_size, "wide", "not WIDTHxHEIGHT"),
    ],
)
def test_bad_values_are_one_line_errors(read, text, message):
    with pytest.raises(lists.ListError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        read(text)


def test_a_sampler_of_a_text_or_of_single_settings():
    assert Sampler.of() == Sampler.PAPER
    assert Sampler.of("diverse") == Sampler.DIVERSE
    s = Sampler.of(None, 300, eps=0.02, schedule="cosine:0.05:0.005")
    assert s == Sampler(eps=0.02, schedule=parse_schedule("cosine:0.05:0.005:300"))
    assert Sampler.of(noise="uniform", damping=None) == Sampler(noise="uniform")
    with pytest.raises(SamplerError, match="unknown sampler settings: sigma"):
        Sampler.of(sigma=0.1)


def test_the_export_target_follows_the_format_or_the_extension():
    assert export_target("a.mp4") == ("mp4", export_target("a.mp4", "mp4")[1])
    assert export_target("frames", "png")[0] == "png"
    assert export_target("run.zip", None, bundle=True) == ("gif", export_target("run.zip", "gif", True)[1])
    with pytest.raises(OutputNameError, match="names a GIF file but the format is MP4"):
        export_target("y.gif", "mp4")


def test_no_condition_is_none_and_a_known_region_alone_is_refused():
    assert condition_of(None, None, (1, 28, 28), (-1.0, 1.0)) is None
    with pytest.raises(LabError, match="--known needs --condition"):
        condition_of("", "top", (1, 28, 28), (-1.0, 1.0))
