"""`tokbench runs` and `tokbench show`: what the run folders hold, for people and scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import DEFAULT_RUNS_DIR, JsonOpt, emit, metrics_table, stdout


@app.command("runs")
def runs_command(
    runs_dir: Annotated[Optional[Path], typer.Argument(help="Folder that holds run folders (default ./runs).")] = None,
    kind: Annotated[Optional[str], typer.Option(help="Only runs of this kind (text-bpe, visual-vq, ...).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List run folders: name, kind, status, start time. Corrupt folders are listed as such. A folder
    named on the command line must exist; the default ./runs may be missing (no runs yet)."""
    from tokbench.errors import TokbenchError
    from tokbench.runs import KINDS, list_runs

    if runs_dir is not None and not runs_dir.is_dir():
        raise TokbenchError(f"{runs_dir}: {'not a folder' if runs_dir.exists() else 'no such folder'}")
    if kind is not None and kind not in KINDS:
        raise TokbenchError(f"--kind {kind!r}: unknown run kind (expected one of {', '.join(KINDS)})")
    runs_dir = DEFAULT_RUNS_DIR if runs_dir is None else runs_dir

    rows = [{"name": r.name, "path": str(r.path), "kind": r.kind, "status": r.status,
             "started": r.info.get("started"), "error": r.error} for r in list_runs(runs_dir, kind)]

    def render(payload: dict[str, Any]) -> None:
        from rich.table import Table

        if not payload["runs"]:
            stdout.print(f"no runs in {runs_dir}: try [bold]tokbench train-bpe[/bold]")
            return
        table = Table(title=str(runs_dir))
        for col in ("name", "kind", "status", "started"):
            table.add_column(col)
        for r in payload["runs"]:
            table.add_row(r["name"], r["kind"] or "?", r["status"], r["started"] or r["error"] or "")
        stdout.print(table)

    emit({"runs_dir": str(runs_dir), "runs": rows}, json_out, render)


@app.command("show")
def show_command(run: Annotated[Path, typer.Argument(help="A run folder.")], json_out: JsonOpt = False) -> None:
    """Show one run: its config, status and metrics."""
    from tokbench.runs import load_run

    record = load_run(run)
    payload = {"run_dir": str(record.path), "kind": record.kind, "status": record.status, "info": record.info,
               "metrics": record.metrics}

    def render(p: dict[str, Any]) -> None:
        stdout.print(f"[bold]{p['run_dir']}[/bold]  {p['kind']}  {p['status']}")
        if p["metrics"]:
            stdout.print(metrics_table("metrics", p["metrics"]))

    emit(payload, json_out, render)
