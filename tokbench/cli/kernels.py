"""`tokbench bench-lookup`: time nearest_code against cdist, matmul and vector-quantize-pytorch's search."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import DEFAULT_RUNS_DIR, JsonOpt, NameOpt, RunsDirOpt, emit, fmt, stdout


@app.command("bench-lookup")
def bench_lookup_command(
    n: Annotated[Optional[list[int]], typer.Option("--n", help="Rows N, repeatable (picks single shapes).")] = None,
    k: Annotated[Optional[list[int]], typer.Option("--k", help="Codes K, repeatable.")] = None,
    d: Annotated[Optional[list[int]], typer.Option("--d", help="Dimension D, repeatable.")] = None,
    dtype: Annotated[Optional[list[str]], typer.Option("--dtype",
                                                       help="float32, float16 or bfloat16; repeatable.")] = None,
    full: Annotated[bool, typer.Option("--full", help="The full grid: N=65,536, K 256..65,536, D 8..256, "
                                                      "every dtype (long).")] = False,
    method: Annotated[Optional[list[str]], typer.Option("--method", help="Only these methods: nearest_code, "
                      "cdist_argmin, matmul_argmin, vqp_search, matmul_only (a bare x @ c.T, the floor); "
                      "repeatable. Default: the first four, plus matmul_only on CUDA.")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random inputs.")] = 0,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed runs per method, the best is kept (fewer "
                                                         "once a method has spent 15 s).")] = 3,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not write a run folder.")] = False,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    name: NameOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Time nearest-code search methods on the same inputs and print ratios and peak extra memory.

    Without shape options it runs a small default grid (about two minutes on two cores); **--n/--k/--d/--dtype**
    pick shapes (their cross product). Writes a run folder of kind **bench**.
    """
    from tokbench import run_lookup_bench
    from tokbench.kernels.bench import parse_shapes

    result = run_lookup_bench(parse_shapes(n, k, d, dtype), full=full, methods=method, runs_dir=runs_dir, name=name,
                              write_run=not no_run, seed=seed, repeats=repeats, device=device)
    emit(result, json_out, _render)


def _render(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"nearest_code ({result['device']}): best-run seconds; speedup = peer time / ours")
    floor = any(s.get("speedup_vs_matmul_only") is not None for s in result["speedups"])
    columns = [("N×K×D dtype", "left"), ("s", "right"), ("peak MiB", "right"), ("×cdist", "right"),
               ("×matmul", "right"), ("×vqp", "right")] + ([("×(x@cᵀ)", "right")] if floor else []) \
        + [("N×K MiB", "right"), ("exact", "right")]
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for s in result["speedups"]:
        ratio = lambda key: "—" if s.get(key) is None else f"{s[key]:.1f}×"  # noqa: E731
        checked = f"{s['checked_rows'] - s['rows_off_optimum']}/{s['checked_rows']}"
        ratios = [ratio("speedup_vs_cdist_argmin"), ratio("speedup_vs_matmul_argmin"), ratio("speedup_vs_vqp_search")]
        if floor:
            ratios.append(ratio("speedup_vs_matmul_only"))
        table.add_row(_shape(s), fmt(s["nearest_code_seconds"]), fmt(s["nearest_code_peak_extra_mb"]), *ratios,
                      fmt(s["nk_fp32_mb"]), checked)
    stdout.print(table)
    peers = Table(title="every method: best-run seconds (peak extra MiB)")
    peers.add_column("N×K×D dtype")
    methods = list(dict.fromkeys(r["method"] for r in result["results"]))
    for m in methods:
        peers.add_column(m, justify="right")
    by_shape: dict[str, dict[str, dict]] = {}
    for r in result["results"]:
        by_shape.setdefault(r["dataset"], {})[r["method"]] = r
    for shape, group in by_shape.items():
        cells = []
        for m in methods:
            r = group.get(m)
            if r is None:
                cells.append("")
            elif r["seconds"] is None:
                cells.append(r["note"] or "n/a")
            else:
                cells.append(f"{fmt(r['seconds'])} ({fmt(r['peak_extra_mb'])})")
        first = next(iter(group.values()))
        peers.add_row(_shape(first), *cells)
    stdout.print(peers)
    for r in result["results"]:
        if r["note"]:
            stdout.print(f"note: {r['method']} at {_shape(r)}: {r['note']}")
    if result.get("run_dir"):
        stdout.print(f"run folder: {result['run_dir']}")


_SHORT = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}


def _shape(entry: dict[str, Any]) -> str:
    if "n" in entry:
        return f"{entry['n']}×{entry['k']}×{entry['d']} {_SHORT.get(entry['dtype'], entry['dtype'])}"
    return entry["dataset"]
