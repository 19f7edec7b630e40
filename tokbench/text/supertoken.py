"""Supertoken BPE: tokens that may cross whitespace, by two published recipes.

**superbpe** (Liu et al. 2025, "SuperBPE: Space Travel for Language Models", arXiv:2503.13423).
Stage 1 is ordinary byte-level BPE (HF trainer, whitespace-aware split pattern) up to the transition
vocabulary size t. Stage 2 keeps those merges and goes on learning merges over coarser chunks
(`STAGE2_PATTERNS`): words joined by single spaces form one chunk, while digit groups, punctuation runs,
newlines and other whitespace runs stay chunks of their own. HF `tokenizers` cannot resume training, so
stage 2 is our own trainer (`learn_merges`): weighted unique chunks, a pair -> chunk index, a lazy max-heap
and incremental pair-count updates touching only the chunks that hold the merged pair.

*Stage boundary analysis.* At inference HF's BPE applies all merges by rank inside each stage-2 chunk, so a
stage-1 merge could in principle join bytes across a stage-1 pre-token boundary inside a chunk (e.g. two
spaces of "a   the": a whitespace-run merge " "+" " could take the space of " the"). As the SuperBPE
authors' own trainer does, we start stage 2 from exactly what HF will do: each stage-2 chunk is encoded with
the stage-1 merges applied by rank over the whole chunk (HF itself does this), so training and inference
segmentations agree by construction. The stage-2 pattern keeps the difference from "stage 1 per stage-1
pre-token" away: inside a chunk every stage-1 boundary sits between a non-space and a single ASCII space or
an apostrophe of a contraction, and no stage-1 pre-token ever holds a non-space followed by a space (or a
letter followed by an apostrophe), so no stage-1 merge can span it; whitespace runs, digit groups and
newlines (where merges could span) are chunk boundaries. `boundary_mismatch_share` measures it.

*Ties.* Among pairs of equal count the smallest (left id, right id) wins, the rule of HF's BpeTrainer.
Stage 2 stops at the final vocabulary size or when the best pair occurs fewer than `min_frequency` times.
`max_words` (default 4, the value public SuperBPE training configs use) rejects merges whose token would touch more
than that many whitespace-separated words.

**random-interval** (the SuperTokenizer recipe of Sharthak et al. 2025, "Achieving Tokenizer Flexibility
in Language Models through Heuristic Adaptation and Supertoken Learning", arXiv:2505.09738): training text is
cut at character intervals drawn uniformly from [4, 23] (seeded), pre-tokenized on those cuts only, and
trained in one HF pass over the 256-byte alphabet (byte fallback: every byte is a token) with a maximum
token length. At inference no cuts are inserted: the saved pipeline has no split step at all, so each input
is one pre-token, merges apply by rank over it, and decoding returns the input exactly.
"""

from __future__ import annotations

import heapq
import json
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_text
from tokbench.sources.text import Corpus
from tokbench.text.bpe import (BYTE_ALPHABET, BPESpec, VariantOutcome, _set_threads, build_hf_tokenizer,
                               hf_trainer, train_hf, train_plain)
from tokbench.text.tokenizer import _bytes_to_unicode, byte_level_token_bytes, load_tokenizer

RECIPES = ("superbpe", "random-interval")
DEFAULT_RECIPE = "superbpe"
#: t / final vocab. The paper's 200k tokenizers use t in {80k, 160k, 180k}: t=180k (0.9) won downstream,
#: smaller t compresses more. At 32k on builtin:english, 0.8 clears the +15% bytes/token target.
DEFAULT_TRANSITION_RATIO = 0.8
DEFAULT_MAX_WORDS = 4
#: random-interval: chunk lengths in characters, both ends included (the SuperTokenizer config's range).
DEFAULT_INTERVAL = (4, 23)
DEFAULT_SEED = 0
#: cut marker for random-interval training text (a private-use character; removed by the split)
SEPARATOR = "\ue000"
KNOWN_OPTIONS = {"recipe", "transition", "transition_ratio", "max_words", "min_interval", "max_interval", "seed",
                 "compare_plain"}

_CONTRACTION_GPT4 = r"'(?i:[sdmt]|ll|ve|re)"
_CONTRACTION_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d"

#: Stage-2 chunking per stage-1 pattern: stage 1's alternatives, with the word alternative extended to swallow
#: following " word" and contraction pieces. Every chunk is a union of whole stage-1 pre-tokens.
STAGE2_PATTERNS = {
    "gpt4": (rf"""(?:{_CONTRACTION_GPT4}|[^\r\n\p{{L}}\p{{N}}]?+\p{{L}}+)(?:{_CONTRACTION_GPT4}| \p{{L}}+)*"""
             r"""|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""),
    "gpt2": (rf"""(?:{_CONTRACTION_GPT2}| ?\p{{L}}+)(?:{_CONTRACTION_GPT2}| \p{{L}}+)*"""
             r"""| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""),
}

PAIR_SHIFT = 24  # pair key = left << 24 | right (ids below 16.7M)
_PAIR_MASK = (1 << PAIR_SHIFT) - 1


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
        if spec.pretokenizer not in STAGE2_PATTERNS:
            raise TokbenchError(f"superbpe supports --pretokenizer {' or '.join(STAGE2_PATTERNS)} "
                                f"(got {spec.pretokenizer!r})")
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
        out.update(transition=t, max_words=max_words)
    else:
        lo = options.get("min_interval", DEFAULT_INTERVAL[0])
        hi = options.get("max_interval", DEFAULT_INTERVAL[1])
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise TokbenchError(f"supertoken: need 1 <= min_interval <= max_interval, got {lo!r} and {hi!r}")
        if "transition" in options or "max_words" in options:
            raise TokbenchError("--transition and --max-words apply to --recipe superbpe only")
        out.update(min_interval=lo, max_interval=hi)
    return out


# ---------------------------------------------------------------------------------------------- entry point
def train_supertoken(spec: BPESpec, corpus: Corpus, artifacts: Path, options: dict[str, Any]) -> VariantOutcome:
    """Train a supertoken tokenizer (recipe superbpe or random-interval) into `artifacts/tokenizer.json`."""
    opts = check_options(spec, options)
    _set_threads(spec.threads)
    timing: dict[str, Any] = {}
    if opts["recipe"] == "superbpe":
        tok_json, info = train_superbpe(spec, corpus, opts["transition"], opts["max_words"])
        timing.update(info)
    else:
        start = time.perf_counter()
        tok_json = train_random_interval(spec, corpus, opts["min_interval"], opts["max_interval"], opts["seed"])
        timing["train_seconds_one_pass"] = round(time.perf_counter() - start, 3)
    path = artifacts / "tokenizer.json"
    atomic_write_text(path, tok_json)
    manifest = {"format": "hf", "file": "tokenizer.json", "recipe": opts["recipe"]}
    if opts["recipe"] == "superbpe":
        manifest.update(transition=opts["transition"], max_words=opts["max_words"],
                        stage2_pattern=STAGE2_PATTERNS[spec.pretokenizer])
    extra: dict[str, dict[str, Any]] = {"training": timing}
    notes = []
    if opts["recipe"] == "superbpe" and timing["stage1_vocab_reached"] < opts["transition"]:
        notes.append(f"stage 1 stopped at {timing['stage1_vocab_reached']} tokens, below t = {opts['transition']}: "
                     f"no pair left with count >= {spec.min_frequency}; stage 2 started there")
    heldout = Corpus(corpus.specs, split="heldout", errors=corpus.errors)
    if any(line.strip() for line in heldout.lines()):
        plain_path = None
        with tempfile.TemporaryDirectory(prefix="tokbench-plain-") as tmp:
            if opts["compare_plain"]:
                plain_spec = replace(spec, variant="plain", options={})
                start = time.perf_counter()
                train_plain(plain_spec, corpus, Path(tmp), {})
                timing["plain_train_seconds"] = round(time.perf_counter() - start, 3)
                plain_path = Path(tmp) / "tokenizer.json"
            extra[f"{heldout.name}/heldout"] = compare_on_heldout(path, plain_path, heldout.lines())
    else:
        notes.append("held-out split is empty: bytes/token vs plain BPE and space-spanning share not measured")
    return VariantOutcome(manifest=manifest, extra_metrics=extra, notes=notes)


# ---------------------------------------------------------------------------------------------- superbpe
def train_superbpe(spec: BPESpec, corpus: Corpus, transition: int,
                   max_words: int | None = DEFAULT_MAX_WORDS) -> tuple[str, dict[str, Any]]:
    """Both stages; returns the final tokenizer.json text and timing/diagnostic figures."""
    start = time.perf_counter()
    stage1 = build_hf_tokenizer(spec)
    train_hf(stage1, hf_trainer(spec, vocab_size=transition), corpus)
    stage1_seconds = time.perf_counter() - start

    start = time.perf_counter()
    stage1_vocab = stage1.get_vocab_size(with_added_tokens=True)
    state = Stage2Input.from_corpus(spec, stage1, corpus.lines())
    merges = learn_merges(state.words, state.counts, state.token_bytes, spec.vocab_size,
                          min_frequency=spec.min_frequency, max_words=max_words,
                          max_chars=spec.max_token_length)
    stage2_seconds = time.perf_counter() - start
    tok_json = assemble_tokenizer(spec, stage1, state.token_bytes, merges)
    info = {"stage1_seconds": round(stage1_seconds, 3), "stage2_seconds": round(stage2_seconds, 3),
            "stage2_over_stage1": round(stage2_seconds / max(stage1_seconds, 1e-9), 3),
            "transition_vocab": transition, "stage1_vocab_reached": stage1_vocab, "stage2_merges": len(merges),
            "final_vocab_reached": len(state.token_bytes),
            "stage2_unique_chunks": len(state.words)}
    return tok_json, info


class Stage2Input:
    """Weighted unique stage-2 chunks as stage-1 token-id sequences, and the bytes of every stage-1 id."""

    def __init__(self, chunks: list[str], words: list[list[int]], counts: list[int], token_bytes: list[bytes]):
        self.chunks, self.words, self.counts, self.token_bytes = chunks, words, counts, token_bytes

    @classmethod
    def from_corpus(cls, spec: BPESpec, stage1, lines: Iterable[str]) -> Stage2Input:
        counts = count_chunks(spec, lines)
        chunks = [c for c, _ in counts.most_common()]
        ids = encode_chunks_stage1(stage1, chunks)
        token_bytes = vocab_bytes(stage1)
        table = _bytes_to_unicode()
        specials = ["".join(table[b] for b in s.encode("utf-8")) for s in spec.special_tokens]
        # a one-token chunk has no pair to merge; a chunk holding a literal special token never reaches the
        # model whole at inference (HF extracts added tokens first), so it must not teach merges either
        keep = [i for i, w in enumerate(ids) if len(w) > 1 and not any(s in chunks[i] for s in specials)]
        return cls([chunks[i] for i in keep], [ids[i] for i in keep], [counts[chunks[i]] for i in keep], token_bytes)


def stage2_pipeline(spec: BPESpec):
    """The untrained final pipeline: stage 1's normalizer and byte mapping, stage 2's chunking."""
    return build_hf_tokenizer(spec, STAGE2_PATTERNS[spec.pretokenizer])


def count_chunks(spec: BPESpec, lines: Iterable[str]) -> Counter:
    """Stage-2 chunks (byte-level mapped strings, as HF's pre-tokenizer yields them) -> occurrences."""
    pipe = stage2_pipeline(spec)
    normalizer, pre = pipe.normalizer, pipe.pre_tokenizer
    counts: Counter = Counter()
    for line, n in Counter(lines).items():  # repeated lines (blank ones above all) are split once
        if normalizer is not None:
            line = normalizer.normalize_str(line)
        for piece, _ in pre.pre_tokenize_str(line):
            counts[piece] += n
    return counts


def encode_chunks_stage1(stage1, chunks: Sequence[str]) -> list[list[int]]:
    """Stage-1 merges applied by rank over each whole (byte-mapped) chunk: what HF BPE does at inference.

    Calls the BPE model directly (no normalizer, pre-tokenizer or added-token matching): each chunk is one word.
    """
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
    """Whitespace-separated words a token touches (partial words count): len(token.split())."""
    return len(token.split())


def merge_allowed(token: bytes, max_words: int | None, max_chars: int | None) -> bool:
    if max_words is not None and word_count(token) > max_words:
        return False
    if max_chars is not None and len(token.decode("utf-8", errors="replace")) > max_chars:
        return False
    return True


def learn_merges(words: list[list[int]], counts: Sequence[int], token_bytes: list[bytes], vocab_size: int,
                 min_frequency: int = 2, max_words: int | None = DEFAULT_MAX_WORDS,
                 max_chars: int | None = None) -> list[tuple[int, int, int]]:
    """Incremental BPE from given token sequences until `len(token_bytes) == vocab_size`.

    Mutates `words` (merged in place) and `token_bytes` (new tokens appended). Returns (left, right, new)
    id triples in learning order. A merge whose bytes equal an existing token reuses that id (HF allows
    two merges to produce one token). Only chunks listed for the chosen pair are touched; pair counts change
    by local deltas around each occurrence (HF `Word::merge` style), never by recounting.
    """
    S, M = PAIR_SHIFT, _PAIR_MASK
    if len(token_bytes) + max(0, vocab_size - len(token_bytes)) >= 1 << S:
        raise TokbenchError("vocabulary too large for the stage-2 trainer (ids must stay below 2**24)")
    pc: defaultdict[int, int] = defaultdict(int)
    where: defaultdict[int, set[int]] = defaultdict(set)
    for i, w in enumerate(words):
        c = counts[i]
        for x, y in zip(w, w[1:]):
            key = x << S | y
            pc[key] += c
            where[key].add(i)
    heap = [(-c, k) for k, c in pc.items() if c >= min_frequency]
    heapq.heapify(heap)
    by_bytes = {b: i for i, b in enumerate(token_bytes)}
    merges: list[tuple[int, int, int]] = []
    pop, push = heapq.heappop, heapq.heappush
    while heap and len(token_bytes) < vocab_size:
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
            continue  # its count can only fall from here (a and b are old tokens): drop it for good
        new = by_bytes.get(merged)
        if new is None:
            new = len(token_bytes)
            token_bytes.append(merged)
            by_bytes[merged] = new
        merges.append((a, b, new))
        raised: set[int] = set()
        for i in where.pop(key):
            w = words[i]
            n = len(w)
            cnt = counts[i]
            out: list[int] = []
            last = search = 0
            while True:
                try:
                    p = w.index(a, search)
                except ValueError:
                    break
                if p + 1 < n and w[p + 1] == b:
                    if p > last:
                        out += w[last:p]
                    if out:
                        prev = out[-1]
                        pc[prev << S | a] -= cnt
                        k2 = prev << S | new
                        pc[k2] += cnt
                        where[k2].add(i)
                        raised.add(k2)
                    if p + 2 < n:
                        nxt = w[p + 2]
                        pc[b << S | nxt] -= cnt
                        k2 = new << S | nxt
                        pc[k2] += cnt
                        where[k2].add(i)
                        raised.add(k2)
                    out.append(new)
                    last = search = p + 2
                else:
                    search = p + 1
            if last:
                out += w[last:]
                words[i] = out
        pc.pop(key, None)
        raised.discard(key)
        for k2 in raised:
            c2 = pc[k2]
            if c2 >= min_frequency:
                push(heap, (-c2, k2))
    return merges


def assemble_tokenizer(spec: BPESpec, stage1, token_bytes: list[bytes], merges: list[tuple[int, int, int]]) -> str:
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
    final = json.loads(stage2_pipeline(spec).to_str())
    base["pre_tokenizer"] = final["pre_tokenizer"]
    text = json.dumps(base, ensure_ascii=False)
    Tokenizer.from_str(text)  # fail here, not at load time, if anything is malformed
    return text


def boundary_mismatch_share(spec: BPESpec, stage1, lines: Iterable[str]) -> float:
    """Share of stage-2 chunks (occurrence-weighted) whose whole-chunk stage-1 encoding differs from stage 1
    applied per stage-1 pre-token: 0.0 means stage-1-then-stage-2 equals HF's by-rank inference here."""
    counts = count_chunks(spec, lines)
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
def cut_at_random_intervals(text: str, rng: random.Random, lo: int, hi: int, sep: str = SEPARATOR) -> str:
    """Insert `sep` after every chunk of `rng.randint(lo, hi)` characters (the last chunk may be shorter)."""
    parts = []
    pos, n = 0, len(text)
    while pos < n:
        step = rng.randint(lo, hi)
        parts.append(text[pos:pos + step])
        pos += step
    return sep.join(parts)


def _cut_lines(corpus: Corpus, lo: int, hi: int, seed: int) -> Iterator[list[str]]:
    rng = random.Random(seed)
    batch: list[str] = []
    for line in corpus.lines():
        batch.append(cut_at_random_intervals(line.replace(SEPARATOR, ""), rng, lo, hi))
        if len(batch) >= 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def train_random_interval(spec: BPESpec, corpus: Corpus, lo: int = DEFAULT_INTERVAL[0],
                          hi: int = DEFAULT_INTERVAL[1], seed: int = DEFAULT_SEED) -> str:
    """One HF BPE pass over randomly cut text; the saved pipeline splits nothing (see module doc)."""
    from tokenizers import Regex, pre_tokenizers

    tok = build_hf_tokenizer(spec)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SEPARATOR), behavior="removed"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    max_len = spec.max_token_length or hi
    tok.train_from_iterator(_cut_lines(corpus, lo, hi, seed), hf_trainer(replace(spec, max_token_length=max_len)))
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
    BPE of the same size, their ratio, and the occurrence share of space-spanning tokens."""
    from tokbench.metrics import rate

    lines = [ln for ln in lines if ln]
    n_bytes = sum(len(ln.encode("utf-8")) for ln in lines)
    tok = load_tokenizer(f"hf:{path}")
    ids = [i for seq in tok.encode_batch(lines) for i in seq]
    spans = [tok.token_bytes(i) for i in ids]
    out: dict[str, Any] = {
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
