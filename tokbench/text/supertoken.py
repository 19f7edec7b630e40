"""Supertoken BPE: tokens that may cross whitespace, by two published recipes.

**superbpe** (Liu et al. 2025, "SuperBPE: Space Travel for Language Models", arXiv:2503.13423).
Stage 1 is ordinary byte-level BPE (HF trainer, whitespace-aware split pattern) up to the transition
vocabulary size t (default 0.9 V: the paper's 200k tokenizers use t in {80k, 160k, 180k}, and t = 180k won
downstream; smaller t compresses more). Stage 2 keeps those merges and goes on learning merges over coarser
chunks. By default (`stage2=published`) the chunks are those of the released training code
(github.com/PythonNut/superbpe, `scripts/extend_tokenizer.sh`): only 1-3 digit groups, runs of two or more
punctuation marks and space runs before whitespace are cut out (`SUPERBPE_STAGE2_PATTERN`); its trainer
(github.com/alisawuffles/tokenizers-superbpe, `BpeTrainer::do_train_extend`) skips, for good, every merge whose
token contains ":" followed by a space, or more than `max_words` (4) words, a word being a non-empty piece between
spaces. HF reads training files line by line, so a chunk never spans a line break; neither does ours.
`stage2=strict` is our earlier, stricter chunking (`STAGE2_STRICT_PATTERNS`): only letter runs joined by single
spaces, so every punctuation mark and newline ends a superword.

HF `tokenizers` cannot resume training, so stage 2 is our own trainer (`learn_merges`), with HF's rules: pair
counts weighted by chunk frequency, ties to the smallest (left id, right id), a merge whose bytes already
exist reuses that id. Each stage-2 chunk starts as stage 1's merges applied by rank over the whole chunk, which
is what HF does at inference (and what the authors' trainer does), so training and inference agree by
construction; `boundary_mismatch_share` measures how often that differs from stage 1 per stage-1 pre-token.

*How stage 2 stays fast and small.* All chunks live in one flat int32 array (separators between chunks, holes
where merges removed a symbol) with a weight per position. Pair counts come from one vectorized sort; only
pairs counted at least theta (chosen so that a few times more pairs than merges still to learn are tracked)
keep a count and a position list, plus every pair a merge creates. Counts of old pairs only fall, so while the
best tracked count stays >= theta no untracked pair can win; when it falls below, the array is compacted and
everything recounted with a lower theta (`_PairIndex`). The result equals the recount-everything reference
(tests check it).

**random-interval** (the SuperTokenizer recipe of Sharthak et al. 2025, "Achieving Tokenizer Flexibility
in Language Models through Heuristic Adaptation and Supertoken Learning", arXiv:2505.09738; training code
github.com/Tinycompany-AI/SuperTokenizer): NFC-normalized training text is cut into chunks whose lengths in
characters follow the released `train.yaml` distribution (`PUBLISHED_INTERVALS`: a bin drawn by weight, then a
length uniform within it; bell-shaped, peak at 12-13), pre-tokenized on those cuts only, and trained in one HF
pass over the 256-byte alphabet with tokens of at most 30 characters. `intervals=uniform` cuts at lengths
uniform in [min_interval, max_interval] (default [4, 23]). At inference no cuts are inserted: the saved pipeline
has no split step at all, so each input is one pre-token, merges apply by rank over it, and decoding returns
the (NFC-normalized) input.
"""

from __future__ import annotations

import heapq
import json
import random
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_text
from tokbench.sources.text import Corpus
from tokbench.text.bpe import (BYTE_ALPHABET, BPESpec, VariantOutcome, _set_threads, build_hf_tokenizer,
                               hf_trainer, train_hf, train_plain)
from tokbench.text.patterns import SUPERBPE_STAGE2_PATTERN
from tokbench.text.tokenizer import _bytes_to_unicode, byte_level_token_bytes, load_tokenizer

RECIPES = ("superbpe", "random-interval")
DEFAULT_RECIPE = "superbpe"
#: t / final vocab: the paper's best downstream setting (t = 180k of 200k)
DEFAULT_TRANSITION_RATIO = 0.9
DEFAULT_MAX_WORDS = 4
STAGE2_MODES = ("published", "strict")
DEFAULT_STAGE2 = "published"
#: merges the released trainer never makes: any token holding one of these byte strings (":" + space)
BANNED_SUBSTRINGS = (b": ",)
#: random-interval: SuperTokenizer's train.yaml `test_distribution`, (lo, hi) characters -> weight. The released
#: weights sum to 1.1 (its own parser would reject them); `random.choices` there and here normalizes them.
PUBLISHED_INTERVALS = (((4, 5), 0.044), ((6, 7), 0.091), ((8, 9), 0.146), ((10, 11), 0.171), ((12, 13), 0.185),
                       ((14, 15), 0.171), ((16, 17), 0.146), ((18, 19), 0.091), ((20, 21), 0.044), ((22, 23), 0.011))
INTERVAL_MODES = ("published", "uniform")
#: uniform option: chunk lengths in characters, both ends included
DEFAULT_INTERVAL = (4, 23)
#: random-interval: longest token in characters (train.yaml `max_token_length`)
RANDOM_INTERVAL_MAX_TOKEN_CHARS = 30
DEFAULT_SEED = 0
#: cut marker for random-interval training text (a private-use character; removed by the split)
SEPARATOR = "\ue000"
KNOWN_OPTIONS = {"recipe", "transition", "transition_ratio", "max_words", "stage2", "intervals", "min_interval",
                 "max_interval", "seed", "compare_plain"}

_CONTRACTION_GPT4 = r"'(?i:[sdmt]|ll|ve|re)"
_CONTRACTION_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d"

#: `stage2=strict` chunking per stage-1 pattern: stage 1's alternatives, with the word alternative extended to
#: swallow following " word" and contraction pieces. Every chunk is a union of whole stage-1 pre-tokens.
STAGE2_STRICT_PATTERNS = {
    "gpt4": (rf"""(?:{_CONTRACTION_GPT4}|[^\r\n\p{{L}}\p{{N}}]?+\p{{L}}+)(?:{_CONTRACTION_GPT4}| \p{{L}}+)*"""
             r"""|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""),
    "gpt2": (rf"""(?:{_CONTRACTION_GPT2}| ?\p{{L}}+)(?:{_CONTRACTION_GPT2}| \p{{L}}+)*"""
             r"""| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""),
}
STAGE2_PATTERNS = STAGE2_STRICT_PATTERNS  # the name earlier releases used

PAIR_SHIFT = 24  # pair key = left << 24 | right (ids below 16.7M)
_PAIR_MASK = (1 << PAIR_SHIFT) - 1
_SEP, _HOLE = -1, -2  # flat-array markers: between chunks, and where a merge removed a symbol


def stage2_pattern(spec: BPESpec, mode: str = DEFAULT_STAGE2) -> str:
    """The stage-2 split regex: the released one, or ours (`strict`, which depends on the stage-1 pattern)."""
    return SUPERBPE_STAGE2_PATTERN if mode == "published" else STAGE2_STRICT_PATTERNS[spec.pretokenizer]


# ---------------------------------------------------------------------------------------------- options
def check_options(spec: BPESpec, options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - KNOWN_OPTIONS)
    if unknown:
        raise TokbenchError(f"supertoken: unknown option {unknown[0]!r} (known: {', '.join(sorted(KNOWN_OPTIONS))})")
    recipe = options.get("recipe", DEFAULT_RECIPE)
    if recipe not in RECIPES:
        raise TokbenchError(f"supertoken: unknown recipe {recipe!r} (expected superbpe or random-interval)")
    floor = BYTE_ALPHABET + len(spec.special_tokens)
    if spec.vocab_size <= floor:
        raise TokbenchError(f"--vocab-size {spec.vocab_size} leaves no room for merges above the byte alphabet "
                            f"({floor} = 256 bytes + {len(spec.special_tokens)} special tokens)")
    if spec.backend != "hf":
        raise TokbenchError("supertoken needs --backend hf (byte-level BPE)")
    out = {"recipe": recipe, "compare_plain": bool(options.get("compare_plain", True))}
    seed = options.get("seed", DEFAULT_SEED)
    if not isinstance(seed, int):
        raise TokbenchError(f"supertoken: seed must be an integer, got {seed!r}")
    out["seed"] = seed
    if recipe == "superbpe":
        for key in ("intervals", "min_interval", "max_interval"):
            if key in options:
                raise TokbenchError(f"supertoken: option {key} applies to --recipe random-interval only")
        stage2 = options.get("stage2", DEFAULT_STAGE2)
        if stage2 not in STAGE2_MODES:
            raise TokbenchError(f"supertoken: stage2 must be published or strict, got {stage2!r}")
        if stage2 == "strict" and spec.pretokenizer not in STAGE2_STRICT_PATTERNS:
            raise TokbenchError(f"superbpe with stage2=strict supports --pretokenizer "
                                f"{' or '.join(STAGE2_STRICT_PATTERNS)} (got {spec.pretokenizer!r})")
        ratio = options.get("transition_ratio", DEFAULT_TRANSITION_RATIO)
        if not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
            raise TokbenchError(f"supertoken: transition_ratio must be in (0, 1), got {ratio!r}")
        t = options.get("transition")
        t = int(round(spec.vocab_size * ratio)) if t is None else t
        if not isinstance(t, int):
            raise TokbenchError(f"--transition must be an integer, got {t!r}")
        if t >= spec.vocab_size:
            raise TokbenchError(f"--transition {t} must be below the final --vocab-size {spec.vocab_size}")
        if t <= floor:
            raise TokbenchError(f"--transition {t} must exceed the byte alphabet ({floor} = 256 bytes + "
                                f"{len(spec.special_tokens)} special tokens)")
        max_words = options.get("max_words", DEFAULT_MAX_WORDS)
        if max_words is not None and (not isinstance(max_words, int) or max_words < 1):
            raise TokbenchError(f"--max-words must be a positive integer, got {max_words!r}")
        out.update(transition=t, max_words=max_words, stage2=stage2)
    else:
        for key in ("transition", "transition_ratio", "max_words", "stage2"):
            if key in options:
                raise TokbenchError(f"--{key.replace('_', '-')} applies to --recipe superbpe only")
        explicit = "min_interval" in options or "max_interval" in options
        mode = options.get("intervals", "uniform" if explicit else "published")
        if mode not in INTERVAL_MODES:
            raise TokbenchError(f"supertoken: intervals must be published or uniform, got {mode!r}")
        if mode == "published" and explicit:
            raise TokbenchError("supertoken: min_interval/max_interval need intervals=uniform")
        lo = options.get("min_interval", DEFAULT_INTERVAL[0])
        hi = options.get("max_interval", DEFAULT_INTERVAL[1])
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise TokbenchError(f"supertoken: need 1 <= min_interval <= max_interval, got {lo!r} and {hi!r}")
        out.update(intervals=mode, min_interval=lo, max_interval=hi)
    return out


# ---------------------------------------------------------------------------------------------- entry point
def train_supertoken(spec: BPESpec, corpus: Corpus, artifacts: Path, options: dict[str, Any]) -> VariantOutcome:
    """Train a supertoken tokenizer (recipe superbpe or random-interval) into `artifacts/tokenizer.json`."""
    opts = check_options(spec, options)
    _set_threads(spec.threads)
    timing: dict[str, Any] = {}
    plain_spec = replace(spec, variant="plain", options={})  # the user's settings, not the recipe's defaults
    if opts["recipe"] == "superbpe":
        tok_json, info = train_superbpe(spec, corpus, opts["transition"], opts["max_words"], opts["stage2"])
        timing.update(info)
    else:
        spec = random_interval_spec(spec)
        start = time.perf_counter()
        tok_json = train_random_interval(spec, corpus, interval_sampler(opts), opts["seed"])
        timing["train_seconds_one_pass"] = round(time.perf_counter() - start, 3)
    path = artifacts / "tokenizer.json"
    atomic_write_text(path, tok_json)
    manifest = {"format": "hf", "file": "tokenizer.json", "recipe": opts["recipe"]}
    if opts["recipe"] == "superbpe":
        manifest.update(transition=opts["transition"], max_words=opts["max_words"], stage2=opts["stage2"],
                        stage2_pattern=stage2_pattern(spec, opts["stage2"]))
    else:
        manifest.update(intervals=opts["intervals"], normalization=spec.normalization,
                        max_token_chars=spec.max_token_length)
    extra: dict[str, dict[str, Any]] = {"training": timing}
    notes = []
    if opts["recipe"] == "superbpe" and timing["stage1_vocab_reached"] < opts["transition"]:
        notes.append(f"stage 1 stopped at {timing['stage1_vocab_reached']:,} tokens, below t = {opts['transition']:,}: "
                     f"no pair left with count >= {spec.min_frequency}; stage 2 started there")
    heldout = Corpus(corpus.specs, split="heldout", errors=corpus.errors)
    if any(line.strip() for line in heldout.lines()):
        plain_path = None
        with tempfile.TemporaryDirectory(prefix="tokbench-plain-") as tmp:
            if opts["compare_plain"]:
                start = time.perf_counter()
                train_plain(plain_spec, corpus, Path(tmp), {})
                timing["plain_train_seconds"] = round(time.perf_counter() - start, 3)
                plain_path = Path(tmp) / "tokenizer.json"
            extra[f"{heldout.name}/heldout"] = compare_on_heldout(path, plain_path, heldout.lines())
    else:
        notes.append("held-out split is empty: bytes/token vs plain BPE and space-spanning share not measured")
    return VariantOutcome(manifest=manifest, extra_metrics=extra, notes=notes)


# ---------------------------------------------------------------------------------------------- superbpe
def train_superbpe(spec: BPESpec, corpus: Corpus, transition: int, max_words: int | None = DEFAULT_MAX_WORDS,
                   stage2: str = DEFAULT_STAGE2, stage1=None) -> tuple[str, dict[str, Any]]:
    """Both stages; returns the final tokenizer.json text and timing/diagnostic figures.

    `stage1`: an HF tokenizer already trained to `transition` on `corpus` with `spec`'s pipeline (for example
    `truncate_bpe` of a larger plain BPE); stage 1 is then not trained again (its seconds are reported as 0)."""
    start = time.perf_counter()
    if stage1 is None:
        stage1 = build_hf_tokenizer(spec)
        train_hf(stage1, hf_trainer(spec, vocab_size=transition), corpus)
    stage1_seconds = time.perf_counter() - start

    start = time.perf_counter()
    stage1_vocab = stage1.get_vocab_size(with_added_tokens=True)
    state = Stage2Input.from_corpus(spec, stage1, corpus.lines(), stage2)
    n_chunks = len(state.counts)
    merges = learn_merges(state.words, state.counts, state.token_bytes, spec.vocab_size,
                          min_frequency=spec.min_frequency, max_words=max_words,
                          max_chars=spec.max_token_length)
    stage2_seconds = time.perf_counter() - start
    tok_json = assemble_tokenizer(spec, stage1, state.token_bytes, merges, stage2)
    info = {"stage1_seconds": round(stage1_seconds, 3), "stage2_seconds": round(stage2_seconds, 3),
            "stage2_over_stage1": round(stage2_seconds / max(stage1_seconds, 1e-9), 3),
            "transition_vocab": transition, "stage1_vocab_reached": stage1_vocab, "stage2_merges": len(merges),
            "final_vocab_reached": len(state.token_bytes), "stage2_unique_chunks": n_chunks}
    return tok_json, info


class Stage2Input:
    """Weighted unique stage-2 chunks as stage-1 token-id sequences, and the bytes of every stage-1 id.

    `words` is a `FlatWords` (one int32 array; `list(state.words)` gives the per-chunk lists)."""

    def __init__(self, chunks: list[str], words: FlatWords, counts: list[int], token_bytes: list[bytes]):
        self.chunks, self.words, self.counts, self.token_bytes = chunks, words, counts, token_bytes

    @classmethod
    def from_corpus(cls, spec: BPESpec, stage1, lines: Iterable[str], stage2: str = DEFAULT_STAGE2) -> Stage2Input:
        counts = count_chunks(spec, lines, stage2, mapped=False)
        # a chunk holding a literal special token never reaches the model whole at inference (HF extracts added
        # tokens first), so it must not teach merges; a one-byte chunk has no pair to merge
        specials = tuple(spec.special_tokens)
        for c in [c for c in counts if len(c.encode("utf-8")) < 2 or any(s in c for s in specials)]:
            del counts[c]
        weights = list(counts.values())
        words = FlatWords.encode(stage1, counts, weights, mapped=False)
        del counts
        keep = words.multi_token()
        if not keep.all():
            weights = [w for w, k in zip(weights, keep) if k]
            words = words.subset(keep)
        return cls([], words, weights, vocab_bytes(stage1))


class FlatWords:
    """Token-id sequences in one int32 array: `_SEP` before, between and after them (so pairs never cross)."""

    def __init__(self, seq: np.ndarray, starts: np.ndarray, weights: np.ndarray):
        self.seq, self.starts, self.weights = seq, starts, weights  # starts: index of each word's first id

    @classmethod
    def from_lists(cls, words: Sequence[Sequence[int]], weights: Sequence[int]) -> FlatWords:
        lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        starts = np.cumsum(np.concatenate([[1], lengths[:-1] + 1])) if len(words) else np.zeros(0, np.int64)
        seq = np.full(int(lengths.sum() + len(words) + 1), _SEP, dtype=np.int32)
        for s, w in zip(starts, words):
            seq[s:s + len(w)] = w
        return cls(seq, starts, np.asarray(weights, dtype=np.int64))

    @classmethod
    def encode(cls, stage1, chunks: Iterable[str], weights: Sequence[int], batch: int = 20_000,
               mapped: bool = True) -> FlatWords:
        """Stage-1 merges applied by rank over each whole chunk: what HF BPE does at inference.

        Calls the BPE model directly (no normalizer, pre-tokenizer or added-token matching): each chunk is one
        word. `mapped=False`: chunks are plain text, byte-level mapped here. Ids go straight into an int32
        array, batch by batch, so no list of Python ints is ever whole."""
        tokenize = stage1.model.tokenize
        parts: list[np.ndarray] = [np.array([_SEP], dtype=np.int32)]
        starts: list[int] = []
        pos = 1
        flat: list[int] = []
        for chunk in chunks:
            starts.append(pos + len(flat))
            flat.extend(t.id for t in tokenize(chunk if mapped else byte_level_map(chunk)))
            flat.append(_SEP)
            if len(flat) >= batch * 16:
                parts.append(np.array(flat, dtype=np.int32))
                pos += len(flat)
                flat = []
        parts.append(np.array(flat, dtype=np.int32))
        return cls(np.concatenate(parts), np.array(starts, dtype=np.int64), np.asarray(weights, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.starts)

    def lengths(self) -> np.ndarray:
        ends = np.append(self.starts[1:] - 1, len(self.seq) - 1)
        return ends - self.starts

    def __iter__(self) -> Iterator[list[int]]:
        for s, n in zip(self.starts, self.lengths()):
            yield [int(x) for x in self.seq[s:s + n] if x != _HOLE]

    def multi_token(self) -> np.ndarray:
        return self.lengths() > 1

    def subset(self, mask: np.ndarray) -> FlatWords:
        words = [w for w, k in zip(self, mask) if k]
        return FlatWords.from_lists(words, self.weights[mask])


def truncate_bpe(tokenizer_json: str, size: int) -> str:
    """A trained HF byte-level BPE cut to its first `size` ids: ids grow with merge order (special tokens, then
    the 256 bytes, then one per merge) and BPE training is greedy, so this is the tokenizer that training to
    `size` yields (tests check it). Lets one training serve as plain BPE and stage 1 at every smaller size."""
    config = json.loads(tokenizer_json)
    model = config["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < size}
    merges = []
    for m in model["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        if (a + b) not in vocab:
            break
        merges.append(m)
    model["vocab"], model["merges"] = vocab, merges
    return json.dumps(config, ensure_ascii=False)


def stage2_pipeline(spec: BPESpec, stage2: str = DEFAULT_STAGE2):
    """The untrained final pipeline: stage 1's normalizer and byte mapping, stage 2's chunking."""
    return build_hf_tokenizer(spec, stage2_pattern(spec, stage2))


def count_chunks(spec: BPESpec, lines: Iterable[str], stage2: str = DEFAULT_STAGE2, mapped: bool = True) -> Counter:
    """Stage-2 chunks -> occurrences: byte-level mapped strings as HF's pre-tokenizer yields them, or with
    `mapped=False` the (normalized) text they stand for (half the memory: mapped spaces are not ASCII)."""
    pipe = stage2_pipeline(spec, stage2)
    normalizer, pre = pipe.normalizer, pipe.pre_tokenizer
    if not mapped:
        from tokenizers import Regex, pre_tokenizers

        pre = pre_tokenizers.Split(Regex(stage2_pattern(spec, stage2)), behavior="isolated")
    counts: Counter = Counter()
    short: Counter = Counter()  # short lines repeat (blank lines, markup): split each once; long ones stream
    for line in lines:
        if len(line) <= 32:
            short[line] += 1
            continue
        if normalizer is not None:
            line = normalizer.normalize_str(line)
        counts.update(piece for piece, _ in pre.pre_tokenize_str(line))
    for line, n in short.items():
        if normalizer is not None:
            line = normalizer.normalize_str(line)
        for piece, _ in pre.pre_tokenize_str(line):
            counts[piece] += n
    return counts


_BYTE_MAP = dict(_bytes_to_unicode())  # byte value (= latin-1 code point) -> its stand-in character


def byte_level_map(text: str) -> str:
    """Text -> GPT-2 byte-level string (each UTF-8 byte as its printable stand-in), as HF's ByteLevel does."""
    return text.encode("utf-8").decode("latin-1").translate(_BYTE_MAP)


def encode_chunks_stage1(stage1, chunks: Sequence[str]) -> list[list[int]]:
    """Stage-1 merges applied by rank over each whole (byte-mapped) chunk, as lists (see `FlatWords.encode`)."""
    model = stage1.model
    return [[t.id for t in model.tokenize(chunk)] for chunk in chunks]


def vocab_bytes(stage1) -> list[bytes]:
    """Bytes of every stage-1 id (special tokens: their UTF-8 text); ids must be contiguous from 0."""
    vocab = stage1.get_vocab(with_added_tokens=True)
    table: list[bytes | None] = [None] * len(vocab)
    for token, i in vocab.items():
        if i >= len(table):
            raise TokbenchError("stage-1 vocabulary ids are not contiguous")
        raw = byte_level_token_bytes(token)
        table[i] = raw if raw is not None else token.encode("utf-8")
    if any(t is None for t in table):
        raise TokbenchError("stage-1 vocabulary ids are not contiguous")
    return table  # type: ignore[return-value]


def word_count(token: bytes) -> int:
    """Words a token touches as the released trainer counts them: non-empty pieces between spaces (b" ")."""
    return sum(1 for piece in token.split(b" ") if piece)


def merge_allowed(token: bytes, max_words: int | None, max_chars: int | None) -> bool:
    """The released trainer's rules: no token holding ":" + space, at most `max_words` words; and our
    `--max-token-length` in characters."""
    if any(b in token for b in BANNED_SUBSTRINGS):
        return False
    if max_words is not None and word_count(token) > max_words:
        return False
    if max_chars is not None and len(token.decode("utf-8", errors="replace")) > max_chars:
        return False
    return True


class _PairIndex:
    """Pair counts and occurrence positions over a flat word array, for the pairs that can still win.

    Pairs present at this recount are tracked only when counted >= `theta` (`pick_theta(all counts)`); pairs
    a merge creates later are always tracked. `positions[key]` may hold stale positions (checked on use)."""

    def __init__(self, seq: array, weights: array, pick_theta):
        S = PAIR_SHIFT
        view = np.frombuffer(seq, dtype=np.int32)
        left, right = view[:-1], view[1:]
        valid = np.flatnonzero((left >= 0) & (right >= 0))
        if len(view) < 1 << 32 and (len(view) == 0 or int(view.max()) < 1 << 16):
            # small ids: (left, right, position) packed in one uint64, sorted in place (half argsort's memory)
            packed = (left[valid].astype(np.uint64) << np.uint64(48)) | \
                (right[valid].astype(np.uint64) << np.uint64(32)) | valid.astype(np.uint64)
            del valid
            packed.sort()
            pos = (packed & np.uint64(0xFFFFFFFF)).astype(np.int32)
            packed >>= np.uint64(32)
            keys = (((packed >> np.uint64(16)) << np.uint64(S)) | (packed & np.uint64(0xFFFF))).astype(np.int64)
            del packed
        else:
            keys = (left[valid].astype(np.int64) << S) | right[valid]
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            pos = valid[order].astype(np.int32)
            del valid, order
        first = np.flatnonzero(np.diff(keys, prepend=-1)) if len(keys) else np.zeros(0, np.int64)
        counts = np.add.reduceat(np.frombuffer(weights, dtype=np.int32)[pos].astype(np.int64), first) \
            if len(keys) else np.zeros(0, np.int64)
        self.theta = int(pick_theta(counts))
        keep = np.flatnonzero(counts >= self.theta)
        ends = np.append(first[1:], len(keys))
        self.n_ids_at_count = int(view.max()) + 1 if len(view) else 0
        self.counts: dict[int, int] = dict(zip(keys[first[keep]].tolist(), counts[keep].tolist()))
        self.positions: dict[int, Any] = {int(keys[first[k]]): pos[first[k]:ends[k]] for k in keep}

    def heap(self, min_frequency: int, banned: set[int]) -> list[tuple[int, int]]:
        for k in banned:
            self.counts.pop(k, None)
            self.positions.pop(k, None)
        h = [(-c, k) for k, c in self.counts.items() if c >= min_frequency]
        heapq.heapify(h)
        return h


#: stage 2 tracks at least this many pairs, and TRACK_FACTOR x the merges still to learn
MIN_TRACKED_PAIRS = 4096
TRACK_FACTOR = 8


def _choose_theta(counts: np.ndarray, remaining: int, min_frequency: int, cap: int | None = None) -> int:
    """Track about TRACK_FACTOR x as many pairs as merges remain (at least MIN_TRACKED_PAIRS): the count at that
    rank, floored at `min_frequency` and capped (a recount after falling below theta must go lower)."""
    k = max(MIN_TRACKED_PAIRS, TRACK_FACTOR * remaining)
    theta = min_frequency if len(counts) <= k else int(np.partition(counts, len(counts) - k)[len(counts) - k])
    if cap is not None:
        theta = min(theta, cap)
    return max(min_frequency, theta)


def learn_merges(words: Sequence[Sequence[int]] | FlatWords, counts: Sequence[int], token_bytes: list[bytes],
                 vocab_size: int, min_frequency: int = 2, max_words: int | None = DEFAULT_MAX_WORDS,
                 max_chars: int | None = None) -> list[tuple[int, int, int]]:
    """Incremental BPE from given token sequences until `len(token_bytes) == vocab_size`.

    Appends new tokens to `token_bytes` and returns (left, right, new) id triples in learning order. A merge
    whose bytes equal an existing token reuses that id (HF allows two merges to produce one token). A merge
    `merge_allowed` rejects is dropped for good (its count can only fall). Only occurrences of the chosen pair
    are touched; pair counts change by local deltas around each occurrence (HF `Word::merge` style).
    """
    S, M = PAIR_SHIFT, _PAIR_MASK
    if max(len(token_bytes), vocab_size) >= 1 << S:
        raise TokbenchError("vocabulary too large for the stage-2 trainer (ids must stay below 2**24)")
    flat = words if isinstance(words, FlatWords) else FlatWords.from_lists(words, counts)
    seq = array("i", flat.seq.astype(np.int32).tobytes())
    w_per_pos = np.zeros(len(flat.seq), dtype=np.int32)
    if len(flat):
        ends = flat.starts + flat.lengths()
        marks = np.zeros(len(flat.seq) + 1, dtype=np.int64)
        np.add.at(marks, flat.starts, np.asarray(counts, dtype=np.int64))
        np.add.at(marks, ends, -np.asarray(counts, dtype=np.int64))
        w_per_pos = np.cumsum(marks[:-1]).astype(np.int32)
    weights = array("i", w_per_pos.tobytes())
    del w_per_pos
    by_bytes = {b: i for i, b in enumerate(token_bytes)}
    merges: list[tuple[int, int, int]] = []
    pop, push = heapq.heappop, heapq.heappush
    banned: set[int] = set()

    def compact() -> None:
        nonlocal seq, weights
        view = np.frombuffer(seq, dtype=np.int32)
        keep = view != _HOLE
        new_w = array("i", np.frombuffer(weights, dtype=np.int32)[keep].tobytes())
        seq, weights = array("i", view[keep].tobytes()), new_w

    def recount(cap: int | None) -> tuple[_PairIndex, list]:
        remaining = vocab_size - len(token_bytes)
        index = _PairIndex(seq, weights, lambda c: _choose_theta(c, remaining, min_frequency, cap))
        return index, index.heap(min_frequency, banned)

    index, heap = recount(None)
    pc, where = index.counts, index.positions
    while len(token_bytes) < vocab_size:
        if not heap or -heap[0][0] < index.theta:
            if index.theta <= min_frequency:
                break
            compact()  # the best tracked pair fell below theta: recount everything, track more pairs
            index, heap = recount(max(min_frequency, index.theta // 4))
            pc, where = index.counts, index.positions
            continue
        negc, key = pop(heap)
        c = -negc
        cur = pc.get(key, 0)
        if cur != c:  # stale entry: counts only fall for old pairs, rises were pushed afresh
            if 0 < cur < c and cur >= min_frequency:
                push(heap, (-cur, key))
            continue
        a, b = key >> S, key & M
        merged = token_bytes[a] + token_bytes[b]
        if not merge_allowed(merged, max_words, max_chars):
            banned.add(key)
            pc.pop(key, None)
            where.pop(key, None)
            continue
        new = by_bytes.get(merged)
        if new is None:
            new = len(token_bytes)
            token_bytes.append(merged)
            by_bytes[merged] = new
        # a reused id may sit in untracked pairs (count < theta) that this merge adds to: recount after it
        stale_counts = new < index.n_ids_at_count and index.theta > 1
        merges.append((a, b, new))
        raised: set[int] = set()
        found = where.pop(key, ())
        positions = sorted(set(found.tolist() if isinstance(found, np.ndarray) else found))
        for p in positions:
            if seq[p] != a:
                continue
            q = p + 1
            while seq[q] == _HOLE:
                q += 1
            if seq[q] != b:
                continue
            cnt = weights[p]
            lft = p - 1
            while seq[lft] == _HOLE:
                lft -= 1
            x = seq[lft]
            if x >= 0:
                k1 = x << S | a
                if k1 in pc:
                    pc[k1] -= cnt
                k2 = x << S | new
                pc[k2] = pc.get(k2, 0) + cnt
                lst = where.get(k2)
                if lst is None:
                    where[k2] = [lft]
                elif isinstance(lst, list):
                    lst.append(lft)
                else:
                    where[k2] = lst.tolist() + [lft]
                raised.add(k2)
            r = q + 1
            while seq[r] == _HOLE:
                r += 1
            y = seq[r]
            if y >= 0:
                k1 = b << S | y
                if k1 in pc:
                    pc[k1] -= cnt
                k2 = new << S | y
                pc[k2] = pc.get(k2, 0) + cnt
                lst = where.get(k2)
                if lst is None:
                    where[k2] = [p]
                elif isinstance(lst, list):
                    lst.append(p)
                else:
                    where[k2] = lst.tolist() + [p]
                raised.add(k2)
            seq[p] = new
            seq[q] = _HOLE
        pc.pop(key, None)
        if stale_counts:
            compact()
            index, heap = recount(index.theta)
            pc, where = index.counts, index.positions
            continue
        raised.discard(key)
        for k2 in raised:
            c2 = pc[k2]
            if c2 >= min_frequency and k2 not in banned:
                push(heap, (-c2, k2))
    if isinstance(words, list):  # callers holding lists see the merged sequences
        merged_words = list(FlatWords(np.frombuffer(seq, dtype=np.int32).copy(), _starts_after(seq), flat.weights))
        words[:] = merged_words
    return merges


def _starts_after(seq: array) -> np.ndarray:
    view = np.frombuffer(seq, dtype=np.int32)
    seps = np.flatnonzero(view == _SEP)
    return seps[:-1] + 1


def assemble_tokenizer(spec: BPESpec, stage1, token_bytes: list[bytes], merges: list[tuple[int, int, int]],
                       stage2: str = DEFAULT_STAGE2) -> str:
    """The final tokenizer.json: stage-1 vocab/merges then stage-2 merges, under stage 2's chunking."""
    from tokenizers import Tokenizer

    table = _bytes_to_unicode()

    def spell(i: int) -> str:
        return "".join(table[x] for x in token_bytes[i])

    base = json.loads(stage1.to_str())
    model = base["model"]
    vocab: dict[str, int] = model["vocab"]
    for a, b, new in merges:
        s = spell(new)
        if s not in vocab:
            vocab[s] = new
    model["merges"] = list(model["merges"]) + [[spell(a), spell(b)] for a, b, _ in merges]
    final = json.loads(stage2_pipeline(spec, stage2).to_str())
    base["pre_tokenizer"] = final["pre_tokenizer"]
    text = json.dumps(base, ensure_ascii=False)
    Tokenizer.from_str(text)  # fail here, not at load time, if anything is malformed
    return text


def boundary_mismatch_share(spec: BPESpec, stage1, lines: Iterable[str], stage2: str = DEFAULT_STAGE2) -> float:
    """Share of stage-2 chunks (occurrence-weighted) whose whole-chunk stage-1 encoding differs from stage 1
    applied per stage-1 pre-token: 0.0 means stage-1-then-stage-2 equals HF's by-rank inference here."""
    counts = count_chunks(spec, lines, stage2)
    chunks = list(counts)
    whole = encode_chunks_stage1(stage1, chunks)
    from tokenizers import Tokenizer

    per = Tokenizer.from_str(stage1.to_str())  # stage 1's own split, per stage-1 pre-token
    per.normalizer = None
    decoded = [_unmap(c) for c in chunks]
    split = [e.ids for e in per.encode_batch(decoded, add_special_tokens=False)]
    bad = sum(counts[c] for c, x, y in zip(chunks, whole, split) if x != y)
    return bad / max(1, sum(counts.values()))


def _unmap(mapped: str) -> str:
    """Byte-level mapped chunk -> the text it stands for (chunks are whole characters: cut on char boundaries)."""
    return (byte_level_token_bytes(mapped) or b"").decode("utf-8", errors="strict")


# ---------------------------------------------------------------------------------------------- random-interval
def random_interval_spec(spec: BPESpec) -> BPESpec:
    """SuperTokenizer's settings where the user set none: NFC normalization, tokens of at most 30 characters."""
    return replace(spec, normalization="nfc" if spec.normalization == "none" else spec.normalization,
                   max_token_length=spec.max_token_length or RANDOM_INTERVAL_MAX_TOKEN_CHARS)


def interval_sampler(opts: dict[str, Any]):
    """`rng -> chunk length`: the published bell-shaped bins (`PUBLISHED_INTERVALS`) or uniform [lo, hi]."""
    if opts.get("intervals", "published") == "uniform":
        lo, hi = opts.get("min_interval", DEFAULT_INTERVAL[0]), opts.get("max_interval", DEFAULT_INTERVAL[1])
        return lambda rng: rng.randint(lo, hi)
    return published_interval


def published_interval(rng: random.Random) -> int:
    """A chunk length as SuperTokenizer draws it: a bin by weight (`random.choices`), then uniform in the bin."""
    bins = [b for b, _ in PUBLISHED_INTERVALS]
    lo, hi = rng.choices(bins, weights=[w for _, w in PUBLISHED_INTERVALS], k=1)[0]
    return rng.randint(lo, hi)


def cut_at_random_intervals(text: str, rng: random.Random, lo: int | None = None, hi: int | None = None,
                            sep: str = SEPARATOR, sampler=None) -> str:
    """Insert `sep` after every chunk of `sampler(rng)` characters (default: uniform in [lo, hi]); the last
    chunk may be shorter."""
    if sampler is None:
        if lo is None or hi is None:
            raise ValueError("give lo and hi, or a sampler")
        sampler = lambda r: r.randint(lo, hi)  # noqa: E731
    parts = []
    pos, n = 0, len(text)
    while pos < n:
        step = sampler(rng)
        parts.append(text[pos:pos + step])
        pos += step
    return sep.join(parts)


def _cut_lines(corpus: Corpus, sampler, seed: int, normalize=None) -> Iterator[list[str]]:
    rng = random.Random(seed)
    batch: list[str] = []
    for line in corpus.lines():
        line = line.replace(SEPARATOR, "")
        if normalize is not None:
            line = normalize(line)  # cut the text the model will see (NFC changes lengths)
        batch.append(cut_at_random_intervals(line, rng, sampler=sampler))
        if len(batch) >= 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def train_random_interval(spec: BPESpec, corpus: Corpus, sampler=None, seed: int = DEFAULT_SEED) -> str:
    """One HF BPE pass over randomly cut text; the saved pipeline splits nothing (see module doc).

    `spec` is used as given (see `random_interval_spec` for the recipe's defaults); `sampler` defaults to the
    published interval distribution."""
    from tokenizers import Regex, pre_tokenizers

    tok = build_hf_tokenizer(spec)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SEPARATOR), behavior="removed"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    normalize = tok.normalizer.normalize_str if tok.normalizer is not None else None
    tok.train_from_iterator(_cut_lines(corpus, sampler or published_interval, seed, normalize), hf_trainer(spec))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    return tok.to_str()


# ---------------------------------------------------------------------------------------------- metrics
def spans_space(token: bytes) -> bool:
    """True when a token crosses a word boundary: an ASCII space remains after stripping the token's leading
    and trailing whitespace (" of the" and "ed to" span; " the", "the " and "   " do not)."""
    return b" " in token.strip()


def space_spanning_share(token_bytes: Iterable[bytes]) -> float:
    """Share of token occurrences that span a space (`spans_space`): spanning tokens / all tokens."""
    total = spanning = 0
    for t in token_bytes:
        total += 1
        spanning += spans_space(t)
    return spanning / total if total else float("nan")


def compare_on_heldout(path: Path, plain_path: Path | None, lines: Iterable[str]) -> dict[str, Any]:
    """Bytes/token (UTF-8 bytes / tokens, each line encoded alone) of the supertoken tokenizer and of a plain
    BPE of the same size, their ratio, and the occurrence share of space-spanning tokens.

    Both tokenizers score `evaluation_lines(lines)`, the very lines of train-bpe's held-out report under the same
    label; `lines` and `bytes` say what was scored."""
    from tokbench.metrics import rate
    from tokbench.text.evaluate import evaluation_lines

    lines = list(evaluation_lines(lines))
    n_bytes = sum(len(ln.encode("utf-8")) for ln in lines)
    tok = load_tokenizer(f"hf:{path}")
    ids = [i for seq in tok.encode_batch(lines) for i in seq]
    spans = [tok.token_bytes(i) for i in ids]
    out: dict[str, Any] = {
        "lines": len(lines),
        "bytes": n_bytes,
        "supertoken_bytes_per_token": rate.bytes_per_token(n_bytes, len(ids)),
        "space_spanning_token_share": space_spanning_share(spans),
        "space_spanning_vocab_share": space_spanning_share(tok.token_bytes(i) for i in range(tok.vocab_size)),
        "supertoken_vocab_size": tok.vocab_size,
    }
    if plain_path is not None:
        plain = load_tokenizer(f"hf:{plain_path}")
        n_plain = sum(len(seq) for seq in plain.encode_batch(lines))
        out["plain_bytes_per_token"] = rate.bytes_per_token(n_bytes, n_plain)
        out["plain_vocab_size"] = plain.vocab_size  # HF stops early when no pair reaches min_frequency
        out["bytes_per_token_ratio_vs_plain"] = out["supertoken_bytes_per_token"] / out["plain_bytes_per_token"]
    return out
