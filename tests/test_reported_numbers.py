"""Reported numbers counted by hand, end to end: each test here fails on a bug that once passed the whole suite
(issue 19): swapped premium arguments, boundary F1 replaced by precision, the 36-digit triad limit off by one,
the tokens-per-number denominator off by one, and an atomic write whose temporary file is not beside its target.

The tokenizer is a byte-level BPE without merges, so every token count is a UTF-8 byte count.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tokbench.cli import main
from tokbench.text.tokenizer import _bytes_to_unicode, load_tokenizer


def write_bytes_tokenizer(path: Path, normalizer: dict | None = None) -> Path:
    """A byte-level BPE tokenizer.json with no merges (one token per UTF-8 byte), optionally normalized."""
    table = _bytes_to_unicode()
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    config = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": normalizer,
              "pre_tokenizer": byte_level, "post_processor": None, "decoder": byte_level,
              "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                        "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                        "vocab": {table[b]: b for b in range(256)}, "merges": []}}
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bytes_tok_path(tmp_path_factory) -> Path:
    return write_bytes_tokenizer(tmp_path_factory.mktemp("bytes") / "tokenizer.json")


@pytest.fixture(scope="module")
def bytes_tok(bytes_tok_path):
    return load_tokenizer(f"hf:{bytes_tok_path}")


# ---------------------------------------------------------------------------------------------- premiums
#: (en, de, ru) aligned entries; UTF-8 bytes = tokens: en 5+3+5 = 13, de 4+3+10 = 17, ru 6+14+8 = 28
PARALLEL = [("house", "Haus", "дом"), ("red", "rot", "красный"), ("water", "das Wasser", "вода")]


@pytest.mark.parametrize("fast", [True, False])
def test_eval_text_premiums_counted_by_hand(bytes_tok_path, tmp_path, capsys, fast):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("en\tde\tru\n" + "".join("\t".join(row) + "\n" for row in PARALLEL), encoding="utf-8")
    args = ["eval-text", "-t", f"hf:{bytes_tok_path}", "--parallel", str(tsv), "--no-run", "--json"]
    assert main(args + ([] if fast else ["--no-fast"])) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = payload["rows"]
    assert len({r["subject"] for r in rows}) == 1

    def by_lang(metric):
        return {r["language"]: r["value"] for r in rows if r["metric"] == metric}

    en, de, ru = 13, 17, 28
    assert by_lang("corpus_token_count") == {"en": en, "de": de, "ru": ru}
    assert by_lang("token_premium") == pytest.approx({"en": 1.0, "de": de / en, "ru": ru / en})
    # parity: the mean of per-entry ratios, not the ratio of sums
    assert by_lang("parity") == pytest.approx({"en": 1.0, "de": (4 / 5 + 3 / 3 + 10 / 5) / 3,
                                               "ru": (6 / 5 + 14 / 3 + 8 / 5) / 3})
    assert {r["language"]: r["script"] for r in rows if r["metric"] == "token_premium"} == \
        {"en": "Latn", "de": "Latn", "ru": "Cyrl"}
    assert {r["language"]: r["n"] for r in rows if r["metric"] == "token_premium"} == {"en": 3, "de": 3, "ru": 3}
    summary = {r["metric"]: r["value"] for r in rows if "language" not in r}
    premiums = [1.0, de / en, ru / en]
    mean = sum(premiums) / 3
    assert summary["token_premium_max_over_min"] == pytest.approx(ru / en)
    assert summary["token_premium_mean"] == pytest.approx(mean)
    std = (sum((p - mean) ** 2 for p in premiums) / 3) ** 0.5
    assert summary["token_premium_cv"] == pytest.approx(std / mean)
    assert summary["premium_languages"] == 3
    by_script = {s["script"]: (s["token_premium_mean"], s["languages"]) for s in payload["premiums_by_script"]}
    assert by_script == {"Cyrl": (pytest.approx(ru / en), 1), "Latn": (pytest.approx((1 + de / en) / 2), 2)}


def test_eval_text_corpus_numbers_counted_by_hand(bytes_tok, tmp_path):
    """Two tokenizers on one file: NSL of the second against the first, tokens per number by digit count."""
    from tokbench.text.evaluate import evaluate_text

    corpus = tmp_path / "c.txt"
    corpus.write_text("Pay 12 or 345\nno digits here\n7 and 123456\n", encoding="utf-8")
    lower = load_tokenizer(f"hf:{write_bytes_tokenizer(tmp_path / 'lower.json', {'type': 'Lowercase'})}")
    report = evaluate_text([bytes_tok, lower], [str(corpus)], split="all", fast=False)
    ds = str(corpus)
    plain, lowered = [t["name"] for t in report.tokenizers]
    # each line is encoded with its newline: 14 + 15 + 13 bytes
    assert report.value(plain, ds, "tokens") == 42 and report.value(plain, ds, "lines") == 3
    per_number = {m: report.value(plain, ds, f"tokens_per_number_{m}") for m in ("d1", "d2", "d3", "d4-6")}
    assert per_number == {"d1": 1.0, "d2": 2.0, "d3": 3.0, "d4-6": 6.0}
    assert report.value(plain, ds, "round_trip_rate") == 1.0
    # the lowercasing tokenizer spends as many tokens, but "Pay" comes back as "pay": 2 of 3 lines exact, and
    # re-encoding its own output gives the same ids (canonical)
    assert report.value(lowered, ds, "normalized_sequence_length") == 1.0
    assert report.value(lowered, ds, "round_trip_rate") == pytest.approx(2 / 3)
    assert report.value(lowered, ds, "canonicality_rate") == 1.0


# ---------------------------------------------------------------------------------------------- OCR boundary F1
class _ScriptedTokenizer:
    """Gives the token start offsets it is told to, call by call (clean line first, then its noisy copy)."""

    def __init__(self, *starts: list[int]):
        self.starts = list(starts)
        self.backend = self

    def encode(self, text, add_special_tokens=False):
        cuts = [0, *self.starts.pop(0), len(text)]

        class Encoding:
            offsets = list(zip(cuts, cuts[1:]))

        return Encoding()


def test_boundary_f1_is_the_harmonic_mean_when_precision_and_recall_differ():
    from tokbench.text.domain import boundary_agreement

    # rate 0: no edit, so every position is compared; clean boundaries {2, 4, 6}, noisy {2, 5}
    tok = _ScriptedTokenizer([2, 4, 6], [2, 5])
    got = boundary_agreement(tok, ["abcdefgh"], rate=0.0, seed=0)
    assert got["boundary_precision"] == pytest.approx(1 / 2)
    assert got["boundary_recall"] == pytest.approx(1 / 3)
    assert got["boundary_f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))


# ---------------------------------------------------------------------------------------------- triads
def test_triad_limit_is_exactly_36_integer_and_15_fractional_digits():
    from tokbench.text.triad import MAX_FRAC_DIGITS, MAX_INT_DIGITS, TriadTransform, parse_numbers

    assert (MAX_INT_DIGITS, MAX_FRAC_DIGITS) == (36, 15)
    t = TriadTransform()
    for text, supported in (("9" * 36, True), ("9" * 37, False), ("1." + "5" * 15, True), ("1." + "5" * 16, False)):
        (num,) = parse_numbers(text)
        assert num.supported is supported, text
        encoded = t.encode_text(text)
        assert (encoded != text) is supported, text
        assert t.decode_text(encoded) == text


def test_triad_tokens_per_number_counted_by_hand(bytes_tok):
    from tokbench.text.triad import number_metrics

    lines = ["pay 12 or 345", "no digits", "7 and 123456 and 0.25"]
    m = number_metrics(bytes_tok, lines)
    # numbers: 12 (2 tokens, 10^1), 345 (3, 10^2), 7 (1, 10^0), 123456 (6, 10^5), 0.25 (4, 10^-1)
    assert m["numbers"] == 5
    assert m["tokens_per_number"] == pytest.approx((2 + 3 + 1 + 6 + 4) / 5)
    assert {k: v for k, v in m.items() if k.startswith("tokens_per_number_e")} == {
        "tokens_per_number_e-1": 4.0, "tokens_per_number_e+0": 1.0, "tokens_per_number_e+1": 2.0,
        "tokens_per_number_e+2": 3.0, "tokens_per_number_e+5": 6.0}
    assert m["bytes_per_token"] == 1.0 and m["round_trip_rate"] == 1.0


# ---------------------------------------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("writer", ["bytes", "text", "json"])
def test_atomic_write_renames_a_temporary_file_from_the_target_folder(tmp_path, monkeypatch, writer):
    """A rename is atomic only within one filesystem, so the temporary file must sit beside its target."""
    from tokbench import runs

    renames = []
    real_replace = os.replace

    def spy(src, dst):
        renames.append((Path(src), Path(dst)))
        assert Path(src).exists()
        return real_replace(src, dst)

    monkeypatch.setattr(runs.os, "replace", spy)
    target = tmp_path / "deep" / "metrics.json"
    write = {"bytes": lambda: runs.atomic_write_bytes(target, b"{}"),
             "text": lambda: runs.atomic_write_text(target, "{}"),
             "json": lambda: runs.atomic_write_json(target, {})}[writer]
    write()
    write()  # the second write replaces the first
    assert [dst for _, dst in renames] == [target, target]
    for src, _ in renames:
        assert src.parent == target.parent and src.name.startswith(".metrics.json.") and src.name.endswith(".tmp")
    assert sorted(p.name for p in target.parent.iterdir()) == ["metrics.json"]  # no temporary file left behind
    assert json.loads(target.read_text()) == {}
