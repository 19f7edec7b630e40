"""Segmentation as colored spans: which bytes of the text each token covers, and where tokenizers disagree.

The segmentation itself comes from the library (`tokbench.text.inspect.segment`, the same spans
`tokbench inspect` prints); this module only compares boundaries between tokenizers and draws HTML. Offsets
are UTF-8 byte offsets, because a token need not end on a character boundary.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from tokbench.text.inspect import VISIBLE_WHITESPACE, Span, visible
from tokbench.text.inspect import segment as _segment

GOLDEN = 0.6180339887498949
WHITESPACE_GLYPHS = VISIBLE_WHITESPACE


@dataclass(frozen=True)
class Segmentation:
    name: str
    spans: tuple[Span, ...]

    @property
    def aligned(self) -> bool:
        """The token bytes spell the text, so boundaries can be compared with other tokenizers."""
        return all(s.byte_start is not None for s in self.spans)

    @property
    def boundaries(self) -> frozenset[int]:
        return frozenset([s.byte_start for s in self.spans] + [s.byte_end for s in self.spans])


def segment(tokenizer, text: str, name: str | None = None) -> Segmentation:
    return Segmentation(name or getattr(tokenizer, "name", "?"), tuple(_segment(tokenizer, text)))


def disagreements(segs: Sequence[Segmentation]) -> list[set[int]]:
    """For each segmentation, the indices of its spans that some other aligned tokenizer does not also
    produce as one token (a boundary missing at either end, or an extra boundary inside)."""
    out: list[set[int]] = []
    aligned = [s for s in segs if s.aligned]
    for seg in segs:
        marked: set[int] = set()
        if seg.aligned:
            others = [o.boundaries for o in aligned if o is not seg]
            for k, span in enumerate(seg.spans):
                a, b = span.byte_start, span.byte_end
                if a == b:
                    continue
                for bounds in others:
                    if a not in bounds or b not in bounds or any(a < x < b for x in bounds):
                        marked.add(k)
                        break
        out.append(marked)
    return out


def pieces(raw: bytes) -> list[tuple[str, str]]:
    """Split token bytes into ("text", str) runs of valid UTF-8 and ("bytes", "E6 97") fragments."""
    out: list[tuple[str, str]] = []
    rest = raw
    while rest:
        try:
            out.append(("text", rest.decode("utf-8")))
            break
        except UnicodeDecodeError as exc:
            if exc.start:
                out.append(("text", rest[:exc.start].decode("utf-8")))
            bad = rest[exc.start:exc.end]
            out.append(("bytes", " ".join(f"{b:02X}" for b in bad)))
            rest = rest[exc.end:]
    return out


def label(raw: bytes) -> str:
    """A token as plain text: visible whitespace, invalid UTF-8 as ⟨E6 97⟩."""
    return "".join(visible(v) if k == "text" else f"⟨{v}⟩" for k, v in pieces(raw))


def color(token_id: int) -> str:
    """A pastel background whose hue is a function of the token id (golden-ratio spread)."""
    hue = (token_id * GOLDEN) % 1.0 * 360
    return f"hsl({hue:.0f}, 75%, 84%)"


def span_html(span: Span, ringed: bool = False) -> str:
    inner = []
    for kind, value in pieces(span.token_bytes):
        if kind == "bytes":
            inner.append(f"<span style='font-family:monospace;font-size:0.75em;color:#553'>⟨{html.escape(value)}⟩</span>")
        else:
            for ch in value:
                if ch in WHITESPACE_GLYPHS:
                    inner.append(f"<span style='color:#888'>{WHITESPACE_GLYPHS[ch]}</span>")
                    if ch == "\n":
                        inner.append("<br>")
                else:
                    inner.append(html.escape(ch))
    ring = "outline:2px solid #d62728;outline-offset:-1px;" if ringed else ""
    raw = span.token_bytes
    title = f"id {span.id} · {len(raw)} byte{'s' if len(raw) != 1 else ''} · {raw!r}"
    return (f"<span class='tok' title=\"{html.escape(title)}\" data-id='{span.id}' "
            f"style='background:{color(span.id)};{ring}border-radius:3px;padding:1px 2px;margin:1px;"
            f"line-height:2;white-space:pre-wrap'>{''.join(inner) or '∅'}</span>")


def segmentation_html(seg: Segmentation, ringed: set[int] | None = None) -> str:
    ringed = ringed or set()
    body = "".join(span_html(s, k in ringed) for k, s in enumerate(seg.spans))
    return f"<div class='tokbench-seg' style='font-size:1.05em'>{body}</div>"


def split_label(tokenizer, text: str) -> tuple[str, int]:
    """`3|141|5` style: the pieces a tokenizer cuts `text` into, and how many."""
    seg = segment(tokenizer, text)
    return "|".join(label(s.token_bytes) for s in seg.spans), len(seg.spans)


DEFAULT_NUMBERS = ("7", "42", "365", "2024", "31415", "271828", "1000000", "123456789", "9876543210",
                   "3.14159", "0.001", "-273.15", "1,234,567", "6.022e23")
