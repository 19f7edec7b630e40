"""Supertoken BPE (issue 3): SuperBPE's stage-2 trainer against a recount-everything reference, HF-file
encoding equal to stage-1-then-stage-2, exact round trips, the span metric, random-interval cuts, bad options."""

from __future__ import annotations

import json
from collections import Counter
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokbench.sources.text import Corpus
from tokbench.text import supertoken as sup
from tokbench.text.bpe import BPESpec, build_hf_tokenizer, hf_trainer, train_bpe, train_hf
from tokbench.text.tokenizer import load_tokenizer


# ---------------------------------------------------------------------------------------------- reference
def reference_merges(words, counts, token_bytes, vocab_size, min_frequency=2, max_words=None):
    """Deliberately simple BPE: recount every pair after every merge; ties -> smallest (left, right) id."""
    words = [list(w) for w in words]
    token_bytes = list(token_bytes)
    by_bytes = {b: i for i, b in enumerate(token_bytes)}
    merges = []
    while len(token_bytes) < vocab_size:
        stats: Counter = Counter()
        for w, c in zip(words, counts):
            for pair in zip(w, w[1:]):
                stats[pair] += c
        best = None
        for pair, c in sorted(stats.items(), key=lambda kv: (-kv[1], kv[0])):
            if c < min_frequency:
                break
            merged = token_bytes[pair[0]] + token_bytes[pair[1]]
            if max_words is not None and len(merged.split()) > max_words:
                continue
            best = pair
            break
        if best is None:
            break
        merged = token_bytes[best[0]] + token_bytes[best[1]]
        new = by_bytes.get(merged)
        if new is None:
            new = len(token_bytes)
            token_bytes.append(merged)
            by_bytes[merged] = new
        merges.append((best[0], best[1], new))
        for k, w in enumerate(words):
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[k] = out
    return merges


def apply_in_order(ids, merges):
    """Stage 2 as training sees it: each learned merge, in order, over the whole sequence left to right."""
    for a, b, new in merges:
        out, j = [], 0
        while j < len(ids):
            if j + 1 < len(ids) and ids[j] == a and ids[j + 1] == b:
                out.append(new)
                j += 2
            else:
                out.append(ids[j])
                j += 1
        ids = out
    return ids


@pytest.fixture(scope="module")
def small_text(english_train_path) -> str:
    return english_train_path.read_text(encoding="utf-8")[:40_000]


@pytest.fixture(scope="module")
def heldout_lines() -> list[str]:
    return [ln for ln in Corpus("builtin:english", split="heldout").lines()][:400]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_text):
    """Stage 1 to 500, stage 2 to 750 on ~40 KB of English, built step by step."""
    path = tmp_path_factory.mktemp("sb") / "train.txt"
    path.write_text(small_text, encoding="utf-8")
    spec = BPESpec(vocab_size=750, variant="supertoken")
    corpus = Corpus(str(path))
    stage1 = build_hf_tokenizer(spec)
    train_hf(stage1, hf_trainer(spec, vocab_size=500), corpus)
    state = sup.Stage2Input.from_corpus(spec, stage1, corpus.lines())
    initial = [list(w) for w in state.words]
    initial_bytes = list(state.token_bytes)
    merges = sup.learn_merges(state.words, state.counts, state.token_bytes, spec.vocab_size, max_words=4)
    final = sup.assemble_tokenizer(spec, stage1, state.token_bytes, merges)
    out = tmp_path_factory.mktemp("sbtok") / "tokenizer.json"
    out.write_text(final, encoding="utf-8")
    return dict(spec=spec, stage1=stage1, state=state, initial=initial, initial_bytes=initial_bytes,
                merges=merges, path=out)


# ---------------------------------------------------------------------------------------------- stage 2 trainer
@pytest.mark.slow
def test_incremental_trainer_learns_the_reference_merges(trained):
    st_ = trained
    ref = reference_merges(st_["initial"], st_["state"].counts, st_["initial_bytes"], 750, max_words=4)
    assert len(ref) >= 200
    assert st_["merges"] == ref


@pytest.mark.parametrize("max_words", [1, 2])
def test_reference_agreement_under_word_caps(trained, max_words):
    words = [list(w) for w in trained["initial"]][:800]
    counts = trained["state"].counts[:800]
    table = list(trained["initial_bytes"])
    fast = sup.learn_merges([list(w) for w in words], counts, table, 620, max_words=max_words)
    assert fast == reference_merges(words, counts, trained["initial_bytes"], 620, max_words=max_words)
    tokens = [table[new] for _, _, new in fast]
    if max_words is not None:
        assert all(len(t.split()) <= max_words for t in tokens)
    if max_words != 1:
        assert any(sup.spans_space(t) for t in tokens)  # superwords were learned
    else:
        assert not any(sup.spans_space(t) for t in tokens)


def test_textbook_tie_break_and_overlap():
    # "aaab" x5 and "ab" x5: (a,a)=10 and (a,b)=10 tie -> smaller ids (a,a) first; "aaa" merges to "aa","a".
    token_bytes = [b"a", b"b"]
    words = [[0, 0, 0, 1], [0, 1]]
    merges = sup.learn_merges([list(w) for w in words], [5, 5], token_bytes, 4, min_frequency=2, max_words=None)
    assert merges[0] == (0, 0, 2) and token_bytes[2] == b"aa"
    assert merges == reference_merges(words, [5, 5], [b"a", b"b"], 4, max_words=None)


# ---------------------------------------------------------------------------------------------- HF equality
def test_hf_file_encodes_as_stage1_then_stage2(trained, heldout_lines):
    """Plain HF `tokenizers` on our tokenizer.json == stage 1 per stage-1 pre-token, then the stage-2 merges in
    learning order, chunk by chunk, on held-out text."""
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(trained["path"]))
    stage1 = trained["stage1"]
    pre = sup.stage2_pipeline(trained["spec"]).pre_tokenizer
    merges = trained["merges"]
    checked = 0
    for line in heldout_lines:
        expected = []
        for piece, (start, end) in pre.pre_tokenize_str(line):
            chunk = line[start:end]
            expected += apply_in_order(stage1.encode(chunk, add_special_tokens=False).ids, merges)
        got = hf.encode(line, add_special_tokens=False).ids
        assert got == expected, line
        assert hf.decode(got) == line
        checked += len(got)
    assert checked > 5000


def test_no_stage1_merge_spans_a_stage1_boundary(trained, heldout_lines):
    assert sup.boundary_mismatch_share(trained["spec"], trained["stage1"], heldout_lines) == 0.0


def test_saved_pipeline_chunks_like_training(trained):
    config = json.loads(trained["path"].read_text(encoding="utf-8"))
    patterns = [p["pattern"]["Regex"] for p in config["pre_tokenizer"]["pretokenizers"] if p["type"] == "Split"]
    assert patterns == [sup.STAGE2_PATTERNS["gpt4"]]
    pre = sup.stage2_pipeline(trained["spec"]).pre_tokenizer
    text = "Hello, the cat's hat  is 12345 red.\n\nNext (see it) don't"
    pieces = [p for p, _ in pre.pre_tokenize_str(text)]
    # words joined by single spaces (contractions too); punctuation runs, digit groups of three, double spaces
    # and newlines stay apart, exactly where stage 1 (gpt4) cuts them
    assert pieces == ["Hello", ",", "ĠtheĠcat'sĠhat", "Ġ", "Ġis", "Ġ", "123", "45", "Ġred", ".ĊĊ", "Next", "Ġ(",
                      "seeĠit", ")", "Ġdon't"]


# ---------------------------------------------------------------------------------------------- runs, round trips
@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_corpus):
    root = tmp_path_factory.mktemp("runs")
    sb = train_bpe([str(small_corpus)], vocab_size=1000, variant="supertoken", runs_dir=root, name="sb",
                   options={"transition": 600})
    ri = train_bpe([str(small_corpus)], vocab_size=1000, variant="supertoken", runs_dir=root, name="ri",
                   options={"recipe": "random-interval"})
    return {"superbpe": sb, "random-interval": ri}


@pytest.mark.parametrize("recipe", ["superbpe", "random-interval"])
def test_run_metrics_and_heldout_round_trip(runs, recipe, heldout_lines):
    result = runs[recipe]
    tok = load_tokenizer(result.run_dir)
    for line in heldout_lines:
        assert tok.decode(tok.encode(line)) == line
    held = next(v for k, v in result.metrics.items() if k.endswith("/heldout"))
    assert held["round_trip_rate"] == 1.0
    assert held["space_spanning_token_share"] > 0.02
    assert held["plain_bytes_per_token"] > 0 and held["bytes_per_token_ratio_vs_plain"] > 0.5
    if recipe == "superbpe":  # random-interval at a 1k vocabulary does not beat plain BPE (documented finding)
        assert held["bytes_per_token_ratio_vs_plain"] > 1.0
    manifest = json.loads((result.run_dir / "artifacts" / "tokbench.json").read_text())
    assert manifest["recipe"] == recipe and manifest["variant"] == "supertoken"


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT)
def test_round_trip_random_text(runs, text):
    for result in runs.values():
        tok = load_tokenizer(result.run_dir)
        assert tok.decode(tok.encode(text)) == text


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=120).map(lambda s: s.replace(sup.SEPARATOR, "")), seed=st.integers(0, 2**32),
       lo=st.integers(1, 6), extra=st.integers(0, 20))
def test_random_interval_cuts(text, seed, lo, extra):
    import random

    hi = lo + extra
    cut = sup.cut_at_random_intervals(text, random.Random(seed), lo, hi)
    parts = cut.split(sup.SEPARATOR) if text else []
    assert "".join(parts) == text
    assert all(lo <= len(p) <= hi for p in parts[:-1]) and all(1 <= len(p) <= hi for p in parts[-1:])
    assert cut == sup.cut_at_random_intervals(text, random.Random(seed), lo, hi)


def test_random_interval_pipeline_splits_nothing_at_inference(runs):
    config = json.loads((runs["random-interval"].run_dir / "artifacts" / "tokenizer.json").read_text())
    assert config["pre_tokenizer"]["type"] == "ByteLevel"
    tok = load_tokenizer(runs["random-interval"].run_dir)
    lengths = [len(tok.token_bytes(i).decode("utf-8", "replace")) for i in range(tok.vocab_size)
               if i not in tok.special_ids]
    assert max(lengths) <= sup.DEFAULT_INTERVAL[1]


# ---------------------------------------------------------------------------------------------- metric
def test_space_spanning_hand_case():
    tokens = [b" of the", b"ed to", b" the", b"the ", b"   ", b"\n a", b" a b ", b"x"]
    assert [sup.spans_space(t) for t in tokens] == [True, True, False, False, False, False, True, False]
    assert sup.space_spanning_share(tokens) == pytest.approx(3 / 8)


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args, needle", [
    (["--transition", "900"], "--transition 900 must be below"),
    (["--transition", "1200"], "must be below"),
    (["--recipe", "wordpiece"], "unknown recipe"),
    (["--option", "bogus=1"], "unknown option"),
    (["--recipe", "random-interval", "--max-words", "3"], "superbpe only"),
    (["--pretokenizer", "whitespace"], "superbpe supports"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, small_corpus, args, needle):
    from tokbench.cli import main

    rc = main(["train-bpe", "--variant", "supertoken", "--corpus", str(small_corpus), "-v", "900",
               "--runs-dir", str(tmp_path), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert needle in err and len(err.splitlines()) == 1
