"""Text sources: every input form, the fixed splits, UTF-8 handling, fingerprints."""

from __future__ import annotations

import io
import sys

import pytest

from tokbench.errors import TokbenchError
from tokbench.sources.text import (Corpus, builtin_names, builtin_path, doc_is_heldout, english_documents,
                                   resolve)


def test_files_globs_and_directories(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\nbeta\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.txt").write_text("gamma\n")
    (sub / ".hidden").write_text("never\n")
    assert list(Corpus(str(tmp_path / "a.txt"))) == ["alpha\n", "beta\n"]
    assert sorted(Corpus(str(tmp_path))) == ["alpha\n", "beta\n", "gamma\n"]
    assert sorted(Corpus(str(tmp_path / "**" / "*.txt"))) == ["alpha\n", "beta\n", "gamma\n"]
    assert list(Corpus([str(tmp_path / "a.txt"), str(sub / "b.txt")])) == ["alpha\n", "beta\n", "gamma\n"]


def test_stdin_is_spooled_and_fingerprinted(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("from stdin\nsecond\n".encode())))
    corpus = Corpus("-")
    assert list(corpus) == ["from stdin\n", "second\n"]
    (fp,) = corpus.fingerprint()
    assert fp["source"] == "-" and fp["bytes"] == len("from stdin\nsecond\n")


def test_line_split_of_user_files_is_fixed(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1, 31)))
    held = list(Corpus(str(path), split="heldout"))
    train = list(Corpus(str(path), split="train"))
    assert held == ["line 10\n", "line 20\n", "line 30\n"]
    assert len(train) == 27 and not set(held) & set(train)


def test_invalid_utf8_reports_file_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nbad \xff here\nlast\n")
    with pytest.raises(TokbenchError, match=r"bad.txt: invalid UTF-8 at byte offset 14 \(line 2\)"):
        list(Corpus(str(path)))
    assert list(Corpus(str(path), errors="replace")) == ["good line\n", "bad \ufffd here\n", "last\n"]
    assert list(Corpus(str(path), errors="skip")) == ["good line\n", "last\n"]
    with pytest.raises(TokbenchError, match="--errors"):
        Corpus(str(path), errors="ignore-all")


def test_missing_empty_and_unmatched_sources(tmp_path):
    with pytest.raises(TokbenchError, match="no such file"):
        Corpus(str(tmp_path / "nope.txt"))
    with pytest.raises(TokbenchError, match="glob matches no files"):
        Corpus(str(tmp_path / "*.nothing"))
    with pytest.raises(TokbenchError, match="unknown built-in"):
        Corpus("builtin:klingon")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(TokbenchError, match="is empty"):
        Corpus(str(empty)).check_not_empty()
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(TokbenchError, match="holds no files"):
        resolve(str(tmp_path / "emptydir"))


def test_builtin_english_is_about_two_megabytes_with_a_content_split():
    train, held = builtin_path("english", "train"), builtin_path("english", "heldout")
    total = train.stat().st_size + held.stat().st_size
    assert 1_800_000 < total < 3_000_000
    assert 0.05 < held.stat().st_size / total < 0.2
    first_heldout = next(d for d in english_documents() if doc_is_heldout(d.strip()))
    assert held.read_text(encoding="utf-8").startswith(first_heldout.strip())
    assert {"english", "code", "legal"} <= set(builtin_names())


def test_builtin_code_and_legal_hold_what_they_claim():
    code = Corpus("builtin:code", split="heldout").text(max_chars=200_000)
    assert "def " in code and "import " in code
    legal = Corpus("builtin:legal").text()
    assert "Permission is hereby granted" in legal or "GNU GENERAL PUBLIC LICENSE" in legal
    assert Corpus("builtin:legal", split="train").text() != Corpus("builtin:legal", split="heldout").text()


def test_fingerprint_is_stable_and_content_addressed(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("same text\n")
    a = Corpus(str(path)).fingerprint()
    b = Corpus(str(path)).fingerprint()
    assert a == b and len(a[0]["sha256"]) == 64 and a[0]["bytes"] == 10
    path.write_text("other text\n")
    assert Corpus(str(path)).fingerprint()[0]["sha256"] != a[0]["sha256"]
