"""Fréchet distance against a scipy.linalg.sqrtm reference (pytorch-fid's computation), feature statistics on
numpy and tensors, and rFID refusing without the verified standard Inception weights."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.linalg

from tokbench.metrics import fid as fidm


def _scipy_reference(mu1, s1, mu2, s2) -> float:
    """The pytorch-fid formula with scipy's general matrix square root."""
    covmean = np.asarray(scipy.linalg.sqrtm(s1 @ s2)).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("dim,seed", [(2, 0), (16, 1), (48, 2)])
def test_frechet_distance_matches_scipy_reference(dim, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((400, dim))
    b = rng.standard_normal((300, dim)) @ rng.standard_normal((dim, dim)) * 0.7 + rng.standard_normal(dim)
    mu1, s1 = fidm.feature_statistics(a)
    mu2, s2 = fidm.feature_statistics(b)
    assert np.allclose(s1, np.cov(a, rowvar=False)) and np.allclose(mu1, a.mean(0))
    ours = fidm.frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(_scipy_reference(mu1, s1, mu2, s2), abs=1e-6)
    assert ours > 0


def test_frechet_distance_closed_forms():
    # 1-D: (m1-m2)^2 + (s1 - s2)^2 for standard deviations s1, s2
    assert fidm.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 5))
    mu, s = fidm.feature_statistics(x)
    assert fidm.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
    # a singular covariance (fewer samples than dimensions) is still a valid input
    few = rng.standard_normal((4, 10))
    mu2, s2 = fidm.feature_statistics(few)
    assert np.isfinite(fidm.frechet_distance(mu2, s2, np.zeros(10), np.eye(10)))
    with pytest.raises(ValueError):
        fidm.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_pixel_features_pool_and_fd_naming():
    imgs = np.random.default_rng(0).random((6, 3, 32, 32))
    feats = fidm.PixelFeatures()(imgs)
    assert feats.shape == (6, 3 * 16 * 16)
    assert np.allclose(feats[0, 0], imgs[0, 0, :2, :2].mean())
    assert fidm.PixelFeatures()(np.zeros((2, 1, 28, 28))).shape == (2, 14 * 14)
    grey = imgs[:, :1]
    assert fidm.fd(grey, grey) == pytest.approx(0.0, abs=1e-9)
    assert fidm.fd(grey, np.clip(grey + 0.2, 0, 1)) > 0
    assert fidm.PixelFeatures().name == "pixels"  # reported as fd_pixels, never as FID


def test_pixel_features_of_tensors_equal_numpy():
    torch = pytest.importorskip("torch")
    imgs = np.random.default_rng(1).random((4, 3, 30, 20)).astype(np.float32)
    feats = fidm.PixelFeatures()(torch.from_numpy(imgs))
    assert isinstance(feats, np.ndarray) and feats.dtype == np.float64 and feats.shape == (4, 3 * 15 * 10)
    np.testing.assert_allclose(feats, fidm.PixelFeatures()(imgs), rtol=1e-12)
    # pooling factor 2 (ceil(30 / 16)): the first feature is the mean of the top-left 2x2 block
    assert feats[1, 0] == pytest.approx(imgs[1, 0, :2, :2].astype(np.float64).mean(), rel=1e-12)


def test_known_inception_hash_is_consistent_with_its_file_name():
    assert len(fidm.INCEPTION_SHA256) == 64
    # torch hub names carry the first 8 hex digits of the sha256
    assert fidm.INCEPTION_FILENAME.rsplit("-", 1)[1].split(".")[0] == fidm.INCEPTION_SHA256[:8]


def test_rfid_refuses_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    status = fidm.rfid_status()
    assert not status.available and "not found" in status.reason and "never estimated" in status.reason
    missing = fidm.rfid_status(tmp_path / "nope.pth")
    assert not missing.available and "not found" in missing.reason
    with pytest.raises(ValueError):
        fidm.inception_extractor(status)


def test_rfid_refuses_wrong_sha_weights(tmp_path, monkeypatch):
    fake = tmp_path / fidm.INCEPTION_FILENAME
    fake.write_bytes(b"not the inception weights" * 100)
    status = fidm.rfid_status(fake)
    assert not status.available and "does not match" in status.reason
    assert hashlib.sha256(fake.read_bytes()).hexdigest()[:16] in status.reason
    # the same file in the torch hub cache is refused the same way
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / fidm.INCEPTION_FILENAME).write_bytes(fake.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert "does not match" in fidm.rfid_status().reason


@pytest.mark.slow
def test_inception_loading_path_takes_exact_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    from tokbench.errors import TokbenchError
    from tokbench.metrics.inception import FIDInceptionExtractor, FIDInceptionV3

    net = FIDInceptionV3()
    # the published network's size: torchvision's Inception3 without the aux head, 1008 classes
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    good = tmp_path / "good.pth"
    torch.save(state, good)
    extractor = FIDInceptionExtractor(good)
    assert torch.equal(extractor.net.Mixed_7c.branch_pool.conv.weight, state["Mixed_7c.branch_pool.conv.weight"])
    grey = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    feats = extractor(grey)
    assert feats.shape == (2, 2048) and feats.dtype == np.float64
    np.testing.assert_array_equal(extractor(torch.from_numpy(grey)), feats)  # tensors take the same path
    bad = dict(state)
    bad.pop("Mixed_6e.branch7x7dbl_5.bn.running_var")
    torch.save(bad, tmp_path / "missing.pth")
    with pytest.raises(TokbenchError, match="do not fit"):
        FIDInceptionExtractor(tmp_path / "missing.pth")
    bad = dict(state, **{"fc.weight": torch.zeros(1000, 2048)})
    torch.save(bad, tmp_path / "shape.pth")
    with pytest.raises(TokbenchError, match="shape"):
        FIDInceptionExtractor(tmp_path / "shape.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(TokbenchError, match="cannot read"):
        FIDInceptionExtractor(tmp_path / "junk.pth")
