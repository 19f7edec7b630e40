"""The helpers benchmarks/text_variants.py builds its domain, triad and char rows with (issue 13): the domain
tokenizer's plain peer is the very probe its report used, the OCR subset is the one the char report scores,
the triad wrapper reports the BPE part as the reached size, and a reached-vocabulary cell says when sizes differ."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import text_variants as tv  # noqa: E402

from tokbench.sources.text import Corpus  # noqa: E402
from tokbench.text.domain import _tokens_per_char  # noqa: E402
from tokbench.text.evaluate import evaluation_lines  # noqa: E402


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """~150 KB of license text (domain) and of English prose (reference), cut from the built-ins; a few blank
    lines and numbers in the prose."""
    root = tmp_path_factory.mktemp("tvbench")
    legal, ref = root / "legal.txt", root / "english.txt"
    legal.write_text(Corpus("builtin:legal", split="train").text(max_chars=150_000), encoding="utf-8")
    prose = Corpus("builtin:english", split="train").text(max_chars=150_000)
    ref.write_text(prose + "\n\nIn 2024 it cost 1,234.50 dollars; 3.25% of 10000 is 325.\n\n" * 20, encoding="utf-8")
    return legal, ref


@pytest.mark.parametrize("metrics, key, expected", [
    ({"a/heldout": {"x": 1, "lines": 3}, "training": {"seconds": 2}}, "x", {"x": 1, "lines": 3}),
    ({"a/heldout": {"lines": 3}, "a/heldout (variant comparison)": {"x": 2}}, "x", {"x": 2}),
    ({"a/heldout": {"lines": 3}}, "x", None),  # none holds it
    ({"a/heldout": {"x": 1}, "b/heldout": {"x": 2}}, "x", None),  # two hold it: which one is unknowable
])
def test_metrics_holding(metrics, key, expected) -> None:
    if expected is None:
        with pytest.raises(KeyError):
            tv.metrics_holding(metrics, key)
    else:
        assert tv.metrics_holding(metrics, key) == expected


@pytest.mark.parametrize("variant, plain, expected", [
    (8192, 8192, "8,192"), (8191, 8192, "8,191 / 8,192 (NOT equal)"), (32000, 19204, "32,000 / 19,204 (NOT equal)")])
def test_vocab_label_says_when_sizes_differ(variant, plain, expected) -> None:
    assert tv.vocab_label(variant, plain) == expected


def test_heldout_lines_are_the_scored_lines(corpora) -> None:
    _, ref = corpora
    lines = tv.heldout_lines(str(ref))
    assert lines == list(evaluation_lines(Corpus(str(ref), split="heldout").lines()))
    assert lines and all(ln.strip() for ln in lines)


def test_ocr_subset_is_what_the_char_report_scores(corpora, tmp_path) -> None:
    _, ref = corpora
    path = tmp_path / "char.json"
    info, reached = tv._char_variant(str(ref), 700, path)
    report = tv.metrics_holding(info["res"].metrics, "boundary_f1")
    lines = tv.ocr_subset(Corpus(str(ref), split="heldout").text(max_chars=200_000))
    assert (len(lines), tv._size(lines)) == (report["lines"], report["bytes"])
    assert all(ln.strip() for ln in lines) and all(ln.endswith("\n") for ln in lines[:-1])
    assert reached == tv._reached(path) == info["res"].vocab["reached"]
    assert "plain_boundary_f1" not in report  # no plain peer inside: the section trains it at the reached size


def test_triad_variant_reached_is_the_bpe_part(corpora, tmp_path) -> None:
    _, ref = corpora
    info, reached = tv._triad_variant(str(ref), "suffix", 600, tmp_path / "triad.json")
    assert info["added"] > 1000 and reached == info["total"] - info["added"] == 600
    assert info["metrics"]["triad_numbers"] > 0 and info["metrics"]["round_trip_rate"] == 1.0
    assert "plain_bytes_per_token" not in info["metrics"]  # compare=False: the section's own peer is used
    assert (tmp_path / "triad.json").is_file()


def test_domain_probe_is_the_reports_plain_peer(corpora, tmp_path) -> None:
    from tokbench.text.bpe import train_bpe

    legal, ref = corpora
    res = train_bpe(str(legal), vocab_size=2600, variant="domain", runs_dir=tmp_path / "runs",
                    options={"reference": str(ref), "max_terms": 40})
    report = res.metrics[f"{legal}/heldout"]
    probe = tv._domain_probe(res, tmp_path / "probe")
    lines = tv.heldout_lines(str(legal))
    assert _tokens_per_char(probe, lines) == pytest.approx(report["plain_tokens_per_char"], rel=1e-12)
    assert probe.vocab_size == report["plain_vocab_size"]
    assert "<|start|>" in probe.vocab()  # KL3M's specials, as the probe inside train_domain has them
    smaller = tv._domain_probe(res, tmp_path / "probe-small", 2500)
    assert smaller.vocab_size == 2500
