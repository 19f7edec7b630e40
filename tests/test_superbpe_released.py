"""The SuperBPE authors' released tokenizers and counts as benchmarks/ reads them (issue 13): rebuilding a
released tokenizer cut to V equals training to V, the regex is read as bash reads it, the paper's gain is taken
at the matching (V, t/V) from the committed counts, and the prose slice keeps prose only."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import released_superbpe as rel  # noqa: E402
import text_variants as tv  # noqa: E402

#: the stage-1 regex of the authors' scripts/train_tokenizer.sh (as the script spells it)
STAGE1 = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?"
          r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")

TEXT = ("The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs away.\n"
        "It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want "
        "of a wife.\n") * 40 + "Numbers 123 4567 and punctuation!!! --- ok?\n" * 10


def _train(tmp_path: Path, vocab_size: int, name: str):
    """A plain BPE trained the way the authors' utils.train_or_extend_tokenizer trains one."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer

    corpus = tmp_path / "train.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    tok = Tokenizer(BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=Regex(STAGE1), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.train([str(corpus)], BpeTrainer(show_progress=False, vocab_size=vocab_size))
    folder = tmp_path / name
    folder.mkdir()
    tok.model.save(str(folder))  # merges.txt and vocab.json, as the repository ships them
    return tok, folder


def test_released_tokenizer_cut_to_v_equals_training_to_v(tmp_path):
    full, folder = _train(tmp_path, 170, "full")
    small, _ = _train(tmp_path, 120, "small")
    assert full.get_vocab_size() == 170 and small.get_vocab_size() == 120
    rebuilt = rel.build_tokenizer((folder / "vocab.json").read_text(encoding="utf-8"),
                                  (folder / "merges.txt").read_text(encoding="utf-8"), 120, STAGE1)
    assert rebuilt.get_vocab_size() == 120
    for line in TEXT.splitlines(keepends=True)[:3] + ["the lazy sun runs, and a wife sleeps!!! 12\n"]:
        assert rebuilt.encode(line).ids == small.encode(line).ids
        assert rebuilt.decode(rebuilt.encode(line).ids) == line


@pytest.mark.parametrize("script, expected", [
    ('x=1\nregex_string="\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]{2,}[\\r\\n/]*| +(?!\\S)"\n',
     r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)"),
    ('regex_string="a\\\\b\\"c\\$d"\n', 'a\\b"c$d'),  # bash unescapes \\ \" \$ inside double quotes
])
def test_script_regex_reads_as_bash_does(script, expected):
    assert rel.script_regex(script) == expected


def test_script_regex_missing_is_one_line_exit():
    with pytest.raises(SystemExit, match="regex_string"):
        rel.script_regex("vocab_size=100\n")


def _counts(plain: dict, superbpe: dict) -> dict:
    return {"plain": {"counts": plain}, "superbpe": {t: {"counts": c} for t, c in superbpe.items()}}


def test_paper_gain_matches_ratio_then_nearest_vocab():
    b = 1000
    counts = _counts({"25000": [b, 500], "45000": [b, 400], "50000": [b, 390], "100000": [b, 300]},
                     {"20000": {"25000": [b, 400]}, "40000": {"45000": [b, 320], "50000": [b, 300]},
                      "90000": {"100000": [b, 200]}})
    gain, v, t = rel.paper_gain(counts, 32000, 0.8)
    assert (v, t) == (25000, 20000) and gain == pytest.approx(500 / 400 - 1)  # 50k is also 0.8 but farther
    gain, v, t = rel.paper_gain(counts, 32000, 0.9)
    assert (v, t) == (45000, 40000) and gain == pytest.approx(400 / 320 - 1)  # 0.889: within 0.03
    assert rel.paper_gain(counts, 32000, 0.8, transition=40000)[1:] == (50000, 40000)
    assert rel.paper_gain(counts, 32000, 0.7) is None
    assert rel.describe_gain(None) == ""


def test_committed_paper_counts_give_the_papers_figures():
    counts = rel.load_counts()
    assert counts["source"]["commit"].startswith("bbd09768fc28")
    assert {b for entry in [counts["plain"], *counts["superbpe"].values()]
            for b, _ in entry["counts"].values()} == {10 ** 9}  # one evaluation file, 1 GB
    expected = {(25000, 0.8): (0.220, 20000), (32000, 0.9): (0.246, 40000), (64000, 0.9): (0.256, 60000),
                (50000, 0.8): (0.283, 40000)}
    for (vocab, ratio), (gain, t) in expected.items():
        got = rel.paper_gain(counts, vocab, ratio)
        assert got[2] == t and got[0] == pytest.approx(gain, abs=5e-4)


@pytest.mark.parametrize("line, prose", [
    ("The returned manager can be used for sharing objects between processes.\n", True),
    ("   can be used for sharing objects between processes.  The returned manager\n", True),
    ("Add an int constant to *module*. The name and the value are taken from\n", True),
    ("Short line with six words.\n", False),
    ("    360.774523 |   1)   0.541 us    |                                        __wake_up_bit();\n", False),
    (".. c:function:: int PyOS_stricmp(const char *s1, const char *s2)\n", False),
    ("=========================\n", False),
    ("\n", False),
])
def test_prose_lines(line, prose):
    assert tv.is_prose(line) is prose


def test_prose_slice_says_its_size():
    lines = ["The returned manager can be used for sharing objects between processes.\n", "x = 1\n", "\n"]
    kept, note = tv.prose_slice(lines)
    assert kept == lines[:1]
    assert "1 of 2 non-blank lines" in note


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


def test_released_repo_reads_regexes_and_stage2_merges_from_git(tmp_path):
    repo = tmp_path / "superbpe"
    plain = repo / rel.PLAIN_DIR
    sb = repo / rel.superbpe_dir(20_000)
    for folder in (plain, sb, repo / "scripts"):
        folder.mkdir(parents=True)
    (plain / "merges.txt").write_text("#version: 0.2\nĠ t\nĠ a\nh e\n", encoding="utf-8")
    (sb / "merges.txt").write_text("#version: 0.2\nĠ t\nĠ a\n. Ċ\nĠt he\n", encoding="utf-8")
    (repo / rel.REGEX_SCRIPTS["superbpe"]).write_text('regex_string=" +(?!\\S)"\n', encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "x")
    released = rel.ReleasedRepo(repo / ".git")
    assert len(released.commit) == 40
    assert rel.ReleasedRepo(repo).commit == released.commit  # a clone's work tree finds its git directory
    assert released.regex("superbpe") == r" +(?!\S)"
    assert released.first_new_merges(20_000, 5) == [". Ċ", "Ġt he"]
    with pytest.raises(SystemExit, match="git show"):
        released.show("no/such/file")


def test_released_section_skips_without_the_repository(capsys):
    assert tv.released_superbpe_section(argparse.Namespace(released_superbpe="")) is None
    assert capsys.readouterr().out.count("skipped") == 1


@pytest.mark.parametrize("argv, says", [
    (["--only", "nosuch_section"], "unknown section(s) nosuch_section; choose from superbpe_section"),
    (["--released-superbpe", "{tmp}/absent"], "absent: no such folder"),
    (["--only", "released_superbpe_section", "--released-superbpe", "{tmp}"],
     "released_superbpe_section: "),  # a folder that is no git repository: git's refusal, in one line
])
def test_bad_arguments_are_one_line_exit_2(argv, says, tmp_path, monkeypatch, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    monkeypatch.setattr(sys, "argv", ["text_variants.py", *argv])
    with pytest.raises(SystemExit) as stop:
        tv.main()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err and "Traceback" not in err
