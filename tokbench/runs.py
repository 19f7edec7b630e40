"""The run folder: the one contract between training, evaluation and the dashboard.

```
runs/<name>/
  run.json       kind, config, data fingerprint, package versions, started/finished, status
  metrics.json   {"<dataset>": {"<metric>": value}}  (units in the metric names)
  report.json    evaluation reports, {"schema": 1, "rows": [{"subject", "dataset", "metric", "value", ...}]}
  artifacts/     tokenizer.json / .model / model.safetensors / checkpoints
  log.jsonl      training curves, one JSON object a line
```

Every file is written to a temporary sibling and renamed into place, so a killed writer leaves the old file
whole. A writer holds `run.lock` (pid + host); a lock whose process is gone is stale, and a run still marked
`running` behind a stale lock is an interrupted run that `resume` continues.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import socket
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.json"
LOG_FILE = "log.jsonl"
LOCK_FILE = "run.lock"
ARTIFACTS_DIR = "artifacts"
STATUSES = ("running", "done", "failed", "interrupted")
KINDS = ("text-bpe", "text-eval", "visual-vq", "visual-eval", "audio-codec", "audio-eval", "bench")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


# ---------------------------------------------------------------------------------------------- atomic files
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file, read in 1 MiB blocks (data fingerprints, weight checks)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, turning a missing or corrupt file into a one-line TokbenchError."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TokbenchError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokbenchError(f"{path}: corrupt JSON ({exc})") from None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def package_versions(*extra: str) -> dict[str, str]:
    """Versions of Python, tokbench and the named packages that are installed (absent ones are skipped)."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for name in ("tokbench", *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


# ---------------------------------------------------------------------------------------------- locking
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(run_dir: Path) -> dict | None:
    """The live holder of the run's lock, or None when unlocked or the lock is stale."""
    lock = Path(run_dir) / LOCK_FILE
    try:
        holder = json.loads(lock.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1))):
        return None
    return holder


def _acquire_lock(run_dir: Path) -> None:
    lock = run_dir / LOCK_FILE
    payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}).encode()
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = lock_holder(run_dir)
            if holder is not None and holder.get("pid") != os.getpid():
                raise TokbenchError(f"{run_dir}: locked by process {holder.get('pid')} on {holder.get('host')}")
            lock.unlink(missing_ok=True)  # stale: its writer is gone
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        return
    raise TokbenchError(f"{run_dir}: could not take the lock")


# ---------------------------------------------------------------------------------------------- the run
class Run:
    """A run folder open for writing. Use as a context manager so the final status is always recorded."""

    def __init__(self, path: Path, info: dict) -> None:
        self.path = Path(path)
        self.info = info
        self._attached = False

    # creation / reopening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: str | os.PathLike, kind: str, config: Mapping[str, Any], *, name: str | None = None,
               data: list[dict] | None = None, packages: tuple[str, ...] = (), on_exists: str = "error") -> Run:
        """Make a new run folder. An existing name is never overwritten: `on_exists="error"` fails,
        `"suffix"` picks `name-2`, `name-3`, ...; with no name, one is made from the kind and the time."""
        if kind not in KINDS:
            raise TokbenchError(f"unknown run kind {kind!r} (expected one of {', '.join(KINDS)})")
        runs_dir = Path(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TokbenchError(f"{runs_dir}: cannot create runs folder ({exc.strerror})") from None
        if name is None:
            name = f"{kind}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
            on_exists = "suffix"
        if not _NAME_RE.match(name):
            raise TokbenchError(f"invalid run name {name!r}: use letters, digits, '.', '_' or '-'")
        candidate, n = name, 1
        while True:
            path = runs_dir / candidate
            try:
                path.mkdir()
                break
            except FileExistsError:
                if on_exists != "suffix":
                    raise TokbenchError(f"run folder {path} already exists: choose another --name, "
                                        "or --resume it") from None
                n += 1
                candidate = f"{name}-{n}"
            except OSError as exc:
                raise TokbenchError(f"{path}: cannot create run folder ({exc.strerror})") from None
        (path / ARTIFACTS_DIR).mkdir()
        _acquire_lock(path)
        info = {
            "name": candidate, "kind": kind, "status": "running", "config": dict(config), "data": data or [],
            "packages": package_versions(*packages), "started": now_iso(), "finished": None,
            "host": socket.gethostname(), "pid": os.getpid(),
        }
        run = cls(path, info)
        run.save_info()
        return run

    @classmethod
    def resume(cls, path: str | os.PathLike) -> Run:
        """Reopen an interrupted or failed run for writing (its lock must be free)."""
        path = Path(path)
        info = read_json(path / RUN_FILE)
        if info.get("status") == "done":
            raise TokbenchError(f"{path}: run already finished; nothing to resume")
        _acquire_lock(path)
        info.update(status="running", finished=None, pid=os.getpid(), resumed=now_iso())
        run = cls(path, info)
        run.save_info()
        return run

    @classmethod
    def attach(cls, path: str | os.PathLike) -> Run:
        """Open a finished run to add evaluation results (report.json, metrics.json, artifacts/eval) under
        its lock, without touching its status. Use as a context manager; the lock is released on exit."""
        path = Path(path)
        info = read_json(path / RUN_FILE)
        _acquire_lock(path)
        run = cls(path, info)
        run._attached = True
        return run

    # paths -------------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def artifacts(self) -> Path:
        return self.path / ARTIFACTS_DIR

    # writing -----------------------------------------------------------------------------------------------
    def save_info(self) -> None:
        atomic_write_json(self.path / RUN_FILE, self.info)

    def update_info(self, **fields: Any) -> None:
        self.info.update(fields)
        self.save_info()

    def write_json(self, filename: str, obj: Any) -> Path:
        target = self.path / filename
        atomic_write_json(target, obj)
        return target

    def update_metrics(self, dataset: str, values: Mapping[str, Any]) -> dict:
        """Merge `values` into metrics.json under `dataset` and return the whole document."""
        path = self.path / METRICS_FILE
        metrics = read_json(path) if path.exists() else {}
        metrics.setdefault(dataset, {}).update(values)
        atomic_write_json(path, metrics)
        return metrics

    def write_report(self, report: Mapping[str, Any]) -> Path:
        return self.write_json(REPORT_FILE, dict(report))

    def log(self, record: Mapping[str, Any]) -> None:
        """Append one record to log.jsonl (flushed, so a crash loses at most the line being written)."""
        with open(self.path / LOG_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dict(record), default=_json_default) + "\n")
            fh.flush()

    def truncate_log(self, keep_while) -> None:
        """Drop log records after a resume point: keep only those for which `keep_while(record)` holds."""
        records = [r for r in read_log(self.path) if keep_while(r)]
        atomic_write_text(self.path / LOG_FILE, "".join(json.dumps(r) + "\n" for r in records))

    def finish(self, status: str = "done", error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"bad status {status!r}")
        self.info.update(status=status, finished=now_iso())
        if error:
            self.info["error"] = error
        self.save_info()
        (self.path / LOCK_FILE).unlink(missing_ok=True)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._attached:
            (self.path / LOCK_FILE).unlink(missing_ok=True)
            return False
        if exc_type is None:
            if self.info.get("status") == "running":
                self.finish("done")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("interrupted", "interrupted by the user")
        else:
            self.finish("failed", f"{exc_type.__name__}: {exc}")
        return False


# ---------------------------------------------------------------------------------------------- reading
def read_log(run_dir: str | os.PathLike) -> list[dict]:
    """The records of log.jsonl; a torn last line (from a killed writer) is ignored."""
    path = Path(run_dir) / LOG_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


@dataclass
class RunRecord:
    """A run folder as read back: everything in it, or why it could not be read."""

    path: Path
    info: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str | None:
        return self.info.get("kind")

    @property
    def status(self) -> str:
        """The recorded status, with `running` behind a stale lock shown as `interrupted`."""
        if self.error:
            return "corrupt"
        status = self.info.get("status", "unknown")
        if status == "running" and lock_holder(self.path) is None:
            return "interrupted"
        return status

    @property
    def artifacts(self) -> Path:
        return self.path / ARTIFACTS_DIR

    def log(self) -> list[dict]:
        return read_log(self.path)


def load_run(path: str | os.PathLike) -> RunRecord:
    """Read a run folder. Raises TokbenchError when it is not a readable run."""
    path = Path(path)
    if not (path / RUN_FILE).is_file():
        raise TokbenchError(f"{path}: not a run folder (no {RUN_FILE})")
    info = read_json(path / RUN_FILE)
    if not isinstance(info, dict) or "kind" not in info:
        raise TokbenchError(f"{path / RUN_FILE}: not a tokbench run description")
    metrics = read_json(path / METRICS_FILE) if (path / METRICS_FILE).exists() else {}
    report = read_json(path / REPORT_FILE) if (path / REPORT_FILE).exists() else {}
    return RunRecord(path=path, info=info, metrics=metrics, report=report)


def iter_runs(runs_dir: str | os.PathLike) -> Iterator[RunRecord]:
    """Every run folder under `runs_dir`, oldest first; unreadable ones come back with `error` set."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return
    records = []
    for child in runs_dir.iterdir():
        if not child.is_dir() or child.name.startswith("."):
            continue
        try:
            records.append(load_run(child))
        except TokbenchError as exc:
            records.append(RunRecord(path=child, error=str(exc)))
    records.sort(key=lambda r: (r.info.get("started") or "", r.name))
    yield from records


def list_runs(runs_dir: str | os.PathLike, kind: str | None = None) -> list[RunRecord]:
    return [r for r in iter_runs(runs_dir) if kind is None or r.kind == kind]
