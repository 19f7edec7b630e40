"""latent1d: TiTok (Yu et al. 2024, "An Image is Worth 32 Tokens for Reconstruction and Generation").

Encoder: a ViT reads the image's patch embeddings followed by K learnable latent tokens; only the K latent
outputs are kept and projected to the code width, so the token count is independent of the image size.
Quantizer: VQ (or FSQ) on each latent. Decoder: a ViT reads one shared mask token per patch position (plus the
patch position embedding) followed by the quantized latents (plus their own position embedding), and predicts
each patch's pixels from its mask-token output. `Latent1DTokenizer` is that architecture for any family;
`flexible` and the 1D layout of `binary` build on it.

Two-stage training with a proxy (TiTok section 3.3; `fit-vq --proxy RUN`, `proxy_config`): a trained grid2d
tokenizer whose g x g code grid is the decoder's patch grid becomes part of the model. The decoder then predicts,
per patch position, logits over the proxy's codebook; pixels are the proxy's conv decoder applied to the
softmax-weighted mix of the proxy's code vectors (TiTok's `decode` with `finetune_decoder`). Stage 1 trains
encoder, quantizer and ViT decoder on the cross-entropy against the proxy's own codes of the image (the proxy
frozen); stage 2 freezes encoder and quantizer and trains the ViT decoder and the proxy's conv decoder on pixels,
so the full decoder is ViT + conv, as in TiTok. The proxy's weights are saved with the model, so tokens decode
without the proxy's run folder.

Our two options (not in TiTok; defaults off, so `latent1d` is TiTok as published). At CPU step counts the
ViT learns slowly because it must first learn to route patches into latents and back: fashion-mnist, 300 steps,
13.7 dB with VQ and 13.8 with the quantizer replaced by the identity, against 20.6 for the same ViT with one
token per patch and no latents; a randomly initialised linear routing path gives 15.4, one initialised as
region pooling 19.0 (`benchmarks/visual_routing.py`, figures in benchmarks/RESULTS.md).
- `latent_mixing` adds a learnable linear path patches -> latents in the encoder (added to the latent tokens
  before the ViT) and latents -> patch grid in the decoder (added to the mask tokens), initialised as pooling
  over regions so that each latent starts as a summary of a region: "raster" gives latent j a run of about
  P/K patches in raster order, "pyramid" coarse-to-fine regions (the whole image, then 2x2, 4x4, ... cells,
  the last level spread evenly) for FlexTok's prefix order. Attention still mixes every token; the path is
  trained like every other weight.
- `pixel_head = "conv"` turns the ViT decoder's patch grid into pixels with a VQGAN-style conv decoder (as
  TiTok's MaskGIT pixel decoder does after its ViT decoder), trained from scratch, instead of a per-patch linear map.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from tokbench.visual.families.base import ConvDecoder, VisualTokenizer, VQConfig, make_config, transformer


def region_matrix(kind: str, grid: int, k: int) -> torch.Tensor:
    """(k, grid*grid) 0/1 matrix: row j marks the patches (raster order) of latent j's starting region."""
    p = grid * grid
    if kind == "raster":  # patch i goes to latent floor(i k / p): runs of about p / k patches in raster order
        rows = torch.zeros(k, p)
        patch = torch.arange(p)
        rows[(patch * k // p).clamp(max=k - 1), patch] = 1.0
        return rows
    if kind != "pyramid":
        raise ValueError(f"unknown latent_mixing {kind!r}")
    regions: list[torch.Tensor] = []
    cells = 1
    while len(regions) < k:
        edges = [round(i * grid / cells) for i in range(cells + 1)]
        level = []
        for a in range(cells):
            for b in range(cells):
                region = torch.zeros(grid, grid)
                region[edges[a]:edges[a + 1], edges[b]:edges[b + 1]] = 1.0
                if region.any():
                    level.append(region.flatten())
        need = k - len(regions)
        if len(level) > need:  # the last level in part: cells spread evenly over the grid
            level = [level[round(i * (len(level) - 1) / max(1, need - 1))] for i in range(need)]
        regions += level
        cells = min(cells * 2, grid)
    return torch.stack(regions[:k])


class Latent1DTokenizer(VisualTokenizer):
    """TiTok's encoder and decoder around any quantizer. Subclasses may set the `enc_mask` buffer (an
    attention mask over [patches, latents], True = blocked) and override `_apply_keep` to hide latents."""

    def __init__(self, config: VQConfig) -> None:
        super().__init__(config)
        c = config
        self.num_patches = (c.image_size // c.patch_size) ** 2
        w, k = c.width, c.num_tokens
        self.patch_in = nn.Conv2d(c.channels, w, c.patch_size, stride=c.patch_size)
        self.patch_pos = nn.Parameter(torch.randn(1, self.num_patches, w) * 0.02)
        self.latents = nn.Parameter(torch.randn(1, k, w) * 0.02)
        self.encoder = transformer(w, c.depth, c.heads)
        self.to_code = nn.Linear(w, self.latent_dim)
        self.from_code = nn.Linear(self.latent_dim, w)
        self.latent_pos = nn.Parameter(torch.randn(1, k, w) * 0.02)
        self.mask_patch = nn.Parameter(torch.randn(1, 1, w) * 0.02)
        self.decoder = transformer(w, c.depth, c.heads)
        self.register_buffer("enc_mask", None, persistent=False)
        if c.latent_mixing != "none":
            regions = region_matrix(c.latent_mixing, c.image_size // c.patch_size, k)
            self.enc_mix = nn.Parameter(regions / regions.sum(1, keepdim=True).clamp(min=1))  # region means
            self.dec_mix = nn.Parameter(regions.t().contiguous())  # each patch: the latents covering it
        self.proxy = None
        self.stage = 1  # with a proxy: 1 = proxy-code cross-entropy, 2 = decoder fine-tuning on pixels
        if c.proxy_config is None and c.pixel_head == "conv":
            self.pixel_head = ConvDecoder(c.channels, max(8, w // 4), int(math.log2(c.patch_size)), w)
        elif c.proxy_config is None:
            self.patch_out = nn.Linear(w, c.channels * c.patch_size ** 2)
        else:
            from tokbench.visual.families.grid2d import Grid2D

            self.proxy = Grid2D(make_config("grid2d", c.proxy_config))
            self.proxy_logits = nn.Linear(w, self.proxy.codebook_size)

    @property
    def tokens_per_image(self) -> int:
        return self.config.num_tokens

    def _encode_latents(self, x):
        b = x.shape[0]
        patches = self.patch_in(x).flatten(2).transpose(1, 2) + self.patch_pos
        latents = self.latents.expand(b, -1, -1)
        if self.config.latent_mixing != "none":
            latents = latents + torch.einsum("kp,bpw->bkw", self.enc_mix.to(patches.dtype), patches)
        seq = torch.cat([patches, latents], dim=1)
        out = self.encoder(seq, mask=self.enc_mask)
        return self.to_code(out[:, self.num_patches:])

    def _decode_patches(self, zq, keep):
        """The ViT decoder's output at each patch position (B, P, width)."""
        b = zq.shape[0]
        lat = self.from_code(zq)
        lat = self._apply_keep(lat, keep)
        lat = lat + self.latent_pos
        grid = self.mask_patch.expand(b, self.num_patches, -1) + self.patch_pos
        if self.config.latent_mixing != "none":
            grid = grid + torch.einsum("pk,bkw->bpw", self.dec_mix.to(lat.dtype), lat)
        seq = torch.cat([grid, lat], dim=1)
        return self.decoder(seq)[:, :self.num_patches]

    def _decode_latents(self, zq, keep):
        if self.proxy is not None:
            return self._proxy_pixels(self.proxy_logits(self._decode_patches(zq, keep)))
        b = zq.shape[0]
        c, p, g = self.config.channels, self.config.patch_size, self.config.image_size // self.config.patch_size
        if self.config.pixel_head == "conv":
            return self.pixel_head(self._decode_patches(zq, keep).transpose(1, 2).reshape(b, -1, g, g))
        out = self.patch_out(self._decode_patches(zq, keep))  # (B, P, C*p*p)
        out = out.reshape(b, g, g, c, p, p).permute(0, 3, 1, 4, 2, 5)
        return out.reshape(b, c, g * p, g * p)

    # TiTok's two-stage training with a proxy ------------------------------------------------------------
    def _proxy_pixels(self, logits: torch.Tensor) -> torch.Tensor:
        """Per-position logits over the proxy's codes (B, P, K) -> the proxy's conv decoder applied to
        softmax(logits) @ proxy code vectors (B, C, H, W in [-1, 1])."""
        k = self.proxy.codebook_size
        codes = self.proxy.quantizer.codes(torch.arange(k, device=logits.device)[None])[0]  # (K, D)
        mixed = logits.float().softmax(-1) @ codes.float()
        return self.proxy._decode_latents(mixed.to(logits.dtype), None)

    def set_stage(self, stage: int) -> None:
        """Stage 1 (proxy codes) or 2 (decoder fine-tuning: encoder and quantizer frozen, in eval mode)."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, not {stage}")
        self.stage = stage
        self.train(self.training)

    def train(self, mode: bool = True):
        """As nn.Module.train, but the proxy's encoder and quantizer never train, nor (in stage 2) ours."""
        super().train(mode)
        if self.proxy is not None:
            self.proxy.eval()
            if self.stage == 2:
                self.quantizer.eval()
        return self

    def forward(self, images: torch.Tensor):
        if self.proxy is None:
            return super().forward(images)
        self._check_images(images)
        frozen = self.stage == 2
        with torch.no_grad() if frozen else contextlib.nullcontext():
            z = self._encode_latents(images * 2 - 1)
            with torch.autocast(device_type=z.device.type, enabled=False):  # codes and EMA updates stay fp32
                zq, tokens, losses = self.quantizer(z.float())
        if frozen:
            losses = {}
        logits = self.proxy_logits(self._decode_patches(zq, self._train_keep(zq)))
        if frozen:
            recon = self._proxy_pixels(logits)
        else:
            target = self.proxy.encode(images)  # (B, P) code ids of the frozen proxy
            losses["proxy_ce_loss"] = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                      target.reshape(-1))
            with torch.no_grad():
                recon = self._proxy_pixels(logits)
        return recon * 0.5 + 0.5, losses, {"tokens": tokens, "pixel_loss": frozen}

    def _apply_keep(self, lat, keep):
        return lat


class Latent1D(Latent1DTokenizer):
    """`num_tokens` tokens per image, independent of the image size."""

    family = "latent1d"
