"""grid2d: a VQGAN-style convolutional tokenizer with a 2D grid of codes (Esser et al. 2021).

Quantizer: VectorQuantize with l2-normalized codes in a low dimension (ViT-VQGAN's factorized codes), an EMA or
learnable codebook and dead-code replacement; or FSQ (`quantizer="fsq"`, `fsq_levels`).
"""

from __future__ import annotations

from tokbench.visual.families.base import Conv2DTokenizer, VQConfig


class Grid2D(Conv2DTokenizer):
    """(image_size / 2^depth)^2 tokens per image, each a code index in [0, codebook_size)."""

    family = "grid2d"

    def __init__(self, config: VQConfig) -> None:
        super().__init__(config)
