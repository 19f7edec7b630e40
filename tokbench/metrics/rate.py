"""Compression rates: how much input each token carries, for text, images and audio.

Definitions are the ones used across the tokenizer literature; each names its formula so it can be cited.
"""

from __future__ import annotations

import math


def _ratio(num: float, den: float, what: str) -> float:
    if den <= 0:
        raise ValueError(f"cannot compute {what}: denominator is zero")
    return float(num) / float(den)


def bytes_per_token(n_bytes: int, n_tokens: int) -> float:
    """UTF-8 bytes / tokens (higher = more compression); the "compression rate" of e.g. Goldman et al. 2024."""
    return _ratio(n_bytes, n_tokens, "bytes per token")


def chars_per_token(n_chars: int, n_tokens: int) -> float:
    """Unicode code points / tokens."""
    return _ratio(n_chars, n_tokens, "chars per token")


def tokens_per_char(n_tokens: int, n_chars: int) -> float:
    """Tokens / Unicode code points (lower = more compression)."""
    return _ratio(n_tokens, n_chars, "tokens per char")


def fertility(n_tokens: int, n_words: int) -> float:
    """Corpus fertility: tokens / whitespace-separated words (Rust et al., 2021; Ács, 2019)."""
    return _ratio(n_tokens, n_words, "fertility")


def bits_per_token(vocab_size: int) -> float:
    """Information capacity of one token id: log2 V bits."""
    if vocab_size < 1:
        raise ValueError("vocabulary size must be >= 1")
    return math.log2(vocab_size)


def bits_per_pixel(n_tokens: int, bits_per_code: float, n_pixels: int) -> float:
    """Rate of an image tokenizer: tokens × log2(codebook) / pixels (per image, channels not counted)."""
    return _ratio(n_tokens * bits_per_code, n_pixels, "bits per pixel")


def bits_per_second(tokens_per_second: float, bits_per_code: float) -> float:
    """Bitrate of an audio tokenizer: tokens/s × log2(codebook) bits/s."""
    return float(tokens_per_second) * float(bits_per_code)


def kbps(n_quantizers: int, codebook_size: int, frame_rate: float) -> float:
    """Residual-VQ bitrate in kbit/s: quantizers × log2 K × frames per second / 1000 (EnCodec, SoundStream)."""
    return n_quantizers * math.log2(codebook_size) * frame_rate / 1000.0
