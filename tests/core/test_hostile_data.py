"""Data files as hostile input (issue 16, items 3–5): files by kind and by declared size, images through an
allowlist of decoders, arrays and labels by allowlist. Every failure is one line naming the file (a DataError
or StartError), nothing hangs, nothing allocates what a header merely claims.

Each test says in its docstring what the code before issue 16 did with the same input ("before: …"); the
ones marked "passes before" pin behaviour that was already right.
"""

import gzip
import os
import struct
import subprocess
import threading
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npformat
from PIL import Image

from kgn_gui.core.chain.start import load_start_array, parse_start
from kgn_gui.core.data import arrays
from kgn_gui.core.data.arrays import load_array, load_idx, read_idx
from kgn_gui.core.data.dataset import ByteDataset, Dataset
from kgn_gui.core.data.images import load_image_folder
from kgn_gui.core.data.sources import open_source
from kgn_gui.core.errors import DataError, StartError

MiB = 1 << 20


# ---------------------------------------------------------------- helpers
def _one_line(excinfo, *words):
    """The error is one line and holds each of ``words``."""
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.strip() == msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


def _finishes(fn, fifo=None, timeout=5.0):
    """Run fn in a thread; fail (after unblocking a reader stuck on ``fifo``) if it has not returned in time."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        if fifo is not None:  # open the write end and close it: the blocked open/read returns
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            t.join(5)
        pytest.fail(f"{fn} did not return within {timeout} s (blocked on a non-regular file)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _peak_bytes(fn):
    """Peak traced allocation (numpy's array data included) while fn runs; fn's exception is swallowed."""
    tracemalloc.start()
    try:
        fn()
    except Exception:  # noqa: BLE001 - the tests check the error separately
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _npy_header(shape, descr="<f8") -> bytes:
    import io

    b = io.BytesIO()
    npformat.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": shape})
    return b.getvalue()


def _idx_header(code, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


# ---------------------------------------------------------------- item 3: files by kind
@pytest.fixture
def fifo(tmp_path):
    def make(name):
        p = tmp_path / name
        os.mkfifo(p)
        return p

    return make


@pytest.mark.parametrize(
    "name, load",
    [
        ("fifo.npy", load_array),  # before: open() blocks for ever
        ("fifo.npz", load_array),  # before: blocks
        ("train-images-idx3-ubyte", read_idx),  # before: blocks
        ("train-images-idx3-ubyte.gz", read_idx),  # before: blocks
        ("fifo.npy", open_source),  # before: NotADirectoryError traceback (a FIFO taken for a folder)
    ],
)
def test_a_fifo_is_refused_at_once_and_never_opened_for_reading(fifo, name, load):
    p = fifo(name)
    with pytest.raises(DataError) as e:
        _finishes(lambda: load(str(p)), fifo=p)
    if load is open_source:
        _one_line(e, name, "not a regular file or a folder (a named pipe)")
    else:
        _one_line(e, f"{name}: not a regular file (a named pipe)")


def test_a_fifo_as_a_start_array_is_refused_as_what_it_is(fifo):
    """before: "no such file" (the FIFO exists)."""
    p = fifo("start.npy")
    with pytest.raises(StartError) as e:
        _finishes(lambda: load_start_array(p), fifo=p)
    _one_line(e, "start.npy: not a regular file (a named pipe)")
    with pytest.raises(StartError) as e:
        _finishes(lambda: parse_start(str(p), (0.0, 1.0)), fifo=p)
    _one_line(e, "not a regular file")


def test_a_fifo_in_an_image_folder_is_a_reported_skip(tmp_path, fifo):
    """before: left out silently (not in the import report)."""
    Image.new("L", (4, 4), 9).save(tmp_path / "ok.png")
    fifo("pipe.png")
    ds, skipped = _finishes(lambda: load_image_folder(tmp_path, (4, 4)))
    assert ds.M == 1 and skipped == ["pipe.png: not a regular file (a named pipe)"]


def test_a_file_swapped_for_a_fifo_after_the_check_is_refused_from_its_descriptor(fifo, monkeypatch):
    """The open is non-blocking and the descriptor is checked again: a FIFO that appears between the stat and
    the open does not block either. (New: there was no such check before.)"""
    from kgn_gui.core import safe_io

    p = fifo("swapped.npy")
    monkeypatch.setattr(safe_io, "regular_stat", lambda path: None)  # as if the stat had seen a regular file
    with pytest.raises(safe_io.Refused) as e:
        _finishes(lambda: safe_io.open_regular(p), fifo=p)
    _one_line(e, "swapped.npy: not a regular file (a named pipe)")


def test_a_folder_or_a_device_where_a_file_is_expected(tmp_path):
    """before: a folder named .npy → "cannot read: [Errno 21] Is a directory: <path>"; a link to /dev/null
    named .npy was opened and read ("cannot read: No data left in file"), as a start "no such file"."""
    (tmp_path / "folder.npy").mkdir()
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "folder.npy")
    _one_line(e, "folder.npy: not a regular file (a folder)")
    (tmp_path / "null.npy").symlink_to("/dev/null")
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "null.npy")
    _one_line(e, "null.npy: not a regular file (a device)")
    with pytest.raises(StartError) as e:
        load_start_array(tmp_path / "null.npy")
    _one_line(e, "null.npy: not a regular file (a device)")
    with pytest.raises(StartError) as e:
        load_start_array(tmp_path / "missing.npy")
    _one_line(e, "missing.npy: no such file")


def test_a_file_name_with_a_newline_stays_one_line(tmp_path):
    """before: the message carried the newline of the name (two lines)."""
    p = tmp_path / "two\nlines.npy"
    p.write_bytes(b"not an array")
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "two\\nlines.npy: not a .npy array (bad magic number)")
    (tmp_path / "imgs").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "imgs" / "ok.png")
    (tmp_path / "imgs" / "bad\nname.png").write_bytes(b"junk")
    ds, skipped = load_image_folder(tmp_path / "imgs", (4, 4))
    assert skipped == ["bad\\nname.png: not an image PIL can read (wrong extension or damaged)"]


# ---------------------------------------------------------------- item 3: sizes declared in headers
def test_a_npy_header_declaring_10e12_values_is_refused_before_reading(tmp_path):
    """A 200-byte .npy whose header declares 10^6 × 10^6 float64. before: MemoryError traceback (numpy tried
    to allocate 7.3 TiB)."""
    p = tmp_path / "liar.npy"
    p.write_bytes(_npy_header((10**6, 10**6)) + bytes(72))
    assert p.stat().st_size == 200
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "liar.npy: declares shape (1000000, 1000000)", "more than allowed")
    with pytest.raises(StartError) as e:
        load_start_array(p)
    _one_line(e, "liar.npy: declares shape", "more than allowed")


def test_a_npy_header_within_the_budget_but_longer_than_its_file_is_refused_before_allocating(tmp_path):
    """Header: 100 M uint8 (within the budget); file: 200 bytes. before: numpy allocated the 100 MB first."""
    p = tmp_path / "short.npy"
    p.write_bytes(_npy_header((100_000_000,), "|u1") + bytes(72))
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "short.npy: truncated: the header declares 100,000,000 bytes of data, the file holds 72")
    assert _peak_bytes(lambda: load_array(p)) < 4 * MiB


@pytest.mark.parametrize("gz", [False, True])
def test_an_idx_header_claiming_more_than_its_file_holds_is_refused_before_allocating(tmp_path, gz):
    """Header: 384 × 1024 × 1024 uint8 (384 MiB; 1.5 GiB as float32, within the budget); file: a few bytes.
    before: f.read(384 MiB) allocated the whole buffer first (raw and gzip alike)."""
    raw = _idx_header(0x08, (384, 1024, 1024)) + bytes(16)
    p = tmp_path / ("liar-idx3-ubyte.gz" if gz else "liar-idx3-ubyte")
    p.write_bytes(gzip.compress(raw) if gz else raw)
    assert _peak_bytes(lambda: read_idx(p)) < 4 * MiB
    with pytest.raises(DataError) as e:
        read_idx(p)
    _one_line(e, f"{p.name}: truncated: header declares", "402,653,184" if gz else "402653184")


def test_a_gzip_idx_that_inflates_past_the_cap_fails_fast_without_inflating(tmp_path, monkeypatch):
    """A 4 KB .gz whose IDX header truly declares (and holds) 64 × 256 × 256 zero bytes (4 MiB) with the cap
    at 1 MiB; the same as int16 (8 MiB; 16 MiB as the float32 kept) with the cap at 8 MiB. uint8 images are
    kept as bytes, so they count one byte each: within the cap they load, and stay bytes.
    before: no such cap (MAX_DATA_BYTES did not exist; MAX_IDX_BYTES counted raw bytes only)."""
    p = tmp_path / "bomb-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(_idx_header(0x08, (64, 256, 256)) + bytes(4 * MiB), 9))
    wide = tmp_path / "wide-idx3-short.gz"
    wide.write_bytes(gzip.compress(_idx_header(0x0B, (64, 256, 256)) + bytes(8 * MiB), 9))
    assert p.stat().st_size < 16_000 and wide.stat().st_size < 32_000
    for path, cap, says in ((p, 1 * MiB, "4,194,304"), (wide, 8 * MiB, "16,777,216")):
        monkeypatch.setattr(arrays, "MAX_DATA_BYTES", cap)
        with pytest.raises(DataError) as e:
            load_idx(path)
        _one_line(e, f"{path.name}: IDX header declares [64, 256, 256] values ({says} bytes)", "allowed")
        assert _peak_bytes(lambda path=path: load_idx(path)) < MiB
    monkeypatch.setattr(arrays, "MAX_DATA_BYTES", 4 * MiB)  # the bytes within the cap load, as bytes
    ds = load_idx(p)
    assert ds.M == 64 and isinstance(ds, ByteDataset) and ds.codes.nbytes == 4 * MiB
    monkeypatch.setattr(arrays, "MAX_DATA_BYTES", 16 * MiB)
    assert load_idx(wide).M == 64


def test_a_gzip_idx_with_more_data_than_declared_stops_after_one_byte(tmp_path):
    """Header: 2 × 2 × 2; then 32 MiB of zeros. Passes before (the read was bounded by the header)."""
    p = tmp_path / "long-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(_idx_header(0x08, (2, 2, 2)) + bytes(32 * MiB), 9))
    with pytest.raises(DataError) as e:
        read_idx(p)
    _one_line(e, "long-idx3-ubyte.gz: more data than the IDX header declares")
    assert _peak_bytes(lambda: read_idx(p)) < 2 * MiB


def test_a_zip_bomb_member_is_refused_from_the_zip_directory(tmp_path, monkeypatch):
    """An .npz member of 4 MiB zeros (compressed to ~4 KB) with the cap at 1 MiB: refused from its zip entry,
    before a byte is inflated. before: no cap (the constant did not exist): inflated whatever it declared."""
    p = tmp_path / "bomb.npz"
    np.savez_compressed(p, x=np.zeros((4, MiB), np.uint8))
    assert p.stat().st_size < 16_000
    monkeypatch.setattr(arrays, "MAX_DATA_BYTES", 1 * MiB)
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "bomb.npz: member x declares 4,194,432 bytes, more than allowed")
    assert _peak_bytes(lambda: load_array(p)) < MiB


def test_an_npz_member_whose_npy_header_declares_10e12_values(tmp_path):
    """before: MemoryError traceback (numpy allocated the declared array before reading the stream)."""
    p = tmp_path / "liar.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", _npy_header((10**6, 10**6)) + bytes(100))
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "liar.npz: member x declares shape (1000000, 1000000)", "more than allowed")


def test_an_npz_entry_that_claims_more_than_its_compressed_data_can_hold(tmp_path):
    """The zip directory says the member inflates to 10^9 bytes; its deflate data are ~100 bytes (no more
    than ~1032:1 is possible). before: accepted (the lie was never noticed)."""
    p = tmp_path / "lies.npz"
    np.savez_compressed(p, x=np.arange(12, dtype=np.uint8).reshape(3, 4))
    raw = bytearray(p.read_bytes())
    cd = raw.index(b"PK\x01\x02")
    raw[cd + 24 : cd + 28] = struct.pack("<I", 10**9)  # the central directory's uncompressed size
    p.write_bytes(bytes(raw))
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "lies.npz: member x declares 1,000,000,000 bytes, more than its compressed data can hold")


def test_a_truncated_npz_is_one_line(tmp_path):
    """before: zipfile.BadZipFile traceback."""
    p = tmp_path / "cut.npz"
    np.savez_compressed(p, x=np.random.default_rng(0).integers(0, 256, (50, 8, 8), dtype=np.uint8))
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "cut.npz: damaged or not a zip archive (File is not a zip file)")


def test_a_corrupt_npz_member_is_one_line(tmp_path):
    """Compressed bytes overwritten. before: zlib.error (or BadZipFile: bad CRC) traceback."""
    p = tmp_path / "corrupt.npz"
    np.savez_compressed(p, x=np.random.default_rng(0).integers(0, 256, (50, 8, 8), dtype=np.uint8))
    raw = bytearray(p.read_bytes())
    start = raw.index(b"x.npy") + len("x.npy")
    raw[start + 1000 : start + 1200] = b"\xff" * 200
    p.write_bytes(bytes(raw))
    with pytest.raises(DataError) as e:
        load_array(p)
    _one_line(e, "corrupt.npz: member x: damaged")


# ---------------------------------------------------------------- item 5: arrays and labels by allowlist
@pytest.mark.parametrize(
    "arr, words",
    [
        # before: ComplexWarning, then the real parts accepted silently
        (np.array([[0.1 + 1j, 0.2], [0.3, 0.4]]), "holds complex values (complex128)"),
        # before: refused after reading, as "unsupported element type" (only the wording fails before)
        (np.array([["2020-01-01", "2021-01-01"]] * 2, dtype="datetime64[D]"), "holds dates (datetime64[D])"),
        (np.array([[1, 2]] * 2, dtype="timedelta64[s]"), "holds time spans (timedelta64[s])"),
        # before: TypeError traceback (cannot cast a structured array to float32)
        (np.zeros((2, 2), dtype=[("a", "<f4"), ("b", "<i4")]), "holds structured records"),
        # before: accepted silently (the strings were parsed as numbers)
        (np.array([["0.5", "0.5"]] * 2), "holds text strings (<U3)"),
        # before: ValueError tracebacks
        (np.array([[b"ab", b"cd"]] * 2), "holds byte strings (|S2)"),
        (np.zeros((2, 2), dtype="V8"), "holds raw or structured records (|V8)"),
    ],
)
def test_element_types_that_are_not_numbers_are_refused_by_name(tmp_path, arr, words):
    np.save(tmp_path / "odd.npy", arr)
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "odd.npy")
    _one_line(e, f"odd.npy: {words}", "not an array of numbers")
    np.savez(tmp_path / "odd.npz", x=arr)
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "odd.npz")
    _one_line(e, f"odd.npz: member x {words}")


def test_an_object_array_is_refused_from_its_header_and_never_unpickled(tmp_path, monkeypatch):
    """before: refused by numpy ("Object arrays cannot be loaded…"), a different message."""
    import pickle

    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "evil.npy")
    _one_line(e, "evil.npy: holds Python objects (object)")
    with pytest.raises(StartError) as e:
        load_start_array(tmp_path / "evil.npy")
    _one_line(e, "evil.npy: a start is a non-empty 1-D or 2-D array of numbers; this file holds Python objects")


@pytest.mark.parametrize("shape", [(0, 4), (0,), (3, 0, 5)])
def test_empty_arrays_are_refused_before_reading(tmp_path, shape):
    """before: ValueError traceback ("zero-size array to reduction operation") for (0, 4) and (3, 0, 5); (0,)
    was refused as "expected 2 to 4 dimensions"."""
    np.save(tmp_path / "empty.npy", np.zeros(shape, np.float32))
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "empty.npy")
    _one_line(e, f"empty.npy: holds no values (shape {shape})")
    with pytest.raises(StartError) as e:
        load_start_array(tmp_path / "empty.npy")
    _one_line(e, "empty.npy: holds no values")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_with_the_file_name(tmp_path, bad):
    """Points inside the range plus one NaN/inf. before: NaN passed every range comparison and was caught
    only by Dataset, as "p: data contain NaN…" (the stem, not the file); ±inf were refused (only the count in
    the message is new), as were non-finite starts."""
    np.save(tmp_path / "p.npy", np.array([[0.2, 0.3], [0.4, bad]]))
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "p.npy", (0.0, 1.0))
    _one_line(e, "p.npy: contains NaN or infinite values (1 of 4)")
    np.save(tmp_path / "s.npy", np.array([0.2, bad]))
    with pytest.raises(StartError) as e:
        load_start_array(tmp_path / "s.npy")
    _one_line(e, "s.npy: the start contains NaN or infinite values")


def test_values_beyond_float32_are_scaled_not_turned_into_infinity(tmp_path):
    """before: "contains NaN or infinite values" (float64 1e300 became inf in float32); as a start, the
    same."""
    np.save(tmp_path / "big.npy", np.array([[-1e300], [0.0], [1e300]]))
    ds = load_array(tmp_path / "big.npy", (0.0, 1.0))
    assert ds.x.ravel().tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(StartError) as e:
        load_start_array(tmp_path / "big.npy")
    _one_line(e, "big.npy: the start holds values too large for float32")


@pytest.mark.parametrize(
    "labels, words",
    [
        (np.array([0.0, np.nan, 1.0]), "found nan"),  # before: cast to a garbage int, accepted
        (np.array([0.0, 1.5, 1.0]), "found 1.5"),  # before: truncated to 1, accepted
        (np.array([0, -1, 1]), "found -1"),  # before: accepted
        (np.array([0, 1, 2**40]), "found 1099511627776"),  # before: accepted
        (np.array([[0, 1, 1]]), "(1, 3) labels for 3 samples"),  # before: dropped silently
        (np.array([0, 1]), "(2,) labels for 3 samples"),  # before: dropped silently
    ],
)
def test_labels_that_are_not_class_numbers_are_refused(tmp_path, labels, words):
    np.savez(tmp_path / "lab.npz", x=np.zeros((3, 4, 4), np.uint8), y=labels)
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "lab.npz")
    _one_line(e, "lab.npz (labels 'y'): ", words)


def test_labels_that_are_text_are_refused_from_their_header(tmp_path):
    """before: ValueError traceback (int() of "a")."""
    np.savez(tmp_path / "lab.npz", x=np.zeros((3, 4, 4), np.uint8), y=np.array(["a", "b", "c"]))
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "lab.npz")
    _one_line(e, "lab.npz: member y holds text strings (<U1)")


def test_float_labels_that_are_whole_numbers_are_taken(tmp_path):
    """Passes before."""
    np.savez(tmp_path / "lab.npz", x=np.zeros((3, 4, 4), np.uint8), labels=np.array([2.0, 0.0, 1.0]))
    ds = load_array(tmp_path / "lab.npz")
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == [2, 0, 1]


def test_idx_labels_are_checked_the_same_way(tmp_path):
    """Float IDX labels 1.5. before: truncated to 1, accepted."""
    (tmp_path / "i-idx3-ubyte").write_bytes(_idx_header(0x08, (2, 2, 2)) + bytes(8))
    (tmp_path / "l-idx1-ubyte").write_bytes(_idx_header(0x0D, (2,)) + struct.pack(">2f", 1.0, 1.5))
    with pytest.raises(DataError) as e:
        load_idx(tmp_path / "i-idx3-ubyte", tmp_path / "l-idx1-ubyte")
    _one_line(e, "l-idx1-ubyte: labels must be whole numbers ≥ 0; found 1.5")


def test_datasets_built_in_code_check_their_labels_and_element_type():
    """before: NaN labels cast to garbage; complex data cast to their real parts."""
    with pytest.raises(DataError) as e:
        Dataset(x=np.zeros((2, 1)), shape=(1,), value_range=(0, 1), name="mine", labels=np.array([0, np.nan]))
    _one_line(e, "mine: labels must be whole numbers ≥ 0; found nan")
    with pytest.raises(DataError) as e:
        Dataset(x=np.zeros((2, 1), complex), shape=(1,), value_range=(0, 1), name="mine")
    _one_line(e, "mine: data must be numbers", "complex128")


@pytest.mark.parametrize(
    "shape, c",
    [
        ((5, 8, 8, 4), 4),  # before: taken as 8 channels of 8 × 4 pixels (trained, then could not be drawn)
        ((5, 8, 8, 2), 2),  # before: 8 channels of 8 × 2
        ((5, 2, 8, 8), 2),  # before: 2 channels, trained, then broke every drawing of a sample
        ((5, 4, 8, 8), 4),
    ],
)
def test_channel_counts_the_models_cannot_draw_are_refused(tmp_path, shape, c):
    np.save(tmp_path / "img.npy", np.zeros(shape, np.uint8))
    with pytest.raises(DataError) as e:
        load_array(tmp_path / "img.npy")
    msg = _one_line(e, f"img.npy: images with {c} channels (shape {shape})", "1 (grey) or 3 (RGB)")
    assert ("drop the alpha channel" in msg) == (c == 4)


def test_idx_images_with_four_channels_are_refused(tmp_path):
    """before: accepted as 4 channels."""
    (tmp_path / "i-idx3-ubyte").write_bytes(_idx_header(0x08, (2, 3, 3, 4)) + bytes(72))
    with pytest.raises(DataError) as e:
        load_idx(tmp_path / "i-idx3-ubyte")
    _one_line(e, "i-idx3-ubyte: images with 4 channels")


def test_one_and_three_channel_layouts_still_load(tmp_path):
    """Passes before."""
    rgb = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    np.save(tmp_path / "hwc.npy", rgb)
    np.save(tmp_path / "chw.npy", rgb.transpose(0, 3, 1, 2))
    a, b = load_array(tmp_path / "hwc.npy", (0.0, 1.0)), load_array(tmp_path / "chw.npy", (0.0, 1.0))
    assert a.shape == b.shape == (3, 4, 5) and np.array_equal(a.x, b.x)
    assert np.array_equal(a.images()[1], rgb[1].transpose(2, 0, 1).astype(np.float32) / np.float32(255))


@pytest.mark.parametrize(
    "arr",
    [
        np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 24),
        np.arange(12, dtype=">f4").reshape(3, 4) / 12,
        np.arange(12, dtype=">i2").reshape(3, 4),
        np.eye(3, dtype=bool),
        (np.arange(12, dtype=np.float16) / 12).reshape(3, 4),
        np.arange(2 * 5 * 5, dtype=np.uint8).reshape(2, 5, 5),
    ],
    ids=["fortran", "big-endian-float", "big-endian-int", "bool", "float16", "uint8"],
)
@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
def test_the_header_first_reader_reads_what_numpy_wrote(tmp_path, arr, version):
    """Regression guard for the reader that replaced np.load: every layout and byte order numpy writes."""
    from kgn_gui.core.safe_io import load_npy

    with open(tmp_path / "a.npy", "wb") as f:
        npformat.write_array(f, arr, version=version)
    got = load_npy(tmp_path / "a.npy", max_bytes=MiB)
    assert got.dtype == arr.dtype and got.shape == arr.shape and np.array_equal(got, arr)
    ds = load_array(tmp_path / "a.npy", (0.0, 1.0))
    assert ds.M == arr.shape[0]


# ---------------------------------------------------------------- item 4: images through an allowlist
EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n"
    b"newpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"
)


def test_an_eps_file_named_png_never_reaches_a_decoder_that_runs_a_program(tmp_path, monkeypatch):
    """before: Pillow sniffed the content, opened it as EPS and ran Ghostscript (`gs --version`, then
    `gs -q -g10x10 …`) to decode it; the PostScript program imported as a 3-channel image."""
    from PIL import EpsImagePlugin

    calls = []

    def forbidden(*args, **kwargs):
        calls.append(args)
        raise AssertionError("a program was started")

    for fn in ("Popen", "run", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, fn, forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", forbidden)
    Image.new("L", (4, 4), 9).save(tmp_path / "ok.png")
    (tmp_path / "evil.png").write_bytes(EPS)
    ds, skipped = load_image_folder(tmp_path, (4, 4))
    assert calls == []
    assert ds.M == 1 and skipped == ["evil.png: not an image PIL can read (wrong extension or damaged)"]


def test_any_decoder_exception_skips_the_file_never_the_folder(tmp_path, monkeypatch):
    """A decoder that raises a type the loader did not expect. before: RuntimeError traceback, whole folder lost."""
    from PIL import BmpImagePlugin

    def broken(self):
        raise RuntimeError("decoder bug\nsecond line")

    monkeypatch.setattr(BmpImagePlugin.BmpImageFile, "load", broken)
    Image.new("L", (4, 4), 9).save(tmp_path / "a.png")
    Image.new("L", (4, 4), 9).save(tmp_path / "b.bmp")
    ds, skipped = load_image_folder(tmp_path, (4, 4))
    assert ds.M == 1 and skipped == ["b.bmp: damaged image (decoder bug second line)"]


def test_a_truncated_png_is_skipped_with_its_reason(tmp_path):
    """Passes before."""
    Image.new("L", (4, 4), 9).save(tmp_path / "ok.png")
    Image.effect_noise((64, 64), 50).save(tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:200])
    ds, skipped = load_image_folder(tmp_path, (4, 4))
    assert ds.M == 1 and len(skipped) == 1 and skipped[0].startswith("cut.png: ")
    assert "truncated" in skipped[0]


def _only(folder, size, mode="auto"):
    ds, skipped = load_image_folder(folder, size, mode=mode, value_range=(0.0, 1.0))
    assert skipped == []
    return ds


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path):
    """30000/65535 imports as 0.4578 (grey), and as three equal channels next to a colour image.
    before: clipped to 255, i.e. 1.0 (white)."""
    Image.new("I;16", (6, 5), 30000).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    want = np.float32(30000) / np.float32(65535)
    ds = _only(tmp_path, (5, 6))
    assert ds.shape == (1, 5, 6) and np.all(ds.x == want) and round(float(want), 4) == 0.4578
    Image.new("RGB", (6, 5), (255, 0, 0)).save(tmp_path / "red.png")
    ds = _only(tmp_path, (5, 6))
    assert ds.shape == (3, 5, 6) and np.all(ds.images()[0] == want)
    assert ds.images()[1, :, 0, 0].tolist() == [1.0, 0.0, 0.0]


def test_32_bit_and_float_images_are_scaled_or_skipped_never_clipped(tmp_path):
    """A 32-bit TIFF of 40000 → 40000/65535; a float TIFF of 0.25 → 0.25; out-of-range ones are skipped
    with the reason. (TIFF content in files named .png: the allowlist decodes by content among plain rasters.)
    before: 40000 clipped to 1.0, 0.25 clipped to 0.0, 70000 and 2.0 clipped to 1.0."""
    Image.new("I", (4, 4), 40000).save(tmp_path / "i.png", format="TIFF")
    Image.new("F", (4, 4), 0.25).save(tmp_path / "f.png", format="TIFF")
    Image.new("I", (4, 4), 70000).save(tmp_path / "i_big.png", format="TIFF")
    Image.new("F", (4, 4), 2.0).save(tmp_path / "f_big.png", format="TIFF")
    ds, skipped = load_image_folder(tmp_path, (4, 4), value_range=(0.0, 1.0))
    assert ds.M == 2 and ds.shape == (1, 4, 4)
    imgs = ds.images()
    assert np.all(imgs[0] == np.float32(0.25)) and np.all(imgs[1] == np.float32(40000) / np.float32(65535))
    assert skipped == [
        "f_big.png: float pixels outside 0…1 (2 … 2)",
        "i_big.png: 32-bit pixels outside 0…65535 (70000 … 70000)",
    ]


def test_a_palette_png_with_transparency_keeps_its_colours_and_warns_nothing(tmp_path):
    """A palette with per-entry alpha (tRNS as bytes). before: Pillow's UserWarning "Palette images with
    Transparency expressed in bytes should be converted to RGBA images" escaped to stderr."""
    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 10, 20, 30, 200, 100, 50] + [0] * 759)
    im.putpixel((0, 0), 2)
    im.save(tmp_path / "pal.png", transparency=bytes([255, 0, 128]))
    assert isinstance(Image.open(tmp_path / "pal.png").info["transparency"], bytes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _only(tmp_path, (4, 4))
        grey = _only(tmp_path, (4, 4), mode="L")
    assert [str(w.message) for w in caught] == []
    img = ds.images()[0] * 255
    assert ds.shape == (3, 4, 4) and img[:, 1, 1].round().tolist() == [10, 20, 30]
    assert img[:, 0, 0].round().tolist() == [200, 100, 50]
    # L = R·299/1000 + G·587/1000 + B·114/1000, rounded: 10, 20, 30 → 18.
    assert grey.shape == (1, 4, 4) and round(float(grey.images()[0, 0, 1, 1] * 255)) == 18


def test_grey_alpha_cmyk_and_bilevel_images_become_one_or_three_channels(tmp_path):
    """LA (2 channels) → its grey, alpha dropped; CMYK (4) → RGB; 1-bit → 0 or 1. Passes before."""
    Image.new("LA", (4, 4), (100, 50)).save(tmp_path / "la.png")
    ds = _only(tmp_path, (4, 4))
    assert ds.shape == (1, 4, 4) and np.all(ds.x == np.float32(100) / np.float32(255))
    Image.new("1", (4, 4), 1).save(tmp_path / "one.png")
    ds = _only(tmp_path, (4, 4))
    assert ds.shape == (1, 4, 4) and ds.images()[1].min() == 1.0
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.png", format="TIFF")
    ds = _only(tmp_path, (4, 4))
    assert ds.shape == (3, 4, 4)
    assert ds.images()[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]  # cmyk.png sorts first: pure red
    assert ds.images()[1, :, 0, 0].tolist() == [np.float32(100) / np.float32(255)] * 3
