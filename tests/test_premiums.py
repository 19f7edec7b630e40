"""Token premiums, parity, spread and the power-law fit against hand-computed values."""

from __future__ import annotations

import math

import pytest

from tokbench.metrics import premiums


def test_premium_is_ratio_of_corpus_token_counts():
    # CTC_L = 3 + 5 + 4 = 12, CTC_en = 2 + 4 + 2 = 8
    assert premiums.corpus_token_count([3, 5, 4]) == 12
    assert premiums.token_premium([3, 5, 4], [2, 4, 2]) == pytest.approx(12 / 8)


def test_parity_is_mean_of_per_sentence_ratios():
    # ratios 3/2, 5/4, 4/2 -> (1.5 + 1.25 + 2) / 3; the line with an empty pivot is skipped
    assert premiums.parity([3, 5, 4, 7], [2, 4, 2, 0]) == pytest.approx((1.5 + 1.25 + 2.0) / 3)
    assert premiums.parity([3, 5, 4], [2, 4, 2]) != premiums.token_premium([3, 5, 4], [2, 4, 2])


def test_premium_needs_aligned_lines():
    with pytest.raises(ValueError):
        premiums.token_premium([1, 2], [1])
    with pytest.raises(ValueError):
        premiums.token_premium([1], [0])


def test_spread_summaries():
    s = premiums.spread({"en": 1.0, "fr": 1.5, "ja": 3.0})
    assert s["max_over_min"] == pytest.approx(3.0)
    mean = 5.5 / 3
    sd = math.sqrt(((1 - mean) ** 2 + (1.5 - mean) ** 2 + (3 - mean) ** 2) / 3)
    assert s["cv"] == pytest.approx(sd / mean)
    assert s["n"] == 3 and s["mean"] == pytest.approx(mean)


def test_group_mean_by_script():
    out = premiums.group_mean({"fr": 1.2, "de": 1.4, "ru": 2.0, "xx": float("nan")},
                              {"fr": "Latn", "de": "Latn", "ru": "Cyrl"})
    assert out == {"Cyrl": pytest.approx(2.0), "Latn": pytest.approx(1.3)}


def test_power_law_fit_recovers_exact_law_and_inverts():
    sizes = [500, 1000, 2000, 4000]
    counts = [7000 * v ** -0.4 for v in sizes]
    fit = premiums.fit_power_law(sizes, counts)
    assert fit["a"] == pytest.approx(7000, rel=1e-9) and fit["b"] == pytest.approx(-0.4) and fit["r2"] == pytest.approx(1)
    # V* with a·V^b = target: (target / a)^(1/b)
    target = 7000 * 3000 ** -0.4
    assert premiums.vocab_for_target(fit, target) == pytest.approx(3000, rel=1e-6)
    with pytest.raises(ValueError):
        premiums.fit_power_law([100, 100], [1, 2])
