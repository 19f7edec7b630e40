"""Time `nearest_code` against its peers on the same inputs, in one process, and record a `bench` run.

Peers (each asked for the same argmin over squared Euclidean distance):
- ``cdist_argmin``: ``torch.cdist(x, c).argmin(1)`` (builds N x K);
- ``matmul_argmin``: ``(||c||^2 - 2 x c^T).argmin(1)`` (builds N x K, twice);
- ``vqp_search``: vector-quantize-pytorch's ``VectorQuantize`` eval forward on the same codebook (builds the
  N x K distance matrix and an N x K one-hot);
- ``matmul_only`` (opt-in): a bare ``x @ c.T`` with no search at all, the floor for the GPU kernel.
On CUDA (`device="cuda"`) times are taken between `torch.cuda.synchronize()` calls and peak memory is
`torch.cuda.max_memory_allocated` growth.
Time is the best of a few runs (3 by default, fewer for a method that has spent 15 s; the CPU is shared, and the
minimum is the least disturbed figure). Peak extra
memory is the resident-set growth over the call, sampled every millisecond by a thread (psutil), so it counts
what the method touched beyond its inputs. A peer whose estimated footprint exceeds 70% of the free memory is
run over the rows in batches that fit (noted in the report), or skipped with a note when even 256 rows do not.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tokbench.errors import TokbenchError

METHODS = ("nearest_code", "cdist_argmin", "matmul_argmin", "vqp_search")
#: `matmul_only` (a bare ``x @ c.T``, no search) is the floor the GPU target is stated against; not a default
ALL_METHODS = (*METHODS, "matmul_only")
DTYPES = ("float32", "float16", "bfloat16")
#: default grid: runs in about two minutes on a 2-core CPU
DEFAULT_GRID = (
    [(8192, k, d, "float32") for k in (256, 1024, 4096, 16384) for d in (8, 32, 128)]
    + [(8192, 4096, 32, "bfloat16"), (8192, 4096, 32, "float16")]
)
#: `--full`: the issue's range of K (256 .. 65,536) and D (8 .. 256) at N = 65,536, in every dtype
FULL_GRID = [(65536, k, d, dt) for dt in DTYPES for k in (256, 1024, 4096, 16384, 65536) for d in (8, 32, 64, 256)]
#: bytes per N x K element each peer holds at its peak (measured: cdist 4.0, vqp 16.0 at fp32), used to batch or
#: skip what won't fit
_PEER_BYTES_PER_ELEMENT = {"cdist_argmin": 5, "matmul_argmin": 9, "vqp_search": 17, "matmul_only": 4}


@dataclass
class Result:
    method: str
    n: int
    k: int
    d: int
    dtype: str
    seconds: float | None = None
    peak_extra_mb: float | None = None
    agreement: float | None = None  # fraction of indices equal to nearest_code's
    note: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return f"N={self.n},K={self.k},D={self.d},dtype={self.dtype}"


class _PeakRSS:
    """Largest resident-set size seen while the block runs (a sampling thread; psutil)."""

    def __init__(self, interval: float = 0.001) -> None:
        try:
            import psutil
        except ImportError:  # memory is then reported as unavailable
            psutil = None
        self._proc = psutil.Process() if psutil is not None else None
        self._interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> _PeakRSS:
        if self._proc is None:
            return self
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self._interval)

    def __exit__(self, *exc) -> None:
        if self._proc is None:
            return
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def extra_mb(self) -> float | None:
        if self._proc is None:
            return None
        return max(0, self.peak - self.base) / 2**20


def _honest_rss() -> None:
    """Make glibc return every large buffer (>= 128 KiB) to the OS when freed, so RSS growth over a call shows
    the buffers it allocated even after other calls freed memory the allocator would otherwise recycle."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_mmap_threshold, m_trim_threshold = -3, -1
        libc.mallopt(m_mmap_threshold, 128 * 1024)
        libc.mallopt(m_trim_threshold, 128 * 1024)
    except (OSError, AttributeError):  # not glibc: figures may then undercount reused memory
        pass


def _available_bytes(device: str = "cpu") -> int:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.mem_get_info()[0]
    try:
        import psutil
    except ImportError:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return psutil.virtual_memory().available


def _make_methods(x, c, chunk: int | None = None) -> dict[str, Callable[[], Callable[[], Any]]]:
    """Factories (set-up outside the timing) of zero-argument callables returning the flat indices.

    With `chunk`, a peer runs over the rows `chunk` at a time (for shapes whose N x K does not fit in memory).
    """
    import torch

    from tokbench.kernels.lookup import nearest_code

    def chunked(f):
        if chunk is None or chunk >= x.shape[0]:
            return lambda: f(x)
        return lambda: torch.cat([f(x[r:r + chunk]) for r in range(0, x.shape[0], chunk)])

    def vqp():
        from vector_quantize_pytorch import VectorQuantize

        vq = VectorQuantize(dim=c.shape[1], codebook_size=c.shape[0], use_cosine_sim=False).eval().to(c.device)
        vq.codebook = c.float()
        return chunked(lambda xs: vq(xs.unsqueeze(0))[1].reshape(-1))

    csq = (c.float() * c.float()).sum(1).to(c.dtype)
    return {
        "nearest_code": lambda: lambda: nearest_code(x, c),
        "cdist_argmin": lambda: chunked(lambda xs: torch.cdist(xs, c).argmin(1)),
        "matmul_argmin": lambda: chunked(lambda xs: (csq - 2 * (xs @ c.T)).argmin(1)),
        "vqp_search": vqp,
        "matmul_only": lambda: chunked(lambda xs: xs @ c.T),
    }


def _time(fn: Callable[[], Any], budget: float, max_repeats: int, device: str = "cpu"
          ) -> tuple[float, Any, float | None]:
    """(best seconds, last output, peak extra MB over the first call): up to `max_repeats` runs, fewer once
    `budget` seconds have been spent."""
    import torch

    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def once() -> tuple[float, Any]:
        sync()
        t0 = time.perf_counter()
        result = fn()
        sync()
        return time.perf_counter() - t0, result

    gc.collect()
    if cuda:
        once()  # compile / autotune / allocator warm-up outside the figures
        sync()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        best, out = once()
        extra = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        with _PeakRSS() as mem:
            best, out = once()
        extra = mem.extra_mb
    total, runs = best, 1
    while runs < max_repeats and total < budget:
        del out
        elapsed, out = once()
        best, total, runs = min(best, elapsed), total + elapsed, runs + 1
    return best, out, extra


def bench_shape(n: int, k: int, d: int, dtype: str, methods: Iterable[str] = METHODS, *, seed: int = 0,
                budget: float = 15.0, max_repeats: int = 3, memory_fraction: float = 0.7,
                device: str = "cpu") -> list[Result]:
    """Time every method on one shape, same x and codebook for all; returns one `Result` per method."""
    import torch

    from tokbench.kernels.reference import disagreements

    if dtype not in DTYPES:
        raise TokbenchError(f"unknown dtype {dtype!r} (expected one of {', '.join(DTYPES)})")
    for name, v in (("N", n), ("K", k), ("D", d)):
        if v < 1:
            raise TokbenchError(f"{name} must be a positive integer, got {v}")
    _honest_rss()
    g = torch.Generator().manual_seed(seed)
    tdtype = getattr(torch, dtype)
    x = torch.randn(n, d, generator=g).to(device=device, dtype=tdtype)
    c = torch.randn(k, d, generator=g).to(device=device, dtype=tdtype)
    results: list[Result] = []
    reference_idx = None
    for method in methods:
        if method not in ALL_METHODS:
            raise TokbenchError(f"unknown method {method!r} (expected {', '.join(ALL_METHODS)})")
        r = Result(method, n, k, d, dtype)
        results.append(r)
        chunk = None
        need = _PEER_BYTES_PER_ELEMENT.get(method, 0) * n * k
        budget_bytes = memory_fraction * _available_bytes(device)
        if need > budget_bytes:
            chunk = 1 << int(math.log2(max(1, budget_bytes // (_PEER_BYTES_PER_ELEMENT[method] * k))))
            if chunk < 256:
                r.note = f"skipped: needs about {need / 2**30:.1f} GiB, {_available_bytes(device) / 2**30:.1f} GiB free"
                continue
            r.note = (f"run in batches of {chunk} rows: the whole N x K would need about {need / 2**30:.1f} GiB, "
                      f"{_available_bytes(device) / 2**30:.1f} GiB free")
        makers = _make_methods(x, c, chunk)
        try:
            with torch.no_grad():
                fn = makers[method]()
                seconds, out, extra = _time(fn, budget, max_repeats, device)
        except (RuntimeError, MemoryError) as exc:  # e.g. an op without a kernel for this dtype on CPU
            r.note = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            continue
        r.seconds, r.peak_extra_mb = seconds, extra
        if method == "matmul_only":  # a floor, not a search: no indices to compare
            del out
            continue
        idx = out.reshape(-1)
        if method == "nearest_code":
            reference_idx = idx
            sample = slice(0, min(n, 512))
            bad = disagreements(idx[sample], x[sample], c).numel()
            r.extra["checked_rows"] = min(n, 512)
            r.extra["rows_off_optimum"] = bad
            r.agreement = 1.0
        elif reference_idx is not None:
            r.agreement = float((idx == reference_idx).double().mean())
        del out, idx
    return results


def run_lookup_bench(shapes: Iterable[tuple[int, int, int, str]] | None = None, *, full: bool = False,
                     methods: Iterable[str] | None = None, runs_dir=None, name: str | None = None,
                     write_run: bool = True, seed: int = 0, repeats: int = 3, device: str = "cpu",
                     progress: bool = True) -> dict[str, Any]:
    """Run the benchmark over `shapes` (default grid, or FULL_GRID with `full`) and write a `bench` run.
    `methods` defaults to every peer the device's targets are stated against.

    Returns ``{"rows": [...], "results": [...], "speedups": [...], "run_dir": path or None, "device": ...}``;
    rows follow the bench report contract (metric "seconds" | "speedup_vs_cdist" | "peak_extra_mb").
    """
    import platform

    import torch

    from tokbench.progress import track

    shapes = list(shapes) if shapes is not None else list(FULL_GRID if full else DEFAULT_GRID)
    # the bare `x @ c.T` peer is measured by default only on CUDA, where the target is stated against it
    methods = list(methods) if methods else list(ALL_METHODS if device.startswith("cuda") else METHODS)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise TokbenchError(f"unknown method {unknown[0]!r} (expected {', '.join(ALL_METHODS)})")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise TokbenchError(f"unknown device {device!r} (expected cpu or cuda)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TokbenchError("--device cuda: no CUDA GPU is available here")
    if repeats < 1:
        raise TokbenchError(f"--repeats must be at least 1, got {repeats}")
    if not 0 <= seed < 2 ** 63:
        raise TokbenchError(f"--seed must be in 0..2^63-1, got {seed}")
    for n, k, d, _ in shapes:
        if min(n, k, d) >= 1 and max(n * d, k * d, n) > 2 ** 31:  # inputs alone past 8 GiB: not a benchmark this tool can run
            raise TokbenchError(f"shape N={n} K={k} D={d}: inputs of more than 2^31 elements are not supported")
    if device.startswith("cuda"):
        label = f"{device}: {torch.cuda.get_device_name(torch.device(device))}"
    else:
        label = f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    config = {"shapes": [list(s) for s in shapes], "methods": methods, "seed": seed, "device": label,
              "timing": f"best of {repeats} runs (fewer once 15 s are spent on one method); peak memory = RSS "
                        "growth over the first run"}
    results: list[Result] = []
    items = track(shapes, "bench-lookup", total=len(shapes)) if progress else shapes
    for n, k, d, dt in items:
        results.extend(bench_shape(n, k, d, dt, methods, seed=seed, max_repeats=repeats, device=device))
    report = build_report(results, label)
    report["run_dir"] = None
    if write_run:
        from tokbench.runs import Run

        with Run.create(runs_dir if runs_dir is not None else "runs", "bench", config, name=name,
                        packages=("torch", "vector-quantize-pytorch", "triton", "psutil")) as run:
            run.write_report({k: v for k, v in report.items() if k != "run_dir"})
            for r in results:
                if r.method == "nearest_code" and r.seconds is not None:
                    run.update_metrics(r.dataset, {"nearest_code_seconds": r.seconds,
                                                   "nearest_code_peak_extra_mb": r.peak_extra_mb})
        report["run_dir"] = str(run.path)
    return report


def build_report(results: list[Result], device: str) -> dict[str, Any]:
    """The bench report.json document: contract rows, plus `speedups` (nearest_code vs each peer) and `notes`."""
    rows: list[dict] = []
    speedups: list[dict] = []
    by_shape: dict[str, dict[str, Result]] = {}
    for r in results:
        by_shape.setdefault(r.dataset, {})[r.method] = r
    unavailable = []
    for dataset, group in by_shape.items():
        cdist = group.get("cdist_argmin")
        ours = group.get("nearest_code")
        for r in group.values():
            base = {"subject": r.method, "dataset": dataset, "n": r.n, "k": r.k, "d": r.d, "dtype": r.dtype}
            if r.seconds is None:
                rows.append({**base, "metric": "seconds", "value": None, "note": r.note})
                unavailable.append({"metric": f"{r.method} seconds at {dataset}", "reason": r.note})
                continue
            if r.note:
                base["note"] = r.note
            rows.append({**base, "metric": "seconds", "value": r.seconds, "unit": "s"})
            rows.append({**base, "metric": "peak_extra_mb", "value": r.peak_extra_mb, "unit": "MiB"})
            if cdist is not None and cdist.seconds is not None:
                rows.append({**base, "metric": "speedup_vs_cdist", "value": cdist.seconds / r.seconds, "unit": "x"})
        if ours is not None and ours.seconds is not None:
            entry = {"dataset": dataset, "n": ours.n, "k": ours.k, "d": ours.d, "dtype": ours.dtype,
                     "nearest_code_seconds": ours.seconds, "nearest_code_peak_extra_mb": ours.peak_extra_mb,
                     "nk_fp32_mb": ours.n * ours.k * 4 / 2**20,
                     "rows_off_optimum": ours.extra.get("rows_off_optimum"),
                     "checked_rows": ours.extra.get("checked_rows")}
            for peer in ("cdist_argmin", "matmul_argmin", "vqp_search", "matmul_only"):
                p = group.get(peer)
                entry[f"speedup_vs_{peer}"] = (p.seconds / ours.seconds) if p and p.seconds else None
                entry[f"agreement_{peer}"] = p.agreement if p else None
            speedups.append(entry)
    return {"schema": 1, "kind": "bench", "device": device, "rows": rows, "speedups": speedups,
            "unavailable": unavailable,
            "results": [{"method": r.method, "dataset": r.dataset, "n": r.n, "k": r.k, "d": r.d, "dtype": r.dtype,
                         "seconds": r.seconds,
                         "peak_extra_mb": r.peak_extra_mb, "agreement": r.agreement, "note": r.note, **r.extra}
                        for r in results]}


def parse_shapes(n: list[int] | None, k: list[int] | None, d: list[int] | None,
                 dtype: list[str] | None) -> list[tuple[int, int, int, str]] | None:
    """The cross product of the chosen values, or None when nothing was chosen (use a grid)."""
    if not any((n, k, d, dtype)):
        return None
    ns, ks, ds, dts = n or [16384], k or [4096], d or [32], dtype or ["float32"]
    for dt in dts:
        if dt not in DTYPES:
            raise TokbenchError(f"unknown dtype {dt!r} (expected one of {', '.join(DTYPES)})")
    return [(a, b, e, f) for f in dts for a in ns for b in ks for e in ds]

