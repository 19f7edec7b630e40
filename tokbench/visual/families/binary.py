"""binary: lookup-free binary codes, LFQ (MAGVIT-v2, Yu et al. 2023) or BSQ (Zhao et al. 2024), on the 2D
conv grid of `grid2d` (`layout="2d"`) or the TiTok 1D latents of `latent1d` (`layout="1d"`).

A token is `bits` signs, kept as a bool tensor (B, T, bits): never packed into an int64, so 64-, 128- or
256-bit codes (2^128-entry implicit codebooks) work. The entropy loss is factorized over groups of
`entropy_group` bits (see `tokbench.visual.quantize.Binary`).
"""

from __future__ import annotations

from tokbench.visual.families.base import VQConfig
from tokbench.visual.families.grid2d import Conv2DTokenizer
from tokbench.visual.families.latent1d import Latent1DTokenizer


class Binary2D(Conv2DTokenizer):
    family = "binary"


class Binary1D(Latent1DTokenizer):
    family = "binary"


def Binary(config: VQConfig):  # noqa: N802 - a constructor, named like the other families' classes
    """The binary tokenizer in the layout the config asks for."""
    return Binary1D(config) if config.layout == "1d" else Binary2D(config)
