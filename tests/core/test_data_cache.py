"""core.data.cache: a folder of images, an IDX file or an image array is decoded once and mapped after, the
same data bit for bit; a changed source gets a new entry; a damaged entry is rebuilt, never trusted; a cache
that cannot be written never loses the import."""

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from kgn_gui.core.data import cache, sources
from kgn_gui.core.data.cache import cache_folder, use_cache_folder
from kgn_gui.core.data.dataset import ByteDataset, Dataset
from kgn_gui.core.data.sources import open_source
from kgn_gui.core.errors import DataError


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("KGN_CACHE", str(d))
    return d


@pytest.fixture
def decodes(monkeypatch):
    """How many times each image file was decoded (the cache's whole point is that a re-open decodes none)."""
    from kgn_gui.core.data import images

    seen = []
    real = images._image_to_unit
    monkeypatch.setattr(images, "_image_to_unit", lambda im, mode, size: (seen.append(1), real(im, mode, size))[1])
    return seen


def png_folder(root, n=12, seed=0, mode="L"):
    rng = np.random.default_rng(seed)
    for k in range(n):
        cls = root / ("odd" if k % 2 else "even")
        cls.mkdir(parents=True, exist_ok=True)
        shape = (20 + k, 24) if mode == "L" else (20 + k, 24, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(cls / f"{k:03}.png")
    (root / "notes.txt").write_text("not an image")
    return root


def same(a, b):
    assert a.x.dtype == b.x.dtype == np.float32 and np.array_equal(a.x, b.x)
    assert (a.shape, a.value_range, a.name, a.class_names, a.skipped) == (
        b.shape,
        b.value_range,
        b.name,
        b.class_names,
        b.skipped,
    )
    assert (a.labels is None and b.labels is None) or np.array_equal(a.labels, b.labels)


def entries(d):
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")) if d.exists() else []


def test_an_image_folder_is_decoded_once_and_mapped_after_the_same_bit_for_bit(
    tmp_path, cache_dir, decodes, monkeypatch
):
    folder = png_folder(tmp_path / "imgs")
    monkeypatch.setenv("KGN_CACHE", "off")
    plain = open_source(str(folder), (-1.0, 1.0))  # the import as it was before the cache
    assert len(decodes) == 12 and not cache_dir.exists()
    monkeypatch.setenv("KGN_CACHE", str(cache_dir))
    first = open_source(str(folder), (-1.0, 1.0))
    assert len(decodes) == 24 and len(entries(cache_dir)) == 1
    (entry,) = entries(cache_dir)
    assert sorted(p.name for p in entry.iterdir()) == ["labels.i64", "meta.json", "x.u8"]
    assert (entry / "x.u8").stat().st_size == 12 * 28 * 28  # one byte a pixel
    again = open_source(str(folder), (-1.0, 1.0))
    other_range = open_source(str(folder), (0.0, 1.0))
    assert len(decodes) == 24  # nothing decoded again, for any value range
    same(plain, first)
    same(plain, again)
    assert "notes.txt: not a" in again.skipped[0] and list(again.labels) == [0] * 6 + [1] * 6
    monkeypatch.setenv("KGN_CACHE", "off")
    same(open_source(str(folder), (0.0, 1.0)), other_range)


def test_a_changed_file_gives_a_new_entry_with_the_new_pixels(tmp_path, cache_dir, decodes):
    folder = png_folder(tmp_path / "imgs", n=4)
    before = open_source(str(folder), (0.0, 1.0))
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(folder / "even" / "000.png")  # another size and time
    after = open_source(str(folder), (0.0, 1.0))
    assert len(decodes) == 8 and len(entries(cache_dir)) == 2
    assert float(after.x[0].min()) == 1.0 and not np.array_equal(before.x[0], after.x[0])
    (folder / "odd" / "001.png").unlink()
    assert open_source(str(folder), (0.0, 1.0)).M == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: (e / "x.u8").write_bytes(b"\x07" + (e / "x.u8").read_bytes()[1:]),  # one byte changed
        lambda e: (e / "x.u8").write_bytes((e / "x.u8").read_bytes()[:-5]),  # truncated
        lambda e: (e / "meta.json").write_text("{not json"),
        lambda e: (e / "meta.json").write_text('{"version": 1, "dtype": "u8", "M": -1}'),
        lambda e: (e / "labels.i64").write_bytes(b"\x00" * 3),
        lambda e: (e / "x.u8").unlink(),
    ],
    ids=["flipped", "truncated", "garbled-meta", "lying-meta", "short-labels", "missing-data"],
)
def test_a_damaged_entry_is_rebuilt_never_trusted(tmp_path, cache_dir, decodes, damage):
    folder = png_folder(tmp_path / "imgs", n=4)
    good = open_source(str(folder), (-1.0, 1.0))
    _ = good.x  # read whole now: a ByteDataset maps the entry, and the damage is done to the file in place
    (entry,) = entries(cache_dir)
    damage(entry)
    rebuilt = open_source(str(folder), (-1.0, 1.0))
    assert len(decodes) == 8  # imported again
    same(good, rebuilt)
    assert open_source(str(folder), (-1.0, 1.0)) is not None and len(decodes) == 8  # and the new entry is good


def test_deep_images_are_kept_as_floats_and_idx_files_as_bytes(tmp_path, cache_dir, monkeypatch):
    deep = tmp_path / "deep"
    deep.mkdir()
    rng = np.random.default_rng(1)
    for k in range(3):
        Image.fromarray(rng.integers(0, 65536, (28, 28), dtype=np.uint16)).save(deep / f"{k}.png")
    idx = tmp_path / "train-images-idx3-ubyte.gz"
    pixels = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    idx.write_bytes(gzip.compress(struct.pack(">IIII", 0x0803, 5, 28, 28) + pixels.tobytes()))
    got = {name: open_source(str(p), (-1.0, 1.0)) for name, p in (("deep", deep), ("idx", idx))}
    kinds = sorted(next(f.name for f in e.iterdir() if f.name.startswith("x.")) for e in entries(cache_dir))
    assert kinds == ["x.f32", "x.u8"]
    monkeypatch.setenv("KGN_CACHE", "off")
    for name, p in (("deep", deep), ("idx", idx)):
        same(open_source(str(p), (-1.0, 1.0)), got[name])
    assert np.array_equal(np.rint((got["idx"].x + 1) / 2 * 255).astype(np.uint8), pixels.reshape(5, -1))


def test_flat_arrays_are_read_as_they_are_and_not_cached(tmp_path, cache_dir):
    p = tmp_path / "pts.npy"
    np.save(p, np.array([[0.2, -0.5], [0.9, 0.1]], np.float32))
    ds = open_source(str(p), (-1.0, 1.0))
    assert np.array_equal(ds.x, np.array([[0.2, -0.5], [0.9, 0.1]], np.float32)) and entries(cache_dir) == []


def test_a_cache_that_cannot_be_written_never_loses_the_import(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("KGN_CACHE", str(blocker / "cache"))
    folder = png_folder(tmp_path / "imgs", n=2)
    said = []
    ds = cache.cached_import(
        folder,
        "images",
        (0.0, 1.0),
        (28, 28),
        lambda r: sources.load_image_folder(folder, value_range=r)[0],
        said.append,
    )
    assert ds.M == 2 and len(said) == 1 and said[0].startswith("data cache ") and "not written" in said[0]
    assert open_source(str(folder), (0.0, 1.0)).M == 2


def test_the_least_recently_used_entries_go_when_the_cache_is_full(tmp_path, cache_dir, monkeypatch):
    a, b = png_folder(tmp_path / "a", n=2), png_folder(tmp_path / "b", n=2, seed=1)
    open_source(str(a), (0.0, 1.0))
    monkeypatch.setenv("KGN_CACHE_MAX_GB", "0.000002")  # 2 kB: one entry of 2 × 784 bytes fits, not two
    open_source(str(b), (0.0, 1.0))
    (left,) = entries(cache_dir)
    assert left.name == cache.cache_key(b, "images", (28, 28))


def test_the_cache_folder_comes_from_the_option_the_environment_or_the_user_s_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("KGN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "kgn-gui" / "data"
    use_cache_folder(tmp_path / "shared")
    assert cache_folder() == (tmp_path / "shared").resolve()
    use_cache_folder("off")
    assert cache_folder() is None
    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        use_cache_folder(tmp_path / "f")


def test_a_subset_is_read_from_the_map_alone_and_is_dataset_subset_bit_for_bit(tmp_path, cache_dir, monkeypatch):
    folder = png_folder(tmp_path / "imgs", n=12)
    whole = open_source(str(folder), (-1.0, 1.0))  # imported, cached
    part = open_source(str(folder), (-1.0, 1.0), subset=(5, 0))
    # only the subset's rows were read from the map, as bytes: memory follows n, not the data set
    assert isinstance(part, ByteDataset) and type(part.codes) is np.ndarray and part.codes.shape == (5, 784)
    same(part, whole.subset(5, seed=0))
    assert part.name == f"{whole.name}[5]" and part.M == 5
    monkeypatch.setenv("KGN_CACHE", "off")
    same(open_source(str(folder), (-1.0, 1.0), subset=(5, 0)), part)
    assert open_source(str(folder), (-1.0, 1.0), subset=(50, 0)).M == 12  # more than there are: all of them


def test_a_whole_entry_is_the_map_and_trains_as_the_float_import_bit_for_bit(tmp_path, cache_dir, monkeypatch):
    """Opened whole, a byte entry is a ByteDataset over the map (no float copy: 10⁶ images train in a batch's
    memory); training on it converts each batch's rows and gives the weights the float import gives."""
    import torch

    from kgn_gui.core.model.architectures import ModelSpec
    from kgn_gui.core.model.train import TrainConfig, Trainer

    folder = png_folder(tmp_path / "imgs", n=12)
    open_source(str(folder), (-1.0, 1.0), image_size=(8, 8))  # imported, cached
    mapped = open_source(str(folder), (-1.0, 1.0), image_size=(8, 8))
    assert isinstance(mapped, ByteDataset) and isinstance(mapped.codes, np.memmap)
    monkeypatch.setenv("KGN_CACHE", "off")
    floats = open_source(str(folder), (-1.0, 1.0), image_size=(8, 8))
    assert type(floats) is Dataset
    spec = ModelSpec(D=64, L=3, H=16, shape=(1, 8, 8))
    got = []
    for ds in (mapped, floats):
        tr = Trainer(spec, ds, TrainConfig(steps=12, batch=5, seed=2, eval_size=4, eval_every=3))
        tr.run()
        got.append((tr.losses, [p.detach().clone() for p in tr.model.parameters()]))
    assert np.array_equal(got[0][0], got[1][0]) and np.isfinite(got[0][0]).all()
    assert all(torch.equal(a, b) for a, b in zip(got[0][1], got[1][1]))
    assert mapped._x is None  # the trainer never made the whole float copy
    same(mapped, floats)  # and read whole, the samples are the import's
    unit = open_source(str(folder), (0.0, 1.0), image_size=(8, 8))
    assert np.array_equal(mapped.to_range((0.0, 1.0)).x, unit.x)  # another range: as if imported in it
    assert mapped.extent() == (float(floats.x.min()), float(floats.x.max()))


def test_byte_data_read_whole_without_the_memory_is_one_line(monkeypatch):
    """A ByteDataset's floats are made only when read whole, and refused in one line when the system has not
    the memory for them; its rows, subsets and extent need none of it."""
    from kgn_gui.core.chain import chain

    codes = np.arange(6 * 16, dtype=np.uint8).reshape(6, 16)
    ds = ByteDataset(codes, (1, 4, 4), (-1.0, 1.0), "bytes")
    monkeypatch.setattr(chain, "available_memory_bytes", lambda: 100)
    with pytest.raises(DataError) as e:
        _ = ds.x
    assert (
        str(e.value) == "bytes: 6 samples take 0.0 GB as floats and 0.0 GB of memory is free: use a subset (--subset N)"
    )
    assert (
        ds.rows([0, 5]).tolist()
        == (np.float32(np.r_[codes[0], codes[5]]) / np.float32(255) * 2 - 1).reshape(2, 16).tolist()
    )
    assert ds.subset(2, seed=0).M == 2 and ds.extent() == (-1.0, float(np.float32(95) / np.float32(255) * 2 - 1))
    monkeypatch.undo()
    assert np.array_equal(ds.x, ds.rows(slice(None)))
