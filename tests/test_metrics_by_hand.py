"""The text and codebook metric functions at their edges, counted by hand: each case pins a boundary or a
default that a one-character change would move (issue 19, mutation testing of tokbench/metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokbench.metrics import codebook as cb
from tokbench.metrics import premiums, rate


# ---------------------------------------------------------------------------------------------- codebook
def test_counts_from_ids_bounds():
    assert cb.counts_from_ids([0, 2, 2], 3).tolist() == [1, 0, 2]
    assert cb.counts_from_ids(np.array([[1], [1]]), 2).tolist() == [0, 2]
    assert cb.counts_from_ids([], 2).tolist() == [0, 0]
    for bad in ([3], [-1]):
        with pytest.raises(ValueError, match=r"ids outside \[0, 3\)"):
            cb.counts_from_ids(bad, 3)
    assert cb.counts_from_ids([2], 3).dtype == np.int64


def test_entropy_perplexity_usage_dead_codes_by_hand():
    counts = [3, 1, 0, 0]
    h = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert cb.entropy_bits(counts) == pytest.approx(h)
    assert cb.perplexity(counts) == pytest.approx(2 ** h)
    assert cb.usage(counts) == 0.5 and cb.dead_codes(counts) == 2 and cb.dead_codes([3, 0, 0]) == 2
    assert cb.usage([0, 3, 0, 1, 0, 0], size=4) == 0.5  # used ids counted wherever they lie, over V = size
    assert cb.entropy_bits([1]) == 0.0  # a single token is enough to count
    assert cb.entropy_bits([5]) == 0.0 and cb.perplexity([5]) == 1.0
    with pytest.raises(ValueError, match="^no tokens counted$"):
        cb.entropy_bits([0, 0])
    assert cb.perplexity_from_entropy(10.0) == 1024.0
    assert cb.perplexity_from_entropy(1023.5) == pytest.approx(2.0 ** 1023.5)
    assert cb.perplexity_from_entropy(1024.0) == math.inf


def test_renyi_and_shannon_efficiency_by_hand():
    counts = [2, 1, 1, 0]
    p = np.array([0.5, 0.25, 0.25])
    renyi = math.log2((p ** 2.5).sum()) / (1 - 2.5)
    assert cb.renyi_entropy_bits(counts) == pytest.approx(renyi)  # alpha defaults to 2.5
    assert cb.renyi_entropy_bits(counts, 2.0) == pytest.approx(-math.log2((p ** 2).sum()))
    assert cb.renyi_entropy_bits(counts, 1.0) == pytest.approx(cb.entropy_bits(counts))  # the Shannon limit
    assert cb.renyi_entropy_bits(counts, 1.0 + 1e-9) == pytest.approx(cb.entropy_bits(counts), rel=1e-6)
    assert cb.renyi_efficiency(counts) == pytest.approx(renyi / 2)  # V defaults to len(counts) = 4
    assert cb.renyi_efficiency(counts, vocab_size=16) == pytest.approx(renyi / 4)
    assert cb.shannon_efficiency(counts) == pytest.approx(1.5 / 2)
    assert cb.shannon_efficiency(counts, vocab_size=8) == pytest.approx(1.5 / 3)
    with pytest.raises(ValueError, match="^vocabulary of size <= 1 has no efficiency$"):
        cb.renyi_efficiency([4], vocab_size=1)
    assert cb.renyi_efficiency([1, 1]) == pytest.approx(1.0)  # two equally used tokens: 1 bit of 1
    assert cb.renyi_efficiency(counts, alpha=2.0) == pytest.approx(-math.log2((p ** 2).sum()) / 2)


# ---------------------------------------------------------------------------------------------- rate
def test_rates_by_hand_and_zero_denominators():
    assert rate.bytes_per_token(10, 4) == 2.5 and rate.chars_per_token(6, 4) == 1.5
    assert rate.tokens_per_char(3, 12) == 0.25 and rate.fertility(9, 6) == 1.5
    assert rate.bits_per_token(1) == 0.0 and rate.bits_per_token(1024) == 10.0
    assert rate.bits_per_pixel(16, 10.0, 64) == 2.5
    assert rate.bits_per_second(75.0, 10.0) == 750.0
    assert rate.kbps(8, 1024, 75.0) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="^vocabulary size must be >= 1$"):
        rate.bits_per_token(0)
    for fn, what in ((rate.bytes_per_token, "bytes per token"), (rate.fertility, "fertility"),
                     (rate.chars_per_token, "chars per token"), (rate.tokens_per_char, "tokens per char"),
                     (rate.normalized_sequence_length, "normalized sequence length"), (rate.exact_rate, "exact rate"),
                     (lambda a, b: rate.bits_per_pixel(a, 1.0, b), "bits per pixel"),
                     (lambda a, b: rate.fertility_words_alone([]), r"fertility \(words alone\)"),
                     (lambda a, b: rate.continued_words([]), "proportion of continued words")):
        with pytest.raises(ValueError, match=f"^cannot compute {what}: denominator is zero$"):
            fn(3, 0)
    assert rate.bytes_per_token(5, 1) == 5.0  # a denominator of one is fine
    assert rate.continued_words([1, 1, 2]) == pytest.approx(1 / 3)  # exactly 2 tokens counts as continued
    assert rate.fertility_words_alone([1, 2, 3, 6]) == 3.0


@pytest.mark.parametrize("digits,bucket", [(1, "d1"), (2, "d2"), (3, "d3"), (4, "d4-6"), (6, "d4-6"), (7, "d7-9"),
                                           (9, "d7-9"), (10, "d10+"), (10 ** 9, "d10+")])
def test_number_buckets_at_their_edges(digits, bucket):
    assert rate.number_bucket(digits) == bucket


def test_tokens_per_number_means_in_bucket_order():
    with pytest.raises(ValueError, match="at least one digit, got 0"):
        rate.number_bucket(0)
    with pytest.raises(ValueError):
        rate.number_bucket(10 ** 9 + 1)
    got = rate.tokens_per_number([(12, 5), (1, 1), (5, 2), (4, 4), (1, 2)])
    assert list(got) == ["d1", "d4-6", "d10+"] and got == {"d1": 1.5, "d4-6": 3.0, "d10+": 5.0}
    assert rate.tokens_per_number([]) == {}


# ---------------------------------------------------------------------------------------------- premiums
def test_premium_and_parity_refuse_misaligned_or_empty_pivots():
    with pytest.raises(ValueError, match="^premium needs the same aligned lines in both languages$"):
        premiums.token_premium([1, 2], [1])
    with pytest.raises(ValueError, match="^parity needs the same aligned lines in both languages$"):
        premiums.parity([1, 2], [1])
    for fn in (premiums.token_premium, premiums.parity):
        with pytest.raises(ValueError, match="^the pivot language has no tokens$"):
            fn([1, 2], [0, 0])
    assert premiums.token_premium([2], [1]) == 2.0  # one pivot token is enough
    assert premiums.parity([3, 2], [1, 2]) == 2.0  # (3/1 + 2/2) / 2: a one-token pivot line counts
    # parity skips lines whose pivot side is empty; the premium counts them
    assert premiums.parity([4, 3, 5], [2, 0, 5]) == pytest.approx((2 + 1) / 2)
    assert premiums.token_premium([4, 3, 5], [2, 0, 5]) == pytest.approx(12 / 7)
    assert premiums.corpus_token_count([np.int64(2), 3]) == 5 and isinstance(premiums.corpus_token_count([1]), int)


def test_spread_by_hand():
    s = premiums.spread({"en": 1.0, "de": 1.5, "ru": 2.5, "xx": float("nan")})
    mean = 5.0 / 3
    std = math.sqrt(((1 - mean) ** 2 + (1.5 - mean) ** 2 + (2.5 - mean) ** 2) / 3)  # population σ
    assert s == {"min": 1.0, "max": 2.5, "mean": pytest.approx(mean), "max_over_min": 2.5,
                 "cv": pytest.approx(std / mean), "n": 3}
    assert premiums.spread([0.0, 2.0])["max_over_min"] == math.inf
    low = premiums.spread([0.5, 0.75])  # mean below 1, min not 1
    assert low["max_over_min"] == 1.5 and low["cv"] == pytest.approx(0.125 / 0.625)
    assert math.isnan(premiums.spread([0.0, 0.0])["cv"])
    with pytest.raises(ValueError, match="^no values to summarize$"):
        premiums.spread([float("nan")])


def test_group_mean_skips_missing_values_and_names_unknown_groups():
    got = premiums.group_mean({"a": 1.0, "b": 3.0, "c": None, "d": float("inf"), "e": 5.0},
                              {"a": "Latn", "b": "Latn", "c": "Latn", "d": "Cyrl"})
    assert got == {"Latn": 2.0, "Unknown": 5.0} and list(got) == ["Latn", "Unknown"]


def test_power_law_fit_and_its_inverse():
    sizes = [100, 200, 400, 800]
    counts = [3.0 * v ** -0.5 for v in sizes]
    fit = premiums.fit_power_law(sizes, counts)
    assert fit["a"] == pytest.approx(3.0) and fit["b"] == pytest.approx(-0.5) and fit["r2"] == pytest.approx(1.0)
    assert premiums.vocab_for_target(fit, 3.0 * 1600 ** -0.5) == pytest.approx(1600)
    noisy = premiums.fit_power_law(sizes, [10.0, 9.0, 4.0, 3.5])
    pred = math.log(noisy["a"]) + noisy["b"] * np.log(sizes)
    obs = np.log([10.0, 9.0, 4.0, 3.5])
    assert noisy["r2"] == pytest.approx(1 - ((obs - pred) ** 2).sum() / ((obs - obs.mean()) ** 2).sum())
    assert premiums.fit_power_law([10, 20], [5.0, 5.0])["r2"] == 1.0  # flat counts: nothing left to explain
    for bad in (([100], [5.0]), ([100, 100], [5.0, 4.0])):
        with pytest.raises(ValueError, match="^a power-law fit needs at least two different vocabulary sizes$"):
            premiums.fit_power_law(*bad)
    for fit_, target in (({"a": 3.0, "b": 0.0}, 1.0), ({"a": 0.0, "b": -1.0}, 1.0), ({"a": 3.0, "b": -1.0}, 0.0)):
        assert math.isnan(premiums.vocab_for_target(fit_, target))
    assert premiums.vocab_for_target({"a": 0.5, "b": -1.0}, 0.25) == pytest.approx(2.0)  # a below 1 is fine


def test_add_counts_grows_past_the_vocabulary():
    counts = cb.add_counts(np.zeros(3, dtype=np.int64), [1, 1, 2])
    assert counts.tolist() == [0, 2, 1] and counts.dtype == np.int64
    grown = cb.add_counts(counts, [3])  # an id equal to the size grows the histogram by one
    assert grown.tolist() == [0, 2, 1, 1]
    assert cb.add_counts(grown, [6]).tolist() == [0, 2, 1, 1, 0, 0, 1]
    assert cb.add_counts(grown, []).tolist() == [0, 2, 1, 1]
