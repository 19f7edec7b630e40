"""Image sources: IDX parsing against Fashion-MNIST's known shapes and labels, folders with bad files,
npz layouts, the built-ins, and the fixed splits."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from tokbench.errors import TokbenchError
from tokbench.sources import images as src
from tokbench.sources.images import load_images, parse_idx, read_idx

needs_fashion = pytest.mark.skipif(src._mnist_layout(src.FASHION_MNIST_DIR) is None,
                                   reason="Debian's dataset-fashion-mnist is not installed")


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}[arr.dtype]
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


# ---------------------------------------------------------------------------------------------- IDX
@needs_fashion
def test_fashion_mnist_official_splits_shapes_and_labels():
    train = load_images("builtin:fashion-mnist", "train")
    test = load_images("builtin:fashion-mnist", "test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == np.float32 and 0.0 <= train.images.min() and train.images.max() <= 1.0
    # the first labels of the published files, and the balanced classes (6,000 / 1,000 per class)
    assert train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    fp = test.fingerprint()
    assert [e["path"].rsplit("/", 1)[1] for e in fp] == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert all(len(e["sha256"]) == 64 and e["bytes"] > 0 for e in fp)


@needs_fashion
def test_fashion_mnist_resize_channels_limit():
    s = load_images("builtin:fashion-mnist", "test", size=32, channels=3, limit=5)
    assert s.images.shape == (5, 3, 32, 32) and len(s.labels) == 5
    assert np.allclose(s.images[:, 0], s.images[:, 2])


def test_fashion_mnist_missing_package_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(src, "FASHION_MNIST_DIR", tmp_path / "nope")
    with pytest.raises(TokbenchError, match="apt-get install dataset-fashion-mnist"):
        load_images("builtin:fashion-mnist", "train")


def test_idx_parse_raw_gz_and_errors(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = _idx_bytes(arr)
    assert np.array_equal(parse_idx(raw), arr)
    (tmp_path / "a.idx").write_bytes(raw)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(raw))
    assert np.array_equal(read_idx(tmp_path / "a.idx"), arr)
    assert np.array_equal(read_idx(tmp_path / "a.idx.gz"), arr)
    ints = np.array([[1, -2], [300000, 4]], dtype=">i4")
    assert parse_idx(_idx_bytes(ints)).tolist() == [[1, -2], [300000, 4]]
    with pytest.raises(TokbenchError, match="magic"):
        parse_idx(b"\x01\x02\x03\x04" + raw[4:])
    with pytest.raises(TokbenchError, match="holds"):
        parse_idx(raw[:-1])


def test_idx_file_and_mnist_folder_layout(tmp_path):
    rng = np.random.default_rng(0)
    tr = rng.integers(0, 256, (20, 6, 6), dtype=np.uint8)
    te = rng.integers(0, 256, (5, 6, 6), dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(tr)))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(np.arange(20, dtype=np.uint8))))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(te))
    folder_test = load_images(str(tmp_path), "test")
    assert folder_test.images.shape == (5, 1, 6, 6) and folder_test.labels is None
    assert np.allclose(folder_test.images[:, 0] * 255, te)
    folder_train = load_images(str(tmp_path), "train")
    assert folder_train.labels.tolist() == list(range(20))
    # a single IDX file: every 10th item is test, labels from the sibling labels file
    single = load_images(str(tmp_path / "train-images-idx3-ubyte.gz"), "test")
    assert single.labels.tolist() == [9, 19]
    assert len(load_images(str(tmp_path / "train-images-idx3-ubyte.gz"), "train")) == 18


# ---------------------------------------------------------------------------------------------- folders
def _png(path, size, mode="L", value=128):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)


def test_folder_skips_corrupt_and_non_images_or_fails_strict(tmp_path):
    for i in range(30):
        _png(tmp_path / f"img{i:02d}.png", (20, 16), value=i * 8)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "README.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"junk")  # hidden files are not part of the set
    both = load_images(str(tmp_path), "all", size=12)
    assert both.images.shape == (30, 1, 12, 12) and both.skipped == 2
    assert sorted(both.skipped_examples) == ["README.txt", "broken.png"]
    with pytest.raises(TokbenchError, match="not a readable image"):
        load_images(str(tmp_path), "all", size=12, strict=True)
    # the split is by path hash: disjoint, complete and the same every time
    train = load_images(str(tmp_path), "train", size=12)
    test = load_images(str(tmp_path), "test", size=12)
    assert len(train) + len(test) == 30
    again = load_images(str(tmp_path), "train", size=12)
    assert np.array_equal(train.images, again.images)
    fp = train.fingerprint()
    assert len(fp) == 1 and fp[0]["files"] == len(train) and len(fp[0]["sha256"]) == 64


def test_folder_sizes_channels_labels_and_split_dirs(tmp_path):
    _png(tmp_path / "train" / "cat" / "a.png", (40, 20), mode="RGB")
    _png(tmp_path / "train" / "dog" / "b.png", (30, 30), mode="RGB")
    _png(tmp_path / "test" / "dog" / "c.png", (30, 30), mode="L")
    with pytest.raises(TokbenchError, match="differ in size"):
        load_images(str(tmp_path), "train")
    train = load_images(str(tmp_path), "train", size=16)
    assert train.images.shape == (2, 3, 16, 16) and train.labels.tolist() == [0, 1]
    assert train.images[0, 0].mean() == pytest.approx(128 / 255, abs=0.01)
    test = load_images(str(tmp_path), "test")
    assert test.images.shape == (1, 1, 30, 30)
    assert load_images(str(tmp_path), "test", channels=3).images.shape == (1, 3, 30, 30)
    grey = load_images(str(tmp_path), "train", size=8, channels=1)
    assert grey.images.shape == (2, 1, 8, 8)
    with pytest.raises(TokbenchError, match="no such file"):
        load_images(str(tmp_path / "missing"), "train")


# ---------------------------------------------------------------------------------------------- npz
def test_npz_layouts(tmp_path):
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, (8, 10, 10, 3), dtype=np.uint8)  # channels last
    x_test = rng.random((4, 3, 10, 10)).astype(np.float32)  # channels first, float
    np.savez(tmp_path / "split.npz", x_train=x_train, y_train=np.arange(8), x_test=x_test, y_test=np.arange(4))
    tr = load_images(str(tmp_path / "split.npz"), "train")
    assert tr.images.shape == (8, 3, 10, 10) and tr.labels.tolist() == list(range(8))
    assert np.allclose(tr.images * 255, x_train.transpose(0, 3, 1, 2))
    te = load_images(str(tmp_path / "split.npz"), "test", channels=1)
    assert te.images.shape == (4, 1, 10, 10)
    np.savez(tmp_path / "one.npz", images=rng.integers(0, 256, (25, 5, 5), dtype=np.uint8), labels=np.arange(25))
    assert load_images(str(tmp_path / "one.npz"), "test").labels.tolist() == [9, 19]
    np.savez(tmp_path / "bad.npz", images=rng.random((3, 5, 5)) * 4)
    with pytest.raises(TokbenchError, match=r"\[0, 1\]"):
        load_images(str(tmp_path / "bad.npz"), "all")
    np.savez(tmp_path / "empty.npz", other=np.zeros(3))
    with pytest.raises(TokbenchError, match="no image array"):
        load_images(str(tmp_path / "empty.npz"), "all")


# ---------------------------------------------------------------------------------------------- built-ins
def test_digits_fixed_split():
    tr = load_images("builtin:digits", "train")
    te = load_images("builtin:digits", "test")
    assert tr.images.shape == (1438, 1, 8, 8) and te.images.shape == (359, 1, 8, 8)
    assert tr.images.max() == 1.0 and te.labels[:5].tolist() == load_images("builtin:digits", "test").labels[:5].tolist()
    assert load_images("builtin:digits", "test", size=16, channels=3, limit=7).images.shape == (7, 3, 16, 16)


def test_photos_patches_and_split_by_photo():
    tr = load_images("builtin:photos", "train")
    te = load_images("builtin:photos", "test")
    assert tr.images.shape[1:] == (3, 32, 32) and te.images.shape[1:] == (3, 32, 32)
    assert len(tr) > 2000 and len(te) > 300
    assert not set(tr.labels.tolist()) & set(te.labels.tolist())  # no photo in both splits
    small = load_images("builtin:photos", "test", size=16, channels=1, limit=50)
    assert small.images.shape == (50, 1, 16, 16)
    assert np.array_equal(load_images("builtin:photos", "test", limit=50).images, te.images[:50])
    assert {e["path"].rsplit("/", 1)[1] for e in te.fingerprint()} == set(src.PHOTOS_TEST)


def test_bad_specs():
    with pytest.raises(TokbenchError, match="unknown image source"):
        load_images("builtin:nope")
    with pytest.raises(TokbenchError, match="split"):
        load_images("builtin:digits", "heldout")
    with pytest.raises(TokbenchError, match="channels"):
        load_images("builtin:digits", channels=2)
