"""Count tables on disk: Parquet files of (piece, count) with the recipe that produced them in the file metadata.

One layout for both uses: a finished shard's counts (`<run>/engine/<stage>/shard-NNNNN.parquet`, what a
resumed run reuses) and the merged counts (`<run>/artifacts/counts/<stage>.parquet`, what `--from-counts`
learns from). The metadata (`tokbench.counts`, JSON) holds the normalizer and pre-tokenizer, the split pattern,
the training recipe and the totals, so a table is never applied with a different pipeline than its own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError

META_KEY = b"tokbench.counts"


def to_table(counts: Mapping[str, int] | Any) -> Any:
    """(piece, count) as an Arrow table (an Arrow table is passed through without its metadata)."""
    import pyarrow as pa

    if isinstance(counts, pa.Table):
        return counts.replace_schema_metadata(None)
    return pa.table({"piece": pa.array(list(counts.keys()), pa.large_string()),
                     "count": pa.array(list(counts.values()), pa.int64())})


def sum_tables(tables: list[Any]) -> Any:
    """One (piece, count) table holding the summed counts of `tables` (Arrow's hash aggregation, off the heap)."""
    import pyarrow as pa

    tables = [t for t in tables if t is not None]
    if len(tables) == 1:
        return tables[0]
    # combine_chunks copies into Arrow-allocated (aligned) buffers: tables unpickled from workers may not be
    merged = pa.concat_tables([to_table(t) for t in tables]).combine_chunks()
    merged = merged.group_by("piece").aggregate([("count", "sum")])
    return merged.select(["piece", "count_sum"]).rename_columns(["piece", "count"])


def as_dict(table: Any) -> dict[str, int]:
    """piece -> count of a count table."""
    return dict(zip(table.column("piece").to_pylist(), table.column("count").to_pylist()))


def write_counts(path: str | os.PathLike, counts: Mapping[str, int] | Any,
                 meta: Mapping[str, Any] | None = None) -> Path:
    """Write counts (a mapping or a (piece, count) Arrow table) most frequent first, atomically; `meta` goes
    into the Parquet schema metadata with the number of distinct pieces and the total."""
    import json

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = to_table(counts).sort_by([("count", "descending"), ("piece", "ascending")])
    info = {"unique": table.num_rows, "total": int(pc.sum(table.column("count")).as_py() or 0), **dict(meta or {})}
    table = table.replace_schema_metadata({META_KEY: json.dumps(info, sort_keys=True).encode()})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The recipe and totals stored with a count table."""
    import json

    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise TokbenchError(f"{path}: not a count table ({exc})") from None
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise TokbenchError(f"{path}: Parquet file without tokbench count metadata")
    return json.loads(raw)


def read_table(path: str | os.PathLike) -> Any:
    """The (piece, count) Arrow table of a count table file."""
    import pyarrow.parquet as pq

    read_meta(path)
    return pq.read_table(path, columns=["piece", "count"]).replace_schema_metadata(None)


def read_counts(path: str | os.PathLike) -> tuple[dict[str, int], dict[str, Any]]:
    """(piece -> count, metadata) of a table written by `write_counts`."""
    return as_dict(read_table(path)), read_meta(path)
