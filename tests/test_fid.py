"""Fréchet distance against a scipy.linalg.sqrtm reference (pytorch-fid's computation), feature statistics on
numpy and tensors, and rFID refusing without the verified standard Inception weights."""

from __future__ import annotations

import hashlib
import re

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


# ---------------------------------------------------------------------------------------------- refusals, by cause
@pytest.mark.parametrize("shape", [(5,), (1, 3), (2, 3, 4), (0, 4)])
def test_feature_statistics_refuses_fewer_than_two_vectors_or_wrong_rank(shape):
    with pytest.raises(ValueError, match=rf"at least 2 feature vectors shaped \(N, D\), got {re.escape(str(shape))}"):
        fidm.feature_statistics(np.zeros(shape))


def test_feature_statistics_of_two_vectors_by_hand():
    mu, sigma = fidm.feature_statistics([[0.0, 1.0], [2.0, 5.0]])
    np.testing.assert_array_equal(mu, [1.0, 3.0])
    np.testing.assert_array_equal(sigma, [[2.0, 4.0], [4.0, 8.0]])  # N - 1 = 1: (x - mu)^T (x - mu)


@pytest.mark.parametrize("mu1,s1,mu2,s2,named", [
    (np.zeros(3), np.eye(3), np.zeros(2), np.eye(2), "mu (3,)/(2,), sigma (3, 3)/(2, 2)"),
    (np.zeros(2), np.eye(2), np.zeros(2), np.eye(3), "mu (2,)/(2,), sigma (2, 2)/(3, 3)"),
    (np.zeros(2), np.eye(3), np.zeros(2), np.eye(3), "mu (2,)/(2,), sigma (3, 3)/(3, 3)"),  # sigma not D x D
])
def test_frechet_distance_refuses_mismatched_statistics(mu1, s1, mu2, s2, named):
    with pytest.raises(ValueError, match=re.escape(f"mismatched statistics: {named}")):
        fidm.frechet_distance(mu1, s1, mu2, s2)


def test_frechet_distance_of_scalars_and_its_zero_floor():
    assert fidm.frechet_distance(1.0, 4.0, 3.0, 9.0) == pytest.approx(5.0, abs=1e-12)  # 1-D as plain numbers
    # round-off may push the distance of identical statistics below 0: it is reported as exactly 0
    rng = np.random.default_rng(7)
    mu, s = fidm.feature_statistics(rng.standard_normal((50, 30)) * 1e3)
    assert fidm.frechet_distance(mu, s, mu, s) == 0.0 or 0 < fidm.frechet_distance(mu, s, mu, s) < 1e-6
    assert fidm.frechet_distance([0.0], [[1.0]], [0.0], [[1.0 - 1e-12]]) >= 0.0


def test_trace_sqrt_product_by_hand_and_negative_round_off_clipped():
    # diagonal matrices commute: Tr((S1 S2)^(1/2)) = sum sqrt(a_i b_i)
    assert fidm.trace_sqrt_product(np.diag([4.0, 1.0]), np.diag([9.0, 16.0])) == pytest.approx(6.0 + 4.0, abs=1e-12)
    # an eigenvalue a hair below 0 (round-off) counts as 0, not as nan
    assert fidm.trace_sqrt_product(np.diag([4.0, -1e-12]), np.diag([9.0, 16.0])) == pytest.approx(6.0, abs=1e-5)
    assert fidm.trace_sqrt_product(np.eye(2), np.diag([9.0, -1e-12])) == pytest.approx(3.0, abs=1e-5)
    # a rotated (non-diagonal) pair against the general matrix square root
    rot = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    s1, s2 = rot @ np.diag([3.0, 0.5]) @ rot.T, np.array([[2.0, 0.4], [0.4, 1.0]])
    expected = np.trace(np.asarray(scipy.linalg.sqrtm(s1 @ s2)).real)
    assert fidm.trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(fidm._psd_sqrt(s1) @ fidm._psd_sqrt(s1), s1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("side,max_side,pooled", [(8, 16, 8), (33, 16, 11), (35, 16, 11), (32, 8, 8), (17, 16, 8)])
def test_pixel_features_pooling_factor_and_crop(side, max_side, pooled):
    """factor f = ceil(side / max_side) (at least 1), the image cropped to a multiple of f, f x f means."""
    imgs = np.random.default_rng(side).random((2, 2, side, side))
    feats = fidm.PixelFeatures(max_side=max_side)(imgs)
    f = max(1, -(-side // max_side))
    assert feats.shape == (2, 2 * pooled * pooled)
    crop = imgs[:, :, :pooled * f, :pooled * f]
    expected = crop.reshape(2, 2, pooled, f, pooled, f).mean(axis=(3, 5)).reshape(2, -1)
    np.testing.assert_allclose(feats, expected, rtol=1e-12)


def test_fd_uses_the_given_extractor():
    calls = []

    def first_pixel(images):
        calls.append(images.shape)
        return np.asarray(images)[:, 0, 0, :2]

    a = np.zeros((3, 1, 2, 2))
    a[:, 0, 0, 0] = [0.0, 1.0, 2.0]
    b = a + 1.0
    # features (first two pixels): only the mean moves, by (1, 1): FD = 1 + 1
    assert fidm.fd(a, b, extractor=first_pixel) == pytest.approx(2.0, abs=1e-9)
    assert calls == [(3, 1, 2, 2), (3, 1, 2, 2)]


@pytest.mark.parametrize("env,expected", [
    ({"TORCH_HOME": "th", "XDG_CACHE_HOME": "xdg", "HOME": "home"}, "th/hub/checkpoints"),
    ({"XDG_CACHE_HOME": "xdg", "HOME": "home"}, "xdg/torch/hub/checkpoints"),
    ({"HOME": "home"}, "home/.cache/torch/hub/checkpoints"),
    ({"TORCH_HOME": "", "XDG_CACHE_HOME": "", "HOME": "home"}, "home/.cache/torch/hub/checkpoints"),
])
def test_hub_checkpoint_dir_follows_torch_hub(tmp_path, monkeypatch, env, expected):
    for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(tmp_path / value) if value else "")
    assert fidm.hub_checkpoint_dir() == tmp_path / expected


def _stand_in(tmp_path, monkeypatch, name=fidm.INCEPTION_FILENAME):
    """A fake weights file whose sha256 is made the expected one (the real file never exists in tests)."""
    fake = tmp_path / name
    fake.write_bytes(b"stand-in inception weights")
    monkeypatch.setattr(fidm, "INCEPTION_SHA256", hashlib.sha256(fake.read_bytes()).hexdigest())
    return fake


def test_rfid_status_accepts_the_verified_file_given_or_in_the_hub(tmp_path, monkeypatch):
    fake = _stand_in(tmp_path, monkeypatch, "given.pth")
    status = fidm.rfid_status(fake)
    assert status.available and status.weights == fake and status.reason is None
    monkeypatch.setenv("HOME", str(tmp_path))
    assert fidm.rfid_status("~/given.pth").weights == fake  # ~ expanded
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / fidm.INCEPTION_FILENAME).write_bytes(fake.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    found = fidm.rfid_status()
    assert found.available and found.weights == hub / fidm.INCEPTION_FILENAME and found.reason is None


def test_rfid_status_reasons_name_the_file_and_cause(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    assert fidm.rfid_status().reason == (f"standard FID Inception weights ({fidm.INCEPTION_FILENAME}) not found in "
                                         f"{hub} and no --inception-weights given; rFID is never estimated")
    assert fidm.rfid_status(tmp_path / "nope.pth").reason == f"Inception weights {tmp_path / 'nope.pth'} not found"
    assert fidm.rfid_status(tmp_path).reason == f"Inception weights {tmp_path} not found"  # a folder is no file
    hub.mkdir(parents=True)
    (hub / fidm.INCEPTION_FILENAME).mkdir()
    assert "not found in" in fidm.rfid_status().reason
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(b"other bytes")
    digest = hashlib.sha256(b"other bytes").hexdigest()
    assert fidm.rfid_status(wrong).reason == (f"{wrong}: sha256 {digest[:16]}... does not match the standard FID "
                                              f"Inception weights ({fidm.INCEPTION_SHA256[:16]}...)")


def test_rfid_refuses_fewer_images_than_the_feature_dimension(tmp_path, monkeypatch):
    """issue 14: the standard rFID needs N >= 2048 (pool3 features) per set; fewer is 'unavailable', with why."""
    assert fidm.RFID_MIN_IMAGES == fidm.INCEPTION_FEATURES == 2048
    fake = _stand_in(tmp_path, monkeypatch)
    few = fidm.rfid_status(fake, n_images=2047)
    assert not few.available and few.weights is None
    assert few.reason == ("rFID needs at least 2048 images (the Inception feature dimension, for a full-rank "
                          "covariance); 2047 evaluated")
    assert fidm.rfid_status(fake, n_images=2048).weights == fake
    assert fidm.rfid_status(fake).weights == fake  # no count given: only the weights are checked
    # the weights are checked first: a wrong file is named as such whatever the count
    monkeypatch.setattr(fidm, "INCEPTION_SHA256", "0" * 64)
    assert "does not match" in fidm.rfid_status(fake, n_images=10).reason


def test_inception_extractor_refuses_unavailable_and_builds_verified(tmp_path, monkeypatch):
    from tokbench.metrics import inception

    with pytest.raises(ValueError, match="^Inception weights .* not found$"):
        fidm.inception_extractor(fidm.rfid_status(tmp_path / "nope.pth"))
    built = []
    monkeypatch.setattr(inception, "FIDInceptionExtractor",
                        lambda weights, device, batch_size: built.append((weights, device, batch_size)) or "net")
    fake = _stand_in(tmp_path, monkeypatch)
    assert fidm.inception_extractor(fidm.rfid_status(fake)) == "net"
    assert fidm.inception_extractor(fidm.rfid_status(fake), device="meta", batch_size=7) == "net"
    assert built == [(fake, "cpu", 50), (fake, "meta", 7)]


def test_float32_features_and_statistics_are_computed_in_float64():
    """An extractor may hand float32 features (a model's output): every step runs in float64 all the same."""
    rng = np.random.default_rng(12)
    feats = (1000.0 + rng.standard_normal((300, 6))).astype(np.float32)  # a large offset: float32 sums drift
    mu, sigma = fidm.feature_statistics(feats)
    mu64, sigma64 = fidm.feature_statistics(feats.astype(np.float64))
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(mu, mu64, rtol=1e-14)
    np.testing.assert_allclose(sigma, sigma64, rtol=1e-12)
    other = rng.standard_normal((6, 6))
    s2 = other @ other.T + np.eye(6)
    s1 = sigma.astype(np.float32)
    expected = fidm.frechet_distance(mu, s1.astype(np.float64), mu + 0.5, s2)
    assert fidm.frechet_distance(mu, s1, mu + 0.5, s2) == pytest.approx(expected, rel=1e-12)
    assert fidm.frechet_distance(mu + 0.5, s2, mu, s1) == pytest.approx(expected, rel=1e-12)


def test_pixel_features_of_a_tensor_that_requires_grad():
    torch = pytest.importorskip("torch")
    imgs = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0), requires_grad=True)
    np.testing.assert_array_equal(fidm.PixelFeatures()(imgs), fidm.PixelFeatures()(imgs.detach().numpy()))
