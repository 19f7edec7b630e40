"""Reading run folders for the dashboard, cached so a rerun of the script does not re-read the disk.

The cache key includes a cheap signature of the folder (names and modification times of each run's files),
so a run that finishes or gains an evaluation while the dashboard is open shows up on the next rerun.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from tokbench.runs import LOG_FILE, METRICS_FILE, REPORT_FILE, RUN_FILE, RunRecord, list_runs

ENV_RUNS_DIR = "TOKBENCH_RUNS_DIR"
TEXT_KINDS = ("text-bpe", "text-eval")
VISUAL_KINDS = ("visual-vq", "visual-eval")
AUDIO_KINDS = ("audio-codec", "audio-eval")
BENCH_KINDS = ("bench",)
ROW_COLUMNS = ["run", "run_kind", "source", "subject", "dataset", "metric", "value", "budget", "language", "script",
               "unit", "note", "command", "split", "lines", "bytes"]
#: a text row's provenance (issue 12): which command scored which split, on how many lines and bytes
PROVENANCE = ("command", "split", "lines", "bytes")


def default_runs_dir() -> Path:
    """`streamlit run apps/dashboard.py -- RUNS_DIR`, else $TOKBENCH_RUNS_DIR, else ./runs."""
    argv = sys.argv
    if argv and Path(argv[0]).name == "dashboard.py" and len(argv) > 1 and argv[1].strip():
        return Path(argv[1]).expanduser()
    return Path(os.environ.get(ENV_RUNS_DIR) or "runs").expanduser()


def run_file(record: RunRecord, *parts: str) -> Path | None:
    """`record.path / parts...` when it is a regular file reached without any symlink (the run folder, each
    folder on the way and the file itself), else None: the dashboard reads nothing outside the runs folder."""
    path = record.path
    if path.is_symlink():
        return None
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    return path if path.is_file() else None


def run_files(record: RunRecord, *folder: str) -> list[Path]:
    """The regular, non-symlinked files of a folder inside a run (see `run_file`), by name."""
    base = record.path
    for part in (None, *folder):
        if part is not None:
            base = base / part
        if base.is_symlink():
            return []
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if not p.is_symlink() and p.is_file())


def safe_spec(runs_dir: Path, spec: str) -> str | None:
    """A tokenizer spec that a run.json names (`hf:PATH`, `spm:PATH`, `tiktoken:PATH#..`, or a run folder),
    rewritten with an absolute path, when that path lies under the runs folder and is reached without symlinks;
    else None. Specs the user types in the page are theirs to choose; specs read from run files must pass
    this before the dashboard opens them. A relative path is tried from the working folder and from the runs
    folder's parent (where `tokbench` commands usually run)."""
    prefix, _, rest = spec.partition(":")
    typed = prefix in ("hf", "spm", "tiktoken")
    raw = rest if typed else spec
    raw, hash_, pattern = raw.partition("#")
    if not raw:
        return None
    try:
        root = Path(os.path.normpath(runs_dir.absolute()))
        real_root = runs_dir.resolve(strict=True)
    except OSError:
        return None
    path = Path(raw).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, root.parent / path]
    for candidate in candidates:
        candidate = Path(os.path.normpath(candidate))
        for base in (root, real_root):
            try:
                rel = candidate.relative_to(base)
            except ValueError:
                continue
            if _real_path_under(real_root, rel):
                found = str(real_root / rel)
                return f"{prefix}:{found}{hash_}{pattern}" if typed else found
    return None


def _real_path_under(root: Path, rel: Path) -> bool:
    probe = root
    for part in rel.parts:
        if part in ("..", "."):
            return False
        probe = probe / part
        if probe.is_symlink():
            return False
    if probe.is_dir():  # a run folder: its artifacts must be real files too
        artifacts = probe / "artifacts"
        return artifacts.is_dir() and not artifacts.is_symlink() and \
            all(not p.is_symlink() for p in artifacts.iterdir())
    return probe.is_file()


def folder_signature(runs_dir: Path) -> tuple:
    """Names and mtimes of every run's files: changes whenever a writer renames a new file into place."""
    if not runs_dir.is_dir():
        return ()
    sig = []
    for child in sorted(runs_dir.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        stamps = []
        for name in (RUN_FILE, METRICS_FILE, REPORT_FILE, LOG_FILE):
            try:
                stamps.append((child / name).stat().st_mtime_ns)
            except OSError:
                stamps.append(0)
        sig.append((child.name, tuple(stamps)))
    return tuple(sig)


@st.cache_data(show_spinner=False, max_entries=8)
def _load(runs_dir: str, signature: tuple) -> list[RunRecord]:
    return list_runs(runs_dir)


def load_all(runs_dir: Path) -> list[RunRecord]:
    """Every run folder under `runs_dir` (unreadable ones carry `error`), oldest first."""
    return _load(str(runs_dir), folder_signature(runs_dir))


def short_name(name: str) -> str:
    """A data source as a person reads it: a path keeps only its file name (and what follows it)."""
    if "/" in name and not name.startswith("builtin:"):
        parts = [p for p in name.split("/") if p]
        tail = [p for p in parts if p in ("train", "heldout", "test", "all")]
        stem = [p for p in parts if p not in tail]
        return "/".join(stem[-1:] + tail) if stem else name
    return name


def data_summary(record: RunRecord) -> str:
    """The data a run used, as one short line: each source once, with its split; for evaluation runs
    without a fingerprint, the datasets their report rows name."""
    seen: list[str] = []
    for item in record.info.get("data") or []:
        if not isinstance(item, dict):
            continue
        label = short_name(str(item.get("source") or item.get("name") or item.get("path", "?")))
        split = item.get("split")
        if split and split != "all" and f"({split})" not in label:
            label = f"{label} ({split})"
        if label not in seen:
            seen.append(label)
    if not seen and isinstance(record.report, dict):
        for row in record.report.get("rows") or []:
            if isinstance(row, dict) and row.get("dataset") and short_name(str(row["dataset"])) not in seen:
                seen.append(short_name(str(row["dataset"])))
    return ", ".join(seen[:4]) + (f" +{len(seen) - 4}" if len(seen) > 4 else "")


#: metrics worth a glance in the runs table, in order; anything else follows.
KEY_METRICS = ("bytes_per_token", "tokens_per_word", "fertility", "vocab_utilization", "round_trip_rate", "psnr",
               "psnr_db", "ssim", "rfid", "si_snr_db", "mel_distance", "kbps", "speedup_vs_cdist", "loss")
LOWER_IS_BETTER = ("fertility", "tokens_per_word", "rfid", "mel_distance", "loss", "seconds")


def key_metrics(record: RunRecord, limit: int = 3) -> str:
    """The most telling few metrics of the run, as `name=value` pairs a person can scan."""
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    for dataset, values in (record.metrics or {}).items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in seen:
                seen.add(name)
                rank = KEY_METRICS.index(name) if name in KEY_METRICS else len(KEY_METRICS)
                found.append((rank, f"{name}={fmt(value)}"))
    found.sort(key=lambda t: t[0])
    parts = [text for _, text in found[:limit]]
    rows = (record.report or {}).get("rows") if isinstance(record.report, dict) else None
    if not parts and rows:  # an evaluation: the best value of its most telling metrics, and its breadth
        rows = [r for r in rows if isinstance(r, dict) and isinstance(r.get("value"), (int, float))]
        subjects = {r.get("subject") for r in rows}
        for name in KEY_METRICS:
            values = [r["value"] for r in rows if r.get("metric") == name]
            if values:
                best = min(values) if name in LOWER_IS_BETTER else max(values)
                parts.append(f"best {name}={fmt(best)}")
            if len(parts) >= limit - 1:
                break
        parts.append(f"{len(subjects)} subject{'s' if len(subjects) != 1 else ''}, {len(rows)} rows")
    return "; ".join(parts)


EMPTY = "—"  #: the one marker every table shows for a missing value (never "nan" or "None")


def fmt(value: Any, digits: int = 4) -> str:
    """A number the way every table shows it: integers (and integral floats) as grouped integers, other
    numbers with `digits` significant digits (scientific notation past 10^7 or under 10^-3), a missing
    value (None, NaN, NA) as EMPTY."""
    import math
    import numbers

    if value is None or value is pd.NA or value is pd.NaT:
        return EMPTY
    if isinstance(value, (bool, np_bool())):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return EMPTY
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        size = abs(value)
        if size >= 1e7 or (0 < size < 1e-3):
            return f"{value:.{digits - 1}e}"
        if value.is_integer():
            return f"{int(value):,}"
        if size >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    text = str(value)
    return EMPTY if text in ("", "nan", "None", "NaN", "<NA>") else text


def np_bool() -> type:
    import numpy as np

    return np.bool_


def runs_table(records: Iterable[RunRecord]) -> pd.DataFrame:
    rows = []
    for r in records:
        if r.error:
            continue
        rows.append({"run": r.name, "kind": r.kind, "status": r.status, "data": data_summary(r),
                     "key metrics": key_metrics(r), "started": (r.info.get("started") or "")[:19].replace("T", " "),
                     "finished": (r.info.get("finished") or "")[:19].replace("T", " ")})
    return pd.DataFrame(rows, columns=["run", "kind", "status", "data", "key metrics", "started", "finished"])


def metric_rows(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One long table of every number the selected runs hold: report.json rows or, for runs without a
    report (training runs), metrics.json entries with the run's name as subject."""
    rows: list[dict] = []
    for r in records:
        if r.error:
            continue
        seen = set()
        report = r.report if isinstance(r.report, dict) else {}
        for row in report.get("rows") or []:
            if not isinstance(row, dict) or "metric" not in row:
                continue
            item = {c: row.get(c) for c in ROW_COLUMNS if c not in ("run", "run_kind", "source")}
            item.update(run=r.name, run_kind=r.kind, source="report")
            item["subject"] = item.get("subject") or r.name
            rows.append(item)
            seen.add((item["subject"], item.get("dataset"), item["metric"]))
        if seen:  # a run with a report keeps in metrics.json only a summary of those rows
            continue
        for dataset, values in (r.metrics or {}).items():
            if not isinstance(values, dict):
                continue
            for metric, value in values.items():
                if isinstance(value, (dict, list, str)):
                    continue
                prov = (r.info.get("evaluations") or {}).get(dataset) if isinstance(r.info.get("evaluations"), dict) \
                    else None
                prov = {k: prov.get(k) for k in PROVENANCE} if isinstance(prov, dict) else {}
                rows.append({"run": r.name, "run_kind": r.kind, "source": "metrics", "subject": r.name,
                             "dataset": dataset, "metric": metric, "value": value, **prov})
    frame = pd.DataFrame(rows, columns=ROW_COLUMNS)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def unavailable(records: Iterable[RunRecord]) -> list[tuple[str, str, str]]:
    """(run, metric, reason) for every metric a report says it could not compute honestly."""
    out = []
    for r in records:
        report = r.report if isinstance(r.report, dict) else {}
        for item in report.get("unavailable") or []:
            if isinstance(item, dict):
                out.append((r.name, str(item.get("metric", "?")), str(item.get("reason", ""))))
    return out


def read_log(record: RunRecord) -> pd.DataFrame:
    """log.jsonl as a frame of its numeric columns (cached on the file's mtime)."""
    path = record.path / LOG_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return pd.DataFrame()
    return _read_log(str(record.path), stamp)


@st.cache_data(show_spinner=False, max_entries=32)
def _read_log(run_dir: str, stamp: int) -> pd.DataFrame:
    from tokbench.runs import read_log as _records

    frame = pd.DataFrame(_records(run_dir))
    if frame.empty:
        return frame
    keep = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    return frame[keep]


@st.cache_data(show_spinner=False, max_entries=16)
def read_npz(path: str, stamp: int) -> dict[str, Any]:
    """The arrays of an .npz file (no pickles: `allow_pickle=False`)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@st.cache_resource(show_spinner="Loading tokenizer…", max_entries=16)
def tokenizer(spec: str, stamp: int = 0):
    """A tokenizer loaded once per spec (and file version) for all sessions."""
    from tokbench import load_tokenizer

    return load_tokenizer(spec)


def selection(records: list[RunRecord], kinds: tuple[str, ...]) -> tuple[list[RunRecord], bool]:
    """The runs of `kinds` picked in the sidebar; when none of them is picked, all of them.
    Returns (runs, whether they came from the user's pick)."""
    picked = set(st.session_state.get("selected_runs") or [])
    of_kind = [r for r in records if not r.error and r.kind in kinds]
    chosen = [r for r in of_kind if r.name in picked]
    return (chosen, True) if chosen else (of_kind, False)


def context() -> tuple[Path, list[RunRecord]]:
    """The runs folder chosen in the sidebar and its runs (cached), for a page script."""
    runs_dir = Path(str(st.session_state.get("runs_dir") or default_runs_dir())).expanduser()
    return runs_dir, load_all(runs_dir)


FIRST_RUN_HELP = """\
**No runs yet in `{runs_dir}`.** A run folder is what every tokbench command writes; create a first one:

```bash
make demo                                   # set up, then train the default BPE tokenizer
tokbench train-bpe --corpus builtin:english --vocab-size 8192   # or choose corpus and size
tokbench eval-text runs/<RUN>               # compare tokenizers (premiums across languages)
tokbench fit-vq --family grid2d && tokbench eval-vq runs/<RUN>   # an image tokenizer
tokbench fit-audio && tokbench eval-audio runs/<RUN>             # an audio codec
tokbench bench-lookup                       # nearest-code kernel benchmark
```
Then reload this page (or point the sidebar's *Runs folder* at another folder).
"""


def guidance(runs_dir: Path, what: str | None = None) -> None:
    """Say how to make the runs a page needs, instead of an empty page."""
    if what:
        st.info(what)
    else:
        st.info(FIRST_RUN_HELP.format(runs_dir=runs_dir))


def pick_note(from_user: bool, runs: list[RunRecord], what: str) -> None:
    names = ", ".join(r.name for r in runs)
    if from_user:
        st.caption(f"Comparing the picked {what}: {names}")
    else:
        st.caption(f"Showing all {len(runs)} {what}: {names}. Pick runs in the sidebar to narrow.")


def _tok_key(name: str, tokenizer) -> str:
    path = Path(str(getattr(tokenizer, "path", "")))
    return f"{name}|{path}|{mtime(path)}"


def vocab_table(name: str, tokenizer) -> list[dict]:
    return _vocab_table(_tok_key(name, tokenizer), tokenizer)


def token_counts(name: str, tokenizer, corpus: str) -> dict[int, int]:
    return _token_counts(_tok_key(name, tokenizer), tokenizer, corpus)


@st.cache_data(show_spinner="Reading the vocabulary…", max_entries=16)
def _vocab_table(key: str, _tokenizer) -> list[dict]:
    """The vocabulary rows of a tokenizer (see `tbdash.vocab.vocab_rows`), cached per tokenizer name."""
    from tbdash.vocab import vocab_rows

    return vocab_rows(_tokenizer)


@st.cache_data(show_spinner="Counting token frequencies…", max_entries=8)
def _token_counts(key: str, _tokenizer, corpus: str, max_chars: int = 300_000) -> dict[int, int]:
    """How often each id occurs when the tokenizer encodes the corpus's held-out split (first `max_chars`)."""
    from tokbench import Corpus
    from tokbench.metrics.codebook import counts_from_ids

    text = Corpus(corpus, split="heldout").text(max_chars=max_chars)
    ids = [i for line in text.splitlines() for i in _tokenizer.encode(line)]
    counts = counts_from_ids(ids, int(_tokenizer.vocab_size))
    return {int(k): int(v) for k, v in enumerate(counts) if v}


def vocab_diff(name_a: str, tok_a, name_b: str, tok_b):
    """`tokbench.text.inspect.vocab_diff` (tokens compared by bytes, specials left out), cached per pair."""
    return _vocab_diff(_tok_key(name_a, tok_a), tok_a, _tok_key(name_b, tok_b), tok_b)


@st.cache_data(show_spinner="Comparing vocabularies…", max_entries=8)
def _vocab_diff(key_a: str, _tok_a, key_b: str, _tok_b):
    from tokbench.text.inspect import vocab_diff as _diff

    return _diff(_tok_a, _tok_b)
