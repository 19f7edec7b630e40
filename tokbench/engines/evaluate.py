"""Evaluation sharded like counting: each worker encodes its shard's lines and returns additive sums (bytes,
characters, words, tokens, exact round trips, a token-id histogram; for eval-text also canonical re-encodings
and the distinct words and numbers with their counts); the driver adds them up and applies the formulas of
`tokbench.text.evaluate` (`basic_metrics` for train-bpe's held-out report, `corpus_stats` for eval-text), so a
10 GB held-out split is never one process.

The tokenizer reaches the workers as a picklable zero-argument factory (the text module builds it), so this
module needs no modality. Scored lines follow the evaluation rule of the text module: non-blank lines, each
encoded alone without special tokens; tests check the figures equal `basic_metrics` on the same lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tokbench.engines.cluster import map_shards
from tokbench.engines.counting import number_shards
from tokbench.engines.shards import Shard, shard_lines
from tokbench.metrics import codebook, rate

_TOKENIZERS: dict[Any, Any] = {}  # per worker process: factory -> tokenizer, built once


@dataclass
class TextSums:
    """Additive statistics of encoded lines."""

    lines: int = 0
    bytes: int = 0
    chars: int = 0
    words: int = 0
    tokens: int = 0
    exact: int = 0
    id_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, other: TextSums) -> TextSums:
        size = max(self.id_counts.size, other.id_counts.size)
        counts = np.zeros(size, dtype=np.int64)
        counts[: self.id_counts.size] += self.id_counts
        counts[: other.id_counts.size] += other.id_counts
        return TextSums(self.lines + other.lines, self.bytes + other.bytes, self.chars + other.chars,
                        self.words + other.words, self.tokens + other.tokens, self.exact + other.exact, counts)


def encode_sums(tokenizer: Any, lines: Iterable[str], batch_size: int = 512) -> TextSums:
    """Sums over the non-blank `lines`, each encoded alone (`tokenizer.encode_batch`, `.decode`)."""
    sums = TextSums(id_counts=np.zeros(tokenizer.vocab_size, dtype=np.int64))
    batch: list[str] = []

    def flush() -> None:
        for line, ids in zip(batch, tokenizer.encode_batch(batch)):
            sums.lines += 1
            sums.bytes += len(line.encode("utf-8"))
            sums.chars += len(line)
            sums.words += len(line.split())
            sums.tokens += len(ids)
            sums.id_counts = codebook.add_counts(sums.id_counts, ids)
            sums.exact += tokenizer.decode(ids) == line
        batch.clear()

    _in_batches(lines, batch, batch_size, flush)
    return sums


def _in_batches(lines, batch: list, batch_size: int, flush) -> None:
    """Feed the non-blank `lines` into `batch`, calling `flush` (which empties it) every `batch_size` lines."""
    for line in lines:
        if line.strip():
            batch.append(line)
            if len(batch) >= batch_size:
                flush()
    if batch:
        flush()


def basic_from_sums(sums: TextSums, vocab_size: int) -> dict[str, float]:
    """The figures of `basic_metrics`: bytes/token, chars/token, tokens per whitespace word, utilization of the
    first `vocab_size` ids, and the exact round-trip rate (formulas in `tokbench.metrics.rate` / `.codebook`)."""
    if sums.tokens == 0:
        return {"lines": sums.lines, "bytes": sums.bytes, "tokens": 0}
    counts = sums.id_counts
    if counts.size < vocab_size:
        counts = np.pad(counts, (0, vocab_size - counts.size))
    return {
        "lines": sums.lines,
        "bytes": sums.bytes,
        "tokens": sums.tokens,
        "bytes_per_token": rate.bytes_per_token(sums.bytes, sums.tokens),
        "chars_per_token": rate.chars_per_token(sums.chars, sums.tokens),
        "tokens_per_word": rate.fertility(sums.tokens, sums.words) if sums.words else float("nan"),
        "vocab_utilization": codebook.usage(counts, size=vocab_size),
        "round_trip_rate": sums.exact / sums.lines,
    }


def shard_sums(shard: Shard, make_tokenizer: Callable[[], Any], errors: str) -> TextSums:
    """Worker side: sums of one shard (the tokenizer is built once per worker process)."""
    tok = _TOKENIZERS.get(make_tokenizer)
    if tok is None:
        tok = _TOKENIZERS[make_tokenizer] = make_tokenizer()
    return encode_sums(tok, shard_lines(shard, errors))


def sharded_basic_metrics(client: Any, shards: Sequence[Shard], make_tokenizer: Callable[[], Any], vocab_size: int,
                          *, errors: str = "strict", description: str = "held-out evaluation") -> dict[str, float]:
    """`basic_metrics` over the lines of `shards`, computed on the engine."""
    total = TextSums()
    for _, part in map_shards(client, shard_sums, number_shards(client, shards), make_tokenizer, errors,
                              description=description):
        total = total.add(part)
    return basic_from_sums(total, vocab_size)


# ---------------------------------------------------------------------------------------------- eval-text
_NUMBER = re.compile(r"[0-9]+")  # a number: a maximal run of ASCII digits (tokbench.text.evaluate's rule)


@dataclass
class CorpusSums(TextSums):
    """TextSums plus what eval-text's corpus metrics need: canonical re-encodings and the distinct whitespace
    words and digit runs with their occurrences (encoded once each on the driver)."""

    canonical: int = 0
    word_counts: Counter = field(default_factory=Counter)
    number_counts: Counter = field(default_factory=Counter)

    def add(self, other: CorpusSums) -> CorpusSums:  # type: ignore[override]
        base = TextSums.add(self, other)
        return CorpusSums(base.lines, base.bytes, base.chars, base.words, base.tokens, base.exact, base.id_counts,
                          self.canonical + other.canonical, self.word_counts + other.word_counts,
                          self.number_counts + other.number_counts)


def encode_corpus_sums(tokenizer: Any, lines: Iterable[str], batch_size: int = 2048) -> CorpusSums:
    """Sums over `lines` (already the evaluation lines) as `tokbench.text.evaluate.corpus_stats` accumulates them."""
    sums = CorpusSums(id_counts=np.zeros(tokenizer.vocab_size, dtype=np.int64))
    batch: list[str] = []

    def flush() -> None:
        encoded = tokenizer.encode_batch(batch)
        decoded = [tokenizer.decode(ids) for ids in encoded]
        again = tokenizer.encode_batch(decoded)
        for line, ids, text, ids2 in zip(batch, encoded, decoded, again):
            split = line.split()
            sums.lines += 1
            sums.bytes += len(line.encode("utf-8"))
            sums.chars += len(line)
            sums.words += len(split)
            sums.word_counts.update(split)
            sums.number_counts.update(_NUMBER.findall(line))
            sums.tokens += len(ids)
            sums.id_counts = codebook.add_counts(sums.id_counts, ids)
            sums.exact += text == line
            sums.canonical += list(ids2) == list(ids)
        batch.clear()

    _in_batches(lines, batch, batch_size, flush)
    return sums


def corpus_from_sums(sums: CorpusSums, tokenizer: Any, alpha: float = 2.5) -> dict[str, float]:
    """eval-text's corpus metrics from merged sums (the formulas of `corpus_stats`, in `tokbench.metrics`)."""
    vsize = tokenizer.vocab_size
    out: dict[str, float] = {"lines": sums.lines, "tokens": sums.tokens}
    if sums.tokens == 0:
        return out
    counts = sums.id_counts
    if counts.size < vsize:
        counts = np.pad(counts, (0, vsize - counts.size))
    out["bytes_per_token"] = rate.bytes_per_token(sums.bytes, sums.tokens)
    out["chars_per_token"] = rate.chars_per_token(sums.chars, sums.tokens)
    out["tokens_per_char"] = rate.tokens_per_char(sums.tokens, sums.chars)
    if sums.words:
        out["fertility_corpus"] = rate.fertility_corpus(sums.tokens, sums.words)
        distinct = list(sums.word_counts)
        lens = [len(ids) for ids in tokenizer.encode_batch(distinct)]
        weighted = np.repeat(np.asarray(lens), [sums.word_counts[w] for w in distinct])
        out["fertility_words_alone"] = rate.fertility_words_alone(weighted)
        out["continued_words"] = rate.continued_words(weighted)
    out["entropy_bits"] = codebook.entropy_bits(counts)
    out["shannon_efficiency"] = codebook.shannon_efficiency(counts, vocab_size=vsize)
    out[f"renyi_efficiency_{alpha:g}"] = codebook.renyi_efficiency(counts, alpha=alpha, vocab_size=vsize)
    out["vocab_utilization"] = codebook.usage(counts, size=vsize)
    out["round_trip_rate"] = rate.exact_rate(sums.exact, sums.lines)
    out["canonicality_rate"] = rate.exact_rate(sums.canonical, sums.lines)
    if sums.number_counts:
        distinct_n = list(sums.number_counts)
        lens = [len(ids) for ids in tokenizer.encode_batch(distinct_n)]
        samples = [(len(num), n) for num, n_tok in zip(distinct_n, lens) for n in [n_tok] * sums.number_counts[num]]
        for bucket, value in rate.tokens_per_number(samples).items():
            out[f"tokens_per_number_{bucket}"] = value
    return out


def shard_corpus_sums(shard: Shard, make_tokenizers: Sequence[Callable[[], Any]], errors: str) -> list[CorpusSums]:
    """Worker side: one read of the shard, sums for every tokenizer."""
    lines = list(shard_lines(shard, errors))
    out = []
    for make in make_tokenizers:
        tok = _TOKENIZERS.get(make)
        if tok is None:
            tok = _TOKENIZERS[make] = make()
        out.append(encode_corpus_sums(tok, lines))
    return out


def sharded_corpus_sums(client: Any, shards: Sequence[Shard], make_tokenizers: Sequence[Callable[[], Any]], *,
                        errors: str = "strict", description: str = "evaluation") -> list[CorpusSums]:
    """Merged CorpusSums per tokenizer over `shards`, computed on the engine (finish with `corpus_from_sums`)."""
    totals = [CorpusSums() for _ in make_tokenizers]
    for _, parts in map_shards(client, shard_corpus_sums, number_shards(client, shards), list(make_tokenizers),
                               errors, description=description):
        totals = [t.add(p) for t, p in zip(totals, parts)]
    return totals
