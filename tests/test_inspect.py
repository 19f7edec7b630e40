"""Segmentation spans, tokenizer diff, the non-unique encoding probe, and their CLI commands."""

from __future__ import annotations

import json

import pytest

from tokbench.cli import main
from tokbench.text.inspect import (Span, most_different_lines, probe_nonunique, segment, segmentation_distance,
                                   visible, vocab_diff)
from tokbench.text.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def hf(tiny_hf_run):
    return load_tokenizer(tiny_hf_run)


@pytest.fixture(scope="module")
def spm(tiny_spm_run):
    return load_tokenizer(tiny_spm_run)


def test_spans_cover_the_text_with_exact_offsets(hf):
    text = "Hello  wörld 日本\n\tend"
    spans = segment(hf, text)
    assert b"".join(s.token_bytes for s in spans) == text.encode("utf-8")
    assert [s.id for s in spans] == hf.encode(text)
    assert spans[0].start == 0 and spans[-1].end == len(text) and spans[-1].byte_end == len(text.encode())
    for s in spans:
        if s.text is not None:
            assert text[s.start:s.end] == s.text
            assert text.encode()[s.byte_start:s.byte_end] == s.token_bytes


def test_byte_fragments_are_shown_as_bytes(hf):
    spans = segment(hf, "日")  # a tiny vocabulary has no token for this character: 3 byte fragments
    frags = [s for s in spans if s.is_fragment]
    assert frags and all(s.start == 0 and s.end == 1 for s in frags)
    assert "".join(s.label() for s in spans) == "<e6><97><a5>"


def test_visible_whitespace_and_span_json():
    assert visible(" a\tb\nc\u00a0") == "·a→b↵c⍽"
    s = Span(5, b"\xe6", None, 0, 1, 0, 1)
    assert s.label() == "<e6>" and s.to_dict()["token_bytes"] == "e6"


def test_identity_normalized_spm_keeps_offsets(spm):
    spans = segment(spm, "hello world")
    # sentencepiece with identity normalization keeps the bytes, so offsets exist
    assert b"".join(s.token_bytes for s in spans) == b"hello world" and spans[0].start == 0


def test_unaligned_tokenizer_gets_no_offsets(tmp_path):
    """A lowercasing normalizer changes the bytes: no span may claim a place in the input."""
    from test_reported_numbers import write_bytes_tokenizer

    lower = load_tokenizer(f"hf:{write_bytes_tokenizer(tmp_path / 'tokenizer.json', {'type': 'Lowercase'})}")
    spans = segment(lower, "Hi Bob")
    assert b"".join(s.token_bytes for s in spans) == b"hi bob"  # one token per byte of the normalized text
    assert [s.text for s in spans] == list("hi bob")
    assert all((s.start, s.end, s.byte_start, s.byte_end) == (None, None, None, None) for s in spans)
    # the same tokenizer on text it leaves alone is aligned again
    assert [s.start for s in segment(lower, "hi")] == [0, 1]


def test_segmentation_distance_by_hand():
    a = [Span(0, b"ab", "ab", 0, 2), Span(1, b"c", "c", 2, 3)]
    b = [Span(0, b"a", "a", 0, 1), Span(1, b"bc", "bc", 1, 3)]
    assert segmentation_distance(a, a) == 0.0
    assert segmentation_distance(a, b) == 1.0  # boundaries {2} vs {1}


def test_vocab_diff_and_most_different_lines(hf, spm):
    d = vocab_diff(hf, hf)
    assert d.only_a == [] and d.only_b == [] and d.shared > 500
    d = vocab_diff(hf, spm)
    assert d.shared > 0 and d.only_a and d.only_b
    lines = ["the cat sat on the mat", "Zwölf Boxkämpfer jagen Viktor", "x"]
    top = most_different_lines(hf, spm, lines, top=2)
    assert len(top) == 2 and top[0]["distance"] >= top[1]["distance"]


def test_probe_finds_whitespace_shifts(hf):
    lines = ["the cat and the dog", "the end"] * 3
    rep = probe_nonunique(hf, lines, top=3)
    assert rep.contexts == 21
    # " the" inside a line is one token; "the" alone is another id sequence
    assert rep.counts["whitespace_shift"] > 0
    assert rep.examples["whitespace_shift"][0]["string"] in {"the", "cat", "and", "dog", "end"}
    assert 0 < rep.rates["whitespace_shift"] <= 1
    assert rep.rates["decode_collision"] is not None and rep.tokens_checked > 400


def test_cli_inspect_json(hf, tiny_hf_run, tiny_spm_run, capsys):
    rc = main(["inspect", "héllo  world", "-t", str(tiny_hf_run), "-t", str(tiny_spm_run), "--json"])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert [r["tokenizer"] for r in payload["results"]] == ["tiny-hf", "tiny-spm"]
    assert [s["id"] for s in payload["results"][0]["spans"]] == hf.encode("héllo  world")


def test_cli_inspect_renders_and_diff_probe_json(tiny_hf_run, tiny_spm_run, small_corpus, capsys):
    assert main(["inspect", "a  b", "-t", str(tiny_hf_run)]) == 0
    assert "·" in capsys.readouterr().out
    assert main(["diff", str(tiny_hf_run), str(tiny_spm_run), "--corpus", str(small_corpus), "--max-lines", "200",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["vocab"]["shared"] > 0 and payload["lines"]
    assert main(["probe", "-t", str(tiny_hf_run), "--corpus", str(small_corpus), "--max-lines", "100", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["results"][0]["rates"]) == {"whitespace_shift", "intra_word", "decode_collision"}
    assert main(["inspect", "-t", str(tiny_hf_run)]) == 2


def test_probe_finds_decode_collisions(tmp_path):
    """Merges b+c, a+b, ab+c: the token "abc" is never produced for "abc" (HF gives [a, bc]), so [abc] and
    [a, bc] are two id sequences decoding to the same string."""
    from tokbench.text.tokenizer import _bytes_to_unicode

    table = _bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    for tok in ("bc", "ab", "abc"):
        vocab[tok] = len(vocab)
    config = {"version": "1.0", "added_tokens": [], "normalizer": None,
              "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
              "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                                   "use_regex": True},
              "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                        "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                        "vocab": vocab, "merges": ["b c", "a b", "ab c"]}}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    tok = load_tokenizer(f"hf:{path}")
    rep = probe_nonunique(tok, ["abc xabc"])
    cases = rep.examples["decode_collision"]
    assert rep.counts["decode_collision"] == 1 and cases[0]["ids_a"] == [vocab["abc"]]
    assert cases[0]["ids_b"] == [vocab["a"], vocab["bc"]]
    assert rep.rates["decode_collision"] == pytest.approx(1 / rep.tokens_checked)
