"""Reconstruction fidelity: images (PSNR, SSIM) and audio (SI-SNR, SDR, multi-resolution STFT and mel distances).

Pure functions over numpy arrays (torch tensors are accepted and converted). Each docstring gives the formula
and the reference implementation it matches.
"""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------------------------------------- images
def _as_array(x) -> np.ndarray:
    """numpy float64 view of an array or a torch tensor (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_pair(reference, reconstruction) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_array(reference), _as_array(reconstruction)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return a, b


def psnr(reference, reconstruction, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio of the whole array, PSNR = 10 log10(R^2 / MSE) dB with R = `data_range`.

    Matches `skimage.metrics.peak_signal_noise_ratio(reference, reconstruction, data_range=R)`;
    identical inputs give +inf.
    """
    a, b = _check_pair(reference, reconstruction)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range ** 2 / mse))


def psnr_per_image(reference, reconstruction, data_range: float = 1.0) -> np.ndarray:
    """PSNR of each image of a batch (axis 0), each over all its pixels and channels, in dB.

    Image-tokenizer papers (VQGAN, TiTok, FlexTok) report the mean of these per-image values, not the PSNR
    of the pooled MSE; images reconstructed exactly give +inf.
    """
    a, b = _check_pair(reference, reconstruction)
    mse = ((a - b) ** 2).reshape(a.shape[0], -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # window radius int(3.5 * 1.5 + 0.5) = 5: the 11x11 window of Wang et al.
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _gaussian_taps(sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _gaussian_blur(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable Gaussian over the last two axes, edges mirrored (d c b a | a b c d), as
    `scipy.ndimage.gaussian_filter(mode="reflect")`."""
    r = len(taps) // 2
    h, w = x.shape[-2:]
    pad = [(0, 0)] * (x.ndim - 2) + [(r, r), (0, 0)]
    xp = np.pad(x, pad, mode="symmetric")
    out = np.zeros_like(x)
    for k, t in enumerate(taps):
        out += t * xp[..., k:k + h, :]
    pad = [(0, 0)] * (x.ndim - 2) + [(0, 0), (r, r)]
    xp = np.pad(out, pad, mode="symmetric")
    out = np.zeros_like(x)
    for k, t in enumerate(taps):
        out += t * xp[..., :, k:k + w]
    return out


def ssim_per_image(reference, reconstruction, data_range: float = 1.0) -> np.ndarray:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) of each image in an (N, C, H, W) batch.

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    local statistics under an 11x11 Gaussian window (sigma 1.5), population (not sample) covariances,
    C1 = (0.01 R)^2, C2 = (0.03 R)^2; the SSIM map is averaged over the pixels at least 5 from the border,
    then over channels. Matches `skimage.metrics.structural_similarity(x, y, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=R, channel_axis=0)` for each image.
    Images smaller than the 11x11 window have no SSIM (ValueError), as in scikit-image.
    """
    a, b = _check_pair(reference, reconstruction)
    if a.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {a.shape}")
    taps = _gaussian_taps()
    win = len(taps)
    if min(a.shape[-2:]) < win:
        raise ValueError(f"SSIM needs images of at least {win}x{win} pixels (got {a.shape[-2]}x{a.shape[-1]})")
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_a, mu_b = _gaussian_blur(a, taps), _gaussian_blur(b, taps)
    var_a = _gaussian_blur(a * a, taps) - mu_a * mu_a
    var_b = _gaussian_blur(b * b, taps) - mu_b * mu_b
    cov = _gaussian_blur(a * b, taps) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)
    smap = num / den
    p = (win - 1) // 2
    return smap[..., p:-p, p:-p].mean(axis=(-2, -1)).mean(axis=1)


def ssim(reference, reconstruction, data_range: float = 1.0) -> float:
    """SSIM of one image, (H, W) or (C, H, W) channels first; see `ssim_per_image` for the definition."""
    a, b = _check_pair(reference, reconstruction)
    if a.ndim == 2:
        a, b = a[None, None], b[None, None]
    elif a.ndim == 3:
        a, b = a[None], b[None]
    else:
        raise ValueError(f"expected an (H, W) or (C, H, W) image, got shape {a.shape}")
    return float(ssim_per_image(a, b, data_range)[0])


# ============================================================================================== audio
# SI-SNR, SDR, multi-resolution STFT distance and log-mel distance (numpy). The STFT here is the same
# computation as torch.stft(center=True, pad_mode="reflect", window=hann_window(n_fft, periodic=True)), so
# these metrics agree with the torch training losses in tokbench.audio.losses.
#: (n_fft, hop) pairs of the multi-resolution STFT distance: Hann windows of n_fft samples, 75% overlap.
MRSTFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
MEL_N_FFT, MEL_HOP, MEL_BANDS = 1024, 256, 64


def _audio_pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference.detach().cpu() if hasattr(reference, "detach") else reference, dtype=np.float64)
    est = np.asarray(estimate.detach().cpu() if hasattr(estimate, "detach") else estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate differ in shape: {ref.shape} vs {est.shape}")
    if ref.size == 0:
        raise ValueError("empty signals")
    if not (np.isfinite(ref).all() and np.isfinite(est).all()):
        raise ValueError("signals hold NaN or infinite samples")
    return ref.ravel(), est.ravel()


def _ratio_db(num: float, den: float) -> float:
    if num == 0.0:
        return float("nan") if den == 0.0 else float("-inf")
    return float("inf") if den == 0.0 else float(10.0 * np.log10(num / den))


def si_snr_db(reference, estimate) -> float:
    """Scale-invariant signal-to-noise ratio in dB (Le Roux et al., 2019, "SDR - half-baked or well done?").

    Both signals are made zero-mean; with s the reference and ŝ the estimate,
    s_target = (<ŝ, s> / ||s||²) s,  e = ŝ - s_target,  SI-SNR = 10 log10(||s_target||² / ||e||²).
    Matches `asteroid`/`torchmetrics` ScaleInvariantSignalNoiseRatio (without their eps). +inf for an exact
    (rescaled) copy; nan for a silent (constant) reference.
    """
    ref, est = _audio_pair(reference, estimate)
    ref = ref - ref.mean()
    est = est - est.mean()
    energy = float(ref @ ref)
    if energy == 0.0:
        return float("nan")
    target = (float(est @ ref) / energy) * ref
    noise = est - target
    return _ratio_db(float(target @ target), float(noise @ noise))


def sdr_db(reference, estimate) -> float:
    """Signal-to-distortion ratio in dB, the plain definition SDR = 10 log10(||s||² / ||s - ŝ||²).

    This is the SNR of the reconstruction (no rescaling, no mean removal), as codec papers report it; it is
    NOT the BSS-Eval SDR of `museval`/`mir_eval`, which first allows a 512-tap distortion filter.
    """
    ref, est = _audio_pair(reference, estimate)
    diff = ref - est
    return _ratio_db(float(ref @ ref), float(diff @ diff))


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window, w[k] = 0.5 - 0.5 cos(2πk/n) (torch.hann_window's default)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft_magnitude(wave, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| with a periodic Hann window of n_fft samples, frames centred by n_fft/2 reflect padding
    (as torch.stft(center=True, pad_mode="reflect")); returns (frames, n_fft // 2 + 1).
    Signals of n_fft/2 samples or fewer are first zero-padded to n_fft (reflection needs more samples)."""
    x = np.asarray(wave, dtype=np.float64).ravel()
    if x.size <= n_fft // 2:
        x = np.pad(x, (0, n_fft - x.size))
    x = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (x.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    return np.abs(np.fft.rfft(x[idx] * hann_window(n_fft)[None, :], axis=1))


def mrstft_distance(reference, estimate, resolutions=MRSTFT_RESOLUTIONS, eps: float = 1e-7) -> float:
    """Multi-resolution STFT distance (Yamamoto et al., 2020, Parallel WaveGAN; EnCodec's spectral losses).

    For each (n_fft, hop) with S = |STFT(s)|, Ŝ = |STFT(ŝ)|:
      spectral convergence  SC = ||S - Ŝ||_F / ||S||_F
      log-magnitude L1      LM = mean |log max(S, eps) - log max(Ŝ, eps)|
    distance = mean over resolutions of (SC + LM). 0 for identical signals; lower is better.
    """
    ref, est = _audio_pair(reference, estimate)
    total = 0.0
    for n_fft, hop in resolutions:
        s, s_hat = stft_magnitude(ref, n_fft, hop), stft_magnitude(est, n_fft, hop)
        sc = np.linalg.norm(s - s_hat) / max(np.linalg.norm(s), eps)
        lm = np.abs(np.log(np.maximum(s, eps)) - np.log(np.maximum(s_hat, eps))).mean()
        total += sc + lm
    return float(total / len(resolutions))


def hz_to_mel(f):
    """HTK mel scale: m = 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = MEL_BANDS, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular mel filterbank (n_mels, n_fft // 2 + 1): band edges equally spaced on the HTK mel scale
    between fmin and fmax (default Nyquist), triangles evaluated at the FFT bin frequencies k·sr/n_fft, each
    scaled by 2 / (f_right - f_left) so every band has unit area (Slaney normalisation, as librosa's
    `norm="slaney"`; the same construction as librosa.filters.mel(htk=True), not checked against it here)."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= {sample_rate / 2}")
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - left) / (centre - left)
    down = (right - freqs[None, :]) / (right - centre)
    tri = np.maximum(0.0, np.minimum(up, down))
    return tri * (2.0 / (right - left))


def log_mel(wave, sample_rate: int, n_fft: int = MEL_N_FFT, hop: int = MEL_HOP, n_mels: int = MEL_BANDS,
            eps: float = 1e-5) -> np.ndarray:
    """log(M |STFT| + eps): natural-log mel magnitude spectrogram, (frames, n_mels)."""
    return np.log(stft_magnitude(wave, n_fft, hop) @ mel_filterbank(sample_rate, n_fft, n_mels).T + eps)


def mel_distance(reference, estimate, sample_rate: int = 16000, n_fft: int = MEL_N_FFT, hop: int = MEL_HOP,
                 n_mels: int = MEL_BANDS, eps: float = 1e-5) -> float:
    """Mel distance: mean |log(M|S| + eps) - log(M|Ŝ| + eps)| over frames and bands (the L1 log-mel
    reconstruction term of HiFi-GAN / EnCodec), with `mel_filterbank` (HTK scale, Slaney area norm),
    1024-point Hann STFT, hop 256, 64 bands at 16 kHz. 0 for identical signals; lower is better."""
    ref, est = _audio_pair(reference, estimate)
    a = log_mel(ref, sample_rate, n_fft, hop, n_mels, eps)
    b = log_mel(est, sample_rate, n_fft, hop, n_mels, eps)
    return float(np.abs(a - b).mean())
