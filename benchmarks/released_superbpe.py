"""The SuperBPE authors' released tokenizers and evaluation counts, for measurement beside ours (issue 13).

The authors' repository (github.com/PythonNut/superbpe) ships, per tokenizer directory under `tokenizer_json/`,
`merges.txt` and `vocab.json`, plus `olmo2/token_byte_counts_<V>.json`: the bytes and tokens their `encode.py`
counted on their own evaluation file (1 GB of OLMo-2 pretraining text) with the tokenizer cut to its first V
merges. Plain BPE is `olmo2_p99_truncate_pretok_10G_200K`; SuperBPE with transition t is
`olmo2_p99_truncate_10G_<t>K_extend_200K_mw4_colon` (both trained on 10 GB, extended to 200k).

* `paper_counts` collects those counts (the committed `superbpe_paper_counts.json` is its output, made with
  `python benchmarks/released_superbpe.py GIT_DIR`); `paper_gain` reads the paper's own bytes/token gain of
  SuperBPE over plain BPE at a (V, t/V) from them: gain = (bytes / tokens_superbpe) / (bytes / tokens_plain) - 1
  = tokens_plain / tokens_superbpe - 1 (both count the same bytes). Their V counts merges (`merges[:V]`), so
  their vocabulary there is V plus their 243-symbol byte alphabet (every byte but the 13 that valid UTF-8 never
  holds: 0xC0, 0xC1, 0xF5-0xFF; so their tokenizers lose nothing of UTF-8 text without byte fallback).
* `build_tokenizer` rebuilds a released tokenizer as their code builds it (`utils.train_or_extend_tokenizer`:
  `Split(regex, "isolated")` then `ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)`, a
  default `BPE()` model, no normalizer; `utils.construct_hf_tokenizer`'s ByteLevel decoder), cut to the ids
  below `size` the way our `truncate_bpe` cuts (merges kept while their result id is below `size`; their ids
  grow with merge order). The split regexes are read from their training scripts (`REGEX_SCRIPTS`).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPOSITORY = "https://github.com/PythonNut/superbpe"
PLAIN_DIR = "tokenizer_json/olmo2_p99_truncate_pretok_10G_200K"
#: transition sizes the repository ships SuperBPE tokenizers for
TRANSITIONS = (20_000, 40_000, 60_000, 80_000, 100_000, 120_000, 140_000, 160_000, 180_000)
#: which script's `regex_string` each stage's split uses (stage 1 = plain BPE, stage 2 = SuperBPE's inference)
REGEX_SCRIPTS = {"plain": "scripts/train_tokenizer.sh", "superbpe": "scripts/extend_tokenizer.sh"}
COUNTS_FILE = Path(__file__).with_name("superbpe_paper_counts.json")
#: `paper_gain` matches a released (V, t) to ours when |t/V - ratio| is at most this
RATIO_TOLERANCE = 0.03


def superbpe_dir(transition: int) -> str:
    return f"tokenizer_json/olmo2_p99_truncate_10G_{transition // 1000}K_extend_200K_mw4_colon"


class ReleasedRepo:
    """Files at HEAD of the authors' repository, read from a (bare) git directory with `git show`."""

    def __init__(self, git_dir: str | Path):
        work_tree_git = Path(git_dir) / ".git"  # a clone with a work tree: its git directory
        self.git_dir = str(work_tree_git if work_tree_git.exists() else git_dir)
        self.commit = self._git("rev-parse", "HEAD").strip()

    def _git(self, *args: str) -> str:
        proc = subprocess.run(["git", "--git-dir", self.git_dir, *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{self.git_dir}: git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def show(self, path: str) -> str:
        return self._git("show", f"HEAD:{path}")

    def paths(self) -> list[str]:
        return self._git("ls-tree", "-r", "--name-only", "HEAD").split()

    def regex(self, kind: str) -> str:
        return script_regex(self.show(REGEX_SCRIPTS[kind]))

    def tokenizer(self, kind: str, size: int, transition: int | None = None):
        folder = PLAIN_DIR if kind == "plain" else superbpe_dir(transition or 0)
        return build_tokenizer(self.show(f"{folder}/vocab.json"), self.show(f"{folder}/merges.txt"), size,
                               self.regex(kind))

    def first_new_merges(self, transition: int, n: int) -> list[str]:
        """The first `n` stage-2 merges of SuperBPE at `transition`: those after the prefix it shares with plain BPE."""
        sb = merge_lines(self.show(f"{superbpe_dir(transition)}/merges.txt"))
        plain = merge_lines(self.show(f"{PLAIN_DIR}/merges.txt"))
        k = 0
        while k < min(len(sb), len(plain)) and sb[k] == plain[k]:
            k += 1
        return sb[k:k + n]


def script_regex(script: str) -> str:
    """The `regex_string="..."` a training script passes (bash double quotes: only \\\\, \\", \\$ and \\` escape)."""
    m = re.search(r'^regex_string="((?:[^"\\]|\\.)*)"', script, re.M)
    if m is None:
        raise SystemExit("no regex_string=\"...\" line in the training script")
    return re.sub(r'\\([\\"$`])', r"\1", m.group(1))


def merge_lines(merges_txt: str) -> list[str]:
    """merges.txt -> its merge lines ("left right"), without the `#version` header."""
    lines = merges_txt.split("\n")
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]
    return [ln for ln in lines if ln]


def build_tokenizer(vocab_json: str, merges_txt: str, size: int, regex: str):
    """A released tokenizer with the pipeline their code builds, cut to ids below `size` (see module doc)."""
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    vocab = {tok: i for tok, i in json.loads(vocab_json).items() if i < size}
    merges = []
    for line in merge_lines(merges_txt):
        left, right = line.split(" ")
        if left + right not in vocab:
            break
        merges.append((left, right))
    tok = Tokenizer(BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    return tok


# ---------------------------------------------------------------------------------------------- paper counts
def paper_counts(repo: ReleasedRepo) -> dict[str, Any]:
    """Every token_byte_counts_<V>.json of plain BPE and of SuperBPE at each transition, with their source."""
    paths = set(repo.paths())

    def counts(folder: str) -> dict[str, list[int]]:
        out = {}
        for path in sorted(p for p in paths if p.startswith(f"{folder}/olmo2/token_byte_counts_")):
            v = re.search(r"_(\d+)\.json$", path)
            if v:
                d = json.loads(repo.show(path))
                out[v.group(1)] = [d["byte_count"], d["token_count"]]
        return dict(sorted(out.items(), key=lambda kv: int(kv[0])))

    plain_vocab = json.loads(repo.show(f"{PLAIN_DIR}/vocab.json"))
    alphabet = sum(1 for tok in plain_vocab if len(tok) == 1)
    eval_file = json.loads(repo.show(f"{PLAIN_DIR}/olmo2/token_byte_counts.json"))["test_files"]
    return {
        "source": {"repository": REPOSITORY, "commit": repo.commit,
                   "files": "tokenizer_json/<dir>/olmo2/token_byte_counts_<V>.json (byte_count, token_count)",
                   "evaluation_file": eval_file, "made_by": "python benchmarks/released_superbpe.py GIT_DIR"},
        "note": f"V = merges kept (their encode.py: merges[:V]); the vocabulary is V + {alphabet} (their byte "
                "alphabet). counts: V -> [byte_count, token_count].",
        "alphabet": alphabet,
        "plain": {"dir": PLAIN_DIR, "counts": counts(PLAIN_DIR)},
        "superbpe": {str(t): {"dir": superbpe_dir(t), "counts": counts(superbpe_dir(t))} for t in TRANSITIONS},
    }


def load_counts(path: Path = COUNTS_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def paper_gain(counts: dict[str, Any], vocab: int, ratio: float,
               transition: int | None = None) -> tuple[float, int, int] | None:
    """(gain, V, t) of the paper's counts nearest to our `vocab` (in log V) among released (V, t) with
    |t/V - ratio| <= RATIO_TOLERANCE (and t == `transition` when given); None when none matches."""
    plain = counts["plain"]["counts"]
    best = None
    for t_key, entry in counts["superbpe"].items():
        t = int(t_key)
        if transition is not None and t != transition:
            continue
        for v_key, (n_bytes, n_tokens) in entry["counts"].items():
            v = int(v_key)
            if v_key not in plain or abs(t / v - ratio) > RATIO_TOLERANCE:
                continue
            p_bytes, p_tokens = plain[v_key]
            gain = (n_bytes / n_tokens) / (p_bytes / p_tokens) - 1
            dist = abs(math.log(v / vocab))
            if best is None or dist < best[0]:
                best = (dist, gain, v, t)
    return None if best is None else best[1:]


def describe_gain(match: tuple[float, int, int] | None) -> str:
    if match is None:
        return ""
    gain, v, t = match
    return f"{gain * 100:+.1f}% at V={v // 1000}k, t={t // 1000}k (t/V {t / v:.2f}), their eval text"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python benchmarks/released_superbpe.py GIT_DIR  (writes superbpe_paper_counts.json)")
    text = json.dumps(paper_counts(ReleasedRepo(sys.argv[1])), indent=1)
    text = re.sub(r"\[\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2]", text)  # one [bytes, tokens] pair a line
    COUNTS_FILE.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {COUNTS_FILE}")
