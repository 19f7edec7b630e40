"""Inputs cut into byte-range shards that workers read themselves (local paths, shared storage or fsspec URLs).

A shard is `[start, end)` of one file and owns the lines that *begin* in that range: a reader seeks to
`start - 1`, drops the rest of the line it lands in, and reads whole lines while their first byte lies before
`end` (the usual Hadoop rule), so every line belongs to exactly one shard whatever the cut points.

Files that hold out every tenth line (`tokbench.sources.text`'s rule for user files) need each line's number.
A first, cheap map counts the newlines of every shard; their running sum gives each shard the number of the
first line it owns, so the shards of one file agree with `iter_file_lines` line for line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

from tokbench.errors import TokbenchError
from tokbench.sources.text import ERROR_MODES, SPLITS, resolve

#: shard sizes: about four shards per worker (load balance, fine-grained resume), within these bounds
MIN_SHARD_BYTES = 1 << 20
MAX_SHARD_BYTES = 64 << 20
SHARDS_PER_WORKER = 4
HELDOUT_EVERY = 10  # the line rule of tokbench.sources.text (line numbers 10, 20, ... are held out)
_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    """One file a corpus names: where workers read it, its size, and which of its lines the split keeps."""

    url: str
    size: int
    source: str
    line_split: str  # "all" | "train" | "heldout"


@dataclass(frozen=True)
class Shard:
    """Lines of `url` that begin in `[start, end)`; `first_line` is the 0-based number of the first of them
    (None when the split keeps every line and nobody needs it)."""

    index: int
    url: str
    start: int
    end: int
    line_split: str
    first_line: int | None = None


def is_url(spec: str) -> bool:
    return "://" in spec


def _open(url: str, mode: str = "rb"):
    if is_url(url):
        import fsspec

        return fsspec.open(url, mode).open()
    return open(url, mode)


def expand_inputs(specs: Sequence[str], split: str = "all") -> list[InputFile]:
    """Every file the `--corpus` specs name. Local specs go through `tokbench.sources.text.resolve` (files, globs,
    directories, `builtin:`); fsspec URLs (`s3://bucket/*.txt`, `file:///shared/x.txt`, ...) are globbed by fsspec."""
    if split not in SPLITS:
        raise TokbenchError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    out: list[InputFile] = []
    for spec in specs:
        if spec == "-":
            raise TokbenchError("--engine reads files that workers can reach: stdin (-) cannot be sharded")
        if is_url(spec):
            out += _expand_url(spec, split)
        else:
            out += [InputFile(str(f.path), f.path.stat().st_size, f.source, f.line_split) for f in resolve(spec, split)]
    return out


def _expand_url(spec: str, split: str) -> list[InputFile]:
    import fsspec

    try:
        fs, paths = fsspec.core.url_to_fs(spec)
        if any(ch in spec for ch in "*?["):
            names = sorted(fs.glob(paths))
        elif fs.isdir(paths):
            names = sorted(p for p in fs.find(paths) if not p.rsplit("/", 1)[-1].startswith("."))
        else:
            names = [paths] if fs.exists(paths) else []
    except (ImportError, ValueError, OSError) as exc:
        raise TokbenchError(f"{spec}: cannot list ({exc})") from None
    if not names:
        raise TokbenchError(f"{spec}: no such file or no file matches")
    return [InputFile(fs.unstrip_protocol(name), int(fs.size(name)), spec, split) for name in names]


def auto_shard_bytes(total_bytes: int, workers: int) -> int:
    """About `SHARDS_PER_WORKER` shards per worker, clamped to [MIN_SHARD_BYTES, MAX_SHARD_BYTES]."""
    want = -(-total_bytes // max(1, workers * SHARDS_PER_WORKER))
    return int(min(MAX_SHARD_BYTES, max(MIN_SHARD_BYTES, want)))


def plan_shards(files: Sequence[InputFile], shard_bytes: int) -> list[Shard]:
    """Cut every file into shards of about `shard_bytes` (line numbers are filled in by `number_lines`)."""
    if shard_bytes < 1:
        raise TokbenchError("shard size must be at least 1 byte")
    shards: list[Shard] = []
    for f in files:
        starts = range(0, max(f.size, 1), shard_bytes)
        for s in starts:
            shards.append(Shard(len(shards), f.url, s, min(s + shard_bytes, f.size), f.line_split))
    return shards


def plan_id(shards: Sequence[Shard]) -> str:
    """A digest of the plan: a resumed run reuses finished shards only under the very same plan."""
    text = json.dumps([asdict(s) for s in shards], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def count_newlines(shard: Shard) -> int:
    """Newline bytes in `[start, end)` (the first map of a split that needs line numbers)."""
    n = 0
    with _open(shard.url) as fh:
        fh.seek(shard.start)
        left = shard.end - shard.start
        while left > 0:
            block = fh.read(min(_READ_BLOCK, left))
            if not block:
                break
            n += block.count(b"\n")
            left -= len(block)
    return n


def with_line_numbers(shards: Sequence[Shard], newlines: Sequence[int]) -> list[Shard]:
    """Give each shard the number of newlines before its start (the reader adjusts for a cut inside a line)."""
    out, before, url = [], 0, None
    for shard, n in zip(shards, newlines):
        if shard.url != url:
            url, before = shard.url, 0
        out.append(Shard(shard.index, shard.url, shard.start, shard.end, shard.line_split, before))
        before += n
    return out


def needs_line_numbers(shards: Sequence[Shard]) -> bool:
    return any(s.line_split != "all" for s in shards)


def shard_lines(shard: Shard, errors: str = "strict") -> Iterator[str]:
    """The shard's lines (with their newlines) that its split keeps, decoded under the `--errors` policy.

    Invalid UTF-8 under "strict" raises TokbenchError naming the file and the byte offset, like the local reader.
    """
    if errors not in ERROR_MODES:
        raise TokbenchError(f"unknown --errors mode {errors!r} (expected strict, replace or skip)")
    if shard.line_split != "all" and shard.first_line is None:
        raise ValueError("shard needs line numbers (with_line_numbers) for its split")
    keep_heldout = shard.line_split == "heldout"
    try:
        fh = _open(shard.url)
    except OSError as exc:
        raise TokbenchError(f"{shard.url}: cannot read ({exc})") from None
    with fh:
        pos = shard.start
        lineno = shard.first_line or 0  # 0-based number of the next line
        if pos > 0:
            fh.seek(pos - 1)
            head = fh.readline()
            pos += len(head) - 1
            if head != b"\n":  # landed inside a line: it belongs to the previous shard; its newline is ours
                lineno += 1 if head.endswith(b"\n") else 0
        while pos < shard.end:
            raw = fh.readline()
            if not raw:
                break
            start, pos = pos, pos + len(raw)
            lineno += 1
            if shard.line_split != "all" and ((lineno % HELDOUT_EVERY == 0) != keep_heldout):
                continue
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if errors == "strict":
                    raise TokbenchError(f"{shard.url}: invalid UTF-8 at byte offset {start + exc.start} "
                                        f"(line {lineno}); use --errors replace or --errors skip") from None
                if errors == "replace":
                    yield raw.decode("utf-8", errors="replace")
