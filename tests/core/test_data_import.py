"""Importing untrusted data: every bad file is skipped with its reason, nothing crashes, bombs are not decoded."""

import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from kgn_gui.core.data.arrays import load_idx, read_idx
from kgn_gui.core.data.images import load_image_folder
from kgn_gui.core.data.sources import open_source
from kgn_gui.core.errors import DataError


def _png_claiming(path, w, h):
    """A valid 1×1 PNG whose IHDR then claims w×h pixels (with a correct CRC): a decompression bomb header."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", w, h)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


@pytest.fixture
def messy(tmp_path):
    d = tmp_path / "messy"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    (d / "empty").mkdir()
    Image.new("L", (28, 28), 200).save(d / "a" / "grey.png")
    Image.new("RGB", (50, 30), (255, 0, 0)).save(d / "a" / "red.jpg")
    Image.new("P", (10, 10)).save(d / "b" / "palette.png")
    Image.new("RGBA", (28, 28), (0, 0, 255, 128)).save(d / "b" / "alpha.png")
    Image.new("I;16", (28, 28), 30000).save(d / "b" / "deep.png")
    Image.new("L", (4000, 3), 7).save(d / "b" / "wide.bmp")
    (d / "a" / "notes.txt").write_text("not an image")
    (d / "a" / "fake.png").write_text("this is text with a png name")
    good = (d / "a" / "grey.png").read_bytes()
    (d / "b" / "truncated.png").write_bytes(good[: len(good) // 2])
    _png_claiming(d / "b" / "bomb.png", 100_000, 100_000)
    (d / "b" / "zero.png").write_bytes(b"")
    return d


def test_a_messy_folder_loads_what_it_can_and_reports_the_rest(messy):
    ds, skipped = load_image_folder(messy, (28, 28))
    assert ds.M == 6 and ds.shape == (3, 28, 28)  # colour present → RGB for all
    assert sorted(ds.class_names) == ["a", "b"] and ds.labels is not None
    assert ds.skipped == skipped
    reasons = dict(s.split(": ", 1) for s in skipped)
    assert reasons["a/notes.txt"] == "not a PNG, JPEG, BMP, GIF, TIFF or WebP file"
    assert "not an image" in reasons["a/fake.png"]
    assert "too large" in reasons["b/bomb.png"]
    assert "b/truncated.png" in reasons and "b/zero.png" in reasons
    assert len(skipped) == 5
    report = ds.import_report()
    assert "Loaded messy: 6 samples" in report and "Skipped 5:" in report and "bomb.png" in report
    # What loaded, in file order (a/grey, a/red, b/alpha, b/deep, b/palette, b/wide), each a flat colour mapped
    # onto [−1, 1]: v/255·2 − 1 per channel. Grey and palette/BMP greys exactly; the JPEG's red to within its
    # compression; the alpha channel is dropped. (The 16-bit image is left out: Pillow clips it to 255.)
    img = ds.images()
    assert ds.labels.tolist() == [0, 0, 1, 1, 1, 1]

    def flat(i, rgb, atol=1e-6):
        want = np.asarray(rgb, np.float32)[:, None, None] / 255 * 2 - 1
        return np.allclose(img[i], np.broadcast_to(want, img[i].shape), rtol=0, atol=atol)

    assert flat(0, (200, 200, 200)) and flat(1, (255, 0, 0), atol=0.03) and flat(2, (0, 0, 255))
    assert flat(4, (0, 0, 0)) and flat(5, (7, 7, 7))


def test_the_report_reaches_the_cli_and_describe(messy):
    ds = open_source(str(messy), (0.0, 1.0))
    assert ds.skipped and "skipped 5 files" in ds.describe()


def test_folders_with_nothing_usable_are_clear_errors(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match="no PNG, JPEG, BMP, GIF, TIFF or WebP"):
        load_image_folder(tmp_path / "e")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.txt").write_text("x")
    with pytest.raises(DataError, match="1 other files"):
        load_image_folder(tmp_path / "t")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(os.urandom(100))
    with pytest.raises(DataError, match="none of 1 images could be read"):
        load_image_folder(tmp_path / "bad")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_skipped(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    Image.new("L", (8, 8)).save(d / "ok.png")
    Image.new("L", (8, 8)).save(d / "locked.png")
    os.chmod(d / "locked.png", 0)
    ds, skipped = load_image_folder(d, (8, 8))
    assert ds.M == 1 and "permission denied" in skipped[0]


def test_idx_labels_that_do_not_match_the_images_are_refused(tmp_path):
    imgs = tmp_path / "i-idx3-ubyte"
    imgs.write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, 2, 4, 4) + bytes(32))
    labs = tmp_path / "l-idx1-ubyte"
    labs.write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes(3))
    with pytest.raises(DataError, match="labels for 2 images"):
        load_idx(imgs, labs)
    huge = tmp_path / "h-idx3-ubyte"
    huge.write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, 2**31, 2**16, 2**16))
    with pytest.raises(DataError, match="more than allowed"):
        read_idx(huge)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    dtype=st.sampled_from([8, 9, 11, 12, 13, 14, 0, 255]),
    dims=st.lists(st.integers(0, 2**32 - 1), max_size=5),
    ndim_lie=st.integers(-1, 1),
    body=st.binary(max_size=300),
    gz=st.booleans(),
)
def test_idx_fuzz_never_crashes(tmp_path_factory, dtype, dims, ndim_lie, body, gz):
    import gzip

    raw = bytes([0, 0, dtype, max(0, len(dims) + ndim_lie) % 256]) + b"".join(struct.pack(">I", d) for d in dims) + body
    p = tmp_path_factory.mktemp("idx") / ("f-idx3-ubyte.gz" if gz else "f-idx3-ubyte")
    p.write_bytes(gzip.compress(raw) if gz else raw)
    try:
        a = read_idx(p)
    except DataError as e:
        assert str(e)
    else:
        assert a.nbytes <= len(body)


def test_gif_tiff_and_webp_images_import_like_png(tmp_path):
    from PIL import Image

    from kgn_gui.core.data.images import load_image_folder

    for i, suffix in enumerate((".gif", ".tif", ".webp", ".png")):
        Image.new("L", (28, 28), 51 * (i + 1)).save(
            tmp_path / f"{i}{suffix}", **({"lossless": True} if suffix == ".webp" else {})
        )
    ds, _ = load_image_folder(tmp_path, (28, 28), value_range=(0.0, 1.0))
    assert ds.M == 4 and not ds.skipped
    assert sorted(np.round(ds.x.mean(1) * 255).astype(int).tolist()) == [51, 102, 153, 204]
