"""Audio fidelity metrics against hand-computed cases and against the torch training losses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokbench.metrics import fidelity as F


def test_si_snr_hand_case_and_invariances():
    ref = np.array([1.0, -1.0, 1.0, -1.0])
    noise = np.array([1.0, 1.0, -1.0, -1.0])  # orthogonal to ref, zero mean
    est = ref + 0.5 * noise
    # target = ref (projection coefficient 1), e = 0.5 noise: 10 log10(4 / 1)
    assert F.si_snr_db(ref, est) == pytest.approx(10 * math.log10(4.0))
    assert F.si_snr_db(ref, 3.0 * est) == pytest.approx(10 * math.log10(4.0))  # scale invariant
    assert F.si_snr_db(ref, est + 7.0) == pytest.approx(10 * math.log10(4.0))  # zero-mean first
    assert F.si_snr_db(ref, 2.0 * ref) == math.inf
    assert math.isnan(F.si_snr_db(np.ones(4), ref))  # silent (constant) reference


def test_si_snr_matches_projection_formula_on_random_signals():
    rng = np.random.default_rng(0)
    s, e = rng.standard_normal(1000), rng.standard_normal(1000)
    est = 0.7 * s + 0.3 * e
    s0, est0 = s - s.mean(), est - est.mean()
    target = (est0 @ s0) / (s0 @ s0) * s0
    expected = 10 * np.log10((target @ target) / ((est0 - target) @ (est0 - target)))
    assert F.si_snr_db(s, est) == pytest.approx(expected)


def test_sdr_hand_case():
    ref, est = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 2.0])
    assert F.sdr_db(ref, est) == pytest.approx(10 * math.log10(14.0 / 1.0))
    assert F.sdr_db(ref, ref) == math.inf
    # not scale invariant, unlike SI-SNR: halving the estimate leaves error 0.5 s -> 10 log10(4)
    assert F.sdr_db(ref, 0.5 * ref) == pytest.approx(10 * math.log10(4.0))


def test_bad_pairs_raise():
    with pytest.raises(ValueError):
        F.si_snr_db(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        F.sdr_db(np.array([]), np.array([]))
    with pytest.raises(ValueError):
        F.mel_distance(np.array([np.nan, 1.0]), np.array([0.0, 1.0]))


def test_stft_matches_torch_and_losses_match_metrics():
    torch = pytest.importorskip("torch")
    from tokbench.audio.losses import MelLoss, mrstft_loss

    rng = np.random.default_rng(1)
    x = rng.standard_normal(6000) * 0.3
    y = x + 0.05 * rng.standard_normal(6000)
    for n_fft, hop in F.MRSTFT_RESOLUTIONS:
        ref = torch.stft(torch.tensor(x), n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                         center=True, pad_mode="reflect", return_complex=True).abs().numpy().T
        np.testing.assert_allclose(F.stft_magnitude(x, n_fft, hop), ref, atol=1e-10)
    tx, ty = torch.tensor(x)[None], torch.tensor(y)[None]
    assert float(mrstft_loss(tx, ty)) == pytest.approx(F.mrstft_distance(x, y), rel=1e-9)
    assert float(MelLoss(16000).double()(tx, ty)) == pytest.approx(F.mel_distance(x, y, 16000), rel=1e-9)


def test_mrstft_distance_identity_and_growth():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(8000)
    assert F.mrstft_distance(x, x) == 0.0
    small = F.mrstft_distance(x, x + 0.01 * rng.standard_normal(8000))
    large = F.mrstft_distance(x, x + 0.3 * rng.standard_normal(8000))
    assert 0 < small < large


def test_mel_filterbank_shape_area_and_scale():
    assert F.hz_to_mel(700.0) == pytest.approx(2595 * math.log10(2))
    assert F.mel_to_hz(F.hz_to_mel(1234.5)) == pytest.approx(1234.5)
    fb = F.mel_filterbank(16000, 1024, 64)
    assert fb.shape == (64, 513) and (fb >= 0).all()
    # Slaney normalisation: every band's area (sum x bin width in Hz) is ~1
    area = fb.sum(axis=1) * 16000 / 1024
    assert np.allclose(area[8:], 1.0, atol=0.05)
    peaks = fb.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[-1] > 400


def test_mel_distance_of_half_amplitude_is_log2():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(16000)
    assert F.mel_distance(x, x) == 0.0
    # |S| scales by 0.5 in every band; eps is negligible for unit-variance noise
    assert F.mel_distance(x, 0.5 * x) == pytest.approx(math.log(2.0), rel=1e-3)


def test_short_signals_are_padded():
    x = np.sin(np.arange(300) / 5.0)
    assert F.mrstft_distance(x, x * 0.9) > 0
    assert F.mel_distance(x, x * 0.9) > 0
