"""latent1d: TiTok (Yu et al. 2024, "An Image is Worth 32 Tokens for Reconstruction and Generation").

Encoder: a ViT reads the image's patch embeddings followed by K learnable latent tokens; only the K latent
outputs are kept and projected to the code width, so the token count is independent of the image size.
Quantizer: VQ (or FSQ) on each latent. Decoder: a ViT reads one shared mask token per patch position (plus the
patch position embedding) followed by the quantized latents (plus their own position embedding), and predicts
each patch's pixels from its mask-token output. `Latent1DTokenizer` is that architecture for any family;
`flexible` and the 1D layout of `binary` build on it.
"""

from __future__ import annotations

import torch
from torch import nn

from tokbench.visual.families.base import VisualTokenizer, VQConfig, transformer


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
        self.patch_out = nn.Linear(w, c.channels * c.patch_size ** 2)
        self.register_buffer("enc_mask", None, persistent=False)

    @property
    def tokens_per_image(self) -> int:
        return self.config.num_tokens

    def _encode_latents(self, x):
        b = x.shape[0]
        patches = self.patch_in(x).flatten(2).transpose(1, 2) + self.patch_pos
        seq = torch.cat([patches, self.latents.expand(b, -1, -1)], dim=1)
        out = self.encoder(seq, mask=self.enc_mask)
        return self.to_code(out[:, self.num_patches:])

    def _decode_latents(self, zq, keep):
        b = zq.shape[0]
        lat = self.from_code(zq)
        lat = self._apply_keep(lat, keep)
        lat = lat + self.latent_pos
        seq = torch.cat([self.mask_patch.expand(b, self.num_patches, -1) + self.patch_pos, lat], dim=1)
        out = self.patch_out(self.decoder(seq)[:, :self.num_patches])  # (B, P, C*p*p)
        c, p, g = self.config.channels, self.config.patch_size, self.config.image_size // self.config.patch_size
        out = out.reshape(b, g, g, c, p, p).permute(0, 3, 1, 4, 2, 5)
        return out.reshape(b, c, g * p, g * p)

    def _apply_keep(self, lat, keep):
        return lat


class Latent1D(Latent1DTokenizer):
    """`num_tokens` tokens per image, independent of the image size."""

    family = "latent1d"
