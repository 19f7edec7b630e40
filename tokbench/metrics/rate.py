"""Compression rates: how much input each token carries, for text, images and audio.

Definitions are the ones used across the tokenizer literature; each names its formula so it can be cited.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


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


# ---------------------------------------------------------------------------------------------- text (issue 4)
def fertility_corpus(n_tokens: int, n_words: int) -> float:
    """Fertility, corpus definition: total tokens of the text / whitespace-separated words, with the text
    encoded as it stands (e.g. Scao et al. 2022 BLOOM; Ali et al. 2024). Same formula as `fertility`."""
    return fertility(n_tokens, n_words)


def fertility_words_alone(tokens_per_word: Sequence[int]) -> float:
    """Fertility, word definition: mean over word occurrences of the tokens each word gets when encoded on
    its own, (1/|W|) Σ_w |T(w)| (Ács 2019; Rust et al. 2021, "How Good is Your Tokenizer?")."""
    counts = list(tokens_per_word)
    return _ratio(sum(counts), len(counts), "fertility (words alone)")


def continued_words(tokens_per_word: Sequence[int]) -> float:
    """Proportion of continued words: share of word occurrences split into two or more tokens when encoded
    alone, |{w: |T(w)| >= 2}| / |W| (Rust et al. 2021)."""
    counts = list(tokens_per_word)
    return _ratio(sum(1 for c in counts if c >= 2), len(counts), "proportion of continued words")


def normalized_sequence_length(n_tokens: int, n_tokens_reference: int) -> float:
    """Normalized sequence length NSL = Σ_i |T(D_i)| / Σ_i |T_ref(D_i)| over the same documents
    (Dagan et al. 2024, "Getting the most out of your tokenizer for pre-training and domain adaptation");
    < 1 means shorter sequences than the reference tokenizer."""
    return _ratio(n_tokens, n_tokens_reference, "normalized sequence length")


def exact_rate(n_exact: int, n_total: int) -> float:
    """Share of items that survive an identity exactly: round-trip rate `decode(encode(x)) == x` over lines,
    or canonicality rate `encode(decode(ids)) == ids` over id sequences (cf. Geh et al. 2024 on
    non-canonical encodings)."""
    return _ratio(n_exact, n_total, "exact rate")


#: magnitude buckets for numbers, by digits in the integer part: 1, 2, 3, 4-6, 7-9, 10+
NUMBER_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 6), (7, 9), (10, 10**9))


def number_bucket(digits: int) -> str:
    """The magnitude bucket label of a number with `digits` integer digits (`d1`, `d2`, `d3`, `d4-6`, ...)."""
    for lo, hi in NUMBER_BUCKETS:
        if lo <= digits <= hi:
            if lo == hi:
                return f"d{lo}"
            return f"d{lo}+" if hi >= 10**9 else f"d{lo}-{hi}"
    raise ValueError(f"a number has at least one digit, got {digits}")


def tokens_per_number(samples: Iterable[tuple[int, int]]) -> dict[str, float]:
    """Tokens per number by magnitude: for (integer digits, tokens of the number encoded alone) samples,
    the mean tokens per number in each bucket of `NUMBER_BUCKETS` (cf. Singh & Strouse 2024, "Tokenization
    counts: the impact of tokenization on arithmetic in frontier LLMs")."""
    sums: dict[str, list[int]] = {}
    for digits, n_tokens in samples:
        acc = sums.setdefault(number_bucket(digits), [0, 0])
        acc[0] += n_tokens
        acc[1] += 1
    order = [number_bucket(lo) for lo, _ in NUMBER_BUCKETS]
    return {b: sums[b][0] / sums[b][1] for b in order if b in sums}
