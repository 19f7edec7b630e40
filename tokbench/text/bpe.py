"""Plain BPE training (HF `tokenizers` byte-level backend, or sentencepiece), and the `train_bpe` entry point
that every variant goes through.

`train_bpe` owns the run folder, the data fingerprint and the held-out evaluation; a variant only turns a
`BPESpec` and a training corpus into artifacts (see `VARIANTS`). The plain variant lives here, and variants
reuse `build_hf_tokenizer` / `hf_trainer` instead of copying them.
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tokbench.errors import TokbenchError
from tokbench.runs import _NAME_RE, Run, atomic_write_bytes, atomic_write_json, read_json, write_artifact
from tokbench.sources.text import LONG_LINE_CHARS, Corpus, batched
from tokbench.text.patterns import SPLIT_PATTERNS
from tokbench.text.tokenizer import MANIFEST, load_run_tokenizer

T = TypeVar("T")
DEFAULT_CORPUS = "builtin:english"
DEFAULT_VOCAB_SIZE = 8192
DEFAULT_SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>")
BACKENDS = ("hf", "spm")
SPM_MODEL_TYPES = ("bpe", "unigram")
NORMALIZATIONS = ("none", "nfc", "nfkc")
BYTE_ALPHABET = 256
#: The largest vocabulary tokbench asks a backend for (2^24). HF's trainer reserves memory for the requested
#: size up front (10^9 tried to allocate ~70 GB and aborted the process), so sizes are checked before training.
MAX_VOCAB_SIZE = 1 << 24
#: Bounds of the other integer settings, so none overflows the native trainers' integer types.
MAX_COUNT = 2**31 - 1
MAX_THREADS = 4096
#: sentencepiece's own limit on a piece's length (its trainer refuses more).
SPM_MAX_PIECE_LENGTH = 512
#: sentencepiece adds <unk>, <s> and </s> to every model.
SPM_CONTROL_PIECES = 3
#: The most characters one character can become under NFKC (U+FDFA becomes 18), bounding how much
#: normalization (or a variant's rewrite) can grow the training text.
MAX_TEXT_GROWTH = 18
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

#: variant name -> the `--option` keys it reads (supertoken checks its own in `check_options`); any other key
#: is refused rather than silently ignored. Named CLI options (--recipe, --terms, ...) arrive as these keys.
VARIANT_OPTIONS = {
    "plain": frozenset(),
    "domain": frozenset({"terms", "uncased", "nfkc", "reference", "max_terms", "term_min_count", "pad_pow2",
                         "compare"}),
    "char": frozenset({"ocr_rate", "ocr_seed", "ocr_chars", "compare"}),
    "triad": frozenset({"triad_form", "numbers", "compare"}),
}
#: option key -> the CLI flag that sets it, for error messages
_OPTION_FLAGS = {"terms": "--terms", "uncased": "--uncased", "pad_pow2": "--pad-pow2", "recipe": "--recipe",
                 "transition": "--transition", "max_words": "--max-words", "triad_form": "--triad-form"}

#: variant name -> "module:function(spec, options)" that rejects bad options before any run folder is made.
VARIANT_CHECKS = {
    "supertoken": "tokbench.text.supertoken:check_options",
    "triad": "tokbench.text.triad:check_options",
    "domain": "tokbench.text.domain:check_domain_options",
}
#: variant name -> "module:function(spec, train_corpus)" that rejects a size the training data cannot fit
VARIANT_DATA_CHECKS = {"char": "tokbench.text.domain:check_char_alphabet"}


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
        if not 1 <= self.min_frequency <= MAX_COUNT:
            raise TokbenchError(f"--min-frequency must be between 1 and {MAX_COUNT:,}")
        if self.max_token_length is not None and not 1 <= self.max_token_length <= MAX_COUNT:
            raise TokbenchError(f"--max-token-length must be between 1 and {MAX_COUNT:,}")
        if self.backend == "spm" and (self.max_token_length or 0) > SPM_MAX_PIECE_LENGTH:
            raise TokbenchError(f"--max-token-length {self.max_token_length:,}: sentencepiece allows at most "
                                f"{SPM_MAX_PIECE_LENGTH}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise TokbenchError(f"--threads must be between 1 and {MAX_THREADS:,}")
        if self.backend == "hf" and self.variant == "plain":
            floor = BYTE_ALPHABET + len(self.special_tokens)
            if self.vocab_size < floor:
                raise TokbenchError(f"--vocab-size {self.vocab_size} is below the byte alphabet: byte-level BPE "
                                    f"needs at least {floor} (256 bytes + {len(self.special_tokens)} special tokens)")
        if self.vocab_size < 2:
            raise TokbenchError("--vocab-size must be at least 2")
        if self.vocab_size > MAX_VOCAB_SIZE:
            raise TokbenchError(f"--vocab-size {self.vocab_size:,} is more than tokbench trains "
                                f"(at most {MAX_VOCAB_SIZE:,} = 2^24)")
        if self.variant != "plain" and self.backend != "hf":
            raise TokbenchError(f"--variant {self.variant} trains with --backend hf")
        for token in self.special_tokens:
            if not isinstance(token, str) or not token.strip():
                raise TokbenchError(f"--special {token!r}: a special token must be non-empty text")
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise TokbenchError("--special: the same special token is given twice")
        known = VARIANT_OPTIONS.get(self.variant)
        unknown = sorted(set(self.options) - known) if known is not None else []
        if unknown:
            flag = _OPTION_FLAGS.get(unknown[0], f"-o {unknown[0]}=...")
            raise TokbenchError(f"{flag} does not apply to --variant {self.variant} (its options: "
                                f"{', '.join(sorted(known)) or 'none'})")
        terms = self.options.get("terms")
        if terms is not None and Path(terms).is_dir():
            raise TokbenchError(f"--terms {terms}: is a folder (give the terms file, one term a line)")
        if terms is not None and not Path(terms).is_file():
            raise TokbenchError(f"--terms {terms}: no such file")
        if terms is not None:
            _resolve("tokbench.text.domain:read_terms")(terms)  # readable UTF-8, before any run folder exists


def vocab_capacity(spec: BPESpec, train_bytes: int) -> int:
    """An upper bound on the vocabulary a corpus of `train_bytes` training bytes can fill.

    The training text starts as at most `train_bytes` tokens (× `MAX_TEXT_GROWTH` when normalization, case
    folding or a variant rewrites it). HF: every merge joins a pair seen at least `min_frequency` times and
    removes that many tokens from the text, so there are at most `units // min_frequency` merges on top of
    the 256 bytes and the special tokens. sentencepiece: at most one piece per character plus one per merge,
    plus its byte-fallback and control pieces. Sizes above the bound cannot be reached; checking them first
    keeps a typo like `-v 1000000000` from reaching the trainer."""
    rewritten = spec.normalization != "none" or spec.lowercase or spec.variant != "plain"
    units = train_bytes * (MAX_TEXT_GROWTH if rewritten else 1)
    base = BYTE_ALPHABET + len(spec.special_tokens)
    if spec.backend == "spm":
        return base + SPM_CONTROL_PIECES + 2 * units
    return base + units // spec.min_frequency


def check_vocab_capacity(spec: BPESpec, train_bytes: int, corpus_name: str) -> None:
    """Refuse a vocabulary size the training corpus cannot fill (see `vocab_capacity`), in one line."""
    cap = vocab_capacity(spec, train_bytes)
    if spec.vocab_size > cap:
        raise TokbenchError(f"--vocab-size {spec.vocab_size:,} is more than {corpus_name} can fill: its "
                            f"{train_bytes:,} training bytes make at most {cap:,} tokens; choose a smaller size "
                            "or a larger corpus")


@dataclass
class VariantOutcome:
    """What a variant leaves behind: the manifest to load its tokenizer, and metrics of its own."""

    manifest: dict[str, Any]
    extra_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    vocab_added: int = 0  # tokens a variant adds on top of --vocab-size by design (triad)


@dataclass
class TrainResult:
    run_dir: Path
    tokenizer_path: Path
    metrics: dict[str, dict[str, Any]]
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    vocab: dict[str, Any] = field(default_factory=dict)  # requested / reached (see evaluate.vocabulary_record)

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "tokenizer": str(self.tokenizer_path), "config": self.config,
                "vocab": self.vocab, "metrics": self.metrics, "notes": self.notes}


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
    """Train an HF pipeline on a corpus: straight from files when they need no filtering and hold no line
    longer than `LONG_LINE_CHARS`, else streamed with long lines cut into pieces (`Corpus.bounded_lines`):
    HF holds per-split state for a whole line, so one 50 MB line peaked at 4 GB read directly."""
    direct = (corpus.errors == "strict" and all(f.line_split == "all" for f in corpus.files)
              and not corpus.has_long_lines())
    if direct:  # HF reads the files itself (train_bpe has already validated their UTF-8)
        run_interruptibly(lambda stop: tokenizer.train([str(f.path) for f in corpus.files], trainer))
    else:
        run_interruptibly(lambda stop: tokenizer.train_from_iterator(
            until_stopped(batched(corpus.bounded_lines(), 256), stop), trainer))


class _Stopped(Exception):
    """Raised into a native trainer's input iterator after Ctrl-C, so it stops reading."""


def until_stopped(items: Iterable[T], stop: threading.Event) -> Iterator[T]:
    """`items`, ending with `_Stopped` as soon as `stop` is set."""
    for item in items:
        if stop.is_set():
            raise _Stopped
        yield item


def run_interruptibly(work: Callable[[threading.Event], Any]) -> Any:
    """Run native training (HF, sentencepiece) in a worker thread and wait for it here.

    Native trainers hold the main thread for their whole run, and Python handles Ctrl-C only on the main
    thread between bytecodes, so a long training ignored Ctrl-C until it ended (11 s on a 50 MB line). Here
    the main thread only waits: Ctrl-C raises KeyboardInterrupt at once (the run is marked interrupted), the
    worker's input iterator is told to stop (`until_stopped`), and the console script exits without waiting
    for the abandoned native work (`tokbench.cli.run`)."""
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work(stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="tokbench-train", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def train_plain(spec: BPESpec, corpus: Corpus, artifacts: Path, options: dict[str, Any]) -> VariantOutcome:
    """Plain BPE: byte-level HF BPE, or sentencepiece BPE/unigram."""
    if spec.backend == "spm":
        return _train_spm(spec, corpus, artifacts)
    _set_threads(spec.threads)
    tok = build_hf_tokenizer(spec)
    train_hf(tok, hf_trainer(spec), corpus)
    write_artifact(artifacts / "tokenizer.json", tok.save)  # temp + fsync + rename: never a torn file
    return VariantOutcome(manifest={"format": "hf", "file": "tokenizer.json"})


# ---------------------------------------------------------------------------------------------- sentencepiece
SPM_MANIFEST = {"format": "spm", "file": "tokenizer.model"}
SPM_FILES = ("tokenizer.model", "tokenizer.vocab")
#: sentencepiece's own words when a vocabulary is larger than the corpus yields (it knows only after training)
_SPM_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")
#: sentencepiece's refusal of a vocabulary smaller than the corpus's required characters + meta pieces
_SPM_TOO_LOW = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")


def _train_spm(spec: BPESpec, corpus: Corpus, artifacts: Path) -> VariantOutcome:
    with tempfile.TemporaryDirectory(prefix="tokbench-spm-") as staging:
        train_spm_into(spec, corpus, Path(staging))
        install_staged(Path(staging), artifacts)
    return VariantOutcome(manifest=dict(SPM_MANIFEST))


def install_staged(staging: Path, artifacts: Path) -> None:
    """Copy trained files from a staging folder into the run's artifacts, each through a temporary file."""
    for name in SPM_FILES:
        if (staging / name).is_file():
            atomic_write_bytes(artifacts / name, (staging / name).read_bytes())


def train_spm_into(spec: BPESpec, corpus: Corpus, folder: Path) -> None:
    """Train sentencepiece into `folder` (tokenizer.model / .vocab). sentencepiece learns the largest
    vocabulary a corpus allows only by training, so `train_bpe` trains into a staging folder before the run
    folder exists: an impossible size is one clear line and leaves no failed run behind."""
    import sentencepiece as spm

    norm = {"none": "identity", "nfc": "identity", "nfkc": "nfkc"}[spec.normalization]
    if spec.lowercase:
        norm = "nfkc_cf" if spec.normalization == "nfkc" else "identity"
        if spec.normalization != "nfkc":
            raise TokbenchError("--lowercase with --backend spm needs --normalize nfkc (sentencepiece's nfkc_cf)")

    def sentences() -> Iterator[str]:
        for line in corpus.bounded_lines():
            line = line.rstrip("\n")
            if line:
                yield line

    kwargs: dict[str, Any] = dict(
        sentence_iterator=sentences(), model_prefix=str(folder / "tokenizer"), vocab_size=spec.vocab_size,
        model_type=spec.model_type, byte_fallback=True, normalization_rule_name=norm,
        remove_extra_whitespaces=False, add_dummy_prefix=False, split_digits=spec.split_digits,
        character_coverage=0.9995, user_defined_symbols=list(spec.special_tokens), num_threads=spec.threads or 2,
        allow_whitespace_only_pieces=True, minloglevel=2, input_sentence_size=2_000_000, shuffle_input_sentence=True,
        max_sentence_length=LONG_LINE_CHARS * 4,  # bytes; bounded_lines keeps every piece under it
    )
    if spec.max_token_length:
        kwargs["max_sentencepiece_length"] = spec.max_token_length
    try:
        run_interruptibly(lambda stop: spm.SentencePieceTrainer.train(
            **{**kwargs, "sentence_iterator": until_stopped(kwargs["sentence_iterator"], stop)}))
    except (RuntimeError, ValueError) as exc:  # sentencepiece raises both for what it refuses
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        too_high = _SPM_TOO_HIGH.search(message)
        if too_high:
            raise TokbenchError(f"--vocab-size {spec.vocab_size:,} is more than sentencepiece {spec.model_type} can "
                                f"make from {corpus.name}: at most {int(too_high.group(2)):,}; choose "
                                f"-v {too_high.group(2)} or less") from None
        too_low = _SPM_TOO_LOW.search(message)
        if too_low:  # sentencepiece's advice (--character_coverage) names an option tokbench does not have
            raise TokbenchError(f"--vocab-size {spec.vocab_size:,} is below what sentencepiece needs for the "
                                f"characters of {corpus.name}: at least {int(too_low.group(2)):,}; choose "
                                f"-v {too_low.group(2)} or more") from None
        message = re.sub(r"^[A-Z_]+: \S+\(\d+\) (\[.*?\] )?", "", message)  # "INTERNAL: file.cc(638) [check] "
        raise TokbenchError(f"sentencepiece training failed: {message[:300]}") from None


# ---------------------------------------------------------------------------------------------- entry point
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (see `tokbench.engines.cluster.peak_rss_mb`)."""
    from tokbench.engines.cluster import peak_rss_mb as own_peak

    return own_peak()


def _resolve(target: str):
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def _recorded_config(run_dir: Path, given: dict[str, Any]) -> tuple[BPESpec, list[str], str, bool]:
    """The spec, corpus, error mode and evaluate flag a text-bpe run recorded. `given` holds the caller's
    settings: one that is not its default (None for vocab_size/corpus/special_tokens/options) and differs from
    the recorded value is refused, so `--resume RUN -v 500` never silently trains the recorded size."""
    info = read_json(run_dir / "run.json")
    if not isinstance(info, dict) or info.get("kind") != "text-bpe":
        raise TokbenchError(f"{run_dir}: not a text-bpe run")
    try:
        config = info["config"]
        spec = BPESpec(**config["spec"])
        for key in ("vocab_size", "min_frequency"):
            if not isinstance(getattr(spec, key), int) or isinstance(getattr(spec, key), bool):
                raise TypeError(f"{key} {getattr(spec, key)!r} is not an integer")
        spec.validate()  # any other mistyped field fails here, as a TypeError
        corpus_specs = [str(c) for c in config["corpus"]]
        errors, evaluate = str(config.get("errors", "strict")), bool(config.get("evaluate", True))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TokbenchError(f"{run_dir / 'run.json'}: no usable text-bpe config "
                            f"({type(exc).__name__}: {exc})") from None
    defaults = {"variant": "plain", "backend": "hf", "model_type": "bpe", "min_frequency": 2, "pretokenizer": "gpt4",
                "normalization": "none", "lowercase": False, "split_digits": False, "max_token_length": None}
    recorded = {**asdict(spec), "corpus": corpus_specs}
    for key, value in given.items():
        if value is None or (key in defaults and value == defaults[key]):
            continue
        if key == "corpus":
            value = [value] if isinstance(value, str) else list(value)
        if key == "special_tokens":
            value = list(value)
        if value != recorded.get(key):
            flag = {"vocab_size": "--vocab-size", "corpus": "--corpus", "special_tokens": "--special",
                    "options": "--option"}.get(key, "--" + key.replace("_", "-"))
            raise TokbenchError(f"--resume {run_dir} trains its recorded config: {flag} {value!r} differs from "
                                f"the recorded {recorded.get(key)!r} (drop it, or start a new run)")
    return spec, corpus_specs, errors, evaluate


def _check_same_data(run_dir: Path, corpus: Corpus) -> None:
    """A resumed run trains on the bytes it recorded (sha256 per file): a corpus file edited since, or other
    text piped to `-c -`, is refused instead of silently training a different tokenizer under the old name."""
    recorded = [d.get("sha256") for d in read_json(run_dir / "run.json").get("data") or [] if isinstance(d, dict)]
    if not recorded:
        return
    now = corpus.fingerprint()
    if [d["sha256"] for d in now] != recorded:
        changed = next((d for d, old in zip(now, recorded) if d["sha256"] != old), now[-1] if now else {})
        raise TokbenchError(f"--resume {run_dir}: the training data changed since the run started "
                            f"({changed.get('source', '?')}: sha256 differs from run.json); start a new run")


def train_bpe(corpus: str | list[str] | None = None, *, vocab_size: int | None = None, variant: str = "plain",
              backend: str = "hf", model_type: str = "bpe", min_frequency: int = 2,
              special_tokens: list[str] | tuple[str, ...] | None = None, pretokenizer: str = "gpt4",
              normalization: str = "none", lowercase: bool = False, split_digits: bool = False,
              max_token_length: int | None = None, threads: int | None = None, errors: str = "strict",
              runs_dir: str | Path = "runs", name: str | None = None, evaluate: bool = True,
              options: dict[str, Any] | None = None, resume: str | Path | None = None,
              engine: str | None = None, scheduler: str | None = None, workers: int | None = None,
              from_counts: str | Path | None = None) -> TrainResult:
    """Train a BPE tokenizer (any variant) into a new run folder and evaluate it on the held-out split.

    `vocab_size` defaults to `DEFAULT_VOCAB_SIZE`. `resume` names an interrupted run folder: its recorded
    config and corpus are used again and the training restarts in place (tokenizer training is one pass; it
    has no mid-way state to continue); a setting given with it that differs from the recorded one is refused.

    Checked before any run folder exists: the options, the whole input (every split, every byte), and that
    the corpus can fill the vocabulary (`check_vocab_capacity`; sentencepiece trains in a staging folder
    first, since it finds its own limit only by training).

    `engine` ("dask"; `scheduler`/`workers` for its cluster) counts on a distributed engine and `from_counts`
    re-learns from an earlier run's counts: both go through `tokbench.text.engine_train`.
    """
    if engine or scheduler or workers or from_counts or resume:
        params = dict(locals())
        from tokbench.text import engine_train

        if engine_train.wanted(engine, from_counts, resume, scheduler, workers):
            return engine_train.train_bpe_on_engine(**params)
    if resume is not None:
        spec, corpus_specs, errors, evaluate = _recorded_config(
            Path(resume), {"vocab_size": vocab_size, "variant": variant, "backend": backend,
                           "model_type": model_type, "min_frequency": min_frequency, "pretokenizer": pretokenizer,
                           "normalization": normalization, "lowercase": lowercase, "split_digits": split_digits,
                           "max_token_length": max_token_length, "corpus": corpus, "special_tokens": special_tokens,
                           "options": options or None})
    else:
        spec = BPESpec(vocab_size=DEFAULT_VOCAB_SIZE if vocab_size is None else vocab_size, variant=variant,
                       backend=backend, model_type=model_type,
                       min_frequency=min_frequency,
                       special_tokens=list(DEFAULT_SPECIAL_TOKENS if special_tokens is None else special_tokens),
                       pretokenizer=pretokenizer, normalization=normalization, lowercase=lowercase,
                       split_digits=split_digits, max_token_length=max_token_length, threads=threads,
                       options=dict(options or {}))
        corpus_specs = [corpus] if isinstance(corpus, str) else list(corpus or [DEFAULT_CORPUS])
    spec.validate()
    train_corpus = Corpus(corpus_specs, split="train", errors=errors)
    train_stats = train_corpus.validate()
    if resume is not None:
        _check_same_data(Path(resume), train_corpus)
    heldout = Corpus(corpus_specs, split="heldout", errors=errors) if evaluate else None
    notes: list[str] = []
    if heldout is not None and not heldout.scan().text_lines:  # scan: every byte decodes before training
        notes.append(f"the held-out split of {heldout.name} is empty (files hold out every tenth line): "
                     "no held-out metrics")
        heldout = None
    check_vocab_capacity(spec, train_stats.bytes, train_corpus.name)
    trainer = _resolve(VARIANTS[spec.variant])
    if spec.variant in VARIANT_CHECKS:
        _resolve(VARIANT_CHECKS[spec.variant])(spec, spec.options)
    if spec.variant in VARIANT_DATA_CHECKS and resume is None:
        _resolve(VARIANT_DATA_CHECKS[spec.variant])(spec, train_corpus)
    config = {"spec": asdict(spec), "corpus": corpus_specs, "errors": errors, "evaluate": evaluate}
    packages = ("tokenizers", "sentencepiece")
    if resume is None and name is not None and not _NAME_RE.match(name):  # before any folder is looked up
        what = "it is empty" if not name else f"{len(name):,} characters, at most 128" if len(name) > 128 else \
            "use letters, digits, '.', '_' or '-'"
        raise TokbenchError(f"invalid run name {name[:40]!r}{'...' if len(name) > 40 else ''}: {what}")
    taken = Path(runs_dir) / name if resume is None and name is not None and "/" not in name else None
    if taken is not None and not name.startswith(".") and taken.exists():  # fail before training, not after
        raise TokbenchError(f"run folder {taken} already exists: choose another --name, or --resume it")
    start = time.perf_counter()
    staging = None
    if resume is None and spec.backend == "spm":
        staging = tempfile.TemporaryDirectory(prefix="tokbench-spm-")
    try:
        if staging is not None:
            train_spm_into(spec, train_corpus, Path(staging.name))
        if resume is not None:
            run = Run.resume(resume)
        else:
            run = Run.create(runs_dir, "text-bpe", config, name=name, data=train_corpus.fingerprint(),
                             packages=packages)
        with run:
            if staging is not None:
                install_staged(Path(staging.name), run.artifacts)
                outcome = VariantOutcome(manifest=dict(SPM_MANIFEST))
            else:
                outcome = trainer(spec, train_corpus, run.artifacts, spec.options)
            seconds = time.perf_counter() - start
            result = _finish_run(run, spec, outcome, heldout, seconds, config, notes)
    finally:
        if staging is not None:
            staging.cleanup()
    return result


def comparison_label(dataset: str, values: dict[str, Any], evaluations: dict[str, Any]) -> str:
    """The label a variant's comparison metrics go under: the held-out report's own label only when they were
    computed on the same lines (same `lines` and `bytes`), else a label of their own, so that two figures from
    two evaluations never share one row."""
    held = evaluations.get(dataset)
    if held is not None and (values.get("lines"), values.get("bytes")) != (held["lines"], held["bytes"]):
        return f"{dataset} (variant comparison)"
    return dataset


def _finish_run(run: Run, spec: BPESpec, outcome: VariantOutcome, heldout: Corpus | None, seconds: float,
                config: dict[str, Any], input_notes: list[str]) -> TrainResult:
    """Inside the open run: manifest, training metrics, held-out evaluation, notes."""
    manifest = {**outcome.manifest, "variant": spec.variant, "pattern": spec.pretokenizer}
    atomic_write_json(run.artifacts / MANIFEST, manifest)
    tokenizer_path = run.artifacts / manifest["file"]
    metrics = run.update_metrics("training", {"train_seconds": round(seconds, 3),
                                              "peak_rss_mb": round(peak_rss_mb(), 1)})
    from tokbench.text.evaluate import basic_metrics, comparison_notes, vocabulary_record

    tok = load_run_tokenizer(run.path)
    vocab = vocabulary_record(spec.vocab_size, tok.vocab_size, outcome.vocab_added)
    metrics = run.update_metrics("training", {"vocab_size_requested": vocab["requested"],
                                              "vocab_size_reached": vocab["reached"]})
    notes = ([vocab["warning"]] if vocab.get("warning") else []) + list(input_notes) + list(outcome.notes)
    evaluations: dict[str, Any] = {}
    if heldout is not None:
        dataset = f"{heldout.name}/heldout"
        values = basic_metrics(tok, heldout.lines())
        evaluations[dataset] = {"command": "train-bpe", "split": "heldout", "lines": values.get("lines", 0),
                                "bytes": values.get("bytes", 0)}
        metrics = run.update_metrics(dataset, values)
    for dataset, values in outcome.extra_metrics.items():
        metrics = run.update_metrics(comparison_label(dataset, values, evaluations), values)
    notes += comparison_notes(outcome.extra_metrics, vocab["reached"])
    run.update_info(vocab=vocab, evaluations=evaluations, **({"notes": notes} if notes else {}))
    return TrainResult(run_dir=run.path, tokenizer_path=tokenizer_path, metrics=metrics, config=config,
                       notes=notes, vocab=vocab)

