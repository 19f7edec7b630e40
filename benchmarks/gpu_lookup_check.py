"""One run on a CUDA GPU that checks and times `tokbench.nearest_code`: correctness, offsets past 2^31, speed
against its peers, and a tile sweep for the shape classes that miss the target (issue 11).

    python benchmarks/lookup.py --device cuda --write     # = python benchmarks/gpu_lookup_check.py --write
    python benchmarks/lookup.py --device cuda --smoke --out /tmp/x   # CPU dry run: TRITON_INTERPRET=1, tiny shapes

Sections, each recorded in the JSON as soon as it ends (so a run cut short still leaves its figures):
- correctness: float64 brute force on a grid of shapes x dtypes x precisions (first 512 rows of each), exact ties,
  empty and single-row inputs, a forced codebook split;
- speed: on SHAPES, fp32 "ieee", fp32 "tf32" and bf16, nearest_code against the bare GEMM of the same product in
  the same dtype and precision (``torch.mm`` into a preallocated output, the floor), matmul + argmin, cdist +
  argmin and vector-quantize-pytorch's own search (fp32 only); peers whose N x K does not fit run over row chunks;
- sweep: the kernel alone over tiles for the classes whose call is slower than 1.3x the GEMM, while time is left;
  the best tiles come out as `TILES` entries to paste into tokbench/kernels/triton_lookup.py;
- training: `tokbench fit-vq` (grid2d, builtin:digits, 20 steps) and `tokbench fit-audio` (builtin:signals,
  10 steps) on the device, counting the searches that went through the Triton kernel;
- overflow (last): N x D >= 2^31 (row-major and column-major x) and K x D >= 2^31, a known exact match planted past
  element 2^31 (about 9 GB of GPU memory each).
Times are the median of per-call times, each call between two synchronizations (CUDA events), so a call's Python
overhead counts. Writes `gpu_lookup.json` into --out (default: $OUT or the current folder) and, with --write, the
"Kernels on the GPU (issue 11)" section of benchmarks/RESULTS.md. Budget: about 6-8 minutes on an H200.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SECTION = "Kernels on the GPU (issue 11)"
#: (N, K, D) the issue's targets are stated on
SHAPES = [(65536, 16384, 32), (1048576, 65536, 32), (65536, 1024, 256), (65536, 256, 128), (262144, 8192, 8),
          (4096, 4194304, 64)]
SMOKE_SHAPES = [(32, 256, 16)]
PRECISIONS = [("float32", "ieee"), ("float32", "tf32"), ("bfloat16", "ieee")]
PEERS = ("gemm", "matmul_argmin", "cdist_argmin", "vqp_search")
#: bytes per N x K element each peer holds at its peak (fp32), to size its row chunks
PEER_BYTES = {"gemm": 4, "matmul_argmin": 12, "cdist_argmin": 8, "vqp_search": 17}
TARGET_VS_GEMM = 1.3
#: the first H200 run (torch 2.11, triton 3.6, 2026-11-29; shared/gpu/README.md), before this change
BEFORE = """\
| N × K × D, dtype | nearest_code | bare GEMM | cdist+argmin | kernel alone, best tile |
|---|---:|---:|---:|---:|
| 65536 × 16384 × 32, fp32 ieee | 4.78 ms | 2.75 ms | 8.69 ms | — |
| 65536 × 16384 × 32, fp32 tf32 | 1.33 ms | 1.16 ms | 7.60 ms | 0.45 ms (128×128, 4 warps) |
| 1048576 × 65536 × 32, fp32 ieee | 223 ms | 160 ms | — | — |
| 65536 × 1024 × 256, fp32 tf32 | 4.35 ms | 0.13 ms | 0.93 ms | 0.20 ms (128×32, 8 warps) |
| 65536 × 1024 × 256, bf16 | 3.88 ms | 0.066 ms | 1.35 ms | 0.084 ms (256×64, 4 warps) |
| 65536 × 256 × 128, fp32 tf32 | 2.37 ms | 0.035 ms | 0.28 ms | 0.037 ms (256×64, 4 warps) |
| 65536 × 256 × 128, bf16 | 1.86 ms | 0.020 ms | 0.37 ms | 0.021 ms (256×64, 4 warps) |

N = 2^26 + 1000 rows at D = 32 ended in "CUDA error: an illegal memory access" (32-bit offsets)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="CPU dry run: TRITON_INTERPRET=1, tiny shapes")
    p.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for gpu_lookup.json")
    p.add_argument("--write", action="store_true", help="write the RESULTS.md section")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"), help="the RESULTS.md to update")
    p.add_argument("--budget-s", type=float, default=360.0, help="stop the sweep once this much time is spent")
    p.add_argument("--skip", action="append", default=[],
                   choices=["correctness", "speed", "training", "sweep", "overflow"])
    return p.parse_args(argv)


class Check:
    """The run's state: device, timer, JSON document written after every section."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        self.args, self.torch = args, torch
        self.dev = "cpu" if args.smoke else "cuda"
        self.cuda = self.dev == "cuda"
        self.t0 = time.time()
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        import triton

        self.res: dict = {"schema": 1, "smoke": args.smoke, "torch": torch.__version__, "triton": triton.__version__,
                          "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                          "device": torch.cuda.get_device_name(0) if self.cuda else "cpu (Triton interpreter)"}
        try:
            import vector_quantize_pytorch  # noqa: F401
            from importlib.metadata import version

            self.res["vector_quantize_pytorch"] = version("vector-quantize-pytorch")
        except Exception as exc:  # noqa: BLE001 - reported, the other peers still run
            self.res["vector_quantize_pytorch"] = f"unavailable: {exc!r}"

    # ------------------------------------------------------------------------------------------ plumbing
    def elapsed(self) -> float:
        return time.time() - self.t0

    def save(self) -> None:
        path = self.out / "gpu_lookup.json"
        path.write_text(json.dumps(self.res, indent=1), encoding="utf-8")

    def section(self, name: str, fn) -> None:
        start = time.time()
        try:
            fn()
        except Exception:  # noqa: BLE001 - one failing section must not lose the others' figures
            self.res[f"{name}_error"] = traceback.format_exc()[-3000:]
            print(self.res[f"{name}_error"], flush=True)
        self.res.setdefault("seconds", {})[name] = round(time.time() - start, 1)
        print(f"-- {name}: {time.time() - start:.1f} s", flush=True)
        self.save()

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def once_ms(self, fn) -> float:
        torch = self.torch
        if not self.cuda:
            t = time.perf_counter()
            fn()
            return (time.perf_counter() - t) * 1e3
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end)

    def time_ms(self, fn, budget_ms: float = 2000.0, max_reps: int = 30) -> tuple[float, int]:
        """(median ms per call, calls timed): one warm-up call (compile, cuBLAS set-up), then as many timed calls
        as fit in `budget_ms` (at least one, at most `max_reps`; 3 in --smoke)."""
        if self.args.smoke:
            max_reps = 3
        self.once_ms(fn)  # warm-up: Triton compiles here
        times = [self.once_ms(fn)]
        while len(times) < max_reps and sum(times) + times[0] < budget_ms:
            times.append(self.once_ms(fn))
        return statistics.median(times), len(times)

    def randn(self, *shape, dtype="float32", seed=0):
        torch = self.torch
        g = torch.Generator(device=self.dev).manual_seed(seed)
        return torch.randn(*shape, device=self.dev, generator=g).to(getattr(torch, dtype))

    def free_bytes(self) -> int:
        if self.cuda:
            return self.torch.cuda.mem_get_info()[0]
        return 2 << 30

    # ------------------------------------------------------------------------------------------ sections
    def correctness(self) -> None:
        from tokbench.kernels import nearest_code
        from tokbench.kernels.reference import disagreements, reference_nearest
        from tokbench.kernels.triton_lookup import nearest_code_triton, sqnorms_triton

        torch = self.torch
        grid = ([(1, 7, 1), (40, 130, 3), (9, 200, 300)] if self.args.smoke else
                [(1, 7, 1), (1000, 300, 3), (257, 4097, 32), (8192, 16384, 64), (513, 1024, 128), (513, 1024, 256),
                 (300, 2000, 1000), (4096, 65536, 8), (64, 1_000_000, 16)])
        rows = []
        for (n, k, d), (dtype, prec), half in itertools.product(grid, PRECISIONS, (False, True)):
            if half and dtype != "bfloat16":
                continue
            dt = "float16" if half else dtype
            x, c = self.randn(n, d, dtype=dt, seed=n + k), self.randn(k, d, dtype=dt, seed=d)
            idx = nearest_code(x, c, precision=prec)
            m = min(n, 512)
            bad = disagreements(idx[:m], x[:m], c, prec).numel()
            rows.append({"n": n, "k": k, "d": d, "dtype": dt, "precision": prec, "checked": m, "off_optimum": bad})
        ties = []
        for dt in ("float32", "float16", "bfloat16"):
            g = torch.Generator(device=self.dev).manual_seed(7)
            base = torch.randint(-3, 4, (97, 24), device=self.dev, generator=g)
            c = torch.cat([base] * 5 + [base[:13]]).to(getattr(torch, dt))
            x = torch.randint(-3, 4, (600, 24), device=self.dev, generator=g).to(c.dtype)
            same = bool(torch.equal(nearest_code(x, c).cpu(), reference_nearest(x, c)[0]))
            split = nearest_code_triton(x, c, sqnorms_triton(c), block_codes=32, splits=4)[0]
            ties.append({"dtype": dt, "lowest_index": same,
                         "split_lowest_index": bool(torch.equal(split.cpu(), reference_nearest(x, c)[0]))})
        c = self.randn(300, 24)
        edge = {"empty": tuple(nearest_code(self.randn(0, 24), c).shape) == (0,),
                "single_row": nearest_code(c[5:6] * 1.0, c).tolist() == [5]}
        self.res["correctness"] = {"grid": rows, "ties": ties, "edge": edge,
                                   "all_ok": all(r["off_optimum"] == 0 for r in rows)
                                   and all(t["lowest_index"] and t["split_lowest_index"] for t in ties)
                                   and all(edge.values())}
        print(json.dumps(self.res["correctness"]["all_ok"]), flush=True)

    def overflow(self) -> None:
        from tokbench.kernels import nearest_code
        from tokbench.kernels.reference import disagreements

        torch = self.torch
        out = {}
        if not self.cuda:
            self.res["overflow"] = {"note": "skipped in --smoke (needs ~9 GB of GPU memory); the interpreter tests "
                                            "in tests/test_kernels_triton.py cover offsets past 2^31 with views"}
            return
        big = (1 << 26) + 1000
        for layout in ("rows, row-major", "rows, column-major", "codes"):
            if self.free_bytes() < 12 << 30:
                out[layout] = {"skipped": f"{self.free_bytes() / 2**30:.1f} GiB free"}
                continue
            if layout.startswith("rows"):
                x = self.randn(big, 32, seed=1) if "row-major" in layout else self.randn(32, big, seed=1).T
                c = self.randn(256, 32, seed=2)
                c[77] = 10.0
                x[big - 1] = c[77]
                t = time.time()
                idx = nearest_code(x, c)
                self.sync()
                out[layout] = {"planted_found": int(idx[big - 1]) == 77,
                               "tail_off_optimum": disagreements(idx[-2000:], x[-2000:], c).numel(),
                               "head_off_optimum": disagreements(idx[:2000], x[:2000], c).numel(),
                               "seconds": round(time.time() - t, 3)}
            else:
                c = self.randn(big, 32, seed=3)
                x = self.randn(4096, 32, seed=4)
                c[big - 1] = 10.0
                x[0] = c[big - 1]
                t = time.time()
                idx = nearest_code(x, c)
                self.sync()
                out[layout] = {"planted_found": int(idx[0]) == big - 1, "seconds": round(time.time() - t, 3)}
            del x, c, idx
            torch.cuda.empty_cache()
            print(layout, out[layout], flush=True)
        self.res["overflow"] = out

    def training(self) -> None:
        """fit-vq and fit-audio on the GPU for a few steps, counting their searches through the Triton kernel."""
        import tempfile

        from tokbench.cli import main as cli
        from tokbench.kernels import triton_lookup

        calls = {"n": 0}
        original = triton_lookup.nearest_code_triton

        def counted(*a, **kw):
            calls["n"] += 1
            return original(*a, **kw)

        device = "cuda" if self.cuda else "cpu"
        runs = {"fit-vq": ["fit-vq", "--family", "grid2d", "--data", "builtin:digits", "--steps", "20"],
                "fit-audio": ["fit-audio", "--data", "builtin:signals", "--steps", "10"]}
        out = {}
        saved = os.environ.get("TOKBENCH_LOOKUP")
        if self.args.smoke:  # the interpreter is far too slow for a training loop: only the plumbing is tried
            os.environ["TOKBENCH_LOOKUP"] = "torch"
            del runs["fit-audio"]
        triton_lookup.nearest_code_triton = counted
        try:
            with tempfile.TemporaryDirectory() as tmp:
                for name, argv in runs.items():
                    calls["n"] = 0
                    t = time.time()
                    try:
                        steps = ["--steps", "2"] if self.args.smoke else []  # the last --steps wins
                        rc = cli([*argv, *steps, "--device", device, "--runs-dir", tmp])
                    except SystemExit as exc:  # typer may exit instead of returning
                        rc = exc.code
                    out[name] = {"rc": rc, "triton_calls": calls["n"], "seconds": round(time.time() - t, 1)}
                    print(name, out[name], flush=True)
        finally:
            triton_lookup.nearest_code_triton = original
            if saved is None:
                os.environ.pop("TOKBENCH_LOOKUP", None)
            else:
                os.environ["TOKBENCH_LOOKUP"] = saved
        self.res["training"] = out

    def _peer(self, name: str, x, c, chunk: int):
        """A zero-argument callable for one peer, over row chunks of `chunk`."""
        torch = self.torch
        n, k = x.shape[0], c.shape[0]
        if name == "gemm":
            buf = torch.empty(min(chunk, n), k, device=self.dev, dtype=x.dtype)

            def gemm():
                for r in range(0, n, chunk):
                    torch.mm(x[r:r + chunk], c.T, out=buf[:min(chunk, n - r)])
            return gemm
        if name == "matmul_argmin":
            csq = (c.float() ** 2).sum(1)
            return lambda: [(csq - 2 * (x[r:r + chunk] @ c.T).float()).argmin(1) for r in range(0, n, chunk)]
        if name == "cdist_argmin":
            return lambda: [torch.cdist(x[r:r + chunk], c).argmin(1) for r in range(0, n, chunk)]
        from vector_quantize_pytorch import VectorQuantize

        vq = VectorQuantize(dim=c.shape[1], codebook_size=k, use_cosine_sim=False).eval().to(self.dev)
        vq.codebook = c.float()
        return lambda: [vq(x[r:r + chunk].float().unsqueeze(0))[1] for r in range(0, n, chunk)]

    def speed(self) -> None:
        from tokbench.kernels import nearest_code
        from tokbench.kernels.triton_lookup import pick_config

        torch = self.torch
        rows = []
        for (n, k, d), (dtype, prec) in itertools.product(SMOKE_SHAPES if self.args.smoke else SHAPES, PRECISIONS):
            torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
            x, c = self.randn(n, d, dtype=dtype, seed=1), self.randn(k, d, dtype=dtype, seed=2)
            cfg = pick_config(n, k, d, dtype=x.dtype, precision=prec,
                              sm_count=torch.cuda.get_device_properties(0).multi_processor_count if self.cuda else None)
            row = {"n": n, "k": k, "d": d, "dtype": dtype, "precision": prec,
                   "tile": [cfg.block_n, cfg.block_k, cfg.num_warps, cfg.num_stages, cfg.splits]}
            with torch.no_grad():
                row["nearest_code_ms"], row["nearest_code_runs"] = self.time_ms(
                    lambda: nearest_code(x, c, precision=prec))
                for peer in PEERS:
                    if peer == "vqp_search" and dtype != "float32":
                        row[f"{peer}_ms"], row[f"{peer}_note"] = None, "fp32 only (its search runs in fp32)"
                        continue
                    chunk = max(1, min(n, int(0.4 * self.free_bytes()) // (PEER_BYTES[peer] * k)))
                    if chunk < min(64, n):
                        row[f"{peer}_ms"], row[f"{peer}_note"] = None, "does not fit in 64-row chunks"
                        continue
                    try:
                        fn = self._peer(peer, x, c, chunk)
                        row[f"{peer}_ms"], row[f"{peer}_runs"] = self.time_ms(fn)
                        if chunk < n:
                            row[f"{peer}_note"] = f"{-(-n // chunk)} chunks of {chunk} rows"
                    except Exception as exc:  # noqa: BLE001 - e.g. an op without a bf16 kernel
                        row[f"{peer}_ms"] = None
                        row[f"{peer}_note"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
                    finally:
                        fn = None
                        if self.cuda:
                            torch.cuda.empty_cache()
            ours = row["nearest_code_ms"]
            for peer in PEERS:
                p = row.get(f"{peer}_ms")
                row[f"ratio_vs_{peer}"] = None if p is None else round(ours / p, 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
            del x, c
            self.res["speed"] = rows
            self.save()
        torch.backends.cuda.matmul.allow_tf32 = False
        self.res["targets"] = targets(rows)

    def sweep(self) -> None:
        """Kernel-alone times over tiles for the rows slower than TARGET_VS_GEMM x the GEMM, worst first."""
        from tokbench.kernels.triton_lookup import (STREAM_BLOCK_D, Config, choose_splits, nearest_code_triton,
                                                    shape_class, sqnorms_triton)

        torch = self.torch
        todo = [r for r in self.res.get("speed", []) if r.get("gemm_ms") and r["ratio_vs_gemm"] > TARGET_VS_GEMM]
        if self.args.smoke:
            todo = self.res.get("speed", [])[:1]
        todo.sort(key=lambda r: -r["ratio_vs_gemm"])
        space = (list(itertools.product((64, 128), (32, 64), (4,), (2,))) if self.args.smoke else
                 list(itertools.product((64, 128, 256), (32, 64, 128), (4, 8), (2, 3, 4))))
        sms = torch.cuda.get_device_properties(0).multi_processor_count if self.cuda else None
        found = []
        for r in todo:
            if self.elapsed() > self.args.budget_s:
                found.append({"shape": [r["n"], r["k"], r["d"], r["dtype"], r["precision"]], "note": "out of time"})
                continue
            n, k, d, prec = r["n"], r["k"], r["d"], r["precision"]
            x, c = self.randn(n, d, dtype=r["dtype"], seed=1), self.randn(k, d, dtype=r["dtype"], seed=2)
            sq = sqnorms_triton(c)
            key = shape_class(k, d, x.dtype, prec)
            block_d = STREAM_BLOCK_D if key[1] == "streamed" else key[1]
            best = None
            for bn, bk, warps, stages in space:
                if self.elapsed() > self.args.budget_s:
                    break
                splits = choose_splits(n, k, bn, bk, sms)
                cfg = Config(bn, bk, block_d, warps, stages, splits)
                try:
                    t, _ = self.time_ms(lambda: nearest_code_triton(x, c, sq, precision=prec, config=cfg),
                                        budget_ms=300, max_reps=10)
                except Exception:  # noqa: BLE001 - out of shared memory / registers for this tile
                    continue
                if best is None or t < best[0]:
                    best = (t, bn, bk, warps, stages, splits)
            found.append({"shape": [n, k, d, r["dtype"], prec], "class": list(key), "call_ms": r["nearest_code_ms"],
                          "gemm_ms": r["gemm_ms"], "best_kernel_ms": best and round(best[0], 4),
                          "best_tile": best and list(best[1:])})
            print(json.dumps(found[-1]), flush=True)
            del x, c, sq
            self.res["sweep"] = found
            self.save()
        self.res["sweep"] = found


def targets(rows: list[dict]) -> dict:
    """The issue's targets, met or not, from the speed rows."""
    slow_vs_gemm = [f"{r['n']}×{r['k']}×{r['d']} {r['dtype']} {r['precision']}: {r['ratio_vs_gemm']}×"
                    for r in rows if r.get("ratio_vs_gemm") is not None and r["ratio_vs_gemm"] > TARGET_VS_GEMM]
    slower_than_peer = [f"{r['n']}×{r['k']}×{r['d']} {r['dtype']} {r['precision']} vs {p}"
                        for r in rows for p in ("matmul_argmin", "cdist_argmin")
                        if r.get(f"ratio_vs_{p}") is not None and r[f"ratio_vs_{p}"] > 1.0]
    head = [r for r in rows if (r["n"], r["k"], r["d"]) == (65536, 16384, 32) and r["dtype"] == "float32"]
    vqp = [round(1 / r["ratio_vs_vqp_search"], 1) for r in head if r.get("ratio_vs_vqp_search")]
    cdist = [round(1 / r["ratio_vs_cdist_argmin"], 1) for r in head if r.get("ratio_vs_cdist_argmin")]
    return {"within_1.3x_gemm": not slow_vs_gemm, "slower_than_1.3x_gemm": slow_vs_gemm,
            "never_slower_than_matmul_or_cdist": not slower_than_peer, "slower_than_peer": slower_than_peer,
            "headline_speedup_vs_vqp": vqp, "headline_speedup_vs_cdist": cdist,
            "headline_met": bool(vqp) and min(vqp) >= 20 and bool(cdist) and min(cdist) >= 10}


def _times(v: float) -> str:
    return f"{v:.2f}×" if v < 10 else f"{v:.1f}×"


def _ms(v) -> str:
    return "—" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def render(res: dict, command: str) -> str:
    """The RESULTS.md section body from the JSON document."""
    lines = [f"Command: `{command}`. Device: **{res['device']}**, torch {res['torch']}, triton {res['triton']}, "
             f"vector-quantize-pytorch {res.get('vector_quantize_pytorch')}; {res['date']}. Times: median of per-call "
             "times, each call between two synchronizations (so the wrapper's Python time counts); the bare GEMM is "
             "`torch.mm(x, c.T, out=buf)` in the same dtype and precision (row chunks when N×K does not fit), the "
             "floor of any method that reads the same product.", ""]
    if res.get("smoke"):
        lines += ["**Smoke run** (CPU, Triton interpreter, tiny shapes): these figures say nothing about speed.", ""]
    speed = res.get("speed", [])
    if speed:
        lines += ["| N × K × D | dtype, precision | nearest_code ms | bare GEMM ms | ÷ GEMM | matmul+argmin ms | "
                  "cdist+argmin ms | vqp search ms | × cdist | × vqp | tile (n, k, warps, stages, splits) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in speed:
            inv = lambda p: "—" if not r.get(f"ratio_vs_{p}") else _times(1 / r[f"ratio_vs_{p}"])  # noqa: E731
            lines.append(f"| {r['n']} × {r['k']} × {r['d']} | {r['dtype']}, {r['precision']} | "
                         f"{_ms(r['nearest_code_ms'])} | {_ms(r.get('gemm_ms'))} | "
                         f"{'—' if r.get('ratio_vs_gemm') is None else r['ratio_vs_gemm']} | "
                         f"{_ms(r.get('matmul_argmin_ms'))} | {_ms(r.get('cdist_argmin_ms'))} | "
                         f"{_ms(r.get('vqp_search_ms'))} | {inv('cdist_argmin')} | {inv('vqp_search')} | "
                         f"{tuple(r['tile'])} |")
        notes = sorted({f"{p}: {r[f'{p}_note']}" for r in speed for p in PEERS if r.get(f"{p}_note")})
        if notes:
            lines += ["", "Peer notes: " + "; ".join(notes) + "."]
    t = res.get("targets")
    if t:
        lines += ["", "Targets (issue 11):",
                  f"- nearest_code ≤ {TARGET_VS_GEMM}× the bare GEMM everywhere: "
                  + ("met" if t["within_1.3x_gemm"] else "missed at " + "; ".join(t["slower_than_1.3x_gemm"])),
                  "- never slower than matmul+argmin or cdist+argmin: "
                  + ("met" if t["never_slower_than_matmul_or_cdist"] else "missed at " + "; ".join(t["slower_than_peer"])),
                  "- 65536×16384×32 fp32: " + (
                      f"{t['headline_speedup_vs_vqp']}× vs vector-quantize-pytorch (≥ 20×), "
                      f"{t['headline_speedup_vs_cdist']}× vs cdist+argmin (≥ 10×) (ieee, tf32): "
                      + ("met" if t["headline_met"] else "missed")
                      if t["headline_speedup_vs_vqp"] or t["headline_speedup_vs_cdist"] else "not measured")]
    corr = res.get("correctness")
    if corr:
        bad = [g for g in corr["grid"] if g["off_optimum"]]
        lines += ["", f"Correctness: {len(corr['grid'])} shape × dtype × precision cases against float64 (first 512 "
                  f"rows each), {'all on the optimum' if not bad else f'{len(bad)} cases off: {bad[:3]}'}; exact ties "
                  f"to the lowest index (plain and split codebook): {all(t['lowest_index'] and t['split_lowest_index'] for t in corr['ties'])}; "
                  f"empty and single-row inputs: {all(corr['edge'].values())}."]
    if res.get("training"):
        lines += ["", "Training on the device through the kernel (a few steps each; searches counted): "
                  + "; ".join(f"{k}: exit {v['rc']}, {v['triton_calls']} Triton searches, {v['seconds']} s"
                              for k, v in res["training"].items()) + "."]
    if res.get("overflow"):
        lines += ["", f"Offsets past 2^31 elements (2^26 + 1000 rows or codes at D = 32): `{json.dumps(res['overflow'])}`"]
    if res.get("sweep"):
        lines += ["", "Tile sweep (kernel alone) for the classes above 1.3× the GEMM — paste the best tiles into "
                  "`TILES` in tokbench/kernels/triton_lookup.py:", ""]
        lines += [f"- {s['shape']}: class {s.get('class')}, best (n, k, warps, stages, splits) {s.get('best_tile')} "
                  f"at {_ms(s.get('best_kernel_ms'))} ms (call {_ms(s.get('call_ms'))} ms, "
                  f"GEMM {_ms(s.get('gemm_ms'))} ms)" if "note" not in s else
                  f"- {s['shape']}: {s['note']}" for s in res["sweep"]]
    errors = [k for k in res if k.endswith("_error")]
    if errors:
        lines += ["", f"Sections that failed (see gpu_lookup.json): {', '.join(errors)}."]
    lines += ["", "### Before this change (first H200 run, shared/gpu/README.md)", "", BEFORE]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.smoke:  # must be set before triton is imported
        os.environ["TRITON_INTERPRET"] = "1"
        os.environ["TOKBENCH_LOOKUP"] = "triton"
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("gpu_lookup_check: no CUDA GPU here (use --smoke for a CPU dry run)", file=sys.stderr)
        return 2
    check = Check(args)
    print(f"device: {check.res['device']}", flush=True)
    # overflow last: a crash there (an illegal address poisons the CUDA context) cannot cost the other figures
    for name in ("correctness", "speed", "training", "sweep", "overflow"):
        if name not in args.skip:
            check.section(name, getattr(check, name))
    check.res["total_seconds"] = round(check.elapsed(), 1)
    check.save()
    if args.write:
        import _results

        _results.RESULTS = Path(args.results)
        command = "python benchmarks/lookup.py --device cuda --write" + (" --smoke" if args.smoke else "")
        _results.write_section(SECTION, render(check.res, command))
        print(f"wrote the section {SECTION!r} of {args.results}")
    print(f"wrote {check.out / 'gpu_lookup.json'} ({check.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
