"""`tokbench train-bpe`: train a BPE tokenizer (plain or a variant) into a run folder and report it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import (DEFAULT_RUNS_DIR, CorpusOpt, ErrorsOpt, JsonOpt, NameOpt, RunsDirOpt, emit,
                                 metrics_table, stderr, stdout)
from tokbench.errors import TokbenchError


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise TokbenchError(f"--option {pair!r}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        if not key.strip():
            raise TokbenchError(f"--option {pair!r}: empty KEY")
        out[key.strip().replace("-", "_")] = _coerce(value)
    return out


def _coerce(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


@app.command("train-bpe")
def train_bpe_command(
    corpus: CorpusOpt = None,
    vocab_size: Annotated[Optional[int], typer.Option("--vocab-size", "-v", help="Final vocabulary size, special tokens "
                          "included (default 8192; with --resume, the recorded size).")] = None,
    variant: Annotated[str, typer.Option(help="plain | domain (KL3M-style) | char (OCR) | supertoken | triad (numbers).")] = "plain",
    backend: Annotated[str, typer.Option(help="hf (HF tokenizers, byte-level) or spm (sentencepiece).")] = "hf",
    model_type: Annotated[str, typer.Option("--model-type", help="With --backend spm: bpe or unigram.")] = "bpe",
    min_frequency: Annotated[int, typer.Option("--min-frequency", help="Minimum pair count for a merge.")] = 2,
    special: Annotated[Optional[list[str]], typer.Option("--special", help="Special token, repeatable "
                       "(default: <|endoftext|> and <|pad|>).")] = None,
    pretokenizer: Annotated[str, typer.Option("--pretokenizer", help="Split regex preset: gpt2, gpt4, llama3 or whitespace.")] = "gpt4",
    normalize: Annotated[str, typer.Option("--normalize", help="Unicode normalization: none, nfc or nfkc.")] = "none",
    lowercase: Annotated[bool, typer.Option("--lowercase", help="Case-fold before training and encoding.")] = False,
    split_digits: Annotated[bool, typer.Option("--split-digits", help="Split numbers into single digits.")] = False,
    max_token_length: Annotated[Optional[int], typer.Option("--max-token-length", help="Longest token, in characters (default: no limit for hf, sentencepiece's 16 for spm, 3 or 4 for --variant char).")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="Training threads (default: all cores).")] = None,
    terms: Annotated[Optional[Path], typer.Option("--terms", help="domain: file of terms to keep whole, one a line.")] = None,
    uncased: Annotated[bool, typer.Option("--uncased", help="domain: lowercase (KL3M is cased by default).")] = False,
    pad_pow2: Annotated[bool, typer.Option("--pad-pow2", help="domain: pad the vocabulary to a power of two.")] = False,
    recipe: Annotated[Optional[str], typer.Option("--recipe", help="supertoken: superbpe or random-interval (default superbpe).")] = None,
    transition: Annotated[Optional[int], typer.Option("--transition", help="supertoken (superbpe): vocab size t where stage 2 starts (default 0.9 × --vocab-size).")] = None,
    max_words: Annotated[Optional[int], typer.Option("--max-words", help="supertoken: most words in one supertoken (default 4).")] = None,
    triad_form: Annotated[Optional[str], typer.Option("--triad-form", help="triad: vocab (one token per triad+suffix) or suffix (triads + marker tokens) (default vocab).")] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-o", help="Extra variant option KEY=VALUE, repeatable.")] = None,
    errors: ErrorsOpt = "strict",
    no_eval: Annotated[bool, typer.Option("--no-eval", help="Skip the held-out evaluation.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Restart an interrupted run folder in place with its recorded config.")] = None,
    engine: Annotated[Optional[str], typer.Option("--engine", help="Count on a distributed engine (dask): a local "
                      "cluster, or the one at --scheduler. Plain and supertoken (superbpe) only.")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="--engine dask: address of a running "
                         "cluster (tcp://host:8786); its workers must reach the corpus paths or URLs.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="--engine dask: local cluster size "
                       "(default: one per core).")] = None,
    from_counts: Annotated[Optional[Path], typer.Option("--from-counts", help="Learn from the count tables of "
                           "an --engine run (no corpus read; its normalizer and pre-tokenizer), e.g. at another --vocab-size.")] = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    name: NameOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a BPE tokenizer and report it on the corpus's held-out split.

    With no **--corpus** it trains on **builtin:english**. The run folder's
    **artifacts/tokenizer.json** loads in plain HF tokenizers; **--backend spm** writes
    **tokenizer.model** / **.vocab**.
    """
    from tokbench import train_bpe

    options = _parse_options(option or [])
    named = {"terms": str(terms) if terms else None, "uncased": uncased or None, "pad_pow2": pad_pow2 or None,
             "recipe": recipe, "transition": transition, "max_words": max_words, "triad_form": triad_form}
    options.update({k: v for k, v in named.items() if v is not None})
    result = train_bpe(corpus, vocab_size=vocab_size, variant=variant, backend=backend, model_type=model_type,
                       min_frequency=min_frequency, special_tokens=special, pretokenizer=pretokenizer,
                       normalization=normalize, lowercase=lowercase, split_digits=split_digits,
                       max_token_length=max_token_length, threads=threads, errors=errors, runs_dir=runs_dir,
                       name=name, evaluate=not no_eval, options=options, resume=resume,
                       **({"engine": engine, "scheduler": scheduler, "workers": workers, "from_counts": from_counts}
                          if engine or scheduler or workers or from_counts else {}))

    if result.vocab.get("warning"):
        stderr.print(f"warning: {result.vocab['warning']}", markup=False, highlight=False, soft_wrap=True)

    def render(payload: dict[str, Any]) -> None:
        v = payload["vocab"]
        added = v.get("added_by_variant", 0)
        size = f"vocab {v['reached']:,} reached of {v['requested']:,} requested" if v["reached"] != v["requested"] \
            else f"vocab {v['reached']:,}"
        if added:
            size = (f"vocab {v['reached']:,} ({v['reached'] - added:,} BPE of {v['requested']:,} requested + "
                    f"{added:,} added by the variant)")
        kind = "sentencepiece unigram" if backend == "spm" and model_type == "unigram" else f"{variant} BPE"
        stdout.print(metrics_table(f"{kind}, {size}: {payload['run_dir']}", payload["metrics"]))
        for note in payload.get("notes", []):
            stdout.print(f"note: {note}")
        stdout.print(f"tokenizer: [bold]{payload['tokenizer']}[/bold]")

    emit(result.to_dict(), json_out, render)
