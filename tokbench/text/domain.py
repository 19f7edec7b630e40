"""Domain BPE (KL3M-style) and character-level BPE (KL3M's OCR-correction tokenizers).

Both follow the KL3M tokenizers (Bommarito et al., 2025, "KL3M Tokenizers: A Family of Domain-Specific and
Character-Level Tokenizers for Legal, Financial, and Preprocessing Applications"):

* `train_domain`: byte-level BPE with NFKC (cased unless `uncased`), KL3M's special tokens, and KL3M's custom
  tokens (`kl3m_custom_tokens`: whitespace runs, Markdown/URI, HTML, JSON and XML pieces, years 1776-2049,
  citation forms and the numbers 10-999) reserved *before* the BPE budget is spent; plus domain terms (from a
  terms file and mined from the corpus, see `significant_ngrams`). BPE budget = vocab - specials - custom
  tokens - terms; `pad_pow2` pads the final vocabulary to the next power of two with what KL3M pads with,
  runs of spaces and newlines (`kl3m_padding_tokens`).
  A term is one token together with its leading space in running text, and never splits a word that continues:
  " license" is a vocabulary entry, the split pattern makes " license" one pre-token only where no letter,
  digit or underscore follows (`term_pattern`), and the BPE model looks such a pre-token up whole
  (`ignore_merges`); no merge builds it, so " licensed" is encoded as if the term did not exist.
* `train_char`: BPE over single characters with a short `max_token_length` (3 up to 8,192 tokens, 4 above,
  as KL3M's 4K/8K and 16K char tokenizers), byte fallback for unseen characters, so that token boundaries
  move little when OCR noise changes a few characters.

Custom tokens are HF *added tokens*: they are cut out of the text before the BPE model runs, both when
encoding and (through `reserved_segments`) when training, so the BPE never spends merges on them and encoding
keeps them whole (word-like ones only as whole words: "2024" stays inside "20245"; KL3M itself matches them
anywhere). Decoding returns their content verbatim, so round trips are exact for text the normalizer leaves
unchanged: NFKC (KL3M's normalization), and lowercase when uncased, are part of the tokenizer, and text they
change does not round-trip ("\u2026" comes back as "..."). The report counts the held-out lines affected.
"""

from __future__ import annotations

import math
import random
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.text.patterns import WHITESPACE_SPLIT_PATTERN

#: KL3M's special tokens (kl3m_004/train_tokenizer.py): boundaries, padding, MLM markers and chat tags.
DOMAIN_SPECIAL_TOKENS = ("<|start|>", "<|end|>", "<|pad|>", "<|unk|>", "<|sep|>", "<|cls|>", "<|mask|>",
                         "<|system|>", "</|system|>", "<|user|>", "</|user|>", "<|instruction|>", "</|instruction|>")
REFERENCE_CORPUS = "builtin:english"
PRIOR_STRENGTH = 1000.0
TERM_Z_MIN = 3.0
WORD_RE = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
#: the character class a term may not be followed by in running text (it would split a word that continues)
WORD_CONTINUES = r"[\p{L}\p{N}_]"
# KL3M's custom-token lists (alea-institute/kl3m-tokenizers, kl3m_004 `get_custom_tokens`), by category.
KL3M_WHITESPACE = tuple(ch * n for ch in (" ", "\t", "\r", "\n") for n in range(2, 9)) + ("\r\n", "\t ")
KL3M_MARKDOWN = ("##", "###", "####", "#####", "######", "**", "~~", "```", "![", "http://", "https://", "www.",
                 "ftp://", "mailto:", "tel:", "://") + tuple(ch * n for ch in ".-=_*~" for n in range(2, 9))
KL3M_HTML_TAGS = ("html", "head", "body", "div", "span", "img", "table", "thead", "tbody", "tfoot", "tr", "td", "ul",
                  "ol", "li", "h1", "h2", "h3", "h4", "iframe", "script", "style", "svg", "input", "button", "form",
                  "label", "select", "option", "textarea", "meta", "link", "title", "pre", "code", "row", "column")
KL3M_HTML_ATTRIBUTES = ("href", "src", "alt", "title", "class", "id")
KL3M_JSON = ('{"', '"}', '["', '"]', '":', '","', '":"', "null", "true", "false")
KL3M_XML = ("<!--", "-->", "<![CDATA[", "]]>", "<?xml", "<xml", "</xml>")
#: years, "to reduce hallucination risk" (KL3M), both ends included
KL3M_YEARS = range(1776, 2050)
#: section numbers for citations
KL3M_NUMBERS = range(10, 1000)
KL3M_ROMAN = ("ii", "iii", "iv", "v", "vi", "vii", "viii", "ix")


# ---------------------------------------------------------------------------------------------- reserved text
def reserved_segments(lines: Iterable[str], tokens: Iterable, batch: int = 1000) -> Iterator[str]:
    """The pieces of `lines` left between reserved tokens, found exactly as HF finds added tokens.

    HF's trainer does not skip added tokens, so a variant that reserves tokens trains on these segments: the
    BPE then learns the text it will actually see at encoding time. `tokens` are strings or `AddedToken`s.
    """
    from tokenizers import AddedToken, Tokenizer, models

    finder = Tokenizer(models.WordLevel({"\0unk": 0}, unk_token="\0unk"))
    finder.add_tokens([t if isinstance(t, AddedToken) else AddedToken(t, normalized=False) for t in tokens])
    pending: list[str] = []

    def flush() -> Iterator[str]:
        for line, enc in zip(pending, finder.encode_batch(pending, add_special_tokens=False)):
            for tid, (start, end) in zip(enc.ids, enc.offsets):
                if tid == 0 and end > start:
                    yield line[start:end]
        pending.clear()

    for line in lines:
        pending.append(line)
        if len(pending) >= batch:
            yield from flush()
    yield from flush()


# ---------------------------------------------------------------------------------------------- custom tokens
def kl3m_custom_tokens(lowercase: bool = False) -> list[str]:
    """KL3M's custom tokens: whitespace runs, Markdown/URI pieces, HTML tags and attributes, JSON and XML
    pieces, years 1776-2049, citation forms ((a), (A), (1)-(99), (ii)-(ix), (II)-(IX)) and the numbers
    10-999; single characters dropped, sorted. KL3M also adds reporter, journal and law abbreviations that it
    downloads from reporters-db at training time; nothing here downloads, so those are left out."""
    import string

    out = list(KL3M_WHITESPACE) + list(KL3M_MARKDOWN)
    out += ["<" + t for t in KL3M_HTML_TAGS] + ([] if lowercase else ["<" + t.upper() for t in KL3M_HTML_TAGS])
    out += ["</" + t + ">" for t in KL3M_HTML_TAGS]
    out += [" " + a + "=" for a in KL3M_HTML_ATTRIBUTES]
    out += [] if lowercase else [" " + a.upper() + "=" for a in KL3M_HTML_ATTRIBUTES]
    out += list(KL3M_JSON) + list(KL3M_XML)
    out += [str(y) for y in KL3M_YEARS]
    out += [f"({c})" for c in string.ascii_letters] + [f"({n})" for n in range(1, 100)]
    out += [f"({r})" for r in KL3M_ROMAN] + ([] if lowercase else [f"({r.upper()})" for r in KL3M_ROMAN])
    out += [str(n) for n in KL3M_NUMBERS]
    if lowercase:
        out = [t.lower() for t in out]
    return sorted(t for t in set(out) if len(t) > 1)


def kl3m_padding_tokens(vocab: set[str] | dict, needed: int) -> list[str]:
    """What KL3M pads the vocabulary with: runs of spaces and of newlines, length 2, 3, ... alternating, each
    only if not in the vocabulary yet, until `needed` tokens are found."""
    out: list[str] = []
    n = 2
    while len(out) < needed:
        for ch in (" ", "\n"):
            if ch * n not in vocab and len(out) < needed:
                out.append(ch * n)
        n += 1
    return out


def read_terms(path: str | Path) -> list[str]:
    """Terms to keep whole, one a line (blank lines and `#` comments skipped); the file must be UTF-8."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read the terms file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TokbenchError(f"{path}: terms file is not UTF-8 (invalid byte at offset {exc.start})") from None
    terms = [t.strip() for t in text.splitlines()]
    return list(dict.fromkeys(t for t in terms if t and not t.startswith("#")))


def _ngrams(lines: Iterable[str], max_n: int, max_chars: int | None = None) -> tuple[Counter, Counter, Counter]:
    """Counts of word n-grams (words joined by exactly one space), their totals per order, and how often
    each n-gram is preceded by a space (so the term can be added with its leading space)."""
    counts: Counter = Counter()
    spaced: Counter = Counter()
    totals: Counter = Counter()
    seen = 0
    for line in lines:
        seen += len(line)
        words = [(m.start(), m.end()) for m in WORD_RE.finditer(line)]
        for i in range(len(words)):
            end = i
            for n in range(1, max_n + 1):
                j = i + n - 1
                if j >= len(words):
                    break
                if n > 1 and line[words[j - 1][1]:words[j][0]] != " ":
                    break
                end = j
                gram = line[words[i][0]:words[end][1]]
                counts[gram] += 1
                totals[n] += 1
                if words[i][0] > 0 and line[words[i][0] - 1] == " ":
                    spaced[gram] += 1
        if max_chars is not None and seen >= max_chars:
            break
    return counts, totals, spaced


def log_odds_z(y_i: int, n_i: int, y_j: int, n_j: int, alpha_w: float, alpha_0: float) -> float:
    """Monroe, Colaresi & Quinn (2008) log-odds ratio with an informative Dirichlet prior, as a z-score.

    delta = log((y_i + a_w) / (n_i + a_0 - y_i - a_w)) - log((y_j + a_w) / (n_j + a_0 - y_j - a_w))
    var   = 1 / (y_i + a_w) + 1 / (y_j + a_w)
    z     = delta / sqrt(var)
    i is the domain corpus, j the reference, y the term's count, n the corpus's total of same-order n-grams.
    """
    delta = math.log((y_i + alpha_w) / (n_i + alpha_0 - y_i - alpha_w)) - \
        math.log((y_j + alpha_w) / (n_j + alpha_0 - y_j - alpha_w))
    return delta / math.sqrt(1.0 / (y_i + alpha_w) + 1.0 / (y_j + alpha_w))


def significant_ngrams(domain_lines: Iterable[str], reference_lines: Iterable[str], min_count: int = 10,
                       max_n: int = 4, prior_strength: float = PRIOR_STRENGTH, z_min: float = TERM_Z_MIN,
                       max_reference_chars: int | None = 4_000_000) -> list[tuple[str, float, int]]:
    """Word n-grams (n <= max_n) far more frequent in the domain than in the reference corpus.

    Score: `log_odds_z` with the informative prior a_w = prior_strength * (y_i + y_j) / (n_i + n_j) (the
    pooled frequency, Monroe et al.'s "informative Dirichlet prior"), computed per n-gram order. Kept: count
    >= min_count in the domain, z >= z_min, at least 4 characters; sorted by z, highest first.
    Returns (term, z, domain count) with the bare term (no leading space: the tokenizer stores " " + term).
    """
    dom, dom_tot, spaced = _ngrams(domain_lines, max_n)
    ref, ref_tot, _ = _ngrams(reference_lines, max_n, max_reference_chars)
    scored = []
    for gram, y_i in dom.items():
        if y_i < min_count or len(gram) < 4:
            continue
        n = gram.count(" ") + 1
        n_i, n_j, y_j = dom_tot[n], ref_tot[n], ref.get(gram, 0)
        alpha_w = prior_strength * (y_i + y_j) / (n_i + n_j)
        z = log_odds_z(y_i, n_i, y_j, n_j, alpha_w, prior_strength)
        if z >= z_min:
            scored.append((gram, z, y_i))
    scored.sort(key=lambda t: (-t[1], t[0]))
    return scored


def select_terms(candidates: list[tuple[str, float, int]], probe, max_terms: int) -> list[tuple[str, float, int]]:
    """Keep the domain-significant n-grams worth a vocabulary slot: ranked by the tokens they would save,
    count x (tokens the probe BPE spends on " " + term - 1), highest first; terms saving nothing are dropped."""
    ranked = []
    for term, z, count in candidates:
        saving = count * (len(probe.encode(" " + term)) - 1)
        if saving > 0:
            ranked.append((saving, term, z, count))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    return [(term, z, count) for _, term, z, count in ranked[:max_terms]]


def _added(content: str, normalized: bool = True):
    from tokenizers import AddedToken

    # words and numbers only match as whole words, so "true" stays inside "construed" and "100" in "1000"
    whole = bool(re.fullmatch(r"\w+", content))
    return AddedToken(content, single_word=whole, normalized=normalized, special=False)


# ---------------------------------------------------------------------------------------------- domain
def _normalize_fn(spec) -> Any:
    def norm(text: str) -> str:
        if spec.normalization in ("nfkc", "nfc"):
            text = unicodedata.normalize(spec.normalization.upper(), text)
        return text.lower() if spec.lowercase else text

    return norm


def term_pattern(terms: Iterable[str]) -> str:
    """The regex of a term in running text: a space, the term, and no letter, digit or underscore after it
    (so " license" never matches inside " licensed"). Longer terms first, so the longest one wins."""
    import regex

    alts = sorted({t.strip() for t in terms if t.strip()}, key=lambda t: (-len(t), t))
    return " (?:" + "|".join(regex.escape(t) for t in alts) + f")(?!{WORD_CONTINUES})"


def domain_split_pattern(spec, terms: list[str]) -> str:
    """Stage-1 split with the terms first: a term with its leading space is one pre-token of its own."""
    from tokbench.text.patterns import SPLIT_PATTERNS

    base = SPLIT_PATTERNS[spec.pretokenizer]
    return f"{term_pattern(terms)}|{base}" if terms else base


def cut_out_terms(lines: Iterable[str], terms: list[str]) -> Iterator[str]:
    """The text between term occurrences: what the BPE trains on, so it spends no merges on the terms (they
    enter the vocabulary whole). Cutting there changes no other pre-token (the split cuts there anyway)."""
    import regex

    if not terms:
        yield from lines
        return
    finder = regex.compile(term_pattern(terms))
    for line in lines:
        pos = 0
        for m in finder.finditer(line):
            if m.start() > pos:
                yield line[pos:m.start()]
            pos = m.end()
        if pos < len(line):
            yield line[pos:]


def domain_spec(spec, options: dict[str, Any]):
    """The spec a domain run trains with: KL3M's specials first, `uncased` lowercasing, NFKC unless `nfkc=false`."""
    if spec.backend != "hf":
        raise TokbenchError("--variant domain trains with --backend hf")
    return replace(spec, special_tokens=list(dict.fromkeys([*DOMAIN_SPECIAL_TOKENS, *spec.special_tokens])),
                   lowercase=bool(spec.lowercase or options.get("uncased")),
                   normalization="nfkc" if options.get("nfkc", True) and spec.normalization == "none"
                   else spec.normalization)


def check_domain_options(spec, options: dict[str, Any]) -> None:
    """Refuse, before any run folder exists, a vocabulary that cannot even hold the specials, the bytes, the
    KL3M custom tokens and the given terms (mined terms can only add to that floor)."""
    spec = domain_spec(spec, options)
    norm = _normalize_fn(spec)
    given = [t for t in dict.fromkeys(norm(t).strip() for t in read_terms(options["terms"])) if t] \
        if options.get("terms") else []
    custom = [norm(t) for t in kl3m_custom_tokens(spec.lowercase)] if options.get("custom_tokens", True) else []
    custom = [t for t in dict.fromkeys(custom) if t and t not in spec.special_tokens and len(t.encode()) > 1]
    floor = len(spec.special_tokens) + 256 + len(custom) + len(given)
    if spec.vocab_size < floor:
        raise TokbenchError(f"--vocab-size {spec.vocab_size} leaves no room for BPE: {len(spec.special_tokens)} "
                            f"specials + 256 bytes + {len(custom)} custom tokens + {len(given)} given terms need at "
                            f"least {floor}")


def check_char_alphabet(spec, corpus) -> set[str]:
    """The corpus's character alphabet; refuses, before any run folder exists, a vocabulary smaller than it +
    256 byte-fallback tokens + the specials (what `train_char` needs)."""
    alphabet: set[str] = set()
    for line in corpus.lines():
        alphabet.update(line)
    floor = len(spec.special_tokens) + 256 + len(alphabet)
    if spec.vocab_size < floor:
        raise TokbenchError(f"--vocab-size {spec.vocab_size} is below the character alphabet: the corpus has "
                            f"{len(alphabet)} distinct characters, + 256 byte-fallback tokens + "
                            f"{len(spec.special_tokens)} specials = {floor}")
    return alphabet


def train_domain(spec, corpus, artifacts: Path, options: dict[str, Any]):
    """KL3M-style domain BPE (see the module docstring).

    Mined terms: domain-significant word n-grams (`significant_ngrams`, against `reference`) ranked by the
    tokens they save under a probe plain BPE of the same vocabulary trained on the same corpus (`select_terms`);
    the same probe is the plain peer of the report.
    Options: `terms` (UTF-8 file, one term a line), `uncased`, `pad_pow2`, `nfkc` (default true),
    `custom_tokens` (KL3M's list, default true), `max_terms` (mined terms, default vocab/16), `term_min_count`
    (default 10), `reference` (general corpus for mining and the general-text report, default builtin:english),
    `compare` (write the report, default true).
    """
    from tokbench.sources.text import Corpus
    from tokbench.text.bpe import VariantOutcome, train_plain
    from tokbench.text.tokenizer import HFTokenizer

    spec = domain_spec(spec, options)
    norm = _normalize_fn(spec)
    given = [norm(t).strip() for t in read_terms(options["terms"])] if options.get("terms") else []
    reference = str(options.get("reference", REFERENCE_CORPUS))
    max_terms = int(options.get("max_terms", spec.vocab_size // 16))
    with tempfile.TemporaryDirectory(prefix="tokbench-plain-") as tmp:
        train_plain(replace(spec, variant="plain", options={}), corpus, Path(tmp), {})
        probe = HFTokenizer("plain", Path(tmp) / "tokenizer.json")
        mined = []
        if max_terms > 0:
            candidates = significant_ngrams((norm(line) for line in corpus.lines()),
                                            (norm(line) for line in Corpus(reference, split="train").lines()),
                                            min_count=int(options.get("term_min_count", 10)))
            mined = select_terms([c for c in candidates if c[0] not in given], probe, max_terms)
        terms = list(dict.fromkeys(t for t in given + [t for t, _, _ in mined] if t))
        custom = [norm(t) for t in kl3m_custom_tokens(spec.lowercase)] if options.get("custom_tokens", True) else []
        tok, budget, n_terms = _train_with_reserved(spec, corpus, norm, custom, terms, bool(options.get("pad_pow2")))
        from tokbench.runs import atomic_write_json, write_artifact

        write_artifact(artifacts / "tokenizer.json", tok.save)  # temp + fsync + rename: never a torn file

        atomic_write_json(artifacts / "domain_terms.json", {"given": given, "mined": [
            {"term": t, "z": round(z, 3), "count": c} for t, z, c in mined]})
        outcome = VariantOutcome(manifest={"format": "hf", "file": "tokenizer.json"}, notes=[
            f"domain BPE: {len(set(custom)):,} KL3M custom tokens, {n_terms} domain terms ({len(mined)} mined, "
            f"{len(given)} given) stored with their leading space, BPE budget {budget:,}, final vocabulary "
            f"{tok.get_vocab_size(with_added_tokens=True):,}",
            f"{spec.normalization.upper()} normalization is part of the tokenizer: text it changes does not round-trip "
            "(for example '\u2026' becomes '...', 'ﬁ' becomes 'fi')" if spec.normalization == "nfkc" else
            "no compatibility normalization"])
        if options.get("compare", True):
            outcome.extra_metrics.update(_domain_report(corpus, artifacts, probe, reference, terms, norm))
    return outcome


def _train_with_reserved(spec, corpus, norm, custom: list[str], terms: list[str], pad_pow2: bool):
    """Byte-level BPE on the text between the reserved custom tokens and terms, then both added whole.

    Custom tokens become HF added tokens (cut out of the text before anything else, whole words only when
    they are words). Terms become ordinary vocabulary entries " term" under a split that makes each term
    occurrence in running text one pre-token (`domain_split_pattern`), with `ignore_merges` so that such a
    pre-token is looked up whole; no merge builds them, so they never appear inside another word. Custom
    tokens or terms that a single byte or a learned token already spells take no new id, so the training
    runs once more with that many more merges.
    """
    import json

    from tokenizers import AddedToken, Tokenizer

    from tokbench.text.bpe import build_hf_tokenizer, hf_trainer
    from tokbench.text.tokenizer import _bytes_to_unicode, byte_level_token_bytes

    custom = [t for t in dict.fromkeys(custom) if t and t not in spec.special_tokens and len(t.encode()) > 1]
    spaced = [" " + t for t in terms]
    floor = len(spec.special_tokens) + 256
    budget = spec.vocab_size - len(custom) - len(spaced)
    if budget < floor:
        raise TokbenchError(f"--vocab-size {spec.vocab_size} leaves no room for BPE: {len(spec.special_tokens)} "
                            f"specials + 256 bytes + {len(custom)} custom tokens + {len(spaced)} terms need at "
                            f"least {floor + len(custom) + len(spaced)}")
    added = [_added(t) for t in custom]
    pattern = domain_split_pattern(spec, terms)
    for _attempt in range(2):
        tok = build_hf_tokenizer(spec, pattern)
        tok.train_from_iterator(cut_out_terms(reserved_segments((norm(line) for line in corpus.lines()), added),
                                              terms), hf_trainer(spec, vocab_size=budget))
        base = tok.get_vocab_size(with_added_tokens=True)
        learned = {byte_level_token_bytes(t) for t in tok.get_vocab()}
        overlap = sum(t.encode() in learned for t in custom + spaced)
        if not overlap or base < budget:  # nothing shared, or the corpus ran out of merges anyway
            break
        budget += overlap
    config = json.loads(tok.to_str())
    vocab = config["model"]["vocab"]
    table = _bytes_to_unicode()
    next_id = max(vocab.values()) + 1
    n_terms = 0
    for term in spaced:
        spelled = "".join(table[b] for b in term.encode("utf-8"))
        if spelled not in vocab:
            vocab[spelled] = next_id
            next_id += 1
            n_terms += 1
    config["model"]["ignore_merges"] = True
    tok = Tokenizer.from_str(json.dumps(config, ensure_ascii=False))
    tok.add_tokens(added)
    size = tok.get_vocab_size(with_added_tokens=True)
    if pad_pow2:
        target = 1 << max(size - 1, 1).bit_length()
        pads = kl3m_padding_tokens(set(custom) | set(tok.get_vocab()), target - size)
        tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in pads])
    return tok, budget, len(spaced)


def term_occurrences(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """(start, end) of every term occurrence in running text: its leading space included (`term_pattern`)."""
    import regex

    if not terms:
        return []
    return [m.span() for m in regex.finditer(term_pattern(terms), text)]


def term_single_token_rate(tok, lines: Iterable[str], terms: list[str]) -> tuple[float, int]:
    """Share of held-out term occurrences (leading space included) that a tokenizer encodes as exactly one
    token spanning the occurrence: hits / occurrences, over lines encoded one by one. Returns (rate, n)."""
    hits = total = 0
    for line in lines:
        spans = term_occurrences(line, terms)
        if not spans:
            continue
        enc = tok.backend.encode(line, add_special_tokens=False)
        starts = set(enc.offsets)
        for span in spans:
            total += 1
            hits += span in starts
    return (hits / total if total else float("nan")), total


def _domain_report(corpus, artifacts: Path, plain_tok, reference: str, terms: list[str], norm) -> dict[str, dict]:
    """On held-out text: tokens/char (domain and general corpus) against plain BPE, the single-token rate of the
    terms' occurrences for both tokenizers, and the share of lines the normalizer changes (those do not
    round-trip)."""
    from tokbench.sources.text import Corpus
    from tokbench.text.evaluate import evaluation_lines
    from tokbench.text.tokenizer import HFTokenizer

    domain_tok = HFTokenizer("domain", artifacts / "tokenizer.json")
    out: dict[str, dict] = {}
    for name in dict.fromkeys([corpus.name, reference]):
        # the very lines train-bpe's held-out report scores under the same label (non-blank, no newline)
        lines = list(evaluation_lines(Corpus(name.split("+"), split="heldout").lines()))
        if not lines:
            continue
        values = {"lines": len(lines), "bytes": sum(len(ln.encode("utf-8")) for ln in lines),
                  "tokens_per_char": _tokens_per_char(domain_tok, lines),
                  "plain_tokens_per_char": _tokens_per_char(plain_tok, lines),
                  "plain_vocab_size": plain_tok.vocab_size}
        values["tokens_per_char_ratio_vs_plain"] = values["tokens_per_char"] / values["plain_tokens_per_char"]
        values["normalizer_changed_line_share"] = sum(norm(ln) != ln for ln in lines) / max(1, len(lines))
        if name == corpus.name and terms:
            normalized = [norm(ln) for ln in lines]  # occurrences as the tokenizer sees them, offsets aligned
            rate, n = term_single_token_rate(domain_tok, normalized, terms)
            plain_rate, _ = term_single_token_rate(plain_tok, normalized, terms)
            values.update({"term_occurrences": n, "term_single_token_rate": rate,
                           "plain_term_single_token_rate": plain_rate})
        out[f"{name}/heldout"] = values
    if terms:
        out["domain_terms"] = {"terms": len(terms)}
    return out


def _tokens_per_char(tok, lines: list[str]) -> float:
    """Tokens / Unicode code points over lines encoded one by one (as the held-out evaluation does)."""
    return sum(len(ids) for ids in tok.encode_batch(lines)) / max(sum(len(ln) for ln in lines), 1)


# ---------------------------------------------------------------------------------------------- char
def default_char_max_length(vocab_size: int) -> int:
    """KL3M's char tokenizers: tokens of at most 3 characters for 4K and 8K vocabularies, 4 for 16K."""
    return 3 if vocab_size <= 8192 else 4


def train_char(spec, corpus, artifacts: Path, options: dict[str, Any]):
    """Character-level BPE with byte fallback (see the module docstring).

    The alphabet is every character of the training corpus; the vocabulary must hold it, the 256 byte-fallback
    tokens and the specials. Options: `ocr_rate` (noise rate for the report, default 0.05), `ocr_seed`,
    `ocr_chars` (held-out characters to corrupt, default 200,000), `compare` (default true).
    """
    import json

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    from tokbench import progress
    from tokbench.text.bpe import HF_MAX_LENGTH_OFFSET, VariantOutcome

    if spec.backend != "hf":
        raise TokbenchError("--variant char trains with --backend hf")
    alphabet = check_char_alphabet(spec, corpus)
    max_len = spec.max_token_length or default_char_max_length(spec.vocab_size)
    tok = Tokenizer(models.BPE(byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(WHITESPACE_SPLIT_PATTERN), behavior="isolated")
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    trainer = trainers.BpeTrainer(vocab_size=spec.vocab_size - 256, min_frequency=spec.min_frequency,
                                  special_tokens=list(spec.special_tokens), initial_alphabet=sorted(alphabet),
                                  limit_alphabet=len(alphabet), max_token_length=max_len + HF_MAX_LENGTH_OFFSET,
                                  show_progress=progress.enabled())
    from tokbench.text.bpe import train_hf

    train_hf(tok, trainer, corpus)
    config = json.loads(tok.to_str())
    vocab = config["model"]["vocab"]
    next_id = max(vocab.values()) + 1
    for b in range(256):
        name = f"<0x{b:02X}>"
        if name not in vocab:
            vocab[name] = next_id
            next_id += 1
    config["model"]["byte_fallback"] = True
    from tokbench.runs import write_artifact

    write_artifact(artifacts / "tokenizer.json", Tokenizer.from_str(json.dumps(config)).save)
    outcome = VariantOutcome(manifest={"format": "hf", "file": "tokenizer.json"}, notes=[
        f"char BPE: alphabet {len(alphabet)}, max token length {max_len}, 256 byte-fallback tokens"])
    outcome.extra_metrics.update(_char_report(spec, corpus, artifacts, options))
    return outcome


# ---------------------------------------------------------------------------------------------- OCR noise
#: visually confusable characters (substitutions), and the usual OCR merges / splits of glyph pairs.
OCR_CONFUSIONS = {"l": "1I", "1": "lI", "I": "l1", "O": "0", "0": "O", "o": "0c", "e": "c", "c": "e", "a": "o",
                  "S": "5", "5": "S", "B": "8", "8": "B", "g": "9", "u": "v", "v": "u", "n": "h", "h": "n", ",": ".",
                  ".": ",", "t": "f", "f": "t", "i": "l", "Z": "2", "2": "Z"}
OCR_MERGES = {"rn": "m", "cl": "d", "vv": "w", "li": "h", "ri": "n", "in": "m", "nn": "m"}
OCR_SPLITS = {v: k for k, v in OCR_MERGES.items()}


def ocr_noise(text: str, rate: float, rng: random.Random) -> tuple[str, list[int | None]]:
    """Corrupt `text` like an OCR engine: at each non-space character, with probability `rate`, a substitution
    (half of the edits), a merge of two characters into one, or a split of one into two (a quarter each).

    Returns the noisy text and, for each clean character, its index in the noisy text, or None when the
    character was edited (these alignments come straight from the edit operations).
    """
    out: list[str] = []
    where: list[int | None] = [None] * len(text)
    i = pos = 0  # pos: characters written so far (a split writes two)
    letters = "abcdefghijklmnopqrstuvwxyz"
    while i < len(text):
        ch = text[i]
        if ch.isspace() or rng.random() >= rate:
            where[i] = pos
            out.append(ch)
            pos += 1
            i += 1
            continue
        op = rng.random()
        pair = text[i:i + 2]
        if op < 0.25 and len(pair) == 2 and not pair[1].isspace():  # merge two glyphs into one
            out.append(OCR_MERGES.get(pair, ch))
            i += 2
            pos += 1
        elif op < 0.5:  # split one glyph into two
            out.append(OCR_SPLITS.get(ch, ch + rng.choice("'.,")))
            i += 1
            pos += 2
        else:  # substitution
            out.append(rng.choice(OCR_CONFUSIONS.get(ch, letters.replace(ch.lower(), ""))))
            i += 1
            pos += 1
    return "".join(out), where


def _starts(tok, text: str) -> set[int]:
    enc = tok.backend.encode(text, add_special_tokens=False)
    return {s for s, e in enc.offsets if 0 < s < len(text)}


def boundary_agreement(tok, lines: Iterable[str], rate: float, seed: int) -> dict[str, float]:
    """Token-boundary F1 between clean lines and the same lines with synthetic OCR noise (`ocr_noise`).

    A boundary is a token start offset (offset 0 excluded). Only positions p in the clean text whose
    characters p-1 and p were both left unedited and stay adjacent in the noisy text are compared (the rest
    lie inside edited spans and have no counterpart). With C = clean boundaries at such p and N = those p
    whose noisy image is a noisy boundary: precision = |C & N| / |N|, recall = |C & N| / |C|,
    F1 = 2PR / (P + R), micro-averaged over all lines.
    """
    rng = random.Random(seed)
    both = n_clean = n_noisy = 0
    for line in lines:
        noisy, where = ocr_noise(line, rate, rng)
        clean_b, noisy_b = _starts(tok, line), _starts(tok, noisy)
        for p in range(1, len(line)):
            a, b = where[p - 1], where[p]
            if a is None or b is None or b != a + 1:
                continue
            in_c, in_n = p in clean_b, b in noisy_b
            n_clean += in_c
            n_noisy += in_n
            both += in_c and in_n
    precision = both / n_noisy if n_noisy else float("nan")
    recall = both / n_clean if n_clean else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if n_noisy and n_clean and precision + recall else float("nan")
    return {"boundary_f1": f1, "boundary_precision": precision, "boundary_recall": recall}


def _char_report(spec, corpus, artifacts: Path, options: dict[str, Any]) -> dict[str, dict]:
    from tokbench.sources.text import Corpus
    from tokbench.text.bpe import train_plain
    from tokbench.text.tokenizer import HFTokenizer

    rate = float(options.get("ocr_rate", 0.05))
    if not 0 < rate < 1:
        raise TokbenchError(f"ocr_rate must be between 0 and 1 (got {rate})")
    seed = int(options.get("ocr_seed", 0))
    heldout = Corpus(corpus.specs, split="heldout", errors=corpus.errors)
    text = heldout.text(max_chars=int(options.get("ocr_chars", 200_000)))
    lines = [ln for ln in text.splitlines(keepends=True) if ln.strip()]
    if not lines:
        return {}
    values = {k: v for k, v in boundary_agreement(HFTokenizer("char", artifacts / "tokenizer.json"),
                                                  lines, rate, seed).items()}
    values["ocr_rate"] = rate
    values.update(lines=len(lines), bytes=sum(len(ln.encode("utf-8")) for ln in lines))  # what was scored
    if options.get("compare", True):
        with tempfile.TemporaryDirectory(prefix="tokbench-plain-") as tmp:
            train_plain(replace(spec, variant="plain", max_token_length=None, options={}), corpus, Path(tmp), {})
            plain_tok = HFTokenizer("plain", Path(tmp) / "tokenizer.json")
            plain = boundary_agreement(plain_tok, lines, rate, seed)
            values.update({f"plain_{k}": v for k, v in plain.items()})
            values["plain_vocab_size"] = plain_tok.vocab_size
    return {f"{corpus.name}/heldout (ocr noise)": values}
