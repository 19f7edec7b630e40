"""builtin:photos64: counts, shape, value range, the split by photograph, and that no crop is flat."""

from __future__ import annotations

import numpy as np
import pytest

from tokbench.sources import images as src


@pytest.fixture(scope="module")
def photos64():
    return {split: src.load_images("builtin:photos64", split) for split in ("train", "test")}


def test_counts_and_shape(photos64):
    train, test = photos64["train"], photos64["test"]
    assert (len(train), len(test)) == (5359, 722)
    assert len(train) + len(test) >= 5000
    assert train.shape == test.shape == (3, 64, 64)
    for part in (train, test):
        assert part.images.dtype == np.float32 and 0 <= part.images.min() and part.images.max() <= 1
        assert part.images.reshape(len(part), -1).std(axis=1).min() >= src.FLAT_STD
        assert np.bincount(part.labels).max() <= src.CROPS_PER_PHOTO


def test_split_is_by_photograph(photos64):
    train, test = photos64["train"], photos64["test"]
    train_files = {p.name for _, p in train.files}
    test_files = {p.name for _, p in test.files}
    assert test_files == set(src.PHOTOS_TEST) and not train_files & test_files
    assert not set(train.labels.tolist()) & set(test.labels.tolist())
    # overlapping crops come from one photograph only: no test crop's pixels appear among the training crops
    train_keys = {img.tobytes() for img in train.images[:, :, :8, :8]}
    assert not any(img.tobytes() in train_keys for img in test.images[:, :, :8, :8])


def test_split_order_and_options_are_stable(photos64):
    again = src.load_images("builtin:photos64", "test", limit=40)
    assert np.array_equal(again.images, photos64["test"].images[:40])
    small = src.load_images("builtin:photos64", "test", size=32, channels=1, limit=10)
    assert small.images.shape == (10, 1, 32, 32)


def test_unknown_builtin_lists_photos64():
    with pytest.raises(src.TokbenchError, match="builtin:photos64"):
        src.load_images("builtin:nope")
