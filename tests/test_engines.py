"""Distributed counting (issue 17): shards, the counts learner against HF's own trainer, train-bpe --engine and
--from-counts against single-process training, resume from finished shards, worker death, bad input.

Clusters here are Dask LocalClusters of in-process thread workers (no sockets, nothing left running), except the
worker-death test, which needs a real worker process to kill (127.0.0.1 only, shut down at the end).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from tokbench.engines import bpe_learner, cluster, counting, shards, table  # noqa: E402
from tokbench.engines import evaluate as sharded_eval  # noqa: E402
from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.runs import read_json  # noqa: E402
from tokbench.sources.text import iter_file_lines  # noqa: E402
from tokbench.text.bpe import BPESpec, build_hf_tokenizer, hf_trainer, train_bpe  # noqa: E402
from tokbench.text.patterns import SPLIT_PATTERNS  # noqa: E402
from tokbench.text.tokenizer import load_tokenizer  # noqa: E402


@pytest.fixture(autouse=True)
def thread_workers(monkeypatch):
    monkeypatch.setattr(cluster, "LOCAL_PROCESSES", False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, english_train_path) -> Path:
    """~120 KB of real English with its blank lines: small enough for a few seconds per training."""
    text = english_train_path.read_text(encoding="utf-8")[:120_000]
    path = tmp_path_factory.mktemp("engine") / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def client():
    with cluster.open_cluster(workers=2) as c:
        yield c


def _hf_reference(lines: list[str], vocab: int, **kw):
    spec = BPESpec(vocab_size=vocab, **kw)
    tok = build_hf_tokenizer(spec)
    tok.train_from_iterator([lines], hf_trainer(spec))
    return json.loads(tok.to_str())["model"]


def _counts_one_process(lines: list[str], spec: BPESpec) -> dict[str, int]:
    pipe = build_hf_tokenizer(spec)
    out: Counter = Counter()
    for line in lines:
        if pipe.normalizer is not None:
            line = pipe.normalizer.normalize_str(line)
        out.update(p for p, _ in pipe.pre_tokenizer.pre_tokenize_str(line))
    return dict(out)


# ---------------------------------------------------------------------------------------------- learner
@pytest.mark.parametrize("kw", [
    {"vocab": 700},
    {"vocab": 5000, "min_frequency": 5},                  # stops early: no pair left with count >= 5
    {"vocab": 900, "max_token_length": 4},
    {"vocab": 900, "normalization": "nfkc", "lowercase": True, "split_digits": True},
])
def test_learner_reproduces_hf_trainer_from_counts(corpus, kw):
    lines = list(iter_file_lines(corpus))[:1500]
    vocab = kw.pop("vocab")
    spec = BPESpec(vocab_size=vocab, **kw)
    ref = _hf_reference(lines, vocab, **kw)
    from tokenizers import pre_tokenizers

    learned = bpe_learner.learn_bpe(
        _counts_one_process(lines, spec), vocab, special_tokens=spec.special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=spec.min_frequency,
        max_token_length=spec.max_token_length + 1 if spec.max_token_length else None)
    assert [list(m) for m in learned.merges] == ref["merges"]
    assert learned.vocab == ref["vocab"]


@pytest.mark.parametrize("words", [
    ["aaaa", "aaa", "aa", "aaaaa"],                       # overlapping pairs: ("a","a") counted per window
    ["ab c", "a bc", "abc", "xabcx", "abcabc"],           # two merges can make one string: the id is reused
    ["to", "ot", "tot", "oto", "toto", "otot"],           # equal counts everywhere: ties to the smallest ids
])
def test_learner_edge_cases_match_hf(words):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    counts = Counter(w for i, w in enumerate(words * 3) for _ in range(i % 4 + 1))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    alphabet = sorted({ch for w in counts for ch in w if not ch.isspace()})
    tok.train_from_iterator([" ".join([w] * n) for w, n in counts.items()],
                            trainers.BpeTrainer(vocab_size=40, min_frequency=1, show_progress=False,
                                                special_tokens=["<s>"], initial_alphabet=alphabet))
    ref = json.loads(tok.to_str())["model"]
    words_counts = Counter()
    for w, n in counts.items():
        for piece in w.split():
            words_counts[piece] += n
    learned = bpe_learner.learn_bpe(words_counts, 40, special_tokens=["<s>"], initial_alphabet=alphabet,
                                    min_frequency=1)
    assert [list(m) for m in learned.merges] == ref["merges"]
    assert learned.vocab == ref["vocab"]


# ---------------------------------------------------------------------------------------------- shards
@pytest.mark.parametrize("shard_bytes", [1, 7, 333, 4096, 10**9])
@pytest.mark.parametrize("split", ["all", "train", "heldout"])
def test_shards_hold_every_line_once_in_order(tmp_path, shard_bytes, split):
    text = "".join(f"line {i} {'x' * (i % 13)}\n" if i % 7 else "\n" for i in range(1, 400)) + "no newline at end"
    path = tmp_path / "lines.txt"
    path.write_text(text, encoding="utf-8")
    plan = shards.plan_shards(shards.expand_inputs([str(path)], split), shard_bytes)
    if shards.needs_line_numbers(plan):  # what counting.number_shards maps on the engine
        plan = shards.with_line_numbers(plan, [shards.count_newlines(s) for s in plan])
    got = [line for s in plan for line in shards.shard_lines(s)]
    assert got == list(iter_file_lines(path, line_split=split))


def test_fsspec_url_counts_like_the_local_path(corpus, client):
    spec = BPESpec()
    counter = counting.PretokenCounter(build_hf_tokenizer(spec).to_str())
    local = shards.plan_shards(shards.expand_inputs([str(corpus)]), 10_000)
    remote = shards.plan_shards(shards.expand_inputs([corpus.resolve().as_uri()]), 10_000)
    assert remote[0].url.startswith("file://")
    got = table.as_dict(counting.count_corpus(client, remote, counter)[0])
    assert got == table.as_dict(counting.count_corpus(client, local, counter)[0]) and got


def test_counting_equals_hf_pretokenization_per_line(corpus, client):
    spec = BPESpec(normalization="nfc", split_digits=True)
    plan = shards.plan_shards(shards.expand_inputs([str(corpus)], "train"), 9_000)
    counts, info = counting.count_corpus(client, plan, counting.PretokenCounter(build_hf_tokenizer(spec).to_str()))
    assert info == {"shards": len(plan), "reused": 0} and len(plan) > 5
    assert table.as_dict(counts) == _counts_one_process(list(iter_file_lines(corpus, line_split="train")), spec)


_TRICKY = ["a\n", "\r\n", "x\r", " \u00a0 \u2003x", "12345 678\n", "don't  ", "\t\t\n\n", "é\u0301ﬁ½",
           "日本語 テキスト\n", "  \u3000  ", "'S'LL 'Ve", "a\u2028b\u0085c", "\U0001F600!!\n", ""]


@pytest.mark.parametrize("pattern", sorted(SPLIT_PATTERNS))
@pytest.mark.parametrize("normalization", ["none", "nfkc"])
def test_fast_split_counter_equals_hf_per_line(pattern, normalization, corpus):
    """The regex fast path (plain Split + ByteLevel) counts what HF's per-line pre-tokenization counts."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    spec = BPESpec(pretokenizer=pattern, normalization=normalization)
    counter = counting.PretokenCounter(build_hf_tokenizer(spec).to_str())
    counter._build()
    assert counter._split is not None  # the fast path is the one under test
    real = corpus.read_text(encoding="utf-8").splitlines(keepends=True)[:400]
    assert counter(real + _TRICKY) == _counts_one_process(real + _TRICKY, spec)
    alphabet = st.one_of(st.sampled_from(list(" \t\r\n\u00a0\u2003\u3000\u0085\u2028'0123456789aZé_!-")),
                         st.characters(codec="utf-8"))
    lines = st.lists(st.text(alphabet, max_size=30).map(lambda t: t + "\n"), max_size=8)

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(lines)
    def check(batch):
        assert counter(batch) == _counts_one_process(batch, spec)

    check()


@pytest.mark.parametrize("pattern", [r"a*", r"a+", r"\d", r"(?<=a)"])
def test_fast_split_with_gaps_or_empty_matches_equals_hf(pattern):
    """Patterns that leave text between matches or match the empty string: HF keeps gaps and drops empties."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    counter = counting.PretokenCounter(tok.to_str())
    lines = ["baaab\n", "aa\n", "x1y22\n", "\n", "a"]
    assert counter(lines) == dict(Counter(p for line in lines for p, _ in tok.pre_tokenizer.pre_tokenize_str(line)))
    assert counter._split is not None


def test_pipelines_outside_the_fast_path_keep_hf_pretokenizer():
    counter = counting.PretokenCounter(build_hf_tokenizer(BPESpec(split_digits=True)).to_str())
    counter._build()
    assert counter._split is None


# ---------------------------------------------------------------------------------------------- train-bpe
def _same_tokenizers(a: Path, b: Path, heldout: list[str]) -> None:
    assert (a / "artifacts" / "tokenizer.json").read_text() == (b / "artifacts" / "tokenizer.json").read_text()
    ta, tb = load_tokenizer(a), load_tokenizer(b)
    assert ta.encode_batch(heldout) == tb.encode_batch(heldout)


def test_engine_plain_bpe_identical_to_single_process(corpus, tmp_path):
    heldout = list(iter_file_lines(corpus, line_split="heldout"))
    engine = train_bpe(str(corpus), vocab_size=900, runs_dir=tmp_path, name="engine", engine="dask", workers=2)
    single = train_bpe(str(corpus), vocab_size=900, runs_dir=tmp_path, name="single")
    _same_tokenizers(engine.run_dir, single.run_dir, heldout)
    dataset = f"{corpus}/heldout"
    assert engine.metrics[dataset] == single.metrics[dataset]  # sharded held-out evaluation, same figures
    meta = table.read_meta(engine.run_dir / "artifacts" / "counts" / "pretokens.parquet")
    assert meta["split_pattern"] == SPLIT_PATTERNS["gpt4"]
    assert meta["pipeline"]["pre_tokenizer"]["type"] == "Sequence" and meta["normalization"] == "none"
    counts, _ = table.read_counts(engine.run_dir / "artifacts" / "counts" / "pretokens.parquet")
    assert meta["total"] == sum(counts.values()) and meta["unique"] == len(counts)
    assert read_json(engine.run_dir / "run.json")["config"]["engine"]["name"] == "dask"


@pytest.mark.parametrize("stage2", ["published", "strict"])
def test_engine_supertoken_identical_to_single_process(corpus, tmp_path, stage2):
    heldout = list(iter_file_lines(corpus, line_split="heldout"))
    kw = dict(vocab_size=800, variant="supertoken", options={"transition": 600, "stage2": stage2}, runs_dir=tmp_path)
    engine = train_bpe(str(corpus), name="engine", engine="dask", workers=2, **kw)
    single = train_bpe(str(corpus), name="single", **kw)
    _same_tokenizers(engine.run_dir, single.run_dir, heldout)
    assert (engine.run_dir / "artifacts" / "counts" / "chunks.parquet").is_file()
    assert engine.metrics["training"]["stage2_merges"] > 0


def test_from_counts_relearns_at_another_size_without_the_corpus(corpus, tmp_path):
    heldout = list(iter_file_lines(corpus, line_split="heldout"))
    kw = dict(variant="supertoken", options={"transition": 500}, runs_dir=tmp_path)
    first = train_bpe(str(corpus), vocab_size=700, name="first", engine="dask", workers=1, evaluate=False, **kw)
    again = train_bpe(vocab_size=650, from_counts=first.run_dir, name="again", evaluate=False, **kw)
    single = train_bpe(str(corpus), vocab_size=650, name="single", evaluate=False, **kw)
    _same_tokenizers(again.run_dir, single.run_dir, heldout)
    plain = train_bpe(vocab_size=400, from_counts=first.run_dir, name="plain", evaluate=False, runs_dir=tmp_path)
    plain_single = train_bpe(str(corpus), vocab_size=400, name="plain-single", evaluate=False, runs_dir=tmp_path)
    _same_tokenizers(plain.run_dir, plain_single.run_dir, heldout)
    assert not (again.run_dir / "engine").exists()  # nothing was counted


def test_interrupted_run_resumes_from_finished_shards(corpus, tmp_path, monkeypatch):
    from tokbench.text import engine_train

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_train, "_learn", interrupt)
    with pytest.raises(KeyboardInterrupt):
        engine_train.train_bpe_on_engine(str(corpus), vocab_size=700, runs_dir=tmp_path, name="r", engine="dask",
                                         workers=2, shard_bytes=20_000, evaluate=False)
    monkeypatch.undo()
    monkeypatch.setattr(cluster, "LOCAL_PROCESSES", False)
    run_dir = tmp_path / "r"
    assert read_json(run_dir / "run.json")["status"] == "interrupted"
    finished = sorted((run_dir / "engine" / "pretokens").glob("shard-*.parquet"))
    assert len(finished) > 3
    finished[1].unlink()  # as if the interruption had come before this shard was written
    kept = {p.name: p.stat().st_ino for p in finished if p.exists()}
    resumed = train_bpe(resume=run_dir)
    after = {p.name: p.stat().st_ino for p in (run_dir / "engine" / "pretokens").glob("shard-*.parquet")}
    assert set(after) == {p.name for p in finished}
    assert {k: v for k, v in after.items() if k in kept} == kept  # finished shards were read, not recounted
    assert resumed.metrics["training"]["pretokens_shards_reused"] == len(finished) - 1
    single = train_bpe(str(corpus), vocab_size=700, runs_dir=tmp_path, name="single", evaluate=False)
    _same_tokenizers(run_dir, single.run_dir, [])


def test_sharded_evaluation_equals_basic_metrics(corpus, client, tiny_hf_run):
    from tokbench.text.engine_train import RunTokenizerFactory
    from tokbench.text.evaluate import basic_metrics

    tok = load_tokenizer(tiny_hf_run)
    plan = shards.plan_shards(shards.expand_inputs([str(corpus)], "heldout"), 5_000)
    got = sharded_eval.sharded_basic_metrics(client, plan, RunTokenizerFactory(tiny_hf_run), tok.vocab_size)
    assert got == basic_metrics(tok, iter_file_lines(corpus, line_split="heldout"))


# ---------------------------------------------------------------------------------------------- failures
def test_bad_utf8_names_the_file_and_offset_without_retries(tmp_path, client):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\n" * 50 + b"bad \xff byte\n" + b"more\n" * 50)
    plan = shards.plan_shards(shards.expand_inputs([str(path)]), 64)
    counter = counting.PretokenCounter(build_hf_tokenizer(BPESpec()).to_str())
    with pytest.raises(TokbenchError, match=r"invalid UTF-8 at byte offset 504"):
        counting.count_corpus(client, plan, counter)


@pytest.mark.parametrize("kwargs, message", [
    ({"engine": "ray"}, "unknown engine 'ray'"),
    ({"engine": "dask", "variant": "domain"}, "--variant plain or supertoken"),
    ({"engine": "dask", "variant": "supertoken", "options": {"recipe": "random-interval"}}, "superbpe"),
    ({"engine": "dask", "backend": "spm"}, "--backend hf"),
    ({"scheduler": "tcp://127.0.0.1:1"}, "need --engine dask"),
    ({"engine": "dask", "workers": 0}, "at least 1"),
    ({"from_counts": "MISSING"}, "no such file"),
])
def test_bad_engine_options_are_one_line_errors(corpus, tmp_path, kwargs, message):
    kwargs = {k: (str(tmp_path / "nope") if v == "MISSING" else v) for k, v in kwargs.items()}
    with pytest.raises(TokbenchError, match=message):
        train_bpe(str(corpus) if "from_counts" not in kwargs else None, vocab_size=600, runs_dir=tmp_path,
                  evaluate=False, **kwargs)


def test_from_counts_of_a_run_without_counts_is_refused(corpus, tmp_path, tiny_hf_run):
    with pytest.raises(TokbenchError, match="no count tables"):
        train_bpe(vocab_size=500, from_counts=tiny_hf_run, runs_dir=tmp_path, evaluate=False)


def test_stdin_cannot_be_sharded(tmp_path):
    with pytest.raises(TokbenchError, match="stdin"):
        shards.expand_inputs(["-"])


def test_cli_engine_and_from_counts(corpus, tmp_path, capsys):
    from tokbench.cli import main

    rc = main(["train-bpe", "-c", str(corpus), "-v", "600", "--engine", "dask", "--workers", "1", "--no-eval",
               "--runs-dir", str(tmp_path), "--name", "cli", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out)["config"]["engine"]["name"] == "dask"
    rc = main(["train-bpe", "--from-counts", str(tmp_path / "cli"), "-v", "500", "--no-eval",
               "--runs-dir", str(tmp_path), "--name", "again", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err and json.loads(out.out)["vocab"]["reached"] == 500
    rc = main(["train-bpe", "--engine", "ray", "-c", str(corpus), "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown engine" in err and "Traceback" not in err


class _DieOnce:
    """A counter whose first call kills its worker process (the engine must retry the shard elsewhere)."""

    def __init__(self, marker: str, pipeline: str) -> None:
        self.marker, self.inner = marker, counting.PretokenCounter(pipeline)

    def __call__(self, lines):
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("died")
            os._exit(1)
        return self.inner(lines)


@pytest.mark.slow
def test_a_dying_worker_is_retried_and_nothing_is_left_running(corpus, tmp_path):
    import sys

    import cloudpickle
    import psutil

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # worker processes cannot import tests/
    spec = BPESpec()
    plan = shards.plan_shards(shards.expand_inputs([str(corpus)], "train"), 30_000)
    counter = _DieOnce(str(tmp_path / "died"), build_hf_tokenizer(spec).to_str())
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with cluster.open_cluster(workers=2, processes=True) as c:
        counts, _ = counting.count_corpus(c, plan, counter)
    assert (tmp_path / "died").exists()
    assert table.as_dict(counts) == _counts_one_process(list(iter_file_lines(corpus, line_split="train")), spec)
    # multiprocessing's resource tracker is one helper per parent process that exits with it: not a worker
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]
    assert not left, [p.cmdline() for p in left]


# ---------------------------------------------------------------------------------------------- eval-text
def test_sharded_corpus_sums_equal_corpus_stats(corpus, client, tiny_hf_run):
    from tokbench.text.engine_train import RunTokenizerFactory
    from tokbench.text.evaluate import corpus_stats, evaluation_lines

    tok = load_tokenizer(tiny_hf_run)
    plan = shards.plan_shards(shards.expand_inputs([str(corpus)], "all"), 7_000)
    sums = sharded_eval.sharded_corpus_sums(client, plan, [RunTokenizerFactory(tiny_hf_run)])
    expected, _ = corpus_stats(tok, list(evaluation_lines(iter_file_lines(corpus))))
    assert sharded_eval.corpus_from_sums(sums[0], tok) == expected


def test_eval_text_on_the_engine_gives_the_same_rows(corpus, tmp_path, tiny_hf_run):
    from tokbench.text.evaluate import evaluate_text

    specs = [str(tiny_hf_run), f"hf:{tiny_hf_run / 'artifacts' / 'tokenizer.json'}"]
    plain = evaluate_text(specs, [str(corpus)], [], split="all", fast=False)
    sharded = evaluate_text(specs, [str(corpus)], [], split="all", engine="dask", workers=2,
                            runs_dir=tmp_path, name="ev")

    def rows(report):
        return sorted((r["subject"], r["dataset"], r["metric"], r["value"]) for r in report.to_dict()["rows"])

    assert rows(sharded) == rows(plain) and len(rows(plain)) > 20
    assert read_json(tmp_path / "ev" / "run.json")["config"]["engine"]["name"] == "dask"
    with pytest.raises(TokbenchError, match="max-lines"):
        evaluate_text(specs, [str(corpus)], [], engine="dask", max_lines=10)


def test_local_cluster_listens_on_loopback_only():
    psutil = pytest.importorskip("psutil")

    with cluster.open_cluster(workers=1):
        listening = {c.laddr.ip for c in psutil.Process().net_connections(kind="inet") if c.status == "LISTEN"}
    assert listening <= {"127.0.0.1"}


def test_progress_bars_for_the_distributed_stages(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOKBENCH_PROGRESS", "1")
    train_bpe(str(corpus), vocab_size=500, runs_dir=tmp_path, engine="dask", workers=1)
    err = capsys.readouterr().err
    assert "counting pretokens" in err and "merges from counts" in err and "held-out evaluation" in err


@pytest.mark.slow
def test_same_code_on_a_running_cluster_given_its_address(corpus, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0") as running:
        remote = train_bpe(str(corpus), vocab_size=600, runs_dir=tmp_path, name="remote", engine="dask",
                           scheduler=running.scheduler_address, evaluate=False)
    local = train_bpe(str(corpus), vocab_size=600, runs_dir=tmp_path, name="local", evaluate=False)
    _same_tokenizers(remote.run_dir, local.run_dir, [])
    assert read_json(remote.run_dir / "run.json")["config"]["engine"]["scheduler"] == running.scheduler_address
