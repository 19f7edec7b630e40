"""Run text metrics over a tokenizer and a corpus.

`basic_metrics` is what `train-bpe` reports after training (issue: foundation): compression, fertility,
vocabulary utilization and round-trip exactness on held-out text, streamed in batches of lines.
`evaluate_text` (issue 4) puts any set of tokenizers against any set of corpora and parallel corpora:
every metric of `corpus_stats`, normalized sequence length against a reference tokenizer, and token
premiums / parity per language and script; it returns a `TextEvalReport` and can write a `text-eval` run.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.metrics import codebook, premiums, rate
from tokbench.progress import track
from tokbench.runs import Run
from tokbench.sources.parallel import ParallelCorpus, load_parallel
from tokbench.sources.text import Corpus, batched, builtin_names, evaluation_split
from tokbench.text.fast_encode import fast_tokenizer
from tokbench.text.tokenizer import HFTokenizer, TextTokenizer, load_tokenizer


def _add_counts(counts: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Add one line's token ids to the running histogram (grown if an id lies past the vocabulary)."""
    if ids:
        arr = np.asarray(ids, dtype=np.int64)
        if arr.max() >= counts.size:
            counts = np.pad(counts, (0, int(arr.max()) + 1 - counts.size))
        np.add.at(counts, arr, 1)
    return counts


def basic_metrics(tokenizer: TextTokenizer, lines: Iterable[str], batch_size: int = 512) -> dict[str, float]:
    """Bytes/token, chars/token, fertility (tokens per whitespace word), utilization and round-trip rate.

    Each line is encoded on its own, without special tokens; round trip counts lines where
    decode(encode(line)) == line exactly.
    """
    n_bytes = n_chars = n_words = n_tokens = n_lines = exact = 0
    counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)
    for batch in batched(lines, batch_size):
        encoded = tokenizer.encode_batch(batch)
        for line, ids in zip(batch, encoded):
            n_lines += 1
            n_bytes += len(line.encode("utf-8"))
            n_chars += len(line)
            n_words += len(line.split())
            n_tokens += len(ids)
            counts = _add_counts(counts, ids)
            exact += tokenizer.decode(ids) == line
    if n_tokens == 0:
        return {"lines": n_lines, "tokens": 0}
    return {
        "lines": n_lines,
        "tokens": n_tokens,
        "bytes_per_token": rate.bytes_per_token(n_bytes, n_tokens),
        "chars_per_token": rate.chars_per_token(n_chars, n_tokens),
        "tokens_per_word": rate.fertility(n_tokens, n_words) if n_words else float("nan"),
        "vocab_utilization": codebook.usage(counts[: tokenizer.vocab_size]),
        "round_trip_rate": exact / n_lines,
    }


# ---------------------------------------------------------------------------------------------- issue 4: eval-text
#: the built-in corpora evaluated when none is given (held-out splits), and the parallel corpus for premiums
DEFAULT_CORPORA = ("builtin:english", "builtin:code", "builtin:legal", "builtin:numbers")
DEFAULT_PARALLEL = ("builtin:parallel",)
_NUMBER = re.compile(r"[0-9]+")


@dataclass
class TextEvalReport:
    """Tokenizer x corpus x metric rows (the run folder's report.json), plus named sections:
    `tokenizers` (name, kind, vocab size, fast-encoder status), `corpora`, `parallel` (languages, pairs,
    misaligned entries dropped), `premiums_by_script` and `unavailable`."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[dict[str, str]] = field(default_factory=list)
    tokenizers: list[dict[str, Any]] = field(default_factory=list)
    corpora: list[dict[str, Any]] = field(default_factory=list)
    parallel: list[dict[str, Any]] = field(default_factory=list)
    premiums_by_script: list[dict[str, Any]] = field(default_factory=list)
    run_dir: str | None = None

    def add(self, subject: str, dataset: str, metric: str, value: Any, **extra: Any) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        self.rows.append({"subject": subject, "dataset": dataset, "metric": metric, "value": value, **extra})

    def value(self, subject: str, dataset: str, metric: str, **match: Any) -> Any:
        for r in self.rows:
            if (r["subject"], r["dataset"], r["metric"]) == (subject, dataset, metric) and \
                    all(r.get(k) == v for k, v in match.items()):
                return r["value"]
        raise KeyError((subject, dataset, metric, match))

    def to_dict(self) -> dict[str, Any]:
        return {"schema": 1, "kind": "text-eval", "rows": self.rows, "unavailable": self.unavailable,
                "tokenizers": self.tokenizers, "corpora": self.corpora, "parallel": self.parallel,
                "premiums_by_script": self.premiums_by_script, **({"run_dir": self.run_dir} if self.run_dir else {})}

    def metrics_json(self) -> dict[str, dict[str, Any]]:
        """metrics.json view: {"<dataset>": {"<metric>[<tokenizer>]": value}} for the rows without a language."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            if "language" not in r:
                out.setdefault(r["dataset"], {})[f"{r['metric']}[{r['subject']}]"] = r["value"]
        return out


def _unique_names(toks: list[TextTokenizer]) -> list[str]:
    names, seen = [], Counter()
    for t in toks:
        seen[t.name] += 1
        names.append(t.name if seen[t.name] == 1 else f"{t.name}-{seen[t.name]}")
    return names


def corpus_stats(tokenizer: TextTokenizer, lines: list[str], alpha: float = 2.5,
                 batch_size: int = 2048) -> tuple[dict[str, float], list[int]]:
    """All per-corpus metrics of one tokenizer on a list of lines (each encoded alone, no specials).

    Returns (metrics, per-line token counts). Formulas are in `tokbench.metrics.rate` / `.codebook`:
    bytes/chars per token, tokens per char, both fertilities, continued words, entropy, Rényi efficiency
    (α, normalized by log2 of the real vocabulary size), utilization, round-trip and canonicality rates,
    and tokens per number (a number = a maximal run of ASCII digits, encoded alone) by digit count.
    """
    vsize = tokenizer.vocab_size
    counts = np.zeros(vsize, dtype=np.int64)
    per_line: list[int] = []
    n_bytes = n_chars = n_words = n_tokens = exact = canonical = 0
    words: Counter = Counter()
    numbers: Counter = Counter()
    for batch in batched(lines, batch_size):
        encoded = tokenizer.encode_batch(batch)
        decoded = [tokenizer.decode(ids) for ids in encoded]
        reencoded = tokenizer.encode_batch(decoded)
        for line, ids, text, again in zip(batch, encoded, decoded, reencoded):
            n_bytes += len(line.encode("utf-8"))
            n_chars += len(line)
            split = line.split()
            n_words += len(split)
            words.update(split)
            numbers.update(_NUMBER.findall(line))
            n_tokens += len(ids)
            per_line.append(len(ids))
            counts = _add_counts(counts, ids)
            exact += text == line
            canonical += list(again) == list(ids)
    out: dict[str, float] = {"lines": len(per_line), "tokens": n_tokens}
    if n_tokens == 0:
        return out, per_line
    out["bytes_per_token"] = rate.bytes_per_token(n_bytes, n_tokens)
    out["chars_per_token"] = rate.chars_per_token(n_chars, n_tokens)
    out["tokens_per_char"] = rate.tokens_per_char(n_tokens, n_chars)
    if n_words:
        out["fertility_corpus"] = rate.fertility_corpus(n_tokens, n_words)
        distinct = list(words)
        lens = [len(ids) for ids in tokenizer.encode_batch(distinct)]
        weighted = np.repeat(np.asarray(lens), [words[w] for w in distinct])
        out["fertility_words_alone"] = rate.fertility_words_alone(weighted)
        out["continued_words"] = rate.continued_words(weighted)
    out["entropy_bits"] = codebook.entropy_bits(counts)
    out["shannon_efficiency"] = codebook.shannon_efficiency(counts, vocab_size=vsize)
    out[f"renyi_efficiency_{alpha:g}"] = codebook.renyi_efficiency(counts, alpha=alpha, vocab_size=vsize)
    out["vocab_utilization"] = codebook.usage(counts[:vsize])
    out["round_trip_rate"] = rate.exact_rate(exact, len(per_line))
    out["canonicality_rate"] = rate.exact_rate(canonical, len(per_line))
    if numbers:
        distinct_n = list(numbers)
        lens = [len(ids) for ids in tokenizer.encode_batch(distinct_n)]
        samples = [(len(num), n) for num, n_tok in zip(distinct_n, lens) for n in [n_tok] * numbers[num]]
        for bucket, value in rate.tokens_per_number(samples).items():
            out[f"tokens_per_number_{bucket}"] = value
    return out, per_line


def _premium_rows(report: TextEvalReport, subject: str, tok: TextTokenizer, corpus: ParallelCorpus) -> None:
    """Premium (CTC_L / CTC_pivot) and parity (mean per-line ratio) per language, spread per tokenizer."""
    cache: dict[str, int] = {}

    def lengths(texts: list[str]) -> list[int]:
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        for text, ids in zip(todo, tok.encode_batch(todo) if todo else []):
            cache[text] = len(ids)
        return [cache[t] for t in texts]

    prem, par = {}, {}
    for lang in track(corpus.languages, f"premiums {subject}", total=len(corpus.languages)):
        pairs = corpus.pairs[lang]
        if not pairs:
            continue
        pivot_counts = lengths([a for a, _ in pairs])
        lang_counts = [len(ids) for ids in tok.encode_batch([b for _, b in pairs])]
        script = corpus.script(lang)
        try:
            prem[lang] = premiums.token_premium(lang_counts, pivot_counts)
            par[lang] = premiums.parity(lang_counts, pivot_counts)
        except ValueError as exc:
            report.unavailable.append({"metric": "token_premium", "subject": subject, "language": lang,
                                       "reason": str(exc)})
            continue
        extra = {"language": lang, "script": script, "n": len(pairs)}
        report.add(subject, corpus.name, "token_premium", prem[lang], **extra)
        report.add(subject, corpus.name, "parity", par[lang], **extra)
        report.add(subject, corpus.name, "corpus_token_count", premiums.corpus_token_count(lang_counts), **extra)
    others = {k: v for k, v in prem.items() if k != corpus.pivot}
    if others:
        for label, values in (("token_premium", prem), ("parity", par)):
            s = premiums.spread(values)
            report.add(subject, corpus.name, f"{label}_max_over_min", s["max_over_min"])
            report.add(subject, corpus.name, f"{label}_cv", s["cv"])
            report.add(subject, corpus.name, f"{label}_mean", s["mean"])
        report.add(subject, corpus.name, "premium_languages", len(prem))
        scripts = {lang: corpus.script(lang) for lang in prem}
        by_script = premiums.group_mean(prem, scripts)
        sizes = Counter(scripts.values())
        for script, mean in by_script.items():
            report.premiums_by_script.append({"subject": subject, "dataset": corpus.name, "script": script,
                                              "token_premium_mean": mean, "languages": sizes[script]})


def _resolve_reference(reference: str | int | None, names: list[str]) -> int | None:
    if reference is None:
        return 0 if len(names) > 1 else None
    if isinstance(reference, int):
        return reference
    if reference in names:
        return names.index(reference)
    raise TokbenchError(f"reference tokenizer {reference!r} is not among the evaluated ones ({', '.join(names)})")


def evaluate_text(tokenizers: Sequence[str | TextTokenizer], corpora: Sequence[str] | None = None,
                  parallel: Sequence[str] | None = None, *, split: str | None = None, reference: str | int | None = None,
                  alpha: float = 2.5, fast: bool = True, max_lines: int | None = None, pivot: str | None = None,
                  min_entries: int = 1, errors: str = "strict", runs_dir: str | Path | None = None,
                  name: str | None = None, verify_lines: int = 2000) -> TextEvalReport:
    """Evaluate tokenizers on text corpora and parallel corpora; optionally write a `text-eval` run folder.

    With neither `corpora` nor `parallel`, the built-in corpora's held-out splits (`DEFAULT_CORPORA`) and
    `builtin:parallel` are used. `split` defaults to "heldout" for built-ins and "all" for user files.
    `reference` (name or index; default the first tokenizer when several) is the NSL reference. `fast` swaps
    in the verified tiktoken encoder for byte-level HF BPE (`tokbench.text.fast_encode`).
    """
    if not tokenizers:
        raise TokbenchError("no tokenizer given (use -t SPEC, repeatable)")
    if corpora is None and parallel is None:
        corpora = [c for c in DEFAULT_CORPORA if c.split(":", 1)[1] in builtin_names()]
        parallel = list(DEFAULT_PARALLEL)
    corpora, parallel = list(corpora or []), list(parallel or [])
    toks = [load_tokenizer(t) for t in tokenizers]
    names = _unique_names(toks)
    ref = _resolve_reference(reference, names)
    report = TextEvalReport()
    # data first (bad input fails before any work)
    texts: dict[str, list[str]] = {}
    fingerprints: list[dict] = []
    for spec in corpora:
        sp = split or evaluation_split(spec)
        corpus = Corpus(spec, split=sp, errors=errors)
        lines = [ln for ln in corpus.lines() if ln.strip()]
        if max_lines is not None:
            lines = lines[:max_lines]
        if not lines:
            raise TokbenchError(f"corpus {spec} ({sp}) is empty")
        dataset = f"{spec}/{sp}" if sp != "all" else spec
        texts[dataset] = lines
        fingerprints += corpus.fingerprint()
        report.corpora.append({"dataset": dataset, "lines": len(lines)})
    pcorpora = [load_parallel(p, pivot=pivot, min_entries=min_entries) for p in parallel]
    for pc in pcorpora:
        report.parallel.append(pc.summary())
        fingerprints += pc.fingerprint()
    # the fast exact encoder, verified on a sample of this very data
    sample = [ln for lines in texts.values() for ln in lines[:verify_lines]]
    for pc in pcorpora:
        for lang in pc.languages:
            sample += [b for _, b in pc.pairs[lang][:20]]
    encoders: list[TextTokenizer] = []
    for tok, nm in zip(toks, names):
        info = {"name": nm, **tok.describe()}
        info["name"] = nm
        if fast:
            enc, status = fast_tokenizer(tok, sample)
            info["fast_encoder"] = status.to_dict()
            if not status.used and isinstance(tok, HFTokenizer):
                report.unavailable.append({"metric": "fast_encoder", "subject": nm, "reason": status.reason})
        else:
            enc = tok
            info["fast_encoder"] = {"used": False, "reason": "disabled (--no-fast)"}
        encoders.append(enc)
        report.tokenizers.append(info)
    # corpus metrics
    for dataset, lines in texts.items():
        lengths: list[int] = []
        for enc, nm in zip(encoders, names):
            stats, _ = corpus_stats(enc, lines, alpha=alpha)
            lengths.append(stats.get("tokens", 0))
            for metric, value in stats.items():
                report.add(nm, dataset, metric, value)
        if ref is not None:
            for nm, n in zip(names, lengths):
                if lengths[ref] > 0:
                    report.add(nm, dataset, "normalized_sequence_length", rate.normalized_sequence_length(n, lengths[ref]),
                               note=f"reference: {names[ref]}")
    if ref is None and texts:
        report.unavailable.append({"metric": "normalized_sequence_length",
                                   "reason": "needs a reference tokenizer: give two or more tokenizers"})
    for pc in pcorpora:
        for enc, nm in zip(encoders, names):
            _premium_rows(report, nm, enc, pc)
    if runs_dir is not None:
        config = {"tokenizers": [str(t) if not isinstance(t, TextTokenizer) else str(t.path) for t in tokenizers],
                  "corpora": corpora, "parallel": parallel, "split": split, "reference": names[ref] if ref is not None else None,
                  "alpha": alpha, "fast": fast, "max_lines": max_lines, "pivot": pivot, "min_entries": min_entries}
        with Run.create(runs_dir, "text-eval", config, name=name, data=fingerprints,
                        packages=("tokenizers", "sentencepiece", "tiktoken", "babel", "pycountry")) as run:
            report.run_dir = str(run.path)
            for dataset, values in report.metrics_json().items():
                run.update_metrics(dataset, values)
            run.write_report(report.to_dict())
    return report


# ---------------------------------------------------------------------------------------------- sweep-vocab
DEFAULT_SWEEP_SIZES = (320, 400, 512, 768, 1024)


def _is_eval_entry(text: str) -> bool:
    """A fixed ~10% of entries (by content hash of the pivot side) are kept out of training."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] < 26


def _train_in_memory(texts: list[str], vocab_size: int, spec_kwargs: dict[str, Any]):
    """Train the plain byte-level HF recipe of `train_bpe` in memory (no run folder per size)."""
    from tokbench.text.bpe import BPESpec, build_hf_tokenizer, hf_trainer

    spec = BPESpec(vocab_size=vocab_size, **spec_kwargs)
    spec.validate()
    tok = build_hf_tokenizer(spec)
    trainer = hf_trainer(spec)
    trainer.show_progress = False  # many tiny trainings: one outer progress bar instead
    tok.train_from_iterator(texts, trainer)
    return tok


def _ctc(tok, texts: list[str]) -> list[int]:
    return [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)] if texts else []


@dataclass
class SweepResult:
    """Corpus token counts per vocabulary size, the power-law fit per language, and recommended sizes."""

    sizes: list[int]
    ctc: dict[str, dict[int, int]]
    fits: dict[str, dict[str, float]]
    recommended: dict[str, float | None]
    criterion: str
    reference_size: int | None = None
    scripts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run_dir: str | None = None

    def rows(self, dataset: str) -> list[dict[str, Any]]:
        out = []
        for lang, by_size in self.ctc.items():
            extra = {"language": lang, "script": self.scripts[lang]} if lang in self.scripts else {}
            for size, count in by_size.items():
                out.append({"subject": f"sweep:{size}", "dataset": dataset, "metric": "corpus_token_count",
                            "value": count, "budget": size, **extra})
            fit = self.fits.get(lang)
            if fit:
                for k in ("a", "b", "r2"):
                    out.append({"subject": "sweep", "dataset": dataset, "metric": f"power_law_{k}",
                                "value": fit[k], **extra})
            if lang in self.recommended:
                out.append({"subject": "sweep", "dataset": dataset, "metric": "recommended_vocab_size",
                            "value": self.recommended[lang], **extra, "note": self.criterion})
        return out

    def to_dict(self, dataset: str = "") -> dict[str, Any]:
        return {"sizes": self.sizes, "ctc": self.ctc, "fits": self.fits, "recommended": self.recommended,
                "criterion": self.criterion, "reference_size": self.reference_size, "scripts": self.scripts,
                "notes": self.notes, **({"run_dir": self.run_dir} if self.run_dir else {})}


def sweep_vocab(corpus: str | None = None, parallel: str | None = None, *, sizes: Sequence[int] = DEFAULT_SWEEP_SIZES,
                reference_size: int | None = None, pivot: str | None = None, min_entries: int = 300,
                languages: Sequence[str] | None = None, max_languages: int | None = None,
                spec: dict[str, Any] | None = None, runs_dir: str | Path | None = None,
                name: str | None = None) -> SweepResult:
    """Train the same recipe at several vocabulary sizes and fit CTC(V) = a · V^b (per language on a
    parallel corpus).

    Monolingual (`corpus`): train on the train split, count tokens on the held-out split; the fit is reported
    and no size is recommended (the criterion needs a pivot language).
    Parallel (`parallel`): per language, train a monolingual tokenizer on its training entries (~90% by
    hash) and count tokens on the held-out entries. Criterion (Arnett et al. 2025, "Explaining and
    Mitigating Crosslingual Tokenizer Inequities", which fit a power law of CTC against vocabulary size per
    language to find language-specific "optimal" vocabulary sizes): the recommended size for language L is
    the V at which L's fitted CTC equals the pivot tokenizer's CTC on the same held-out entries at the
    reference size (default: the largest swept size), i.e. the vocabulary at which L's token premium is 1.
    Extrapolations beyond 4x the largest swept size are reported with a note.
    """
    sizes = sorted({int(s) for s in sizes})
    if len(sizes) < 2:
        raise TokbenchError("sweep-vocab needs at least two vocabulary sizes")
    if (corpus is None) == (parallel is None):
        raise TokbenchError("give exactly one of --corpus or --parallel")
    spec_kwargs = dict(spec or {})
    spec_kwargs.setdefault("min_frequency", 2)
    spec_kwargs.pop("vocab_size", None)
    if spec_kwargs.get("backend", "hf") != "hf" or spec_kwargs.get("variant", "plain") != "plain":
        raise TokbenchError("sweep-vocab trains the plain byte-level HF recipe (backend hf, variant plain)")
    result = SweepResult(sizes, {}, {}, {}, "")
    if corpus is not None:
        train = [ln for ln in Corpus(corpus, split="train").lines() if ln.strip()]
        held = [ln for ln in Corpus(corpus, split="heldout").lines() if ln.strip()]
        if not train or not held:
            raise TokbenchError(f"corpus {corpus} has an empty train or held-out split")
        result.ctc["all"] = {}
        for size in track(sizes, "sweep-vocab", total=len(sizes)):
            tok = _train_in_memory(train, size, spec_kwargs)
            result.ctc["all"][size] = int(sum(_ctc(tok, held)))
        result.fits["all"] = premiums.fit_power_law(sizes, [result.ctc["all"][s] for s in sizes])
        result.criterion = "none: a recommended size needs a parallel corpus (premium-1 criterion)"
        dataset = f"{corpus}/heldout"
        data = Corpus(corpus, split="all").fingerprint()
    else:
        pc = load_parallel(parallel, pivot=pivot, min_entries=min_entries)
        ref_size = reference_size or sizes[-1]
        result.reference_size = ref_size
        langs = [lang for lang in pc.languages if lang != pc.pivot]
        if languages:
            missing = sorted(set(languages) - set(langs))
            if missing:
                raise TokbenchError(f"languages not in {parallel}: {', '.join(missing)}")
            langs = [lang for lang in langs if lang in set(languages)]
        if max_languages is not None:
            langs = langs[:max_languages]
        # the pivot's own tokenizer at the reference size, trained on all its training entries
        pivot_train = [a for a, _ in pc.pairs[pc.pivot] if not _is_eval_entry(a)]
        pivot_tok = _train_in_memory(pivot_train, ref_size, spec_kwargs)
        result.criterion = (f"V at which the language's fitted CTC equals the {pc.pivot} CTC of the same held-out "
                            f"entries at V={ref_size} (token premium 1; Arnett et al. 2025)")
        for lang in track(langs, "sweep-vocab", total=len(langs)):
            pairs = pc.pairs[lang]
            train = [b for a, b in pairs if not _is_eval_entry(a)]
            held = [(a, b) for a, b in pairs if _is_eval_entry(a)]
            if len(held) < 5 or len(train) < 20:
                result.notes.append(f"{lang}: too few entries ({len(train)} train, {len(held)} held out)")
                continue
            result.scripts[lang] = pc.script(lang)
            result.ctc[lang] = {}
            for size in sizes:
                tok = _train_in_memory(train, size, spec_kwargs)
                result.ctc[lang][size] = int(sum(_ctc(tok, [b for _, b in held])))
            fit = premiums.fit_power_law(sizes, [result.ctc[lang][s] for s in sizes])
            result.fits[lang] = fit
            target = sum(_ctc(pivot_tok, [a for a, _ in held]))
            v_star = premiums.vocab_for_target(fit, target)
            if not math.isfinite(v_star) or fit["b"] >= 0:
                result.recommended[lang] = None
                result.notes.append(f"{lang}: token count does not fall with vocabulary size; no recommendation")
            else:
                result.recommended[lang] = round(v_star)
                if v_star > 4 * sizes[-1]:
                    result.notes.append(f"{lang}: recommended size {round(v_star)} extrapolates beyond 4x the "
                                        f"largest swept size")
        dataset = parallel
        data = pc.fingerprint()
    if runs_dir is not None:
        config = {"mode": "sweep-vocab", "corpus": corpus, "parallel": parallel, "sizes": sizes,
                  "reference_size": result.reference_size, "pivot": pivot, "min_entries": min_entries,
                  "spec": spec_kwargs}
        with Run.create(runs_dir, "text-eval", config, name=name, data=data,
                        packages=("tokenizers",)) as run:
            result.run_dir = str(run.path)
            run.write_report({"schema": 1, "kind": "text-eval", "rows": result.rows(dataset), "unavailable": [],
                              "sweep": result.to_dict()})
    return result
