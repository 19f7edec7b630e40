"""latent1d: TiTok-style 1D tokenizer (Yu et al. 2024): K learnable latent tokens read the image through a ViT
encoder; only they are quantized, and a ViT decoder rebuilds the patches from mask tokens plus those latents.
"""

from __future__ import annotations

from tokbench.visual.families.base import Latent1DTokenizer, VQConfig


class Latent1D(Latent1DTokenizer):
    """`num_tokens` tokens per image, independent of the image size."""

    family = "latent1d"

    def __init__(self, config: VQConfig) -> None:
        super().__init__(config, causal=False)
