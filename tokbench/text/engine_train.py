"""`train-bpe --engine dask` and `--from-counts RUN`: BPE whose counting runs on a distributed engine.

Plain BPE: workers count pre-tokens with the tokenizer's own normalizer and pre-tokenizer
(`tokbench.engines.counting.PretokenCounter`), the driver merges them into `artifacts/counts/pretokens.parquet`
and learns the merges with `tokbench.engines.bpe_learner.learn_bpe`, which reproduces HF's BpeTrainer on the
same counts: the tokenizer.json is the one single-process training writes. SuperBPE (`--variant supertoken`,
recipe superbpe): stage 1 is that plain BPE at the transition size; stage 2 counts chunks on the workers with
`supertoken.count_chunks` (`artifacts/counts/chunks.parquet`) and learns with `supertoken.learn_merges`.

`--from-counts RUN` skips the corpus: it re-learns from RUN's count tables at another vocabulary size (the
pipeline settings come from the tables; a mismatch is refused). Finished shards are kept in `<run>/engine/`, so
`--resume` of an interrupted run recounts only the shards it had not finished. Held-out evaluation is sharded
the same way (`tokbench.engines.evaluate`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from tokbench.engines import bpe_learner, cluster, counting, shards, table
from tokbench.engines import evaluate as sharded_eval
from tokbench.errors import TokbenchError
from tokbench.runs import Run, atomic_write_json, atomic_write_text, read_json, sha256_file
from tokbench.text.bpe import (DEFAULT_CORPUS, DEFAULT_SPECIAL_TOKENS, HF_MAX_LENGTH_OFFSET, BPESpec, TrainResult,
                               build_hf_tokenizer, peak_rss_mb)
from tokbench.text.patterns import SPLIT_PATTERNS
from tokbench.text.tokenizer import MANIFEST, load_run_tokenizer

ENGINE_DIR = "engine"
COUNTS_DIR = "counts"
PRETOKENS = "pretokens"
CHUNKS = "chunks"
#: the spec fields that make the counting pipeline: taken from the counts when re-learning from them
PIPELINE_FIELDS = ("pretokenizer", "normalization", "lowercase", "split_digits")


def wanted(engine: str | None, from_counts: str | Path | None, resume: str | Path | None,
           scheduler: str | None = None, workers: int | None = None) -> bool:
    """Whether train_bpe goes through this module: an engine or counts were asked for, or the resumed run
    was made here. Cluster settings without an engine are refused rather than ignored."""
    if engine is not None or from_counts is not None:
        return True
    made_here = False
    if resume is not None:
        try:
            info = read_json(Path(resume) / "run.json")
            config = (info.get("config") if isinstance(info, dict) else None) or {}
        except TokbenchError:
            config = {}  # the plain path reports the bad folder
        made_here = isinstance(config, dict) and bool(config.get("engine") or config.get("from_counts"))
    if not made_here and (scheduler is not None or workers is not None):
        raise TokbenchError("--scheduler and --workers need --engine dask")
    return made_here


def _pipeline_json(tok: Any) -> dict[str, Any]:
    """The normalizer and pre-tokenizer of an HF pipeline: what decides the counted strings."""
    config = json.loads(tok.to_str())
    return {"normalizer": config.get("normalizer"), "pre_tokenizer": config.get("pre_tokenizer")}


def _check(spec: BPESpec) -> dict[str, Any]:
    if spec.backend != "hf" or spec.variant not in ("plain", "supertoken"):
        raise TokbenchError("--engine and --from-counts train byte-level BPE: --variant plain or supertoken "
                            "(recipe superbpe) with --backend hf")
    if spec.variant == "supertoken":
        from tokbench.text.supertoken import check_options

        opts = check_options(spec, spec.options)
        if opts["recipe"] != "superbpe":
            raise TokbenchError("--engine supports --recipe superbpe (random-interval cuts lines at random)")
        return opts
    if spec.options:
        raise TokbenchError(f"--variant plain takes no options (got {', '.join(sorted(spec.options))})")
    return {}


def train_bpe_on_engine(corpus: str | list[str] | None = None, *, vocab_size: int | None = None,
                        variant: str = "plain", backend: str = "hf", model_type: str = "bpe", min_frequency: int = 2,
                        special_tokens: list[str] | tuple[str, ...] | None = None, pretokenizer: str = "gpt4",
                        normalization: str = "none", lowercase: bool = False, split_digits: bool = False,
                        max_token_length: int | None = None, threads: int | None = None, errors: str = "strict",
                        runs_dir: str | Path = "runs", name: str | None = None, evaluate: bool = True,
                        options: dict[str, Any] | None = None, resume: str | Path | None = None,
                        engine: str | None = None, scheduler: str | None = None, workers: int | None = None,
                        from_counts: str | Path | None = None, shard_bytes: int | None = None,
                        processes: bool | None = None) -> TrainResult:
    """train_bpe's contract (run folder, manifest, held-out metrics) with counting on an engine or from counts.

    `scheduler` names a running Dask cluster (`tcp://host:port`); without it a local cluster of `workers`
    processes (default: one per core; `processes=False`: threads) is started and shut down.
    """
    if resume is not None:
        info = read_json(Path(resume) / "run.json")
        if info.get("kind") != "text-bpe":
            raise TokbenchError(f"{resume}: not a text-bpe run")
        config = info["config"]
        spec = BPESpec(**config["spec"])
        corpus_specs, errors, evaluate = config["corpus"], config.get("errors", errors), config.get("evaluate", True)
        recorded = config.get("engine") or {}
        engine = engine or recorded.get("name")
        workers = workers if workers is not None or scheduler is not None else recorded.get("workers")
        shard_bytes = recorded.get("shard_bytes", shard_bytes)
        from_counts = config.get("from_counts")
    else:
        spec = BPESpec(vocab_size=8192 if vocab_size is None else vocab_size, variant=variant, backend=backend,
                       model_type=model_type, min_frequency=min_frequency,
                       special_tokens=list(DEFAULT_SPECIAL_TOKENS if special_tokens is None else special_tokens),
                       pretokenizer=pretokenizer, normalization=normalization, lowercase=lowercase,
                       split_digits=split_digits, max_token_length=max_token_length, threads=threads,
                       options=dict(options or {}))
        corpus_specs = [corpus] if isinstance(corpus, str) else list(corpus or [DEFAULT_CORPUS])
    if engine is not None:
        cluster.check_engine(engine)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise TokbenchError("--workers must be at least 1")  # before the run folder, not from inside it
    source: dict[str, Any] | None = None
    notes: list[str] = []
    if from_counts is not None:
        source = _counts_source(Path(from_counts), spec)
        spec = replace(spec, **{k: source["spec"][k] for k in PIPELINE_FIELDS})
        if corpus is not None and resume is None:
            raise TokbenchError("--from-counts learns from RUN's counts: give no --corpus")
        corpus_specs = source["corpus"]
        errors = source["errors"]
        notes.append(f"merges learned from the counts of {source['run']} (no corpus read)")
    elif engine is None:
        raise TokbenchError("give --engine dask or --from-counts RUN")
    spec.validate()
    stage_opts = _check(spec)
    if from_counts is not None and spec.variant == "supertoken" and CHUNKS not in source["tables"]:
        raise TokbenchError(f"{from_counts}: no stage-2 chunk counts (train that run with --variant supertoken)")
    needs_engine = from_counts is None or evaluate
    train_files = shards.expand_inputs(corpus_specs, "train") if from_counts is None else []
    heldout_files = shards.expand_inputs(corpus_specs, "heldout") if evaluate else []
    engine_config = {"name": engine or "dask", "scheduler": scheduler, "workers": workers,
                     "shard_bytes": shard_bytes} if needs_engine else None
    config = {"spec": asdict(spec), "corpus": corpus_specs, "errors": errors, "evaluate": evaluate,
              "engine": engine_config, "from_counts": str(from_counts) if from_counts is not None else None}
    if engine_config is not None and scheduler is not None:  # refuse before a run folder exists
        cluster.check_scheduler(scheduler)
    if resume is not None:
        run = Run.resume(resume)
    else:
        data = _fingerprint(train_files) if source is None else source["data"]
        run = Run.create(runs_dir, "text-bpe", config, name=name, data=data,
                         packages=("tokenizers", "dask", "distributed", "pyarrow"))
    with run:
        start = time.perf_counter()
        with _maybe_cluster(engine_config, processes) as client:
            timing: dict[str, Any] = {"cluster_start_seconds": round(time.perf_counter() - start, 3)}
            if client is not None and engine_config["shard_bytes"] is None:  # chosen once, kept for --resume
                engine_config["shard_bytes"] = shards.auto_shard_bytes(
                    sum(f.size for f in train_files or heldout_files), len(client.scheduler_info()["workers"]))
                run.update_info(config=config)
            if source is None:
                tables = _count(client, run, spec, train_files, errors, corpus_specs, timing,
                                engine_config["shard_bytes"])
                timing["driver_peak_rss_mb_counting"] = round(peak_rss_mb(), 1)
                timing["worker_peak_rss_mb"] = cluster.worker_peak_rss_mb(client)
            else:
                tables = source["tables"]
            t0 = time.perf_counter()
            manifest, extra = _learn(spec, stage_opts, tables, run.artifacts)
            timing["learn_seconds"] = round(time.perf_counter() - t0, 3)
            seconds = time.perf_counter() - start
            atomic_write_json(run.artifacts / MANIFEST, {**manifest, "variant": spec.variant,
                                                         "pattern": spec.pretokenizer})
            metrics = run.update_metrics("training", {"train_seconds": round(seconds, 3),
                                                      "peak_rss_mb": round(peak_rss_mb(), 1), **timing, **extra})
            tok = load_run_tokenizer(run.path)
            from tokbench.text.evaluate import vocabulary_record

            vocab = vocabulary_record(spec.vocab_size, tok.vocab_size)
            metrics = run.update_metrics("training", {"vocab_size_requested": vocab["requested"],
                                                      "vocab_size_reached": vocab["reached"]})
            if vocab.get("warning"):
                notes.insert(0, vocab["warning"])
            evaluations: dict[str, Any] = {}
            if client is not None and heldout_files:
                metrics = _heldout(client, run, heldout_files, engine_config, errors, corpus_specs, tok.vocab_size,
                                   evaluations, notes) or metrics
        run.update_info(vocab=vocab, evaluations=evaluations, **({"notes": notes} if notes else {}))
    return TrainResult(run_dir=run.path, tokenizer_path=run.artifacts / manifest["file"], metrics=metrics,
                       config=config, notes=notes, vocab=vocab)


def _heldout(client: Any, run: Run, files: list[shards.InputFile], engine_config: dict[str, Any], errors: str,
             corpus_specs: list[str], vocab_size: int, evaluations: dict[str, Any],
             notes: list[str]) -> dict[str, Any] | None:
    """train-bpe's held-out report, sharded; returns the run's metrics when it added some."""
    plan = shards.plan_shards(files, engine_config["shard_bytes"])
    values = sharded_eval.sharded_basic_metrics(client, plan, RunTokenizerFactory(run.path), vocab_size, errors=errors)
    if not values.get("lines"):
        notes.append("the held-out split is empty (files hold out every tenth line): no held-out metrics")
        return None
    dataset = f"{'+'.join(corpus_specs)}/heldout"
    evaluations[dataset] = {"command": "train-bpe", "split": "heldout", "lines": values["lines"],
                            "bytes": values.get("bytes", 0), "engine": engine_config["name"]}
    return run.update_metrics(dataset, values)


class _NoCluster:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _maybe_cluster(engine_config: dict[str, Any] | None, processes: bool | None) -> Any:
    if engine_config is None:
        return _NoCluster()
    return cluster.open_cluster(engine_config["name"], engine_config["scheduler"], engine_config["workers"],
                                processes=processes)


def _fingerprint(files: list[shards.InputFile]) -> list[dict[str, Any]]:
    """Path, size and sha256 of each local input (fsspec URLs: path and size; hashing them would read them
    through the driver)."""
    return [{"source": f.source, "path": f.url, "bytes": f.size, "split": f.line_split,
             "sha256": None if shards.is_url(f.url) else sha256_file(f.url)} for f in files]


# ---------------------------------------------------------------------------------------------- counting
def _table_meta(spec: BPESpec, stage: str, pipe: Any, pattern: str, corpus_specs: list[str],
                errors: str) -> dict[str, Any]:
    return {"stage": stage, "pipeline": _pipeline_json(pipe), "split_pattern": pattern,
            "piece": "byte-level mapped pre-token" if stage == PRETOKENS else "chunk text (normalized, unmapped)",
            "normalization": spec.normalization, "lowercase": spec.lowercase, "split_digits": spec.split_digits,
            "pretokenizer": spec.pretokenizer, "corpus": corpus_specs, "split": "train", "errors": errors}


def _count(client: Any, run: Run, spec: BPESpec, files: list[shards.InputFile], errors: str,
           corpus_specs: list[str], timing: dict[str, Any], shard_bytes: int) -> dict[str, Path]:
    """Count the training split on the engine; returns stage -> merged count table in the run's artifacts."""
    plan = shards.plan_shards(files, shard_bytes)
    stages = [(PRETOKENS, build_hf_tokenizer(spec), SPLIT_PATTERNS[spec.pretokenizer])]
    if spec.variant == "supertoken":
        from tokbench.text.supertoken import stage2_pattern, stage2_pipeline

        stage2 = _stage2_mode(spec)
        stages.append((CHUNKS, stage2_pipeline(spec, stage2), stage2_pattern(spec, stage2)))
    out: dict[str, Path] = {}
    for stage, pipe, pattern in stages:
        t0 = time.perf_counter()
        counter = counting.PretokenCounter(pipe.to_str()) if stage == PRETOKENS else _chunk_counter(spec)
        counts, info = counting.count_corpus(client, plan, counter, errors=errors,
                                             state_dir=run.path / ENGINE_DIR / stage, description=f"counting {stage}")
        path = run.artifacts / COUNTS_DIR / f"{stage}.parquet"
        table.write_counts(path, counts, _table_meta(spec, stage, pipe, pattern, corpus_specs, errors))
        timing.update({f"{stage}_count_seconds": round(time.perf_counter() - t0, 3), f"{stage}_unique": len(counts),
                       f"{stage}_shards": info["shards"], f"{stage}_shards_reused": info["reused"]})
        out[stage] = path
        del counts
    return out


def _stage2_mode(spec: BPESpec) -> str:
    from tokbench.text.supertoken import check_options

    return check_options(spec, spec.options)["stage2"]


def _chunk_counter(spec: BPESpec) -> Any:
    """SuperBPE's own stage-2 chunk counter (supertoken.count_chunks), bound to this spec for the workers. Chunks
    are counted as the (normalized) text they stand for, as supertoken's own stage 2 does (`mapped=False`)."""
    from tokbench.text.supertoken import count_chunks

    return functools.partial(count_chunks, spec, stage2=_stage2_mode(spec), mapped=False)


def _counts_source(path: Path, spec: BPESpec) -> dict[str, Any]:
    """The count tables of an earlier run and what they were made from."""
    info = read_json(path / "run.json")
    if info.get("kind") != "text-bpe":
        raise TokbenchError(f"{path}: not a text-bpe run")
    folder = path / "artifacts" / COUNTS_DIR
    tables = {stage: folder / f"{stage}.parquet" for stage in (PRETOKENS, CHUNKS)
              if (folder / f"{stage}.parquet").is_file()}
    if PRETOKENS not in tables:
        raise TokbenchError(f"{path}: no count tables (artifacts/counts/pretokens.parquet); train it with --engine")
    meta = table.read_meta(tables[PRETOKENS])
    recorded = info["config"]["spec"]
    return {"run": str(path), "tables": tables, "spec": {k: meta.get(k, recorded[k]) for k in PIPELINE_FIELDS},
            "corpus": meta.get("corpus") or info["config"]["corpus"], "errors": meta.get("errors", "strict"),
            "data": [*info.get("data", []), *({"source": f"counts:{p.name}", "path": str(p), "bytes": p.stat().st_size,
                                               "sha256": sha256_file(p)} for p in tables.values())]}


# ---------------------------------------------------------------------------------------------- learning
def _hf_max_length(spec: BPESpec) -> int | None:
    return spec.max_token_length + HF_MAX_LENGTH_OFFSET if spec.max_token_length else None


def plain_from_counts(spec: BPESpec, counts: dict[str, int], vocab_size: int) -> Any:
    """The HF tokenizer that single-process training writes, built from pre-token counts."""
    from tokenizers import models, pre_tokenizers

    learned = bpe_learner.learn_bpe(counts, vocab_size, special_tokens=spec.special_tokens,
                                    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                    min_frequency=spec.min_frequency, max_token_length=_hf_max_length(spec))
    tok = build_hf_tokenizer(spec)
    tok.model = models.BPE(vocab=learned.vocab, merges=learned.merges, byte_fallback=False)
    tok.add_special_tokens(list(spec.special_tokens))
    return tok


def _checked_counts(path: Path, spec: BPESpec, stage: str) -> dict[str, int]:
    counts, meta = table.read_counts(path)
    if stage == PRETOKENS:
        pipe = build_hf_tokenizer(spec)
    else:
        from tokbench.text.supertoken import stage2_pipeline

        pipe = stage2_pipeline(spec, _stage2_mode(spec))
    if meta.get("pipeline") != _pipeline_json(pipe):
        raise TokbenchError(f"{path}: counted with another normalizer or pre-tokenizer than this training uses")
    return counts


def _learn(spec: BPESpec, opts: dict[str, Any], tables: dict[str, Path],
           artifacts: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    counts = _checked_counts(tables[PRETOKENS], spec, PRETOKENS)
    if spec.variant == "plain":
        tok = plain_from_counts(spec, counts, spec.vocab_size)
        atomic_write_text(artifacts / "tokenizer.json", tok.to_str(pretty=True))
        return {"format": "hf", "file": "tokenizer.json"}, {}
    from tokbench.text import supertoken as st

    t0 = time.perf_counter()
    stage1 = plain_from_counts(spec, counts, opts["transition"])
    stage1_seconds = time.perf_counter() - t0
    del counts
    t0 = time.perf_counter()
    chunk_counts = _checked_counts(tables[CHUNKS], spec, CHUNKS)
    state = _stage2_input(spec, stage1, chunk_counts)
    n_chunks = len(state.counts)
    merges = st.learn_merges(state.words, state.counts, state.token_bytes, spec.vocab_size,
                             min_frequency=spec.min_frequency, max_words=opts["max_words"],
                             max_chars=spec.max_token_length)
    tok_json = st.assemble_tokenizer(spec, stage1, state.token_bytes, merges, opts["stage2"])
    atomic_write_text(artifacts / "tokenizer.json", tok_json)
    manifest = {"format": "hf", "file": "tokenizer.json", "recipe": "superbpe", "transition": opts["transition"],
                "max_words": opts["max_words"], "stage2": opts["stage2"],
                "stage2_pattern": st.stage2_pattern(spec, opts["stage2"])}
    extra = {"stage1_learn_seconds": round(stage1_seconds, 3),
             "stage2_learn_seconds": round(time.perf_counter() - t0, 3),
             "stage1_vocab_reached": stage1.get_vocab_size(with_added_tokens=True), "stage2_merges": len(merges),
             "stage2_unique_chunks": n_chunks}
    return manifest, extra


def _stage2_input(spec: BPESpec, stage1: Any, chunk_counts: dict[str, int]) -> Any:
    """supertoken.Stage2Input from merged chunk counts instead of lines, keeping the chunks its own
    `from_corpus` keeps (tests compare the result with single-process training)."""
    from tokbench.text import supertoken as st

    specials = tuple(spec.special_tokens)
    kept = {c: n for c, n in chunk_counts.items() if len(c.encode("utf-8")) >= 2 and not any(s in c for s in specials)}
    weights = list(kept.values())
    words = st.FlatWords.encode(stage1, kept, weights, mapped=False)
    keep = words.multi_token()
    if not keep.all():
        weights = [w for w, k in zip(weights, keep) if k]
        words = words.subset(keep)
    return st.Stage2Input([], words, weights, st.vocab_bytes(stage1))


# ---------------------------------------------------------------------------------------------- evaluation
class RunTokenizerFactory:
    """A run's tokenizer files, shipped to workers (their file system need not see the run folder); calling it
    rebuilds the tokenizer there. Hashable by content, so each worker builds it once."""

    def __init__(self, run_dir: Path) -> None:
        art = Path(run_dir) / "artifacts"
        manifest = read_json(art / MANIFEST)
        self.files = {MANIFEST: (art / MANIFEST).read_bytes(), manifest["file"]: (art / manifest["file"]).read_bytes()}
        self.name = Path(run_dir).name
        self.digest = hashlib.sha256(b"".join(self.files[k] for k in sorted(self.files))).hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunTokenizerFactory) and other.digest == self.digest

    def __call__(self) -> Any:
        tmp = Path(tempfile.mkdtemp(prefix="tokbench-eval-"))
        try:
            run_dir = tmp / self.name
            for filename, data in self.files.items():
                (run_dir / "artifacts").mkdir(parents=True, exist_ok=True)
                (run_dir / "artifacts" / filename).write_bytes(data)
            return load_run_tokenizer(run_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
