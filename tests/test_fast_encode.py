"""The fast encoder must give exactly HF's ids, and refuse (falling back to HF) whenever it cannot."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HARD_STRINGS
from tokbench.sources.text import Corpus, builtin_names
from tokbench.text.fast_encode import FastBPETokenizer, build_ranks, fast_tokenizer, unicode_sweep
from tokbench.text.tokenizer import _bytes_to_unicode, load_tokenizer


@pytest.fixture(scope="module", params=["tiny", "4k"])
def hf_pair(request, tiny_hf_run, small_corpus, tmp_path_factory):
    """The shared vocab-600 run, and a vocab-4000 one (many more phantom pairs) trained here."""
    if request.param == "tiny":
        tok = load_tokenizer(tiny_hf_run)
    else:
        from tokbench.text.bpe import train_bpe

        runs = tmp_path_factory.mktemp("runs4k")
        tok = load_tokenizer(train_bpe([str(small_corpus)], vocab_size=4000, runs_dir=runs, name="hf4k",
                                       evaluate=False).run_dir)
    fast, status = fast_tokenizer(tok, HARD_STRINGS)
    assert status.used, status.reason
    assert isinstance(fast, FastBPETokenizer)
    return tok, fast


def test_identical_on_hard_strings_and_specials(hf_pair):
    tok, fast = hf_pair
    texts = HARD_STRINGS + ["a <|endoftext|> b", "<|pad|><|pad|>"]
    assert fast.encode_batch(texts) == tok.encode_batch(texts)
    assert [fast.encode(t) for t in texts] == [tok.encode(t) for t in texts]
    assert fast.encode("<|endoftext|>") == [0]  # added tokens are cut out first, as HF does


# any character but lone surrogates (not valid text in UTF-8 files)
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
_MIXED = st.lists(st.one_of(_TEXT, st.sampled_from([" ", "  ", "\n", "\t", "'s", "123456", "Ünï", "日本", "😀", "e\u0301"])),
                  max_size=12).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(_TEXT, _MIXED))
def test_identical_on_random_text(hf_pair, text):
    tok, fast = hf_pair
    assert fast.encode(text) == tok.encode(text)


@pytest.mark.parametrize("name", sorted(builtin_names()))
def test_identical_on_every_builtin_corpus(hf_pair, name):
    tok, fast = hf_pair
    lines = []
    for i, line in enumerate(Corpus(f"builtin:{name}", split="heldout").lines()):
        if i >= 1500:
            break
        lines.append(line)
    assert lines
    assert fast.encode_batch(lines) == tok.encode_batch(lines)
    assert fast.encode("".join(lines)) == tok.encode("".join(lines))


@pytest.mark.slow
def test_parallel_corpus_slice_identical(hf_pair):
    from tokbench.sources.parallel import load_parallel

    tok, fast = hf_pair
    pc = load_parallel("builtin:parallel")
    texts = [b for lang in pc.languages for _, b in pc.pairs[lang][:15]]
    assert fast.encode_batch(texts) == tok.encode_batch(texts)


def _write(path, config):
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_remapped_ids_stay_exact(tmp_path, tiny_hf_run):
    """Ids that do not grow with merge order need a private rank table; the ids must still be HF's."""
    config = json.loads((tiny_hf_run / "artifacts" / "tokenizer.json").read_text())
    vocab = config["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.get)
    specials = {t["content"] for t in config["added_tokens"]}
    movable = [t for t in tokens if t not in specials]
    ids = sorted(vocab[t] for t in movable)
    random.Random(0).shuffle(ids)
    config["model"]["vocab"] = {**{t: vocab[t] for t in specials}, **dict(zip(movable, ids))}
    path = _write(tmp_path / "tokenizer.json", config)
    tok = load_tokenizer(f"hf:{path}")
    assert build_ranks(config).rank_to_id is not None
    fast, status = fast_tokenizer(tok, HARD_STRINGS)
    assert status.used, status.reason
    text = Corpus("builtin:english", split="heldout").text(max_chars=20000)
    assert fast.encode(text) == tok.encode(text)


def _byte_level_config(merges: list[tuple[str, str]], pre_tokenizer=None, normalizer=None) -> dict:
    table = _bytes_to_unicode()
    vocab = {table[b]: i for i, b in enumerate(range(256))}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": normalizer,
            "pre_tokenizer": pre_tokenizer or {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                               "use_regex": True},
            "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                                 "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]}}


def test_phantom_pair_is_caught_and_falls_back(tmp_path):
    """Merges b+c, then a+b, then ab+c: HF turns "abc" into [a, bc] (no a+bc merge), tiktoken would merge
    a+bc into "abc". Verification must see it and refuse the fast path."""
    config = _byte_level_config([("b", "c"), ("a", "b"), ("ab", "c")])
    tok = load_tokenizer(f"hf:{_write(tmp_path / 'tokenizer.json', config)}")
    assert build_ranks(config).phantom_pairs >= 1
    enc, status = fast_tokenizer(tok, ["abc abc"])
    assert not status.used and "verification" in status.reason
    assert enc is tok


@pytest.fixture(scope="module")
def gpt2_style(tiny_hf_run, tmp_path_factory):
    """Our merges behind a GPT-2-style pipeline (ByteLevel pre-tokenizer with its own regex, no added tokens),
    as HF's own GPT-2 tokenizer.json is laid out."""
    config = json.loads((tiny_hf_run / "artifacts" / "tokenizer.json").read_text())
    config["added_tokens"] = []
    config["model"]["vocab"] = {t: i for t, i in config["model"]["vocab"].items() if not t.startswith("<|")}
    config["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok = load_tokenizer(f"hf:{_write(tmp_path_factory.mktemp('gpt2') / 'tokenizer.json', config)}")
    fast, status = fast_tokenizer(tok, ["the theme of the thesis"])
    assert status.used, status.reason
    return tok, fast


@settings(max_examples=200, deadline=None)
@given(st.one_of(_TEXT, _MIXED))
def test_gpt2_style_pre_tokenizer_is_exact(gpt2_style, text):
    tok, fast = gpt2_style
    assert fast.encode(text) == tok.encode(text)


@pytest.mark.parametrize("change,expected", [
    ({"normalizer": {"type": "NFC"}}, "normalizer"),
    ({"pre_tokenizer": {"type": "Whitespace"}}, "pre-tokenizer"),
    ({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}},
     "add_prefix_space"),
])
def test_unrepresentable_pipelines_fall_back(tmp_path, change, expected):
    config = _byte_level_config([("a", "b")])
    config.update(change)
    tok = load_tokenizer(f"hf:{_write(tmp_path / 'tokenizer.json', config)}")
    enc, status = fast_tokenizer(tok)
    assert enc is tok and not status.used and expected in status.reason


def test_spm_and_tiktoken_keep_their_backend(tiny_spm_run):
    tok = load_tokenizer(tiny_spm_run)
    enc, status = fast_tokenizer(tok)
    assert enc is tok and not status.used


def test_unicode_sweep_covers_planes():
    text = "".join(unicode_sweep())
    assert max(map(ord, text)) >= 0x20000 and len(text) > 1000
