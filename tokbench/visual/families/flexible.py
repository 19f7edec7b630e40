"""flexible: FlexTok-style ordered 1D tokens (Bachmann et al. 2025, "FlexTok: Resampling Images into 1D Token
Sequences of Flexible Length"): any prefix of 1..K tokens decodes to a whole image.

Trained with nested dropout (Rippel et al. 2014): for each sample a length k is drawn, the decoder sees the
first k quantized tokens and a learned mask token in place of the rest. `keep_lengths` takes the three modes of
FlexTok's code (`MaskedNestedDropout.size_sampling_mode`): "uniform" over 1..K (the default there and here);
"pow2", uniform over the powers of two 1, 2, 4, ..., K (and K itself when it is not one), so every doubling of
the budget gets the same share of training; "uniform_pow2", uniform over 1..K rounded up to the next power of
two (at most K), so the longer budgets train most often (K itself in about half the draws when K is a power of
two). With the published architecture pow2 measured worse (300 CPU steps on Fashion-MNIST: 12.7 dB and 1.8% of
the FSQ codes at 32 tokens, against 13.6 dB and 20% for uniform); with our options below, uniform_pow2 brings
the full budget closest to latent1d (benchmarks/RESULTS.md). The K latent tokens are FlexTok's registers:
learned queries appended after the patches in the encoder, read causally. A causal attention mask over the
latent tokens in the encoder (`causal=True`, FlexTok's choice) keeps token i from depending on later tokens.
Departure from FlexTok: the decoder is the deterministic TiTok ViT decoder, not a rectified-flow model, so short
prefixes decode to blurry means rather than samples. With a proxy (`fit-vq --proxy RUN`) it trains in latent1d's
two TiTok stages, nested dropout included; the proxy's conv decoder then plays the part of FlexTok's VAE decoder
(FlexTok's tokens describe a VAE's latent grid, not pixels).

latent1d's two options of ours apply here too. `latent_mixing = "pyramid"` starts the first latent as a summary
of the whole image, the next four of its quadrants, and so on, in the prefix order; "raster" (every latent a run
of patches) measured better at the full budget (benchmarks/RESULTS.md), so the README's recipe uses it. FlexTok
quantizes with FSQ (the default here); in short CPU runs FSQ leaves most of its codes unused
(benchmarks/RESULTS.md), while `quantizer = "vq"` with dead-code replacement keeps the codebook in use.
"""

from __future__ import annotations

import torch
from torch import nn

from tokbench.errors import TokbenchError
from tokbench.visual.families.base import VQConfig
from tokbench.visual.families.latent1d import Latent1DTokenizer


class Flexible(Latent1DTokenizer):
    family = "flexible"

    def __init__(self, config: VQConfig) -> None:
        super().__init__(config)
        if config.causal:
            self.enc_mask = causal_latent_mask(self.num_patches, config.num_tokens)
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
        k_all = self.tokens_per_image
        if self.config.keep_lengths in ("uniform", "uniform_pow2"):
            keep = torch.randint(1, k_all + 1, (zq.shape[0],), device=zq.device)
            if self.config.keep_lengths == "uniform_pow2":  # up to the next power of two (at most K)
                up = torch.pow(2, torch.ceil(torch.log2(keep.double()))).long()
                keep = torch.minimum(up, torch.full_like(keep, k_all))
            return keep
        lengths = torch.tensor(keep_lengths(self.tokens_per_image), device=zq.device)
        return lengths[torch.randint(0, len(lengths), (zq.shape[0],), device=zq.device)]

    def _apply_keep(self, lat: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        if keep is None:
            return lat
        positions = torch.arange(lat.shape[1], device=lat.device)[None, :]
        dropped = (positions >= keep[:, None])[..., None]
        return torch.where(dropped, self.mask_token.to(lat.dtype), lat)


def causal_latent_mask(num_patches: int, k: int) -> torch.Tensor:
    """Boolean attention mask (True = blocked) over [patches, latents]: patches see patches only; latent i sees
    all patches and latents 0..i, so earlier tokens cannot depend on later ones."""
    n = num_patches + k
    mask = torch.zeros(n, n, dtype=torch.bool)
    mask[:num_patches, num_patches:] = True
    mask[num_patches:, num_patches:] = torch.ones(k, k, dtype=torch.bool).triu(1)
    return mask


def keep_lengths(k: int) -> list[int]:
    """FlexTok's nested-dropout prefix lengths for K tokens: 1, 2, 4, ... up to K, and K itself."""
    out = [1 << i for i in range(k.bit_length()) if 1 << i <= k]
    return out if out[-1] == k else [*out, k]
