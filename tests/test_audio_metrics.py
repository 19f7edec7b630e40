"""Audio fidelity metrics (torchmetrics, auraloss, librosa, torch.stft) against hand-computed cases, against the
same quantities built from scipy.signal's STFT and the mel formula, and against the torch training losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import ShortTimeFFT, get_window

from tokbench.metrics import fidelity as F


def test_si_snr_hand_case_and_invariances():
    ref = np.array([1.0, -1.0, 1.0, -1.0])
    noise = np.array([1.0, 1.0, -1.0, -1.0])  # orthogonal to ref, zero mean
    est = ref + 0.5 * noise
    # target = ref (projection coefficient 1), e = 0.5 noise: 10 log10(4 / 1)
    assert F.si_snr_db(ref, est) == pytest.approx(10 * math.log10(4.0), abs=1e-9)
    assert F.si_snr_db(ref, 3.0 * est) == pytest.approx(10 * math.log10(4.0), abs=1e-9)  # scale invariant
    assert F.si_snr_db(ref, est + 7.0) == pytest.approx(10 * math.log10(4.0), abs=1e-9)  # zero-mean first
    assert F.si_snr_db(ref, -est) == pytest.approx(10 * math.log10(4.0), abs=1e-9)  # sign is a scale too
    assert F.si_snr_db(ref, 2.0 * ref) > 150  # exact copy: the library's eps ceiling, not +inf
    assert math.isnan(F.si_snr_db(np.ones(4), ref))  # silent (constant) reference


def test_si_snr_matches_projection_formula_on_random_signals():
    rng = np.random.default_rng(0)
    s, e = rng.standard_normal(1000), rng.standard_normal(1000)
    est = 0.7 * s + 0.3 * e + 0.2
    s0, est0 = s - s.mean(), est - est.mean()
    target = (est0 @ s0) / (s0 @ s0) * s0
    expected = 10 * np.log10((target @ target) / ((est0 - target) @ (est0 - target)))
    assert F.si_snr_db(s, est) == pytest.approx(expected, rel=1e-12)


def test_sdr_hand_case():
    ref, est = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 2.0])
    assert F.sdr_db(ref, est) == pytest.approx(10 * math.log10(14.0 / 1.0), abs=1e-9)
    assert F.sdr_db(ref, ref) > 150
    # not scale invariant, unlike SI-SNR: halving the estimate leaves error 0.5 s -> 10 log10(4)
    assert F.sdr_db(ref, 0.5 * ref) == pytest.approx(10 * math.log10(4.0), abs=1e-9)
    # no mean removal: a constant offset of 1 on [1, 2, 3] is error energy 3 -> 10 log10(14 / 3)
    assert F.sdr_db(ref, ref + 1.0) == pytest.approx(10 * math.log10(14.0 / 3.0), abs=1e-9)


@pytest.mark.parametrize("fn", [F.si_snr_db, F.sdr_db, F.mrstft_distance, F.mel_distance])
@pytest.mark.parametrize("ref,est,match", [
    (np.zeros(3), np.zeros(4), "shape"),
    (np.array([]), np.array([]), "empty"),
    (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), "NaN"),
    (np.array([0.0, 1.0]), np.array([np.inf, 1.0]), "NaN"),
])
def test_bad_pairs_raise(fn, ref, est, match):
    with pytest.raises(ValueError, match=match):
        fn(ref, est)


# ---------------------------------------------------------------------------------------------- spectra
def _scipy_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| (frames, bins) from scipy.signal: periodic Hann, frames centred on multiples of hop, even
    (reflect) extension at both ends; short signals zero-padded to n_fft first, as the metric documents."""
    if x.size <= n_fft // 2:
        x = np.pad(x, (0, n_fft - x.size))
    stft = ShortTimeFFT(get_window("hann", n_fft), hop=hop, fs=1.0, mfft=n_fft)
    return np.abs(stft.stft(x, p0=0, p1=1 + x.size // hop, padding="even")).T


def _mel_reference(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """The HTK-scale, Slaney-area filterbank from its formula."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(sr / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return tri * 2.0 / (hi - lo)


@pytest.mark.parametrize("n", [6000, 300, 256, 200])
def test_stft_matches_scipy(n):
    x = np.random.default_rng(1).standard_normal(n) * 0.3
    for n_fft, hop in F.MRSTFT_RESOLUTIONS:
        ours = F.stft_magnitude(x, n_fft, hop).numpy()
        np.testing.assert_allclose(ours, _scipy_magnitude(x, n_fft, hop), atol=1e-10)


def test_mrstft_matches_scipy_derived_distance():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(7000)
    y = 0.8 * x + 0.2 * rng.standard_normal(7000)
    y[:2000] = 0.0  # digital silence in the estimate: the eps floor matters there
    total = 0.0
    for n_fft, hop in F.MRSTFT_RESOLUTIONS:
        s, s_hat = (np.maximum(_scipy_magnitude(v, n_fft, hop), 1e-7) for v in (x, y))
        total += np.linalg.norm(s - s_hat) / np.linalg.norm(s) + np.abs(np.log(s) - np.log(s_hat)).mean()
    assert F.mrstft_distance(x, y) == pytest.approx(total / 3, rel=1e-9)


def test_mrstft_hand_case_half_amplitude():
    # S_hat = S / 2 in every bin: SC = 1/2 and LM = log 2 at every resolution
    x = np.random.default_rng(2).standard_normal(8000)
    assert F.mrstft_distance(x, x) == 0.0
    assert F.mrstft_distance(x, 0.5 * x) == pytest.approx(0.5 + math.log(2.0), rel=1e-9)
    assert F.mrstft_distance(x, 0.5 * x, resolutions=((256, 64),)) == pytest.approx(0.5 + math.log(2.0), rel=1e-9)
    small = F.mrstft_distance(x, x + 0.01 * np.random.default_rng(3).standard_normal(8000))
    assert 0 < small < F.mrstft_distance(x, x + 0.3 * np.random.default_rng(3).standard_normal(8000))


def test_mel_filterbank_matches_formula():
    fb = F.mel_filterbank(16000, 1024, 64)
    assert fb.shape == (64, 513) and fb.dtype == np.float64
    np.testing.assert_allclose(fb, _mel_reference(16000, 1024, 64), rtol=1e-10, atol=1e-14)
    area = fb.sum(axis=1) * 16000 / 1024  # Slaney: every band's area (sum x bin width in Hz) is ~1
    assert np.allclose(area[8:], 1.0, atol=0.05)
    fb[0, 0] = 1.0  # a copy: the cached bank stays intact
    assert F.mel_filterbank(16000, 1024, 64)[0, 0] == 0.0
    with pytest.raises(ValueError):
        F.mel_filterbank(16000, 1024, 64, fmax=9000)


def test_mel_distance_matches_scipy_and_formula():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(9000) * 0.2
    y = np.convolve(x, np.ones(4) / 4, mode="same") + 0.01 * rng.standard_normal(9000)
    fb = _mel_reference(16000, 1024, 64).T
    a = np.log(_scipy_magnitude(x, 1024, 256) @ fb + 1e-5)
    b = np.log(_scipy_magnitude(y, 1024, 256) @ fb + 1e-5)
    assert F.mel_distance(x, y, 16000) == pytest.approx(np.abs(a - b).mean(), rel=1e-9)


def test_mel_distance_of_half_amplitude_is_log2():
    x = 100.0 * np.random.default_rng(3).standard_normal(16000)  # loud: eps = 1e-5 is negligible
    assert F.mel_distance(x, x) == 0.0
    assert F.mel_distance(x, 0.5 * x) == pytest.approx(math.log(2.0), rel=1e-6)


def test_short_signals_are_padded():
    x = np.sin(np.arange(300) / 5.0)
    assert F.mrstft_distance(x, x * 0.9) > 0
    assert F.mel_distance(x, x * 0.9) > 0


def test_training_losses_match_metrics():
    torch = pytest.importorskip("torch")
    from tokbench.audio.losses import MelLoss, mrstft_loss

    rng = np.random.default_rng(1)
    x = rng.standard_normal(6000) * 0.3
    y = x + 0.05 * rng.standard_normal(6000)
    tx, ty = torch.tensor(x)[None], torch.tensor(y)[None]
    assert float(mrstft_loss(tx, ty)) == pytest.approx(F.mrstft_distance(x, y), rel=1e-9)
    assert float(MelLoss(16000).double()(tx, ty)) == pytest.approx(F.mel_distance(x, y, 16000), rel=1e-9)


def _devices():
    torch = pytest.importorskip("torch")
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", _devices())
def test_tensors_are_scored_where_they_are(device):
    import torch

    rng = np.random.default_rng(6)
    x = rng.standard_normal(5000).astype(np.float32)
    y = (0.9 * x + 0.1 * rng.standard_normal(5000)).astype(np.float32)
    tx, ty = torch.tensor(x, device=device), torch.tensor(y, device=device)
    for fn in (F.si_snr_db, F.sdr_db, F.mrstft_distance, F.mel_distance):
        assert fn(tx, ty) == pytest.approx(fn(x.astype(np.float64), y.astype(np.float64)), rel=1e-9)
    assert F.stft_magnitude(tx, 512, 128).device == tx.device
