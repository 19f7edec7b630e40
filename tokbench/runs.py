"""The run folder: the one contract between training, evaluation and the dashboard.

```
runs/<name>/
  run.json       kind, config, data fingerprint, package versions, started/finished, status
  metrics.json   {"<dataset>": {"<metric>": value}}  (units in the metric names)
  report.json    evaluation reports, {"schema": 1, "rows": [{"subject", "dataset", "metric", "value", ...}]}
  artifacts/     tokenizer.json / .model / model.safetensors / checkpoints
  log.jsonl      training curves, one JSON object a line
```

Every file is written to a temporary sibling, fsynced and renamed into place, so a killed writer or a full
disk leaves the old file whole (`atomic_write_bytes`; `write_artifact` does the same for libraries that write
their own files). New files get the usual mode (0666 less the umask). Outputs go to regular files only: a
device, FIFO, folder or symlink in the way is refused (`check_output_file`). A writer holds `run.lock`
(pid + host); a lock whose process is gone is stale, and a run still marked `running` behind a stale lock is an
interrupted run that `resume` continues. Taking the lock (and taking over a stale one) happens under an
exclusive `flock` of the run folder, so two resumes racing for one stale lock cannot both win. Writers refuse
run folders whose parts are symlinks, and listings read only regular files, flagging malformed run.json files.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import re
import socket
import stat
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
#: run folders this process marked `interrupted`, oldest first: the CLI names the last one in its Ctrl-C line
INTERRUPTED_RUNS: list[Path] = []
KINDS = ("text-bpe", "text-eval", "visual-vq", "visual-eval", "audio-codec", "audio-eval", "bench")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


# ---------------------------------------------------------------------------------------------- atomic files
class WriteFailed(TokbenchError, OSError):
    """A file could not be written (disk full, read-only folder, ...): one line for the user, and still an
    OSError for callers that handle those. The old file, if any, is untouched and no temporary is left."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self._reason = reason

    @property
    def strerror(self) -> str | None:  # what `except OSError as exc: exc.strerror` callers print
        return self._reason


def _umask() -> int:
    try:  # Linux reports it without changing it (os.umask would, racing other threads)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _describe_special(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISLNK, "a symlink")):
        if test(mode):
            return what
    return "not a regular file"


def check_output_file(path: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] = (),
                      run_dir: str | os.PathLike | None = None) -> Path:
    """Refuse an output path that is not (or would not become) a plain regular file of ours: an existing
    device, FIFO, socket, folder or symlink there, one of the command's own `inputs`, or anything inside
    `run_dir` (a run folder's files are managed by tokbench: run.json, artifacts, ...). Returns the path."""
    path = Path(path)
    if str(path).endswith(os.sep) or path.name in ("", ".", ".."):
        raise TokbenchError(f"{path}: output must be a file name, not a folder")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot use as output ({exc.strerror})") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise TokbenchError(f"{path}: is {_describe_special(st.st_mode)}; outputs go to regular files only")
    for given in inputs:
        try:
            same = st is not None and os.path.samefile(path, given)
        except OSError:
            same = False
        if same:
            raise TokbenchError(f"{path}: is also the input; choose another output file")
    if run_dir is not None and os.path.lexists(Path(run_dir) / "run.json"):
        target = Path(os.path.realpath(path.parent)) / path.name
        if Path(os.path.realpath(run_dir)) in target.parents:
            raise TokbenchError(f"{path}: is inside the run folder {run_dir}; write outputs elsewhere")
    return path


def _temp_sibling(path: Path) -> tuple[int, str]:
    """A new temporary file next to `path` (same filesystem, so the rename is atomic), mode 0666 & ~umask."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteFailed(f"{path}: cannot write ({exc.strerror or exc})", exc.strerror) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError as exc:  # a filesystem without file modes: leave nothing behind
        os.close(fd)
        os.unlink(tmp)
        raise WriteFailed(f"{path}: cannot write ({exc.strerror or exc})", exc.strerror) from None
    return fd, tmp


def _replace_into(tmp: str, path: Path) -> None:
    """Rename the finished temporary over `path`, refusing to replace anything but a regular file."""
    check_output_file(path)
    os.replace(tmp, path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the new one, never a torn one.
    A failed write (e.g. a full disk) raises `WriteFailed` and leaves no temporary behind."""
    def write(tmp: str) -> None:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as fh:
            fh.write(data)

    write_artifact(path, write)


def write_artifact(path: str | os.PathLike, writer) -> Path:
    """Let a library that only writes to a path (HF tokenizers' `save`, sentencepiece, torch) write `path`
    atomically: `writer(temp_path)` fills a temporary sibling, which is fsynced and renamed into place.
    Whatever the writer raises (a full disk, a library error) leaves the old file and no temporary; failures
    become `WriteFailed` (Rust-backed writers such as HF tokenizers report ENOSPC as a plain Exception)."""
    path = Path(path)
    check_output_file(path)
    fd, tmp = _temp_sibling(path)
    os.close(fd)
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _replace_into(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, TokbenchError):
            raise WriteFailed(f"{path}: cannot write ({exc.strerror or exc})", exc.strerror) from None
        if isinstance(exc, Exception) and not isinstance(exc, TokbenchError):
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WriteFailed(f"{path}: cannot write ({reason})", reason) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy / torch arrays and scalars (arrays have .item too, which fails on them)
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
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
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the reader forever
            raise TokbenchError(f"{path}: not a regular file")
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TokbenchError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokbenchError(f"{path}: corrupt JSON ({exc})") from None
    except RecursionError:
        raise TokbenchError(f"{path}: corrupt JSON (nested too deeply)") from None
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_npz(path: str | os.PathLike) -> dict[str, Any]:
    """Every array of an .npz token file, read without pickle; a missing, special, .npy or corrupt file becomes a
    one-line TokbenchError (the image and audio token formats check their own keys on top)."""
    import zipfile

    import numpy as np

    path = Path(path)
    if path.exists() and not path.is_file():
        raise TokbenchError(f"{path}: not a regular file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise TokbenchError(f"{path}: no such file") from None
    except (AttributeError, TypeError):  # np.load returned a bare array: a .npy file, not an npz
        raise TokbenchError(f"{path}: not a token file (a .npy array, not an .npz archive)") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise TokbenchError(f"{path}: not a token file ({str(exc).splitlines()[0][:160]})") from None


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
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def lock_holder(run_dir: Path) -> dict | None:
    """The live holder of the run's lock, or None when unlocked or the lock is stale. A lock that exists but
    cannot be read (another user's, mode 000) counts as held: `{"pid": None, "unreadable": reason}`. Only a
    regular file is read, without following a symlink and without blocking (a FIFO would hang the reader)."""
    lock = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return {"pid": None, "host": None, "unreadable": exc.strerror}
        return None  # a symlink (ELOOP) or another oddity: no process of ours holds it
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            holder = json.loads(fh.read(1 << 16).decode("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)
    pid = holder.get("pid") if isinstance(holder, dict) else None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None  # a torn or foreign lock file protects nothing (JSON true is no pid, though Python's 1)
    if holder.get("host") == socket.gethostname() and not _pid_alive(holder["pid"]):
        return None
    return holder


class _FolderMutex:
    """An exclusive `flock` on the run folder itself, held only while the lock file is checked and taken:
    the kernel drops it when its holder dies, so it can never go stale, and it leaves no file behind."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.fd: int | None = None

    def __enter__(self) -> _FolderMutex:
        try:
            import fcntl
        except ImportError:  # not POSIX: fall back to the O_EXCL create alone
            return self
        try:
            self.fd = os.open(self.run_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as exc:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            raise TokbenchError(f"{self.run_dir}: cannot lock the run folder ({exc.strerror})") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def _acquire_lock(run_dir: Path) -> None:
    """Take `run.lock` for this process. A live holder is refused; a stale lock (its process is gone) is taken
    over. Every taker checks and writes under the folder's flock, so exactly one of several racing takers
    wins; the O_EXCL create keeps the lock exclusive even against a taker that bypassed the flock."""
    lock = run_dir / LOCK_FILE
    payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}).encode()
    with _FolderMutex(run_dir):
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_umask())
            except FileExistsError:
                if os.path.lexists(lock) and (lock.is_symlink() or not lock.is_file()):
                    raise TokbenchError(f"{lock}: is not a regular file; remove it to use this run folder") from None
                holder = lock_holder(run_dir)
                if holder is not None and holder.get("unreadable"):
                    raise TokbenchError(f"{lock}: cannot be read ({holder['unreadable']}); another user's "
                                        "process may hold this run") from None
                if holder is not None and holder.get("pid") != os.getpid():
                    raise TokbenchError(f"{run_dir}: locked by process {holder.get('pid')} on "
                                        f"{holder.get('host')}") from None
                lock.unlink(missing_ok=True)  # stale: its writer is gone
                continue
            except OSError as exc:
                raise WriteFailed(f"{lock}: cannot take the lock ({exc.strerror})", exc.strerror) from None
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
            except OSError as exc:
                lock.unlink(missing_ok=True)
                raise WriteFailed(f"{lock}: cannot take the lock ({exc.strerror})", exc.strerror) from None
            return
    raise TokbenchError(f"{run_dir}: could not take the lock")


def refuse_symlinked_parts(run_dir: str | os.PathLike) -> None:
    """Writers refuse a run folder that is, or holds, a symlink where run files go: writing through it would
    put files outside the runs folder."""
    run_dir = Path(run_dir)
    parts = [run_dir, run_dir / ARTIFACTS_DIR]
    if (run_dir / ARTIFACTS_DIR).is_dir() and not (run_dir / ARTIFACTS_DIR).is_symlink():
        parts += [p for p in (run_dir / ARTIFACTS_DIR).iterdir()]
    parts += [run_dir / n for n in (RUN_FILE, METRICS_FILE, REPORT_FILE, LOG_FILE, LOCK_FILE)]
    for part in parts:
        if part.is_symlink():
            raise TokbenchError(f"{part}: is a symlink; a run folder's parts must be real files and folders")


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
        info = {
            "name": candidate, "kind": kind, "status": "running", "config": dict(config), "data": data or [],
            "packages": package_versions(*packages), "started": now_iso(), "finished": None,
            "host": socket.gethostname(), "pid": os.getpid(),
        }
        run = cls(path, info)
        try:
            (path / ARTIFACTS_DIR).mkdir()
            _acquire_lock(path)
            run.save_info()
        except BaseException as exc:  # e.g. a full disk: leave no half-made folder and no lock behind
            import shutil

            shutil.rmtree(path, ignore_errors=True)
            if isinstance(exc, OSError) and not isinstance(exc, TokbenchError):
                raise WriteFailed(f"{path}: cannot create run folder ({exc.strerror or exc})", exc.strerror) from None
            raise
        return run

    @classmethod
    def resume(cls, path: str | os.PathLike) -> Run:
        """Reopen an interrupted or failed run for writing (its lock must be free)."""
        path = Path(path)
        if not path.is_dir():
            raise TokbenchError(f"{path}: no such run folder")
        refuse_symlinked_parts(path)
        info = _checked_info(path, read_json(path / RUN_FILE))
        if info.get("status") == "done":
            raise TokbenchError(f"{path}: run already finished; nothing to resume")
        _acquire_lock(path)
        info.update(status="running", finished=None, host=socket.gethostname(), pid=os.getpid(), resumed=now_iso())
        run = cls(path, info)
        try:
            run.save_info()
        except BaseException:
            (path / LOCK_FILE).unlink(missing_ok=True)
            raise
        return run

    @classmethod
    def attach(cls, path: str | os.PathLike) -> Run:
        """Open a finished run to add evaluation results (report.json, metrics.json, artifacts/eval) under
        its lock, without touching its status. Use as a context manager; the lock is released on exit."""
        path = Path(path)
        if not path.is_dir():
            raise TokbenchError(f"{path}: no such run folder")
        refuse_symlinked_parts(path)
        info = _checked_info(path, read_json(path / RUN_FILE))
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
        path = self.path / LOG_FILE
        if path.is_symlink():
            raise TokbenchError(f"{path}: is a symlink; a run folder's parts must be real files and folders")
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(dict(record), default=_json_default) + "\n")
                fh.flush()
        except OSError as exc:
            raise WriteFailed(f"{path}: cannot write ({exc.strerror or exc})", exc.strerror) from None

    def truncate_log(self, keep_while) -> None:
        """Drop log records after a resume point: keep only those for which `keep_while(record)` holds."""
        records = [r for r in read_log(self.path) if keep_while(r)]
        atomic_write_text(self.path / LOG_FILE, "".join(json.dumps(r) + "\n" for r in records))

    def finish(self, status: str = "done", error: str | None = None) -> None:
        """Record the final status and free the lock. The lock goes even when run.json cannot be written."""
        if status not in STATUSES:
            raise ValueError(f"bad status {status!r}")
        if status == "interrupted":
            INTERRUPTED_RUNS.append(self.path)
        self.info.update(status=status, finished=now_iso())
        if error:
            self.info["error"] = error
        try:
            self.save_info()
        finally:
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
            return False
        status = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        error = "interrupted by the user" if status == "interrupted" else (
            str(exc) if isinstance(exc, TokbenchError) else f"{exc_type.__name__}: {exc}")
        try:  # the error in flight is what the user must see; a second one (e.g. a still-full disk) is not
            self.finish(status, error)
        except OSError:
            pass
        return False


# ---------------------------------------------------------------------------------------------- reading
def read_log(run_dir: str | os.PathLike) -> list[dict]:
    """The records of log.jsonl; a torn last line (from a killed writer) is ignored."""
    path = Path(run_dir) / LOG_FILE
    if path.is_symlink() or not path.is_file():  # only a regular file of the run's own
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(record, dict):  # anything else is not a log record
            records.append(record)
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
    if not path.is_dir():
        raise TokbenchError(f"{path}: no such run folder")
    if not (path / RUN_FILE).exists() and not (path / RUN_FILE).is_symlink():
        raise TokbenchError(f"{path}: not a run folder (no {RUN_FILE})")
    info = _checked_info(path, _read_run_file(path / RUN_FILE))
    metrics = _read_run_file(path / METRICS_FILE, {})
    report = _read_run_file(path / REPORT_FILE, {})
    if not isinstance(metrics, dict):
        raise TokbenchError(f"{path / METRICS_FILE}: malformed (expected an object of datasets)")
    if not isinstance(report, dict):
        raise TokbenchError(f"{path / REPORT_FILE}: malformed (expected an object with rows)")
    return RunRecord(path=path, info=info, metrics=metrics, report=report)


def _read_run_file(path: Path, missing: Any = None) -> Any:
    """A run's JSON file, read only when it is a regular file (never through a symlink)."""
    if path.is_symlink():
        raise TokbenchError(f"{path}: is a symlink; run files must be regular files")
    if missing is not None and not path.exists():
        return missing
    return read_json(path)


#: run.json fields and the JSON types they must have when present (None is allowed for the optional ones)
_INFO_TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,), "status": (str,), "name": (str,), "started": (str, type(None)), "finished": (str, type(None)),
    "config": (dict,), "data": (list,), "packages": (dict,),
    "error": (str, type(None)),
}


def _checked_info(path: Path, info: Any) -> dict:
    """run.json as a dict with the documented field types, or a one-line TokbenchError naming the bad field."""
    if not isinstance(info, dict) or "kind" not in info:
        raise TokbenchError(f"{path / RUN_FILE}: not a tokbench run description")
    for key, types in _INFO_TYPES.items():
        if key in info and not isinstance(info[key], types):
            raise TokbenchError(f"{path / RUN_FILE}: malformed run description ({key} is "
                                f"{type(info[key]).__name__}: {str(info[key])[:40]!r})")
    if info.get("status", "running") not in STATUSES:
        raise TokbenchError(f"{path / RUN_FILE}: malformed run description (status {info['status'][:40]!r})")
    return info


def iter_runs(runs_dir: str | os.PathLike) -> Iterator[RunRecord]:
    """Every run folder under `runs_dir`, oldest first; unreadable ones come back with `error` set."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return
    records = []
    for child in runs_dir.iterdir():
        if not child.is_dir() or child.name.startswith("."):
            continue
        if child.is_symlink():  # listings read only what lives under the runs folder
            records.append(RunRecord(path=child, error=f"{child}: is a symlink; not read"))
            continue
        try:
            records.append(load_run(child))
        except TokbenchError as exc:
            records.append(RunRecord(path=child, error=str(exc)))
    records.sort(key=lambda r: (str(r.info.get("started") or ""), r.name))
    yield from records


def list_runs(runs_dir: str | os.PathLike, kind: str | None = None) -> list[RunRecord]:
    return [r for r in iter_runs(runs_dir) if kind is None or r.kind == kind]
