"""Metadata by schema (issue 16, item 6): every field read from a model file or a run bundle is type-checked,
JSON depth and number size are bounded when parsing, and ``kgn info --json`` / ``kgn analyze --json`` write
strict JSON. Each failure is one line (CheckpointError, or the bundle's ExportError), never a traceback.

"Before:" in a test's comment says what the code before this change did with the same input.
"""

import io
import json
import os
import struct
import time
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgn_gui.cli import main
from kgn_gui.core.errors import CheckpointError, ExportError
from kgn_gui.core.export.bundle import read_bundle
from kgn_gui.core.jsonsafe import JSONError, dumps_strict, loads_bounded
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from tests.conftest import MODELS, no_hang

SPEC = ModelSpec(D=4, L=1, H=3, bound="sigmoid", shape=(1, 2, 2))
RECIPE = {
    "config": {"lr": 0.001, "batch": 8, "seed": 3, "steps": 10},
    "steps_done": 10,
    "best_eval_loss": 0.5,
    "final_batch_loss": 0.625,
    "device": "cpu",
    "elapsed_s": 1.5,
}
FUZZ = settings(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])


def strict_loads(text: str):
    """json.loads that refuses NaN / Infinity tokens, as every strict JSON parser does."""

    def refuse(name):
        raise ValueError(f"non-standard JSON token {name}")

    return json.loads(text, parse_constant=refuse)


def run_cli(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def one_line_error(err: str) -> str:
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


# -- model files -----------------------------------------------------------------------------------------------


def valid_model(path: Path, recipe=None) -> Path:
    return save_checkpoint(path, build_model(SPEC, seed=0), SPEC, dataset="toy", recipe=recipe or RECIPE)


def rewrite(src: Path, dst: Path, *, header=None, raw_header: bytes | None = None, meta=None) -> Path:
    """A copy of the model file ``src`` whose header (a dict edited by ``header``, or ``raw_header`` bytes)
    or kgn metadata (a dict edited by ``meta``; it may return a replacement, or a str of JSON) differs."""
    data = src.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    h = json.loads(data[8 : 8 + n])
    if meta is not None:
        m = json.loads(h["__metadata__"]["kgn"])
        m = meta(m) or m
        h["__metadata__"]["kgn"] = m if isinstance(m, str) else json.dumps(m)
    if header is not None:
        h = header(h) or h
    raw = raw_header if raw_header is not None else json.dumps(h).encode()
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    return dst


def set_path(d: dict, dotted: str, value):
    *parents, last = dotted.split(".")
    for key in parents:
        d = d[key]
    d[last] = value


@pytest.fixture
def model(tmp_path) -> Path:
    return valid_model(tmp_path / "good.safetensors")


def test_a_valid_model_reads_and_kgn_info_prints_its_recipe(model):
    meta = read_metadata(model)
    assert meta["recipe"]["config"]["lr"] == 0.001 and meta["steps"] == 10
    rc, out, err = run_cli(["info", model])
    assert rc == 0 and err == ""
    assert "training:    10 steps, lr 0.001, batch 8, seed 3, device cpu, 1.5 s" in out
    assert "final loss:  best eval 0.5, last batch 0.625" in out


@pytest.mark.parametrize(
    "field, value, message",
    [
        # Before: read_metadata did not check; `kgn info` raised AttributeError ('str' has no .get): a traceback.
        ("recipe", "abc", "recipe must be a JSON object"),
        # Before: load_checkpoint accepted it; `kgn info` and Checkpoint.save raised AttributeError.
        ("recipe.config", "abc", "recipe.config must be a JSON object or null"),
        ("recipe.config", [1, 2], "recipe.config must be a JSON object or null"),
        # Before: accepted; `kgn info` printed whatever was there ("lr {'x': 1}", "device [1]", ...).
        ("recipe.config.lr", {"x": 1}, "recipe.config.lr must be a number or null"),
        ("recipe.config.batch", "eight", "recipe.config.batch must be a non-negative integer or null"),
        ("recipe.config.seed", -1, "recipe.config.seed must be a non-negative integer or null"),
        ("recipe.config.seed", 1.5, "recipe.config.seed must be a non-negative integer or null"),
        ("recipe.steps_done", "10", "recipe.steps_done must be a non-negative integer or null"),
        ("recipe.steps_done", True, "recipe.steps_done must be a non-negative integer or null"),
        ("recipe.device", ["cpu"], "recipe.device must be text of at most 100 characters or null"),
        ("recipe.device", "x" * 101, "recipe.device must be text of at most 100 characters or null"),
        ("recipe.elapsed_s", "1.5 s", "recipe.elapsed_s must be a number or null"),
        ("recipe.final_batch_loss", {}, "recipe.final_batch_loss must be a number or null"),
        ("recipe.best_eval_loss", "low", "recipe.best_eval_loss must be a number or null"),
    ],
)
def test_metadata_fields_of_the_wrong_type_are_one_line_errors(model, tmp_path, field, value, message):
    bad = rewrite(model, tmp_path / "bad.safetensors", meta=lambda m: set_path(m, field, value))
    for read in (read_metadata, load_checkpoint):
        with pytest.raises(CheckpointError, match=f"bad.safetensors: damaged model metadata: {message}"):
            read(bad)
    rc, out, err = run_cli(["info", bad])
    assert rc == 1 and out == ""
    assert one_line_error(err).startswith(f"kgn info: error: bad.safetensors: damaged model metadata: {message}")


def test_null_and_missing_recipe_fields_still_read(model, tmp_path):
    # What older files may hold: no config, null numbers. Read as before (kgn info prints None).
    def edit(m):
        m["recipe"] = {"config": None, "steps_done": None, "device": None}

    p = rewrite(model, tmp_path / "old.safetensors", meta=edit)
    assert read_metadata(p)["recipe"]["config"] is None
    rc, out, _ = run_cli(["info", p])
    assert rc == 0 and "training:    None steps, lr None, batch None, seed None, device None, None s" in out
    ck = load_checkpoint(p)
    assert load_checkpoint(ck.save(tmp_path / "resaved.safetensors")).meta["seed"] is None  # Before: AttributeError


@pytest.mark.parametrize(
    "spec, message",
    [
        ("abc", "model spec must be a JSON object"),
        ({"D": "4"}, "D must be an integer"),
        ({"D": 4, "arch": ["mlp"]}, "unknown architecture"),
    ],
)
def test_a_bad_spec_is_one_line_from_read_metadata_and_info(model, tmp_path, spec, message):
    # Before: read_metadata returned it unchecked (the recovery scan then offered the file).
    bad = rewrite(model, tmp_path / "bad.safetensors", meta=lambda m: set_path(m, "spec", spec))
    with pytest.raises(CheckpointError, match=message):
        read_metadata(bad)
    rc, _, err = run_cli(["info", bad])
    assert rc == 1 and message in one_line_error(err)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize(
    "raw, message",
    [
        # Before: json.loads raised RecursionError (a traceback from every reader; the recovery scan died).
        (b"[" * 1_000_000, "not valid JSON: unbalanced brackets"),
        (nested(1_000_000).encode(), "JSON nested deeper than 32 levels"),
        (b'{"a": ' + nested(500_000).encode() + b"}", "JSON nested deeper than 32 levels"),
        # Before: ValueError "Exceeds the limit (4300 digits) for integer string conversion", not CheckpointError.
        (b'{"t": {"dtype": "F32", "shape": [' + b"7" * 100_000 + b'], "data_offsets": [0, 4]}}', "100,000 characters"),
        (b'{"a": -' + b"1" * 5_000 + b"}", "a number of 5,001 characters"),
    ],
)
def test_deep_or_huge_numbers_in_the_header_are_one_line(model, tmp_path, raw, message):
    bad = rewrite(model, tmp_path / "bad.safetensors", raw_header=raw)
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match=f"bad.safetensors: damaged header \\(.*{message}"):
        read_metadata(bad)
    assert time.perf_counter() - t0 < 10
    rc, _, err = run_cli(["info", bad])
    assert rc == 1 and message in one_line_error(err)


@pytest.mark.parametrize(
    "kgn, message",
    [
        (nested(200_000), "JSON nested deeper than 32 levels"),  # Before: RecursionError
        (
            '{"format": "kgn-gui/1", "seed": ' + "9" * 100_000 + "}",
            "a number of 100,000 characters",
        ),  # Before: ValueError
        ('{"format": "kgn-gui/1", "x": 0.' + "3" * 100 + "}", "a number of 102 characters"),
    ],
)
def test_deep_or_huge_numbers_in_the_metadata_are_one_line(model, tmp_path, kgn, message):
    bad = rewrite(model, tmp_path / "bad.safetensors", meta=lambda m: kgn)
    with pytest.raises(CheckpointError, match=f"bad.safetensors: damaged model metadata \\({message}"):
        load_checkpoint(bad)


def test_kgn_info_json_is_strict_json(tmp_path):
    # A run whose evaluation never happened has an infinite best loss; a diverged one NaN losses.
    recipe = {**RECIPE, "best_eval_loss": float("inf"), "final_batch_loss": float("nan")}
    p = valid_model(tmp_path / "m.safetensors", recipe=recipe)
    assert b"Infinity" in p.read_bytes() and b"NaN" in p.read_bytes()  # what the file holds (Python's JSON)
    rc, out, _ = run_cli(["info", p, "--json"])
    assert rc == 0
    doc = strict_loads(out)  # Before: ValueError: non-standard JSON token Infinity
    assert doc["final_loss"] is None and doc["recipe"]["final_batch_loss"] is None
    assert doc["recipe"]["config"]["lr"] == 0.001 and doc["name"] == "m"


def test_kgn_analyze_json_is_strict_json(tmp_path):
    # With 0 steps no chain has converged: burn_in and contraction_last are NaN.
    out = tmp_path / "a.json"
    rc, _, err = run_cli(
        ["analyze", MODELS / "2d-corners.safetensors", "--steps", "0", "--audit", "0", "-n", "4", "--json", out]
    )
    assert rc == 0, err
    doc = strict_loads(out.read_text())  # Before: ValueError: non-standard JSON token NaN
    assert doc["contraction_last"] is None and doc["burn_in"] is None
    assert doc["chains"] == 4 and doc["steps"] == 0 and doc["reference"] == "2d-corners"


# -- the JSON helper on its own --------------------------------------------------------------------------------


def test_loads_bounded_known_answers():
    assert loads_bounded(nested(32)) == json.loads(nested(32))
    with pytest.raises(JSONError, match="nested deeper than 32 levels"):
        loads_bounded(nested(33))
    assert loads_bounded('{"a": "' + "[" * 10_000 + '"}') == {"a": "[" * 10_000}  # brackets in strings: text
    assert loads_bounded(r'["\"[[[[", "\\", {"b": [1]}]', max_depth=3) == ['"[[[[', "\\", {"b": [1]}]
    with pytest.raises(JSONError, match="nested deeper than 2 levels"):
        loads_bounded('[{"a": [1]}]', max_depth=2)
    assert loads_bounded("1" * 40) == int("1" * 40)
    with pytest.raises(JSONError, match="a number of 41 characters"):
        loads_bounded("1" * 41)
    v = loads_bounded("[NaN, Infinity, -Infinity, 1e400]")
    assert np.isnan(v[0]) and v[1:] == [float("inf"), float("-inf"), float("inf")]
    for bad, message in ((b"\xff[]", "not UTF-8"), ("[1,", "Expecting value"), ("[}", "not valid JSON")):
        with pytest.raises(JSONError, match=message):
            loads_bounded(bad)


def test_loads_bounded_is_fast_on_hostile_documents():
    for doc in (
        b"[" * 8_000_000,
        nested(4_000_000).encode(),
        b'"' + b'\\"' * 4_000_000,  # an unterminated string of escapes (quadratic for a naive scanner)
        b"[" + b"[[[[[[[[]]]]]]]]," * 1_000_000 + b"1]",  # many arrays
    ):
        t0 = time.perf_counter()
        with pytest.raises(JSONError):
            loads_bounded(doc)
        assert time.perf_counter() - t0 < 5


def test_dumps_strict_known_answers():
    doc = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": (np.float32("nan"), np.int64(3))}
    assert dumps_strict(doc) == '{"a": null, "b": [null, null, 1.5], "c": [null, 3]}'
    assert dumps_strict({"x": np.arange(3), "y": np.float64(2.5), "z": True}) == '{"x": [0, 1, 2], "y": 2.5, "z": true}'
    assert dumps_strict({"p": Path("a")}, default=str) == '{"p": "a"}'
    with pytest.raises(TypeError):
        dumps_strict({"p": Path("a")})


# -- generated metadata ----------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
FIELDS = [
    "name",
    "dataset",
    "date",
    "version",
    "value_range",
    "data_shape",
    "recipe",
    "seed",
    "steps",
    "final_loss",
    "parameters",
    "recipe.config",
    "recipe.config.lr",
    "recipe.config.batch",
    "recipe.config.seed",
    "recipe.steps_done",
    "recipe.device",
    "recipe.elapsed_s",
    "recipe.final_batch_loss",
    "spec",
    "spec.D",
    "spec.shape",
]


@settings(FUZZ, max_examples=150)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), JSON_VALUES), min_size=1, max_size=3))
def test_generated_metadata_loads_or_is_one_line(model, tmp_path, edits):
    def edit(m):
        for field, value in edits:
            try:
                set_path(m, field, value)
            except (KeyError, TypeError, IndexError):  # an earlier edit replaced a parent: leave it
                pass

    p = rewrite(model, tmp_path / "gen.safetensors", meta=edit)
    try:
        meta = read_metadata(p)
    except CheckpointError as e:
        assert "\n" not in str(e)
        meta = None
    try:
        ck = load_checkpoint(p)
    except CheckpointError:
        ck = None
    assert ck is None or meta is not None  # a file that loads has readable metadata
    rc, out, err = run_cli(["info", p])
    assert rc == (0 if meta is not None else 1)
    if rc:
        one_line_error(err)
    rc, out, err = run_cli(["info", p, "--json"])
    if rc == 0:
        strict_loads(out)


# -- run bundles -----------------------------------------------------------------------------------------------

RUN = {
    "format": "kgn-bundle/1",
    "version": "x",
    "chain": {"n": 2, "start": "array", "noise": "normal", "eps": 0.02, "seed": 9, "sigma": 0.0, "mask": 0},
    "steps": [0, 2, 4],
    "export": {"fmt": "apng", "fps": 20.0, "scale": 2, "overlay": True, "chain": None, "max_tiles": 256, "grey": True},
    "has_start": True,
}
START = np.array([0.0, 0.25, 0.5, 1.0], np.float32)


def make_bundle(folder: Path, run=None, start=START) -> Path:
    folder.mkdir()
    valid_model(folder / "model.safetensors")
    (folder / "run.json").write_text(run if isinstance(run, str) else json.dumps(run or RUN, indent=2))
    if start is not None:
        np.save(folder / "start.npy", start, allow_pickle=False)
    return folder


def zip_of(folder: Path, out: Path, extra: dict | None = None) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.iterdir()):
            if extra is None or p.name not in extra:
                z.write(p, p.name)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out


def run_with(**changes) -> dict:
    run = json.loads(json.dumps(RUN))
    for dotted, value in changes.items():
        set_path(run, dotted.replace("__", "."), value)
    return run


@pytest.mark.parametrize("zipped", [False, True])
def test_a_valid_bundle_reads(tmp_path, zipped):
    b = make_bundle(tmp_path / "b")
    if zipped:
        b = zip_of(b, tmp_path / "b.zip")
    ck, cfg, start, steps, opts, _ = read_bundle(b)
    assert ck.spec == SPEC and cfg.n == 2 and cfg.seed == 9 and steps == [0, 2, 4] and opts.fmt == "apng"
    assert start.dtype == np.float32 and np.array_equal(start, START)


@pytest.mark.parametrize(
    "changes, message",
    [
        # Before: accepted by read_bundle; the chain or the export then failed later with a TypeError.
        ({"chain__n": "2"}, "chain.n must be a whole number"),
        ({"chain__eps": "0.1"}, "chain.eps must be a number"),
        ({"chain__seed": 1.5}, "chain.seed must be a whole number"),
        ({"chain__n": True}, "chain.n must be a whole number"),
        ({"chain__noise": "loud"}, "unknown noise 'loud'"),
        ({"export__fps": "fast"}, "export.fps must be a number"),
        ({"export__overlay": "yes"}, "export.overlay must be true or false"),
        ({"export__max_tiles": 0}, "export.max_tiles must be a whole number in"),
        ({"export__chain": 5}, "export.chain 5 but there are 2 chains"),
        ({"export__fmt": "exe"}, "unknown format 'exe'"),
        # Before: TypeError / KeyError caught; kept as known answers.
        ({"chain": "abc"}, "chain must be a JSON object"),
        ({"export": [1]}, "export must be a JSON object"),
        ({"chain__colour": 1}, "chain has unknown fields: colour"),
        # Before: "123" was read as the steps [1, 2, 3]; [true] as [1]; 10**15 accepted (a chain run for ever).
        ({"steps": "123"}, "steps must be a non-empty list"),
        ({"steps": []}, "steps must be a non-empty list"),
        ({"steps": [True]}, "steps must be whole numbers in \\[0, 10,000,000\\]"),
        ({"steps": [0, 10**15]}, "steps must be whole numbers in \\[0, 10,000,000\\]"),
        ({"steps": [-1]}, "steps must be whole numbers in"),
        ({"steps": [0] * 100_001}, "asks for 100,001 frames \\(at most 100,000\\)"),
        # Before: a truthy string read start.npy; false with an array start failed later in the chain.
        ({"has_start": "yes"}, "has_start must be true or false"),
        ({"has_start": False}, "a 'array' start needs start.npy"),
        ({"format": ["kgn-bundle/1"]}, "unknown bundle format"),
    ],
)
def test_run_json_fields_are_checked(tmp_path, changes, message):
    b = make_bundle(tmp_path / "b", run_with(**changes))
    with pytest.raises(ExportError, match=message):
        read_bundle(b)


@pytest.mark.parametrize(
    "text, message",
    [
        (nested(1_000_000), "nested deeper than 32 levels"),  # Before: RecursionError
        (
            '{"format": "kgn-bundle/1", "steps": [' + "1" * 100_000 + "]}",
            "a number of 100,000 characters",
        ),  # ValueError
        ("[1, 2", "damaged run.json \\(not valid JSON"),
        ("\udcff", "damaged run.json \\(not valid JSON: not UTF-8"),
    ],
)
def test_run_json_depth_and_numbers_are_bounded(tmp_path, text, message):
    b = tmp_path / "b"
    make_bundle(b)
    (b / "run.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ExportError, match=message):
        read_bundle(b)


@pytest.mark.parametrize(
    "start, message",
    [
        # Before: np.load refused with a ValueError (a different error type); complex was cast silently.
        (np.array([object(), 1, 2, 3], dtype=object), "holds Python objects \\(object\\), not an array of numbers"),
        (START.astype(np.complex64), "holds complex values \\(complex64\\), not an array of numbers"),
        (np.zeros(4, "datetime64[s]"), "holds dates \\(datetime64\\[s\\]\\), not an array of numbers"),
        (np.zeros(4, [("a", "f4")]), "holds structured records"),
        # Before: accepted here; the chain failed later.
        (np.zeros(5, np.float32), "start.npy has shape \\(5,\\); the model needs 4 values \\(or rows of 4\\)"),
        (np.zeros((3, 5), np.float32), "start.npy has shape \\(3, 5\\)"),
        (np.zeros(0, np.float32), "start.npy: holds no values \\(shape \\(0,\\)\\)"),
        (np.array([0, np.nan, 0, 0], np.float32), "NaN or infinite"),
    ],
)
def test_start_npy_is_checked(tmp_path, start, message):
    b = tmp_path / "b"
    make_bundle(b, start=None)
    with open(b / "start.npy", "wb") as f:
        np.lib.format.write_array(f, start, allow_pickle=True)
    with pytest.raises(ExportError, match=message):
        read_bundle(b)


def test_start_npy_rows_and_integer_values_read(tmp_path):
    b = make_bundle(tmp_path / "b", start=np.array([[0, 1, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1]], np.uint8))
    start = read_bundle(b)[2]  # more rows than chains: the chain takes the first n (as from kgn --start)
    assert start.dtype == np.float32 and start.shape == (3, 4) and start.sum() == 8


def test_a_start_npy_whose_header_lies_is_refused_before_reading(tmp_path):
    # Before: np.load trusted the declared shape (a ValueError after trying to read 4 GB).
    b = make_bundle(tmp_path / "b", start=None)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 4), }".ljust(117) + "\n"
    (b / "start.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 16)
    with pytest.raises(
        ExportError, match=r"start.npy: declares shape \(1000000000, 4\) \(16,000,000,000 bytes\), more than allowed"
    ):
        read_bundle(b)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }".ljust(117) + "\n"
    (b / "start.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 8)
    with pytest.raises(
        ExportError, match="start.npy: truncated: the header declares 16 bytes of data, the file holds 8"
    ):
        read_bundle(b)


def test_files_that_lead_outside_the_folder_are_refused(tmp_path):
    # Before: followed the link and read the file it named.
    outside = make_bundle(tmp_path / "elsewhere")
    b = make_bundle(tmp_path / "b")
    (b / "run.json").unlink()
    (b / "run.json").symlink_to(outside / "run.json")
    with pytest.raises(ExportError, match="run.json points outside the bundle"):
        read_bundle(b)
    (b / "run.json").unlink()
    (b / "run.json").write_text(json.dumps(RUN))
    (b / "model.safetensors").unlink()
    (b / "model.safetensors").symlink_to("../elsewhere/model.safetensors")
    with pytest.raises(ExportError, match="model.safetensors points outside the bundle"):
        read_bundle(b)


def test_a_fifo_or_folder_in_a_bundle_is_refused_without_blocking(tmp_path):
    b = make_bundle(tmp_path / "b")
    (b / "run.json").unlink()
    os.mkfifo(b / "run.json")
    with (
        no_hang(),
        pytest.raises(ExportError, match=r"run.json: not a regular file \(a named pipe\)"),
    ):  # Before: blocked for ever
        read_bundle(b)
    (b / "run.json").unlink()
    (b / "run.json").mkdir()
    with pytest.raises(
        ExportError, match=r"run.json: not a regular file \(a folder\)"
    ):  # Before: "no readable run.json"
        read_bundle(b)
    with no_hang(), pytest.raises(ExportError, match="not a run bundle"):
        os.mkfifo(tmp_path / "fifo.zip")
        read_bundle(tmp_path / "fifo.zip")


def test_a_zip_member_larger_than_its_cap_is_refused_before_reading(tmp_path):
    # 5 MB of run.json (spaces: it compresses to a few kB). Before: extracted and parsed.
    b = make_bundle(tmp_path / "b")
    padded = json.dumps(RUN) + " " * (5 << 20)
    z = zip_of(b, tmp_path / "b.zip", extra={"run.json": padded})
    assert z.stat().st_size < 100_000
    with pytest.raises(
        ExportError, match="run.json in the zip declares 5,2\\d\\d,\\d\\d\\d bytes \\(at most 4,194,304\\)"
    ):
        read_bundle(z)


def test_a_zip_member_that_lies_about_its_size_is_one_line(tmp_path):
    # The central directory says run.json has 10 bytes; it has more. Before: zipfile.BadZipFile (a traceback).
    z = zip_of(make_bundle(tmp_path / "b"), tmp_path / "b.zip")
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("run.json")
    cd = data.find(b"PK\x01\x02")
    while data[cd + 46 : cd + 46 + len("run.json")] != b"run.json":
        cd = data.find(b"PK\x01\x02", cd + 4)
    assert struct.unpack("<L", data[cd + 24 : cd + 28])[0] == info.file_size
    data[cd + 24 : cd + 28] = struct.pack("<L", 10)
    z.write_bytes(bytes(data))
    with pytest.raises(ExportError, match="damaged zip"):
        read_bundle(z)


def test_a_damaged_model_in_a_bundle_is_one_line_naming_the_bundle(tmp_path):
    b = make_bundle(tmp_path / "b")
    rewrite(b / "model.safetensors", b / "model.safetensors", meta=lambda m: set_path(m, "recipe.config", "abc"))
    with pytest.raises(ExportError, match="b: model.safetensors: damaged model metadata: recipe.config"):
        read_bundle(b)


@settings(FUZZ, max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["format", "chain", "export", "steps", "has_start"]
                + [f"chain.{k}" for k in RUN["chain"]]
                + [f"export.{k}" for k in RUN["export"]]
            ),
            JSON_VALUES,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_generated_run_json_reads_or_is_one_line(tmp_path_factory, edits):
    run = json.loads(json.dumps(RUN))
    for field, value in edits:
        try:
            set_path(run, field, value)
        except (KeyError, TypeError, IndexError):
            pass
    b = tmp_path_factory.mktemp("gen") / "b"
    make_bundle(b, json.dumps(run))
    try:
        ck, cfg, start, steps, opts, _ = read_bundle(b)
    except ExportError as e:
        assert "\n" not in str(e)
        return
    cfg.validate()
    opts.validate()
    assert all(isinstance(t, int) for t in steps) and 0 < len(steps) <= 100_000
