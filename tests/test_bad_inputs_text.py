"""Bad input to the CLI and its text commands (issue 15): one table of cases, run in-process.

The rule every error case asserts (README, "Reliability"):
- exit status 2, nothing on stdout, no traceback, no "internal error";
- stderr ends with exactly one line `tokbench: error: MESSAGE`;
- a usage error (the parser refused the command line) may put the usual hint before it: exactly
  `Try 'tokbench [COMMAND] -h' for help.`, preceded by `Usage: tokbench ...` when the parser got that far.
  Any other error has that one line and nothing else;
- no run folder is left behind (every command that writes runs gets `--runs-dir` pointing at an empty folder).
The few inputs that are not errors have a documented result, checked by their own function.

Below the table, one named regression test per class of the issue (classes 1, 2, 3, 9, 10, 11, 14, 16, 17).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tokbench.cli import main

# ---------------------------------------------------------------------------------------------- the rule
_TRY = re.compile(r"^Try 'tokbench( [a-z-]+)? -h' for help\.$")


def check_error(rc: int, out: str, err: str, usage: bool) -> str:
    """Assert the one-line error rule; return the message."""
    assert rc == 2, (rc, out, err)
    assert out == "", out
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.splitlines()
    assert lines and lines[-1].startswith("tokbench: error: "), err
    hints = lines[:-1]
    if usage:
        assert len(hints) in (1, 2), err
        assert _TRY.match(hints[-1]), err
        if len(hints) == 2:
            assert hints[0].startswith("Usage: tokbench"), err
    else:
        assert hints == [], err
    return lines[-1][len("tokbench: error: "):]


def no_runs_left(runs: Path) -> None:
    assert not runs.exists() or not any(runs.iterdir()), sorted(p.name for p in runs.iterdir())


# ---------------------------------------------------------------------------------------------- the files
def _ranks_from(tok) -> list[tuple[bytes, int]]:
    return [(tok.token_bytes(i), i) for i in range(tok.vocab_size)]


def _write_ranks(path: Path, ranks: list[tuple[bytes, int]]) -> Path:
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks), encoding="ascii")
    return path


def _run_folder(root: Path, name: str, run_json: object | None, manifest: object | None,
                files: dict[str, bytes] | None = None) -> Path:
    folder = root / name
    (folder / "artifacts").mkdir(parents=True)
    if run_json is not None:
        (folder / "run.json").write_text(run_json if isinstance(run_json, str) else json.dumps(run_json))
    if manifest is not None:
        (folder / "artifacts" / "tokbench.json").write_text(
            manifest if isinstance(manifest, str) else json.dumps(manifest))
    for rel, data in (files or {}).items():
        (folder / "artifacts" / rel).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, small_corpus, tiny_hf_run, tiny_spm_run) -> dict[str, str]:
    """Every bad (and a few good) input file, built once; values are paths as strings."""
    from tokbench.text.tokenizer import load_tokenizer

    d = tmp_path_factory.mktemp("zoo")
    z: dict[str, Path | str] = {}

    def put(name: str, data: bytes | str) -> Path:
        path = d / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        z[name] = path
        return path

    text = small_corpus.read_text(encoding="utf-8")[:40_000]
    put("small.txt", text)
    put("empty.txt", b"")
    put("blank.txt", "  \n\n\t\n \n")
    put("binary.bin", bytes((i * 7919 + 13) % 256 for i in range(4096)))
    put("truncated_utf8.txt", ("héllo wörld\n" * 30).encode() + b"cut \xc3")
    lines = [f"line {i} of plain text with some words\n" for i in range(1, 40)]
    put("bad_heldout.txt", "".join(lines[:9]).encode() + b"held-out line \xff here\n" + "".join(lines[10:]).encode())
    put("bad_train.txt", b"first line \xfe\n" + "".join(lines).encode())
    put("nul.txt", "a\x00b c\x00d\n" * 200 + text[:5000])
    put("one_line.txt", text.replace("\n", " ")[:20_000])
    put("terms.txt", "term one\nterm two\n")
    (d / "empty_dir").mkdir()
    (d / "hidden_dir").mkdir()
    (d / "hidden_dir" / ".secret.txt").write_text("hidden")
    z["empty_dir"], z["hidden_dir"] = d / "empty_dir", d / "hidden_dir"

    # tokenizer files: HF tokenizer.json
    hf_text = (tiny_hf_run / "artifacts" / "tokenizer.json").read_text(encoding="utf-8")
    put("ok.json", hf_text)
    put("empty.json", b"")
    put("notjson.json", "this is not json {")
    put("object.json", '{"a": 1}')
    put("list.json", "[]")
    put("truncated.json", hf_text[: len(hf_text) // 2])
    put("binary.json", bytes(range(256)) * 4)
    # sentencepiece models
    spm_bytes = (tiny_spm_run / "artifacts" / "tokenizer.model").read_bytes()
    put("ok.model", spm_bytes)
    put("empty.model", b"")
    put("random.model", bytes((i * 31 + 7) % 256 for i in range(2000)))
    put("truncated.model", spm_bytes[: len(spm_bytes) // 3])
    put("text.model", "just some text\n")
    # tiktoken rank files
    ranks = _ranks_from(load_tokenizer(tiny_hf_run))
    z["ok.tiktoken"] = _write_ranks(d / "ok.tiktoken", ranks)
    put("empty.tiktoken", b"")
    put("nonascii.tiktoken", "é 0\n")
    put("badb64.tiktoken", "!!!! 0\n")
    put("onecol.tiktoken", "QQ==\n")
    put("threecol.tiktoken", "QQ== 0 7\n")
    put("notint.tiktoken", "QQ== zero\n")
    put("binary.tiktoken", bytes(range(256)))
    z["dup_rank.tiktoken"] = _write_ranks(d / "dup_rank.tiktoken", ranks[:300] + [(ranks[300][0], 5)])
    z["dup_token.tiktoken"] = _write_ranks(d / "dup_token.tiktoken", ranks + [(ranks[3][0], len(ranks))])
    z["no_bytes.tiktoken"] = _write_ranks(d / "no_bytes.tiktoken", [(t, r) for t, r in ranks if len(t) > 1])
    z["one_byte_missing.tiktoken"] = _write_ranks(d / "one_byte_missing.tiktoken",
                                                  [(t, r) for t, r in ranks if t != b"\x00"])
    z["neg_rank.tiktoken"] = _write_ranks(d / "neg_rank.tiktoken", ranks[:299] + [(ranks[299][0], -1)])
    z["sparse_rank.tiktoken"] = _write_ranks(d / "sparse_rank.tiktoken",
                                             ranks[:299] + [(ranks[299][0], 4_000_000_000)])
    z["huge_rank.tiktoken"] = _write_ranks(d / "huge_rank.tiktoken", ranks[:299] + [(ranks[299][0], 1 << 64)])
    put("ok.unknownext", hf_text)
    hf_config = json.loads(hf_text)
    last = max(hf_config["model"]["vocab"], key=hf_config["model"]["vocab"].get)
    put("dup_id.json", json.dumps({**hf_config, "model": {**hf_config["model"], "vocab": {
        **hf_config["model"]["vocab"], last: 5}}}))
    put("far_id.json", json.dumps({**hf_config, "model": {**hf_config["model"], "vocab": {
        **hf_config["model"]["vocab"], last: 4_000_000_000}}}))

    # corrupt run folders as -t inputs
    runs = d / "runs"
    good_manifest = {"format": "hf", "file": "tokenizer.json", "variant": "plain", "pattern": "gpt4"}
    hf_bytes = hf_text.encode()
    z["run_bare"] = _run_folder(runs, "bare", None, None)
    z["run_json_only"] = _run_folder(runs, "json-only", {"kind": "text-bpe", "status": "done"}, None)
    z["run_corrupt_json"] = _run_folder(runs, "corrupt-json", "{", None)
    z["run_manifest_corrupt"] = _run_folder(runs, "manifest-corrupt", {"kind": "text-bpe"}, "{not json")
    z["run_manifest_list"] = _run_folder(runs, "manifest-list", {"kind": "text-bpe"}, [1, 2])
    z["run_manifest_nokeys"] = _run_folder(runs, "manifest-nokeys", {"kind": "text-bpe"}, {"variant": "plain"})
    z["run_manifest_missing_file"] = _run_folder(runs, "missing-file", {"kind": "text-bpe"}, good_manifest)
    z["run_manifest_unknown_format"] = _run_folder(runs, "unknown-format", {"kind": "text-bpe"},
                                                   {**good_manifest, "format": "onnx"}, {"tokenizer.json": hf_bytes})
    z["run_manifest_unknown_transform"] = _run_folder(runs, "unknown-transform", {"kind": "text-bpe"},
                                                      {**good_manifest, "transform": {"name": "rot13"}},
                                                      {"tokenizer.json": hf_bytes})
    z["run_artifact_corrupt"] = _run_folder(runs, "artifact-corrupt", {"kind": "text-bpe"}, good_manifest,
                                            {"tokenizer.json": hf_bytes[:1000]})
    z["run_artifact_dir"] = _run_folder(runs, "artifact-dir", {"kind": "text-bpe"}, good_manifest)
    (z["run_artifact_dir"] / "artifacts" / "tokenizer.json").mkdir()
    z["run_manifest_spm_is_hf"] = _run_folder(runs, "spm-is-hf", {"kind": "text-bpe"},
                                              {**good_manifest, "format": "spm"}, {"tokenizer.json": hf_bytes})
    z["run_manifest_file_int"] = _run_folder(runs, "manifest-file-int", {"kind": "text-bpe"},
                                             {**good_manifest, "file": 5}, {"tokenizer.json": hf_bytes})
    z["run_json_is_list"] = _run_folder(runs, "json-is-list", [], None)
    z["run_vocab_size_text"] = _run_folder(runs, "vocab-size-text", {
        "kind": "text-bpe", "status": "interrupted", "config": {
            "spec": {"vocab_size": "abc"}, "corpus": [str(d / "small.txt")], "errors": "strict", "evaluate": False}},
        None)
    z["run_ok"] = tiny_hf_run
    z["run_spm_ok"] = tiny_spm_run
    z["zoo"] = d
    return {k: str(v) for k, v in z.items()}


# ---------------------------------------------------------------------------------------------- documented results
def ok_trained(expect_note: str | None = None) -> Callable:
    def check(rc, out, err, runs: Path):
        assert rc == 0, err
        payload = json.loads(out)
        info = json.loads((Path(payload["run_dir"]) / "run.json").read_text())
        assert info["status"] == "done"
        if expect_note:
            assert any(expect_note in n for n in payload["notes"]), payload["notes"]
    return check


def ok_eval_lines(lines: int) -> Callable:
    def check(rc, out, err, runs: Path):
        assert rc == 0, err
        assert [c["lines"] for c in json.loads(out)["corpora"]] == [lines]
    return check


def ok_inspect_text(text: str) -> Callable:
    def check(rc, out, err, runs: Path):
        assert rc == 0, err
        assert json.loads(out)["text"] == text
    return check


def ok_inspect_file_prefix(chars: int) -> Callable:
    def check(rc, out, err, runs: Path, args: list[str]):
        assert rc == 0, err
        shown = Path(args[args.index("-f") + 1]).read_text(encoding="utf-8")[:chars]
        assert json.loads(out)["text"] == shown and len(shown) == chars
    return check


def ok_runs_listed(count: int) -> Callable:
    def check(rc, out, err, runs: Path):
        assert rc == 0, err
        assert len(json.loads(out)["runs"]) == count
    return check


def ok_exit0(rc, out, err, runs: Path):
    assert rc == 0 and "Traceback" not in err, err


U, E = "usage", "error"
SMALL = "{small.txt}"
RUN = "{run_ok}"

#: (id, argv, expected: U | E | check function, substring the message must hold or None)
CASES: list[tuple[str, list[str], object, str | None]] = [
    # --- 1. command-line usage -------------------------------------------------------------------------
    ("bare", [], U, "no command given"),
    ("unknown-command", ["trian-bpe"], U, "no such command"),
    ("unknown-root-option", ["--bogus"], U, "no such option"),
    ("unknown-short-option", ["-Z"], U, "no such option"),
    ("version-with-junk", ["--version=3"], U, None),
    ("help-with-junk", ["--help=yes"], U, None),
    *[(f"{cmd}-unknown-option", [cmd, "--bogus"], U, "no such option")
      for cmd in ("train-bpe", "eval-text", "sweep-vocab", "inspect", "diff", "probe", "runs", "show")],
    ("train-v-missing-value", ["train-bpe", "-v"], U, "requires an argument"),
    ("train-c-missing-value", ["train-bpe", "-c"], U, "requires an argument"),
    ("train-v-abc", ["train-bpe", "-v", "abc"], U, "--vocab-size"),
    ("train-v-float", ["train-bpe", "-v", "1.5"], U, "--vocab-size"),
    ("train-v-expression", ["train-bpe", "-v", "10**19"], U, "--vocab-size"),
    ("train-v-empty", ["train-bpe", "-v", ""], U, "--vocab-size"),
    ("train-min-frequency-abc", ["train-bpe", "--min-frequency", "x"], U, "--min-frequency"),
    ("train-threads-abc", ["train-bpe", "--threads", "two"], U, "--threads"),
    ("train-max-token-length-abc", ["train-bpe", "--max-token-length", "long"], U, "--max-token-length"),
    ("train-transition-abc", ["train-bpe", "--transition", "t"], U, "--transition"),
    ("train-extra-argument", ["train-bpe", "extra"], U, None),
    ("train-flag-with-value", ["train-bpe", "--no-eval=1"], U, None),
    ("eval-alpha-abc", ["eval-text", "-t", RUN, "--alpha", "x"], U, "--alpha"),
    ("eval-max-lines-abc", ["eval-text", "-t", RUN, "--max-lines", "many"], U, "--max-lines"),
    ("eval-t-missing-value", ["eval-text", "-t"], U, "requires an argument"),
    ("sweep-reference-size-abc", ["sweep-vocab", "--reference-size", "big"], U, "--reference-size"),
    ("sweep-max-languages-abc", ["sweep-vocab", "--max-languages", "x"], U, "--max-languages"),
    ("inspect-max-chars-abc", ["inspect", "x", "-t", RUN, "--max-chars", "x"], U, "--max-chars"),
    ("inspect-two-texts", ["inspect", "a", "b", "-t", RUN], U, None),
    ("diff-no-arguments", ["diff"], U, "missing argument"),
    ("diff-one-argument", ["diff", RUN], U, "missing argument"),
    ("diff-three-arguments", ["diff", RUN, RUN, RUN], U, None),
    ("diff-top-abc", ["diff", RUN, RUN, "--top", "x"], U, "--top"),
    ("probe-top-abc", ["probe", "-t", RUN, "--top", "x"], U, "--top"),
    ("show-no-argument", ["show"], U, "missing argument"),
    ("runs-two-arguments", ["runs", "a", "b"], U, None),
    # --- 2. sizes out of range ------------------------------------------------------------------------
    ("train-v-zero", ["train-bpe", "-c", SMALL, "-v", "0"], E, "vocab-size"),
    ("train-v-negative", ["train-bpe", "-c", SMALL, "-v", "-5"], E, "vocab-size"),
    ("train-v-one", ["train-bpe", "-c", SMALL, "-v", "1"], E, "vocab-size"),
    ("train-v-below-bytes", ["train-bpe", "-c", SMALL, "-v", "257"], E, "byte alphabet"),
    ("train-v-1e9", ["train-bpe", "-c", SMALL, "-v", "1000000000"], E, "at most 16,777,216"),
    ("train-v-1e19", ["train-bpe", "-c", SMALL, "-v", "10000000000000000000"], E, "at most 16,777,216"),
    ("train-v-2pow24-plus1", ["train-bpe", "-c", SMALL, "-v", str((1 << 24) + 1)], E, "at most"),
    ("train-v-beyond-corpus", ["train-bpe", "-c", SMALL, "-v", "5000000"], E, "can fill"),
    ("train-v-beyond-corpus-min-freq", ["train-bpe", "-c", SMALL, "-v", "30000", "--min-frequency", "2"], E,
     "can fill"),
    ("train-spm-v-beyond-corpus", ["train-bpe", "-c", SMALL, "--backend", "spm", "-v", "3000000"], E, "can fill"),
    ("train-spm-unigram-too-high", ["train-bpe", "-c", SMALL, "--backend", "spm", "--model-type", "unigram",
                                    "-v", "20000"], E, "at most"),
    ("train-spm-v-below-chars", ["train-bpe", "-c", SMALL, "--backend", "spm", "-v", "100"], E,
     "sentencepiece needs for the characters"),
    ("train-spm-unigram-v-below-chars", ["train-bpe", "-c", SMALL, "--backend", "spm", "--model-type", "unigram",
                                         "-v", "100"], E, "or more"),
    ("train-min-frequency-zero", ["train-bpe", "-c", SMALL, "--min-frequency", "0"], E, "min-frequency"),
    ("train-min-frequency-negative", ["train-bpe", "-c", SMALL, "--min-frequency", "-3"], E, "min-frequency"),
    ("train-threads-zero", ["train-bpe", "-c", SMALL, "--threads", "0"], E, "threads"),
    ("train-max-token-length-zero", ["train-bpe", "-c", SMALL, "--max-token-length", "0"], E, "max-token-length"),
    ("train-max-token-length-1e20", ["train-bpe", "-c", SMALL, "--max-token-length", str(10 ** 20)], E,
     "max-token-length"),
    ("train-spm-max-token-length-600", ["train-bpe", "-c", SMALL, "--backend", "spm", "--max-token-length", "600"],
     E, "at most 512"),
    ("train-min-frequency-1e20", ["train-bpe", "-c", SMALL, "-v", "258", "--min-frequency", str(10 ** 20)], E,
     "min-frequency"),
    ("train-threads-1e20", ["train-bpe", "-c", SMALL, "--threads", str(10 ** 20)], E, "threads"),
    ("train-spm-threads-1e11", ["train-bpe", "-c", SMALL, "--backend", "spm", "--threads", str(10 ** 11)], E,
     "threads"),
    ("train-domain-terms-binary", ["train-bpe", "-c", SMALL, "--variant", "domain", "--terms", "{binary.bin}"], E,
     None),
    ("train-domain-terms-dir", ["train-bpe", "-c", SMALL, "--variant", "domain", "--terms", "{empty_dir}"], E,
     "is a folder"),
    ("train-domain-terms-missing", ["train-bpe", "-c", SMALL, "--variant", "domain", "--terms", "{zoo}/no.txt"], E,
     "no such file"),
    ("train-supertoken-transition-too-big", ["train-bpe", "-c", SMALL, "--variant", "supertoken", "-v", "400",
                                             "--transition", "500"], E, "transition"),
    ("train-supertoken-no-room", ["train-bpe", "-c", SMALL, "--variant", "supertoken", "-v", "258"], E, None),
    ("sweep-sizes-abc", ["sweep-vocab", "-c", SMALL, "--sizes", "abc"], E, "--sizes"),
    ("sweep-sizes-empty", ["sweep-vocab", "-c", SMALL, "--sizes", ""], E, None),
    ("sweep-sizes-one", ["sweep-vocab", "-c", SMALL, "--sizes", "300"], E, "two vocabulary sizes"),
    ("sweep-sizes-1e9", ["sweep-vocab", "-c", SMALL, "--sizes", "300,1000000000"], E, "at most"),
    ("sweep-sizes-1e19", ["sweep-vocab", "-c", SMALL, "--sizes", "300,10000000000000000000"], E, "at most"),
    ("sweep-sizes-zero", ["sweep-vocab", "-c", SMALL, "--sizes", "0,300"], E, "--sizes"),
    ("sweep-sizes-negative", ["sweep-vocab", "-c", SMALL, "--sizes", "-5,300"], E, "--sizes"),
    ("sweep-sizes-negative-last", ["sweep-vocab", "-c", SMALL, "--sizes", "300,-5"], E, "--sizes -5"),
    ("sweep-reference-size-negative", ["sweep-vocab", "-c", SMALL, "--sizes", "300,400", "--reference-size", "-1"],
     E, "--reference-size"),
    ("sweep-sizes-below-bytes", ["sweep-vocab", "-c", SMALL, "--sizes", "100,300"], E, "byte alphabet"),
    ("sweep-reference-size-huge", ["sweep-vocab", "-c", SMALL, "--sizes", "300,400", "--reference-size",
                                   "1000000000"], E, "at most"),
    ("sweep-min-entries-zero", ["sweep-vocab", "-c", SMALL, "--min-entries", "0"], U, "--min-entries"),
    ("sweep-max-languages-zero", ["sweep-vocab", "-c", SMALL, "--max-languages", "0"], U, "--max-languages"),
    ("sweep-min-frequency-zero", ["sweep-vocab", "-c", SMALL, "--sizes", "300,400", "--min-frequency", "0"], E,
     "min-frequency"),
    ("sweep-pretokenizer-bad", ["sweep-vocab", "-c", SMALL, "--sizes", "300,400", "--pretokenizer", "gpt9"], E,
     "pre-tokenizer"),
    ("sweep-corpus-and-parallel", ["sweep-vocab", "-c", SMALL, "-p", SMALL, "--sizes", "300,400"], E, "at most one"),
    ("sweep-corpus-missing", ["sweep-vocab", "-c", "{zoo}/nope.txt", "--sizes", "300,400"], E, "no such"),
    # --- train-bpe options --------------------------------------------------------------------------------
    ("train-backend-bad", ["train-bpe", "-c", SMALL, "--backend", "torch"], E, "backend"),
    ("train-model-type-bad", ["train-bpe", "-c", SMALL, "--backend", "spm", "--model-type", "wordpiece"], E,
     "model type"),
    ("train-unigram-with-hf", ["train-bpe", "-c", SMALL, "--model-type", "unigram"], E, "--backend spm"),
    ("train-variant-bad", ["train-bpe", "-c", SMALL, "--variant", "wordpiece"], E, "variant"),
    ("train-variant-with-spm", ["train-bpe", "-c", SMALL, "--variant", "char", "--backend", "spm"], E, "backend hf"),
    ("train-pretokenizer-bad", ["train-bpe", "-c", SMALL, "--pretokenizer", "gpt9"], E, "pre-tokenizer"),
    ("train-normalize-bad", ["train-bpe", "-c", SMALL, "--normalize", "nfd"], E, "normalization"),
    ("train-errors-bad", ["train-bpe", "-c", SMALL, "--errors", "ignore"], E, "--errors"),
    ("train-spm-lowercase-no-nfkc", ["train-bpe", "-c", SMALL, "--backend", "spm", "--lowercase", "-v", "2000"], E,
     "nfkc"),
    ("train-special-empty", ["train-bpe", "-c", SMALL, "--special", ""], E, "special"),
    ("train-special-blank", ["train-bpe", "-c", SMALL, "--special", "   "], E, "special"),
    ("train-special-twice", ["train-bpe", "-c", SMALL, "--special", "<a>", "--special", "<a>"], E, "twice"),
    ("train-name-empty-here", ["train-bpe", "-c", SMALL, "--name", "", "--runs-dir", "{zoo}"], E, "it is empty"),
    ("train-name-300-chars", ["train-bpe", "-c", SMALL, "--name", "x" * 300], E, "at most 128"),
    ("train-resume-run-json-list", ["train-bpe", "--resume", "{run_json_is_list}"], E, "not a text-bpe run"),
    ("train-resume-vocab-size-text", ["train-bpe", "--resume", "{run_vocab_size_text}"], E, "not an integer"),
    ("eval-run-manifest-file-int", ["eval-text", "-t", "{run_manifest_file_int}", "-c", SMALL], E,
     "corrupt tokenizer manifest"),
    ("train-char-below-alphabet-no-run", ["train-bpe", "-c", SMALL, "-v", "30", "--variant", "char"], E,
     "character alphabet"),
    ("train-domain-no-room-no-run", ["train-bpe", "-c", SMALL, "-v", "300", "--variant", "domain", "--terms",
                                     "{empty.txt}"], E, "no room for BPE"),
    *[(f"train-dask-workers-{w}-no-run", ["train-bpe", "-c", SMALL, "-v", "300", "--engine", "dask", "--workers", w],
       E, "--workers") for w in ("0", "-1")],
    ("train-option-no-equals", ["train-bpe", "-c", SMALL, "-o", "seed"], E, "KEY=VALUE"),
    ("train-option-empty-key", ["train-bpe", "-c", SMALL, "-o", "=3"], E, "empty KEY"),
    ("train-option-unknown-plain", ["train-bpe", "-c", SMALL, "-o", "seed=3"], E, "does not apply"),
    ("train-option-unknown-char", ["train-bpe", "-c", SMALL, "--variant", "char", "-o", "recipe=x"], E,
     "does not apply"),
    ("train-option-unknown-supertoken", ["train-bpe", "-c", SMALL, "--variant", "supertoken", "-o", "foo=1"], E,
     "unknown option"),
    ("train-recipe-on-plain", ["train-bpe", "-c", SMALL, "--recipe", "superbpe"], E, "--recipe"),
    ("train-transition-on-plain", ["train-bpe", "-c", SMALL, "--transition", "300"], E, "--transition"),
    ("train-max-words-on-plain", ["train-bpe", "-c", SMALL, "--max-words", "2"], E, "--max-words"),
    ("train-triad-form-on-plain", ["train-bpe", "-c", SMALL, "--triad-form", "vocab"], E, "--triad-form"),
    ("train-terms-on-plain", ["train-bpe", "-c", SMALL, "--terms", "{terms.txt}"], E, "--terms"),
    ("train-pad-pow2-on-plain", ["train-bpe", "-c", SMALL, "--pad-pow2"], E, "--pad-pow2"),
    ("train-uncased-on-char", ["train-bpe", "-c", SMALL, "--variant", "char", "--uncased"], E, "--uncased"),
    ("train-terms-missing", ["train-bpe", "-c", SMALL, "--variant", "domain", "--terms", "{zoo}/nope.txt"], E,
     "no such file"),
    ("train-recipe-bad", ["train-bpe", "-c", SMALL, "--variant", "supertoken", "--recipe", "greedy"], E, "recipe"),
    ("train-triad-form-bad", ["train-bpe", "-c", SMALL, "--variant", "triad", "--triad-form", "hex"], E, None),
    ("train-name-dotdot", ["train-bpe", "-c", SMALL, "--name", "../escape"], E, "invalid run name"),
    ("train-name-slash", ["train-bpe", "-c", SMALL, "--name", "a/b"], E, "invalid run name"),
    ("train-name-empty", ["train-bpe", "-c", SMALL, "--name", ""], E, "invalid run name"),
    ("train-name-hidden", ["train-bpe", "-c", SMALL, "--name", ".hidden"], E, "invalid run name"),
    ("train-name-too-long", ["train-bpe", "-c", SMALL, "--name", "n" * 200], E, "invalid run name"),
    ("train-runs-dir-is-file", ["train-bpe", "-c", SMALL, "--runs-dir", SMALL], E, None),
    # --- corpora --------------------------------------------------------------------------------------
    ("train-corpus-missing", ["train-bpe", "-c", "{zoo}/nope.txt"], E, "no such file"),
    ("train-corpus-empty", ["train-bpe", "-c", "{empty.txt}"], E, "empty"),
    ("train-corpus-blank", ["train-bpe", "-c", "{blank.txt}"], E, "empty"),
    ("train-corpus-binary", ["train-bpe", "-c", "{binary.bin}"], E, "invalid UTF-8"),
    ("train-corpus-truncated-utf8", ["train-bpe", "-c", "{truncated_utf8.txt}"], E, "invalid UTF-8"),
    ("train-corpus-bad-train-line", ["train-bpe", "-c", "{bad_train.txt}"], E, "byte offset 11"),
    ("train-corpus-bad-heldout-line", ["train-bpe", "-c", "{bad_heldout.txt}"], E, "line 10"),
    ("train-corpus-empty-dir", ["train-bpe", "-c", "{empty_dir}"], E, "no files"),
    ("train-corpus-hidden-only-dir", ["train-bpe", "-c", "{hidden_dir}"], E, "no files"),
    ("train-corpus-glob-nothing", ["train-bpe", "-c", "{zoo}/*.nothing"], E, "glob matches no files"),
    ("train-corpus-dev-null", ["train-bpe", "-c", "/dev/null"], E, "not a regular file"),
    ("train-corpus-builtin-unknown", ["train-bpe", "-c", "builtin:klingon"], E, "built-in"),
    ("train-corpus-one-good-one-missing", ["train-bpe", "-c", SMALL, "-c", "{zoo}/nope.txt"], E, "no such file"),
    ("train-corpus-skip-everything", ["train-bpe", "-c", "{binary.bin}", "--errors", "skip"], E, "empty"),
    ("train-corpus-stdin-empty", ["train-bpe", "-c", "-"], E, "empty"),
    ("train-corpus-stdin-binary", ["train-bpe", "-c", "-", "#stdin-binary"], E, "invalid UTF-8"),
    # --- resume -----------------------------------------------------------------------------------------
    ("resume-missing", ["train-bpe", "--resume", "{zoo}/nope"], E, "no such file"),
    ("resume-not-a-run", ["train-bpe", "--resume", "{empty_dir}"], E, "no such file"),
    ("resume-corrupt-json", ["train-bpe", "--resume", "{run_corrupt_json}"], E, "corrupt JSON"),
    ("resume-no-config", ["train-bpe", "--resume", "{run_json_only}"], E, "no usable text-bpe config"),
    ("resume-other-kind", ["train-bpe", "--resume", "#text-eval-run"], E, "not a text-bpe run"),
    ("resume-finished", ["train-bpe", "--resume", RUN], E, "already finished"),
    ("resume-changed-vocab", ["train-bpe", "--resume", RUN, "-v", "500"], E, "--vocab-size 500"),
    ("resume-changed-backend", ["train-bpe", "--resume", RUN, "--backend", "spm"], E, "--backend"),
    ("resume-changed-corpus", ["train-bpe", "--resume", RUN, "-c", "{nul.txt}"], E, "--corpus"),
    ("resume-locked", ["train-bpe", "--resume", "#locked-run"], E, "locked by process"),
    # --- 3. tokenizer files (eval-text) -------------------------------------------------------------------
    ("eval-no-tokenizer", ["eval-text", "-c", SMALL], E, "no tokenizer"),
    ("eval-t-missing", ["eval-text", "-t", "{zoo}/nope", "-c", SMALL], E, "no such"),
    ("eval-t-empty-dir", ["eval-text", "-t", "{empty_dir}", "-c", SMALL], E, "holds no tokenizer"),
    ("eval-t-unknown-extension", ["eval-text", "-t", "{ok.unknownext}", "-c", SMALL], E, "cannot tell"),
    ("eval-t-unknown-prefix-file", ["eval-text", "-t", "bpe:{ok.json}", "-c", SMALL], E, None),
    *[(f"eval-hf-{n}", ["eval-text", "-t", f"hf:{{{n}.json}}", "-c", SMALL], E, "tokenizer.json")
      for n in ("empty", "notjson", "object", "list", "truncated", "binary")],
    ("eval-hf-is-spm", ["eval-text", "-t", "hf:{ok.model}", "-c", SMALL], E, "tokenizer.json"),
    ("eval-label-repeated", ["eval-text", "-t", "x=" + RUN, "-t", "x={run_spm_ok}", "-c", SMALL], E,
     "label 'x'"),
    ("eval-csv-is-device", ["eval-text", "-t", RUN, "-c", SMALL, "--csv", "/dev/null"], E, "not a folder"),
    ("eval-csv-is-file", ["eval-text", "-t", RUN, "-c", SMALL, "--csv", SMALL], E, "not a folder"),
    ("eval-csv-under-file", ["eval-text", "-t", RUN, "-c", SMALL, "--csv", SMALL + "/out"], E, "not a folder"),
    ("sweep-csv-is-device", ["sweep-vocab", "-c", SMALL, "--sizes", "300,400", "--csv", "/dev/full"], E,
     "not a folder"),
    ("eval-hf-dup-id", ["eval-text", "-t", "hf:{dup_id.json}", "-c", SMALL], E, "given to two tokens"),
    ("inspect-hf-dup-id", ["inspect", "x", "-t", "hf:{dup_id.json}"], E, "given to two tokens"),
    ("probe-hf-far-id", ["probe", "-t", "hf:{far_id.json}", "-c", SMALL], E, "out of range"),
    *[(f"eval-spm-{n}", ["eval-text", "-t", f"spm:{{{n}.model}}", "-c", SMALL], E, "sentencepiece model")
      for n in ("empty", "random", "truncated", "text")],
    ("eval-spm-is-hf", ["eval-text", "-t", "spm:{ok.json}", "-c", SMALL], E, "sentencepiece model"),
    *[(f"eval-tiktoken-{n}", ["eval-text", "-t", f"tiktoken:{{{n}.tiktoken}}", "-c", SMALL], E, m)
      for n, m in (("empty", "empty"), ("nonascii", "not a tiktoken rank file"), ("badb64", "not a tiktoken"),
                   ("onecol", "not a tiktoken"), ("threecol", "not a tiktoken"), ("notint", "not a tiktoken"),
                   ("binary", "not a tiktoken"), ("dup_rank", "appears twice"), ("dup_token", "appears twice"),
                   ("no_bytes", "single-byte"), ("one_byte_missing", "0x00"), ("neg_rank", "negative rank"),
                   ("sparse_rank", "far beyond"), ("huge_rank", "far beyond"))],
    ("eval-tiktoken-sparse-rank-no-run", ["eval-text", "-t", "tiktoken:{sparse_rank.tiktoken}", "-c", SMALL,
                                          "--no-run"], E, "far beyond"),
    ("diff-tiktoken-sparse-rank", ["diff", "tiktoken:{sparse_rank.tiktoken}", RUN, "-c", SMALL], E, "far beyond"),
    ("eval-tiktoken-is-hf", ["eval-text", "-t", "tiktoken:{ok.json}", "-c", SMALL], E, "not a tiktoken"),
    ("eval-tiktoken-unknown-pattern", ["eval-text", "-t", "tiktoken:{ok.tiktoken}#gpt5", "-c", SMALL], E,
     "unknown split pattern"),
    ("eval-tiktoken-bad-regex", ["eval-text", "-t", "tiktoken:{ok.tiktoken}#(", "-c", SMALL], E, "regex"),
    ("eval-tiktoken-dropping-regex", ["eval-text", "-t", "tiktoken:{ok.tiktoken}#\\d+", "-c", SMALL], E,
     "drops text"),
    *[(f"eval-run-{n}", ["eval-text", "-t", f"{{run_{n}}}", "-c", SMALL], E, m)
      for n, m in (("bare", "no tokenizer"), ("json_only", "no tokenizer"), ("corrupt_json", "no tokenizer"),
                   ("manifest_corrupt", "corrupt tokenizer manifest"), ("manifest_list", "corrupt tokenizer manifest"),
                   ("manifest_nokeys", "corrupt tokenizer manifest"),
                   ("manifest_missing_file", "no such tokenizer file"),
                   ("manifest_unknown_format", "unknown tokenizer format"),
                   ("manifest_unknown_transform", "unknown text transform"),
                   ("artifact_corrupt", "tokenizer.json"), ("artifact_dir", "no such tokenizer file"),
                   ("manifest_spm_is_hf", "sentencepiece model"))],
    # --- 10. eval-text values and corpora -----------------------------------------------------------------
    ("eval-max-lines-negative", ["eval-text", "-t", RUN, "-c", SMALL, "--max-lines", "-1"], U, "--max-lines"),
    ("eval-max-lines-zero", ["eval-text", "-t", RUN, "-c", SMALL, "--max-lines", "0"], U, "--max-lines"),
    ("eval-alpha-nan", ["eval-text", "-t", RUN, "-c", SMALL, "--alpha", "nan"], E, "--alpha"),
    ("eval-alpha-inf", ["eval-text", "-t", RUN, "-c", SMALL, "--alpha", "inf"], E, "--alpha"),
    ("eval-alpha-zero", ["eval-text", "-t", RUN, "-c", SMALL, "--alpha", "0"], E, "--alpha"),
    ("eval-alpha-negative", ["eval-text", "-t", RUN, "-c", SMALL, "--alpha", "-2"], E, "--alpha"),
    ("eval-min-entries-zero", ["eval-text", "-t", RUN, "-c", SMALL, "--min-entries", "0"], U, "--min-entries"),
    ("eval-split-bad", ["eval-text", "-t", RUN, "-c", SMALL, "--split", "test"], E, "split"),
    ("eval-reference-unknown", ["eval-text", "-t", RUN, "-c", SMALL, "--reference", "nobody"], E, "reference"),
    ("eval-errors-bad", ["eval-text", "-t", RUN, "-c", SMALL, "--errors", "lenient"], E, "--errors"),
    ("eval-corpus-missing", ["eval-text", "-t", RUN, "-c", "{zoo}/nope.txt"], E, "no such file"),
    ("eval-corpus-empty", ["eval-text", "-t", RUN, "-c", "{empty.txt}"], E, "empty"),
    ("eval-corpus-binary", ["eval-text", "-t", RUN, "-c", "{binary.bin}"], E, "invalid UTF-8"),
    ("eval-corpus-dir-empty", ["eval-text", "-t", RUN, "-c", "{empty_dir}"], E, "no files"),
    ("eval-parallel-missing", ["eval-text", "-t", RUN, "-p", "{zoo}/nope.tsv"], E, None),
    ("eval-name-bad", ["eval-text", "-t", RUN, "-c", SMALL, "--name", "../x"], E, "invalid run name"),
    # --- inspect ----------------------------------------------------------------------------------------
    ("inspect-nothing", ["inspect", "-t", RUN], E, "give the text"),
    ("inspect-text-and-file", ["inspect", "x", "-f", SMALL, "-t", RUN], E, "give the text"),
    ("inspect-no-tokenizer", ["inspect", "hello"], E, "no tokenizer"),
    ("inspect-file-missing", ["inspect", "-f", "{zoo}/nope.txt", "-t", RUN], E, "cannot read"),
    ("inspect-file-binary", ["inspect", "-f", "{binary.bin}", "-t", RUN], E, "UTF-8"),
    ("inspect-file-dir", ["inspect", "-f", "{empty_dir}", "-t", RUN], E, "not a regular file"),
    ("inspect-max-chars-zero", ["inspect", "-f", SMALL, "-t", RUN, "--max-chars", "0"], U, "--max-chars"),
    ("inspect-max-chars-huge", ["inspect", "-f", SMALL, "-t", RUN, "--max-chars", "100000000"], U, "--max-chars"),
    ("inspect-text-too-long", ["inspect", "#long-text", "-t", RUN], E, "at most 100,000"),
    ("inspect-t-missing", ["inspect", "x", "-t", "{zoo}/nope.json"], E, "no such"),
    ("inspect-tiktoken-dup-rank", ["inspect", "x", "-t", "tiktoken:{dup_rank.tiktoken}"], E, "appears twice"),
    ("inspect-tiktoken-no-bytes", ["inspect", "x", "-t", "tiktoken:{no_bytes.tiktoken}"], E, "single-byte"),
    ("inspect-tiktoken-unknown-pattern", ["inspect", "x", "-t", "tiktoken:{ok.tiktoken}#llama9"], E,
     "unknown split pattern"),
    ("inspect-run-corrupt", ["inspect", "x", "-t", "{run_manifest_corrupt}"], E, "manifest"),
    # --- diff -------------------------------------------------------------------------------------------
    ("diff-a-missing", ["diff", "{zoo}/nope", RUN], E, "no such"),
    ("diff-b-corrupt", ["diff", RUN, "hf:{truncated.json}"], E, "tokenizer.json"),
    ("diff-top-zero", ["diff", RUN, RUN, "--top", "0"], U, "--top"),
    ("diff-max-lines-zero", ["diff", RUN, RUN, "--max-lines", "0"], U, "--max-lines"),
    ("diff-corpus-missing", ["diff", RUN, RUN, "-c", "{zoo}/nope.txt"], E, "no such file"),
    ("diff-corpus-binary", ["diff", RUN, RUN, "-c", "{binary.bin}"], E, "invalid UTF-8"),
    ("diff-corpus-empty", ["diff", RUN, RUN, "-c", "{empty.txt}"], E, "no non-blank lines"),
    ("diff-corpus-binary-skipped", ["diff", RUN, RUN, "-c", "{binary.bin}", "--errors", "skip"], E,
     "no non-blank lines"),
    ("diff-tiktoken-dup-token", ["diff", RUN, "tiktoken:{dup_token.tiktoken}"], E, "appears twice"),
    # --- probe ------------------------------------------------------------------------------------------
    ("probe-no-tokenizer", ["probe", "-c", SMALL], E, "no tokenizer"),
    ("probe-t-missing", ["probe", "-t", "{zoo}/nope", "-c", SMALL], E, "no such"),
    ("probe-max-lines-zero", ["probe", "-t", RUN, "--max-lines", "0"], U, "--max-lines"),
    ("probe-top-zero", ["probe", "-t", RUN, "--top", "0"], U, "--top"),
    ("probe-corpus-binary", ["probe", "-t", RUN, "-c", "{binary.bin}"], E, "invalid UTF-8"),
    ("probe-corpus-twice", ["probe", "-t", RUN, "-c", SMALL, "-c", SMALL], E, "given twice"),
    ("train-corpus-twice", ["train-bpe", "-c", SMALL, "-c", SMALL], E, "given twice"),
    ("probe-corpus-empty", ["probe", "-t", RUN, "-c", "{empty.txt}"], E, "no non-blank lines"),
    ("probe-corpus-binary-skipped", ["probe", "-t", RUN, "-c", "{binary.bin}", "--errors", "skip"], E,
     "no non-blank lines"),
    ("probe-bad-line-strict", ["probe", "-t", RUN, "-c", "{bad_heldout.txt}"], E, "--errors replace"),
    ("probe-bad-line-replaced", ["probe", "-t", RUN, "-c", "{bad_heldout.txt}", "--errors", "replace"], ok_exit0,
     None),
    ("diff-bad-line-skipped", ["diff", RUN, RUN, "-c", "{bad_heldout.txt}", "--errors", "skip"], ok_exit0, None),
    ("sweep-corpus-binary-hint", ["sweep-vocab", "-c", "{binary.bin}", "--sizes", "300,400"], E, "--errors"),
    ("probe-tiktoken-missing-bytes", ["probe", "-t", "tiktoken:{one_byte_missing.tiktoken}", "-c", SMALL], E,
     "single-byte"),
    ("probe-tiktoken-neg-rank", ["probe", "-t", "tiktoken:{neg_rank.tiktoken}", "-c", SMALL], E, "negative"),
    ("probe-run-unknown-transform", ["probe", "-t", "{run_manifest_unknown_transform}", "-c", SMALL], E,
     "transform"),
    # --- runs / show ------------------------------------------------------------------------------------
    ("runs-missing-folder", ["runs", "{zoo}/nope"], E, "no such folder"),
    ("runs-on-a-file", ["runs", SMALL], E, "not a folder"),
    ("runs-kind-unknown", ["runs", "{zoo}", "--kind", "text"], E, "unknown run kind"),
    ("show-missing", ["show", "{zoo}/nope"], E, "run folder"),
    ("show-file", ["show", SMALL], E, "run folder"),
    ("show-no-run-json", ["show", "{run_bare}"], E, "not a run folder"),
    ("show-corrupt-run-json", ["show", "{run_corrupt_json}"], E, "corrupt JSON"),
    ("show-run-json-list", ["show", "#run-json-list"], E, None),
    # --- documented results (not errors) ------------------------------------------------------------------
    ("ok-train-nul-bytes", ["train-bpe", "-c", "{nul.txt}", "-v", "300", "--json"], ok_trained(), None),
    ("ok-train-replace-binary", ["train-bpe", "-c", "{binary.bin}", "--errors", "replace", "-v", "300", "--json"],
     ok_trained(), None),
    ("ok-train-one-line-no-heldout", ["train-bpe", "-c", "{one_line.txt}", "-v", "300", "--json"],
     ok_trained("held-out split"), None),
    ("ok-eval-max-lines-one", ["eval-text", "-t", RUN, "-c", SMALL, "--max-lines", "1", "--no-run", "--json"],
     ok_eval_lines(1), None),
    ("ok-inspect-max-chars-cuts", ["inspect", "-f", SMALL, "-t", RUN, "--max-chars", "7", "--json"],
     ok_inspect_file_prefix(7), None),
    ("ok-tiktoken-regex-pattern", ["inspect", "a b", "-t", "tiktoken:{ok.tiktoken}#\\S+|\\s+", "--json"],
     ok_inspect_text("a b"), None),
    ("ok-runs-empty-folder", ["runs", "{empty_dir}", "--json"], ok_runs_listed(0), None),
    ("ok-help", ["train-bpe", "-h"], ok_exit0, None),
]

#: the commands that make run folders get --runs-dir pointed at an empty folder the case must leave empty
_WRITERS = ("train-bpe", "eval-text", "sweep-vocab")


def _special_arg(token: str, zoo: dict[str, str], tmp: Path, monkeypatch) -> str:
    """Arguments that need per-case setup (`#name`)."""
    from tokbench.runs import Run

    if token == "#stdin-binary":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok\n\xff\xfe\x00 bad\n" * 20)))
        return ""
    if token == "#long-text":
        return "x" * 100_001
    if token == "#text-eval-run":
        with Run.create(tmp / "other", "text-eval", {"tokenizers": []}, name="evalrun") as run:
            pass
        return str(run.path)
    if token == "#locked-run":
        folder = tmp / "locked"
        (folder / "artifacts").mkdir(parents=True)
        info = json.loads((Path(zoo["run_ok"]) / "run.json").read_text())
        info["status"] = "running"
        (folder / "run.json").write_text(json.dumps(info))
        (folder / "run.lock").write_text(json.dumps({"pid": 1, "host": socket.gethostname(), "since": "x"}))
        return str(folder)
    if token == "#run-json-list":
        folder = tmp / "listrun"
        folder.mkdir()
        (folder / "run.json").write_text("[1, 2, 3]")
        return str(folder)
    raise KeyError(token)


@pytest.fixture(autouse=True)
def fresh_stdin_spool():
    """Standard input is spooled once per process; each in-process case stands for a new process."""
    from tokbench.sources import text as text_sources

    text_sources._remove_stdin_spool()
    yield
    text_sources._remove_stdin_spool()


@pytest.mark.parametrize("case_id,argv,expected,match", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case_id, argv, expected, match, zoo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    runs = tmp_path / "runs"
    args = []
    for a in argv:
        if a.startswith("#"):
            a = _special_arg(a, zoo, tmp_path, monkeypatch)
            if a == "":
                continue
        else:
            a = re.sub(r"\{([a-z_0-9.]+)\}", lambda m: zoo[m.group(1)], a)
        args.append(a)
    if args and args[0] in _WRITERS and "--runs-dir" not in args:
        args[1:1] = ["--runs-dir", str(runs)]
    rc = main(args)
    out, err = capsys.readouterr()
    if callable(expected):
        if expected.__code__.co_argcount == 5:
            expected(rc, out, err, runs, args)
        else:
            expected(rc, out, err, runs)
        return
    message = check_error(rc, out, err, usage=expected == U)
    if match:
        assert match.lower() in message.lower(), message
    no_runs_left(runs)


def test_the_table_is_large_and_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len([c for c in CASES if c[2] in (U, E)]) >= 160


# ---------------------------------------------------------------------------------------------- per class
def _cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_class01_usage_errors_are_exit_2_with_the_usage_hint(capsys):
    """Typer vendors its own click: usage errors used to be `internal error`, exit 1."""
    for argv in ([], ["nope"], ["train-bpe", "-v", "abc"], ["train-bpe", "--bogus"], ["diff"]):
        rc, out, err = _cli(capsys, *argv)
        message = check_error(rc, out, err, usage=True)
        assert "internal error" not in message
    rc, out, _ = _cli(capsys, "--version")
    assert rc == 0 and out.startswith("tokbench ")


def test_class02_impossible_sizes_are_refused_before_any_run_folder(capsys, tmp_path, small_corpus):
    runs = tmp_path / "runs"
    for v in ("1000000000", str(10 ** 19), "5000000"):
        rc, out, err = _cli(capsys, "train-bpe", "-c", small_corpus, "-v", v, "--runs-dir", runs)
        check_error(rc, out, err, usage=False)
    rc, out, err = _cli(capsys, "sweep-vocab", "-c", small_corpus, "--sizes", "300,1000000000", "--runs-dir", runs)
    check_error(rc, out, err, usage=False)
    no_runs_left(runs)


def test_class02_spm_size_limit_is_one_line_naming_the_largest_size(capsys, tmp_path, small_corpus):
    """sentencepiece finds its limit only by training: it trains in a staging folder first."""
    runs = tmp_path / "runs"
    rc, out, err = _cli(capsys, "train-bpe", "-c", small_corpus, "--backend", "spm", "--model-type", "unigram",
                        "-v", "20000", "--runs-dir", runs)
    message = check_error(rc, out, err, usage=False)
    largest = int(re.search(r"at most ([\d,]+)", message).group(1).replace(",", ""))
    no_runs_left(runs)
    rc, out, err = _cli(capsys, "train-bpe", "-c", small_corpus, "--backend", "spm", "--model-type", "unigram",
                        "-v", largest, "--runs-dir", runs, "--no-eval", "--json")
    assert rc == 0, err
    from tokbench.text.tokenizer import load_tokenizer

    assert load_tokenizer(json.loads(out)["run_dir"]).vocab_size == largest


def test_class02_readme_spm_unigram_command_runs_on_builtin_english():
    """The README's `train-bpe --backend spm --model-type unigram -v N` must fit builtin:english."""
    from tokbench.sources.text import Corpus
    from tokbench.text.bpe import BPESpec, check_vocab_capacity

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    size = int(re.search(r"train-bpe --backend spm --model-type unigram -v (\d+)", readme).group(1))
    assert size <= 14_000  # sentencepiece's unigram limit on builtin:english is ~14,700 (measured)
    spec = BPESpec(vocab_size=size, backend="spm", model_type="unigram")
    spec.validate()
    check_vocab_capacity(spec, Corpus("builtin:english", split="train").scan().bytes, "builtin:english")


def test_class02_resume_refuses_a_changed_vocab_size(capsys, tmp_path, small_corpus):
    from tokbench.runs import Run

    with pytest.raises(KeyboardInterrupt):
        with Run.create(tmp_path, "text-bpe", {"spec": {"vocab_size": 300}, "corpus": [str(small_corpus)],
                                               "errors": "strict", "evaluate": False}, name="cut"):
            raise KeyboardInterrupt
    rc, out, err = _cli(capsys, "train-bpe", "--resume", tmp_path / "cut", "-v", "500")
    assert "--vocab-size 500" in check_error(rc, out, err, usage=False)
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["status"] == "interrupted"
    rc, out, err = _cli(capsys, "train-bpe", "--resume", tmp_path / "cut", "-v", "300", "--json")
    assert rc == 0, err  # the recorded size, given again, is fine


def test_class02_resume_refuses_changed_training_data(capsys, tmp_path, small_corpus):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(small_corpus.read_bytes()[:30_000])
    assert _cli(capsys, "train-bpe", "-c", corpus, "-v", "300", "--runs-dir", tmp_path, "--name", "r")[0] == 0
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    (tmp_path / "r" / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))
    corpus.write_bytes(small_corpus.read_bytes()[:30_000] + b"an edit\n")
    rc, out, err = _cli(capsys, "train-bpe", "--resume", tmp_path / "r")
    assert "training data changed" in check_error(rc, out, err, usage=False)


def test_class03_malformed_tiktoken_rank_files(zoo):
    from tokbench.errors import TokbenchError
    from tokbench.text.tokenizer import load_tokenizer

    for name in ("dup_rank", "dup_token", "no_bytes", "one_byte_missing", "neg_rank"):
        with pytest.raises(TokbenchError):
            load_tokenizer(f"tiktoken:{zoo[name + '.tiktoken']}")
    with pytest.raises(TokbenchError, match="unknown split pattern"):
        load_tokenizer(f"tiktoken:{zoo['ok.tiktoken']}#gpt5")
    tok = load_tokenizer(f"tiktoken:{zoo['ok.tiktoken']}#gpt2")
    assert tok.decode(tok.encode("Hello, world 123")) == "Hello, world 123"


def test_class09_stdin_is_spooled_once_held_out_and_deleted(capsys, tmp_path, monkeypatch, small_corpus):
    from tokbench.sources import text as text_sources

    data = small_corpus.read_bytes()[:60_000]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    rc, out, err = _cli(capsys, "train-bpe", "-c", "-", "-v", "300", "--runs-dir", tmp_path, "--json")
    assert rc == 0, err
    payload = json.loads(out)
    expected_heldout = sum(1 for k, line in enumerate(data.decode().splitlines(True), 1)
                           if k % 10 == 0 and line.strip())
    assert payload["metrics"]["-/heldout"]["lines"] == expected_heldout > 0
    spool = text_sources._STDIN_SPOOL[0]
    assert spool.exists() and not str(spool).startswith(str(text_sources.cache_dir()))


def test_class09_invalid_utf8_on_stdin_is_reported_against_dash(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"fine line\nbad \xff byte\n" * 50)))
    rc, out, err = _cli(capsys, "train-bpe", "-c", "-", "-v", "300", "--runs-dir", tmp_path / "runs")
    message = check_error(rc, out, err, usage=False)
    assert message.startswith("- (standard input): invalid UTF-8"), message
    no_runs_left(tmp_path / "runs")


def test_class09_stdin_spool_is_deleted_when_the_process_exits(tmp_path):
    code = ("import sys; from tokbench.sources.text import Corpus, _STDIN_SPOOL; "
            "c = Corpus('-', split='train'); print(_STDIN_SPOOL[0]); print(sum(1 for _ in c.lines()))")
    env = dict(os.environ, TMPDIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], input=b"a\n" * 30, capture_output=True, env=env,
                         check=True).stdout.decode().split()
    assert out[1] == "27" and not Path(out[0]).exists() and list(tmp_path.iterdir()) == []


def test_class10_silent_wrong_results_are_errors(capsys, tmp_path, tiny_hf_run, small_corpus):
    runs = tmp_path / "runs"
    for argv, usage in ((["eval-text", "-t", tiny_hf_run, "-c", small_corpus, "--max-lines", "-1"], True),
                        (["eval-text", "-t", tiny_hf_run, "-c", small_corpus, "--alpha", "nan"], False),
                        (["train-bpe", "-c", small_corpus, "--special", ""], False),
                        (["train-bpe", "-c", small_corpus, "-o", "unknown=1"], False),
                        (["train-bpe", "-c", small_corpus, "--recipe", "superbpe"], False),
                        (["runs", tmp_path / "missing"], False),
                        (["runs", small_corpus], False)):
        rc, out, err = _cli(capsys, *argv, *(["--runs-dir", runs] if argv[0] != "runs" else []))
        check_error(rc, out, err, usage=usage)
    no_runs_left(runs)


def test_class10_library_refuses_bad_eval_values(tiny_hf_run, small_corpus):
    from tokbench.errors import TokbenchError
    from tokbench.text.evaluate import evaluate_text

    for kwargs in ({"max_lines": -1}, {"max_lines": 0}, {"alpha": float("nan")}, {"alpha": -1.0}):
        with pytest.raises(TokbenchError):
            evaluate_text([tiny_hf_run], [str(small_corpus)], **kwargs)


def test_class11_a_bad_byte_on_a_held_out_line_fails_before_training(capsys, tmp_path, zoo, monkeypatch):
    import tokbench.text.bpe as bpe

    def never(*_a, **_k):
        raise AssertionError("training started")

    monkeypatch.setattr(bpe, "train_plain", never)
    rc, out, err = _cli(capsys, "train-bpe", "-c", zoo["bad_heldout.txt"], "-v", "300", "--runs-dir", tmp_path / "r")
    assert "line 10" in check_error(rc, out, err, usage=False)
    no_runs_left(tmp_path / "r")


def test_class14_ctrl_c_marks_the_run_and_says_how_to_resume(capsys, tmp_path, small_corpus, monkeypatch):
    import tokbench.text.bpe as bpe

    real = bpe.train_plain

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(bpe, "train_plain", interrupted)
    rc, out, err = _cli(capsys, "train-bpe", "-c", small_corpus, "-v", "300", "--runs-dir", tmp_path, "--name", "cut")
    assert rc == 130
    lines = err.splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0]
    assert f"tokbench train-bpe --resume {tmp_path / 'cut'}" in lines[0]
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["status"] == "interrupted"
    assert not (tmp_path / "cut" / "run.lock").exists()
    monkeypatch.setattr(bpe, "train_plain", real)
    rc, out, err = _cli(capsys, "train-bpe", "--resume", tmp_path / "cut", "--json")
    assert rc == 0, err
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["status"] == "done"


@pytest.mark.slow
def test_class14_sigint_to_the_console_script_mid_training(tmp_path):
    """A real SIGINT to `tokbench train-bpe` while HF trains on one long line: exit 130, one line naming the
    run and `--resume`, the run marked interrupted with no lock, and the stdin spool gone."""
    import time

    block = " ".join(f"w{i % 3000}y{i % 11}" for i in range(100_000)) + " "
    data = (block * (12_000_000 // len(block))).encode()
    env = dict(os.environ, TMPDIR=str(tmp_path), RAYON_NUM_THREADS="1")
    runs = tmp_path / "runs"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "tokbench"), "train-bpe", "-c", "-", "-v", "5000",
                             "--runs-dir", str(runs), "--name", "cut", "--no-eval"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            # Ctrl-C must reach the command even when the suite itself was started with SIGINT
                            # ignored (e.g. `make test &` from a script: the ignore is inherited through exec)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc.stdin.write(data)
    proc.stdin.close()
    proc.stdin = None  # so communicate() does not flush it again
    for _ in range(600):  # the run folder appears once the input is checked and training starts
        if (runs / "cut" / "run.json").exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.decode().splitlines()
    assert len(lines) == 1 and f"--resume {runs / 'cut'}" in lines[0], lines
    assert json.loads((runs / "cut" / "run.json").read_text())["status"] == "interrupted"
    assert not (runs / "cut" / "run.lock").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]  # no spooled stdin left


def test_class14_native_training_does_not_hold_ctrl_c():
    """The main thread only waits on the training thread, so Ctrl-C is raised while native work still runs,
    and the input iterator is told to stop."""
    import _thread

    from tokbench.text.bpe import run_interruptibly, until_stopped

    r, w = os.pipe()
    fell_back, done, fed = [], threading.Event(), []

    def native(stop):  # blocks in C without seeing Python's pending Ctrl-C, like a native trainer
        try:
            os.read(r, 1)
            fed.extend(until_stopped(range(10), stop))
        finally:
            done.set()

    def release():  # ends a broken (unthreaded) run instead of hanging
        fell_back.append(True)
        os.write(w, b"x")

    # Python's own Ctrl-C handler, even when the suite was started with SIGINT ignored (interrupt_main does
    # nothing then)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    ctrl_c = threading.Timer(0.2, _thread.interrupt_main)
    fallback = threading.Timer(10, release)
    ctrl_c.start()
    fallback.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_interruptibly(native)
        assert not fell_back  # Ctrl-C came through while the native call was still blocked
    finally:
        os.write(w, b"x")
        done.wait(10)
        fallback.cancel()
        signal.signal(signal.SIGINT, previous)
        os.close(r)
        os.close(w)
    assert fed == []  # the stop flag reached the input iterator


def test_class14_no_run_yet_is_one_plain_line(capsys, monkeypatch):
    import tokbench.cli.eval_text as eval_cli

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(eval_cli, "_tokenizer_list", interrupted)
    rc, out, err = _cli(capsys, "probe", "-t", "x")
    assert rc == 130 and err == "tokbench: interrupted\n"


def test_class16_long_lines_are_cut_into_bounded_pieces():
    from tokbench.sources.text import cut_long_line

    line = ("word " * 50_000) + "x" * 70_000 + "\n"
    pieces = list(cut_long_line(line, 1000))
    assert "".join(pieces) == line
    assert max(len(p) for p in pieces) <= 1000
    assert all(p.startswith(" ") or k == 0 or set(p) <= {"x", "\n"} for k, p in enumerate(pieces))


def test_class16_one_long_line_trains_through_the_bounded_path(tmp_path, small_corpus, monkeypatch):
    import tokbench.sources.text as text_sources
    from tokbench.text.bpe import train_bpe
    from tokbench.text.tokenizer import load_tokenizer

    monkeypatch.setattr(text_sources, "LONG_LINE_CHARS", 2000)
    seen = []
    real = text_sources.cut_long_line
    monkeypatch.setattr(text_sources, "cut_long_line", lambda line, n=2000: seen.append(n) or real(line, n))
    path = tmp_path / "one.txt"
    path.write_text(small_corpus.read_text(encoding="utf-8")[:100_000].replace("\n", " "), encoding="utf-8")
    run = train_bpe([str(path)], vocab_size=400, runs_dir=tmp_path / "r", evaluate=False).run_dir
    assert seen  # the long line went through the cutter
    assert load_tokenizer(run).vocab_size == 400


def test_class16_inspect_refuses_more_than_its_limit(capsys, tmp_path, tiny_hf_run):
    from tokbench.cli.eval_text import INSPECT_MAX_CHARS

    big = tmp_path / "big.txt"
    big.write_text("word " * (INSPECT_MAX_CHARS // 2), encoding="utf-8")
    rc, out, err = _cli(capsys, "inspect", "-f", big, "-t", tiny_hf_run, "--max-chars", INSPECT_MAX_CHARS + 1)
    check_error(rc, out, err, usage=True)
    rc, out, err = _cli(capsys, "inspect", "x" * (INSPECT_MAX_CHARS + 1), "-t", tiny_hf_run)
    check_error(rc, out, err, usage=False)
    rc, out, err = _cli(capsys, "inspect", "-f", big, "-t", tiny_hf_run, "--max-chars", INSPECT_MAX_CHARS, "--json")
    assert rc == 0 and len(json.loads(out)["text"]) == INSPECT_MAX_CHARS


@pytest.mark.slow
def test_class16_fifty_mb_single_line_trains_in_bounded_memory(tmp_path):
    """One 50 MB line peaked at 4 GB read whole by HF (20 MB here: ~1.6 GB); cut into pieces it stays far below."""
    words = [f"w{i % 5000}x{i % 7}" for i in range(200_000)]
    block = " ".join(words)
    path = tmp_path / "one.txt"
    with open(path, "w", encoding="utf-8") as fh:
        while fh.tell() < 20_000_000:
            fh.write(block + " ")
    # VmHWM is the high-water mark of this process's own memory map; ru_maxrss would not do: Linux carries it over
    # exec from the (v)forking parent, so a large pytest process would be counted as the child's peak.
    code = ("import re; from tokbench.text.bpe import train_bpe; "
            f"train_bpe([{str(path)!r}], vocab_size=600, runs_dir={str(tmp_path / 'r')!r}, evaluate=False); "
            "print(int(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1)) // 1024)")
    peak_mb = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env=dict(os.environ, RAYON_NUM_THREADS="1")).stdout.split()[-1])
    assert peak_mb < 1024, peak_mb


def test_class17_sentencepiece_errors_carry_no_absl_log_lines():
    code = ("import sys; from tokbench.cli import main; "
            f"sys.exit(main(['train-bpe', '-c', 'builtin:numbers', '--backend', 'spm', '-v', '100', "
            "'--runs-dir', sys.argv[1]]))")
    with_tmp = subprocess.run([sys.executable, "-c", code, "/nonexistent-runs"], capture_output=True, text=True)
    assert with_tmp.returncode == 2
    assert len(with_tmp.stderr.splitlines()) == 1, with_tmp.stderr
    assert "absl" not in with_tmp.stderr and "WARNING" not in with_tmp.stderr


def test_help_states_the_defaults_of_optional_sizes(capsys, monkeypatch):
    """Options whose default is 'None' in code say in --help what that means (issue 15 review, item 8)."""
    monkeypatch.setenv("COLUMNS", "400")
    for command, option, said in (("train-bpe", "--max-token-length", "default: no limit"),
                                  ("train-bpe", "--max-words", "default 4"),
                                  ("eval-text", "--max-lines", "default: all"),
                                  ("sweep-vocab", "--corpus", "default builtin:english-large"),
                                  ("sweep-vocab", "--max-languages", "default: all")):
        rc = main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert rc in (0, None)
        line = out[out.index(option):][:400]
        assert said in line, (command, option, line)
