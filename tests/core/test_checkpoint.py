import json
import os
import struct

import pytest
import torch

from kgn_gui.core.errors import CheckpointError
from kgn_gui.core.model.architectures import ModelSpec, build_model
from kgn_gui.core.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint


@pytest.fixture
def saved(tmp_path):
    spec = ModelSpec(D=6, L=2, H=5, bound="sigmoid", shape=(6,))
    model = build_model(spec, seed=0)
    path = save_checkpoint(
        tmp_path / "m.safetensors",
        model,
        spec,
        dataset="toy",
        recipe={"config": {"seed": 0, "lr": 1e-3}, "steps_done": 10, "best_eval_loss": 0.5},
    )
    return path, model, spec


def test_round_trip_keeps_weights_and_metadata(saved):
    path, model, spec = saved
    ck = load_checkpoint(path)
    assert ck.spec == spec and ck.value_range == (0.0, 1.0)
    for (ka, a), (kb, b) in zip(model.state_dict().items(), ck.model.state_dict().items()):
        assert ka == kb and torch.equal(a, b)
    meta = read_metadata(path)
    for key in (
        "spec",
        "value_range",
        "data_shape",
        "dataset",
        "recipe",
        "seed",
        "steps",
        "final_loss",
        "version",
        "date",
    ):
        assert key in meta
    assert meta["dataset"] == "toy" and meta["steps"] == 10 and meta["final_loss"] == 0.5
    # The usual permissions of a new file (0666 less the umask), as open() gives, not mkstemp's 0600.
    plain = path.parent / "plain.txt"
    plain.write_text("x")
    assert os.stat(path).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
    plain.unlink()


def test_no_partial_file_is_left_behind(saved, tmp_path):
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def _corrupt(path, data):
    path.write_bytes(data)
    return path


def test_damaged_files_get_clear_errors(saved, tmp_path):
    path, _, _ = saved
    good = path.read_bytes()
    cases = {
        "random.safetensors": os.urandom(300),
        "short.safetensors": b"abc",
        "trunc.safetensors": good[: len(good) - 20],
        "header.safetensors": struct.pack("<Q", 10) + b"{not json}" + b"\0" * 10,
    }
    for name, data in cases.items():
        with pytest.raises(CheckpointError):
            load_checkpoint(_corrupt(tmp_path / name, data))
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_pickles_are_refused_without_being_opened(tmp_path):
    p = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(1)}, p)
    with pytest.raises(CheckpointError, match="pickled"):
        load_checkpoint(p)


def _rewrite_header(path, mutate):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    mutate(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    return path


def test_metadata_and_shapes_are_checked(saved):
    path, _, _ = saved

    def wrong_width(h):
        meta = json.loads(h["__metadata__"]["kgn"])
        meta["spec"]["H"] = 7
        h["__metadata__"]["kgn"] = json.dumps(meta)

    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(_rewrite_header(path, wrong_width))


def test_a_plain_safetensors_file_is_not_a_model(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(CheckpointError, match="not a Kaleidoscope Studio model"):
        load_checkpoint(tmp_path / "x.safetensors")


def test_wrong_dtype_is_refused(tmp_path):
    from safetensors.torch import save_file

    spec = ModelSpec(D=2, L=1, H=2, bound="sigmoid")
    sd = {k: v.double() for k, v in build_model(spec).state_dict().items()}
    meta = {"format": "kgn-gui/1", "spec": spec.to_dict()}
    save_file(sd, str(tmp_path / "d.safetensors"), metadata={"kgn": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="dtype"):
        load_checkpoint(tmp_path / "d.safetensors")


def test_unwritable_target_is_a_clear_error(saved, tmp_path):
    _, model, spec = saved
    with pytest.raises(CheckpointError, match="does not exist"):
        save_checkpoint(tmp_path / "nope" / "m.safetensors", model, spec)
    with pytest.raises(CheckpointError, match="safetensors"):
        save_checkpoint(tmp_path / "m.pt", model, spec)
