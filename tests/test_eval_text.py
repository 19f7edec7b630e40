"""eval-text: every metric against hand-computed values, all four tokenizer formats, the CLI and run folder."""

from __future__ import annotations

import base64
import json
import math

import pytest

from conftest import HARD_STRINGS
from tokbench.cli import main
from tokbench.metrics import codebook, rate
from tokbench.runs import load_run
from tokbench.text.evaluate import basic_metrics, corpus_stats, evaluate_text
from tokbench.text.tokenizer import _bytes_to_unicode, load_tokenizer


# ---------------------------------------------------------------------------------------------- metrics by hand
def test_rate_functions_by_hand():
    assert rate.fertility_corpus(10, 4) == 2.5
    assert rate.fertility_words_alone([2, 1, 3, 2]) == 2.0
    assert rate.continued_words([2, 1, 3, 2]) == 0.75
    assert rate.normalized_sequence_length(90, 120) == 0.75
    assert rate.exact_rate(3, 4) == 0.75
    assert [rate.number_bucket(d) for d in (1, 3, 5, 9, 12)] == ["d1", "d3", "d4-6", "d7-9", "d10+"]
    assert rate.tokens_per_number([(1, 1), (2, 1), (2, 3), (5, 2), (12, 4)]) == {"d1": 1.0, "d2": 2.0, "d4-6": 2.0,
                                                                                 "d10+": 4.0}
    with pytest.raises(ValueError):
        rate.continued_words([])


def test_codebook_entropies_by_hand():
    counts = [2, 1, 1, 0]
    h = -(0.5 * math.log2(0.5) + 2 * 0.25 * math.log2(0.25))
    assert codebook.entropy_bits(counts) == pytest.approx(h)
    renyi = math.log2(0.5 ** 2.5 + 2 * 0.25 ** 2.5) / (1 - 2.5)
    assert codebook.renyi_efficiency(counts, 2.5, vocab_size=16) == pytest.approx(renyi / 4)


@pytest.fixture(scope="module")
def bytes_only(tmp_path_factory):
    """A byte-level BPE with no merges: one token per UTF-8 byte, so every count is easy to do by hand."""
    table = _bytes_to_unicode()
    config = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
              "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
              "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                                   "use_regex": True},
              "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                        "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                        "vocab": {table[b]: b for b in range(256)}, "merges": []}}
    path = tmp_path_factory.mktemp("bytes") / "tokenizer.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return load_tokenizer(f"hf:{path}")


def test_corpus_stats_by_hand(bytes_only):
    stats, per_line = corpus_stats(bytes_only, ["ab c", "日 12"])
    # "ab c": 4 bytes / 4 chars / 4 tokens; "日 12": 6 bytes / 4 chars / 6 tokens
    assert per_line == [4, 6]
    assert stats["bytes_per_token"] == 1.0 and stats["chars_per_token"] == 0.8 and stats["tokens_per_char"] == 1.25
    assert stats["fertility_corpus"] == 10 / 4  # 4 whitespace words
    assert stats["fertility_words_alone"] == (2 + 1 + 3 + 2) / 4  # ab, c, 日 (3 bytes), 12
    assert stats["continued_words"] == 3 / 4
    # 10 tokens: the space twice, eight other bytes once each
    h = -(8 * 0.1 * math.log2(0.1) + 0.2 * math.log2(0.2))
    assert stats["entropy_bits"] == pytest.approx(h)
    assert stats["shannon_efficiency"] == pytest.approx(h / 8)
    renyi = math.log2(8 * 0.1 ** 2.5 + 0.2 ** 2.5) / (1 - 2.5)
    assert stats["renyi_efficiency_2.5"] == pytest.approx(renyi / 8)
    assert stats["vocab_utilization"] == 9 / 256
    assert stats["round_trip_rate"] == 1.0 and stats["canonicality_rate"] == 1.0
    assert stats["tokens_per_number_d2"] == 2.0


def test_basic_metrics_still_serves_train_bpe(bytes_only):
    m = basic_metrics(bytes_only, ["ab c", "日 12"])
    assert m["tokens"] == 10 and m["bytes_per_token"] == 1.0 and m["round_trip_rate"] == 1.0


def test_nsl_against_reference(bytes_only, tiny_hf_run, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox\njumps over the lazy dog\n", encoding="utf-8")
    report = evaluate_text([bytes_only, str(tiny_hf_run)], [str(corpus)], fast=False, split="all")
    n_bytes = report.value(bytes_only.name, str(corpus), "tokens")
    n_bpe = report.value("tiny-hf", str(corpus), "tokens")
    assert n_bytes == len(corpus.read_bytes())  # one token per byte, newlines included
    assert report.value("tiny-hf", str(corpus), "normalized_sequence_length") == pytest.approx(n_bpe / n_bytes)
    assert report.value(bytes_only.name, str(corpus), "normalized_sequence_length") == 1.0


# ---------------------------------------------------------------------------------------------- four formats
@pytest.fixture(scope="module")
def tiktoken_file(tiny_hf_run, tmp_path_factory):
    """A tiktoken rank file made from the HF run: base64(token bytes) and the HF id as rank."""
    hf = load_tokenizer(tiny_hf_run)
    lines = [f"{base64.b64encode(hf.token_bytes(i)).decode()} {i}" for i in range(hf.vocab_size)
             if i not in hf.special_ids]
    path = tmp_path_factory.mktemp("tt") / "tiny.tiktoken"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def test_all_four_formats_load_and_round_trip(tiny_hf_run, tiny_spm_run, tiktoken_file):
    specs = [str(tiny_hf_run), f"hf:{tiny_hf_run / 'artifacts' / 'tokenizer.json'}",
             f"spm:{tiny_spm_run / 'artifacts' / 'tokenizer.model'}", f"tiktoken:{tiktoken_file}#gpt4"]
    toks = [load_tokenizer(s) for s in specs]
    assert [t.kind for t in toks] == ["hf", "hf", "spm", "tiktoken"]
    texts = [t for t in HARD_STRINGS if "<|" not in t]
    for tok in toks:
        for text in texts:
            assert tok.decode(tok.encode(text)) == text, (tok.name, text)
    # the rank file built from the HF merges reproduces HF's ids (same vocabulary, same pattern)
    assert [toks[3].encode(t) for t in texts] == [toks[0].encode(t) for t in texts]


def test_evaluate_text_all_formats_and_run_folder(tiny_hf_run, tiny_spm_run, tiktoken_file, small_corpus, tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("en\tde\tru\nthe house\tdas Haus\tдом\nwater\tWasser\tвода\nred\t\tкрасный\n", encoding="utf-8")
    report = evaluate_text([str(tiny_hf_run), f"spm:{tiny_spm_run / 'artifacts' / 'tokenizer.model'}",
                            f"tiktoken:{tiktoken_file}"], [str(small_corpus)], [str(tsv)], max_lines=400,
                           runs_dir=tmp_path / "runs", name="ev")
    d = report.to_dict()
    subjects = {r["subject"] for r in d["rows"]}
    assert subjects == {"tiny-hf", "tiny-spm", "tiny"}  # a run's file is named after its run, never "tokenizer"
    dataset = f"{small_corpus}/heldout[:400]"  # held out by default, and the cut is part of the label
    hf_info = d["tokenizers"][0]
    assert hf_info["fast_encoder"]["used"] is True
    prem = [r for r in d["rows"] if r["metric"] == "token_premium" and r["subject"] == "tiny-hf"]
    assert {r["language"] for r in prem} == {"en", "de", "ru"}
    assert {r["script"] for r in prem} == {"Latn", "Cyrl"}
    assert next(r["value"] for r in prem if r["language"] == "en") == 1.0
    assert d["parallel"][0]["dropped_misaligned"] == 1  # the empty German cell
    # the tiktoken copy of the HF tokenizer gives the same counts
    assert report.value("tiny", dataset, "tokens") == report.value("tiny-hf", dataset, "tokens")
    rec = load_run(tmp_path / "runs" / "ev")
    assert rec.kind == "text-eval" and rec.status == "done"
    assert rec.report["schema"] == 1 and rec.report["rows"] == json.loads(json.dumps(d["rows"]))
    assert any(k.startswith("bytes_per_token[") for k in rec.metrics[dataset])


def test_cli_eval_text_json(tiny_hf_run, small_corpus, tmp_path, capsys):
    rc = main(["eval-text", "-t", str(tiny_hf_run), "--corpus", str(small_corpus), "--max-lines", "200",
               "--runs-dir", str(tmp_path), "--name", "cli", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    payload = json.loads(out)
    assert payload["run_dir"].endswith("cli")
    assert any(r["metric"] == "fertility_words_alone" for r in payload["rows"])


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["eval-text", "--json"]) == 2
    assert main(["eval-text", "-t", str(tmp_path / "nope"), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("tokbench: error:") == 2 and "Traceback" not in err


@pytest.mark.slow
def test_cli_default_corpora_have_80_languages(tiny_hf_run, tmp_path, capsys):
    rc = main(["eval-text", str(tiny_hf_run), "--max-lines", "200", "--runs-dir", str(tmp_path), "--json"])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    prem = [r for r in payload["rows"] if r["metric"] == "token_premium"]
    assert len({r["language"] for r in prem}) >= 40  # sentences by default (builtin:parallel holds labels)
    assert all(r["script"] and r["dataset"] == "builtin:parallel-sentences" for r in prem)
    datasets = {r["dataset"] for r in payload["rows"]}
    assert {"builtin:english/heldout[:200]", "builtin:code/heldout[:200]", "builtin:legal/heldout[:200]"} <= datasets
    assert any(r["metric"] == "token_premium_max_over_min" for r in payload["rows"])
