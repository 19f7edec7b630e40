"""`tokbench export`: write a text-bpe run as a transformers folder or a tiktoken rank file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tokbench.cli import app
from tokbench.cli.common import JsonOpt, emit, stdout


@app.command("export")
def export_command(
    run: Annotated[Path, typer.Argument(help="A train-bpe run folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (new or empty).")],
    fmt: Annotated[str, typer.Option("--format", help="transformers (AutoTokenizer.from_pretrained) or tiktoken "
                                     "(byte-level BPE only).")] = "transformers",
    json_out: JsonOpt = False,
) -> None:
    """Export a tokenizer for other libraries, verified to give the same ids as tokbench on the run's
    held-out lines. Runs that need tokbench's number transform (triad) are refused."""
    from tokbench import export_run

    result = export_run(run, out, fmt)

    def render(p: dict[str, Any]) -> None:
        roles = ", ".join(f"{k.removesuffix('_token')}={v}" for k, v in p["special_tokens"].items())
        stdout.print(f"{p['format']} export of {p['run']} in {p['out']}: {', '.join(p['files'])}", markup=False)
        stdout.print(f"special tokens: {roles or 'none'}; same ids as tokbench on {p['verified_strings']:,} strings",
                     markup=False)

    emit(result, json_out, render)
