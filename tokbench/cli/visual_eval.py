"""`tokbench eval-vq`: evaluate a trained image tokenizer per token budget and attach the report to its run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import BETTER_LEGEND, JsonOpt, better_header, emit, fmt, stdout

#: two tables, so each fits an 80-column terminal: reconstruction quality, then how the codes are used;
#: (key, header, direction): +1 higher is better, -1 lower is better, 0 neither (the rate is a chosen budget)
_QUALITY = (("budget", "tokens", 0), ("bits_per_image", "bits/img", 0), ("bits_per_pixel", "bits/px", 0),
            ("psnr_db", "PSNR dB", 1), ("ssim", "SSIM", 1), ("rfid", "rFID", -1), ("fd_pixels", "FD pixels", -1))
_CODES = (("budget", "tokens", 0), ("codebook_usage", "usage", 1), ("entropy_bits", "entropy bits", 1),
          ("perplexity", "perplexity", 1), ("dead_codes", "dead codes", -1),
          ("token_information_density", "info density", 1))


@app.command("eval-vq")
def eval_vq_command(
    run: Annotated[Path, typer.Argument(help="A visual-vq run folder (from fit-vq).")],
    data: Annotated[Optional[str], typer.Option(
        "--data", "-d", help="Image source: builtin:fashion-mnist | builtin:digits | builtin:photos | "
        "builtin:photos64, an image folder, an IDX file or an .npz file. Default: the source the run was trained "
        "on (run.json); another source is converted to the model's shape and the report says so.")] = None,
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "test",
    limit: Annotated[Optional[int], typer.Option("--limit", help="Evaluate the first N images of the split "
                                                 "(0 = all). rFID needs at least 2,048.")] = 2048,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per forward pass.")] = 256,
    budget: Annotated[Optional[list[int]], typer.Option("--budget", help="Token budget to evaluate, repeatable "
                                                        "(default: all the model offers).")] = None,
    inception_weights: Annotated[Optional[Path], typer.Option(
        "--inception-weights", help="The standard FID Inception weights file (pt_inception-2015-12-05-6726825d.pth); "
        "default: the torch hub cache. rFID is reported only when its sha256 matches.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on an unreadable file in an image folder "
                                         "(default: skip and count it).")] = False,
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads for torch (default: torch's "
                                                   "choice; 1 is fastest on a busy CPU).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate a trained image tokenizer: PSNR, SSIM, rFID (or why not), codebook use and rate per token
    budget, against the mean-image baseline. Results go into the run's **report.json**,
    **metrics.json** and **artifacts/eval/reconstructions.npz**."""
    from tokbench import evaluate_vq
    from tokbench.errors import TokbenchError

    if threads is not None and threads < 1:
        raise TokbenchError("--threads must be >= 1")
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        report = evaluate_vq(run, data=data, split=split, limit=limit or None, batch_size=batch_size,
                             budgets=budget or None, inception_weights=inception_weights, strict=strict)
    finally:
        torch.set_num_threads(previous)
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
            for _, header, direction in columns:
                table.add_column(better_header(header, direction), justify="right")
            for entry in summary["budgets"]:
                table.add_row(*["n/a" if key in skip else _cell(entry.get(key)) for key, _, _ in columns])
            stdout.print(table)
        stdout.print(BETTER_LEGEND)
        for note in summary.get("notes") or []:
            stdout.print(f"[yellow]note:[/yellow] {note}")
        base = summary["baseline"]
        stdout.print(f"baseline (mean image, {base['how']}): PSNR {fmt(base['psnr_db'])} dB"
                     + (f", SSIM {fmt(base['ssim'])}" if base.get("ssim") is not None else ""))
        for u in summary["unavailable"]:
            stdout.print(f"{u['metric']}: unavailable ({u['reason']})")
        if summary.get("skipped_files"):
            stdout.print(f"skipped {summary['skipped_files']} unreadable files")
    if report.get("reconstructions"):
        stdout.print(f"reconstructions: {report['reconstructions']}")
