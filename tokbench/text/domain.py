"""Domain BPE (KL3M-style) and character-level BPE (KL3M's OCR-correction tokenizers).

Both follow the KL3M tokenizers (Bommarito et al., 2025, "KL3M Tokenizers: A Family of Domain-Specific and
Character-Level Tokenizers for Legal, Financial, and Preprocessing Applications"):

* `train_domain`: byte-level BPE with NFKC (cased unless `uncased`), a fixed set of special tokens, and custom
  tokens reserved *before* the BPE budget is spent: whitespace runs, markup fragments, years and small
  integers, citation forms and domain terms (from a terms file and mined from the corpus, see `mine_terms`).
  BPE budget = vocab - specials - custom tokens; `pad_pow2` pads the final vocabulary to a power of two with
  reserved special tokens.
* `train_char`: BPE over single characters with a short `max_token_length` (3 up to 8,192 tokens, 4 above,
  as KL3M's 4K/8K and 16K char tokenizers), byte fallback for unseen characters, so that token boundaries
  move little when OCR noise changes a few characters.

Custom tokens are HF *added tokens*: they are cut out of the text before the BPE model runs, both when
encoding and (through `reserved_segments`) when training, so the BPE never spends merges on them and encoding
keeps them whole. Decoding returns their content verbatim, so round trips are exact for text the normalizer
leaves unchanged (NFKC, and lowercase when uncased, are part of the tokenizer and documented as lossy).
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

#: KL3M's fixed special tokens (document boundaries, padding, and the usual MLM / chat markers).
DOMAIN_SPECIAL_TOKENS = ("<|start|>", "<|end|>", "<|pad|>", "<|unk|>", "<|sep|>", "<|cls|>", "<|mask|>")
REFERENCE_CORPUS = "builtin:english"
PRIOR_STRENGTH = 1000.0
TERM_Z_MIN = 3.0
WORD_RE = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
MARKUP_TOKENS = (
    # Markdown
    "**", "__", "##", "###", "####", "```", "---", "|---", "](", "![", "- [ ]", "- [x]",
    # HTML
    "<p>", "</p>", "<br>", "<br/>", "<div>", "</div>", "<span>", "</span>", "<a href=\"", "</a>", "<ul>", "</ul>",
    "<ol>", "</ol>", "<li>", "</li>", "<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", "</th>",
    "<strong>", "</strong>", "<em>", "</em>", "<h1>", "</h1>", "<h2>", "</h2>", "<h3>", "</h3>", "<!--", "-->",
    # JSON
    "{\"", "\":", "\": \"", "\",", "\", \"", "\"}", "[{", "}]", "},", "\": {", "\": [",
    # XML
    "<?xml", "?>", "</", "/>", "<![CDATA[", "]]>", "xmlns",
)
ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii", "xiv", "xv", "xvi",
         "xvii", "xviii", "xix", "xx")
YEARS = range(1900, 2041)
SMALL_INTEGERS = range(0, 101)


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
def builtin_custom_tokens() -> list[str]:
    """KL3M-style custom tokens: whitespace runs, markup, years, small integers and citation forms."""
    out = [" " * n for n in range(2, 9)] + ["\n" * n for n in range(2, 9)]
    out += list(MARKUP_TOKENS)
    out += [str(y) for y in YEARS] + [str(i) for i in SMALL_INTEGERS]
    out += [f"({c})" for c in "abcdefghijklmnopqrstuvwxyz"] + [f"({i})" for i in range(1, 100)]
    out += [f"({r})" for r in ROMAN] + [f"({r.upper()})" for r in ROMAN]
    out += ["§", "§§", "¶"]
    return list(dict.fromkeys(out))


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
    Returns (term, z, domain count) with the term as the tokenizer should store it: with a leading space
    when most of its occurrences follow a space.
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
            form = " " + gram if spaced[gram] * 2 > y_i else gram
            scored.append((form, z, y_i))
    scored.sort(key=lambda t: (-t[1], t[0]))
    return scored


def select_terms(candidates: list[tuple[str, float, int]], probe, max_terms: int) -> list[tuple[str, float, int]]:
    """Keep the domain-significant n-grams worth a vocabulary slot: ranked by the tokens they would save,
    count x (tokens the probe BPE spends on the term - 1), highest first; terms saving nothing are dropped."""
    ranked = []
    for term, z, count in candidates:
        saving = count * (len(probe.encode(term)) - 1)
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


def train_domain(spec, corpus, artifacts: Path, options: dict[str, Any]):
    """KL3M-style domain BPE (see the module docstring).

    Mined terms: domain-significant word n-grams (`significant_ngrams`, against `reference`) ranked by the
    tokens they save under a probe plain BPE of the same vocabulary trained on the same corpus (`select_terms`);
    the same probe is the plain peer of the report.
    Options: `terms` (UTF-8 file, one term a line), `uncased`, `pad_pow2`, `nfkc` (default true),
    `max_terms` (mined terms, default vocab/16), `term_min_count` (default 10), `reference` (general corpus for
    mining and the general-text report, default builtin:english), `compare` (write the report, default true).
    """
    from tokbench.sources.text import Corpus
    from tokbench.text.bpe import VariantOutcome, train_plain
    from tokbench.text.tokenizer import HFTokenizer

    if spec.backend != "hf":
        raise TokbenchError("--variant domain trains with --backend hf")
    spec = replace(spec, special_tokens=list(dict.fromkeys([*DOMAIN_SPECIAL_TOKENS, *spec.special_tokens])),
                   lowercase=bool(spec.lowercase or options.get("uncased")),
                   normalization="nfkc" if options.get("nfkc", True) and spec.normalization == "none"
                   else spec.normalization)
    norm = _normalize_fn(spec)
    given = [norm(t) for t in read_terms(options["terms"])] if options.get("terms") else []
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
            mined = select_terms(candidates, probe, max_terms)
        custom = [norm(t) for t in builtin_custom_tokens()] + given + [t for t, _, _ in mined]
        tok, budget = _train_with_reserved(spec, corpus, norm, custom, bool(options.get("pad_pow2")))
        tok.save(str(artifacts / "tokenizer.json"))
        from tokbench.runs import atomic_write_json

        atomic_write_json(artifacts / "domain_terms.json", {"given": given, "mined": [
            {"term": t, "z": round(z, 3), "count": c} for t, z, c in mined]})
        outcome = VariantOutcome(manifest={"format": "hf", "file": "tokenizer.json"}, notes=[
            f"domain BPE: {len(set(custom)):,} custom tokens ({len(mined)} mined terms, {len(given)} given), "
            f"BPE budget {budget:,}, final vocabulary {tok.get_vocab_size(with_added_tokens=True):,}"])
        if options.get("compare", True):
            terms = list(dict.fromkeys(given + [t for t, _, _ in mined]))
            outcome.extra_metrics.update(_domain_report(corpus, artifacts, probe, reference, terms))
    return outcome


def _train_with_reserved(spec, corpus, norm, custom: list[str], pad_pow2: bool):
    """Byte-level BPE on the text between the reserved custom tokens, then the custom tokens added whole.

    Custom tokens that are a single byte already exist; a custom token the BPE also learns from other
    contexts takes no new id, so the training runs once more with that many more merges.
    """
    from tokenizers import AddedToken

    from tokbench.text.bpe import build_hf_tokenizer, hf_trainer
    from tokbench.text.tokenizer import byte_level_token_bytes

    custom = [t for t in dict.fromkeys(custom) if t and t not in spec.special_tokens and len(t.encode()) > 1]
    floor = len(spec.special_tokens) + 256
    budget = spec.vocab_size - len(custom)
    if budget < floor:
        raise TokbenchError(f"--vocab-size {spec.vocab_size} leaves no room for BPE: {len(spec.special_tokens)} "
                            f"specials + 256 bytes + {len(custom)} custom tokens need at least {floor + len(custom)}")
    added = [_added(t) for t in custom]
    for _attempt in range(2):
        tok = build_hf_tokenizer(spec)
        tok.train_from_iterator(reserved_segments((norm(line) for line in corpus.lines()), added),
                                hf_trainer(spec, vocab_size=budget))
        base = tok.get_vocab_size(with_added_tokens=True)
        learned = {byte_level_token_bytes(t) for t in tok.get_vocab()}
        overlap = sum(t.encode() in learned for t in custom)
        if not overlap or base < budget:  # nothing shared, or the corpus ran out of merges anyway
            break
        budget += overlap
    tok.add_tokens(added)
    size = tok.get_vocab_size(with_added_tokens=True)
    if pad_pow2:
        target = 1 << max(size - 1, 1).bit_length()
        tok.add_special_tokens([AddedToken(f"<|reserved_{i}|>", special=True, normalized=False)
                                for i in range(target - size)])
    return tok, budget


def _domain_report(corpus, artifacts: Path, plain_tok, reference: str, terms: list[str]) -> dict[str, dict]:
    """tokens/char on the domain and general held-out text and tokens per term, against plain BPE."""
    from tokbench.sources.text import Corpus
    from tokbench.text.tokenizer import HFTokenizer

    domain_tok = HFTokenizer("domain", artifacts / "tokenizer.json")
    out: dict[str, dict] = {}
    for name in dict.fromkeys([corpus.name, reference]):
        text = Corpus(name.split("+"), split="heldout").text(max_chars=2_000_000)
        if not text:
            continue
        values = {"tokens_per_char": _tokens_per_char(domain_tok, text),
                  "plain_tokens_per_char": _tokens_per_char(plain_tok, text)}
        values["tokens_per_char_ratio_vs_plain"] = values["tokens_per_char"] / values["plain_tokens_per_char"]
        out[f"{name}/heldout"] = values
    if terms:
        out["domain_terms"] = {"terms": len(terms),
                               "tokens_per_term": sum(len(domain_tok.encode(t)) for t in terms) / len(terms),
                               "plain_tokens_per_term": sum(len(plain_tok.encode(t)) for t in terms) / len(terms)}
    return out


def _tokens_per_char(tok, text: str) -> float:
    """Tokens / Unicode code points over lines encoded one by one (as the held-out evaluation does)."""
    lines = text.splitlines(keepends=True)
    return sum(len(ids) for ids in tok.encode_batch(lines)) / max(len(text), 1)


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
    alphabet = Counter()
    for line in corpus.lines():
        alphabet.update(line)
    floor = len(spec.special_tokens) + 256 + len(alphabet)
    if spec.vocab_size < floor:
        raise TokbenchError(f"--vocab-size {spec.vocab_size} is below the character alphabet: the corpus has "
                            f"{len(alphabet)} distinct characters, + 256 byte-fallback tokens + "
                            f"{len(spec.special_tokens)} specials = {floor}")
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
    Tokenizer.from_str(json.dumps(config)).save(str(artifacts / "tokenizer.json"))
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
    if options.get("compare", True):
        with tempfile.TemporaryDirectory(prefix="tokbench-plain-") as tmp:
            train_plain(replace(spec, variant="plain", max_token_length=None, options={}), corpus, Path(tmp), {})
            plain = boundary_agreement(HFTokenizer("plain", Path(tmp) / "tokenizer.json"), lines, rate, seed)
            values.update({f"plain_{k}": v for k, v in plain.items()})
    return {f"{corpus.name}/heldout (ocr noise)": values}
