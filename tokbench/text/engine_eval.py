"""`eval-text --engine dask`: the corpus metrics of `evaluate_text`, computed shard by shard on the engine.

Workers read their byte ranges of each corpus, encode every line with every tokenizer and return additive sums
(`tokbench.engines.evaluate`); the driver merges them and applies `corpus_stats`' formulas, so no corpus is
ever held whole in one process. Parallel corpora (small, aligned catalogs) and the report's tokenizer records
go through `evaluate_text` itself. Tokenizers reach the workers as run folders' files (shipped) or as specs
the workers load (their paths must be visible to the workers). `--max-lines` keeps the first lines of a corpus,
which shards cannot know: it is refused here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokbench.engines import cluster, shards
from tokbench.engines import evaluate as sharded_eval
from tokbench.errors import TokbenchError
from tokbench.metrics import rate
from tokbench.runs import Run
from tokbench.sources.text import Corpus, builtin_names, evaluation_split
from tokbench.text.engine_train import RunTokenizerFactory
from tokbench.text.tokenizer import TextTokenizer, load_tokenizer, split_label

ENGINE_NOTE = "sharded evaluation (--engine) encodes with each tokenizer itself"


class SpecTokenizerFactory:
    """Loads a tokenizer spec (`hf:PATH`, `spm:PATH`, ...) on a worker; hashable so each worker loads it once."""

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpecTokenizerFactory) and other.spec == self.spec

    def __call__(self) -> TextTokenizer:
        return load_tokenizer(self.spec)


def _factory(spec: str | TextTokenizer, tok: TextTokenizer) -> Any:
    run_dir = getattr(tok, "run_dir", None)
    if run_dir is not None:
        return RunTokenizerFactory(Path(run_dir))
    if isinstance(spec, str):
        return SpecTokenizerFactory(split_label(spec)[1])
    raise TokbenchError("--engine evaluates tokenizers given as specs or run folders")


def evaluate_text_on_engine(tokenizers: Any, corpora: Any = None, parallel: Any = None, *, split: str | None = None,
                            reference: str | int | None = None, alpha: float = 2.5, fast: bool = True,
                            max_lines: int | None = None, pivot: str | None = None, min_entries: int = 1,
                            errors: str = "strict", runs_dir: str | Path | None = None, name: str | None = None,
                            verify_lines: int = 2000, engine: str | None = None, scheduler: str | None = None,
                            workers: int | None = None, **_: Any) -> Any:
    """`evaluate_text` with the corpus metrics computed on the engine (same rows, same figures)."""
    from tokbench.text.evaluate import DEFAULT_CORPORA, DEFAULT_PARALLEL, evaluate_text, training_overlap

    cluster.check_engine(engine or "dask")
    if max_lines is not None:
        raise TokbenchError("--max-lines keeps a corpus's first lines, which shards cannot know: drop it with --engine")
    if corpora is None and parallel is None:
        corpora = [c for c in DEFAULT_CORPORA if c.split(":", 1)[1] in builtin_names()]
        parallel = list(DEFAULT_PARALLEL)
    corpora, parallel = list(corpora or []), list(parallel or [])
    plans = {}
    for spec in corpora:
        sp = split or evaluation_split(spec)
        dataset = f"{spec}/{sp}" if sp != "all" else spec
        plans[dataset] = (spec, sp, shards.expand_inputs([spec], sp))
    report = evaluate_text(tokenizers, corpora=[], parallel=parallel, split=split, reference=reference, alpha=alpha,
                           fast=fast and bool(parallel), pivot=pivot, min_entries=min_entries, errors=errors,
                           verify_lines=verify_lines)
    toks = [t if isinstance(t, TextTokenizer) else load_tokenizer(t) for t in tokenizers]
    names = [info["name"] for info in report.tokenizers]
    ref = _reference_index(reference, names)
    factories = [_factory(spec, tok) for spec, tok in zip(tokenizers, toks)]
    with cluster.open_cluster(engine or "dask", scheduler, workers) as client:
        n_workers = len(client.scheduler_info()["workers"])
        for dataset, (spec, sp, files) in plans.items():
            plan = shards.plan_shards(files, shards.auto_shard_bytes(sum(f.size for f in files), n_workers))
            sums = sharded_eval.sharded_corpus_sums(client, plan, factories, errors=errors,
                                                    description=f"evaluating {dataset}")
            if not sums or sums[0].lines == 0:
                raise TokbenchError(f"corpus {spec} ({sp}) is empty")
            prov = {"command": "eval-text", "split": sp, "lines": sums[0].lines, "bytes": sums[0].bytes,
                    "engine": engine or "dask"}
            report.corpora.append({"dataset": dataset, **prov})
            if not any(shards.is_url(f.url) for f in files):
                corpus = Corpus(spec, split=sp, errors=errors)
                for tok, nm in zip(toks, names):
                    seen = training_overlap(tok, corpus)
                    if seen:
                        report.warnings.append(f"{nm} was trained on lines of {dataset} ({', '.join(seen)}): these "
                                               "figures are not held-out")
            lengths = []
            for tok, nm, part in zip(toks, names, sums):
                stats = sharded_eval.corpus_from_sums(part, tok, alpha)
                lengths.append(stats.get("tokens", 0))
                for metric, value in stats.items():
                    report.add(nm, dataset, metric, value, **prov)
            if ref is not None and lengths[ref] > 0:
                for nm, n in zip(names, lengths):
                    report.add(nm, dataset, "normalized_sequence_length",
                               rate.normalized_sequence_length(n, lengths[ref]), note=f"reference: {names[ref]}",
                               **prov)
    for info in report.tokenizers:
        info["fast_encoder"] = {"used": False, "reason": ENGINE_NOTE}
    report.unavailable = [u for u in report.unavailable if u.get("metric") != "fast_encoder"]
    if ref is not None:
        report.unavailable = [u for u in report.unavailable if u.get("metric") != "normalized_sequence_length"]
    if runs_dir is not None:
        config = {"tokenizers": [str(t) if not isinstance(t, TextTokenizer) else str(t.path) for t in tokenizers],
                  "corpora": corpora, "parallel": parallel, "split": split, "reference": names[ref] if ref is not None
                  else None, "alpha": alpha, "fast": False, "pivot": pivot, "min_entries": min_entries,
                  "engine": {"name": engine or "dask", "scheduler": scheduler, "workers": workers}}
        data = [{"source": spec, "path": f.url, "bytes": f.size, "split": f.line_split}
                for spec, _, files in plans.values() for f in files]
        with Run.create(runs_dir, "text-eval", config, name=name, data=data,
                        packages=("tokenizers", "sentencepiece", "tiktoken", "dask", "distributed")) as run:
            report.run_dir = str(run.path)
            for dataset, values in report.metrics_json().items():
                run.update_metrics(dataset, values)
            run.write_report(report.to_dict())
    return report


def _reference_index(reference: str | int | None, names: list[str]) -> int | None:
    from tokbench.text.evaluate import _resolve_reference

    return _resolve_reference(reference, names)
