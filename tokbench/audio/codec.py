"""A small SoundStream/EnCodec-style codec: strided conv encoder, residual VQ, mirrored decoder.

Encoder: a 7-tap conv, then per stride s a residual unit and a conv of kernel 2s and stride s (channels
doubling), then a 3-tap conv to the latent dimension. With strides (2, 4, 5, 8) at 16 kHz one latent frame
covers 320 samples: 50 frames per second. The residual VQ is vector-quantize-pytorch's `ResidualVQ`
(Zeghidour et al. 2021, Algorithm 1): k-means initialised, EMA-updated codebooks with dead-code replacement,
and quantizer dropout (each training step keeps the first q ~ U{1..N} quantizers), so one model serves every
bitrate from 1 to N quantizers. The decoder mirrors the encoder with transposed convs.

Beside the conv stacks runs a linear frame path (on by default, `frame_path`): an analysis conv of kernel
2·hop and stride hop whose output is added to the encoder's, and the matching overlap-add synthesis added to
the decoder's. It starts as an MDCT (Princen & Bradley, 1986) restricted to `dim` bins spread on the mel scale,
and the last layers of both conv stacks start at zero, so at step 0 the codec is a plain transform codec and
training refines it. A 320x-downsampling conv stack alone needs thousands of steps before its output even
correlates with the input; with the frame path the codec reaches a usable rate-distortion curve within minutes
on a CPU.

At inference `encode` runs the residual search itself, level by level, with `tokbench.kernels.nearest_code`
(the same Euclidean argmin the library's training forward does), and `decode` sums the chosen code vectors
of the first n_q levels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from tokbench.errors import TokbenchError
from tokbench.kernels import nearest_code
from tokbench.metrics.rate import bits_per_token

MODEL_FILE = "model.safetensors"
MEL_BREAK_HZ = 700.0  # the HTK mel scale
MODEL_JSON = "model.json"
FAMILY = "rvq-codec"


@dataclass
class CodecConfig:
    """Every knob that shapes the model (stored in model.json so a run can be rebuilt)."""

    sample_rate: int = 16000
    strides: tuple[int, ...] = (2, 4, 5, 8)
    channels: int = 16          # after the first conv; doubles at every stride
    dim: int = 64               # latent / codebook dimension
    n_q: int = 8                # residual quantizers
    codebook_size: int = 256    # codes per quantizer (K)
    kmeans_iters: int = 10
    decay: float = 0.95         # EMA decay of the codebooks
    threshold_ema_dead_code: float = 2.0
    commitment_weight: float = 1.0
    res_dilations: tuple[int, ...] = field(default=(1,))
    frame_path: bool = True     # add the linear analysis/synthesis path (see the module docstring)

    @property
    def hop_length(self) -> int:
        return math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def check(self) -> None:
        if not self.strides or any(int(s) < 1 for s in self.strides) or self.sample_rate < 1:
            raise TokbenchError(f"strides must be positive integers (got {self.strides})")
        if not 1 <= self.n_q <= 64 or not 2 <= self.codebook_size <= 65536:
            raise TokbenchError("need 1 <= n_q <= 64 quantizers and 2..65536 codes each")
        if not 1 <= self.dim <= 4096 or not 1 <= self.channels <= 1024 or not 1 <= self.sample_rate <= 384000:
            raise TokbenchError(f"need 1 <= dim <= 4096, 1 <= channels <= 1024 and a sample rate up to 384 kHz "
                                f"(got dim {self.dim}, channels {self.channels}, rate {self.sample_rate})")

    @classmethod
    def from_dict(cls, d: dict) -> CodecConfig:
        d = dict(d)
        for key in ("strides", "res_dilations"):
            if key in d:
                d[key] = tuple(d[key])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


class ResidualUnit(nn.Module):
    """x + conv1x1(elu(conv3_dilated(elu(x)))), as in SoundStream's encoder blocks."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), nn.Conv1d(channels, channels, 3, dilation=dilation, padding=dilation),
                                   nn.ELU(), nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def _encoder(cfg: CodecConfig) -> nn.Sequential:
    ch = cfg.channels
    layers: list[nn.Module] = [nn.Conv1d(1, ch, 7, padding=3)]
    for s in cfg.strides:
        layers += [ResidualUnit(ch, d) for d in cfg.res_dilations]
        layers += [nn.ELU(), nn.Conv1d(ch, 2 * ch, 2 * s, stride=s, padding=math.ceil(s / 2))]
        ch *= 2
    layers += [nn.ELU(), nn.Conv1d(ch, cfg.dim, 3, padding=1)]
    return nn.Sequential(*layers)


def _decoder(cfg: CodecConfig) -> nn.Sequential:
    ch = cfg.channels * 2 ** len(cfg.strides)
    layers: list[nn.Module] = [nn.Conv1d(cfg.dim, ch, 7, padding=3)]
    for s in reversed(cfg.strides):
        layers += [nn.ELU(), nn.ConvTranspose1d(ch, ch // 2, 2 * s, stride=s, padding=math.ceil(s / 2),
                                                output_padding=s % 2)]
        ch //= 2
        layers += [ResidualUnit(ch, d) for d in cfg.res_dilations]
    layers += [nn.ELU(), nn.Conv1d(ch, 1, 7, padding=3)]
    return nn.Sequential(*layers)


def mel_spaced_bins(hop: int, n: int, sample_rate: int, break_hz: float = MEL_BREAK_HZ) -> list[int]:
    """n distinct MDCT bins out of hop, spread evenly on a mel-like scale m = log(1 + f / break_hz) over
    0..Nyquist (dense at low frequencies, sparse above), so a latent of n < hop coefficients spans the whole
    band. break_hz = 700 is the HTK mel scale; a lower break keeps more of the low band, where speech
    energy (and so SI-SNR) lives."""
    if n >= hop:
        return list(range(hop))
    top = math.log1p((sample_rate / 2) / break_hz)
    chosen: list[int] = []
    for i in range(n):
        hz = break_hz * math.expm1(top * (i + 0.5) / n)
        k = min(hop - 1, int(hz / (sample_rate / 2) * hop))
        while k in chosen:
            k += 1
        chosen.append(k)
    return chosen


def mdct_basis(hop: int, bins: list[int]) -> torch.Tensor:
    """MDCT basis functions of the given bins over 2·hop samples with a sine window, (len(bins), 2·hop):
    w[m] sqrt(2/hop) cos(π/hop (m + 1/2 + hop/2)(k + 1/2)). With all hop bins, analysis then overlap-add
    synthesis reconstructs exactly (time-domain aliasing cancellation; Princen & Bradley, 1986)."""
    m = torch.arange(2 * hop, dtype=torch.float64)
    k = torch.tensor(bins, dtype=torch.float64)[:, None]
    window = torch.sin(math.pi * (m + 0.5) / (2 * hop))
    basis = window * math.sqrt(2.0 / hop) * torch.cos(math.pi / hop * (m + 0.5 + hop / 2) * (k + 0.5))
    return basis.float()


class AudioCodec(nn.Module):
    """encode(wave) -> codes (B, n_q, T); decode(codes, n_q) -> wave; forward for training."""

    def __init__(self, cfg: CodecConfig | None = None) -> None:
        super().__init__()
        from vector_quantize_pytorch import ResidualVQ

        self.cfg = cfg or CodecConfig()
        self.cfg.check()
        self.encoder = _encoder(self.cfg)
        self.decoder = _decoder(self.cfg)
        hop = self.cfg.hop_length
        if self.cfg.frame_path:
            self.analysis = nn.Conv1d(1, self.cfg.dim, 2 * hop, stride=hop, padding=hop // 2, bias=False)
            self.synthesis = nn.ConvTranspose1d(self.cfg.dim, 1, 2 * hop, stride=hop, padding=hop // 2, bias=False)
            with torch.no_grad():
                basis = mdct_basis(hop, mel_spaced_bins(hop, self.cfg.dim, self.cfg.sample_rate))[:, None, :]
                self.analysis.weight.copy_(basis)
                self.synthesis.weight.copy_(basis)
                for last in (self.encoder[-1], self.decoder[-1]):  # the conv stacks start as a no-op
                    last.weight.zero_()
                    last.bias.zero_()
        self.rvq = ResidualVQ(dim=self.cfg.dim, num_quantizers=self.cfg.n_q, codebook_size=self.cfg.codebook_size,
                              kmeans_init=True, kmeans_iters=self.cfg.kmeans_iters, decay=self.cfg.decay,
                              threshold_ema_dead_code=self.cfg.threshold_ema_dead_code,
                              commitment_weight=self.cfg.commitment_weight, quantize_dropout=True)

    # ------------------------------------------------------------------------------------------ shapes
    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    @property
    def frame_rate(self) -> float:
        return self.cfg.frame_rate

    def _as_batch(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 1:
            wave = wave[None]
        if wave.dim() == 3:
            wave = wave[:, 0]
        if wave.dim() != 2:
            raise TokbenchError(f"expected a waveform of shape (L,), (B, L) or (B, 1, L); got {tuple(wave.shape)}")
        return wave

    def pad(self, wave: torch.Tensor) -> torch.Tensor:
        """Zero-pad (B, L) on the right to a whole number of frames."""
        extra = (-wave.shape[-1]) % self.hop_length
        return nn.functional.pad(wave, (0, extra)) if extra else wave

    def latents(self, wave: torch.Tensor) -> torch.Tensor:
        """Encoder output (B, T, D) for a (B, L) waveform padded to whole frames."""
        x = self.pad(self._as_batch(wave))[:, None]
        z = self.encoder(x)
        if self.cfg.frame_path:
            z = z + self.analysis(x)
        return z.transpose(1, 2)

    def synthesize(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder: latents (B, T, D) -> waveform (B, T * hop)."""
        z = z.transpose(1, 2)
        y = self.decoder(z)
        if self.cfg.frame_path:
            y = y + self.synthesis(z)
        return y[:, 0]

    # ------------------------------------------------------------------------------------------ training
    def forward(self, wave: torch.Tensor, dropout_seed: int | None = None):
        """(B, L) -> (reconstruction (B, L'), indices (B, T, n_q) with -1 for dropped levels, commitment loss)."""
        z = self.latents(wave)
        quantized, indices, commit = self.rvq(z, rand_quantize_dropout_fixed_seed=dropout_seed)
        recon = self.synthesize(quantized)
        return recon, indices, commit.sum()

    # ------------------------------------------------------------------------------------------ inference
    def codebooks(self) -> list[torch.Tensor]:
        return [layer._codebook.embed[0] for layer in self.rvq.layers]

    @torch.no_grad()
    def encode(self, wave: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Waveform (L,), (B, L) or (B, 1, L) at the model rate -> codes (B, n_q, T), T = ceil(L / hop)."""
        n_q = self._check_nq(n_q)
        z = self.rvq.project_in(self.latents(wave))
        b, t, d = z.shape
        residual = z.reshape(b * t, d)
        codes = []
        for codebook in self.codebooks()[:n_q]:
            idx = nearest_code(residual, codebook)  # tiled / Triton search, never N x K
            residual = residual - codebook[idx]
            codes.append(idx.reshape(b, t))
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (B, q, T) (or (q, T)) -> waveform (B, T * hop) from the first n_q (default q) levels."""
        if codes.dim() == 2:
            codes = codes[None]
        if codes.dim() != 3:
            raise TokbenchError(f"expected codes of shape (B, n_q, T); got {tuple(codes.shape)}")
        n_q = codes.shape[1] if n_q is None else n_q
        if not 1 <= n_q <= min(codes.shape[1], self.cfg.n_q):
            raise TokbenchError(f"cannot decode with {n_q} quantizers from codes with {codes.shape[1]} levels "
                                f"(model has {self.cfg.n_q})")
        codes = codes.long()
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.cfg.codebook_size):
            raise TokbenchError(f"codes outside [0, {self.cfg.codebook_size})")
        z = sum(cb[codes[:, q]] for q, cb in enumerate(self.codebooks()[:n_q]))
        return self.synthesize(self.rvq.project_out(z))

    def _check_nq(self, n_q: int | None) -> int:
        n_q = self.cfg.n_q if n_q is None else int(n_q)
        if not 1 <= n_q <= self.cfg.n_q:
            raise TokbenchError(f"n_q must be between 1 and {self.cfg.n_q}")
        return n_q


# ---------------------------------------------------------------------------------------------- files
def model_info(model: AudioCodec) -> dict:
    cfg = model.cfg
    return {"family": FAMILY, "config": asdict(cfg), "sample_rate": cfg.sample_rate, "hop_length": cfg.hop_length,
            "frame_rate": cfg.frame_rate, "n_q": cfg.n_q, "codebook_size": cfg.codebook_size,
            "bits_per_token": bits_per_token(cfg.codebook_size)}


def save_codec(model: AudioCodec, folder: str | Path) -> Path:
    """Write model.safetensors and model.json into `folder` atomically."""
    from safetensors.torch import save

    from tokbench.checkpoint import state_tensors
    from tokbench.runs import atomic_write_bytes, atomic_write_json

    folder = Path(folder)
    atomic_write_bytes(folder / MODEL_FILE, save(state_tensors(model)))
    atomic_write_json(folder / MODEL_JSON, model_info(model))
    return folder / MODEL_FILE


def load_codec(path: str | Path, device: str = "cpu") -> AudioCodec:
    """A trained codec from a run folder (or its artifacts folder), in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    folder = path / "artifacts" if (path / "artifacts" / MODEL_JSON).is_file() else path
    if not (folder / MODEL_JSON).is_file() or not (folder / MODEL_FILE).is_file():
        raise TokbenchError(f"{path}: no trained audio codec here (missing {MODEL_JSON} / {MODEL_FILE})")
    from tokbench.runs import read_json

    info = read_json(folder / MODEL_JSON)
    if not isinstance(info, dict) or info.get("family") != FAMILY or not isinstance(info.get("config"), dict):
        family = info.get("family") if isinstance(info, dict) else None
        raise TokbenchError(f"{path}: model family {family!r} is not an audio codec")
    try:
        cfg = CodecConfig.from_dict(info["config"])
        cfg.check()
        model = AudioCodec(cfg)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TokbenchError(f"{folder / MODEL_JSON}: malformed codec config ({str(exc).splitlines()[0]})") from None
    try:
        state = load_file(str(folder / MODEL_FILE))
    except (SafetensorError, OSError) as exc:
        raise TokbenchError(f"{folder / MODEL_FILE}: unreadable weights ({exc})") from None
    own = model.state_dict()
    bad = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise TokbenchError(f"{folder / MODEL_FILE}: weight {bad[0]} has shape {tuple(state[bad[0]].shape)}, the "
                            f"model needs {tuple(own[bad[0]].shape)}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise TokbenchError(f"{folder / MODEL_FILE}: weights do not fit the model (missing {missing[:3]}, "
                            f"unexpected {unexpected[:3]})")
    return model.to(device).eval()
