"""Segmentation views, tokenizer diffs and the non-unique encoding probe.

Everything here is a pure function over a `TextTokenizer` and strings, so the CLI (`tokbench inspect`,
`tokbench diff`, `tokbench probe`) and the dashboard draw the same thing.

A token's surface is its raw bytes (`TextTokenizer.token_bytes`). When the tokens' bytes concatenate back to
the input's UTF-8 (byte-level BPE, tiktoken, sentencepiece with identity normalization), each span gets exact
byte and character offsets; a token that starts or ends inside a multi-byte character is a *byte fragment*
(`text is None`) and is shown as its bytes.
"""

from __future__ import annotations

import heapq
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tokbench.text.tokenizer import TextTokenizer

#: how whitespace is drawn so it can be seen: space, tab, newline, carriage return, no-break space
VISIBLE_WHITESPACE = {" ": "·", "\t": "→", "\n": "↵", "\r": "␍", "\u00a0": "⍽"}


@dataclass(frozen=True)
class Span:
    """One token of a segmentation.

    `text` is the token's bytes decoded as UTF-8, or None for a byte fragment (bytes that are not valid
    UTF-8 alone). `start`/`end` are character offsets in the input and `byte_start`/`byte_end` UTF-8 byte
    offsets; all four are None when the tokenizer's bytes do not reproduce the input (a normalizer changed it).
    A fragment's character offsets cover the characters it touches.
    """

    id: int
    token_bytes: bytes
    text: str | None
    start: int | None
    end: int | None
    byte_start: int | None = None
    byte_end: int | None = None
    special: bool = False

    @property
    def is_fragment(self) -> bool:
        return self.text is None

    def label(self) -> str:
        """What a person should see: whitespace made visible, fragments as `<xxxx>` byte hex (no space inside)."""
        if self.text is None:
            return "<" + self.token_bytes.hex() + ">"  # no space inside: a space never appears in a label
        return visible(self.text)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["token_bytes"] = self.token_bytes.hex()
        return d


def _escape_char(ch: str) -> str:
    """One character as it may reach a terminal: whitespace as a visible mark, controls as escapes."""
    mark = VISIBLE_WHITESPACE.get(ch)
    if mark is not None:
        return mark
    category = unicodedata.category(ch)
    # Cc: C0/C1 controls and DEL (ESC starts terminal escape sequences); Cf: bidi overrides, zero-width
    # joiners and other invisible format characters; Zl/Zp and other separators: line/paragraph breaks.
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") or (category == "Zs" and ch != " "):
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return ch


def visible(text: str) -> str:
    """`text` safe and legible on a terminal: space, tab, newline, CR and NBSP as visible marks (see
    VISIBLE_WHITESPACE); every other control, format or separator character (ESC, DEL, C1 controls, bidi
    overrides, zero-width characters) as a Python-style escape such as `\\x1b` or `\\u202e`. Nothing that
    could start a terminal escape sequence survives."""
    return "".join(_escape_char(ch) for ch in text)


#: what separates tokens in `plain_segmentation`: raw spaces never occur inside a label (see `visible`)
TOKEN_SEPARATOR = " "


def plain_segmentation(spans: Sequence[Span], show_ids: bool = True) -> str:
    """A segmentation as plain text for pipes and files: labels separated by one space (labels hold no raw
    whitespace, so every boundary is visible), each id in brackets after its token (`Stra[1234]`)."""
    return TOKEN_SEPARATOR.join(f"{s.label()}[{s.id}]" if show_ids else s.label() for s in spans)


def _char_index_of_bytes(text: str) -> list[int]:
    """For each UTF-8 byte offset of `text` (plus the end), the index of the character holding it."""
    out: list[int] = []
    for i, ch in enumerate(text):
        out.extend([i] * len(ch.encode("utf-8")))
    out.append(len(text))
    return out


def segment(tokenizer: TextTokenizer, text: str, ids: Sequence[int] | None = None) -> list[Span]:
    """The tokenizer's segmentation of `text` as spans (ids encoded without special tokens unless given)."""
    ids = list(tokenizer.encode(text) if ids is None else ids)
    specials = tokenizer.special_ids
    pieces = [tokenizer.token_bytes(i) for i in ids]
    raw = text.encode("utf-8")
    aligned = b"".join(pieces) == raw
    char_of = _char_index_of_bytes(text) if aligned else None
    spans, offset = [], 0
    for i, piece in zip(ids, pieces):
        try:
            surface: str | None = piece.decode("utf-8")
        except UnicodeDecodeError:
            surface = None
        if aligned:
            b0, b1 = offset, offset + len(piece)
            c0 = char_of[b0]
            c1 = char_of[b1 - 1] + 1 if b1 > b0 else c0
            spans.append(Span(int(i), piece, surface, c0, c1, b0, b1, int(i) in specials))
        else:
            spans.append(Span(int(i), piece, surface, None, None, None, None, int(i) in specials))
        offset += len(piece)
    return spans


# ---------------------------------------------------------------------------------------------- diff
@dataclass
class VocabDiff:
    """Vocabularies compared by token bytes (so differently spelled formats compare fairly)."""

    shared: int
    only_a: list[bytes]
    only_b: list[bytes]

    def to_dict(self, limit: int = 50) -> dict[str, Any]:
        return {"shared": self.shared, "only_a": len(self.only_a), "only_b": len(self.only_b),
                "examples_only_a": [_show(b) for b in self.only_a[:limit]],
                "examples_only_b": [_show(b) for b in self.only_b[:limit]]}


def _show(b: bytes) -> str:
    try:
        return visible(b.decode("utf-8"))
    except UnicodeDecodeError:
        return "<" + b.hex() + ">"


def _byte_vocab(tok: TextTokenizer) -> set[bytes]:
    specials = tok.special_ids
    out = set()
    for i in range(tok.vocab_size):
        if i in specials:
            continue
        try:
            out.add(tok.token_bytes(i))
        except (KeyError, ValueError):
            continue
    return out


def vocab_diff(a: TextTokenizer, b: TextTokenizer) -> VocabDiff:
    """Tokens (as bytes, specials left out) in both, only in `a`, only in `b` (sorted short to long)."""
    va, vb = _byte_vocab(a), _byte_vocab(b)
    key = lambda x: (len(x), x)  # noqa: E731
    return VocabDiff(len(va & vb), sorted(va - vb, key=key), sorted(vb - va, key=key))


def boundaries(spans: Sequence[Span]) -> set[int]:
    """Interior byte offsets where a token boundary falls."""
    out, pos = set(), 0
    for s in spans[:-1]:
        pos += len(s.token_bytes)
        out.add(pos)
    return out


def segmentation_distance(a: Sequence[Span], b: Sequence[Span]) -> float:
    """1 - Jaccard similarity of the interior boundary sets (0 = identical segmentation, 1 = nothing shared)."""
    ba, bb = boundaries(a), boundaries(b)
    union = ba | bb
    return 0.0 if not union else 1.0 - len(ba & bb) / len(union)


def most_different_lines(a: TextTokenizer, b: TextTokenizer, lines: Iterable[str], top: int = 10,
                         max_lines: int = 20000, scored: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The corpus lines whose segmentations under `a` and `b` differ most (by boundary distance, then length).

    Looks at the first `max_lines` lines and compares the non-blank ones; `scored`, when given, receives their
    count and UTF-8 bytes as `lines` and `bytes` (the comparison's provenance)."""
    heap: list[tuple[float, int, int, str, list[str], list[str]]] = []
    n_scored = n_bytes = 0
    for n, raw in enumerate(lines):
        if n >= max_lines:
            break
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        n_scored += 1
        n_bytes += len(raw.encode("utf-8"))  # as the held-out report counts a line: with its newline
        sa, sb = segment(a, line), segment(b, line)
        dist = segmentation_distance(sa, sb)
        item = (dist, abs(len(sa) - len(sb)), -n, line, [s.label() for s in sa], [s.label() for s in sb])
        if len(heap) < top:
            heapq.heappush(heap, item)
        elif item[:3] > heap[0][:3]:
            heapq.heapreplace(heap, item)
    out = []
    for dist, dlen, neg_n, line, la, lb in sorted(heap, key=lambda x: x[:3], reverse=True):
        out.append({"line_number": -neg_n + 1, "text": line, "distance": round(dist, 4), "tokens_a": len(la),
                    "tokens_b": len(lb), "segments_a": la, "segments_b": lb})
    if scored is not None:
        scored.update(lines=n_scored, bytes=n_bytes)
    return out


# ---------------------------------------------------------------------------------------------- probe
@dataclass
class ProbeReport:
    """What the non-unique encoding probe found (see `probe_nonunique`)."""

    words: int = 0
    contexts: int = 0
    lines: int = 0  # provenance: the non-blank lines probed and their UTF-8 bytes
    bytes: int = 0
    rates: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens_checked: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PROBE_CATEGORIES = ("whitespace_shift", "intra_word", "decode_collision")


def probe_nonunique(tokenizer: TextTokenizer, lines: Iterable[str], max_lines: int = 5000,
                    top: int = 10, max_vocab: int = 100_000) -> ProbeReport:
    """Find surface strings whose encoding depends on context, and id sequences that decode alike.

    For each whitespace-separated word `w` of the corpus (the first `max_lines` non-empty lines), compare the
    ids of `w` encoded alone with the ids of the tokens covering `w` in its line:
    - **whitespace_shift**: they differ and the in-line tokens do not start and end exactly at `w`'s edges
      (a token boundary moved into the neighbouring whitespace, e.g. GPT-2's " word", or a token spans the
      space). Rate = such occurrences / word occurrences.
    - **intra_word**: they differ although the in-line tokens cover exactly `w` (the word's own segmentation
      changed with its context). Rate = such occurrences / word occurrences.
    - **decode_collision**: vocabulary tokens `t` (specials and byte fragments left out) for which
      encode(decode([t])) != [t]: the one-token sequence [t] and the canonical encoding of its string are two
      id sequences that decode to the same string (non-canonical encodings; cf. Geh et al. 2024, "Where is
      the signal in tokenization space?"). Rate = such tokens / tokens checked.
    The first two need tokens whose bytes reproduce the input (see `segment`); otherwise they are None.
    """
    report = ProbeReport()
    counters: dict[str, Counter] = {c: Counter() for c in PROBE_CATEGORIES}
    detail: dict[str, dict[Any, dict[str, Any]]] = {c: {} for c in PROBE_CATEGORIES}
    alone_cache: dict[str, tuple[int, ...]] = {}
    surfaces: set[str] = set()
    aligned = True
    n_lines = 0
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        n_lines += 1
        if n_lines > max_lines:
            break
        spans = segment(tokenizer, line)
        if spans and spans[0].byte_start is None:
            aligned = False
            break
        report.lines += 1
        report.bytes += len(raw.encode("utf-8"))  # as the held-out report counts a line: with its newline
        char_pos = 0
        for word in line.split():
            char_pos = line.index(word, char_pos)
            b0 = len(line[:char_pos].encode("utf-8"))
            b1 = b0 + len(word.encode("utf-8"))
            char_pos += len(word)
            report.contexts += 1
            inside = [s for s in spans if s.byte_end > b0 and s.byte_start < b1]
            in_ids = tuple(s.id for s in inside)
            if word not in alone_cache:
                alone_cache[word] = tuple(tokenizer.encode(word))
            alone = alone_cache[word]
            surfaces.add(word)
            if in_ids == alone:
                continue
            clean = bool(inside) and inside[0].byte_start == b0 and inside[-1].byte_end == b1
            cat = "intra_word" if clean else "whitespace_shift"
            key = (word, in_ids)
            counters[cat][key] += 1
            if key not in detail[cat]:
                detail[cat][key] = {"string": word, "alone": [_show(tokenizer.token_bytes(i)) for i in alone],
                                    "in_context": [s.label() for s in inside], "context": line[:160]}
    report.words = len(surfaces)
    checked = 0
    specials = tokenizer.special_ids
    candidates: list[tuple[int, str]] = []
    for i in range(min(tokenizer.vocab_size, max_vocab)):
        if i in specials:
            continue
        try:
            candidates.append((i, tokenizer.token_bytes(i).decode("utf-8")))
        except (UnicodeDecodeError, KeyError, ValueError):
            continue
    encoded = tokenizer.encode_batch([s for _, s in candidates]) if candidates else []
    for (i, s), ids in zip(candidates, encoded):
        checked += 1
        if list(ids) != [i] and tokenizer.decode(list(ids)) == tokenizer.decode([i]):
            key = (s, i)
            counters["decode_collision"][key] = 1
            detail["decode_collision"][key] = {"string": _show(s.encode("utf-8")), "ids_a": [i], "ids_b": list(ids)}
    for cat in PROBE_CATEGORIES:
        report.counts[cat] = sum(counters[cat].values())
        report.examples[cat] = [{**detail[cat][key], "count": n} for key, n in counters[cat].most_common(top)]
    ctx = report.contexts
    report.rates["whitespace_shift"] = report.counts["whitespace_shift"] / ctx if aligned and ctx else None
    report.rates["intra_word"] = report.counts["intra_word"] / ctx if aligned and ctx else None
    report.rates["decode_collision"] = report.counts["decode_collision"] / checked if checked else None
    report.tokens_checked = checked
    if not aligned:
        report.notes.append("token bytes do not reproduce the input (a normalizer): context categories unavailable")
    return report
