"""`tokbench eval-vq`: evaluate a trained image tokenizer per token budget and attach the report to its run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import JsonOpt, emit, fmt, stdout

#: two tables, so each fits an 80-column terminal: reconstruction quality, then how the codes are used
_QUALITY = (("budget", "tokens"), ("bits_per_image", "bits/img"), ("bits_per_pixel", "bits/px"),
            ("psnr_db", "PSNR dB"), ("ssim", "SSIM"), ("rfid", "rFID"), ("fd_pixels", "FD pixels"))
_CODES = (("budget", "tokens"), ("codebook_usage", "usage"), ("entropy_bits", "entropy bits"),
          ("perplexity", "perplexity"), ("dead_codes", "dead codes"), ("token_information_density", "info density"))


@app.command("eval-vq")
def eval_vq_command(
    run: Annotated[Path, typer.Argument(help="A visual-vq run folder (from fit-vq).")],
    data: Annotated[str, typer.Option("--data", "-d", help="Image source: builtin:fashion-mnist | builtin:digits | "
                                      "builtin:photos, an image folder, an IDX file or an .npz file.")]
    = "builtin:fashion-mnist",
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "test",
    limit: Annotated[Optional[int], typer.Option("--limit", help="Evaluate the first N images of the split "
                                                 "(0 = all).")] = 2000,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per forward pass.")] = 256,
    budget: Annotated[Optional[list[int]], typer.Option("--budget", help="Token budget to evaluate, repeatable "
                                                        "(default: all the model offers).")] = None,
    inception_weights: Annotated[Optional[Path], typer.Option(
        "--inception-weights", help="The standard FID Inception weights file (pt_inception-2015-12-05-6726825d.pth); "
        "default: the torch hub cache. rFID is reported only when its sha256 matches.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on an unreadable file in an image folder "
                                         "(default: skip and count it).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate a trained image tokenizer: PSNR, SSIM, rFID (or why not), codebook use and rate per token
    budget, against the mean-image baseline. Results go into the run's **report.json**,
    **metrics.json** and **artifacts/eval/reconstructions.npz**."""
    from tokbench import evaluate_vq

    report = evaluate_vq(run, data=data, split=split, limit=limit or None, batch_size=batch_size,
                         budgets=budget or None, inception_weights=inception_weights, strict=strict)
    emit(report, json_out, _render)


def _cell(value: Any) -> str:
    """Very large figures (the perplexity of 64-bit codes) in scientific notation, the rest as `fmt` does."""
    if isinstance(value, float) and abs(value) >= 1e7:
        return f"{value:.3e}"
    return fmt(value)


def _render(report: dict[str, Any]) -> None:
    from rich.table import Table

    for name, summary in report["evaluations"].items():
        skip = {u["metric"] for u in summary["unavailable"]}
        title = (f"{report['run_dir']} ({summary.get('family') or 'model'}) on {name}: "
                 f"{summary['images']} images {'x'.join(map(str, summary['image_shape']))}")
        for columns, caption in ((_QUALITY, title), (_CODES, "codes" + (" (binary: factorized over bit groups)"
                                                                         if "factorized" in summary["budgets"][0]
                                                                         else ""))):
            table = Table(title=caption)
            for _, header in columns:
                table.add_column(header, justify="right")
            for entry in summary["budgets"]:
                table.add_row(*["n/a" if key in skip else _cell(entry.get(key)) for key, _ in columns])
            stdout.print(table)
        base = summary["baseline"]
        stdout.print(f"baseline (mean image, {base['how']}): PSNR {fmt(base['psnr_db'])} dB"
                     + (f", SSIM {fmt(base['ssim'])}" if base.get("ssim") is not None else ""))
        for u in summary["unavailable"]:
            stdout.print(f"{u['metric']}: unavailable ({u['reason']})")
        if summary.get("skipped_files"):
            stdout.print(f"skipped {summary['skipped_files']} unreadable files")
    if report.get("reconstructions"):
        stdout.print(f"reconstructions: {report['reconstructions']}")
