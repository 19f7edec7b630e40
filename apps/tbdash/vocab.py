"""Vocabulary tables for the browser and the diff: each token's bytes, length, script and merge rank.

Presentation over the public tokenizer interface; the merge rank is read from the tokenizer's own file
(HF BPE `model.merges`, tiktoken ranks), and is left empty where the format has no merge order.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

from tbdash.spans import label

#: Unicode character-name prefixes that name a script differently from their first word.
_SCRIPT_PREFIXES = (("CJK", "Han"), ("HANGUL", "Hangul"), ("HIRAGANA", "Hiragana"), ("KATAKANA", "Katakana"),
                    ("HALFWIDTH KATAKANA", "Katakana"), ("FULLWIDTH LATIN", "Latin"))


def char_script(ch: str) -> str | None:
    """The script of one letter from its Unicode name (LATIN SMALL LETTER A -> Latin); None for non-letters."""
    if not unicodedata.category(ch).startswith(("L", "M")):
        return None
    name = unicodedata.name(ch, "")
    if not name:
        return "Unknown"
    for prefix, script in _SCRIPT_PREFIXES:
        if name.startswith(prefix):
            return script
    return name.split()[0].title()


def token_script(raw: bytes) -> str:
    """Dominant script of a token's letters; Digits / Punctuation / Whitespace / Bytes when it has none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "Bytes"
    scripts = Counter(s for s in map(char_script, text) if s)
    if scripts:
        top = scripts.most_common()
        return top[0][0] if len(top) == 1 else f"{top[0][0]}+"
    if not text:
        return "Empty"
    if text.isspace():
        return "Whitespace"
    if any(c.isdigit() for c in text):
        return "Digits"
    return "Punctuation"


def merge_ranks(tokenizer) -> dict[int, int]:
    """token id -> merge rank (0 = first merge learned), where the format records a merge order."""
    config = getattr(tokenizer, "config", None)
    base = getattr(tokenizer, "base", None)
    if config is None and base is not None:
        return merge_ranks(base)
    if isinstance(config, dict):
        model = config.get("model") or {}
        if model.get("type") != "BPE":
            return {}
        vocab = model.get("vocab") or {}
        ranks = {}
        for rank, merge in enumerate(model.get("merges") or []):
            left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
            token_id = vocab.get(left + right)
            if token_id is not None and token_id not in ranks:
                ranks[token_id] = rank
        return ranks
    mergeable = getattr(tokenizer, "ranks", None)
    if isinstance(mergeable, dict):  # tiktoken: multi-byte tokens in rank order are the merges
        multi = sorted((rank for tok, rank in mergeable.items() if len(tok) > 1))
        return {token_id: k for k, token_id in enumerate(multi)}
    return {}


def vocab_rows(tokenizer) -> list[dict]:
    """One row per token id: id, token (visible), bytes, chars, script, merge rank, special."""
    ranks = merge_ranks(tokenizer)
    specials = set(getattr(tokenizer, "special_ids", ()) or ())
    rows = []
    for token_id in range(int(tokenizer.vocab_size)):
        try:
            raw = bytes(tokenizer.token_bytes(token_id))
        except (KeyError, IndexError, ValueError):
            continue
        try:
            chars = len(raw.decode("utf-8"))
        except UnicodeDecodeError:
            chars = None
        rows.append({"id": token_id, "token": label(raw), "bytes": len(raw), "chars": chars,
                     "script": token_script(raw), "merge_rank": ranks.get(token_id),
                     "special": token_id in specials, "raw": raw})
    return rows
