"""Reconstruction fidelity: images (PSNR, SSIM) and audio (SI-SNR, SDR, multi-resolution STFT and mel distances).

Every figure comes from the implementation readers know, computed on the device of the tensors it is given
(a CUDA model's reconstructions are scored on the GPU, without a copy to the CPU; numpy arrays are scored on
the CPU), in float64:

- PSNR, SSIM: torchmetrics (`torchmetrics.functional.image`), checked in the tests against scikit-image;
- SI-SNR, SDR: torchmetrics (`torchmetrics.functional.audio`), checked against hand-computed cases;
- multi-resolution STFT distance: auraloss (`STFTLoss` per resolution, averaged as its
  `MultiResolutionSTFTLoss` does), checked against the same distance computed from scipy.signal's `ShortTimeFFT`;
- mel distance: librosa's mel filterbank (`librosa.filters.mel`) over torch.stft magnitudes (the STFT auraloss
  uses), checked against a filterbank built from the formula and a hand-derived case.

What stays here is glue that no library provides: reference-first argument order, the input checks, SSIM's
border crop (see `ssim_per_image`), the zero-padding of clips too short for a reflect-padded STFT, and the
composition of the mel distance
(filterbank x STFT), which none of these libraries offers with the HTK scale, Slaney area norm and log(x + eps)
of the HiFi-GAN / EnCodec loss. scipy.signal's STFT is used only as the independent check: it runs on the CPU,
and these metrics must run where the tensors are.
Torch and the libraries are imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


# ---------------------------------------------------------------------------------------------- inputs
def _tensor(x, device=None):
    """float64 torch view of an array or a tensor (detached), on `device` (default: where it is)."""
    import torch

    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    return t.to(device=device if device is not None else t.device, dtype=torch.float64)


def _pair(reference, other):
    """Both as float64 tensors on one device: the first torch tensor's (the reconstruction's, if both are)."""
    import torch

    device = next((x.device for x in (other, reference) if isinstance(x, torch.Tensor)), None)
    a, b = _tensor(reference, device), _tensor(other, device)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {tuple(a.shape)} vs {tuple(b.shape)}")
    return a, b


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


# ---------------------------------------------------------------------------------------------- images
def psnr(reference, reconstruction, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio of the whole array, PSNR = 10 log10(R^2 / MSE) dB with R = `data_range`.

    `torchmetrics.functional.peak_signal_noise_ratio(reconstruction, reference, data_range=R)`; the same as
    `skimage.metrics.peak_signal_noise_ratio` but for a constant relative 4.5e-8 (torchmetrics takes log 10
    in float32: 0.000001 dB at 20 dB); identical inputs give +inf.
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio

    a, b = _pair(reference, reconstruction)
    return float(peak_signal_noise_ratio(b, a, data_range=data_range))


def psnr_per_image(reference, reconstruction, data_range: float = 1.0) -> np.ndarray:
    """PSNR of each image of a batch (axis 0), each over all its pixels and channels, in dB.

    Image-tokenizer papers (VQGAN, TiTok, FlexTok) report the mean of these per-image values, not the PSNR
    of the pooled MSE; images reconstructed exactly give +inf. torchmetrics with `reduction="none"` over
    every axis but the first.
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio

    a, b = _pair(reference, reconstruction)
    dims = tuple(range(1, a.ndim))
    return _numpy(peak_signal_noise_ratio(b, a, data_range=data_range, reduction="none", dim=dims))


SSIM_SIGMA = 1.5
SSIM_WINDOW = 11  # 2 * int(3.5 * 1.5 + 0.5) + 1: the 11x11 Gaussian window of Wang et al.
SSIM_K1, SSIM_K2 = 0.01, 0.03


def ssim_per_image(reference, reconstruction, data_range: float = 1.0) -> np.ndarray:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) of each image in an (N, C, H, W) batch.

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    local statistics under an 11x11 Gaussian window (sigma 1.5), population (not sample) covariances,
    C1 = (0.01 R)^2, C2 = (0.03 R)^2; the SSIM map is averaged over the pixels at least 5 from the border
    and over channels, as `skimage.metrics.structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=R, channel_axis=0)` and Wang et al.'s MATLAB code ('valid'
    filtering) do. The SSIM map is `torchmetrics.functional.structural_similarity_index_measure(
    gaussian_kernel=True, sigma=1.5, data_range=R, return_full_image=True)`'s; its own mean is not used,
    because torchmetrics averages the whole map, border cells computed on reflect padding included, which
    moves the figure (mean SSIM 0.563 -> 0.518 on 28x28 Fashion-MNIST in benchmarks/metrics_parity.py) away
    from the one papers and scikit-image report.
    Images smaller than the 11x11 window have no SSIM (ValueError), as in scikit-image.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    a, b = _pair(reference, reconstruction)
    if a.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(a.shape)}")
    if min(a.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels "
                         f"(got {a.shape[-2]}x{a.shape[-1]})")
    _, smap = structural_similarity_index_measure(b, a, gaussian_kernel=True, sigma=SSIM_SIGMA,
                                                  kernel_size=SSIM_WINDOW, data_range=data_range, k1=SSIM_K1,
                                                  k2=SSIM_K2, reduction="none", return_full_image=True)
    p = SSIM_WINDOW // 2  # torchmetrics averages its reflect-padded border too; skimage and Wang et al. do not
    return _numpy(smap[..., p:-p, p:-p].mean(dim=(1, 2, 3)))


def ssim(reference, reconstruction, data_range: float = 1.0) -> float:
    """SSIM of one image, (H, W) or (C, H, W) channels first; see `ssim_per_image` for the definition."""
    a, b = _pair(reference, reconstruction)
    if a.ndim == 2:
        a, b = a[None, None], b[None, None]
    elif a.ndim == 3:
        a, b = a[None], b[None]
    else:
        raise ValueError(f"expected an (H, W) or (C, H, W) image, got shape {tuple(a.shape)}")
    return float(ssim_per_image(a, b, data_range)[0])


# ============================================================================================== audio
#: (n_fft, hop) pairs of the multi-resolution STFT distance: Hann windows of n_fft samples, 75% overlap.
MRSTFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
MEL_N_FFT, MEL_HOP, MEL_BANDS = 1024, 256, 64


def _audio_pair(reference, estimate):
    ref, est = _pair(reference, estimate)
    if ref.numel() == 0:
        raise ValueError("empty signals")
    if not bool((ref.isfinite().all() & est.isfinite().all()).item()):
        raise ValueError("signals hold NaN or infinite samples")
    return ref.reshape(-1), est.reshape(-1)


def si_snr_db(reference, estimate) -> float:
    """Scale-invariant signal-to-noise ratio in dB (Le Roux et al., 2019, "SDR - half-baked or well done?").

    Both signals are made zero-mean; with s the reference and ŝ the estimate,
    s_target = (<ŝ, s> / ||s||²) s,  e = ŝ - s_target,  SI-SNR = 10 log10(||s_target||² / ||e||²).
    `torchmetrics.functional.audio.scale_invariant_signal_noise_ratio(ŝ, s)` (asteroid's definition), whose
    eps (float64 machine epsilon) is added to the projection and to both energies: an exact (rescaled) copy
    scores about 10 log10(||s_target||² / eps), some 150 dB, not +inf. A silent (constant) reference has
    no SI-SNR: nan.
    """
    from torchmetrics.functional.audio import scale_invariant_signal_noise_ratio

    ref, est = _audio_pair(reference, estimate)
    if not bool((ref != ref[0]).any().item()):
        return float("nan")
    return float(scale_invariant_signal_noise_ratio(est, ref))


def sdr_db(reference, estimate) -> float:
    """Signal-to-distortion ratio in dB, the plain definition SDR = 10 log10(||s||² / ||s - ŝ||²).

    This is the SNR of the reconstruction (no rescaling, no mean removal), as codec papers report it:
    `torchmetrics.functional.audio.signal_noise_ratio(ŝ, s, zero_mean=False)` (eps added to both energies,
    so an exact copy scores some 150 dB). It is NOT the BSS-Eval SDR of `museval`/`mir_eval` (torchmetrics'
    `signal_distortion_ratio`), which first allows a 512-tap distortion filter.
    """
    from torchmetrics.functional.audio import signal_noise_ratio

    ref, est = _audio_pair(reference, estimate)
    return float(signal_noise_ratio(est, ref, zero_mean=False))


def _pad_short(wave, n_fft: int):
    """Zero-pad a signal of n_fft/2 samples or fewer to n_fft: reflect padding by n_fft/2 needs more."""
    import torch

    return torch.nn.functional.pad(wave, (0, n_fft - wave.shape[-1])) if wave.shape[-1] <= n_fft // 2 else wave


def stft_magnitude(wave, n_fft: int, hop: int):
    """|STFT| (frames, n_fft // 2 + 1) of a 1-D signal on its device: `torch.stft` with a periodic Hann window
    of n_fft samples, frames centred by n_fft/2 reflect padding (center=True), after `_pad_short`. The same
    STFT auraloss computes, and scipy.signal's `ShortTimeFFT(hann, hop, mfft=n_fft).stft(padding="even")`."""
    import torch

    x = _pad_short(_tensor(wave).reshape(-1), n_fft)
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    return torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="reflect", return_complex=True).abs().T


def mrstft_distance(reference, estimate, resolutions=MRSTFT_RESOLUTIONS, eps: float = 1e-7) -> float:
    """Multi-resolution STFT distance (Yamamoto et al., 2020, Parallel WaveGAN; EnCodec's spectral losses).

    For each (n_fft, hop) with S = |STFT(s)|, Ŝ = |STFT(ŝ)| (`stft_magnitude`'s STFT) floored at eps:
      spectral convergence  SC = ||S - Ŝ||_F / ||S||_F
      log-magnitude L1      LM = mean |log S - log Ŝ|
    distance = mean over resolutions of (SC + LM). 0 for identical signals; lower is better.
    auraloss: `MultiResolutionSTFTLoss` is exactly that mean of `auraloss.freq.STFTLoss(n_fft, hop, n_fft,
    eps=eps²)(ŝ, s)` (auraloss floors the power |X|² at its eps, i.e. the magnitude at sqrt(eps)); the
    resolutions are called one by one so that each can zero-pad a clip too short for its own window.
    """
    import torch
    from auraloss.freq import STFTLoss

    ref, est = _audio_pair(reference, estimate)
    total = 0.0
    for n_fft, hop in resolutions:
        loss = STFTLoss(fft_size=int(n_fft), hop_size=int(hop), win_length=int(n_fft), eps=eps ** 2)
        # auraloss makes a float32 window; the metric is float64 throughout
        loss.window = torch.hann_window(int(n_fft), dtype=torch.float64, device=ref.device)
        total += float(loss(_pad_short(est, n_fft)[None, None], _pad_short(ref, n_fft)[None, None]))
    return total / len(resolutions)


@lru_cache(maxsize=16)
def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa.filters

    fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True,
                             norm="slaney", dtype=np.float64)
    fb.setflags(write=False)
    return fb


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = MEL_BANDS, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular mel filterbank (n_mels, n_fft // 2 + 1): band edges equally spaced on the HTK mel scale
    m = 2595 log10(1 + f / 700) between fmin and fmax (default Nyquist), triangles evaluated at the FFT bin
    frequencies k·sr/n_fft, each scaled by 2 / (f_right - f_left) so every band has unit area (Slaney
    normalisation). `librosa.filters.mel(htk=True, norm="slaney", dtype=float64)`."""
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= {sample_rate / 2}")
    return _mel_filterbank(int(sample_rate), int(n_fft), int(n_mels), float(fmin), fmax).copy()


def mel_distance(reference, estimate, sample_rate: int = 16000, n_fft: int = MEL_N_FFT, hop: int = MEL_HOP,
                 n_mels: int = MEL_BANDS, eps: float = 1e-5) -> float:
    """Mel distance: mean |log(M|S| + eps) - log(M|Ŝ| + eps)| over frames and bands (the L1 log-mel
    reconstruction term of HiFi-GAN / EnCodec), with M = `mel_filterbank` (librosa; HTK scale, Slaney area
    norm) and S = `stft_magnitude` (1024-point Hann STFT, hop 256), 64 bands at 16 kHz, natural log.
    0 for identical signals; lower is better."""
    import torch

    ref, est = _audio_pair(reference, estimate)
    fb = torch.as_tensor(mel_filterbank(sample_rate, n_fft, n_mels), device=ref.device).T
    a = torch.log(stft_magnitude(ref, n_fft, hop) @ fb + eps)
    b = torch.log(stft_magnitude(est, n_fft, hop) @ fb + eps)
    return float((a - b).abs().mean())
