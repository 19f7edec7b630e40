"""Options and output helpers shared by every command, so the CLI contract is written once."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from tokbench.errors import TokbenchError

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True)

CorpusOpt = Annotated[Optional[list[str]], typer.Option(
    "--corpus", "-c", help="Text source, repeatable: a file, glob, directory, '-' for stdin, or builtin:NAME.")]
RunsDirOpt = Annotated[Path, typer.Option("--runs-dir", help="Folder that holds run folders.")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Run folder name (default: kind + time). "
                                                "An existing name is never overwritten.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
ErrorsOpt = Annotated[str, typer.Option("--errors", help="Invalid UTF-8 in the corpus: strict (fail with the byte "
                                        "offset), replace (U+FFFD) or skip (drop the line).")]
DEFAULT_RUNS_DIR = Path("runs")


def emit(payload: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], None]) -> None:
    """Print `payload` as one JSON document (`--json`) or through `render` for people.

    Standard output that cannot be written (a full disk, /dev/full) is one error line, not a bug report; a
    closed pipe (`| head -1`) propagates as BrokenPipeError, which the CLI ends quietly."""
    try:
        if as_json:
            sys.stdout.write(json.dumps(payload, indent=2, default=_default) + "\n")
        else:
            render(payload)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()
        raise TokbenchError(f"cannot write to standard output ({exc.strerror or exc})") from None


def silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush at exit stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to silence
        pass


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def fmt(value: Any) -> str:
    """A number as a person wants to read it in a table."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value.is_integer():  # one rule for counts, whatever type carried them: 19,204, 9, 441
            return f"{int(value):,}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.2f}"
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def metrics_table(title: str, metrics: dict[str, dict[str, Any]]):
    """A rich table of {dataset: {metric: value}}: one row per metric, one column per dataset."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric", style="bold")
    datasets = list(metrics)
    for ds in datasets:
        table.add_column(ds, justify="right")
    names: list[str] = []
    for ds in datasets:
        for key in metrics[ds]:
            if key not in names:
                names.append(key)
    for key in names:
        table.add_row(key, *[fmt(metrics[ds].get(key, "")) for ds in datasets])
    return table


#: which way a metric improves, the convention of eval-text's "better" column: +1 higher, -1 lower, 0 neither
BETTER_ARROWS = {1: "↑", -1: "↓", 0: ""}
BETTER_LEGEND = "↑ higher is better, ↓ lower is better"


def better_header(header: str, direction: int) -> str:
    """A column header marked with the way its metric improves (`BETTER_ARROWS`)."""
    arrow = BETTER_ARROWS[direction]
    return f"{header} {arrow}" if arrow else header
