"""Distributed counting (`train-bpe --engine dask`) against today's single process: time and peak memory per
stage at 8/32/128 MB, whether the merges are identical, and the counting speedup per worker.

    .venv/bin/python benchmarks/scale.py                          # local cluster, 8/32/128 MB, vocab 32,000
    .venv/bin/python benchmarks/scale.py --sizes 32 --variant supertoken
    .venv/bin/python benchmarks/scale.py --scheduler tcp://HOST:8786 --corpus /shared/corpus-128mb.txt --sizes 128

Corpora (`scale_corpus.py`): documentation shipped under /usr/share/doc, then Python sources, concatenated to
size; each run trains in a fresh process, so every peak-memory figure is that process's own. Targets (issue 17,
on this 2-core machine): engine <= 1.3x the single process's time at 128 MB; the driver's peak memory while
counting below the single process's plain-BPE peak; identical merges at 32 and 128 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TOKBENCH_PROGRESS", "0")

from _results import load_note, machine, write_section  # noqa: E402
from scale_corpus import make_corpus  # noqa: E402

MB = 1000 * 1000


def child(args: dict) -> None:
    """One training in this process; prints its metrics and this process's peak memory as JSON."""
    from tokbench import train_bpe
    from tokbench.engines.cluster import peak_rss_mb

    start = time.perf_counter()
    # supertoken: the single process would also train a plain BPE to compare against; the engine path does not
    options = {"compare_plain": False} if args["variant"] == "supertoken" and not args.get("engine") else None
    result = train_bpe(args["corpus"], vocab_size=args["vocab"], variant=args["variant"], runs_dir=args["runs"],
                       name=args["name"], evaluate=False, options=options, **args.get("engine", {}))
    print(json.dumps({"wall": time.perf_counter() - start, "metrics": result.metrics["training"],
                      "peak_rss_mb": peak_rss_mb(),
                      "tokenizer": str(result.tokenizer_path)}))


def run_child(args: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"training failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))  # whole first sentence
    parser.add_argument("--sizes", default="8,32,128", help="corpus sizes in MB")
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--variant", default="plain", choices=("plain", "supertoken"))
    parser.add_argument("--scheduler", help="a running Dask cluster (tcp://host:port) instead of a local one")
    parser.add_argument("--workers", default=None, help="local cluster sizes to compare, e.g. 1,2 (default: 1,cores)")
    parser.add_argument("--corpus", help="train on this file or URL (all sizes) instead of the built corpora")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "tokbench-scale"))
    parser.add_argument("--no-single", action="store_true", help="skip the single-process baseline")
    parser.add_argument("--write", action="store_true", help="record the figures in benchmarks/RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    cores = len(os.sched_getaffinity(0))
    workers = [int(w) for w in args.workers.split(",")] if args.workers else sorted({1, cores})
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="tokbench-scale-runs-") as runs:
        for size in sizes:
            corpus = args.corpus or str(make_corpus(Path(args.data_dir) / f"corpus-{size}mb.txt", size * MB))
            base = {"corpus": corpus, "vocab": args.vocab_size, "variant": args.variant, "runs": runs}
            single = None if args.no_single else run_child({**base, "name": f"single-{size}"})
            engines = []
            if args.scheduler:
                engines.append(("cluster", run_child({**base, "name": f"cluster-{size}",
                                                      "engine": {"engine": "dask", "scheduler": args.scheduler}})))
            else:
                for n in workers:
                    engines.append((f"{n} worker{'s' if n > 1 else ''}", run_child(
                        {**base, "name": f"engine{n}-{size}", "engine": {"engine": "dask", "workers": n}})))
            if single:
                rows.append((size, "single process", single, None, None))
            ref = Path(single["tokenizer"]).read_text() if single else None
            for label, res in engines:
                same = None if ref is None else Path(res["tokenizer"]).read_text() == ref
                rows.append((size, f"engine, {label}", res, same, single))
            counts = {label: _count_seconds(res["metrics"]) for label, res in engines}
            m = engines[0][1]["metrics"]
            notes.append(f"{size} MB: {m.get('pretokens_unique', 0):,} distinct pre-tokens"
                         + (f", {m['chunks_unique']:,} distinct stage-2 chunks" if "chunks_unique" in m else "")
                         + f", {m.get('pretokens_shards', 0)} shards")
            if len(engines) > 1:
                (l1, r1), (ln, rn) = engines[0], engines[-1]
                n1, nn = (workers[0], workers[-1])
                speedup = counts[l1] / max(counts[ln], 1e-9)
                notes.append(f"{size} MB: counting {counts[l1]:.1f} s with {n1} worker(s), {counts[ln]:.1f} s with "
                             f"{nn}: speedup {speedup:.2f}x, i.e. {speedup / (nn / n1):.2f} of linear per worker")
            elif args.scheduler:
                res = engines[0][1]["metrics"]
                notes.append(f"{size} MB on the cluster: counting {counts['cluster']:.1f} s "
                             f"({size / max(counts['cluster'], 1e-9):.1f} MB/s)")
    body = _table(rows, args) + _verdicts(rows)
    body += "\n" + "\n".join(f"- {n}" for n in notes) + "\n" if notes else ""
    body += (f"- corpora: `scale_corpus.py` (Debian's /usr/share/doc text, then Python sources), vocab "
             f"{args.vocab_size:,}, variant {args.variant}; each training in a fresh process; {machine()}; "
             f"{load_note()} (the machine is shared with other work: absolute times are noisy)\n")
    print(body)
    if args.write:
        title = f"Distributed counting, train-bpe --engine dask, {args.variant} (issue 17)"
        extra = f" --workers {args.workers}" if args.workers else ""
        extra += f" --scheduler {args.scheduler}" if args.scheduler else ""
        write_section(title, f"Command: `.venv/bin/python benchmarks/scale.py --sizes {args.sizes} --variant "
                             f"{args.variant}{extra} --write`\n\n" + body)


def _verdicts(rows: list) -> str:
    """The issue's targets, judged on the largest corpus measured (engine: its fastest configuration)."""
    singles = {size: res for size, how, res, _, _ in rows if how == "single process"}
    if not singles:
        return ""
    size = max(singles)
    single = singles[size]
    engine = min((res for s, how, res, _, _ in rows if s == size and how != "single process"),
                 key=lambda r: r["wall"], default=None)
    if engine is None:
        return ""
    ratio = engine["wall"] / single["wall"]
    counting_peak = engine["metrics"].get("driver_peak_rss_mb_counting", float("nan"))
    same = {s: ok for s, how, _, ok, _ in rows if how != "single process" and ok is not None}
    lines = ["", "| target | measured | verdict |", "|---|---|---|",
             f"| engine <= 1.3x single-process time at {size} MB | {ratio:.2f}x | "
             f"{'met' if ratio <= 1.3 else 'missed'} |",
             f"| driver peak while counting < single-process peak at {size} MB | {counting_peak:.0f} MB vs "
             f"{single['peak_rss_mb']:.0f} MB | {'met' if counting_peak < single['peak_rss_mb'] else 'missed'} |"]
    for s in sorted(same):
        lines.append(f"| identical tokenizer.json at {s} MB | {'yes' if same[s] else 'no'} | "
                     f"{'met' if same[s] else 'missed'} |")
    return "\n".join(lines) + "\n"


def _count_seconds(metrics: dict) -> float:
    return sum(v for k, v in metrics.items() if k.endswith("_count_seconds"))


def _table(rows: list, args: argparse.Namespace) -> str:
    lines = ["| corpus | how | total s | counting s | learning s | cluster start s | driver peak MB (counting) "
             "| driver peak MB | worker peak MB | vs single: time | identical tokenizer.json |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, how, res, same, single in rows:
        m = res["metrics"]
        ratio = f"{res['wall'] / single['wall']:.2f}x" if single else ""
        if single is None:  # the single-process row: one HF pass, no stages to tell apart
            lines.append(f"| {size} MB | {how} | {res['wall']:.1f} |  |  |  |  | {res['peak_rss_mb']:.0f} |  |  |  |")
            continue
        count = _count_seconds(m)
        lines.append(f"| {size} MB | {how} | {res['wall']:.1f} | {count:.1f} | {m.get('learn_seconds', 0):.1f} | "
                     f"{m.get('cluster_start_seconds', 0):.1f} | {m.get('driver_peak_rss_mb_counting', '')} | "
                     f"{res['peak_rss_mb']:.0f} | {m.get('worker_peak_rss_mb', '')} | {ratio} | "
                     f"{'' if same is None else ('yes' if same else 'NO')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
