"""PSNR and SSIM (torchmetrics) against scikit-image and hand-computed cases, on numpy and on tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import torchmetrics.functional.image  # noqa: F401  (imported once here, not by each mutant: see test_audio_metrics)
from tokbench.metrics.fidelity import psnr, psnr_per_image, ssim, ssim_per_image

#: torchmetrics converts log(10) at float32: every PSNR it returns is off by this constant relative amount
PSNR_REL = 1e-7


def _pair(shape, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    return a, np.clip(a + noise * rng.standard_normal(shape), 0, 1)


def test_psnr_hand_case():
    a = np.zeros((2, 1, 2, 2))
    b = a.copy()
    b[0, 0, 0, 0] = 0.1  # image 0: MSE = 0.01 / 4; image 1 exact
    assert psnr_per_image(a, b)[0] == pytest.approx(10 * math.log10(1 / 0.0025), rel=PSNR_REL)
    assert psnr_per_image(a, b)[1] == math.inf
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / 0.00125), rel=PSNR_REL)  # pooled over 8 pixels
    assert psnr(a * 255, b * 255, data_range=255) == pytest.approx(psnr(a, b), rel=PSNR_REL)


def test_psnr_matches_skimage():
    a, b = _pair((5, 3, 12, 17))
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1), rel=PSNR_REL)
    per = psnr_per_image(a, b)
    assert isinstance(per, np.ndarray) and per.shape == (5,)
    ref = [peak_signal_noise_ratio(a[i], b[i], data_range=1) for i in range(5)]
    np.testing.assert_allclose(per, ref, rtol=PSNR_REL, atol=0)
    assert psnr(a, a) == math.inf


def test_ssim_hand_case_constant_images():
    # no variance anywhere: SSIM = (2ab + C1) / (a^2 + b^2 + C1), the contrast-structure term is (0 + C2) / (0 + C2)
    a, b = np.full((1, 1, 16, 16), 0.5), np.full((1, 1, 16, 16), 0.25)
    c1 = (0.01 * 1.0) ** 2
    assert ssim_per_image(a, b)[0] == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1), abs=1e-12)
    c1 = (0.01 * 2.0) ** 2
    assert ssim(a[0], b[0], data_range=2.0) == pytest.approx((0.25 + c1) / (0.3125 + c1), abs=1e-12)


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 32, 19), (1, 3, 11, 11)])
def test_ssim_matches_skimage_gaussian(shape):
    a, b = _pair(shape, noise=0.2, seed=shape[3])
    ref = [structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1, channel_axis=0) for i in range(shape[0])]
    np.testing.assert_allclose(ssim_per_image(a, b), ref, atol=1e-10, rtol=0)
    one = structural_similarity(a[0, 0], b[0, 0], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=1)
    assert ssim(a[0, 0], b[0, 0]) == pytest.approx(one, abs=1e-10)


def test_ssim_bounds_and_small_images():
    a, b = _pair((2, 1, 16, 16), noise=0.3)
    assert ssim(a[0], a[0]) == pytest.approx(1.0, abs=1e-12)
    assert -1.0 <= ssim(a[0], b[0]) < 1.0
    with pytest.raises(ValueError, match="11x11"):
        ssim_per_image(np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="shape"):
        ssim_per_image(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 15)))
    with pytest.raises(ValueError, match="batch"):
        ssim_per_image(np.zeros((1, 16, 16)), np.zeros((1, 16, 16)))
    with pytest.raises(ValueError, match="image"):
        ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)))


def _devices():
    torch = pytest.importorskip("torch")
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", _devices())
def test_tensors_are_scored_where_they_are(device):
    """float32 tensors (as a model decodes them) give the numpy float64 figures; only per-image values return."""
    import torch

    a, b = _pair((3, 3, 16, 16), noise=0.2, seed=5)
    ta, tb = torch.tensor(a, dtype=torch.float32, device=device), torch.tensor(b, dtype=torch.float32, device=device)
    a32, b32 = ta.cpu().double().numpy(), tb.cpu().double().numpy()
    np.testing.assert_allclose(psnr_per_image(ta, tb), psnr_per_image(a32, b32), rtol=1e-12)
    np.testing.assert_allclose(ssim_per_image(ta, tb), ssim_per_image(a32, b32), atol=1e-12)
    np.testing.assert_allclose(ssim_per_image(a32, tb), ssim_per_image(a32, b32), atol=1e-12)  # mixed inputs
    assert isinstance(ssim_per_image(ta, tb), np.ndarray)


def test_data_range_reaches_every_image_metric():
    a, b = _pair((2, 3, 16, 16), noise=0.2, seed=9)
    np.testing.assert_allclose(psnr_per_image(255 * a, 255 * b, data_range=255), psnr_per_image(a, b), rtol=PSNR_REL)
    ref = [structural_similarity(255 * a[i], 255 * b[i], gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255, channel_axis=0) for i in range(2)]
    np.testing.assert_allclose(ssim_per_image(255 * a, 255 * b, data_range=255), ref, atol=1e-10, rtol=0)
    assert ssim(255 * a[0], 255 * b[0], data_range=255) == pytest.approx(ref[0], abs=1e-10)
    # the range matters (C1, C2 and R^2 scale with it): a wrong one moves both figures
    assert psnr_per_image(a, b, data_range=2.0)[0] == pytest.approx(psnr_per_image(a, b)[0] + 20 * math.log10(2),
                                                                     rel=PSNR_REL)
    assert ssim_per_image(a, b, data_range=2.0)[0] > ssim_per_image(a, b)[0]


@pytest.mark.parametrize("fn,a,b,message", [
    (ssim_per_image, np.zeros((1, 1, 8, 10)), np.zeros((1, 1, 8, 10)),
     "SSIM needs images of at least 11x11 pixels (got 8x10)"),
    (ssim_per_image, np.zeros((1, 1, 30, 10)), np.zeros((1, 1, 30, 10)),
     "SSIM needs images of at least 11x11 pixels (got 30x10)"),
    (ssim_per_image, np.zeros((1, 16, 16)), np.zeros((1, 16, 16)), "expected an (N, C, H, W) batch, got shape (1, 16, 16)"),
    (ssim, np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)),
     "expected an (H, W) or (C, H, W) image, got shape (1, 1, 16, 16)"),
    (ssim, np.zeros(16), np.zeros(16), "expected an (H, W) or (C, H, W) image, got shape (16,)"),
    (psnr, np.zeros((2, 3)), np.zeros((3, 2)), "shape mismatch: (2, 3) vs (3, 2)"),
])
def test_image_metric_refusals_name_their_cause(fn, a, b, message):
    with pytest.raises(ValueError) as err:
        fn(a, b)
    assert str(err.value) == message


def test_ssim_of_one_image_in_each_layout():
    a, b = _pair((3, 14, 12), noise=0.2, seed=4)
    three = ssim(a, b)
    assert three == pytest.approx(float(ssim_per_image(a[None], b[None])[0]), abs=1e-15)
    assert ssim(a[1], b[1]) == pytest.approx(float(ssim_per_image(a[None, 1:2], b[None, 1:2])[0]), abs=1e-15)
    assert ssim(a[1], b[1]) != three
