"""Named pre-tokenizer split patterns (regexes that cut text into chunks before BPE merges apply).

These are the published patterns of well-known tokenizers; named constants, never inline literals.
"""

from __future__ import annotations

#: GPT-2 (Radford et al., 2019): contractions, letters, numbers, other symbols, each with an optional leading space.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: GPT-4's cl100k_base: case-insensitive contractions, numbers in runs of at most three digits, newline handling.
GPT4_SPLIT_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
                      r"""|\s*[\r\n]|\s+(?!\S)|\s+""")

#: Llama 3: like cl100k, with the possessive quantifiers written as greedy ones.
LLAMA3_SPLIT_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                        r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

#: Whitespace only: a word keeps one leading space; runs of whitespace stay together.
WHITESPACE_SPLIT_PATTERN = r""" ?\S+|\s+(?!\S)|\s+"""

#: SuperBPE's stage-2 split (Liu et al. 2025; `scripts/extend_tokenizer.sh` of github.com/PythonNut/superbpe): only
#: 1-3 digit groups, runs of two or more punctuation marks (with trailing newlines or slashes) and space runs
#: before whitespace are cut out; everything else, single spaces, newlines and single punctuation included, joins.
SUPERBPE_STAGE2_PATTERN = r"""\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)"""

SPLIT_PATTERNS = {
    "gpt2": GPT2_SPLIT_PATTERN,
    "gpt4": GPT4_SPLIT_PATTERN,
    "llama3": LLAMA3_SPLIT_PATTERN,
    "whitespace": WHITESPACE_SPLIT_PATTERN,
}
