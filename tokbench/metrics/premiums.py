"""Token premiums and parity on parallel corpora: how many more tokens a language pays for the same content.

Inputs are per-line token counts of aligned lines (each line encoded on its own, without special tokens), so
these functions know nothing of tokenizers or files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def corpus_token_count(token_counts: Sequence[int]) -> int:
    """CTC, the corpus token count: CTC = Σ_i |T(s_i)| over a fixed set of aligned lines, each encoded alone.

    Arnett, Chang, Biderman & Bergen 2025, "Explaining and Mitigating Crosslingual Tokenizer Inequities"
    (NeurIPS 2025), measure token premiums through the CTC of the same parallel text (FLORES-200) in each
    language."""
    return int(sum(int(c) for c in token_counts))


def token_premium(counts: Sequence[int], pivot_counts: Sequence[int]) -> float:
    """Token premium of a language L: premium_L = CTC_L / CTC_pivot over the same aligned lines (pivot: English).

    Petrov, La Malfa, Torr & Bibi 2023, "Language Model Tokenizers Introduce Unfairness Between Languages"
    (NeurIPS 2023): the premium of language A relative to B is the ratio of the tokenized lengths of the same
    content, |T(s_A)| / |T(s_B)|, measured over FLORES-200 sentences; Arnett et al. 2025 compute the same ratio
    of corpus token counts. A premium of 1.5 means 50% more tokens for the same content; a tokenizer "achieves
    parity" for A (Petrov et al.) when the premium is close to 1.
    """
    if len(counts) != len(pivot_counts):
        raise ValueError("premium needs the same aligned lines in both languages")
    den = corpus_token_count(pivot_counts)
    if den <= 0:
        raise ValueError("the pivot language has no tokens")
    return corpus_token_count(counts) / den


def parity(counts: Sequence[int], pivot_counts: Sequence[int]) -> float:
    """Mean per-sentence length ratio, reported as `parity`: (1/N) Σ_i |T(s_i^L)| / |T(s_i^pivot)| over aligned
    lines whose pivot side has at least one token; 1 = parity.

    Petrov et al. 2023 state parity per translated sentence pair (a tokenizer achieves parity for A with
    respect to B when |T(s_A)| / |T(s_B)| ≈ 1) and report the premium on a corpus; this is the sentence-level
    reading of that definition, averaged. Unlike the premium (a ratio of totals), every line weighs the same
    however long it is, so short lines pull it up: use `token_premium` to compare with published premiums.
    """
    if len(counts) != len(pivot_counts):
        raise ValueError("parity needs the same aligned lines in both languages")
    a = np.asarray(counts, dtype=np.float64)
    b = np.asarray(pivot_counts, dtype=np.float64)
    keep = b > 0
    if not keep.any():
        raise ValueError("the pivot language has no tokens")
    return float((a[keep] / b[keep]).mean())


def spread(values: Sequence[float] | Mapping[str, float]) -> dict[str, float]:
    """One-number summaries of how unequal premiums are across languages:
    max/min ratio (the range the crosslingual studies quote) and the coefficient of variation
    CV = σ / μ (population standard deviation), plus min, max and mean."""
    vals = np.asarray(list(values.values()) if isinstance(values, Mapping) else list(values), dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        raise ValueError("no values to summarize")
    lo, hi, mean = float(vals.min()), float(vals.max()), float(vals.mean())
    return {
        "min": lo,
        "max": hi,
        "mean": mean,
        "max_over_min": hi / lo if lo > 0 else math.inf,
        "cv": float(vals.std() / mean) if mean > 0 else math.nan,
        "n": int(vals.size),
    }


def group_mean(values: Mapping[str, float], groups: Mapping[str, str]) -> dict[str, float]:
    """Mean of per-language values within each group (e.g. script): {group: mean over its languages}."""
    acc: dict[str, list[float]] = {}
    for lang, v in values.items():
        if v is None or not math.isfinite(v):
            continue
        acc.setdefault(groups.get(lang, "Unknown"), []).append(float(v))
    return {g: float(np.mean(v)) for g, v in sorted(acc.items())}


def fit_power_law(vocab_sizes: Sequence[float], token_counts: Sequence[float]) -> dict[str, float]:
    """Fit CTC(V) = a · V^b by least squares in log-log space: log CTC = log a + b log V.

    Returns a, b (b < 0: more vocabulary, fewer tokens) and r2 of the log-log fit. Arnett, Chang, Biderman &
    Bergen 2025 ("Explaining and Mitigating Crosslingual Tokenizer Inequities") fit, per language, the CTC of
    monolingual tokenizers against their vocabulary size with a power law and solve it for the size at which
    the language's CTC matches a target (its "optimal" vocabulary size); `sweep-vocab` does the same over the
    vocabulary sizes its tokenizers actually reached.
    """
    v = np.log(np.asarray(vocab_sizes, dtype=np.float64))
    c = np.log(np.asarray(token_counts, dtype=np.float64))
    if v.size < 2 or np.ptp(v) == 0:
        raise ValueError("a power-law fit needs at least two different vocabulary sizes")
    b, log_a = np.polyfit(v, c, 1)
    pred = log_a + b * v
    ss_res = float(((c - pred) ** 2).sum())
    ss_tot = float(((c - c.mean()) ** 2).sum())
    return {"a": float(math.exp(log_a)), "b": float(b), "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0}


def vocab_for_target(fit: Mapping[str, float], target_count: float) -> float:
    """The vocabulary size at which a fitted power law a · V^b reaches `target_count` tokens:
    V* = (target / a)^(1/b) (the inversion Arnett et al. 2025 use for language-specific vocabulary sizes)."""
    a, b = float(fit["a"]), float(fit["b"])
    if b == 0 or a <= 0 or target_count <= 0:
        return math.nan
    return float((target_count / a) ** (1.0 / b))
