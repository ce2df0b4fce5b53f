"""`kgn train` under torchrun: two CPU processes on the gloo backend make the same model as one."""

import os
import subprocess
import sys

import pytest
import torch

from kgn_gui.core.model.checkpoint import load_checkpoint, read_metadata
from tests.conftest import REPO

ARGS = [
    "train",
    "--data",
    "mnist:test",
    "--subset",
    "256",
    "--L",
    "2",
    "--H",
    "16",
    "--lr",
    "1e-3",
    "--batch",
    "64",
    "--steps",
    "20",
    "--eval-every",
    "1000",
    "--device",
    "cpu",
]
# One thread per process; gloo on the loopback interface (a CI machine's hostname may not resolve).
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


@pytest.mark.slow
@pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="this torch build has no gloo backend",
)
def test_two_gloo_processes_train_the_same_model_as_one(tmp_path):
    env = ENV
    two, one = tmp_path / "two.safetensors", tmp_path / "one.safetensors"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "kgn_gui.cli",
            *ARGS,
            "-o",
            str(two),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.count("model: MLP") == 1 and "× 2 processes" in r.stderr  # one process reports
    r1 = subprocess.run(
        [sys.executable, "-m", "kgn_gui.cli", *ARGS, "-o", str(one)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert r1.returncode == 0, r1.stderr[-2000:]
    assert read_metadata(two)["recipe"]["processes"] == 2
    a, b = load_checkpoint(one).model.state_dict(), load_checkpoint(two).model.state_dict()
    # Each process trains on half of the same batch and DDP averages the gradients: the same steps.
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    assert not list(tmp_path.glob(".*.part"))


def test_a_batch_that_the_processes_cannot_share_equally_is_refused(tmp_path):
    env = ENV
    args = [a if a != "64" else "63" for a in ARGS]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "kgn_gui.cli",
            *args,
            "-o",
            str(tmp_path / "x.safetensors"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert r.returncode != 0 and "multiple of the number of processes" in r.stderr
    assert not (tmp_path / "x.safetensors").exists()
