"""Audio fidelity metrics (torchmetrics, auraloss, librosa, torch.stft) against hand-computed cases, against the
same quantities built from scipy.signal's STFT and the mel formula, and against the torch training losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import ShortTimeFFT, get_window

# the libraries the metrics import on first use, imported here once: under `make mutate` (forkserver) every mutant
# would otherwise import them again inside its time limit
import auraloss.freq  # noqa: F401
import librosa.filters  # noqa: F401
import torchmetrics.functional.audio  # noqa: F401
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


def _mel_reference(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """The HTK-scale, Slaney-area filterbank from its formula, bands between fmin and fmax (default Nyquist)."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(sr / 2 if fmax is None else fmax), n_mels + 2))
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


# ---------------------------------------------------------------------------------------------- inputs and defaults
def test_pair_puts_both_on_the_reconstructions_device_in_float64():
    """The reconstruction's device wins (a decoded batch is scored where it is); the 'meta' device stands in for
    a GPU here: data copied to it never comes back, so a wrong choice of device fails loudly."""
    torch = pytest.importorskip("torch")
    for ref, est in ((torch.zeros(3), torch.zeros(3, device="meta")), (np.zeros(3), torch.zeros(3, device="meta")),
                     (torch.zeros(3, device="meta"), np.zeros(3))):
        a, b = F._pair(ref, est)
        assert (a.device.type, b.device.type, a.dtype, b.dtype) == ("meta", "meta", torch.float64, torch.float64)
    a, b = F._pair(np.zeros(2, dtype=np.float32), torch.zeros(2, dtype=torch.float16))
    assert (a.device.type, a.dtype, b.dtype) == ("cpu", torch.float64, torch.float64)
    with pytest.raises(ValueError, match=r"^shape mismatch: \(2, 3\) vs \(3, 2\)$"):
        F._pair(np.zeros((2, 3)), np.zeros((3, 2)))


def test_audio_metrics_flatten_channels_and_refuse_bad_signals_by_cause():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal(4000), rng.standard_normal(4000)
    for fn in (F.si_snr_db, F.sdr_db, F.mrstft_distance, F.mel_distance):
        assert fn(x.reshape(2, 2000), y.reshape(2, 2000)) == fn(x, y)  # (channels, samples) read as one signal
    with pytest.raises(ValueError, match="^empty signals$"):
        F.sdr_db(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="^signals hold NaN or infinite samples$"):
        F.sdr_db(np.zeros(3), np.array([0.0, -np.inf, 0.0]))
    assert math.isnan(F.si_snr_db([0.5], [0.25]))  # one sample is a constant reference: no SI-SNR


def test_mel_filterbank_band_limits_and_their_refusals():
    for fmin, fmax in ((0.0, 4000.0), (300.0, 8000.0), (125.0, 7600.0)):
        fb = F.mel_filterbank(16000, 512, 20, fmin=fmin, fmax=fmax)
        np.testing.assert_allclose(fb, _mel_reference(16000, 512, 20, fmin, fmax), rtol=1e-10, atol=1e-14)
        freqs = np.arange(257) * 16000 / 512
        assert not fb[:, (freqs < fmin) | (freqs > fmax)].any()  # nothing outside the band limits
    np.testing.assert_array_equal(F.mel_filterbank(22050, 1024, 40), F.mel_filterbank(22050, 1024, 40, 0.0, 11025.0))
    for fmin, fmax in ((-1.0, 4000.0), (4000.0, 4000.0), (5000.0, 4000.0), (0.0, 8000.5)):
        with pytest.raises(ValueError, match=r"^need 0 <= fmin < fmax <= 8000.0$"):
            F.mel_filterbank(16000, 512, 20, fmin=fmin, fmax=fmax)
    assert F.mel_filterbank(16000, 512, 20, fmin=0.0, fmax=8000).shape == (20, 257)  # both limits included
    cached = F._mel_filterbank(16000, 512, 20, 0.0, 8000.0)
    with pytest.raises(ValueError, match="read-only"):
        cached[0, 0] = 1.0  # the cached bank itself cannot be changed by a caller


def test_mel_distance_defaults_are_16khz_1024_256_64_bands():
    rng = np.random.default_rng(9)
    x = rng.standard_normal(6000) * 0.2
    y = x + 0.05 * rng.standard_normal(6000)
    assert F.mel_distance(x, y) == F.mel_distance(x, y, 16000, 1024, 256, 64, 1e-5)
    assert (F.MEL_N_FFT, F.MEL_HOP, F.MEL_BANDS) == (1024, 256, 64)
    assert F.mel_distance(x, y, 8000) != F.mel_distance(x, y)
    assert F.mrstft_distance(x, y) == F.mrstft_distance(x, y, ((512, 128), (1024, 256), (2048, 512)), 1e-7)


def test_hops_other_than_a_quarter_window_reach_the_stft():
    """Every default resolution uses hop = n_fft / 4, torch.stft's own default: other hops must be passed on."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal(5000) * 0.3
    y = 0.7 * x + 0.1 * rng.standard_normal(5000)
    np.testing.assert_allclose(F.stft_magnitude(x, 512, 100).numpy(), _scipy_magnitude(x, 512, 100), atol=1e-10)
    s, s_hat = (np.maximum(_scipy_magnitude(v, 256, 32), 1e-7) for v in (x, y))
    expected = np.linalg.norm(s - s_hat) / np.linalg.norm(s) + np.abs(np.log(s) - np.log(s_hat)).mean()
    assert F.mrstft_distance(x, y, resolutions=((256, 32),)) == pytest.approx(expected, rel=1e-9)
    fb = _mel_reference(8000, 512, 32).T
    a = np.log(_scipy_magnitude(x, 512, 100) @ fb + 1e-5)
    b = np.log(_scipy_magnitude(y, 512, 100) @ fb + 1e-5)
    assert F.mel_distance(x, y, 8000, n_fft=512, hop=100, n_mels=32) == pytest.approx(np.abs(a - b).mean(), rel=1e-9)


def test_stft_stays_on_the_signals_device():
    """'meta' stands in for a GPU: the window must be made where the signal is, or torch.stft refuses."""
    torch = pytest.importorskip("torch")
    assert F.stft_magnitude(torch.zeros(1000, device="meta"), 512, 128).device.type == "meta"


def test_signals_that_require_grad_are_scored_detached():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal(3000), rng.standard_normal(3000)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    assert F.sdr_db(tx, ty) == F.sdr_db(x, y)
    assert F.stft_magnitude(tx, 512, 128).requires_grad is False
