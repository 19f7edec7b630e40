"""Distributed counting on an existing engine (Dask distributed): map over byte-range shards, merge counts,
Parquet out. Modality-neutral: what is counted or measured comes in as picklable callables from the caller.

- `shards`: inputs (local paths, `builtin:`, fsspec URLs) cut into line-aligned byte ranges that workers read.
- `cluster`: a local cluster (127.0.0.1) or a running one by address; `map_shards` with progress and retries.
- `counting`: `PretokenCounter` (what HF's BpeTrainer counts) and `count_corpus` (resumable, shard by shard).
- `table`: count tables as Parquet with the pipeline that produced them.
- `bpe_learner`: BPE merges from weighted counts, reproducing HF's BpeTrainer.
- `evaluate`: additive evaluation sums per shard (train-bpe's held-out report, eval-text's corpus metrics).

Nothing here imports dask or pyarrow at module level: `tokbench train-bpe` without `--engine` never loads them.
"""
