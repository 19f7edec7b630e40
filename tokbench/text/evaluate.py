"""Run text metrics over a tokenizer and a corpus.

`basic_metrics` is what `train-bpe` reports after training (issue: foundation): compression, fertility,
vocabulary utilization and round-trip exactness on held-out text, streamed in batches of lines.
`evaluate_text` (issue 4) puts any set of tokenizers against any set of corpora and parallel corpora:
every metric of `corpus_stats`, normalized sequence length against a reference tokenizer, and token
premiums / parity per language and script; it returns a `TextEvalReport` and can write a `text-eval` run.

Like for like (issue 12): both score `evaluation_lines` of the same split, so one dataset label is one set of
lines; every row carries its provenance (command, split, lines, bytes); every tokenizer its requested and
reached vocabulary (`vocabulary_record`, `requested_vocab`); and a tokenizer scored on lines its run was
trained on (same file sha256, overlapping split) gets a warning (`training_overlap`). Vocabulary sweeps live
in `tokbench.text.sweep`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.metrics import codebook, premiums, rate
from tokbench.progress import track
from tokbench.runs import Run, atomic_write_text
from tokbench.sources.parallel import ParallelCorpus
from tokbench.sources.parallel_sentences import SENTENCES_NAME, load_any_parallel, measures
from tokbench.sources.text import Corpus, batched, builtin_names, evaluation_split
from tokbench.text.fast_encode import fast_tokenizer
from tokbench.text.tokenizer import HFTokenizer, TextTokenizer, load_tokenizer, split_label


def evaluation_lines(lines: Iterable[str]) -> Iterator[str]:
    """The lines every text evaluation scores: the non-blank ones (blank lines separate documents; a blank line
    has nothing to tokenize). `train-bpe`'s held-out report and `eval-text` both go through here, so one dataset
    label always means one set of lines."""
    return (ln for ln in lines if ln.strip())


def basic_metrics(tokenizer: TextTokenizer, lines: Iterable[str], batch_size: int = 512) -> dict[str, float]:
    """Bytes/token, chars/token, fertility (tokens per whitespace word), utilization and round-trip rate.

    Scores `evaluation_lines(lines)`, each encoded on its own without special tokens; round trip counts lines
    where decode(encode(line)) == line exactly. `lines` and `bytes` say what was scored.
    """
    n_bytes = n_chars = n_words = n_tokens = n_lines = exact = 0
    counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)
    for batch in batched(evaluation_lines(lines), batch_size):
        encoded = tokenizer.encode_batch(batch)
        for line, ids in zip(batch, encoded):
            n_lines += 1
            n_bytes += len(line.encode("utf-8"))
            n_chars += len(line)
            n_words += len(line.split())
            n_tokens += len(ids)
            counts = codebook.add_counts(counts, ids)
            exact += tokenizer.decode(ids) == line
    if n_tokens == 0:
        return {"lines": n_lines, "bytes": n_bytes, "tokens": 0}
    return {
        "lines": n_lines,
        "bytes": n_bytes,
        "tokens": n_tokens,
        "bytes_per_token": rate.bytes_per_token(n_bytes, n_tokens),
        "chars_per_token": rate.chars_per_token(n_chars, n_tokens),
        "tokens_per_word": rate.fertility(n_tokens, n_words) if n_words else float("nan"),
        "vocab_utilization": codebook.usage(counts, size=tokenizer.vocab_size),
        "round_trip_rate": exact / n_lines,
    }


# ---------------------------------------------------------------------------------------------- vocabulary
def vocabulary_record(requested: int, reached: int, added: int = 0) -> dict[str, Any]:
    """The requested and the reached vocabulary of a trained tokenizer, and a warning when they differ.

    `added`: tokens a variant adds on top of the requested size by design (triad), so the expected size is
    requested + added. HF's trainer stops early, silently, when no pair reaches --min-frequency: a
    "32,000-token" BPE of 5,311 tokens must never be reported as 32,000.
    """
    out: dict[str, Any] = {"requested": int(requested), "reached": int(reached)}
    if added:
        out["added_by_variant"] = int(added)
    expected = requested + added
    if reached != expected:
        base = reached - added
        what = f"reached {base:,} BPE tokens (+{added:,} added by the variant)" if added else f"reached {reached:,}"
        out["warning"] = (f"vocabulary shortfall: requested {requested:,} tokens, {what}; the training corpus has "
                          "no more pairs that occur often enough (more text or a lower --min-frequency)"
                          if base < requested else f"vocabulary differs: requested {requested:,} tokens, {what}")
    return out


def comparison_notes(extra_metrics: dict[str, dict[str, Any]], reached: int) -> list[str]:
    """Say plainly when a variant's comparison against a plain BPE peer is not at equal reached vocabulary
    (the peer's size is recorded as `plain_vocab_size`)."""
    notes = []
    for dataset, values in extra_metrics.items():
        plain = values.get("plain_vocab_size")
        if plain is None:
            continue
        own = int(values.get("supertoken_vocab_size", values.get("variant_vocab_size", reached)))
        if int(plain) != own:
            notes.append(f"{dataset}: the plain BPE peer reached {int(plain):,} tokens and this tokenizer {own:,}: "
                         "the comparison is NOT at equal vocabulary")
        else:
            notes.append(f"{dataset}: compared with a plain BPE peer of the same reached vocabulary ({own:,})")
    return notes


def requested_vocab(tok: TextTokenizer) -> int | None:
    """The vocabulary size a tokbench run asked for (None for tokenizers from elsewhere)."""
    info = _run_info(tok)
    vocab = info.get("vocab") or {}
    if "requested" in vocab:
        return int(vocab["requested"])
    spec = (info.get("config") or {}).get("spec") or {}
    return int(spec["vocab_size"]) if "vocab_size" in spec else None


def _run_info(tok: TextTokenizer) -> dict[str, Any]:
    run_dir = getattr(tok, "run_dir", None)
    if run_dir is None or not (Path(run_dir) / "run.json").is_file():
        return {}
    try:
        return json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable, not UTF-8 or not JSON: no record to read
        return {}


def _overlaps(trained_split: str, evaluated_split: str) -> bool:
    """Whether two line filters of the same file share lines (train and held-out are disjoint)."""
    return "all" in (trained_split, evaluated_split) or trained_split == evaluated_split


def training_overlap(tok: TextTokenizer, corpus: Corpus) -> list[str]:
    """The evaluated files whose scored lines the tokenizer was trained on, from its run's data fingerprint
    (same sha256, overlapping line filter)."""
    trained = {}
    for entry in _run_info(tok).get("data") or []:
        if isinstance(entry, dict) and entry.get("sha256"):
            trained.setdefault(entry["sha256"], []).append(entry.get("split", "all"))
    if not trained:
        return []
    out = []
    for entry in corpus.fingerprint():
        if any(_overlaps(t, entry.get("split", "all")) for t in trained.get(entry["sha256"], [])):
            out.append(entry["path"])
    return out


# ---------------------------------------------------------------------------------------------- issue 4: eval-text
#: the built-in corpora evaluated when none is given (held-out splits), and the parallel corpus for premiums:
#: sentences (what the premium literature measures), not the display-name labels of builtin:parallel
DEFAULT_CORPORA = ("builtin:english", "builtin:code", "builtin:legal", "builtin:numbers")
DEFAULT_PARALLEL = (SENTENCES_NAME,)
_NUMBER = re.compile(r"[0-9]+")

#: metric -> +1 (higher is better) or -1 (lower is better); metrics absent here have no better direction
#: (counts, entropy). Utilization and efficiencies: higher means the vocabulary is used more evenly
#: (Zouhar et al. 2023 relate Rényi efficiency to downstream quality).
METRIC_DIRECTION = {
    "bytes_per_token": 1, "chars_per_token": 1, "tokens_per_char": -1, "tokens_per_word": -1,
    "fertility_corpus": -1, "fertility_words_alone": -1, "continued_words": -1, "shannon_efficiency": 1,
    "vocab_utilization": 1, "round_trip_rate": 1, "canonicality_rate": 1, "normalized_sequence_length": -1,
    "token_premium": -1, "parity": -1, "corpus_token_count": -1, "token_premium_max_over_min": -1,
    "token_premium_cv": -1, "parity_max_over_min": -1, "parity_cv": -1, "token_premium_mean": -1, "parity_mean": -1,
}


def metric_direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither (see METRIC_DIRECTION)."""
    if metric.startswith("renyi_efficiency_"):
        return 1
    if metric.startswith("tokens_per_number_"):
        return -1
    return METRIC_DIRECTION.get(metric, 0)


@dataclass
class TextEvalReport:
    """Tokenizer x corpus x metric rows (the run folder's report.json), plus named sections:
    `tokenizers` (name, kind, vocab size, fast-encoder status), `corpora`, `parallel` (languages, pairs,
    misaligned entries dropped), `premiums_by_script` and `unavailable`."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
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
                "warnings": self.warnings, "tokenizers": self.tokenizers, "corpora": self.corpora,
                "parallel": self.parallel,
                "premiums_by_script": self.premiums_by_script, **({"run_dir": self.run_dir} if self.run_dir else {})}

    def write_csv(self, folder: str | Path) -> list[Path]:
        """`rows.csv` (every row with its provenance) and `tokenizers.csv` (requested / reached vocabulary)
        into `folder`; returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [write_rows_csv(folder / "rows.csv", self.rows), write_rows_csv(folder / "tokenizers.csv",
                                                                              [{k: v for k, v in t.items() if not isinstance(v, dict)}
                                                                               for t in self.tokenizers])]

    def metrics_json(self) -> dict[str, dict[str, Any]]:
        """metrics.json view: {"<dataset>": {"<metric>[<tokenizer>]": value}} for the rows without a language."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            if "language" not in r:
                out.setdefault(r["dataset"], {})[f"{r['metric']}[{r['subject']}]"] = r["value"]
        return out


def write_rows_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Rows of dicts as one CSV file (columns: every key, in first-seen order)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    atomic_write_text(path, buf.getvalue())  # temp file + rename; refuses devices, FIFOs and folders
    return path


def _unique_names(toks: list[TextTokenizer]) -> list[str]:
    """Tokenizer names, made unique: a repeated name gets the name of the folder above it (`runs-b/mine`),
    and only when that repeats too a number."""
    counts = Counter(t.name for t in toks)
    names = []
    for t in toks:
        name = t.name
        if counts[name] > 1:
            base = Path(t.run_dir) if getattr(t, "run_dir", None) else t.path
            parent = next((p.name for p in base.absolute().parents if p.name and p.name != name), "")
            name = f"{parent}/{name}" if parent else name
        names.append(name)
    seen: Counter = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


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
    for batch in batched(evaluation_lines(lines), batch_size):
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
            counts = codebook.add_counts(counts, ids)
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
    out["vocab_utilization"] = codebook.usage(counts, size=vsize)
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
        extra = {"language": lang, "script": script, "n": len(pairs), "command": "eval-text", "split": "all",
                 "lines": len(pairs), "bytes": sum(len(b.encode("utf-8")) for _, b in pairs)}
        report.add(subject, corpus.name, "token_premium", prem[lang], **extra)
        report.add(subject, corpus.name, "parity", par[lang], **extra)
        report.add(subject, corpus.name, "corpus_token_count", premiums.corpus_token_count(lang_counts), **extra)
    others = {k: v for k, v in prem.items() if k != corpus.pivot}
    if others:
        whole = {"command": "eval-text", "split": "all", "lines": sum(len(corpus.pairs[k]) for k in prem),
                 "bytes": sum(len(b.encode("utf-8")) for k in prem for _, b in corpus.pairs[k])}
        for label, values in (("token_premium", prem), ("parity", par)):
            s = premiums.spread(values)
            report.add(subject, corpus.name, f"{label}_max_over_min", s["max_over_min"], **whole)
            report.add(subject, corpus.name, f"{label}_cv", s["cv"], **whole)
            report.add(subject, corpus.name, f"{label}_mean", s["mean"], **whole)
        report.add(subject, corpus.name, "premium_languages", len(prem), **whole)
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
                  name: str | None = None, verify_lines: int = 2000, engine: str | None = None,
                  scheduler: str | None = None, workers: int | None = None) -> TextEvalReport:
    """Evaluate tokenizers on text corpora and parallel corpora; optionally write a `text-eval` run folder.

    With neither `corpora` nor `parallel`, the built-in corpora's held-out splits (`DEFAULT_CORPORA`) and
    `builtin:parallel-sentences` are used. `split` defaults to "heldout" for built-ins and user files alike
    (train-bpe's rule); a tokenizer scored on lines its run was trained on gets a warning. Every row carries
    its provenance (command, split, lines, bytes). Tokenizer specs may be labelled `NAME=SPEC`.
    `reference` (name or index; default the first tokenizer when several) is the NSL reference. `fast` swaps
    in the verified tiktoken encoder for byte-level HF BPE (`tokbench.text.fast_encode`). `engine` ("dask",
    on the cluster at `scheduler` or a local one of `workers`) computes the corpus metrics shard by shard
    (`tokbench.text.engine_eval`).
    """
    if not tokenizers:
        raise TokbenchError("no tokenizer given (use -t SPEC, repeatable)")
    if engine is not None or scheduler is not None or workers is not None:
        from tokbench.text.engine_eval import evaluate_text_on_engine

        return evaluate_text_on_engine(**{k: v for k, v in locals().items() if k != "evaluate_text_on_engine"})
    if max_lines is not None and max_lines < 1:
        raise TokbenchError(f"--max-lines {max_lines}: must be at least 1")
    if not (math.isfinite(alpha) and alpha > 0):
        raise TokbenchError(f"--alpha {alpha}: the Rényi order must be a finite number above 0 (default 2.5)")
    if corpora is None and parallel is None:
        corpora = [c for c in DEFAULT_CORPORA if c.split(":", 1)[1] in builtin_names()]
        parallel = list(DEFAULT_PARALLEL)
    corpora, parallel = list(corpora or []), list(parallel or [])
    labels = [label for label, _ in map(split_label, (str(t) for t in tokenizers)) if label is not None]
    repeated = next((label for label, n in Counter(labels).items() if n > 1), None)
    if repeated is not None:  # an explicit label names one tokenizer: never "x" and "x #2"
        raise TokbenchError(f"label {repeated!r} is given to more than one tokenizer (-t {repeated}=...): "
                            "use a different label for each")
    toks = [load_tokenizer(t) for t in tokenizers]
    names = _unique_names(toks)
    ref = _resolve_reference(reference, names)
    report = TextEvalReport()
    # data first (bad input fails before any work)
    texts: dict[str, list[str]] = {}
    provenance: dict[str, dict[str, Any]] = {}
    fingerprints: list[dict] = []
    for spec in corpora:
        sp = split or evaluation_split(spec)
        corpus = Corpus(spec, split=sp, errors=errors)
        lines = list(evaluation_lines(corpus.lines()))
        if max_lines is not None:
            lines = lines[:max_lines]
        if not lines:
            hint = ("; files hold out every tenth line (train-bpe's rule): --split all scores every line"
                    if sp == "heldout" and not spec.startswith("builtin:") else "")
            raise TokbenchError(f"corpus {spec} ({sp}) is empty{hint}")
        dataset = f"{spec}/{sp}" if sp != "all" else spec
        if max_lines is not None:
            dataset += f"[:{max_lines}]"  # a different set of lines gets a different label
        texts[dataset] = lines
        provenance[dataset] = {"command": "eval-text", "split": sp, "lines": len(lines),
                               "bytes": sum(len(ln.encode("utf-8")) for ln in lines)}
        fingerprints += corpus.fingerprint()
        report.corpora.append({"dataset": dataset, **provenance[dataset]})
        for tok, nm in zip(toks, names):
            seen = training_overlap(tok, corpus)
            if seen:
                report.warnings.append(f"{nm} was trained on lines of {dataset} ({', '.join(seen)}): these figures "
                                       "are not held-out")
    pcorpora = [load_any_parallel(p, pivot=pivot, min_entries=min_entries) for p in parallel]
    for pc in pcorpora:
        report.parallel.append({**pc.summary(), "measures": measures(pc.name),
                                "missing_untranslated": sum(pc.missing.values())})
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
        info["vocab_size_requested"] = requested_vocab(tok)
        info["vocab_size_reached"] = tok.vocab_size
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
                report.add(nm, dataset, metric, value, **provenance[dataset])
        if ref is not None:
            for nm, n in zip(names, lengths):
                if lengths[ref] > 0:
                    report.add(nm, dataset, "normalized_sequence_length", rate.normalized_sequence_length(n, lengths[ref]),
                               note=f"reference: {names[ref]}", **provenance[dataset])
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
