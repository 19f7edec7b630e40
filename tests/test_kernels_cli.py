"""`tokbench bench-lookup` end to end: JSON on stdout, a `bench` run folder that follows the report contract."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("vector_quantize_pytorch")

from tokbench.cli import main  # noqa: E402
from tokbench.runs import load_run  # noqa: E402


@pytest.mark.slow
def test_bench_lookup_writes_a_bench_run(tmp_path, capsys):
    rc = main(["bench-lookup", "--n", "300", "--k", "130", "--d", "8", "--dtype", "float32", "--dtype", "bfloat16",
               "--repeats", "1", "--runs-dir", str(tmp_path), "--name", "lk", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    payload = json.loads(out)
    record = load_run(payload["run_dir"])
    assert record.kind == "bench" and record.status == "done"
    rows = record.report["rows"]
    assert {r["metric"] for r in rows} == {"seconds", "speedup_vs_cdist", "peak_extra_mb"}
    assert {r["subject"] for r in rows} == {"nearest_code", "cdist_argmin", "matmul_argmin", "vqp_search"}
    for r in rows:
        assert r["dataset"] == f"N={r['n']},K={r['k']},D={r['d']},dtype={r['dtype']}"
        assert r["value"] is None or r["value"] >= 0
    assert {r["dtype"] for r in rows} == {"float32", "bfloat16"}
    for s in payload["speedups"]:
        assert s["rows_off_optimum"] == 0 and s["checked_rows"] == 300
        assert s["agreement_cdist_argmin"] > 0.95  # only exact-distance ties may differ
    assert "N=300,K=130,D=8,dtype=float32" in record.metrics


def test_bench_lookup_table_without_run(tmp_path, capsys):
    rc = main(["bench-lookup", "--n", "64", "--k", "70", "--d", "3", "--method", "nearest_code", "--method",
               "cdist_argmin", "--repeats", "2", "--no-run", "--runs-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "64×70×3 f32" in out and "run folder" not in out
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args,message", [
    (["--dtype", "int8"], "unknown dtype"),
    (["--n", "0"], "N must be a positive integer"),
    (["--method", "faiss"], "unknown method"),
    (["--repeats", "0", "--n", "4"], "--repeats must be at least 1"),
])
def test_bench_lookup_bad_options_exit_2(args, message, tmp_path, capsys):
    rc = main(["bench-lookup", *args, "--no-run", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
