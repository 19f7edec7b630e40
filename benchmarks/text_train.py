"""Training time: tokbench `train_bpe` against bare HF `tokenizers` and bare sentencepiece, same corpus, same
vocabulary size, measured in one run. Target: tokbench's overhead over bare HF under 10%.

    .venv/bin/python benchmarks/text_train.py [--vocab-size 32000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOKBENCH_PROGRESS", "0")

from _results import machine, write_section  # noqa: E402

from tokbench.sources.text import builtin_path  # noqa: E402
from tokbench.text.bpe import BPESpec, build_hf_tokenizer, hf_trainer, train_bpe  # noqa: E402


def bare_hf(files: list[str], vocab_size: int) -> float:
    """The same pipeline tokbench builds (GPT-4 split + byte-level), trained directly by HF."""
    spec = BPESpec(vocab_size=vocab_size)
    tok = build_hf_tokenizer(spec)
    start = time.perf_counter()
    tok.train(files, hf_trainer(spec))
    with tempfile.TemporaryDirectory() as tmp:
        tok.save(os.path.join(tmp, "tokenizer.json"))
    return time.perf_counter() - start


def bare_spm(files: list[str], vocab_size: int) -> float:
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        spm.SentencePieceTrainer.train(input=files, model_prefix=os.path.join(tmp, "m"), vocab_size=vocab_size,
                                       model_type="bpe", byte_fallback=True, normalization_rule_name="identity",
                                       remove_extra_whitespaces=False, add_dummy_prefix=False, num_threads=2,
                                       minloglevel=2)
        return time.perf_counter() - start


def ours(vocab_size: int) -> tuple[float, float]:
    """(end-to-end seconds of train_bpe without evaluation, its recorded training seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train_bpe("builtin:english", vocab_size=vocab_size, runs_dir=tmp, evaluate=False)
        total = time.perf_counter() - start
        return total, result.metrics["training"]["train_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="record the figures in benchmarks/RESULTS.md")
    args = parser.parse_args()
    files = [str(builtin_path("english", "train"))]
    size_mb = sum(Path(f).stat().st_size for f in files) / 1e6
    runs: dict[str, list[float]] = {"hf": [], "ours_total": [], "ours_train": [], "spm": []}
    ours(1000)  # warm the built-in cache and imports
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits every contender alike
        runs["hf"].append(bare_hf(files, args.vocab_size))
        total, train = ours(args.vocab_size)
        runs["ours_total"].append(total)
        runs["ours_train"].append(train)
        runs["spm"].append(bare_spm(files, args.vocab_size))
    med = {k: statistics.median(v) for k, v in runs.items()}
    rows = [
        ("bare HF tokenizers", med["hf"], 1.0),
        ("tokbench train_bpe: training step", med["ours_train"], med["ours_train"] / med["hf"]),
        ("tokbench train_bpe: end to end (run folder, validation, fingerprint)", med["ours_total"],
         med["ours_total"] / med["hf"]),
        ("bare sentencepiece BPE", med["spm"], med["spm"] / med["hf"]),
    ]
    lines = [f"builtin:english train split ({size_mb:.2f} MB), vocab {args.vocab_size:,}, median of "
             f"{args.repeats} interleaved runs; {machine()}.", "",
             "| trainer | seconds | ratio to bare HF |", "|---|---:|---:|"]
    lines += [f"| {name} | {sec:.2f} | {ratio:.2f}× |" for name, sec, ratio in rows]
    overhead = (med["ours_total"] / med["hf"] - 1) * 100
    lines += ["", f"tokbench end-to-end overhead over bare HF: {overhead:+.1f}% (target: under +10%).",
              "", "Command: `.venv/bin/python benchmarks/text_train.py`"]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section("Text training (issue 2)", body)


if __name__ == "__main__":
    main()
