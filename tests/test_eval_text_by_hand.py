"""eval-text's bookkeeping counted by hand with a one-token-per-byte tokenizer: the rows it writes (with their
provenance), the edges of its counters, and premiums that cannot be computed. Written to kill the mutants of
tokbench/text/evaluate.py that the formula tests let through (issue 19, `make mutate`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from test_reported_numbers import PARALLEL, write_bytes_tokenizer
from tokbench.errors import TokbenchError
from tokbench.text import evaluate as ev
from tokbench.text.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def bytes_tok(tmp_path_factory):
    return load_tokenizer(f"hf:{write_bytes_tokenizer(tmp_path_factory.mktemp('b') / 'tokenizer.json')}")


def _tsv(path, header, rows):
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_add_counts_grows_past_the_vocabulary():
    counts = ev._add_counts(np.zeros(3, dtype=np.int64), [1, 1, 2])
    assert counts.tolist() == [0, 2, 1] and counts.dtype == np.int64
    grown = ev._add_counts(counts, [3])  # an id equal to the size grows the histogram by one
    assert grown.tolist() == [0, 2, 1, 1]
    assert ev._add_counts(grown, [6]).tolist() == [0, 2, 1, 1, 0, 0, 1]
    assert ev._add_counts(grown, []).tolist() == [0, 2, 1, 1]


def test_basic_metrics_by_hand(bytes_tok):
    m = ev.basic_metrics(bytes_tok, ["ab c", "日", "   ", "x"], batch_size=2)
    # blank lines are not scored; bytes 4 + 3 + 1, chars 4 + 1 + 1, words 2 + 1 + 1, tokens = bytes
    assert m["lines"] == 3 and m["tokens"] == 8 and m["bytes"] == 8
    assert m["bytes_per_token"] == 1.0 and m["chars_per_token"] == pytest.approx(6 / 8)
    assert m["tokens_per_word"] == pytest.approx(8 / 4)
    assert m["vocab_utilization"] == pytest.approx(len(set(b"ab c\xe6\x97\xa5x")) / 256)
    assert m["round_trip_rate"] == 1.0
    assert ev.basic_metrics(bytes_tok, ["", "  "]) == {"lines": 0, "bytes": 0, "tokens": 0}


def test_corpus_stats_of_one_token_and_a_chosen_alpha(bytes_tok):
    stats, per_line = ev.corpus_stats(bytes_tok, ["a"], alpha=2.0, batch_size=1)
    assert per_line == [1] and stats["tokens"] == 1 and stats["entropy_bits"] == 0.0
    assert stats["renyi_efficiency_2"] == 0.0 and stats["shannon_efficiency"] == 0.0
    stats, _ = ev.corpus_stats(bytes_tok, ["ab", "b"], alpha=2.0)
    p = np.array([1 / 3, 2 / 3])
    assert stats["renyi_efficiency_2"] == pytest.approx(-math.log2((p ** 2).sum()) / 8)  # log2 V = 8
    assert stats["shannon_efficiency"] == pytest.approx(-(p * np.log2(p)).sum() / 8)
    empty, per_line = ev.corpus_stats(bytes_tok, [""])
    assert empty["tokens"] == 0 and "bytes_per_token" not in empty and sum(per_line) == 0


def test_premium_rows_carry_their_provenance(bytes_tok, tmp_path):
    path = _tsv(tmp_path / "p.tsv", ["en", "de", "ru"], PARALLEL)
    report = ev.evaluate_text([bytes_tok], parallel=[path])
    name = report.tokenizers[0]["name"]
    rows = {(r["metric"], r.get("language")): r for r in report.rows}
    ru = rows[("token_premium", "ru")]
    assert ru == {"subject": name, "dataset": path, "metric": "token_premium", "value": pytest.approx(28 / 13),
                  "language": "ru", "script": "Cyrl", "n": 3, "command": "eval-text", "split": "all", "lines": 3,
                  "bytes": 28}
    assert {k: v for k, v in rows[("parity", "de")].items() if k != "value"} == \
        {**{k: v for k, v in rows[("token_premium", "de")].items() if k != "value"}, "metric": "parity"}
    assert rows[("corpus_token_count", "en")]["bytes"] == 13 and rows[("corpus_token_count", "en")]["dataset"] == path
    whole = {"subject": name, "dataset": path, "command": "eval-text", "split": "all", "lines": 9, "bytes": 58}
    for metric in ("token_premium_max_over_min", "token_premium_cv", "token_premium_mean", "parity_max_over_min",
                   "parity_cv", "parity_mean", "premium_languages"):
        assert {k: v for k, v in rows[(metric, None)].items() if k not in ("metric", "value")} == whole, metric
    parity = {"en": 1.0, "de": (4 / 5 + 1 + 2) / 3, "ru": (6 / 5 + 14 / 3 + 8 / 5) / 3}
    assert rows[("parity_mean", None)]["value"] == pytest.approx(sum(parity.values()) / 3)
    assert rows[("parity_max_over_min", None)]["value"] == pytest.approx(max(parity.values()))
    assert report.premiums_by_script[0] == {"subject": name, "dataset": path, "script": "Cyrl",
                                            "token_premium_mean": pytest.approx(28 / 13), "languages": 1}
    # metrics.json keeps the rows without a language, keyed metric[tokenizer]
    summary = report.metrics_json()
    assert list(summary) == [path] and summary[path][f"premium_languages[{name}]"] == 3
    assert not any("[" + name + "]" in k and k.startswith("token_premium[") for k in summary[path])
    with pytest.raises(KeyError):
        report.value(name, path, "token_premium", language="xx")
    d = report.to_dict()
    assert d["schema"] == 1 and d["kind"] == "text-eval" and d["rows"] == report.rows and "run_dir" not in d


def test_a_pivot_alone_gets_no_spread(bytes_tok, tmp_path):
    path = _tsv(tmp_path / "p.tsv", ["en", "de"], [("house", "")])  # German dropped: only the pivot is left
    report = ev.evaluate_text([bytes_tok], parallel=[path])
    assert [r["metric"] for r in report.rows] == ["token_premium", "parity", "corpus_token_count"]
    assert report.premiums_by_script == []


def test_premiums_that_cannot_be_computed_are_listed_not_invented(tmp_path):
    """A normalizer that deletes lowercase ASCII leaves the English pivot with no tokens at all."""
    delete = {"type": "Replace", "pattern": {"Regex": "[a-z ]"}, "content": ""}
    tok = load_tokenizer(f"hf:{write_bytes_tokenizer(tmp_path / 'tokenizer.json', delete)}")
    path = _tsv(tmp_path / "p.tsv", ["en", "de", "ru"], PARALLEL)
    report = ev.evaluate_text([tok], parallel=[path])
    name = report.tokenizers[0]["name"]
    reason = "the pivot language has no tokens"
    assert [u for u in report.unavailable if u["metric"] == "token_premium"] == [
        {"metric": "token_premium", "subject": name, "language": lang, "reason": reason} for lang in ("de", "en", "ru")]
    assert not any(r["metric"] == "token_premium" for r in report.rows)


def test_reference_tokenizer_resolution():
    assert ev._resolve_reference(None, ["a"]) is None and ev._resolve_reference(None, ["a", "b"]) == 0
    assert ev._resolve_reference("b", ["a", "b"]) == 1 and ev._resolve_reference(1, ["a", "b"]) == 1
    with pytest.raises(TokbenchError, match=r"reference tokenizer 'c' is not among the evaluated ones \(a, b\)"):
        ev._resolve_reference("c", ["a", "b"])


def test_options_reach_every_row_and_the_run_folder(bytes_tok, tmp_path):
    """Reference, alpha, max_lines, pivot and split as given; rows and run.json say what was scored."""
    from tokbench.runs import load_run

    lower = load_tokenizer(f"hf:{write_bytes_tokenizer(tmp_path / 'lower.json', {'type': 'Lowercase'})}")
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Ab\ncd\nef\n", encoding="utf-8")
    b.write_text("xyz\n", encoding="utf-8")
    tsv = _tsv(tmp_path / "p.tsv", ["en", "de"], [("house", "Haus"), ("red", "rot")])
    report = ev.evaluate_text([bytes_tok, lower], [str(a), str(b)], [tsv], split="all", reference=1, alpha=2.0,
                              max_lines=2, pivot="de", fast=False, runs_dir=tmp_path / "runs", name="opts")
    plain, lowered = [t["name"] for t in report.tokenizers]
    da, db = f"{a}[:2]", f"{b}[:2]"
    assert [c["dataset"] for c in report.corpora] == [da, db]
    assert report.corpora[0] == {"dataset": da, "command": "eval-text", "split": "all", "lines": 2, "bytes": 6}
    row = next(r for r in report.rows if (r["subject"], r["dataset"], r["metric"]) == (plain, da, "tokens"))
    assert row == {"subject": plain, "dataset": da, "metric": "tokens", "value": 6, "command": "eval-text",
                   "split": "all", "lines": 2, "bytes": 6}
    assert report.value(plain, da, "renyi_efficiency_2") is not None  # the alpha asked for
    nsl = next(r for r in report.rows if (r["subject"], r["dataset"], r["metric"]) ==
               (plain, db, "normalized_sequence_length"))
    assert nsl["value"] == 1.0 and nsl["note"] == f"reference: {lowered}" and nsl["lines"] == 1
    assert not any(u["metric"] == "normalized_sequence_length" for u in report.unavailable)
    # German is the pivot: its premium is 1 and English pays (5 + 3) / (4 + 3)
    assert report.value(plain, tsv, "token_premium", language="de") == 1.0
    assert report.value(plain, tsv, "token_premium", language="en") == pytest.approx(8 / 7)
    info = report.tokenizers[0]
    assert info["name"] == plain and info["vocab_size_reached"] == 256
    assert info["fast_encoder"] == {"used": False, "reason": "disabled (--no-fast)"}
    assert report.parallel[0]["pivot"] == "de" and "measures" in report.parallel[0]
    rec = load_run(tmp_path / "runs" / "opts")
    assert rec.info["config"] == {"tokenizers": [str(bytes_tok.path), str(lower.path)], "corpora": [str(a), str(b)],
                                  "parallel": [tsv], "split": "all", "reference": lowered, "alpha": 2.0,
                                  "fast": False, "max_lines": 2, "pivot": "de", "min_entries": 1}
    assert len(rec.info["data"]) >= 3  # both corpora and the parallel file are fingerprinted
    assert {"tokenizers", "sentencepiece", "tiktoken"} <= set(rec.info["packages"])
    assert rec.report["rows"] == report.to_dict()["rows"]


def test_defaults_and_refusals(bytes_tok, tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("ab\n", encoding="utf-8")
    report = ev.evaluate_text([bytes_tok], [str(a)], split="all")
    assert report.value(report.tokenizers[0]["name"], str(a), "renyi_efficiency_2.5") is not None  # α = 2.5
    assert {"metric": "normalized_sequence_length",
            "reason": "needs a reference tokenizer: give two or more tokenizers"} in report.unavailable
    assert ev.evaluate_text([bytes_tok], [str(a)], split="all", max_lines=1).corpora[0]["lines"] == 1
    for kwargs, message in (({"max_lines": 0}, "--max-lines 0: must be at least 1"),
                            ({"alpha": 0.0}, "--alpha 0.0: the Rényi order must be a finite number above 0"),
                            ({"alpha": float("inf")}, "must be a finite number")):
        with pytest.raises(TokbenchError, match=message):
            ev.evaluate_text([bytes_tok], [str(a)], split="all", **kwargs)
    with pytest.raises(TokbenchError, match=r"no tokenizer given \(use -t SPEC, repeatable\)"):
        ev.evaluate_text([], [str(a)])
    empty = tmp_path / "empty.txt"
    empty.write_text("a\n", encoding="utf-8")
    with pytest.raises(TokbenchError, match=r"\(heldout\) is empty; files hold out every tenth line"):
        ev.evaluate_text([bytes_tok], [str(empty)], split="heldout")
