"""The four visual families, each an encoder + quantizer + decoder with the same encode/decode shape."""

from __future__ import annotations

FAMILY_MODULES = {"grid2d": "Grid2D", "latent1d": "Latent1D", "binary": "Binary", "flexible": "Flexible"}
