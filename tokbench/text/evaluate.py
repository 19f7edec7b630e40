"""Run text metrics over a tokenizer and a corpus.

`basic_metrics` is what `train-bpe` reports after training (issue: foundation): compression, fertility,
vocabulary utilization and round-trip exactness on held-out text, streamed in batches of lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from tokbench.metrics import codebook, rate
from tokbench.text.tokenizer import TextTokenizer


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def basic_metrics(tokenizer: TextTokenizer, lines: Iterable[str], batch_size: int = 512) -> dict[str, float]:
    """Bytes/token, chars/token, fertility (tokens per whitespace word), utilization and round-trip rate.

    Each line is encoded on its own, without special tokens; round trip counts lines where
    decode(encode(line)) == line exactly.
    """
    n_bytes = n_chars = n_words = n_tokens = n_lines = exact = 0
    counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)
    for batch in _batches(lines, batch_size):
        encoded = tokenizer.encode_batch(batch)
        for line, ids in zip(batch, encoded):
            n_lines += 1
            n_bytes += len(line.encode("utf-8"))
            n_chars += len(line)
            n_words += len(line.split())
            n_tokens += len(ids)
            if ids:
                arr = np.asarray(ids, dtype=np.int64)
                if arr.max() >= counts.size:
                    counts = np.pad(counts, (0, int(arr.max()) + 1 - counts.size))
                np.add.at(counts, arr, 1)
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
