"""eval-text's bookkeeping counted by hand with a one-token-per-byte tokenizer: the rows it writes (with their
provenance), the edges of its counters, and premiums that cannot be computed. Written to kill the mutants of
tokbench/text/evaluate.py that the formula tests let through (issue 19, `make mutate`)."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------------------------------------- issue 12's code
def _run_tokenizer(folder, info):
    """The bytes tokenizer saved as a run's artifact beside a run.json holding `info` (its run_dir is set)."""
    (folder / "artifacts").mkdir(parents=True)
    path = write_bytes_tokenizer(folder / "artifacts" / "tokenizer.json")
    (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
    tok = load_tokenizer(f"hf:{path}")
    assert tok.run_dir == folder.absolute()
    return tok


@pytest.mark.parametrize("requested, reached, added, warning", [
    (400, 400, 0, None),
    (400, 450, 50, None),  # triad: tokens added on top by design
    (30000, 5311, 0, "vocabulary shortfall: requested 30,000 tokens, reached 5,311; the training corpus has no more "
                     "pairs that occur often enough (more text or a lower --min-frequency)"),
    (4000, 4030, 50, "vocabulary shortfall: requested 4,000 tokens, reached 3,980 BPE tokens (+50 added by the "
                     "variant); the training corpus has no more pairs that occur often enough (more text or a lower "
                     "--min-frequency)"),
    (1000, 1200, 0, "vocabulary differs: requested 1,000 tokens, reached 1,200"),
    (1000, 1100, 50, "vocabulary differs: requested 1,000 tokens, reached 1,050 BPE tokens (+50 added by the "
                     "variant)"),
])
def test_vocabulary_record_by_hand(requested, reached, added, warning):
    record = ev.vocabulary_record(np.int64(requested), np.int64(reached), added=np.int64(added))
    expected = {"requested": requested, "reached": reached, **({"added_by_variant": added} if added else {}),
                **({"warning": warning} if warning else {})}
    assert record == expected
    assert all(type(record[k]) is int for k in ("requested", "reached"))
    assert ev.vocabulary_record(400, 400) == {"requested": 400, "reached": 400}  # added defaults to none


def test_comparison_notes_by_hand():
    notes = ev.comparison_notes({
        "solo": {"bytes_per_token": 3.0},  # no plain peer: no note, and the next datasets still get theirs
        "super": {"plain_vocab_size": 900.0, "supertoken_vocab_size": 1000.0, "variant_vocab_size": 900},
        "variant": {"plain_vocab_size": 1200, "variant_vocab_size": 1200.0},
        "own": {"plain_vocab_size": 1500},
        "bigger": {"plain_vocab_size": 1400},
    }, 1500)
    assert notes == [
        "super: the plain BPE peer reached 900 tokens and this tokenizer 1,000: the comparison is NOT at equal "
        "vocabulary",
        "variant: compared with a plain BPE peer of the same reached vocabulary (1,200)",
        "own: compared with a plain BPE peer of the same reached vocabulary (1,500)",
        "bigger: the plain BPE peer reached 1,400 tokens and this tokenizer 1,500: the comparison is NOT at equal "
        "vocabulary",
    ]
    assert ev.comparison_notes({}, 10) == [] and ev.comparison_notes({"x": {}}, 10) == []


def test_requested_vocab_and_run_info(bytes_tok, tmp_path):
    from types import SimpleNamespace

    assert ev.requested_vocab(bytes_tok) is None and ev._run_info(bytes_tok) == {}  # not from a run
    assert ev._run_info(SimpleNamespace()) == {} and ev._run_info(SimpleNamespace(run_dir=None)) == {}
    assert ev._run_info(SimpleNamespace(run_dir=str(tmp_path / "none"))) == {}  # no run.json
    both = _run_tokenizer(tmp_path / "both", {"vocab": {"requested": "600", "reached": 500},
                                              "config": {"spec": {"vocab_size": 700}}})
    assert ev.requested_vocab(both) == 600 and type(ev.requested_vocab(both)) is int
    assert ev._run_info(both)["vocab"] == {"requested": "600", "reached": 500}
    spec = _run_tokenizer(tmp_path / "spec", {"vocab": {"reached": 500}, "config": {"spec": {"vocab_size": "700"}}})
    assert ev.requested_vocab(spec) == 700 and type(ev.requested_vocab(spec)) is int
    for i, info in enumerate(({}, {"vocab": None, "config": None}, {"config": {"spec": None}},
                              {"config": {"spec": {"merges": 3}}})):
        assert ev.requested_vocab(_run_tokenizer(tmp_path / f"none{i}", info)) is None, info
    for i, raw in enumerate((b"{not json", b"\xff\xfe")):  # a damaged run.json reads as no record, never a traceback
        (tmp_path / f"bad{i}").mkdir()
        (tmp_path / f"bad{i}" / "run.json").write_bytes(raw)
        assert ev._run_info(SimpleNamespace(run_dir=tmp_path / f"bad{i}")) == {}


@pytest.mark.parametrize("trained, evaluated, overlap", [
    ("all", "heldout", True), ("heldout", "all", True), ("all", "all", True), ("train", "train", True),
    ("heldout", "heldout", True), ("train", "heldout", False), ("heldout", "train", False),
])
def test_overlapping_splits(trained, evaluated, overlap):
    assert ev._overlaps(trained, evaluated) is overlap


def test_training_overlap_by_fingerprint(tmp_path):
    from types import SimpleNamespace

    files = [{"path": "a.txt", "sha256": "A", "split": "heldout"}, {"path": "b.txt", "sha256": "B"},
             {"path": "c.txt", "sha256": "C", "split": "all"}, {"path": "d.txt", "sha256": "D", "split": "train"}]
    corpus = SimpleNamespace(fingerprint=lambda: files)
    tok = _run_tokenizer(tmp_path / "r", {"data": [
        "not a record", {"path": "x", "sha256": ""}, {"path": "y"},
        {"sha256": "A", "split": "train"}, {"sha256": "A", "split": "heldout"},  # the second entry of A counts
        {"sha256": "B", "split": "train"},  # b.txt has no split: all its lines are scored
        {"sha256": "C", "split": "train"},
        {"sha256": "D"},  # trained on every line of d.txt
    ]})
    assert ev.training_overlap(tok, corpus) == ["a.txt", "b.txt", "c.txt", "d.txt"]
    held = _run_tokenizer(tmp_path / "held", {"data": [{"sha256": "A", "split": "train"},
                                                       {"sha256": "D", "split": "heldout"}]})
    assert ev.training_overlap(held, corpus) == []
    for i, info in enumerate(({}, {"data": None}, {"data": [{"sha256": None, "split": "all"}]})):
        assert ev.training_overlap(_run_tokenizer(tmp_path / f"n{i}", info), corpus) == []


def test_training_overlap_warning_names_the_files(tmp_path):
    from tokbench.sources.text import Corpus

    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"{name} one\n", encoding="utf-8")
    data = Corpus(str(folder)).fingerprint()
    tok = _run_tokenizer(tmp_path / "mine", {"data": [{**d, "split": "train"} for d in data]})
    report = ev.evaluate_text([tok], [str(folder)], split="all", fast=False)
    assert report.warnings == [f"mine was trained on lines of {folder} ({data[0]['path']}, {data[1]['path']}): "
                               "these figures are not held-out"]
    assert report.to_dict()["warnings"] == report.warnings
    (folder / "a.txt").write_text("".join(f"{i}\n" for i in range(10)), encoding="utf-8")  # a held-out line
    (folder / "b.txt").unlink()
    trained = [{**d, "split": "train"} for d in Corpus(str(folder)).fingerprint()]
    tok = _run_tokenizer(tmp_path / "mine2", {"data": trained})
    assert ev.evaluate_text([tok], [str(folder)], fast=False).warnings == []  # held out by default: no warning


@pytest.mark.parametrize("metric, direction", [
    ("renyi_efficiency_2.5", 1), ("renyi_efficiency_0.5", 1), ("tokens_per_number_d4-6", -1),
    ("tokens_per_number_d1", -1), ("bytes_per_token", 1), ("tokens_per_char", -1), ("token_premium_cv", -1),
    ("entropy_bits", 0), ("lines", 0), ("x_renyi_efficiency_2", 0), ("x_tokens_per_number_d1", 0),
])
def test_metric_direction(metric, direction):
    assert ev.metric_direction(metric) == direction


def test_rows_csv_and_report_csv(tmp_path):
    import csv

    rows = [{"subject": "a", "metric": "m", "value": None}, {"subject": "b", "metric": "m", "value": 2.5, "note": "x"}]
    path = ev.write_rows_csv(tmp_path / "rows.csv", rows)
    assert path == tmp_path / "rows.csv"
    assert path.read_bytes() == b"subject,metric,value,note\r\na,m,,\r\nb,m,2.5,x\r\n"
    report = ev.TextEvalReport(rows=rows, tokenizers=[{"name": "a", "vocab_size_requested": None, "fast_encoder": {
        "used": False}}, {"name": "b", "vocab_size_requested": 600}])
    folder = tmp_path / "new" / "csv"  # created, parents included
    assert report.write_csv(folder) == [folder / "rows.csv", folder / "tokenizers.csv"]
    assert list(csv.DictReader(open(folder / "rows.csv", encoding="utf-8")))[1] == \
        {"subject": "b", "metric": "m", "value": "2.5", "note": "x"}
    assert (folder / "tokenizers.csv").read_bytes() == b"name,vocab_size_requested\r\na,\r\nb,600\r\n"
    assert report.write_csv(folder) == [folder / "rows.csv", folder / "tokenizers.csv"]  # an existing folder is fine


def test_report_sections_and_lookups():
    report = ev.TextEvalReport()
    report.add("t", "d", "a", float("inf"))
    report.add("t", "d", "b", float("nan"), note="n")
    report.add("t", "d", "c", 1.5)
    report.add("t", "d", "e", 3)
    assert [r["value"] for r in report.rows] == [None, None, 1.5, 3] and report.rows[1]["note"] == "n"
    with pytest.raises(KeyError) as err:
        report.value("t", "d", "c", language="de")
    assert err.value.args == (("t", "d", "c", {"language": "de"}),)
    report.warnings.append("w")
    report.unavailable.append({"metric": "m"})
    report.corpora.append({"dataset": "d"})
    d = report.to_dict()
    assert list(d) == ["schema", "kind", "rows", "unavailable", "warnings", "tokenizers", "corpora", "parallel",
                       "premiums_by_script"]
    assert d["warnings"] == ["w"] and d["unavailable"] == [{"metric": "m"}] and d["corpora"] == [{"dataset": "d"}]
    report.run_dir = "/r"
    assert report.to_dict()["run_dir"] == "/r"


def test_unique_names_by_folder_then_number(tmp_path):
    from types import SimpleNamespace as T

    toks = [T(name="x", run_dir=tmp_path / "a" / "x", path=None),
            T(name="x", run_dir=None, path=tmp_path / "b" / "x" / "tokenizer.json"),  # skips the folder named x
            T(name="x", run_dir=str(tmp_path / "c" / "a" / "x"), path=None),
            T(name="y", run_dir=tmp_path / "d" / "y", path=None),
            T(name="z", path=tmp_path / "z.json"), T(name="z", path=tmp_path / "e" / "z.json")]  # no run_dir at all
    assert ev._unique_names(toks) == ["a/x", "b/x", "a/x #2", "y", f"{tmp_path.name}/z", "e/z"]
    at_root = [T(name="r", run_dir="/r", path=None), T(name="r", run_dir="/r", path=None),
               T(name="r", run_dir="/r", path=None)]
    assert ev._unique_names(at_root) == ["r", "r #2", "r #3"]  # no folder above: a number


# ---------------------------------------------------------------------------------------------- evaluate_text's options
def _refusal(call, **kwargs) -> str:
    with pytest.raises(TokbenchError) as err:
        call(**kwargs)
    return str(err.value)


def test_refusals_say_exactly_what_is_wrong(bytes_tok, tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("a\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    run = lambda **kw: ev.evaluate_text(**{"tokenizers": [bytes_tok], "corpora": [str(a)], "split": "all", **kw})
    assert _refusal(run, tokenizers=[]) == "no tokenizer given (use -t SPEC, repeatable)"
    assert _refusal(run, max_lines=0) == "--max-lines 0: must be at least 1"
    for alpha in (0.0, -1.0, float("inf"), float("nan")):
        assert _refusal(run, alpha=alpha) == \
            f"--alpha {alpha}: the Rényi order must be a finite number above 0 (default 2.5)"
    spec = f"hf:{bytes_tok.path}"
    assert _refusal(run, tokenizers=[f"x={spec}", f"y={spec}", f"x={spec}"]) == \
        "label 'x' is given to more than one tokenizer (-t x=...): use a different label for each"
    hint = "files hold out every tenth line (train-bpe's rule): --split all scores every line"
    assert _refusal(run, split="heldout") == f"corpus {a} (heldout) is empty; {hint}"
    empty = str(tmp_path / "empty.txt")
    assert _refusal(run, corpora=[empty], split="train") == f"corpus {empty} (train) is empty"


def test_renyi_order_below_one_and_reference_edges(bytes_tok, tmp_path):
    """α in (0, 1] is a legal Rényi order; a reference that spends one token still normalizes, zero cannot."""
    write_bytes_tokenizer(tmp_path / "del.json", {"type": "Replace", "pattern": {"Regex": "[a-z\\s]"}, "content": ""})
    one, none = tmp_path / "one.txt", tmp_path / "none.txt"
    one.write_text("abbC\n", encoding="utf-8")  # the lowercase letters and the newline are deleted: one token
    none.write_text("ab\n", encoding="utf-8")  # nothing left: no tokens at all
    report = ev.evaluate_text([bytes_tok, f"del=hf:{tmp_path / 'del.json'}"], [str(one), str(none)], split="all",
                              reference="del", alpha=0.5, fast=False)
    name = report.tokenizers[0]["name"]
    p = np.array([0.2, 0.4, 0.2, 0.2])  # a, b, C, newline
    assert report.value(name, str(one), "renyi_efficiency_0.5") == pytest.approx(math.log2((p ** 0.5).sum()) / 0.5 / 8)
    assert report.value(name, str(one), "normalized_sequence_length") == 5.0  # 5 bytes against 1 token
    assert report.value("del", str(one), "normalized_sequence_length") == 1.0
    assert report.value("del", str(none), "tokens") == 0
    assert not any(r["metric"] == "normalized_sequence_length" for r in report.rows if r["dataset"] == str(none))
    shannon = ev.evaluate_text([bytes_tok], [str(one)], split="all", alpha=1.0, fast=False)
    assert shannon.value(name, str(one), "renyi_efficiency_1") == pytest.approx(-(p * np.log2(p)).sum() / 8)


def test_errors_mode_reaches_the_corpus(bytes_tok, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ab\xff\ncd\n")
    with pytest.raises(TokbenchError, match="--errors replace"):
        ev.evaluate_text([bytes_tok], [str(bad)], split="all")
    report = ev.evaluate_text([bytes_tok], [str(bad)], split="all", errors="replace", fast=False)
    assert report.corpora[0]["bytes"] == 6 + 3  # "ab" + U+FFFD (3 bytes) + newline, then "cd\n"
    skipped = ev.evaluate_text([bytes_tok], [str(bad)], split="all", errors="skip", fast=False)
    assert skipped.corpora[0]["lines"] == 1 and skipped.corpora[0]["bytes"] == 3


def test_run_folder_records_specs_as_given_and_packages(bytes_tok, tmp_path):
    from tokbench.runs import load_run

    a = tmp_path / "a.txt"
    a.write_text("ab\n", encoding="utf-8")
    spec = f"mine=hf:{bytes_tok.path}"
    ev.evaluate_text([spec, bytes_tok], [str(a)], split="all", fast=False, runs_dir=tmp_path / "runs", name="r")
    info = load_run(tmp_path / "runs" / "r").info
    assert info["config"]["tokenizers"] == [spec, str(bytes_tok.path)]
    assert {"tokenizers", "sentencepiece", "tiktoken", "babel", "pycountry"} <= set(info["packages"])


def test_parallel_summary_min_entries_and_measures(bytes_tok, tmp_path, monkeypatch):
    from tokbench.sources import parallel_sentences

    path = _tsv(tmp_path / "p.tsv", ["en", "de", "ru"], [("house", "Haus", "дом"), ("red", "rot", ""),
                                                          ("blue", "blau", "")])
    monkeypatch.setitem(parallel_sentences.MEASURES, path, "what this corpus measures")
    report = ev.evaluate_text([bytes_tok], parallel=[path], min_entries=2, fast=False)
    summary = report.parallel[0]
    assert summary["measures"] == "what this corpus measures" and summary["missing_untranslated"] == 0
    assert summary["languages"] == 2 and {r.get("language") for r in report.rows} == {"en", "de", None}
    assert ev.evaluate_text([bytes_tok], parallel=[path], fast=False).parallel[0]["languages"] == 3


def test_fast_encoder_is_verified_on_this_data(bytes_tok, tmp_path, monkeypatch):
    """The fast encoder is checked on the first `verify_lines` lines of each corpus and 20 pairs per language;
    an HF tokenizer whose fast encoder is refused is listed as unavailable, with the reason."""
    from tokbench.text.fast_encode import FastStatus

    calls = []

    def spy(tok, sample=()):
        calls.append(list(sample))
        return tok, FastStatus(used, "the reason")

    monkeypatch.setattr(ev, "fast_tokenizer", spy)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a1\na2\na3\n", encoding="utf-8")
    b.write_text("b1\nb2\n", encoding="utf-8")
    pairs = [(f"e{i}", f"d{i}") for i in range(25)]
    path = _tsv(tmp_path / "p.tsv", ["en", "de"], pairs)
    used = False
    report = ev.evaluate_text([bytes_tok, f"two=hf:{bytes_tok.path}"], [str(a), str(b)], [path], split="all",
                              verify_lines=2)
    expected = ["a1\n", "a2\n", "b1\n", "b2\n"] + [d for _, d in pairs[:20]] + [e for e, _ in pairs[:20]]
    assert sorted(calls[0]) == sorted(expected) and calls[1] == calls[0]
    names = [t["name"] for t in report.tokenizers]
    assert [u for u in report.unavailable if u["metric"] == "fast_encoder"] == [
        {"metric": "fast_encoder", "subject": nm, "reason": "the reason"} for nm in names]
    assert report.tokenizers[0]["fast_encoder"] == FastStatus(False, "the reason").to_dict()
    used = True
    calls.clear()
    a.write_text("".join(f"{i}\n" for i in range(2001)), encoding="utf-8")
    report = ev.evaluate_text([bytes_tok], [str(a)], split="all")
    assert calls == [[f"{i}\n" for i in range(2000)]]  # verify_lines defaults to 2000
    assert not any(u["metric"] == "fast_encoder" for u in report.unavailable)


def test_tokenizer_entries_name_and_vocabulary(bytes_tok, tmp_path):
    run = _run_tokenizer(tmp_path / "x", {"vocab": {"requested": 300, "reached": 256}})
    again = _run_tokenizer(tmp_path / "y" / "x", {})
    a = tmp_path / "a.txt"
    a.write_text("ab\n", encoding="utf-8")
    report = ev.evaluate_text([run, again], [str(a)], split="all", fast=False)
    first, second = report.tokenizers
    assert first == {"name": str(tmp_path.name) + "/x", "kind": "hf", "path": str(run.path), "vocab_size": 256,
                     "vocab_size_requested": 300, "vocab_size_reached": 256,
                     "fast_encoder": {"used": False, "reason": "disabled (--no-fast)"}}
    assert second["name"] == "y/x" and second["vocab_size_requested"] is None


def test_engine_options_go_to_the_engine(monkeypatch):
    from tokbench.text import engine_eval

    seen = {}
    monkeypatch.setattr(engine_eval, "evaluate_text_on_engine", lambda **kw: seen.update(kw) or "engine report")
    for option in ({"engine": "dask"}, {"scheduler": "tcp://x:1"}, {"workers": 2}):
        seen.clear()
        assert ev.evaluate_text(["t"], ["c"], **option) == "engine report"
        assert seen == {"tokenizers": ["t"], "corpora": ["c"], "parallel": None, "split": None, "reference": None,
                        "alpha": 2.5, "fast": True, "max_lines": None, "pivot": None, "min_entries": 1,
                        "errors": "strict", "runs_dir": None, "name": None, "verify_lines": 2000, "engine": None,
                        "scheduler": None, "workers": None, **option}


def test_efficiencies_are_normalized_by_the_real_vocabulary(tmp_path):
    """A vocabulary whose ids do not start at 0 (ids 1000..1255): the histogram grows past the 256 tokens,
    yet Shannon and Rényi efficiency still divide by log2 of the real vocabulary size, 256."""
    path = write_bytes_tokenizer(tmp_path / "tokenizer.json")
    config = json.loads(path.read_text(encoding="utf-8"))
    config["model"]["vocab"] = {token: i + 1000 for token, i in config["model"]["vocab"].items()}
    path.write_text(json.dumps(config), encoding="utf-8")
    tok = load_tokenizer(f"hf:{path}")
    assert tok.vocab_size == 256 and tok.encode("a") == [1000 + ord("a")]
    stats, _ = ev.corpus_stats(tok, ["abb\n"], alpha=2.0)
    p = np.array([0.25, 0.5, 0.25])
    assert stats["shannon_efficiency"] == pytest.approx(1.5 / 8)
    assert stats["renyi_efficiency_2"] == pytest.approx(-math.log2((p ** 2).sum()) / 8)
    # vocabulary utilization counts the used ids where they lie: 3 of 256 ("a", "b", newline), not 0 of ids 0..255
    assert stats["vocab_utilization"] == pytest.approx(3 / 256)
    assert ev.basic_metrics(tok, ["abb\n"])["vocab_utilization"] == pytest.approx(3 / 256)


def test_premium_progress_names_the_tokenizer(bytes_tok, tmp_path, monkeypatch):
    bars = []

    def spy(items, description, total=None):
        bars.append((description, total))
        return items

    monkeypatch.setattr(ev, "track", spy)
    path = _tsv(tmp_path / "p.tsv", ["en", "de", "ru"], PARALLEL)
    report = ev.evaluate_text([bytes_tok], parallel=[path], fast=False)
    assert bars == [(f"premiums {report.tokenizers[0]['name']}", 3)]


def test_default_corpora_and_parallel(bytes_tok):
    """Neither corpora nor parallel given: the built-ins' held-out splits and the sentence corpus."""
    pytest.importorskip("django")  # builtin:parallel-sentences reads Django's translation catalogs
    report = ev.evaluate_text([bytes_tok], max_lines=20, fast=False)
    assert [c["dataset"] for c in report.corpora] == [f"{c}/heldout[:20]" for c in ev.DEFAULT_CORPORA]
    assert [p["name"] for p in report.parallel] == ["builtin:parallel-sentences"]
    assert "sentences" in report.parallel[0]["measures"]
    only_corpora = ev.evaluate_text([bytes_tok], ["builtin:numbers"], max_lines=5, fast=False)
    assert [c["dataset"] for c in only_corpora.corpora] == ["builtin:numbers/heldout[:5]"]
    assert only_corpora.parallel == []
