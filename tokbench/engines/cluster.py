"""The engine: Dask distributed, on a local cluster started for the run or on a running cluster given its address.

Why Dask (distributed 2026.8): pure Python wheels (~25 MB with its deps, against ~240 MB for Ray 2.60), a local
cluster of two worker processes ready in ~2.5 s on this 2-core machine (Ray: ~4.7 s), fsspec is its own I/O
layer (workers open `s3://`, `gs://`, `file://` URLs with the same code), and failure handling we rely on:
tasks of a worker that dies are rescheduled on the others (up to `distributed.scheduler.allowed-failures`,
then `KilledWorker`), and `retries=` re-runs a task that raised.

`map_shards` submits one task per item, yields results as they finish (in completion order, with a progress
bar), and lets the caller persist each one: that is what makes an interrupted run resumable shard by shard.
Nothing is sent through the driver but the task descriptions and the per-shard results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from tokbench import progress
from tokbench.errors import TokbenchError

ENGINES = ("dask",)
DEFAULT_RETRIES = 2
SCHEDULER_PROBE_SECONDS = 5.0
LOCAL_HOST = "127.0.0.1"
#: local clusters run their workers as processes (parallel Python); tests set this to False (threads, no sockets)
LOCAL_PROCESSES = True

T = TypeVar("T")


class ShardFailure:
    """A worker-side TokbenchError (bad input) carried back as a value, so the engine does not retry it."""

    def __init__(self, message: str) -> None:
        self.message = message


def guarded(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(*args)` on a worker; bad input comes back as a ShardFailure instead of being retried."""
    try:
        return fn(*args)
    except TokbenchError as exc:
        return ShardFailure(str(exc))


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise TokbenchError(f"unknown engine {engine!r} (available: {', '.join(ENGINES)})")


def local_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def check_scheduler(scheduler: str, timeout: float = SCHEDULER_PROBE_SECONDS) -> None:
    """Fail fast (TokbenchError) when nothing listens at a `tcp://` or `tls://` scheduler address: a plain TCP
    connect with a short timeout, so a caller can refuse before it creates anything (Dask's own connect retries
    for 20 s). Other schemes (inproc://, ucx://) are left to Dask."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    if parts.scheme not in ("tcp", "tls"):
        return
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise TokbenchError(f"--scheduler {scheduler!r}: expected an address like tcp://host:8786")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise TokbenchError(f"cannot reach the Dask scheduler at {scheduler}: {exc.strerror or exc}") from None


@contextmanager
def open_cluster(engine: str = "dask", scheduler: str | None = None, workers: int | None = None,
                 processes: bool | None = None) -> Iterator[Any]:
    """A `distributed.Client`: connected to `scheduler` (tcp://host:port), or to a local cluster on 127.0.0.1
    with `workers` single-threaded workers (default: one per core) that is shut down on exit.

    `processes=False` runs the workers as threads of this process (tests: no subprocesses, instant start);
    None means `LOCAL_PROCESSES`.
    """
    check_engine(engine)
    if workers is not None and workers < 1:
        raise TokbenchError("--workers must be at least 1")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise TokbenchError("--engine dask needs the [scale] extra: pip install 'tokbench[scale]'") from None
    import dask

    if scheduler is not None:
        if workers is not None:
            raise TokbenchError("--workers sizes the local cluster; a cluster given by --scheduler has its own")
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise TokbenchError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or local_workers()
    processes = LOCAL_PROCESSES if processes is None else processes
    with dask.config.set({"logging.distributed": "error"}):
        # Workers talk over 127.0.0.1 (processes) or in-process (threads: inproc://). Dask always starts small
        # HTTP servers (health routes; the scheduler's is the dashboard when bokeh is installed) and binds them to
        # every interface unless told: they are pinned to 127.0.0.1 on a free port.
        where = {"host": LOCAL_HOST} if processes else {}
        http = f"{LOCAL_HOST}:0"
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=http,
                               worker_dashboard_address=http, silence_logs=40, **where)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def map_shards(client: Any, fn: Callable[..., T], items: Sequence[Any], *args: Any, description: str = "shards",
               retries: int = DEFAULT_RETRIES) -> Iterator[tuple[Any, T]]:
    """Yield (item, fn(item, *args)) as each task finishes, drawing a progress bar; a task that raises is retried
    `retries` times, a worker that dies has its tasks rescheduled; a ShardFailure raises TokbenchError here."""
    from distributed import as_completed

    if not items:
        return
    shared = [client.scatter(a, broadcast=True) if _worth_scattering(a) else a for a in args]
    futures = {client.submit(guarded, fn, item, *shared, retries=retries, pure=False): item for item in items}
    with progress.task(description, total=len(items)) as bar:
        try:
            for future in as_completed(futures):
                result = future.result()
                if isinstance(result, ShardFailure):
                    raise TokbenchError(result.message)
                bar.advance()
                yield futures[future], result
        finally:
            for future in futures:
                future.cancel()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB: Linux's VmHWM (the high-water mark of this process's
    own memory map). Not ru_maxrss first: Linux carries that over exec from a (v)forking parent, so a process
    started by a large one would report the parent's peak. ru_maxrss is the fallback where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_peak_rss_mb(client: Any) -> float | None:
    """The largest peak resident memory among the workers (`peak_rss_mb`; in-process workers report this
    process), or None when the workers cannot say."""
    try:
        peaks = client.run(peak_rss_mb)
    except Exception:  # a remote worker without resource (not POSIX) or gone: the figure is optional
        return None
    return round(max(peaks.values()), 1) if peaks else None


def _worth_scattering(arg: Any) -> bool:
    return isinstance(arg, (str, bytes)) and len(arg) > 100_000
