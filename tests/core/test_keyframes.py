"""Issue 19: the timeline's disk tier — exact scrubbing across keyframes on disk, bounded RAM and disk, and
the tier's cleanup (closed, collected, and after its process was killed)."""

import gc
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from kgn_gui.core.chain import keyframes
from kgn_gui.core.chain.chain import Chain, ChainConfig, start_states
from kgn_gui.core.chain.keyframes import StoreError, clean_stale, disk_budget, open_store
from kgn_gui.core.chain.sampler import Sampler
from kgn_gui.core.chain.session import ChainSession
from kgn_gui.core.chain.timeline import DISK_KEYFRAME_EVERY, Timeline
from kgn_gui.core.model.architectures import ModelSpec, build_model
from tests.conftest import REPO

N, D = 16, 64
STATE = N * D * 4


@pytest.fixture
def chain():
    spec = ModelSpec(D=D, L=3, H=64, bound="tanh")
    return Chain(build_model(spec, seed=0), spec.value_range, Sampler("normal", 0.05), seed=3), spec


def recorded(ch, spec, steps):
    x0 = start_states(ChainConfig(n=N, seed=1), spec.D, spec.value_range)
    out = [x0.numpy().copy()]
    x = x0
    for t in range(steps):
        x = ch.step(x, t)
        out.append(x.numpy().copy())
    return x0, out


def disk_history(chain, tmp_path, steps, disk_states, ram_states, **kw):
    """The recorded states of ``steps`` steps, and a timeline of the same chain with a disk tier of
    ``disk_states`` slots and a RAM budget of ``ram_states`` states (not advanced yet)."""
    ch, spec = chain
    x0, rec = recorded(ch, spec, steps)
    store = open_store((N, D), budget_bytes=disk_states * STATE, root=tmp_path)
    return rec, store, Timeline(ch, x0.clone(), budget_bytes=ram_states * STATE, disk=store, **kw)


def test_scrubbing_across_keyframes_on_disk_is_bit_exact_within_both_budgets(chain, tmp_path):
    rec, store, tl = disk_history(chain, tmp_path, 300, disk_states=1000, ram_states=12, keyframe_every=10)
    assert tl.K == DISK_KEYFRAME_EVERY
    tl.advance(300)
    # Every keyframe is on disk (K stayed small), RAM holds step 0 and a few.
    assert store.steps() == list(range(0, 301, tl.K)) and tl.K == DISK_KEYFRAME_EVERY
    assert tl.memory_bytes <= 12 * STATE
    rng = np.random.default_rng(0)
    for t in [299, 0, 7, 8, 9, 150, 151, 3, 296, *rng.integers(0, 300, 40)]:
        t = int(t)
        k, near = tl.nearest(t)
        assert k <= t and t - k < tl.K and np.array_equal(near, rec[k]), t
        assert np.array_equal(tl.state(t), rec[t]), t
        assert tl.memory_bytes <= 12 * STATE
    tl.close()
    assert not store.folder.exists()
    assert np.array_equal(tl.state(123), rec[123])  # RAM only now, still exact


def test_a_full_disk_thins_the_grid_and_stays_exact(chain, tmp_path):
    rec, store, tl = disk_history(chain, tmp_path, 200, disk_states=10, ram_states=8)
    tl.advance(200)
    # 10 slots: K doubles 6 → 12 → 24 until 200 // K + 1 ≤ 10, i.e. K = 24 (9 keyframes).
    assert tl.K == 24 and store.steps() == list(range(0, 201, 24)) and store.bytes_used <= 10 * STATE
    for t in (199, 23, 24, 25, 100, 1):
        assert np.array_equal(tl.state(t), rec[t]), t


def test_a_failing_disk_falls_back_to_ram_without_losing_exactness(chain, tmp_path, monkeypatch):
    rec, store, tl = disk_history(chain, tmp_path, 120, disk_states=100, ram_states=10)
    tl.advance(60)

    def broken(*a, **k):
        raise StoreError("could not write a keyframe: No space left on device")

    monkeypatch.setattr(store, "put", broken)
    tl.advance(60)
    assert tl.disk is None and "No space left" in tl.disk_error and not store.folder.exists()
    for t in (119, 5, 57, 64, 100):
        assert np.array_equal(tl.state(t), rec[t]), t
    assert tl.memory_bytes <= 10 * STATE


def test_truncate_and_rebase_drop_the_later_keyframes_on_disk(chain, tmp_path):
    rec, store, tl = disk_history(chain, tmp_path, 100, disk_states=100, ram_states=10)
    tl.advance(100)
    tl.truncate(50)
    assert max(store.steps()) <= 50 and tl.t_max == 50
    assert np.array_equal(tl.state(50), rec[50]) and np.array_equal(tl.state(45), rec[45])
    tl.advance(50)  # the same chain again: the same states
    assert np.array_equal(tl.state(97), rec[97])


def test_the_folder_goes_when_the_session_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spec = ModelSpec(D=D, L=1, H=16, bound="tanh")
    s = ChainSession(build_model(spec, seed=0), (D,), spec.value_range, ChainConfig(n=N), history_disk=True)
    s.advance(20)
    root = tmp_path / "kgn-gui" / "history"
    assert len(list(root.iterdir())) == 1 and s.timeline.disk is not None
    del s
    gc.collect()
    assert list(root.iterdir()) == []


KILLED = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from kgn_gui.core.chain.keyframes import open_store
import numpy as np
store = open_store((4, 8), budget_bytes=1 << 20, root=sys.argv[1])
store.put(0, np.zeros((4, 8), np.float32))
print(store.folder, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_folder_left_by_a_killed_process_is_removed_at_the_next_start(tmp_path):
    run = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL
    left = tmp_path / run.stdout.strip().split("/")[-1]
    assert left.is_dir() and (left / "keyframes.bin").stat().st_size == 4 * 8 * 4
    mine = tmp_path / f"{os.getpid()}-alive"  # a live process's folder (ours) is left alone
    mine.mkdir()
    (mine / "owner").write_text(f"{os.getpid()} {keyframes._start_time(os.getpid())}\n")
    other = tmp_path / "not-a-history"  # nor is what is not a history folder
    other.mkdir()
    store = open_store((4, 8), budget_bytes=1 << 20, root=tmp_path)
    assert not left.exists() and mine.exists() and other.exists() and store.folder.exists()
    store.close()
    assert clean_stale(tmp_path) == [] and mine.exists()


def test_no_cache_folder_or_a_zero_budget_means_ram_only(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert open_store((N, D), root=blocker / "history") is None
    monkeypatch.setenv(keyframes.ENV_DISK_MB, "0")
    assert disk_budget() == 0 and open_store((N, D), root=tmp_path) is None
    monkeypatch.setenv(keyframes.ENV_DISK_MB, "lots")
    with pytest.raises(StoreError, match="whole number of MB"):
        disk_budget()
    monkeypatch.setenv(keyframes.ENV_DISK_MB, "64")
    assert disk_budget() == 64 << 20


def test_a_state_read_back_is_the_state_written(tmp_path):
    store = open_store((3, 5), budget_bytes=1 << 20, root=tmp_path)
    a = np.array([[np.nan, -0.0, 1e-45, -1, 1], [2, 3, 4, 5, 6], [7, 8, 9, 10, np.inf]], np.float32)
    store.put(7, a)
    store.put(9, a * 2)
    assert store.get(7).tobytes() == a.tobytes() and store.get(9).tobytes() == (a * 2).tobytes()
    store.keep_only(lambda t: t != 7)
    store.put(11, a + 1)  # reuses the freed slot
    assert len(store) == 2 and store.get(11).tobytes() == (a + 1).tobytes()
    with pytest.raises(StoreError, match="does not fit"):
        store.put(1, np.zeros((2, 5), np.float32))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get(9)


def test_a_normal_exit_removes_the_folder(tmp_path):
    script = KILLED.replace("os.kill(os.getpid(), signal.SIGKILL)", "")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() and list(tmp_path.iterdir()) == []
