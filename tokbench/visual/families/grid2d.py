"""grid2d: a VQGAN-style convolutional tokenizer with a 2D grid of codes (Esser et al. 2021).

The conv encoder halves H and W `depth` times; every cell of the resulting (image_size / 2^depth)^2 grid is one
token, read in raster order. Quantizer: VectorQuantize with l2-normalized codes in a low dimension (ViT-VQGAN's
factorized codes), an EMA or learnable codebook and dead-code replacement; or FSQ (`quantizer="fsq"`,
`fsq_levels`). The binary family reuses `Conv2DTokenizer` with lookup-free codes.
"""

from __future__ import annotations

from tokbench.visual.families.base import ConvDecoder, ConvEncoder, VisualTokenizer, VQConfig


class Conv2DTokenizer(VisualTokenizer):
    """A 2D grid of tokens, (image_size / 2^depth)^2 of them, read in raster order."""

    def __init__(self, config: VQConfig) -> None:
        super().__init__(config)
        c = config
        self.encoder = ConvEncoder(c.channels, c.width, c.depth, self.latent_dim)
        self.decoder = ConvDecoder(c.channels, c.width, c.depth, self.latent_dim)
        self.grid = c.image_size // 2 ** c.depth

    @property
    def tokens_per_image(self) -> int:
        return self.grid * self.grid

    def _encode_latents(self, x):
        z = self.encoder(x)  # (B, D, g, g)
        return z.flatten(2).transpose(1, 2)  # (B, g*g, D)

    def _decode_latents(self, zq, keep):
        b = zq.shape[0]
        return self.decoder(zq.transpose(1, 2).reshape(b, self.latent_dim, self.grid, self.grid))


class Grid2D(Conv2DTokenizer):
    """(image_size / 2^depth)^2 tokens per image, each a code index in [0, codebook_size)."""

    family = "grid2d"
