"""The `tokbench` command line: parse, call the library, print. No logic lives here.

Each area registers its commands from its own module (`train_text`, `eval_text`, `kernels`, `visual`,
`audio`, `dashboard`, `runs`), so the faces stay thin and the modules stay small.
"""

from __future__ import annotations

import importlib
import os
import sys

import click
import typer

from tokbench.errors import TokbenchError

app = typer.Typer(
    name="tokbench",
    help="Train, evaluate and compare tokenizers for text, images and audio.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        from tokbench import __version__

        typer.echo(f"tokbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                        help="Print the version and exit.")) -> None:
    """Train, evaluate and compare tokenizers for text, images and audio. Every reporting command takes
    **--json** for scripts; run folders land in **./runs** unless **--runs-dir** says otherwise."""


_COMMAND_MODULES = ("train_text", "eval_text", "kernels", "visual", "visual_eval", "audio", "dashboard", "runs")
for _module in _COMMAND_MODULES:
    try:
        importlib.import_module(f"tokbench.cli.{_module}")
    except ModuleNotFoundError as _exc:  # an area not built yet registers nothing
        if _exc.name != f"tokbench.cli.{_module}":
            raise


def _fail(message: str, code: int) -> int:
    typer.echo(f"tokbench: error: {message}", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit 2; never a traceback unless TOKBENCH_DEBUG=1."""
    debug = os.environ.get("TOKBENCH_DEBUG") == "1"
    try:
        rc = app(args=argv, standalone_mode=False, prog_name="tokbench")
        return rc if isinstance(rc, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail("interrupted", 130)
    except TokbenchError as exc:
        if debug:
            raise
        return _fail(str(exc), 2)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, with the way to see more
        if debug:
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (set TOKBENCH_DEBUG=1 for the traceback)", 1)


def run() -> None:
    sys.exit(main())
