"""sweep-vocab: the same recipe at several sizes, a power-law fit, and a recommended size per language."""

from __future__ import annotations

import json

import pytest

from tokbench.cli import main
from tokbench.errors import TokbenchError
from tokbench.text.sweep import sweep_vocab


@pytest.fixture(scope="module")
def parallel_folder(tmp_path_factory):
    """English and two languages from builtin:parallel, written as a FLORES-style folder."""
    from tokbench.sources.parallel import load_parallel

    pc = load_parallel("builtin:parallel")
    folder = tmp_path_factory.mktemp("flores")
    langs = ["fr", "ru"]
    common = sorted(set.intersection(*[{a for a, _ in pc.pairs[lang]} for lang in langs]))[:600]
    (folder / "en.txt").write_text("\n".join(common) + "\n", encoding="utf-8")
    for lang in langs:
        table = dict(pc.pairs[lang])
        (folder / f"{lang}.txt").write_text("\n".join(table[a] for a in common) + "\n", encoding="utf-8")
    return folder


def test_sweep_on_parallel_recommends_a_size_per_language(parallel_folder, tmp_path):
    res = sweep_vocab(parallel=str(parallel_folder), sizes=[270, 320, 400, 520], min_entries=100,
                      runs_dir=tmp_path, name="sw")
    assert set(res.ctc) == {"fr", "ru"}
    for lang in ("fr", "ru"):
        counts = [res.ctc[lang][s] for s in res.sizes]
        assert counts == sorted(counts, reverse=True)  # more vocabulary, fewer tokens
        assert res.fits[lang]["b"] < 0 and 0 < res.fits[lang]["r2"] <= 1
        assert res.recommended[lang] is None or res.recommended[lang] > 0
    assert res.scripts["ru"] == "Cyrl" and "Arnett" in res.criterion
    report = json.loads((tmp_path / "sw" / "report.json").read_text())
    rows = [r for r in report["rows"] if r["metric"] == "corpus_token_count"]
    assert {r["budget"] for r in rows} == {270, 320, 400, 520} and all("language" in r for r in rows)


def test_sweep_monolingual_and_bad_input(small_corpus, capsys):
    res = sweep_vocab(corpus=str(small_corpus), sizes=[300, 600])
    assert res.ctc["all"][300] > res.ctc["all"][600] and res.recommended == {}
    with pytest.raises(TokbenchError):
        sweep_vocab(corpus=str(small_corpus), sizes=[300])
    rc = main(["sweep-vocab", "--corpus", str(small_corpus), "--sizes", "300,x", "--json"])
    assert rc == 2 and "--sizes" in capsys.readouterr().err


def test_cli_sweep_json(parallel_folder, capsys):
    rc = main(["sweep-vocab", "--parallel", str(parallel_folder), "--sizes", "270,340", "-l", "ru",
               "--min-entries", "100", "--no-run", "--json"])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload["ctc"]) == ["ru"] and payload["reference_size"] == 340
