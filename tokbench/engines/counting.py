"""Counting on the engine: a map over shards (each worker reads its own byte range), a merge on the driver, shard
results persisted as they arrive so an interrupted run starts again from the shards it has not finished.

What is counted is up to the caller's `counter(lines) -> {piece: count}`, a picklable callable run on the
workers: `PretokenCounter` reproduces what HF's BpeTrainer counts (each line normalized, then pre-tokenized, by
the very pipeline the tokenizer will use); the SuperBPE stage-2 chunk counter is the text module's own function,
handed in by the caller (engines never import a modality).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tokbench.engines.cluster import map_shards
from tokbench.engines.shards import (Shard, count_newlines, needs_line_numbers, plan_id, shard_lines,
                                     with_line_numbers)
from tokbench.engines.table import read_table, sum_tables, to_table, write_counts
from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_json, read_json

Counts = dict[str, int]
PLAN_FILE = "plan.json"
FOLD_EVERY = 4  # shard tables summed into the running total every this many


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (the byte-level alphabet HF's ByteLevel uses): printable
    Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _is_plain_byte_level(step: Mapping[str, Any]) -> bool:
    return (step.get("type") == "ByteLevel" and not step.get("add_prefix_space", True)
            and not step.get("use_regex", True))


def _plain_split_regex(pre: Mapping[str, Any] | None) -> Any:
    """The compiled `regex` pattern when the pre-tokenizer (its final plain ByteLevel step removed) is exactly one
    `Split(Regex, behavior=Isolated, invert=False)`: then `findall` per line gives HF's pieces (the property test
    in tests/test_engines.py checks it against HF on random and real text), at C speed and without a round trip
    through the tokenizers bindings per line. None for anything else (HF's pre-tokenizer is used)."""
    if pre is None:
        return None
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else [pre]
    if not steps or len(steps) != 1:
        return None
    step = steps[0]
    if step.get("type") != "Split" or step.get("behavior") != "Isolated" or step.get("invert"):
        return None
    pattern = (step.get("pattern") or {}).get("Regex")
    if pattern is None:
        return None
    import regex

    try:
        return regex.compile(pattern)
    except regex.error:
        return None


class PretokenCounter:
    """Pre-token counts of lines exactly as HF's trainer makes them: each line through the pipeline's normalizer
    and pre-tokenizer (`Tokenizer.train` feeds every line, newline included, as one sequence).

    When the pre-tokenizer ends with a plain `ByteLevel` step (no prefix space, no regex), that step only maps
    each piece's UTF-8 bytes to the byte-level alphabet; it is applied once per distinct piece instead of once
    per occurrence (the same strings, a third less time). When what is left is one `Split(Regex, Isolated)`, lines
    are split by the `regex` module instead of HF's bindings (about 2x faster counting; see `_plain_split_regex`).
    Repeated lines are split once.
    """

    def __init__(self, pipeline_json: str) -> None:
        self.pipeline_json = pipeline_json
        self._built: tuple[Any, Any, dict[int, str] | None] | None = None
        self._split: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"pipeline_json": self.pipeline_json, "_built": None, "_split": None}

    def _build(self) -> tuple[Any, Any, dict[int, str] | None]:
        if self._built is None:
            from tokenizers import Tokenizer

            config = json.loads(self.pipeline_json)
            pre = config.get("pre_tokenizer")
            table = None
            if pre and pre.get("type") == "Sequence" and pre["pretokenizers"] and \
                    _is_plain_byte_level(pre["pretokenizers"][-1]):
                rest = pre["pretokenizers"][:-1]
                config["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": rest} if rest else None
                table = {b: ch for b, ch in bytes_to_unicode().items()}
            tok = Tokenizer.from_str(json.dumps(config))
            self._built = (tok.normalizer, tok.pre_tokenizer, table)
            self._split = _plain_split_regex(config.get("pre_tokenizer")) if table is not None else None
        return self._built

    def __call__(self, lines: Iterable[str]) -> Counts:
        normalizer, pre, table = self._build()
        findall = self._split.findall if self._split is not None else None
        raw: Counter = Counter()
        for line, n in Counter(lines).items():
            if normalizer is not None:
                line = normalizer.normalize_str(line)
            if findall is not None:
                pieces = findall(line)
                if sum(map(len, pieces)) != len(line):  # a gap between matches: HF keeps it, findall does not
                    pieces = [p for p, _ in pre.pre_tokenize_str(line)]
            else:
                pieces = [p for p, _ in pre.pre_tokenize_str(line)] if pre is not None else [line]
            if n == 1:
                raw.update(pieces)
            else:
                for p in pieces:
                    raw[p] += n
        if findall is not None:
            raw.pop("", None)  # an empty regex match: HF's Split drops it, findall returns it
        if table is None:
            return dict(raw)
        out: Counter = Counter()
        for piece, n in raw.items():
            out[piece.encode("utf-8").decode("latin-1").translate(table)] += n
        return dict(out)


def count_shard(shard: Shard, counter: Callable[[Iterable[str]], Mapping[str, int]], errors: str) -> Any:
    """Worker side: the counts of one shard's lines, as an Arrow (piece, count) table (compact to send)."""
    return to_table(counter(shard_lines(shard, errors)))


def number_shards(client: Any, shards: Sequence[Shard]) -> list[Shard]:
    """Shards of files split by line number get the number of their first line (one newline-count map)."""
    if not needs_line_numbers(shards):
        return list(shards)
    newlines = {s.index: n for s, n in map_shards(client, count_newlines, shards, description="line numbers")}
    return with_line_numbers(shards, [newlines[s.index] for s in shards])


def count_corpus(client: Any, shards: Sequence[Shard], counter: Callable[[Iterable[str]], Mapping[str, int]], *,
                 errors: str = "strict", state_dir: str | Path | None = None,
                 description: str = "counting") -> tuple[Any, dict[str, int]]:
    """Map `counter` over `shards` on the engine and sum the results.

    Returns (the merged (piece, count) Arrow table, {"shards", "reused"}). Shard results arrive as Arrow tables
    and are summed by Arrow's hash aggregation every `FOLD_EVERY` shards, so the driver holds no Python object
    per piece while counting. With `state_dir`, each finished shard is written there (`shard-NNNNN.parquet`)
    under the plan's digest, and a later call with the same plan reads those instead of recounting.
    """
    shards = number_shards(client, shards)
    digest = plan_id(shards)
    folder = Path(state_dir) if state_dir is not None else None
    done: set[int] = set()
    if folder is not None:
        plan_path = folder / PLAN_FILE
        if plan_path.exists() and read_json(plan_path).get("plan") == digest:
            done = {s.index for s in shards if _shard_path(folder, s).exists()}
        else:
            for old in folder.glob("shard-*.parquet"):
                old.unlink()
            atomic_write_json(plan_path, {"plan": digest, "shards": len(shards)})
    pending: list[Any] = []

    def fold(force: bool = False) -> None:
        if len(pending) > 1 and (force or len(pending) > FOLD_EVERY):
            pending[:] = [sum_tables(pending)]

    for s in shards:
        if s.index in done:
            pending.append(read_table(_shard_path(folder, s)))  # type: ignore[arg-type]
            fold()
    todo = [s for s in shards if s.index not in done]
    for shard, part in map_shards(client, count_shard, todo, counter, errors, description=description):
        if folder is not None:
            write_counts(_shard_path(folder, shard), part, {"shard": shard.index, "url": shard.url,
                                                           "start": shard.start, "end": shard.end})
        pending.append(part)
        fold()
    fold(force=True)
    if not pending or pending[0].num_rows == 0:
        raise TokbenchError("the corpus holds no text to count")
    return pending[0], {"shards": len(shards), "reused": len(done)}


def _shard_path(folder: Path, shard: Shard) -> Path:
    return folder / f"shard-{shard.index:05d}.parquet"
