"""A fast, exact encoder for byte-level BPE `tokenizer.json` files: the same ids as HF `tokenizers`, through
tiktoken's Rust BPE core.

Why it can be exact. tiktoken merges, inside each regex chunk, the adjacent pair whose concatenated bytes has
the lowest rank (leftmost on ties); HF BPE merges the adjacent pair with the lowest merge rank (leftmost on
ties). Giving each merge result the rank of its merge (the token id when ids grow with merge order, else a
private rank remapped to ids afterwards) makes the two agree whenever every pair tiktoken may consider is a
real merge. Two things can still differ, and both are checked before use:
- *phantom pairs*: tokens x, y with x+y in the vocabulary but (x, y) not the merge that made it: tiktoken
  would merge them, HF never does;
- tiktoken returns a chunk that is itself a vocabulary entry as that one token; HF does so only with
  `ignore_merges`, otherwise it runs the merges, which may not rebuild the token.

Exactly representable pipelines (anything else falls back to HF, with the reason):
- no normalizer (or an empty Sequence);
- pre-tokenizer `ByteLevel(add_prefix_space=False, use_regex=True)` (the GPT-2 pattern), or
  `Sequence[Split(Regex, behavior=Isolated, invert=False), ByteLevel(add_prefix_space=False, use_regex=False)]`;
- model BPE without dropout, unk token, byte fallback, continuing-subword prefix or end-of-word suffix;
- decoder ByteLevel. Any post-processor (it adds nothing without special tokens).
Added tokens: HF cuts them out of the text before everything else, so a line that contains one is sent to HF.

Verification (`verify`): every vocabulary token's own string, a sweep over Unicode (a character from each
128-code-point block of planes 0-1 and 2-3's start, mixed with spaces and digits), and a sample of the text
to evaluate, encoded both ways; one difference and the fast path is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tokbench.text.patterns import GPT2_SPLIT_PATTERN
from tokbench.text.tokenizer import HFTokenizer, TextTokenizer, WrappedTokenizer, byte_level_token_bytes


@dataclass
class FastStatus:
    """Whether the fast path is in use for a tokenizer, and why (shown in eval-text reports)."""

    used: bool
    reason: str
    phantom_pairs: int | None = None
    verified_texts: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"used": self.used, "reason": self.reason, "phantom_pairs": self.phantom_pairs,
                "verified_texts": self.verified_texts, **self.details}


class NotRepresentable(Exception):
    """The tokenizer's pipeline cannot be reproduced by tiktoken exactly."""


def _is_noop_normalizer(norm: dict | None) -> bool:
    return norm is None or (norm.get("type") == "Sequence" and not norm.get("normalizers"))


def split_pattern(config: dict) -> str:
    """The one regex that cuts text into chunks, or NotRepresentable."""
    pre = config.get("pre_tokenizer")
    if pre is None:
        raise NotRepresentable("no pre-tokenizer")
    if pre.get("type") == "ByteLevel":
        if pre.get("add_prefix_space") or not pre.get("use_regex", True):
            raise NotRepresentable("ByteLevel pre-tokenizer with add_prefix_space or without its regex")
        return GPT2_SPLIT_PATTERN
    if pre.get("type") != "Sequence":
        raise NotRepresentable(f"pre-tokenizer {pre.get('type')} is not a regex split")
    steps = pre.get("pretokenizers") or []
    if len(steps) != 2 or steps[0].get("type") != "Split" or steps[1].get("type") != "ByteLevel":
        raise NotRepresentable("pre-tokenizer is not exactly Split + ByteLevel")
    split, byte_level = steps
    if split.get("behavior") != "Isolated" or split.get("invert"):
        raise NotRepresentable("Split is not behavior=Isolated, invert=False")
    if byte_level.get("add_prefix_space") or byte_level.get("use_regex"):
        raise NotRepresentable("ByteLevel after Split must have add_prefix_space=False, use_regex=False")
    pattern = split.get("pattern") or {}
    if "Regex" in pattern:
        return pattern["Regex"]
    if "String" in pattern:
        return re.escape(pattern["String"])
    raise NotRepresentable("Split pattern is neither a regex nor a string")


def _check_model(config: dict) -> dict:
    model = config.get("model") or {}
    if model.get("type") != "BPE":
        raise NotRepresentable(f"model is {model.get('type')}, not BPE")
    for key in ("dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise NotRepresentable(f"BPE model has {key}")
    if model.get("byte_fallback"):
        raise NotRepresentable("BPE model has byte_fallback")
    if not _is_noop_normalizer(config.get("normalizer")):
        raise NotRepresentable(f"normalizer {config['normalizer'].get('type')} changes the text")
    if (config.get("decoder") or {}).get("type") != "ByteLevel":
        raise NotRepresentable("decoder is not ByteLevel")
    return model


def _merge_pairs(model: dict) -> list[tuple[str, str]]:
    out = []
    for m in model.get("merges") or []:
        if isinstance(m, str):
            a, _, b = m.partition(" ")
        else:
            a, b = m
        out.append((a, b))
    return out


@dataclass
class RankTable:
    """tiktoken ranks (priority) for the vocabulary, and the rank -> HF id map when they differ."""

    ranks: dict[bytes, int]
    rank_to_id: list[int] | None
    phantom_pairs: int
    examples: list[str]


def build_ranks(config: dict) -> RankTable:
    """Ranks from merges + vocab: merge i's result gets priority i; single bytes and leftovers after."""
    model = _check_model(config)
    vocab: dict[str, int] = model.get("vocab") or {}
    merges = _merge_pairs(model)
    token_bytes: dict[str, bytes] = {}
    for tok in vocab:
        raw = byte_level_token_bytes(tok)
        if raw is None:
            raise NotRepresentable(f"vocab entry {tok!r} is not byte-level encoded")
        token_bytes[tok] = raw
    if len(set(token_bytes.values())) != len(token_bytes):
        raise NotRepresentable("two vocab entries have the same bytes")
    singles = {bytes([b]) for b in range(256)}
    if not singles <= set(token_bytes.values()):
        raise NotRepresentable("vocabulary lacks some of the 256 single bytes")
    merge_result: dict[bytes, tuple[bytes, bytes]] = {}
    order: list[str] = []
    for a, b in merges:
        if a not in vocab or b not in vocab or a + b not in vocab:
            raise NotRepresentable(f"merge {a!r} + {b!r} refers to tokens outside the vocabulary")
        result = token_bytes[a + b]
        if result in merge_result:
            continue  # a later duplicate merge never fires in HF either (the pair is already merged)
        merge_result[result] = (token_bytes[a], token_bytes[b])
        order.append(a + b)
    # phantom pairs: other ways to cut a merged token into two vocabulary entries
    all_bytes = set(token_bytes.values())
    phantoms, examples = 0, []
    for result, (x, _) in merge_result.items():
        for k in range(1, len(result)):
            if k != len(x) and result[:k] in all_bytes and result[k:] in all_bytes:
                phantoms += 1
                if len(examples) < 5:
                    examples.append(f"{result[:k]!r}+{result[k:]!r}")
    # priority: merges in order; id order is kept when it already agrees (no remap needed)
    ids_in_order = [vocab[t] for t in order]
    consistent = all(x < y for x, y in zip(ids_in_order, ids_in_order[1:]))
    merged_set = set(order)
    rest = sorted((t for t in vocab if t not in merged_set), key=lambda t: vocab[t])
    if consistent and (not ids_in_order or all(vocab[t] < ids_in_order[0] for t in rest if len(token_bytes[t]) == 1)):
        ranks = {token_bytes[t]: vocab[t] for t in vocab}
        return RankTable(ranks, None, phantoms, examples)
    ranks: dict[bytes, int] = {}
    rank_to_id: list[int] = []
    for t in [t for t in rest if len(token_bytes[t]) == 1] + order + [t for t in rest if len(token_bytes[t]) > 1]:
        ranks[token_bytes[t]] = len(rank_to_id)
        rank_to_id.append(vocab[t])
    return RankTable(ranks, rank_to_id, phantoms, examples)


def unicode_sweep() -> list[str]:
    """Verification strings touching every 128-code-point block of planes 0-1 (and CJK ext. B's start)."""
    out = []
    cps = [cp for cp in range(0x20, 0x20000, 128) if not 0xD800 <= cp < 0xE000] + list(range(0x20000, 0x20400, 64))
    line = []
    for n, cp in enumerate(cps):
        line.append(chr(cp) + chr(cp + 1) + (" " if n % 3 == 0 else "") + ("12345" if n % 7 == 0 else ""))
        if len(line) == 16:
            out.append("".join(line))
            line = []
    if line:
        out.append("".join(line))
    out += ["  leading and trailing  ", "tabs\tand\r\nnewlines\n\n", "I'm you'll WE'LL it's", "1234567 3.14159 -42",
            "e\u0301 a\u0308 \u200b\u200d \ufeff", "👩‍👩‍👧 🇫🇷 é日本語한국어", "\x00\x01\x7f"]
    return out


class FastBPETokenizer(WrappedTokenizer):
    """An HF byte-level BPE tokenizer whose `encode` runs through tiktoken; everything else is HF's."""

    def __init__(self, base: HFTokenizer, table: RankTable, pattern: str) -> None:
        super().__init__(base)
        import tiktoken

        self._table = table
        self._remap = table.rank_to_id
        self.encoding = tiktoken.Encoding(name=f"tokbench-fast-{base.name}", pat_str=pattern,
                                          mergeable_ranks=table.ranks, special_tokens={})
        core = getattr(self.encoding, "_core_bpe", None)  # skip tiktoken's Python wrapper when we can
        self._core_encode = core.encode_ordinary if core is not None else self.encoding.encode_ordinary
        self.threads = min(2, os.cpu_count() or 1)
        added = [t["content"] for t in base.config.get("added_tokens", []) if t.get("content")]
        self._added_re = re.compile("|".join(re.escape(a) for a in sorted(added, key=len, reverse=True))) if added else None

    # the fast path ---------------------------------------------------------------------------------------
    def _map(self, ranks: list[int]) -> list[int]:
        if self._remap is None:
            return ranks
        remap = self._remap
        return [remap[r] for r in ranks]

    def _encode_one(self, text: str) -> list[int]:
        if self._added_re is not None and self._added_re.search(text):
            return self.base.encode(text)
        try:
            return self._map(self._core_encode(text))
        except (UnicodeEncodeError, ValueError):  # lone surrogates: let HF decide what they mean
            return self.base.encode(text)

    def _encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        one = self._encode_one
        return [one(t) for t in texts]

    def encode(self, text: str) -> list[int]:
        return self._encode_one(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Per-text Rust calls (no Python wrapper per call); two threads over halves of a large batch
        (the Rust core releases the GIL while it encodes)."""
        texts = list(texts)
        if len(texts) < 512 or self.threads < 2:
            return self._encode_many(texts)
        from concurrent.futures import ThreadPoolExecutor

        step = -(-len(texts) // self.threads)
        parts = [texts[i:i + step] for i in range(0, len(texts), step)]
        with ThreadPoolExecutor(len(parts)) as pool:
            return [ids for part in pool.map(self._encode_many, parts) for ids in part]

    def describe(self) -> dict[str, Any]:
        return {**self.base.describe(), "fast_encoder": True}


def verify(fast: FastBPETokenizer, texts: Sequence[str]) -> tuple[bool, int, str | None]:
    """Encode `texts`, every vocabulary token's string and the Unicode sweep both ways.
    Returns (identical, texts checked, first difference)."""
    base = fast.base
    specials = base.special_ids
    vocab_strings = []
    for i in range(base.vocab_size):
        if i in specials:
            continue
        try:
            vocab_strings.append(base.token_bytes(i).decode("utf-8"))
        except (UnicodeDecodeError, KeyError):
            continue
    sample = list(texts) + vocab_strings + unicode_sweep()
    checked = 0
    for start in range(0, len(sample), 4096):
        chunk = sample[start:start + 4096]
        want = base.encode_batch(chunk)
        got = fast.encode_batch(chunk)
        for text, a, b in zip(chunk, want, got):
            checked += 1
            if list(a) != list(b):
                return False, checked, f"{text[:60]!r}: HF {list(a)[:8]} vs fast {list(b)[:8]}"
    return True, checked, None


def fast_tokenizer(tok: TextTokenizer, sample: Sequence[str] = ()) -> tuple[TextTokenizer, FastStatus]:
    """The fast exact encoder for `tok` when its pipeline is representable and verification passes,
    else `tok` itself; the status says which and why."""
    if not isinstance(tok, HFTokenizer):
        return tok, FastStatus(False, f"{tok.kind} tokenizer: its own backend is used")
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        return tok, FastStatus(False, "tiktoken is not installed")
    config = tok.config
    try:
        pattern = split_pattern(config)
        table = build_ranks(config)
        fast = FastBPETokenizer(tok, table, pattern)
    except NotRepresentable as exc:
        return tok, FastStatus(False, f"not exactly representable: {exc}")
    except ValueError as exc:  # tiktoken refuses the pattern or ranks
        return tok, FastStatus(False, f"tiktoken refused the tokenizer: {str(exc).splitlines()[0][:200]}")
    ok, checked, diff = verify(fast, sample)
    details = {"phantom_examples": table.examples, "remapped_ids": table.rank_to_id is not None}
    if not ok:
        return tok, FastStatus(False, f"verification against HF failed on {diff}", table.phantom_pairs, checked,
                               details)
    return fast, FastStatus(True, "verified identical to HF", table.phantom_pairs, checked, details)
