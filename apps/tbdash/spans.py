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
    text: str = ""

    @property
    def aligned(self) -> bool:
        """The token bytes spell the text, so boundaries can be compared with other tokenizers."""
        return all(s.byte_start is not None for s in self.spans)

    @property
    def boundaries(self) -> frozenset[int]:
        return frozenset([s.byte_start for s in self.spans] + [s.byte_end for s in self.spans])


def segment(tokenizer, text: str, name: str | None = None) -> Segmentation:
    return Segmentation(name or getattr(tokenizer, "name", "?"), tuple(_segment(tokenizer, text)), text)


def disagreements(segs: Sequence[Segmentation], reference: int | None = None) -> list[set[int]]:
    """For each segmentation, the indices of its spans that are not also one token elsewhere (a boundary
    missing at either end, or an extra boundary inside). With a `reference`, every other tokenizer is compared
    with the reference only (so with many tokenizers a ring still means something), and the reference with
    all the others; without one, every tokenizer with every other."""
    out: list[set[int]] = []
    aligned = [s for s in segs if s.aligned]
    ref = segs[reference] if reference is not None and 0 <= reference < len(segs) and segs[reference].aligned \
        else None
    for seg in segs:
        marked: set[int] = set()
        if seg.aligned:
            if ref is None or seg is ref:
                others = [o.boundaries for o in aligned if o is not seg]
            else:
                others = [ref.boundaries]
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


def byte_notation(hex_pairs: str) -> str:
    """"E6 97" -> "<0xE6><0x97>": the sentencepiece spelling of byte tokens, in ASCII so every font has it."""
    return "".join(f"<0x{h}>" for h in hex_pairs.split())


def marker_label(ch: str) -> str:
    """A private-use character (the triad transform's markers) as a readable ASCII name: `[e3]` for the
    thousands level, `[gen]`, `[pad1]`, `[sci-e]`, `[style2]`, `[esc]`; any other as `[U+E123]`."""
    return _markers().get(ch, f"[U+{ord(ch):04X}]")


def _markers() -> dict[str, str]:
    global _MARKERS
    if _MARKERS is None:
        from tokbench.text import triad

        names = {c: f"[e{e}]" for e, c in triad.LEVEL_CHARS.items()}
        names.update({triad.GEN: "[gen]", triad.ESC: "[esc]"})
        names.update({c: f"[pad{n}]" for n, c in triad.PAD_CHARS.items()})
        names.update({c: f"[sci-{m}]" for m, c in triad.SCI_CHARS.items()})
        names.update({c: f"[style{i}]" for i, c in triad.STYLE_CHARS.items()})
        _MARKERS = names
    return _MARKERS


_MARKERS: dict[str, str] | None = None


def readable(text: str) -> str:
    """Visible whitespace (see `visible`) and private-use markers by name (see `marker_label`)."""
    return "".join(marker_label(ch) if 0xE000 <= ord(ch) <= 0xF8FF else visible(ch) for ch in text)


def label(raw: bytes) -> str:
    """A token as plain text: visible whitespace, markers by name, invalid UTF-8 as <0xE6><0x97>."""
    return "".join(readable(v) if k == "text" else byte_notation(v) for k, v in pieces(raw))


def color(token_id: int) -> str:
    """A pastel background whose hue is a function of the token id (golden-ratio spread)."""
    hue = (token_id * GOLDEN) % 1.0 * 360
    return f"hsl({hue:.0f}, 75%, 84%)"


def touched_chars(text: str, byte_start: int, byte_end: int) -> list[tuple[str, bool]]:
    """The characters of `text` whose UTF-8 bytes overlap [byte_start, byte_end), each with whether this
    range completes it (holds its last byte). A token of byte fragments shows these: the characters it
    completes in full, the ones it only starts or continues faded."""
    out, pos = [], 0
    for ch in text:
        start, pos = pos, pos + len(ch.encode("utf-8"))
        if pos <= byte_start:
            continue
        if start >= byte_end:
            break
        out.append((ch, byte_start < pos <= byte_end))
    return out


def completed_chars(text: str, byte_start: int, byte_end: int) -> str:
    """The characters whose last UTF-8 byte lies in [byte_start, byte_end) (see `touched_chars`)."""
    return "".join(ch for ch, done in touched_chars(text, byte_start, byte_end) if done)


def span_html(span: Span, ringed: bool = False, text: str | None = None) -> str:
    """One token as a coloured pill. A token of byte fragments shows the characters it touches: the ones it
    completes underlined with dots, the ones it only starts or continues faded; its bytes are in the title."""
    inner = []
    fragment = span.text is None
    if fragment and text is not None and span.byte_start is not None:
        for ch, done in touched_chars(text, span.byte_start, span.byte_end):
            style = "text-decoration:underline dotted #553" if done else "opacity:0.35"
            inner.append(f"<span style='{style}'>{html.escape(readable(ch))}</span>")
    else:
        for kind, value in pieces(span.token_bytes):
            if kind == "bytes":
                inner.append(f"<span style='font-family:monospace;font-size:0.75em;color:#553'>"
                             f"{html.escape(byte_notation(value))}</span>")
                continue
            for ch in value:
                if ch in WHITESPACE_GLYPHS:
                    inner.append(f"<span style='color:#888'>{WHITESPACE_GLYPHS[ch]}</span>")
                    if ch == "\n":
                        inner.append("<br>")
                elif 0xE000 <= ord(ch) <= 0xF8FF:
                    inner.append(f"<span style='font-family:monospace;font-size:0.8em;color:#335'>"
                                 f"{html.escape(marker_label(ch))}</span>")
                else:
                    inner.append(html.escape(ch))
    ring = "outline:2px solid #d62728;outline-offset:-1px;" if ringed else ""
    raw = span.token_bytes
    title = f"id {span.id} · {len(raw)} byte{'s' if len(raw) != 1 else ''} · {label(raw)}"
    return (f"<span class='tok' title=\"{html.escape(title)}\" data-id='{span.id}' "
            f"style='background:{color(span.id)};{ring}border-radius:3px;padding:1px 2px;margin:1px;"
            f"line-height:2;white-space:pre-wrap'>{''.join(inner) or '∅'}</span>")


def segmentation_html(seg: Segmentation, ringed: set[int] | None = None) -> str:
    ringed = ringed or set()
    body = "".join(span_html(s, k in ringed, seg.text) for k, s in enumerate(seg.spans))
    return f"<div class='tokbench-seg' style='font-size:1.05em'>{body}</div>"


def split_label(tokenizer, text: str) -> tuple[str, int]:
    """`3|141|5` style: the pieces a tokenizer cuts `text` into, and how many."""
    seg = segment(tokenizer, text)
    return "|".join(label(s.token_bytes) for s in seg.spans), len(seg.spans)


DEFAULT_NUMBERS = ("7", "42", "365", "2024", "31415", "271828", "1000000", "123456789", "9876543210",
                   "3.14159", "0.001", "-273.15", "1,234,567", "6.022e23")
