"""Plain BPE training (HF `tokenizers` byte-level backend, or sentencepiece), and the `train_bpe` entry point
that every variant goes through.

`train_bpe` owns the run folder, the data fingerprint and the held-out evaluation; a variant only turns a
`BPESpec` and a training corpus into artifacts (see `VARIANTS`). The plain variant lives here, and variants
reuse `build_hf_tokenizer` / `hf_trainer` instead of copying them.
"""

from __future__ import annotations

import importlib
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.runs import Run, atomic_write_json, read_json
from tokbench.sources.text import Corpus, batched
from tokbench.text.patterns import SPLIT_PATTERNS
from tokbench.text.tokenizer import MANIFEST, load_run_tokenizer

DEFAULT_CORPUS = "builtin:english"
DEFAULT_SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>")
BACKENDS = ("hf", "spm")
SPM_MODEL_TYPES = ("bpe", "unigram")
NORMALIZATIONS = ("none", "nfc", "nfkc")
BYTE_ALPHABET = 256
#: HF's BpeTrainer keeps tokens strictly shorter than its `max_token_length` (tokenizers 0.23: a limit of 3
#: yields 2-character tokens), so it is given one more than the longest token wanted; tests check the result.
HF_MAX_LENGTH_OFFSET = 1

#: variant name -> "module:function(spec, corpus, artifacts, options) -> VariantOutcome"
VARIANTS = {
    "plain": "tokbench.text.bpe:train_plain",
    "domain": "tokbench.text.domain:train_domain",
    "char": "tokbench.text.domain:train_char",
    "supertoken": "tokbench.text.supertoken:train_supertoken",
    "triad": "tokbench.text.triad:train_triad",
}

#: variant name -> "module:function(spec, options)" that rejects bad options before any run folder is made.
VARIANT_CHECKS = {
    "supertoken": "tokbench.text.supertoken:check_options",
    "triad": "tokbench.text.triad:check_options",
}


@dataclass
class BPESpec:
    """Everything that defines a BPE training, recorded in run.json as the run's config."""

    vocab_size: int = 8192
    variant: str = "plain"
    backend: str = "hf"
    model_type: str = "bpe"
    min_frequency: int = 2
    special_tokens: list[str] = field(default_factory=lambda: list(DEFAULT_SPECIAL_TOKENS))
    pretokenizer: str = "gpt4"
    normalization: str = "none"
    lowercase: bool = False
    split_digits: bool = False
    max_token_length: int | None = None
    threads: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.variant not in VARIANTS:
            raise TokbenchError(f"unknown variant {self.variant!r} (expected one of {', '.join(VARIANTS)})")
        if self.backend not in BACKENDS:
            raise TokbenchError(f"unknown backend {self.backend!r} (expected hf or spm)")
        if self.model_type not in SPM_MODEL_TYPES:
            raise TokbenchError(f"unknown model type {self.model_type!r} (expected bpe or unigram)")
        if self.model_type == "unigram" and self.backend != "spm":
            raise TokbenchError("--model-type unigram needs --backend spm")
        if self.normalization not in NORMALIZATIONS:
            raise TokbenchError(f"unknown normalization {self.normalization!r} (expected none, nfc or nfkc)")
        if self.pretokenizer not in SPLIT_PATTERNS:
            raise TokbenchError(f"unknown pre-tokenizer {self.pretokenizer!r} (expected {', '.join(SPLIT_PATTERNS)})")
        if self.min_frequency < 1:
            raise TokbenchError("--min-frequency must be at least 1")
        if self.max_token_length is not None and self.max_token_length < 1:
            raise TokbenchError("--max-token-length must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise TokbenchError("--threads must be at least 1")
        if self.backend == "hf" and self.variant == "plain":
            floor = BYTE_ALPHABET + len(self.special_tokens)
            if self.vocab_size < floor:
                raise TokbenchError(f"--vocab-size {self.vocab_size} is below the byte alphabet: byte-level BPE "
                                    f"needs at least {floor} (256 bytes + {len(self.special_tokens)} special tokens)")
        if self.vocab_size < 2:
            raise TokbenchError("--vocab-size must be at least 2")
        if self.variant != "plain" and self.backend != "hf":
            raise TokbenchError(f"--variant {self.variant} trains with --backend hf")
        terms = self.options.get("terms")
        if terms is not None and not Path(terms).is_file():
            raise TokbenchError(f"--terms {terms}: no such file")


@dataclass
class VariantOutcome:
    """What a variant leaves behind: the manifest to load its tokenizer, and metrics of its own."""

    manifest: dict[str, Any]
    extra_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class TrainResult:
    run_dir: Path
    tokenizer_path: Path
    metrics: dict[str, dict[str, Any]]
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "tokenizer": str(self.tokenizer_path), "config": self.config,
                "metrics": self.metrics, "notes": self.notes}


# ---------------------------------------------------------------------------------------------- HF backend
def _set_threads(threads: int | None) -> None:
    if threads:
        os.environ["RAYON_NUM_THREADS"] = str(threads)  # read when the HF thread pool starts


def build_hf_tokenizer(spec: BPESpec, pattern: str | None = None):
    """An untrained byte-level BPE pipeline: normalizer, regex split (+ digit split), byte-level mapping."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    tok = Tokenizer(models.BPE(byte_fallback=False))
    norms = []
    if spec.normalization == "nfc":
        norms.append(normalizers.NFC())
    elif spec.normalization == "nfkc":
        norms.append(normalizers.NFKC())
    if spec.lowercase:
        norms.append(normalizers.Lowercase())
    if norms:
        tok.normalizer = normalizers.Sequence(norms)
    pre = []
    if spec.split_digits:
        pre.append(pre_tokenizers.Digits(individual_digits=True))
    pre.append(pre_tokenizers.Split(Regex(pattern or SPLIT_PATTERNS[spec.pretokenizer]), behavior="isolated"))
    pre.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(pre)
    tok.decoder = decoders.ByteLevel()
    return tok


def hf_trainer(spec: BPESpec, vocab_size: int | None = None, extra_special: list[str] | None = None):
    from tokenizers import pre_tokenizers, trainers

    from tokbench import progress

    kwargs: dict[str, Any] = {}
    if spec.max_token_length:
        kwargs["max_token_length"] = spec.max_token_length + HF_MAX_LENGTH_OFFSET
    return trainers.BpeTrainer(
        vocab_size=vocab_size or spec.vocab_size,
        min_frequency=spec.min_frequency,
        special_tokens=list(spec.special_tokens) + list(extra_special or []),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=progress.enabled(),
        **kwargs,
    )


def train_hf(tokenizer, trainer, corpus: Corpus) -> None:
    """Train an HF pipeline on a corpus: straight from files when they need no filtering, else streamed."""
    direct = corpus.errors == "strict" and all(f.line_split == "all" for f in corpus.files)
    if direct:  # HF reads the files itself (train_bpe has already validated their UTF-8)
        tokenizer.train([str(f.path) for f in corpus.files], trainer)
    else:
        tokenizer.train_from_iterator(batched(corpus.lines(), 1000), trainer)


def train_plain(spec: BPESpec, corpus: Corpus, artifacts: Path, options: dict[str, Any]) -> VariantOutcome:
    """Plain BPE: byte-level HF BPE, or sentencepiece BPE/unigram."""
    if spec.backend == "spm":
        return _train_spm(spec, corpus, artifacts)
    _set_threads(spec.threads)
    tok = build_hf_tokenizer(spec)
    train_hf(tok, hf_trainer(spec), corpus)
    tok.save(str(artifacts / "tokenizer.json"))
    return VariantOutcome(manifest={"format": "hf", "file": "tokenizer.json"})


# ---------------------------------------------------------------------------------------------- sentencepiece
def _train_spm(spec: BPESpec, corpus: Corpus, artifacts: Path) -> VariantOutcome:
    import sentencepiece as spm

    prefix = artifacts / "tokenizer"
    norm = {"none": "identity", "nfc": "identity", "nfkc": "nfkc"}[spec.normalization]
    if spec.lowercase:
        norm = "nfkc_cf" if spec.normalization == "nfkc" else "identity"
        if spec.normalization != "nfkc":
            raise TokbenchError("--lowercase with --backend spm needs --normalize nfkc (sentencepiece's nfkc_cf)")

    def sentences() -> Iterator[str]:
        for line in corpus.lines():
            line = line.rstrip("\n")
            if line:
                yield line

    kwargs: dict[str, Any] = dict(
        sentence_iterator=sentences(), model_prefix=str(prefix), vocab_size=spec.vocab_size,
        model_type=spec.model_type, byte_fallback=True, normalization_rule_name=norm,
        remove_extra_whitespaces=False, add_dummy_prefix=False, split_digits=spec.split_digits,
        character_coverage=0.9995, user_defined_symbols=list(spec.special_tokens), num_threads=spec.threads or 2,
        allow_whitespace_only_pieces=True, minloglevel=2, input_sentence_size=2_000_000, shuffle_input_sentence=True,
        train_extremely_large_corpus=False,
    )
    if spec.max_token_length:
        kwargs["max_sentencepiece_length"] = spec.max_token_length
    try:
        spm.SentencePieceTrainer.train(**kwargs)
    except RuntimeError as exc:
        raise TokbenchError(f"sentencepiece training failed: {str(exc).splitlines()[0][:300]}") from None
    return VariantOutcome(manifest={"format": "spm", "file": "tokenizer.model"})


# ---------------------------------------------------------------------------------------------- entry point
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _resolve(target: str):
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def train_bpe(corpus: str | list[str] | None = None, *, vocab_size: int = 8192, variant: str = "plain",
              backend: str = "hf", model_type: str = "bpe", min_frequency: int = 2,
              special_tokens: list[str] | tuple[str, ...] | None = None, pretokenizer: str = "gpt4",
              normalization: str = "none", lowercase: bool = False, split_digits: bool = False,
              max_token_length: int | None = None, threads: int | None = None, errors: str = "strict",
              runs_dir: str | Path = "runs", name: str | None = None, evaluate: bool = True,
              options: dict[str, Any] | None = None, resume: str | Path | None = None) -> TrainResult:
    """Train a BPE tokenizer (any variant) into a new run folder and evaluate it on the held-out split.

    `resume` names an interrupted run folder: its recorded config and corpus are used again and the
    training restarts in place (tokenizer training is one pass; it has no mid-way state to continue).
    """
    if resume is not None:
        info = read_json(Path(resume) / "run.json")
        if info.get("kind") != "text-bpe":
            raise TokbenchError(f"{resume}: not a text-bpe run")
        spec = BPESpec(**info["config"]["spec"])
        corpus_specs = info["config"]["corpus"]
        errors = info["config"].get("errors", errors)
        evaluate = info["config"].get("evaluate", evaluate)
    else:
        spec = BPESpec(vocab_size=vocab_size, variant=variant, backend=backend, model_type=model_type,
                       min_frequency=min_frequency,
                       special_tokens=list(DEFAULT_SPECIAL_TOKENS if special_tokens is None else special_tokens),
                       pretokenizer=pretokenizer, normalization=normalization, lowercase=lowercase,
                       split_digits=split_digits, max_token_length=max_token_length, threads=threads,
                       options=dict(options or {}))
        corpus_specs = [corpus] if isinstance(corpus, str) else list(corpus or [DEFAULT_CORPUS])
    spec.validate()
    train_corpus = Corpus(corpus_specs, split="train", errors=errors)
    train_corpus.validate()
    heldout = Corpus(corpus_specs, split="heldout", errors=errors) if evaluate else None
    trainer = _resolve(VARIANTS[spec.variant])
    if spec.variant in VARIANT_CHECKS:
        _resolve(VARIANT_CHECKS[spec.variant])(spec, spec.options)
    config = {"spec": asdict(spec), "corpus": corpus_specs, "errors": errors, "evaluate": evaluate}
    packages = ("tokenizers", "sentencepiece")
    if resume is not None:
        run = Run.resume(resume)
    else:
        run = Run.create(runs_dir, "text-bpe", config, name=name, data=train_corpus.fingerprint(), packages=packages)
    with run:
        start = time.perf_counter()
        outcome = trainer(spec, train_corpus, run.artifacts, spec.options)
        seconds = time.perf_counter() - start
        manifest = {**outcome.manifest, "variant": spec.variant, "pattern": spec.pretokenizer}
        atomic_write_json(run.artifacts / MANIFEST, manifest)
        tokenizer_path = run.artifacts / manifest["file"]
        metrics = run.update_metrics("training", {"train_seconds": round(seconds, 3),
                                                  "peak_rss_mb": round(peak_rss_mb(), 1)})
        if heldout is not None:
            from tokbench.text.evaluate import basic_metrics

            tok = load_run_tokenizer(run.path)
            dataset = f"{heldout.name}/heldout"
            metrics = run.update_metrics(dataset, basic_metrics(tok, heldout.lines()))
        for dataset, values in outcome.extra_metrics.items():
            metrics = run.update_metrics(dataset, values)
        if outcome.notes:
            run.update_info(notes=outcome.notes)
    return TrainResult(run_dir=run.path, tokenizer_path=tokenizer_path, metrics=metrics, config=config,
                       notes=outcome.notes)

