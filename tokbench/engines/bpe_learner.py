"""BPE merges learned from weighted word counts, reproducing HF `tokenizers`' BpeTrainer exactly.

HF's trainer takes no counts (it counts the words it is fed itself), so the distributed path counts pre-tokens
on the engine and learns here. The rules below are those of `tokenizers/src/models/bpe/trainer.rs` and
`word.rs` (tokenizers 0.23), re-implemented so that the same counts give the same vocabulary and merges:

- ids: special tokens first (in order, duplicates once), then the alphabet (every character seen in a word
  plus the initial alphabet) sorted by code point;
- pair counts are summed over sliding windows of each word (so "aaa" holds ("a", "a") twice), weighted by
  the word's count; a max-heap pops the highest count, ties going to the smallest (left id, right id);
- a popped entry whose count is stale is pushed back with the current count; the first valid entry whose
  count is below 1 or `min_frequency` stops training, as does reaching `vocab_size`;
- a merge whose string already is a token reuses that id; each heap entry carries the word positions it was
  pushed with, and only those words are merged (left to right, non-overlapping), recording -1 for the pairs
  it breaks and +1 for the pairs it makes (+1 only while the neighbour's length plus the new token's length
  stays below `max_token_length`); pairs that gained are pushed afresh with the positions where they gained.
  The merged pair's own count is left as HF leaves it.

Cost: memory is the unique words plus a pair index; each merge touches only the words listed for its pair.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from tokbench import progress
from tokbench.errors import TokbenchError

_SHIFT = 24  # pair key = left << 24 | right: one int, ordered like the (left, right) tuple
_MASK = (1 << _SHIFT) - 1


@dataclass
class LearnedBPE:
    """What HF's trainer hands its BPE model: token -> id, and merges in learning order."""

    vocab: dict[str, int]
    merges: list[tuple[str, str]]


@contextmanager
def _no_gc() -> Iterator[None]:
    """The learner makes millions of small lists but no cycles: the cyclic collector only costs time (~30%)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def learn_bpe(word_counts: Mapping[str, int], vocab_size: int, *, special_tokens: Iterable[str] = (),
              initial_alphabet: Iterable[str] = (), min_frequency: int = 0,
              max_token_length: int | None = None) -> LearnedBPE:
    """HF BpeTrainer's result for a trainer fed words with these counts (see the module doc for the rules).

    `max_token_length` is the trainer's own parameter (HF keeps tokens strictly shorter than it).
    """
    with _no_gc():
        return _learn(word_counts, vocab_size, list(special_tokens), initial_alphabet, min_frequency,
                      max_token_length)


def _learn(word_counts: Mapping[str, int], vocab_size: int, special_tokens: list[str],
           initial_alphabet: Iterable[str], min_frequency: int, max_token_length: int | None) -> LearnedBPE:
    if vocab_size + len(word_counts) >= 1 << 31 or vocab_size >= 1 << _SHIFT:
        raise TokbenchError("vocabulary too large for the counts learner (ids must stay below 2**24)")
    id_to_word: list[str] = []
    word_to_id: dict[str, int] = {}
    for token in special_tokens:
        if token not in word_to_id:
            word_to_id[token] = len(id_to_word)
            id_to_word.append(token)
    alphabet = set(initial_alphabet)
    for word in word_counts:
        alphabet.update(word)
    for ch in sorted(alphabet):
        if ch not in word_to_id:
            word_to_id[ch] = len(id_to_word)
            id_to_word.append(ch)
    lengths = [len(t) for t in id_to_word]

    words: list[list[int]] = []
    counts: list[int] = []
    for word, count in word_counts.items():
        words.append([word_to_id[ch] for ch in word])
        counts.append(int(count))

    S = _SHIFT
    pair_counts: dict[int, int] = {}
    where: dict[int, list[int]] = {}  # word positions per pair; a repeated position is harmless (see below)
    pc_get, where_get = pair_counts.get, where.get
    for i, w in enumerate(words):
        c = counts[i]
        for x, y in zip(w, w[1:]):
            key = x << S | y
            pair_counts[key] = pc_get(key, 0) + c
            pos = where_get(key)
            if pos is None:
                where[key] = [i]
            elif pos[-1] != i:
                pos.append(i)
    # heap entries: (-count, pair key, push order, positions); push order breaks HF's arbitrary ties between
    # two entries of one pair (possible only after a merge reused an existing token) and keeps sets uncompared
    heap = [(-pair_counts[k], k, n, pos) for n, (k, pos) in enumerate(where.items()) if pair_counts[k] > 0]
    heapq.heapify(heap)
    pushed = len(heap)
    del where
    limit = max_token_length
    merges: list[tuple[int, int]] = []
    pop, push = heapq.heappop, heapq.heappush
    with progress.task("merges from counts", total=max(0, vocab_size - len(word_to_id))) as bar:
        while len(word_to_id) < vocab_size and heap:
            negc, key, order, pos = pop(heap)
            current = pair_counts[key]
            if -negc != current:
                push(heap, (-current, key, order, pos))
                continue
            if current < 1 or min_frequency > current:
                break
            a, b = key >> S, key & _MASK
            token = id_to_word[a] + id_to_word[b]
            new = word_to_id.get(token)
            if new is None:
                new = len(id_to_word)
                word_to_id[token] = new
                id_to_word.append(token)
                lengths.append(len(token))
                bar.advance()
            merges.append((a, b))
            new_len = lengths[new]
            # HF keeps a set of positions per entry; a list may name a word twice, and the second visit finds
            # nothing left to merge, so the counts come out the same
            gained: dict[int, list[int]] = {}
            gained_get = gained.get
            for i in pos:
                w = words[i]
                try:
                    p = w.index(a)
                except ValueError:
                    continue
                cnt = counts[i]
                while True:  # left to right; a merged symbol is the left neighbour of the next occurrence
                    if p + 1 < len(w) and w[p + 1] == b:
                        if p:
                            prev = w[p - 1]
                            k2 = prev << S | a
                            pair_counts[k2] = pc_get(k2, 0) - cnt
                            if limit is None or lengths[prev] + new_len < limit:
                                k2 = prev << S | new
                                pair_counts[k2] = pc_get(k2, 0) + cnt
                                g = gained_get(k2)
                                if g is None:
                                    gained[k2] = [i]
                                elif g[-1] != i:
                                    g.append(i)
                        if p + 2 < len(w):
                            nxt = w[p + 2]
                            k2 = b << S | nxt
                            pair_counts[k2] = pc_get(k2, 0) - cnt
                            if limit is None or lengths[nxt] + new_len < limit:
                                k2 = new << S | nxt
                                pair_counts[k2] = pc_get(k2, 0) + cnt
                                g = gained_get(k2)
                                if g is None:
                                    gained[k2] = [i]
                                elif g[-1] != i:
                                    g.append(i)
                        w[p:p + 2] = (new,)
                    try:
                        p = w.index(a, p + 1)
                    except ValueError:
                        break
            for k2, where_gained in gained.items():
                c2 = pair_counts[k2]
                if c2 > 0:
                    push(heap, (-c2, k2, pushed, where_gained))
                    pushed += 1
    return LearnedBPE(vocab=dict(word_to_id),
                      merges=[(id_to_word[a], id_to_word[b]) for a, b in merges])
