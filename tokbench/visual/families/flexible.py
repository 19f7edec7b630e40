"""flexible: FlexTok-style ordered 1D tokens (Bachmann et al. 2025, "FlexTok: Resampling Images into 1D Token
Sequences of Flexible Length"): any prefix of 1..K tokens decodes to a whole image.

Trained with nested dropout (Rippel et al. 2014): for each sample a length k is drawn uniformly from 1..K, the
decoder sees the first k quantized tokens and a learned mask token in place of the rest. A causal attention
mask over the latent tokens in the encoder (`causal=True`, FlexTok's choice) keeps token i from depending on
later tokens. Departure from FlexTok: the decoder is the deterministic TiTok ViT decoder, not a rectified-flow
model, so short prefixes decode to blurry means rather than samples.
"""

from __future__ import annotations

import torch
from torch import nn

from tokbench.errors import TokbenchError
from tokbench.visual.families.base import Latent1DTokenizer, VQConfig


class Flexible(Latent1DTokenizer):
    family = "flexible"

    def __init__(self, config: VQConfig) -> None:
        super().__init__(config, causal=config.causal)
        self.mask_token = nn.Parameter(torch.randn(1, 1, config.width) * 0.02)

    def budgets(self) -> list[int]:
        return list(range(1, self.tokens_per_image + 1))

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        """Decode the first `keep` tokens (default: all, or as many as given). `tokens` may hold only the prefix."""
        k_all = self.tokens_per_image
        given = tokens.shape[1]
        keep = given if keep is None else int(keep)
        if not 1 <= keep <= k_all or keep > given:
            raise TokbenchError(f"keep must be in 1..{min(given, k_all)}, got {keep}")
        prefix = tokens[:, :keep]
        pad_shape = (tokens.shape[0], k_all - keep, *tokens.shape[2:])
        full = torch.cat([prefix, prefix.new_zeros(pad_shape)], dim=1)  # placeholders, masked below
        zq = self.quantizer.codes(full)
        keep_t = torch.full((tokens.shape[0],), keep, dtype=torch.long, device=tokens.device)
        return (self._decode_latents(zq, keep_t) * 0.5 + 0.5).clamp(0, 1)

    def _train_keep(self, zq: torch.Tensor) -> torch.Tensor | None:
        if not (self.training and self.config.nested_dropout):
            return None
        return torch.randint(1, self.tokens_per_image + 1, (zq.shape[0],), device=zq.device)

    def _apply_keep(self, lat: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        if keep is None:
            return lat
        positions = torch.arange(lat.shape[1], device=lat.device)[None, :]
        dropped = (positions >= keep[:, None])[..., None]
        return torch.where(dropped, self.mask_token.to(lat.dtype), lat)
