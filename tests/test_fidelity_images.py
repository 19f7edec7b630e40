"""PSNR and SSIM against scikit-image, the reference implementations they claim to match."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tokbench.metrics.fidelity import psnr, psnr_per_image, ssim, ssim_per_image


def _pair(shape, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    return a, np.clip(a + noise * rng.standard_normal(shape), 0, 1)


def test_psnr_matches_skimage():
    a, b = _pair((5, 3, 12, 17))
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1), abs=1e-9)
    per = psnr_per_image(a, b)
    assert np.allclose(per, [peak_signal_noise_ratio(a[i], b[i], data_range=1) for i in range(5)], atol=1e-9)
    assert psnr(a, a) == float("inf")
    assert psnr(a * 255, b * 255, data_range=255) == pytest.approx(psnr(a, b))


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 32, 19), (1, 3, 11, 11)])
def test_ssim_matches_skimage_gaussian(shape):
    a, b = _pair(shape, noise=0.2, seed=shape[3])
    ref = [structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1, channel_axis=0) for i in range(shape[0])]
    assert np.allclose(ssim_per_image(a, b), ref, atol=1e-6, rtol=0)
    one = structural_similarity(a[0, 0], b[0, 0], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=1)
    assert ssim(a[0, 0], b[0, 0]) == pytest.approx(one, abs=1e-6)


def test_ssim_bounds_and_small_images():
    a, b = _pair((2, 1, 16, 16), noise=0.3)
    assert ssim(a[0], a[0]) == pytest.approx(1.0)
    assert -1.0 <= ssim(a[0], b[0]) < 1.0
    with pytest.raises(ValueError, match="11x11"):
        ssim_per_image(np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="shape"):
        ssim_per_image(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 15)))
