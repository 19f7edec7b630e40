"""Domain (KL3M-style) and character-level BPE: custom tokens, term mining, vocabulary sizes, OCR boundary
agreement, bad input, loading through load_tokenizer and the CLI."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from tokbench.errors import TokbenchError
from tokbench.sources.text import Corpus
from tokbench.text import domain
from tokbench.text.bpe import train_bpe
from tokbench.text.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """~150 KB of license text (domain) and of English prose (reference), cut from the built-ins."""
    root = tmp_path_factory.mktemp("domain")
    legal, ref = root / "legal.txt", root / "english.txt"
    legal.write_text(Corpus("builtin:legal", split="train").text(max_chars=150_000), encoding="utf-8")
    ref.write_text(Corpus("builtin:english", split="train").text(max_chars=150_000), encoding="utf-8")
    return legal, ref


@pytest.fixture(scope="module")
def domain_run(tmp_path_factory, corpora):
    legal, ref = corpora
    terms = tmp_path_factory.mktemp("terms") / "terms.txt"
    terms.write_text("# given terms\nGNU Affero\nindemnification clause\nlicense\nwarranty\n", encoding="utf-8")
    return train_bpe(str(legal), vocab_size=2600, variant="domain", runs_dir=tmp_path_factory.mktemp("runs"),
                     options={"reference": str(ref), "max_terms": 40, "terms": str(terms)})


def test_log_odds_matches_formula() -> None:
    import math

    y_i, n_i, y_j, n_j, a0 = 30, 1000, 3, 2000, 100.0
    a_w = a0 * (y_i + y_j) / (n_i + n_j)
    delta = math.log((y_i + a_w) / (n_i + a0 - y_i - a_w)) - math.log((y_j + a_w) / (n_j + a0 - y_j - a_w))
    z = delta / math.sqrt(1 / (y_i + a_w) + 1 / (y_j + a_w))
    assert domain.log_odds_z(y_i, n_i, y_j, n_j, a_w, a0) == pytest.approx(z)
    assert domain.log_odds_z(3, n_i, 30, n_j, a_w, a0) < 0


def test_term_mining_on_toy_corpora() -> None:
    dom = ["The Licensee shall indemnify the Licensor under this Agreement.\n"] * 30 + ["the cat sat on the mat\n"] * 30
    ref = ["the cat sat on the mat and the dog ran\n"] * 200 + ["shall we go\n"] * 5
    found = {t.strip(): z for t, z, _ in domain.significant_ngrams(dom, ref, min_count=5)}
    assert "Licensee" in found and "Licensor" in found and "this Agreement" in found
    assert "the mat" not in found and "cat" not in found
    assert all(z >= domain.TERM_Z_MIN for z in found.values())

    class Probe:  # a stand-in tokenizer: one token per character
        def encode(self, text):
            return list(text)

    picked = domain.select_terms(domain.significant_ngrams(dom, ref, min_count=5), Probe(), max_terms=2)
    assert len(picked) == 2 and all(len(t) > 8 for t, _, _ in picked)  # the longest save the most tokens


def test_domain_custom_tokens_kept_whole_and_round_trip(domain_run) -> None:
    tok = load_tokenizer(domain_run.run_dir)
    vocab = tok.vocab()
    for text in ["(a)", "(iv)", "(17)", "2024", "    ", "</div>"]:
        ids = tok.encode(f"x{text}y" if not text[0].isalnum() else f"x {text} y")
        assert any(tok.id_to_token(i) == text for i in ids) or text.strip() in vocab, text
    for text in ["Section 2(a)(iv) of the 2024 Agreement", "a    b\tc\n", "  indented\n        deeper  \n",
                 '{"key": [{"a": null}]}', "<div><p>Hi</p></div>", "## Title\n- [x] done **bold**",
                 "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND", "Licensors (99) (XX) (z)"]:
        ids = tok.encode(text)
        assert tok.decode(ids) == text
    assert len(tok.encode("(17)")) == 1 and len(tok.encode("        ")) == 1


def test_domain_vocabulary_and_report(domain_run) -> None:
    tok = load_tokenizer(domain_run.run_dir)
    assert tok.vocab_size <= 2600
    terms = json.loads((domain_run.run_dir / "artifacts" / "domain_terms.json").read_text())
    assert terms["given"] == ["GNU Affero", "indemnification clause", "license", "warranty"]
    assert 0 < len(terms["mined"]) <= 40
    m = domain_run.metrics
    heldout = [k for k in m if k.endswith("legal.txt/heldout")][0]
    h = m[heldout]
    assert h["term_occurrences"] > 20
    # a term's held-out occurrences come out as that one token (measured, not true by construction: a term
    # the split or the normalizer failed to isolate would count as a miss); plain BPE gets far fewer
    assert h["term_single_token_rate"] > 0.95 and h["plain_term_single_token_rate"] < h["term_single_token_rate"]
    assert h["round_trip_rate"] == 1.0
    assert 0 < h["tokens_per_char"] < 1 and "plain_tokens_per_char" in h and "normalizer_changed_line_share" in h
    assert "tokens_per_term" not in m.get("domain_terms", {})


def test_term_is_one_token_with_its_space_and_never_splits_a_word(domain_run) -> None:
    """The KL3M word-split case: "the license is" -> 'the', ' license', ' is'; "the licensed software" must not
    give ' license', 'd'."""
    tok = load_tokenizer(domain_run.run_dir)

    def pieces(text):
        return [tok.token_bytes(i).decode("utf-8") for i in tok.encode(text)]

    assert pieces("the license is") == ["the", " license", " is"]
    assert pieces("the warranty.") == ["the", " warranty", "."]
    for text in ["the licensed software", "the licenses", "license_free", "the licensee"]:
        got = pieces(text)
        assert " license" not in got and "".join(got) == text, got
    assert " GNU Affero" in pieces("x GNU Affero General")


def test_kl3m_custom_tokens_and_padding() -> None:
    tokens = set(domain.kl3m_custom_tokens())
    assert {"1776", "2049", "(a)", "(A)", "(99)", "(ix)", "(IX)", "10", "999", "  ", "\n\n\n", "\r\n", "\t ",
            "<div", "</div>", " href=", "https://", "--------"} <= tokens
    assert not {"1775", "2050", "1000", "9", "(100)", "(xi)"} & tokens
    assert all(len(t) > 1 for t in tokens)
    assert domain.kl3m_padding_tokens({"  ", "\n\n"}, 3) == ["   ", "\n\n\n", "    "]


def test_nfkc_text_does_not_round_trip(domain_run) -> None:
    tok = load_tokenizer(domain_run.run_dir)
    assert tok.decode(tok.encode("wait\u2026 the \ufb01le")) == "wait... the file"
    assert any("does not round-trip" in n for n in domain_run.notes)


def test_pad_pow2_and_uncased(tmp_path, corpora) -> None:
    legal, ref = corpora
    res = train_bpe(str(legal), vocab_size=2000, variant="domain", runs_dir=tmp_path,
                    options={"reference": str(ref), "max_terms": 10, "pad_pow2": True, "uncased": True,
                             "compare": False})
    tok = load_tokenizer(res.run_dir)
    assert tok.vocab_size == 2048
    pads = [tok.token_bytes(i) for i in range(2000, 2048)]
    assert all(p.strip() == b"" and len(p) > 2 for p in pads[-10:])  # KL3M pads with space / newline runs
    assert tok.decode(tok.encode("The LICENSOR")) == "the licensor"


def test_terms_file_not_utf8(tmp_path, corpora) -> None:
    bad = tmp_path / "terms.txt"
    bad.write_bytes(b"caf\xe9 clause\n")
    with pytest.raises(TokbenchError, match="not UTF-8"):
        domain.read_terms(bad)
    legal, ref = corpora
    with pytest.raises(TokbenchError, match="not UTF-8"):
        train_bpe(str(legal), vocab_size=1200, variant="domain", runs_dir=tmp_path,
                  options={"terms": str(bad), "reference": str(ref)})


def test_domain_vocab_too_small(tmp_path, corpora) -> None:
    legal, ref = corpora
    with pytest.raises(TokbenchError, match="leaves no room for BPE"):
        train_bpe(str(legal), vocab_size=600, variant="domain", runs_dir=tmp_path,
                  options={"reference": str(ref), "max_terms": 0})


# ---------------------------------------------------------------------------------------------- char
@pytest.fixture(scope="module")
def char_run(tmp_path_factory, corpora):
    legal, _ = corpora
    return train_bpe(str(legal), vocab_size=1000, variant="char", runs_dir=tmp_path_factory.mktemp("char"),
                     options={"ocr_chars": 20_000})


def test_char_max_token_length_and_round_trip(char_run) -> None:
    tok = load_tokenizer(char_run.run_dir)
    lengths = Counter(len(t) for t in tok.vocab() if not (t.startswith("<0x") and len(t) == 6) and "<|" not in t)
    assert max(lengths) == 3 and lengths[3] > 100  # the limit is reached and never passed
    for text in ["Plain text", "Ünïcödé ☃ 日本語 \U0001f600", "tabs\tand  spaces\n", "<0x41> ▁ literal"]:
        assert tok.decode(tok.encode(text)) == text
    assert domain.default_char_max_length(4096) == 3 and domain.default_char_max_length(16384) == 4


def test_char_boundary_report(char_run) -> None:
    m = [v for k, v in char_run.metrics.items() if k.endswith("(ocr noise)")][0]
    for key in ("boundary_f1", "plain_boundary_f1"):
        assert 0 < m[key] <= 1


def test_char_vocab_below_alphabet(tmp_path, corpora) -> None:
    legal, _ = corpora
    with pytest.raises(TokbenchError, match="below the character alphabet"):
        train_bpe(str(legal), vocab_size=300, variant="char", runs_dir=tmp_path)


def test_ocr_noise_alignment() -> None:
    text = "modern licensing terms, clearly written\n" * 5
    noisy, where = domain.ocr_noise(text, 0.2, random.Random(1))
    assert noisy != text
    kept = [i for i, w in enumerate(where) if w is not None]
    assert all(noisy[where[i]] == text[i] for i in kept)
    assert [where[i] for i in kept] == sorted(where[i] for i in kept)


def test_boundary_agreement_is_one_without_noise_effects() -> None:
    class Chars:  # every character its own token: boundaries never move
        class backend:
            @staticmethod
            def encode(text, add_special_tokens=False):
                class E:
                    offsets = [(i, i + 1) for i in range(len(text))]
                return E()

    m = domain.boundary_agreement(Chars(), ["some clean text here\n"] * 20, 0.1, 0)
    assert m["boundary_f1"] == pytest.approx(1.0)


def test_cli_domain_and_char(tmp_path, corpora, capsys) -> None:
    from tokbench.cli import main

    legal, ref = corpora
    rc = main(["train-bpe", "--corpus", str(legal), "--variant", "char", "--vocab-size", "900",
               "--runs-dir", str(tmp_path), "--json", "--option", "compare=false", "--option", "ocr_chars=5000"])
    assert rc == 0
    run_dir = json.loads(capsys.readouterr().out)["run_dir"]
    tok = load_tokenizer(run_dir)
    assert tok.decode(tok.encode("Copyright (c) 2024 — OCR")) == "Copyright (c) 2024 — OCR"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe")
    rc = main(["train-bpe", "--corpus", str(legal), "--variant", "domain", "--terms", str(bad), "--vocab-size", "1200",
               "--runs-dir", str(tmp_path), "--option", f"reference={ref}"])
    assert rc == 2
    assert "not UTF-8" in capsys.readouterr().err
