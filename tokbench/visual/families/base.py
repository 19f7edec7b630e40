"""What the four families share: one config with the same knobs, one base class with the same methods,
and the building blocks (a VQGAN-style conv stack, a pre-norm transformer) their architectures are made of.

Each family's architecture lives in its own module: the 2D conv grid in `grid2d`, TiTok's 1D latents in
`latent1d`, FlexTok's ordered tokens in `flexible` (built on `latent1d`), lookup-free binary codes in `binary`
(on either of the first two).

Every family is encoder -> quantizer (`tokbench.visual.quantize`) -> decoder, and exposes
`encode(images) -> tokens`, `decode(tokens) -> images`, `forward(images) -> (recon, losses, info)`,
`tokens_per_image`, `bits_per_token` and `budgets()`, so eval and training never look at the family.
Images are float tensors (B, C, H, W) in [0, 1]; the networks see them rescaled to [-1, 1].
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tokbench.errors import TokbenchError
from tokbench.visual.quantize import make_quantizer

FAMILIES = ("grid2d", "latent1d", "binary", "flexible")


@dataclass
class VQConfig:
    """Every size knob of every family (each family reads the ones it needs; the names mean the same thing)."""

    image_size: int = 28          # H = W of the images the model takes
    channels: int = 1             # 1 (gray) or 3 (RGB)
    width: int = 32               # conv base channels (2D layout) / transformer width (1D layout)
    depth: int = 2                # conv downsampling stages (2D) / transformer layers per encoder and decoder (1D)
    heads: int = 4                # attention heads (1D)
    patch_size: int = 4           # ViT patch size (1D)
    num_tokens: int = 32          # K latent tokens (1D layout)
    quantizer: str = "vq"         # vq | fsq | lfq | bsq
    codebook_size: int = 512      # vq codebook entries
    code_dim: int = 8             # quantized latent width (vq, fsq); lfq/bsq use `bits`
    fsq_levels: list[int] = field(default_factory=lambda: [8, 5, 5, 5])
    bits: int = 16                # binary code width per token (lfq / bsq); may exceed 63
    entropy_group: int = 8        # bits per group in the factorized entropy loss (binary)
    entropy_weight: float = 0.02  # binary entropy loss weight (0.1 costs ~1.5 dB PSNR at our short CPU runs)
    commitment_weight: float = 0.25
    ema: bool = True              # vq: EMA codebook (else learnable)
    dead_code_threshold: float = 2.0  # vq: replace codes whose EMA cluster size drops below this
    codebook_init: str = "random"  # vq: "kmeans" sets the codebook by k-means on the first batch's latents
    layout: str = "2d"            # binary: 2d grid (conv) or 1d latent tokens (ViT)
    nested_dropout: bool = True   # flexible: train with nested dropout over the token order
    keep_lengths: str = "uniform"  # flexible: prefix lengths 1..K, 1,2,4..K ("pow2"), 1..K up to 2^n ("uniform_pow2")
    causal: bool = True           # flexible: causal attention mask over the latent tokens in the encoder
    latent_mixing: str = "none"   # 1D: "none" (TiTok/FlexTok), ours: linear patches<->latents path, "raster"/"pyramid"
    pixel_head: str = "linear"    # 1D without a proxy: per-patch linear map to pixels, or a VQGAN-style "conv" decoder
    proxy_config: dict[str, Any] | None = None  # latent1d/flexible: the grid2d proxy's config (set by --proxy RUN)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: defaults per family: small enough to train on a laptop CPU in minutes on Fashion-MNIST
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "grid2d": {"quantizer": "vq", "width": 16, "depth": 2, "codebook_size": 512, "code_dim": 8},
    # 1D families: 32 latent tokens for 49 patches (TiTok compresses: fewer tokens than patches), 320 bits
    # per image against grid2d's 49 x 9 = 441
    "latent1d": {"quantizer": "vq", "width": 64, "depth": 2, "heads": 4, "patch_size": 4, "num_tokens": 32,
                 "codebook_size": 1024, "code_dim": 8},
    "binary": {"quantizer": "bsq", "layout": "2d", "width": 16, "depth": 2, "bits": 16},
    "flexible": {"quantizer": "fsq", "width": 64, "depth": 2, "heads": 4, "patch_size": 4, "num_tokens": 32,
                 "code_dim": 4, "fsq_levels": [8, 5, 5, 5]},
}


def make_config(family: str, overrides: dict[str, Any] | None = None) -> VQConfig:
    """The family's defaults with `overrides` applied; unknown knobs and impossible shapes are user errors."""
    if family not in FAMILIES:
        raise TokbenchError(f"unknown family {family!r} (expected one of {', '.join(FAMILIES)})")
    known = {f.name for f in dataclasses.fields(VQConfig)}
    values = dict(FAMILY_DEFAULTS[family])
    for key, value in (overrides or {}).items():
        if key not in known:
            raise TokbenchError(f"unknown model option {key!r} (known: {', '.join(sorted(known))})")
        if value is not None:
            values[key] = value
    cfg = VQConfig(**values)
    if isinstance(cfg.fsq_levels, (list, tuple)):
        cfg.fsq_levels = [int(v) if isinstance(v, float) and v.is_integer() else v for v in cfg.fsq_levels]
        if cfg.quantizer == "fsq" and (overrides or {}).get("code_dim") is None:
            cfg.code_dim = len(cfg.fsq_levels)  # FSQ has one latent dimension per level
    _validate(family, cfg)
    return cfg


def _check_types(cfg: VQConfig) -> None:
    """Config files may hold any TOML/YAML/JSON value: each knob must have its field's type."""
    for f in dataclasses.fields(VQConfig):
        value, kind = getattr(cfg, f.name), str(f.type)
        ok = {"int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool),
              "bool": isinstance(value, bool), "str": isinstance(value, str),
              "list[int]": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value)}.get(kind, True)
        if not ok:
            raise TokbenchError(f"model option {f.name} must be of type {kind}, not {value!r}")
    if cfg.image_size > 4096 or cfg.width > 65536 or cfg.codebook_size > 1 << 24 or cfg.depth > 16:
        raise TokbenchError("model too large: image_size <= 4096, width <= 65536, codebook_size <= 2^24, depth <= 16")


def _validate(family: str, cfg: VQConfig) -> None:
    _check_types(cfg)
    for name in ("image_size", "channels", "width", "depth", "heads", "patch_size", "num_tokens", "code_dim"):
        if int(getattr(cfg, name)) < 1:
            raise TokbenchError(f"{name} must be >= 1")
    if family == "binary" and cfg.quantizer not in ("lfq", "bsq"):
        raise TokbenchError("the binary family takes quantizer lfq or bsq")
    if family != "binary" and cfg.quantizer not in ("vq", "fsq"):
        raise TokbenchError(f"the {family} family takes quantizer vq or fsq")
    if cfg.quantizer == "fsq" and (any(level < 2 for level in cfg.fsq_levels)
                                   or math.prod(cfg.fsq_levels) > 1 << 24):
        raise TokbenchError(f"fsq_levels {cfg.fsq_levels}: each level >= 2 and at most 2^24 codes in all "
                            f"(got {math.prod(cfg.fsq_levels):,})")
    if cfg.quantizer == "fsq" and len(cfg.fsq_levels) != cfg.code_dim:
        raise TokbenchError(f"fsq_levels {cfg.fsq_levels} must have code_dim={cfg.code_dim} entries")
    if cfg.keep_lengths not in ("pow2", "uniform", "uniform_pow2"):
        raise TokbenchError(f"keep_lengths must be uniform, pow2 or uniform_pow2, not {cfg.keep_lengths!r}")
    if cfg.latent_mixing not in ("none", "raster", "pyramid"):
        raise TokbenchError(f"latent_mixing must be none, raster or pyramid, not {cfg.latent_mixing!r}")
    if cfg.pixel_head not in ("linear", "conv"):
        raise TokbenchError(f"pixel_head must be linear or conv, not {cfg.pixel_head!r}")
    if cfg.pixel_head == "conv" and cfg.proxy_config is not None:
        raise TokbenchError("pixel_head conv is for training without a proxy (with --proxy the proxy's conv "
                            "decoder makes the pixels)")
    if cfg.codebook_init not in ("random", "kmeans"):
        raise TokbenchError(f"codebook_init must be random or kmeans, not {cfg.codebook_init!r}")
    if cfg.codebook_size < 2:
        raise TokbenchError("codebook_size must be >= 2")
    if cfg.proxy_config is not None:
        _validate_proxy(family, cfg)
    layout = "1d" if family in ("latent1d", "flexible") else ("2d" if family == "grid2d" else cfg.layout)
    if layout not in ("1d", "2d"):
        raise TokbenchError("layout must be 1d or 2d")
    # knobs a family would not read are refused, so that run.json never records an option that had no effect
    if layout == "2d" and (cfg.latent_mixing != "none" or cfg.pixel_head != "linear"):
        raise TokbenchError("latent_mixing and pixel_head are for the 1D layouts (latent1d, flexible, binary with "
                            "layout 1d)")
    if family != "flexible" and cfg.keep_lengths != "uniform":
        raise TokbenchError("keep_lengths is for the flexible family")
    if cfg.pixel_head == "conv" and cfg.patch_size & (cfg.patch_size - 1):
        raise TokbenchError(f"pixel_head conv upsamples by 2 per stage: patch_size must be a power of two, "
                            f"not {cfg.patch_size}")
    if layout == "2d" and cfg.image_size % (2 ** cfg.depth):
        raise TokbenchError(f"image_size {cfg.image_size} is not divisible by 2**depth = {2 ** cfg.depth}")
    if layout == "1d":
        if cfg.image_size % cfg.patch_size:
            raise TokbenchError(f"image_size {cfg.image_size} is not divisible by patch_size {cfg.patch_size}")
        if cfg.width % cfg.heads:
            raise TokbenchError(f"width {cfg.width} is not divisible by heads {cfg.heads}")


def _validate_proxy(family: str, cfg: VQConfig) -> None:
    """A proxy (TiTok's two-stage training) is a grid2d tokenizer whose g x g code grid is the 1D decoder's
    patch grid: the decoder predicts one proxy code per patch position."""
    if family not in ("latent1d", "flexible"):
        raise TokbenchError(f"a proxy tokenizer is for the latent1d and flexible families, not {family}")
    if not isinstance(cfg.proxy_config, dict):
        raise TokbenchError("proxy_config must be a table of grid2d model options")
    proxy = make_config("grid2d", cfg.proxy_config)
    if (proxy.image_size, proxy.channels) != (cfg.image_size, cfg.channels):
        raise TokbenchError(f"the proxy takes {proxy.channels}x{proxy.image_size}x{proxy.image_size} images, the "
                            f"{family} model {cfg.channels}x{cfg.image_size}x{cfg.image_size}")
    grid = proxy.image_size // 2 ** proxy.depth
    patches = cfg.image_size // cfg.patch_size if cfg.image_size % cfg.patch_size == 0 else None
    if patches != grid:
        raise TokbenchError(f"the proxy's code grid is {grid}x{grid} (image {proxy.image_size} / 2^{proxy.depth}), "
                            f"the {family} patch grid is image {cfg.image_size} / patch_size {cfg.patch_size}: "
                            f"use --patch-size {proxy.image_size // grid}")


# ---------------------------------------------------------------------------------------------- base class
class VisualTokenizer(nn.Module):
    """Encoder + quantizer + decoder. Subclasses define `_encode_latents` and `_decode_latents`."""

    family = "base"

    def __init__(self, config: VQConfig) -> None:
        super().__init__()
        self.config = config
        qdim = config.bits if config.quantizer in ("lfq", "bsq") else config.code_dim
        self.quantizer = make_quantizer(config.quantizer, qdim, config)
        self.latent_dim = qdim

    # the interface ----------------------------------------------------------------------------------------
    @property
    def tokens_per_image(self) -> int:
        raise NotImplementedError

    @property
    def bits_per_token(self) -> float:
        return float(self.quantizer.bits_per_token)

    @property
    def codebook_size(self) -> int:
        """Number of distinct tokens (a Python int, exact even for 2^128-code binary tokenizers)."""
        return int(self.quantizer.codebook_size)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.channels, c.image_size, c.image_size)

    def budgets(self) -> list[int]:
        """Token budgets evaluation should try: all of them for a fixed-length tokenizer."""
        return [self.tokens_per_image]

    def forward(self, images: torch.Tensor):
        """Training pass: (reconstruction in [0,1] scale, unclamped; {name: weighted aux loss}; info)."""
        self._check_images(images)
        z = self._encode_latents(images * 2 - 1)
        with torch.autocast(device_type=z.device.type, enabled=False):  # codes and EMA updates stay fp32
            zq, tokens, losses = self.quantizer(z.float())
        recon = self._decode_latents(zq, self._train_keep(zq)) * 0.5 + 0.5
        return recon, losses, {"tokens": tokens}

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B,C,H,W) in [0,1] -> tokens: int64 (B, T), or bool bits (B, T, bits) for binary codes."""
        self._check_images(images)
        return self.quantizer.tokens(self._encode_latents(images * 2 - 1))

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        """Tokens -> images (B,C,H,W) clamped to [0,1]. `keep` is honoured by the flexible family only."""
        if keep is not None and keep != self.tokens_per_image:
            raise TokbenchError(f"the {self.family} family decodes all {self.tokens_per_image} tokens only")
        zq = self.quantizer.codes(tokens)
        return (self._decode_latents(zq, None) * 0.5 + 0.5).clamp(0, 1)

    def stats_ids(self, tokens: torch.Tensor):
        """(ids (M, G) int64, list of each column's vocabulary size) for usage / entropy / perplexity statistics."""
        return self.quantizer.stats_ids(tokens)

    # for subclasses -------------------------------------------------------------------------------------
    def _encode_latents(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode_latents(self, zq: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _train_keep(self, zq: torch.Tensor) -> torch.Tensor | None:
        return None

    def _check_images(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise TokbenchError(f"{self.family} model takes images of shape (B, {', '.join(map(str, self.image_shape))})"
                                f", got {tuple(images.shape)}")


# ---------------------------------------------------------------------------------------------- conv backbone
def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(ch, 8), ch)


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_norm(ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1),
                                  _norm(ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def _stage_channels(width: int, depth: int) -> list[int]:
    return [width * min(2 ** i, 4) for i in range(depth + 1)]


class ConvEncoder(nn.Module):
    """VQGAN-style (Esser et al. 2021) encoder: conv in, then per stage a strided 4x4 conv (halving H and W,
    doubling channels up to 4x) and a residual block, then norm + SiLU + 1x1 conv to the code width."""

    def __init__(self, channels: int, width: int, depth: int, out_dim: int) -> None:
        super().__init__()
        chs = _stage_channels(width, depth)
        layers: list[nn.Module] = [nn.Conv2d(channels, chs[0], 3, padding=1)]
        for i in range(depth):
            layers += [nn.Conv2d(chs[i], chs[i + 1], 4, stride=2, padding=1), ResBlock(chs[i + 1])]
        layers += [_norm(chs[-1]), nn.SiLU(), nn.Conv2d(chs[-1], out_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class ConvDecoder(nn.Module):
    """Mirror of ConvEncoder: nearest-neighbour 2x upsampling + 3x3 conv per stage, residual blocks."""

    def __init__(self, channels: int, width: int, depth: int, in_dim: int) -> None:
        super().__init__()
        chs = _stage_channels(width, depth)
        layers: list[nn.Module] = [nn.Conv2d(in_dim, chs[-1], 3, padding=1), ResBlock(chs[-1])]
        for i in reversed(range(depth)):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(chs[i + 1], chs[i], 3, padding=1),
                       ResBlock(chs[i])]
        layers += [_norm(chs[0]), nn.SiLU(), nn.Conv2d(chs[0], channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# ---------------------------------------------------------------------------------------------- ViT block
def transformer(width: int, depth: int, heads: int) -> nn.TransformerEncoder:
    """A stack of `depth` pre-norm ViT blocks (GELU MLP of 4x width, no dropout) with a final LayerNorm."""
    layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(width), enable_nested_tensor=False)

