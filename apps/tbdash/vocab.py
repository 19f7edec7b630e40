"""Vocabulary tables for the browser and the diff: each token's bytes, length, script and merge rank.

Presentation over the public tokenizer interface; the merge rank is read from the tokenizer's own file
(HF BPE `model.merges`, tiktoken ranks), and is left empty where the format has no merge order.
"""

from __future__ import annotations

import re
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


#: spellings of special tokens in the common formats: <s>, </s>, <unk>, <pad>, <|endoftext|>, [CLS], <mask>
SPECIAL_SPELLING = re.compile(r"^(<\|[^|<>\s]{1,40}\|>|</?(s|unk|pad|mask|bos|eos|sep|cls)>|\[(CLS|SEP|PAD|MASK|UNK|BOS|EOS)\])$")


def spm_model_type(tokenizer) -> str | None:
    """"unigram" / "bpe" / ... for a sentencepiece tokenizer (read from its model proto), else None."""
    backend = getattr(tokenizer, "backend", None) or getattr(getattr(tokenizer, "base", None), "backend", None)
    if backend is None or not hasattr(backend, "serialized_model_proto"):
        return None
    try:
        from sentencepiece import sentencepiece_model_pb2

        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(backend.serialized_model_proto())
        return sentencepiece_model_pb2.TrainerSpec.ModelType.Name(proto.trainer_spec.model_type).lower()
    except Exception:  # noqa: BLE001 - an unreadable proto only loses the score column
        return None


def _token_text(tokenizer, token_id: int) -> str:
    try:
        return str(tokenizer.id_to_token(token_id))
    except (KeyError, IndexError, ValueError, AttributeError):
        return ""


def vocab_rows(tokenizer) -> list[dict]:
    """One row per token id: id, token (visible), kind (special / byte / ""), bytes, chars, script, merge rank,
    and, for a sentencepiece unigram model, its unigram score (the piece's log probability).

    A token is special when the tokenizer says so (HF added tokens marked special, sentencepiece control and
    unknown pieces) or when an added token is spelled like one (`<|pad|>`, `</s>`); a special shows its
    spelling (sentencepiece's `<s>` has no bytes), a lone byte that is not UTF-8 shows as `<0xE2>`."""
    ranks = merge_ranks(tokenizer)
    specials = set(getattr(tokenizer, "special_ids", ()) or ())
    config = getattr(tokenizer, "config", None) or getattr(getattr(tokenizer, "base", None), "config", None)
    added = {t.get("id") for t in (config or {}).get("added_tokens", [])} if isinstance(config, dict) else set()
    unigram = spm_model_type(tokenizer) == "unigram"
    backend = getattr(tokenizer, "backend", None)
    rows = []
    for token_id in range(int(tokenizer.vocab_size)):
        try:
            raw = bytes(tokenizer.token_bytes(token_id))
        except (KeyError, IndexError, ValueError):
            continue
        spelled = _token_text(tokenizer, token_id) if (token_id in specials or token_id in added or not raw) else ""
        special = token_id in specials or (token_id in added and bool(SPECIAL_SPELLING.match(spelled)))
        try:
            chars = len(raw.decode("utf-8"))
        except UnicodeDecodeError:
            chars = None
        kind = "special" if special else ("byte" if chars is None and len(raw) == 1 else "")
        row = {"id": token_id, "token": spelled if special and spelled else label(raw), "kind": kind,
               "bytes": len(raw), "chars": chars, "script": "Special" if special else token_script(raw),
               "merge_rank": ranks.get(token_id), "special": special, "raw": raw}
        if unigram:
            row["unigram_score"] = float(backend.get_score(token_id))
        rows.append(row)
    return rows


#: Vocabulary diff orders. "longest first" counts distinct characters before bytes, so `+-----+` rules and
#: runs of one repeated character do not crowd out the words.
DIFF_ORDERS = ("earliest merge first", "longest first", "id")


def diff_order(rows: list[dict], order: str) -> list[dict]:
    """Vocabulary-diff rows in the chosen order: by merge rank (the pairs learned first are the most frequent;
    tokens without a rank follow, by id), by length in distinct characters then bytes, or by id."""
    if order == "earliest merge first":
        return sorted(rows, key=lambda r: (r.get("merge_rank") is None, r.get("merge_rank") or 0, r["id"]))
    if order == "longest first":
        def distinct(r: dict) -> int:
            try:
                return len(set(r["raw"].decode("utf-8")))
            except UnicodeDecodeError:
                return len(set(r["raw"]))
        return sorted(rows, key=lambda r: (-distinct(r), -r["bytes"], r["id"]))
    return sorted(rows, key=lambda r: r["id"])
