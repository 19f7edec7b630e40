"""Training and evaluation throughput of the four visual tokenizer families on this machine's CPU.

For each family (default configs on builtin:fashion-mnist 28x28) it measures, in one run:
- training images/s: `fit_vq` for `--steps` steps (its own steady-state figure, and end-to-end wall time);
- eval images/s: `model.encode` + `model.decode` at the full token budget over `--eval-images` test images;
- the wall time of a whole `evaluate_vq` (every budget: 1..K for flexible) on the same images.
Ratios are against grid2d measured in the same run. Figures go to benchmarks/RESULTS.md, "## Visual (issue 6)".

    .venv/bin/python benchmarks/visual_fit.py [--steps 40] [--eval-images 256] [--families grid2d,binary]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOKBENCH_PROGRESS", "0")

from _results import load_note, machine, write_section  # noqa: E402

FAMILIES = ("grid2d", "latent1d", "binary", "flexible")
SECTION = "Visual (issue 6)"


def model_throughput(model, images, batch_size: int) -> tuple[float, float]:
    """(encode images/s, encode+decode images/s) at the full budget, no autograd."""
    import torch

    x = torch.from_numpy(images)
    with torch.no_grad():
        model.encode(x[:batch_size])  # warm-up
        start = time.perf_counter()
        tokens = [model.encode(x[s:s + batch_size]) for s in range(0, len(x), batch_size)]
        enc = time.perf_counter() - start
        for t in tokens:
            model.decode(t)
        both = time.perf_counter() - start
    return len(x) / enc, len(x) / both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--eval-images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256, help="eval batch size")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--write", action="store_true", help="record the figures in benchmarks/RESULTS.md")
    args = parser.parse_args()

    import torch

    from tokbench.sources.images import load_images
    from tokbench.visual.evaluate import evaluate_vq
    from tokbench.visual.model_io import load_model
    try:
        from tokbench.visual.train import fit_vq
    except ImportError as exc:
        sys.exit(f"tokbench.visual.train is not available ({exc}); nothing to benchmark")

    families = [f for f in args.families.split(",") if f]
    threads = torch.get_num_threads()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            start = time.perf_counter()
            result = fit_vq(family, "builtin:fashion-mnist", steps=args.steps, runs_dir=tmp, name=family,
                            checkpoint_every=10 ** 9)
            fit_wall = time.perf_counter() - start
            model = load_model(result.run_dir)
            imgs = load_images("builtin:fashion-mnist", "test", size=model.image_shape[1],
                               channels=model.image_shape[0], limit=args.eval_images).images
            enc_ips, eval_ips = model_throughput(model, imgs, args.batch_size)
            start = time.perf_counter()
            report = evaluate_vq(result.run_dir, limit=args.eval_images, batch_size=args.batch_size, model=model)
            eval_wall = time.perf_counter() - start
            summary = next(iter(report["evaluations"].values()))
            rows.append({"family": family, "train_ips": result.images_per_second,
                         "train_ips_e2e": args.steps * _batch(result) / fit_wall, "fit_wall": fit_wall,
                         "encode_ips": enc_ips, "eval_ips": eval_ips, "eval_wall": eval_wall,
                         "budgets": len(summary["budgets"]), "tokens": summary["tokens_per_image"],
                         "bits": summary["bits_per_token"], "psnr": summary["budgets"][-1]["psnr_db"]})
            print(f"{family:9s} train {result.images_per_second:8.1f} img/s  eval (enc+dec) {eval_ips:8.1f} img/s  "
                  f"full evaluate_vq {eval_wall:6.1f}s over {len(summary['budgets'])} budget(s)", flush=True)

    base = next((r for r in rows if r["family"] == "grid2d"), rows[0])
    lines = [
        f"`.venv/bin/python benchmarks/visual_fit.py --steps {args.steps} --eval-images {args.eval_images}` on "
        f"{machine()}, torch CPU with {threads} threads, default family configs, builtin:fashion-mnist 28x28.",
        f"Machine load: {load_note()}; absolute figures move with load, the ratios "
        f"(vs {base['family']} in the same run) are the comparable part. PSNR is after only {args.steps} steps "
        "(a throughput run, not a quality run).",
        "",
        "| family | tokens x bits | train img/s | vs grid2d | train img/s end-to-end | eval img/s (enc+dec) "
        "| vs grid2d | evaluate_vq s (budgets) | PSNR dB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['family']} | {r['tokens']} x {r['bits']:.3g} | {r['train_ips']:.1f} | "
                     f"{r['train_ips'] / base['train_ips']:.2f}x | {r['train_ips_e2e']:.1f} | {r['eval_ips']:.1f} | "
                     f"{r['eval_ips'] / base['eval_ips']:.2f}x | {r['eval_wall']:.1f} ({r['budgets']}) | "
                     f"{r['psnr']:.2f} |")
    body = "\n".join(lines)
    print()
    print(body)
    if args.write:
        write_section(SECTION, body)


def _batch(result) -> int:
    from tokbench.runs import read_json

    info = read_json(Path(result.run_dir) / "run.json")
    return int(info.get("config", {}).get("train", {}).get("batch_size", 32))


if __name__ == "__main__":
    main()
