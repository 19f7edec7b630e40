"""Triadic Suffix Tokenization (TST; Chetverina, 2026, arXiv:2604.11582): numbers as magnitude-tagged triads.

The transform rewrites every number in a text into three-digit groups, each followed by a marker of its
order of magnitude, and `decode_text(encode_text(t)) == t` holds for every string, byte for byte:

* integer digits are grouped right to left and the leading group is zero-padded: 1234567 -> 001|M 234|K 567|U;
  fractional digits are grouped left to right and the last group is zero-padded, with a pad marker saying how
  many zeros were added: 0.25 -> 000|U 250|F1 PAD1 (so 0.25 and 0.250 stay different);
* named markers cover the integer levels 10^0..10^18 (units, thousand, million, billion, trillion,
  quadrillion, quintillion: numbers below 10^21) and the fractional depths 10^-3..10^-15 (every supported
  fractional digit), the range the paper names; further integer levels use the generic exponent form
  `triad GEN<exp>GEN` (e.g. `123GEN21GEN`), up to 36 integer digits and 15 fractional digits. Transform
  version 1 (runs made before) named only 10^0..10^15 and 10^-3..10^-12 and still loads as it was;
* the writing convention (thousands separator, Indian 2-digit grouping, decimal comma) is one style marker
  in front of the number; the default (plain digits, decimal point) has none; scientific notation keeps its
  mantissa as triads, the `e`/`E` becomes a marker and the exponent is a triad number of its own;
* signs, currency symbols, percent signs and units are ordinary text next to the number and stay untouched.

Not rewritten (kept verbatim, never corrupted): digits inside words (`x86`, `sha256`), anything touching
another digit run through `.`/`,` in a way no convention explains (`3.11.2`), integers with leading zeros
(`007`, so that zero-padding stays reversible), and numbers beyond the supported range (more than 36 integer
digits or 15 fractional digits). Markers are Private Use Area characters U+E000..U+E03F; an input character
in that block is escaped with ESC (U+E000) so that it can never be read as a marker.

Two forms share the transform and differ in the tokens added to the BPE vocabulary:
* **vocab**: each (triad, named marker) pair is one token: 1,000 triads x 12 named levels = 12,000 tokens
  covering every digit from 10^-15 to 10^20 (|x| < 10^21; levels 10^21 and above take the generic form, whose
  triads and `GEN<exp>GEN` markers are BPE-encoded), plus the single style, pad, scientific, generic and escape
  markers;
* **suffix**: the 1,000 bare triads plus one token per marker (12 named levels and about 25 other markers):
  the same named range, each triad then its marker as two tokens.
`--vocab-size` is the size of the BPE part (specials included); the triad tokens are added on top, as the
paper adds them to an existing vocabulary.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.sources.numbers import group_digits

FORMS = ("vocab", "suffix")
DEFAULT_FORM = "vocab"

RESERVED_LO, RESERVED_HI = 0xE000, 0xE03F
ESC = "\ue000"
#: named level markers: exponent (a multiple of 3) -> character. Integer levels 0..18, fractional -3..-15
#: (transform version 1 stopped at 15 and -12; the two later levels took free characters after the styles).
LEVEL_CHARS = {e: chr(0xE001 + i) for i, e in enumerate((0, 3, 6, 9, 12, 15, -3, -6, -9, -12))}
LEVEL_CHARS.update({18: "\ue01f", -15: "\ue020"})
V1_LEVELS = (0, 3, 6, 9, 12, 15, -3, -6, -9, -12)
TRANSFORM_VERSION = 2
CHAR_LEVELS = {c: e for e, c in LEVEL_CHARS.items()}
GEN = "\ue00b"
PAD_CHARS = {1: "\ue00c", 2: "\ue00d"}
CHAR_PADS = {c: n for n, c in PAD_CHARS.items()}
SCI_CHARS = {"e": "\ue00e", "E": "\ue00f"}
CHAR_SCI = {c: m for m, c in SCI_CHARS.items()}
MAX_INT_DIGITS = 36
MAX_FRAC_DIGITS = 15

#: writing conventions: (thousands separator, grouping, decimal mark). Index 0 is the default (no marker).
STYLES: tuple[tuple[str, str, str], ...] = (
    ("", "western", "."),
    ("", "western", ","),
    (",", "western", "."),
    (",", "indian", "."),
    (".", "western", ","),
    (" ", "western", "."),
    (" ", "western", ","),
    ("\u00a0", "western", "."),
    ("\u00a0", "western", ","),
    ("\u202f", "western", "."),
    ("\u202f", "western", ","),
    ("\u2009", "western", "."),
    ("\u2009", "western", ","),
    ("'", "western", "."),
    ("'", "western", ","),
)
STYLE_CHARS = {i: chr(0xE010 + i) for i in range(1, len(STYLES))}
CHAR_STYLES = {c: i for i, c in STYLE_CHARS.items()}

_D = "[0-9]"


def _style_pattern(index: int) -> str:
    sep, scheme, dec = STYLES[index]
    s, d = re.escape(sep), re.escape(dec)
    frac = f"(?:{d}{_D}+)?"
    if not sep:
        sci = f"(?:[eE][+-]?{_D}+)?" if dec == "." else ""
        return f"{_D}+(?:{d}{_D}+){sci}" if dec == "," else f"{_D}+{frac}{sci}"
    lead = "[1-9][0-9]"  # a grouped number never starts with 0 ("0,744" is a decimal comma)
    stop = f"(?!{s}[0-9])"  # a match may not end where its own separator goes on with more digits
    if scheme == "indian":
        return f"{lead}?(?:{s}{_D}{{2}})+{s}{_D}{{3}}{frac}{stop}"
    if sep == ".":  # one dot group alone reads as a decimal point: need two groups or a decimal comma
        return f"(?:{lead}{{0,2}}(?:{s}{_D}{{3}}){{2,}}{frac}|{lead}{{0,2}}{s}{_D}{{3}}{d}{_D}+){stop}"
    if sep == " ":  # an ordinary space between numbers is common: need two groups
        return f"{lead}{{0,2}}(?:{s}{_D}{{3}}){{2,}}{frac}{stop}"
    return f"{lead}{{0,2}}(?:{s}{_D}{{3}})+{frac}{stop}"


# Order matters (first alternative wins): Indian before western commas, grouped before plain, and the plain
# decimal-point form before the decimal-comma one.
_ORDER = (3, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, 1)
NUMBER_RE = re.compile(
    r"(?<![\w.,])(?:" + "|".join(f"(?P<s{i}>{_style_pattern(i)})" for i in _ORDER) + r")(?![0-9])(?![.,][0-9])")
_TRIAD = f"{_D}{{3}}(?:[{''.join(LEVEL_CHARS.values())}]|{GEN}-?{_D}+{GEN})"
ENCODED_RE = re.compile(
    f"{re.escape(ESC)}(?P<esc>.)|(?P<style>[{''.join(STYLE_CHARS.values())}])?(?P<triads>(?:{_TRIAD})+)"
    f"(?P<pad>[{''.join(PAD_CHARS.values())}])?|(?P<sci>[{''.join(SCI_CHARS.values())}])", re.DOTALL)
_TRIAD_RE = re.compile(f"({_D}{{3}})(?:([{''.join(LEVEL_CHARS.values())}])|{GEN}(-?{_D}+){GEN})")
_RESERVED_RE = re.compile(f"[{chr(RESERVED_LO)}-{chr(RESERVED_HI)}]")


@dataclass(frozen=True)
class ParsedNumber:
    """A number found in text: its digits, writing convention and optional scientific exponent."""

    start: int
    end: int
    style: int
    integer: str
    fraction: str
    sci_mark: str = ""
    sci_sign: str = ""
    sci_digits: str = ""

    @property
    def supported(self) -> bool:
        leading_zero = len(self.integer) > 1 and self.integer[0] == "0"
        return not leading_zero and len(self.integer) <= MAX_INT_DIGITS and len(self.fraction) <= MAX_FRAC_DIGITS

    @property
    def exponent(self) -> int | None:
        """floor(log10 |value|), or None for zero: the number's order of magnitude."""
        digits = (self.integer + self.fraction).lstrip("0")
        if not digits:
            return None
        shift = int(self.sci_sign + self.sci_digits) if self.sci_digits else 0
        return len(self.integer.lstrip("0")) - 1 + shift if self.integer.strip("0") else \
            -(len(self.fraction) - len(self.fraction.lstrip("0")) + 1) + shift

    @property
    def shape(self) -> tuple:
        """What the triad segmentation may depend on: the convention and the digit counts."""
        return (self.style, len(self.integer), len(self.fraction), self.sci_mark, self.sci_sign, len(self.sci_digits))


def parse_numbers(text: str) -> Iterator[ParsedNumber]:
    """Every number the transform recognizes in `text`, in order (supported or not)."""
    for m in NUMBER_RE.finditer(text):
        style = int(m.lastgroup[1:])
        sep, _, dec = STYLES[style]
        body = m.group()
        mark = sign = exp = ""
        sci = re.search(r"([eE])([+-]?)([0-9]+)$", body) if style == 0 else None
        if sci:
            mark, sign, exp = sci.groups()
            body = body[:sci.start()]
        integer, _, fraction = body.partition(dec)
        if sep:
            integer = integer.replace(sep, "")
        yield ParsedNumber(m.start(), m.end(), style, integer, fraction, mark, sign, exp)


def _marker(exponent: int, levels: dict[int, str] = LEVEL_CHARS) -> str:
    return levels.get(exponent) or f"{GEN}{exponent}{GEN}"


def _encode_digits(integer: str, fraction: str, levels: dict[int, str] = LEVEL_CHARS) -> str:
    n_int = -(-len(integer) // 3)
    padded = integer.zfill(3 * n_int)
    out = [padded[3 * i:3 * i + 3] + _marker(3 * (n_int - 1 - i), levels) for i in range(n_int)]
    if fraction:
        pad = -len(fraction) % 3
        frac = fraction + "0" * pad
        out += [frac[3 * i:3 * i + 3] + _marker(-3 * (i + 1), levels) for i in range(len(frac) // 3)]
        if pad:
            out.append(PAD_CHARS[pad])
    return "".join(out)


class TriadTransform:
    """The reversible text rewrite (see the module docstring); `form` only chooses the added tokens."""

    name = "triad"

    def __init__(self, form: str = DEFAULT_FORM, version: int = TRANSFORM_VERSION) -> None:
        if form not in FORMS:
            raise TokbenchError(f"unknown triad form {form!r} (expected vocab or suffix)")
        if version not in (1, 2):
            raise TokbenchError(f"triad transform version {version} is newer than this tokbench understands")
        self.form = form
        self.version = version
        self.levels = LEVEL_CHARS if version >= 2 else {e: LEVEL_CHARS[e] for e in V1_LEVELS}

    def named_range(self) -> tuple[int, int]:
        """(lowest, highest) exponent whose digits get a named marker: 10^lo .. 10^(hi+2)."""
        return min(self.levels), max(self.levels)

    # ------------------------------------------------------------------------------------------ transform
    def encode_text(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        for num in parse_numbers(text):
            out.append(_escape(text[pos:num.start]))
            out.append(self._encode_number(num, text[num.start:num.end]))
            pos = num.end
        out.append(_escape(text[pos:]))
        return "".join(out)

    def _encode_number(self, num: ParsedNumber, raw: str) -> str:
        if not num.supported:
            return raw  # digits and separators only: nothing to escape, and the decoder never touches them
        # the grouping must be exactly the one the convention regenerates, else keep the text as it is
        sep, scheme, dec = STYLES[num.style]
        rebuilt = group_digits(num.integer, sep, scheme) + (dec + num.fraction if num.fraction else "")
        rebuilt += num.sci_mark + num.sci_sign + num.sci_digits
        if rebuilt != raw:
            return raw
        head = STYLE_CHARS.get(num.style, "") + _encode_digits(num.integer, num.fraction, self.levels)
        if not num.sci_mark:
            return head
        exp_digits = num.sci_digits
        exp = _encode_digits(exp_digits, "", self.levels) if (exp_digits == "0" or exp_digits[0] != "0") and \
            len(exp_digits) <= MAX_INT_DIGITS else exp_digits
        return head + SCI_CHARS[num.sci_mark] + num.sci_sign + exp

    def decode_text(self, text: str) -> str:
        return ENCODED_RE.sub(_decode_match, text)

    # ------------------------------------------------------------------------------------------ tokens
    def added_tokens(self) -> list[str]:
        """The strings this form adds to the vocabulary as whole tokens."""
        triads = [f"{i:03d}" for i in range(1000)]
        markers = [ESC, GEN, *PAD_CHARS.values(), *SCI_CHARS.values(), *STYLE_CHARS.values()]
        if self.form == "vocab":
            return [t + c for c in self.levels.values() for t in triads] + markers
        return triads + list(self.levels.values()) + markers

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "form": self.form, "version": self.version}


def _escape(chunk: str) -> str:
    return _RESERVED_RE.sub(lambda m: ESC + m.group(), chunk)


def _decode_match(m: re.Match) -> str:
    if m.group("esc") is not None:
        return m.group("esc")
    if m.group("sci") is not None:
        return CHAR_SCI[m.group("sci")]
    style = CHAR_STYLES.get(m.group("style") or "", 0)
    integer, fraction = [], []
    for digits, level_char, generic in _TRIAD_RE.findall(m.group("triads")):
        exponent = CHAR_LEVELS[level_char] if level_char else int(generic)
        (integer if exponent >= 0 else fraction).append(digits)
    frac = "".join(fraction)
    if m.group("pad"):
        frac = frac[:-CHAR_PADS[m.group("pad")]]
    sep, scheme, dec = STYLES[style]
    body = group_digits("".join(integer).lstrip("0") or "0", sep, scheme)
    return body + (dec + frac if frac else "")


def coverage_note(transform: TriadTransform) -> str:
    """Which magnitudes take the named form and which fall back to the generic `GEN<exp>GEN` one."""
    lo, hi = transform.named_range()
    one = "one token per triad+marker" if transform.form == "vocab" else "triad and marker as two tokens"
    return (f"named markers ({one}) cover digits from 10^{lo} to 10^{hi + 2} (|x| < 10^{hi + 3}); integer "
            f"levels 10^{hi + 3} and above use the generic form (BPE-encoded exponent), up to {MAX_INT_DIGITS} "
            f"integer and {MAX_FRAC_DIGITS} fractional digits")


def transform_from_config(config: dict[str, Any]) -> TriadTransform:
    """Factory named in `tokenizer.TRANSFORMS`: the manifest's transform section -> the transform."""
    return TriadTransform(config.get("form", DEFAULT_FORM), int(config.get("version", 1)))


# ---------------------------------------------------------------------------------------------- training
def check_options(spec, options: dict[str, Any]) -> None:
    """Reject a bad `triad_form` before any run folder is made."""
    TriadTransform(str(options.get("triad_form", DEFAULT_FORM)))


def train_triad(spec, corpus, artifacts: Path, options: dict[str, Any]):
    """Plain byte-level BPE on the transformed corpus, with the triad tokens reserved and added whole.

    Options: `triad_form` (vocab | suffix), `numbers` (corpus for the numeric report, default
    builtin:numbers), `compare` (train a plain BPE peer of the same vocab for the report; default true).
    """
    from tokenizers import AddedToken

    from tokbench.text.bpe import VariantOutcome, build_hf_tokenizer, hf_trainer
    from tokbench.text.domain import reserved_segments

    if spec.backend != "hf":
        raise TokbenchError("--variant triad trains with --backend hf")
    transform = TriadTransform(str(options.get("triad_form", DEFAULT_FORM)))
    added = transform.added_tokens()
    tok = build_hf_tokenizer(spec)
    encoded = (transform.encode_text(line) for line in corpus.lines())
    tok.train_from_iterator(reserved_segments(encoded, added), hf_trainer(spec))
    base_size = tok.get_vocab_size(with_added_tokens=True)  # what the BPE reached, not what was asked
    n_added = tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in added])
    from tokbench.runs import write_artifact

    write_artifact(artifacts / "tokenizer.json", tok.save)  # temp + fsync + rename: never a torn file
    manifest = {"format": "hf", "file": "tokenizer.json", "transform": transform.config(),
                "transform_required": True,
                "warning": "tokenizer.json alone does not reproduce this tokenizer: numbers must first go through "
                           "tokbench's triad transform (tokbench.load_tokenizer applies it)"}
    shortfall = "" if base_size == spec.vocab_size else f" (requested {spec.vocab_size:,})"
    outcome = VariantOutcome(manifest=manifest, notes=[
        f"triad form {transform.form}: {n_added:,} triad/marker tokens added on top of the "
        f"{base_size:,}-token BPE{shortfall}", coverage_note(transform)], vocab_added=n_added)
    numbers_spec = str(options.get("numbers", "builtin:numbers"))
    outcome.extra_metrics.update(_report(spec, corpus, artifacts, transform, numbers_spec,
                                         bool(options.get("compare", True))))
    return outcome


def _report(spec, corpus, artifacts: Path, transform: TriadTransform, numbers_spec: str,
            compare: bool) -> dict[str, dict[str, Any]]:
    from tokbench.sources.text import Corpus
    from tokbench.text.bpe import train_plain
    from tokbench.text.tokenizer import HFTokenizer, TransformedTokenizer

    lines = list(Corpus(numbers_spec, split="heldout").lines())
    triad_tok = TransformedTokenizer(HFTokenizer("triad", artifacts / "tokenizer.json"), transform, "triad")
    values = {(k if k in ("lines", "bytes") else f"triad_{k}"): v
              for k, v in number_metrics(triad_tok, lines).items()}
    if compare:
        with tempfile.TemporaryDirectory(prefix="tokbench-plain-") as tmp:
            train_plain(replace(spec, variant="plain", options={}), corpus, Path(tmp), {})
            plain_tok = HFTokenizer("plain", Path(tmp) / "tokenizer.json")
            values.update({f"plain_{k}": v for k, v in number_metrics(plain_tok, lines).items()
                           if k not in ("lines", "bytes")})
            values["plain_vocab_size"] = plain_tok.vocab_size  # HF stops early when no pair reaches min_frequency
            values["variant_vocab_size"] = triad_tok.vocab_size  # BPE + triad tokens: what the peer is weighed against
    return {f"{numbers_spec}/heldout": values}


def number_metrics(tokenizer, lines: Iterable[str]) -> dict[str, float]:
    """Numeric tokenization report over text lines.

    Scores `evaluation_lines(lines)` (the non-blank lines, as train-bpe's held-out report does); `lines` and
    `bytes` say what was scored.

    * `bytes_per_token`: UTF-8 bytes of the original lines / tokens, and `round_trip_rate` (exact lines);
    * `tokens_per_number`: mean len(encode(n)) over every supported number n encoded on its own, and the same
      per order of magnitude, `tokens_per_number_e{k}` for floor(log10 |n|) = k;
    * `magnitude_only_fraction`: numbers are grouped by shape (convention, integer and fractional digit
      counts, exponent length); a number's segmentation pattern is the tuple of its tokens' byte lengths.
      Over the shapes holding at least two numbers (a lone number proves nothing), the fraction is
      sum of the count of each shape's most common pattern / numbers in those shapes: 1.0 when segmentation
      depends only on the shape, as triads guarantee by construction.
    """
    n_bytes = n_tokens = n_lines = exact = 0
    per_exp: dict[int, list[int]] = defaultdict(list)
    patterns: dict[tuple, Counter] = defaultdict(Counter)
    numbers: list[str] = []
    shapes: list[ParsedNumber] = []
    from tokbench.text.evaluate import evaluation_lines

    for line in evaluation_lines(lines):
        ids = tokenizer.encode(line)
        n_lines += 1
        n_bytes += len(line.encode("utf-8"))
        n_tokens += len(ids)
        exact += tokenizer.decode(ids) == line
        for num in parse_numbers(line):
            if num.supported:
                numbers.append(line[num.start:num.end])
                shapes.append(num)
    for raw, num, ids in zip(numbers, shapes, tokenizer.encode_batch(numbers)):
        if num.exponent is not None:
            per_exp[num.exponent].append(len(ids))
        patterns[num.shape][tuple(len(tokenizer.token_bytes(i)) for i in ids)] += 1
    out: dict[str, float] = {"lines": n_lines, "bytes": n_bytes, "bytes_per_token": n_bytes / max(n_tokens, 1),
                             "round_trip_rate": exact / max(n_lines, 1), "numbers": len(numbers)}
    if numbers:
        all_counts = [c for counts in per_exp.values() for c in counts]
        out["tokens_per_number"] = sum(all_counts) / max(len(all_counts), 1)
        shared = [c for c in patterns.values() if sum(c.values()) >= 2]
        n_shared = sum(sum(c.values()) for c in shared)
        out["magnitude_only_fraction"] = (sum(c.most_common(1)[0][1] for c in shared) / n_shared) if n_shared \
            else float("nan")
        for exp in sorted(per_exp):
            out[f"tokens_per_number_e{exp:+d}"] = sum(per_exp[exp]) / len(per_exp[exp])
    return out

