"""The `tokbench` command line: parse, call the library, print. No logic lives here.

Each area registers its commands from its own module (`train_text`, `eval_text`, `kernels`, `visual`,
`audio`, `dashboard`, `runs`), so the faces stay thin and the modules stay small.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import signal
import sys

import click
import typer

from tokbench.errors import TokbenchError

app = typer.Typer(
    name="tokbench",
    help="Train, evaluate and compare tokenizers for text, images and audio.",
    no_args_is_help=False,  # bare `tokbench` is a usage error (exit 2) that lists the commands
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


_COMMAND_MODULES = ("train_text", "eval_text", "export", "kernels", "visual", "visual_eval", "audio", "dashboard", "runs")
for _module in _COMMAND_MODULES:
    try:
        importlib.import_module(f"tokbench.cli.{_module}")
    except ModuleNotFoundError as _exc:  # an area not built yet registers nothing
        if _exc.name != f"tokbench.cli.{_module}":
            raise


#: exit statuses of the CLI contract: bad input or usage (one line on stderr), a bug, Ctrl-C
USAGE_EXIT, BUG_EXIT, INTERRUPTED_EXIT = 2, 1, 130


def _fail(message: str, code: int) -> int:
    typer.echo(f"tokbench: error: {message}", err=True)
    return code


def _click_classes(name: str) -> tuple[type, ...]:
    """The click exception class `name` from typer's vendored click and from click itself (typer ships its
    own copy, so handlers that name only `click.X` never match what typer raises)."""
    classes = [getattr(click.exceptions, name)]
    try:
        from typer._click import exceptions as vendored

        classes.append(getattr(vendored, name))
    except (ImportError, AttributeError):  # an older typer that uses click itself
        pass
    return tuple(classes)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_error(exc: Exception, argv: list[str]) -> int:
    """A usage error: the usage line and the help hint, then one `tokbench: error:` line; exit 2.

    The rule the bad-input tests assert: stderr ends with exactly one `tokbench: error: ...` line, preceded by
    the hint lines: `Try 'tokbench COMMAND -h' for help.`, after `Usage: ...` when the parser got that far."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    group = ctx.command if ctx is not None else None
    if hasattr(group, "list_commands") and (type(exc).__name__ == "NoArgsIsHelpError"
                                            or message.startswith("Missing command")):
        message = f"no command given (commands: {', '.join(group.list_commands(ctx))})"
    if ctx is not None:
        usage, path = ctx.get_usage(), ctx.command_path
    else:  # raised while parsing, before a context exists: hint at the command named in argv
        command = next((a for a in argv if not a.startswith("-")), "")
        usage, path = "", f"tokbench {command}".strip()
    if usage:
        typer.echo(_one_line(usage), err=True)
    typer.echo(f"Try '{path} -h' for help.", err=True)
    message = _one_line(message) or "invalid usage"
    return _fail(message[0].lower() + message[1:], USAGE_EXIT)


@functools.lru_cache(maxsize=1)
def _root_command():
    """The click command typer builds from `app` (built once: it takes ~0.15 s)."""
    return typer.main.get_command(app)


def _interrupted_runs() -> list:
    runs = sys.modules.get("tokbench.runs")
    return list(getattr(runs, "INTERRUPTED_RUNS", []) or [])


def _interrupted(argv: list[str], before: int) -> int:
    """Ctrl-C: one line that says what became of the run and how to continue it; exit 130. Only runs that
    this call marked interrupted count (`before`: how many the process had marked when it started)."""
    cut = _interrupted_runs()[before:]
    if not cut:
        typer.echo("tokbench: interrupted", err=True)
        return INTERRUPTED_EXIT
    path = cut[-1]
    command = next((a for a in argv if not a.startswith("-")), "")
    root = _root_command()
    sub = root.commands.get(command) if hasattr(root, "commands") else None
    resumable = sub is not None and any("--resume" in getattr(p, "opts", ()) for p in sub.params)
    how = (f"continue it with: tokbench {command} --resume {path}" if resumable
           else f"{command or 'this command'} has no --resume: run it again")
    typer.echo(f"tokbench: interrupted: run {path} is marked interrupted; {how}", err=True)
    return INTERRUPTED_EXIT


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that a run is closed exactly as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame) -> None:
    raise _Terminated(signum)


@contextlib.contextmanager
def _signals_as_interrupt():
    """While a command runs, SIGTERM and SIGHUP behave like Ctrl-C (run marked interrupted, lock released,
    spool deleted); the previous handlers come back afterwards. Only the main thread may set handlers."""
    saved = {}
    try:
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                saved[sig] = signal.signal(sig, _raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit 2; never a traceback unless TOKBENCH_DEBUG=1.

    The command is parsed and invoked here rather than through typer's own main, so that usage errors,
    Ctrl-C and `--help` exits reach the handlers below unchanged (typer turns Ctrl-C into a silent exit 130).
    """
    debug = os.environ.get("TOKBENCH_DEBUG") == "1"
    args = list(sys.argv[1:] if argv is None else argv)
    interrupted_before = len(_interrupted_runs())
    try:
        command = _root_command()
        command._main_shell_completion({}, "tokbench", None)  # answers a shell's completion request and exits
        with _signals_as_interrupt(), command.make_context("tokbench", args) as ctx:
            rc = command.invoke(ctx)
        return rc if isinstance(rc, int) else 0
    except _click_classes("Exit") + (typer.Exit,) as exc:
        return getattr(exc, "exit_code", 0)
    except _click_classes("UsageError") as exc:
        return _usage_error(exc, args)
    except _click_classes("ClickException") as exc:
        return _fail(_one_line(exc.format_message()), USAGE_EXIT)
    except _click_classes("Abort") + (typer.Abort, KeyboardInterrupt, EOFError) as exc:
        rc = _interrupted(args, interrupted_before)
        return 128 + exc.signum if isinstance(exc, _Terminated) else rc
    except TokbenchError as exc:
        if debug:
            raise
        return _fail(_one_line(str(exc)), USAGE_EXIT)
    except BrokenPipeError:  # `| head -1`: the reader is gone, end quietly
        from tokbench.cli.common import silence_stdout

        silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, with the way to see more
        if debug:
            raise
        return _fail(f"internal error: {type(exc).__name__}: {_one_line(exc)} (set TOKBENCH_DEBUG=1 for the "
                     "traceback)", BUG_EXIT)


def run() -> None:
    rc = main()
    if rc == INTERRUPTED_EXIT or rc > 128:  # Ctrl-C, SIGTERM, SIGHUP: native training abandoned in a worker
        # thread must not hold the exit
        import atexit

        atexit._run_exitfuncs()  # what a normal exit runs (e.g. deleting the spooled stdin), then leave at once
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    sys.exit(rc)
