"""Untrusted model files, fuzzed: whatever the bytes, loading either succeeds or raises CheckpointError.

1,300 generated files per run (hypothesis): random bytes, byte flips / truncations / insertions of a valid
file, headers built from random tensor tables and random metadata, and headers that declare huge tensors
(which must be refused before anything is allocated).
"""

import json
import math
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgn_gui.core.errors import CheckpointError
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint

SPEC = ModelSpec(D=6, L=2, H=5, bound="sigmoid", shape=(6,))
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _valid_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = save_checkpoint(
            Path(d) / "m.safetensors",
            build_model(SPEC, seed=0),
            SPEC,
            dataset="toy",
            recipe={"config": {"seed": 0}, "steps_done": 3, "best_eval_loss": 0.25},
        )
        return p.read_bytes()


VALID = _valid_bytes()
HEADER_LEN = struct.unpack("<Q", VALID[:8])[0]


def load_bytes(data: bytes):
    """Load ``data`` as a model file; returns the checkpoint or the CheckpointError (anything else fails)."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "fuzz.safetensors"
        p.write_bytes(data)
        try:
            ck = load_checkpoint(p)
        except CheckpointError as e:
            assert str(e) and "Traceback" not in str(e)
            return e
        read_metadata(p)  # a file that loads also has readable metadata
        return ck


def file_from(header: dict, payload: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


@settings(FUZZ, max_examples=250)
@given(st.binary(min_size=0, max_size=4096))
def test_random_bytes(data):
    assert isinstance(load_bytes(data), CheckpointError)


@settings(FUZZ, max_examples=400)
@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(0, len(VALID))),
    st.binary(max_size=64),
)
def test_mutated_valid_files(flips, cut, inserted):
    data = bytearray(VALID)
    for pos, byte in flips:
        data[pos] = byte
    data = bytes(data[:cut] if cut is not None else data)
    if inserted:
        data = data[: HEADER_LEN // 2] + inserted + data[HEADER_LEN // 2 :]
    result = load_bytes(data)
    if not isinstance(result, CheckpointError):  # e.g. a flip inside the weights: a model that still works
        assert result.spec == SPEC


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
spec_dicts = st.fixed_dictionaries(
    {},
    optional={
        "D": st.one_of(st.integers(-5, 2**40), json_values),
        "L": st.one_of(st.integers(-2, 300), json_values),
        "H": st.one_of(st.integers(-2, 2**20), json_values),
        "bound": st.sampled_from(["tanh", "sigmoid", "relu", 3]),
        "arch": st.sampled_from(["mlp", "cnn", "unet", "transformer", "rnn", None]),
        "shape": st.one_of(st.lists(st.integers(-3, 2**20), max_size=4), json_values),
        "bottleneck": json_values,
        "patch": json_values,
        "heads": json_values,
        "extra": json_values,
    },
)
meta_dicts = st.fixed_dictionaries(
    {"format": st.sampled_from(["kgn-gui/1", "kgn-gui/1", "other", 1])},
    optional={
        "spec": st.one_of(spec_dicts, json_values),
        "value_range": json_values,
        "data_shape": json_values,
        "name": json_values,
        "dataset": json_values,
        "recipe": json_values,
        "steps": json_values,
        "final_loss": json_values,
        "seed": json_values,
        "date": json_values,
        "version": json_values,
    },
)
tensor_entries = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "F32", "F16", "I64", "BOOL", 7]),
        "shape": st.one_of(st.lists(st.integers(0, 8), max_size=3), json_values),
        "data_offsets": st.one_of(st.lists(st.integers(-4, 400), min_size=2, max_size=2), json_values),
    }
)


@settings(FUZZ, max_examples=400)
@given(
    meta_dicts,
    st.dictionaries(st.sampled_from(["net.0.weight", "net.0.bias", "net.2.weight", "x"]), tensor_entries, max_size=4),
    st.binary(max_size=512),
    st.booleans(),
)
def test_generated_headers_and_metadata(meta, tensors, payload, valid_tensors):
    header = dict(tensors)
    if valid_tensors:  # the valid model's tensor table and data, with generated metadata
        valid_header = json.loads(VALID[8 : 8 + HEADER_LEN])
        valid_header.pop("__metadata__")
        header, payload = valid_header, VALID[8 + HEADER_LEN :]
    header["__metadata__"] = {"kgn": json.dumps(meta)}
    result = load_bytes(file_from(header, payload))
    if not isinstance(result, CheckpointError):
        assert isinstance(result.name, str) and len(result.value_range) == 2
        assert all(isinstance(v, (int, float)) for v in result.value_range)


@settings(FUZZ, max_examples=250)
@given(st.lists(st.integers(1, 2**40), min_size=1, max_size=4), st.integers(2, 6), st.integers(1, 1 << 16))
def test_huge_declared_shapes_are_refused_before_allocating(shape, L, H):
    # A header that claims enormous tensors (and a spec that would need them) with a few bytes of data.
    spec = {"D": 6, "L": L, "H": H, "bound": "tanh", "shape": [6]}
    header = {f"net.{i}.weight": {"dtype": "F32", "shape": shape, "data_offsets": [0, 16]} for i in range(2)}
    header["__metadata__"] = {"kgn": json.dumps({"format": "kgn-gui/1", "spec": spec})}
    assert isinstance(load_bytes(file_from(header, b"\0" * 16)), CheckpointError)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl", ".ckpt"])
def test_pickle_suffixes_are_refused_with_the_reason(tmp_path, suffix):
    p = tmp_path / f"model{suffix}"
    p.write_bytes(b"\x80\x04K\x01.")  # a pickle; must never be opened
    with pytest.raises(CheckpointError, match="arbitrary code"):
        load_checkpoint(p)


VALID_META = json.loads(json.loads(VALID[8 : 8 + HEADER_LEN])["__metadata__"]["kgn"])


@settings(FUZZ, max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "value_range",
                "data_shape",
                "name",
                "dataset",
                "recipe",
                "steps",
                "final_loss",
                "seed",
                "date",
                "version",
                "parameters",
            ]
        ),
        json_values,
        min_size=1,
        max_size=4,
    )
)
def test_metadata_fields_the_app_reads_are_checked(fields):
    # The valid model's spec and weights with other metadata: what loads has fields the window can show.
    header = json.loads(VALID[8 : 8 + HEADER_LEN])
    header["__metadata__"] = {"kgn": json.dumps({**VALID_META, **fields})}
    result = load_bytes(file_from(header, VALID[8 + HEADER_LEN :]))
    if not isinstance(result, CheckpointError):
        m = result.meta
        assert result.value_range == SPEC.value_range
        assert isinstance(m["name"], str) and isinstance(m.get("dataset", ""), str)
        assert isinstance(m.get("recipe", {}), dict)
        assert [int(v) for v in m.get("data_shape", [6])] == [6]
        for k in ("steps", "seed", "parameters"):
            assert m.get(k) is None or (isinstance(m[k], int) and not isinstance(m[k], bool))
        assert m.get("final_loss") is None or isinstance(m["final_loss"], (int, float))


def undrawable_model(folder: Path, channels: int) -> Path:
    """A valid 1×4×4 MLP's file whose spec says its images have ``channels`` channels (the same 16 values)."""
    spec = ModelSpec(D=16, L=2, H=5, bound="tanh", shape=(1, 4, 4))
    raw = save_checkpoint(folder / "good.safetensors", build_model(spec, seed=0), spec, dataset="toy").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["kgn"])
    shape = [channels, 2, 8 // channels] if 16 % (2 * channels) == 0 else [channels, 1, 1]
    meta["spec"] = {**meta["spec"], "D": math.prod(shape), "shape": shape}
    meta["data_shape"] = shape
    header["__metadata__"] = {"kgn": json.dumps(meta)}
    bad = folder / "bad.safetensors"
    bad.write_bytes(file_from(header, raw[8 + n :]))
    return bad


@pytest.mark.parametrize("channels", [2, 4, 5])
def test_images_whose_channels_no_picture_draws_are_refused_at_load(tmp_path, channels, capsys):
    # Every picture of a sample is grey or RGB, so load refuses such a file in one line before any work (it
    # once ended in a Pillow traceback in kgn export, and the window's grid raised on every step).
    from kgn_gui.cli import main

    bad = undrawable_model(tmp_path, channels)
    with pytest.raises(CheckpointError, match=rf"bad\.safetensors: images of {channels} channels .* cannot be drawn"):
        load_checkpoint(bad)
    for argv in (["export", str(bad), "--steps", "0,2", "-o", str(tmp_path / "a.gif")],
                 ["sample", str(bad), "-n", "2", "--steps", "2", "-o", str(tmp_path / "s")]):  # fmt: skip
        assert main(argv) != 0
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"images of {channels} channels" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors", "good.safetensors"]  # nothing written
