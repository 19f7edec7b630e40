"""Differentiable training losses, the torch twins of the metrics in `tokbench.metrics.fidelity`.

Same STFT (periodic Hann, centred with reflect padding), same resolutions, same mel filterbank, so the value
a training log shows for one clip equals what `mrstft_distance` / `mel_distance` report for it.
"""

from __future__ import annotations

import torch

from tokbench.metrics.fidelity import MEL_BANDS, MEL_HOP, MEL_N_FFT, MRSTFT_RESOLUTIONS, mel_filterbank


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, L) -> |STFT| (B, frames, n_fft // 2 + 1); short inputs are zero-padded to n_fft first."""
    if wave.shape[-1] <= n_fft // 2:
        wave = torch.nn.functional.pad(wave, (0, n_fft - wave.shape[-1]))
    window = torch.hann_window(n_fft, dtype=wave.dtype, device=wave.device)
    spec = torch.stft(wave, n_fft, hop, window=window, center=True, pad_mode="reflect", return_complex=True)
    return spec.abs().transpose(1, 2)


def mrstft_loss(ref: torch.Tensor, est: torch.Tensor, resolutions=MRSTFT_RESOLUTIONS,
                eps: float = 1e-7) -> torch.Tensor:
    """Mean over resolutions of spectral convergence + log-magnitude L1 (Parallel WaveGAN), batch-averaged."""
    total = 0.0
    for n_fft, hop in resolutions:
        s, s_hat = stft_magnitude(ref, n_fft, hop), stft_magnitude(est, n_fft, hop)
        sc = torch.linalg.vector_norm(s - s_hat, dim=(1, 2)) / torch.linalg.vector_norm(s, dim=(1, 2)).clamp_min(eps)
        lm = (torch.log(s.clamp_min(eps)) - torch.log(s_hat.clamp_min(eps))).abs().mean(dim=(1, 2))
        total = total + (sc + lm).mean()
    return total / len(resolutions)


class MelLoss(torch.nn.Module):
    """Mean |log(M|S| + eps) - log(M|Ŝ| + eps)| with `fidelity.mel_filterbank` (HTK scale, Slaney norm)."""

    def __init__(self, sample_rate: int, n_fft: int = MEL_N_FFT, hop: int = MEL_HOP, n_mels: int = MEL_BANDS,
                 eps: float = 1e-5) -> None:
        super().__init__()
        self.n_fft, self.hop, self.eps = n_fft, hop, eps
        fb = torch.tensor(mel_filterbank(sample_rate, n_fft, n_mels), dtype=torch.float64)
        self.register_buffer("fb", fb.T.contiguous(), persistent=False)

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.log(stft_magnitude(wave, self.n_fft, self.hop) @ self.fb.to(wave.dtype) + self.eps)

    def forward(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        return (self.log_mel(ref) - self.log_mel(est)).abs().mean()
