"""New-user review of the text side: one label = one set of lines for the variants' comparison metrics, provenance
(lines, bytes) on every comparison row, the plain peer's reached vocabulary, honest titles and number formats.
Each test fails on the behaviour the review describes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tokbench.sources.text import Corpus
from tokbench.text.bpe import BPESpec
from tokbench.text.evaluate import basic_metrics
from tokbench.text.tokenizer import load_tokenizer

# blank and whitespace-only lines: train-bpe's held-out report skips them (evaluation_lines)
MIXED_LINES = ["The 12 apples cost 3.50 dollars.", "", "   ", "In 1999 there were 1,024 of them.", "\t", "end"]


def _artifacts(run: Path) -> Path:
    return run / "artifacts"


# ---------------------------------------------------------------------------------------------- item 1
def test_supertoken_comparison_scores_the_heldout_reports_lines(tiny_hf_run):
    from tokbench.text.supertoken import compare_on_heldout

    path = _artifacts(tiny_hf_run) / "tokenizer.json"
    out = compare_on_heldout(path, path, MIXED_LINES)
    held = basic_metrics(load_tokenizer(tiny_hf_run), MIXED_LINES)
    assert (out["lines"], out["bytes"]) == (held["lines"], held["bytes"]) == (3, held["bytes"])
    assert math.isclose(out["supertoken_bytes_per_token"], held["bytes_per_token"], rel_tol=1e-12)
    assert out["bytes_per_token_ratio_vs_plain"] == 1.0  # the same tokenizer on the same lines
    assert out["plain_vocab_size"] == out["supertoken_vocab_size"]


def test_triad_number_metrics_score_the_heldout_reports_lines(tiny_hf_run):
    from tokbench.text.triad import number_metrics

    tok = load_tokenizer(tiny_hf_run)
    out = number_metrics(tok, MIXED_LINES)
    held = basic_metrics(tok, MIXED_LINES)
    assert (out["lines"], out["bytes"]) == (held["lines"], held["bytes"])
    assert math.isclose(out["bytes_per_token"], held["bytes_per_token"], rel_tol=1e-12)


def test_domain_comparison_scores_the_heldout_reports_lines(tiny_hf_run, small_corpus):
    from tokbench.text.domain import _domain_report

    corpus = Corpus([str(small_corpus)], split="train")
    tok = load_tokenizer(tiny_hf_run)
    out = _domain_report(corpus, _artifacts(tiny_hf_run), tok, corpus.name, [], lambda s: s)
    values = out[f"{corpus.name}/heldout"]
    held = basic_metrics(tok, Corpus([str(small_corpus)], split="heldout").lines())
    assert (values["lines"], values["bytes"]) == (held["lines"], held["bytes"])
    assert math.isclose(values["tokens_per_char"], 1 / held["chars_per_token"], rel_tol=1e-12)
    assert values["plain_vocab_size"] == tok.vocab_size  # item 3: the peer's reached size is recorded


# ---------------------------------------------------------------------------------------------- items 2, 3
def test_char_report_carries_provenance_and_the_peers_size(tiny_hf_run, small_corpus):
    from tokbench.text.domain import _char_report

    corpus = Corpus([str(small_corpus)], split="train")
    out = _char_report(BPESpec(vocab_size=600), corpus, _artifacts(tiny_hf_run), {"ocr_chars": 20_000})
    values = out[f"{corpus.name}/heldout (ocr noise)"]
    assert values["lines"] > 0 and values["bytes"] >= 20_000 * 0.9
    assert values["plain_vocab_size"] > 256


def test_triad_report_records_the_peers_size_and_lines(tiny_hf_run, small_corpus):
    from tokbench.text.evaluate import comparison_notes
    from tokbench.text.triad import TriadTransform, _report

    corpus = Corpus([str(small_corpus)], split="train")
    out = _report(BPESpec(vocab_size=600), corpus, _artifacts(tiny_hf_run), TriadTransform("vocab"),
                  "builtin:numbers", True)
    values = out["builtin:numbers/heldout"]
    held = basic_metrics(load_tokenizer(tiny_hf_run), Corpus("builtin:numbers", split="heldout").lines())
    assert (values["lines"], values["bytes"]) == (held["lines"], held["bytes"])
    assert values["plain_vocab_size"] == 600 and values["variant_vocab_size"] == 600
    assert "same reached vocabulary (600)" in comparison_notes(out, 999)[0]


# ---------------------------------------------------------------------------------------------- item 2
def test_diff_and_probe_state_split_lines_and_bytes(tiny_hf_run, tiny_spm_run, small_corpus, capsys):
    import json

    from tokbench.cli import main

    held = basic_metrics(load_tokenizer(tiny_hf_run), Corpus([str(small_corpus)], split="heldout").lines())
    rc = main(["diff", str(tiny_hf_run), str(tiny_spm_run), "-c", str(small_corpus), "--json"])
    prov = json.loads(capsys.readouterr().out)["provenance"]
    assert rc == 0 and prov["split"] == "heldout"
    assert (prov["lines"], prov["bytes"]) == (held["lines"], held["bytes"])
    rc = main(["diff", str(tiny_hf_run), str(tiny_spm_run), "-c", str(small_corpus)])
    out = " ".join(capsys.readouterr().out.split())
    assert rc == 0 and f"heldout split, {held['lines']:,} non-blank lines, {held['bytes']:,} bytes compared" in out
    rc = main(["probe", "-t", str(tiny_hf_run), "-c", str(small_corpus), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0 and payload["split"] == "heldout"
    assert (payload["results"][0]["lines"], payload["results"][0]["bytes"]) == (held["lines"], held["bytes"])
    rc = main(["probe", "-t", str(tiny_hf_run), "-c", str(small_corpus)])
    out = " ".join(capsys.readouterr().out.split())
    assert rc == 0 and f"(heldout split, {held['lines']:,} lines, {held['bytes']:,} bytes)" in out


def test_sweep_rows_and_table_carry_lines_and_bytes(small_corpus, capsys):
    import json

    from tokbench.cli import main
    from tokbench.text.sweep import sweep_vocab

    held = [ln for ln in Corpus([str(small_corpus)], split="heldout").lines() if ln.strip()]
    n_bytes = sum(len(ln.encode("utf-8")) for ln in held)
    res = sweep_vocab(corpus=str(small_corpus), sizes=[300, 400])
    rows = [r for r in res.rows() if r["metric"] == "corpus_token_count"]
    assert rows and all((r["lines"], r["bytes"]) == (len(held), n_bytes) for r in rows)
    rc = main(["sweep-vocab", "-c", str(small_corpus), "--sizes", "300,400", "--no-run"])
    out = " ".join(capsys.readouterr().out.split())
    assert rc == 0 and f"({len(held):,} lines, {n_bytes:,} bytes)" in out
    rc = main(["sweep-vocab", "--parallel", "builtin:parallel", "-l", "fr", "--sizes", "270,340", "--no-run",
               "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0 and payload["scored"]["fr"]["lines"] > 0 and payload["scored"]["fr"]["bytes"] > 0
    rc = main(["sweep-vocab", "--parallel", "builtin:parallel", "-l", "fr", "--sizes", "270,340", "--no-run"])
    out = capsys.readouterr().out
    assert rc == 0 and f"{payload['scored']['fr']['bytes']:,}" in out


# ---------------------------------------------------------------------------------------------- item 4
@pytest.mark.parametrize(("value", "shown"), [(9.0, "9"), (441.0, "441"), (19204.0, "19,204"), (19204, "19,204"),
                                              (0.5, "0.5000"), (12.5, "12.50"), (1234.5, "1,234")])
def test_fmt_prints_integers_as_integers_with_separators(value, shown):
    from tokbench.cli.common import fmt

    assert fmt(value) == shown


def _help(command: str) -> str:
    from typer.testing import CliRunner

    from tokbench.cli import app

    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    return " ".join(result.output.replace("│", " ").split())


def test_help_shows_hex_bytes_and_variant_defaults():
    assert "shown as <hex bytes>" in _help("inspect")
    text = _help("train-bpe")
    assert "(default superbpe)" in text and "(default vocab)" in text and "(default 0.9 × --vocab-size)" in text


def test_spm_unigram_run_is_not_titled_bpe(small_corpus, tmp_path, capsys):
    from tokbench.cli import main

    rc = main(["train-bpe", "-c", str(small_corpus), "--backend", "spm", "--model-type", "unigram", "-v", "600",
               "--runs-dir", str(tmp_path), "--no-eval"])
    out = " ".join(capsys.readouterr().out.split())
    assert rc == 0 and "sentencepiece unigram, vocab" in out and "plain BPE" not in out


def test_comparison_on_other_lines_gets_its_own_label():
    from tokbench.text.bpe import comparison_label

    evaluations = {"x/heldout": {"lines": 10, "bytes": 500}}
    assert comparison_label("x/heldout", {"lines": 10, "bytes": 500}, evaluations) == "x/heldout"
    assert comparison_label("x/heldout", {"lines": 12, "bytes": 530}, evaluations) == "x/heldout (variant comparison)"
    assert comparison_label("x/heldout", {"bytes_per_token": 3.0}, evaluations) == "x/heldout (variant comparison)"
    assert comparison_label("y/heldout", {}, evaluations) == "y/heldout"


# ---------------------------------------------------------------------------------------------- item 5
def test_readme_counts_match_the_sentence_corpus():
    from tokbench.sources.parallel_sentences import load_any_parallel

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split())
    pc = load_any_parallel("builtin:parallel-sentences")
    assert f"{len(pc.languages)} languages including English" in readme
    assert "about 360 tests" not in readme
    summary = pc.summary()
    for key in ("dropped_misaligned", "dropped_by_language"):
        assert key in summary and f"`{key}`" in readme
    assert "`missing_untranslated`" in readme
    assert "sha256 is in the tokenizer run's data fingerprint" in readme
