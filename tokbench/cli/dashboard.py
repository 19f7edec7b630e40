"""`tokbench dashboard [RUNS_DIR] [--port N]`: serve the comparison dashboard on 127.0.0.1.

The app is `apps/dashboard.py`, beside the package in the source tree rather than inside it (it is a face,
like the CLI, and Streamlit runs it as a script). The CLI finds it through the path the package knows:
`<folder holding the tokbench package>/apps/dashboard.py`, which is the repository root for a checkout or an
editable install (`make setup` installs editable). `$TOKBENCH_DASHBOARD_APP` overrides the path, e.g. for a
wheel install with the app copied elsewhere.

The Streamlit server runs as a child that never outlives this process: SIGTERM, SIGHUP and SIGINT are
forwarded to it and waited for (killed after a grace period), and on Linux the child also gets SIGTERM from
the kernel if this process dies any other way (PR_SET_PDEATHSIG), even by SIGKILL.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import DEFAULT_RUNS_DIR, stderr
from tokbench.errors import TokbenchError

APP_ENV = "TOKBENCH_DASHBOARD_APP"
HOST = "127.0.0.1"


def app_path() -> Path:
    """Where the Streamlit script is: $TOKBENCH_DASHBOARD_APP, else apps/dashboard.py next to the package."""
    import tokbench

    override = os.environ.get(APP_ENV)
    path = Path(override) if override else Path(tokbench.__file__).resolve().parent.parent / "apps" / "dashboard.py"
    if not path.is_file():
        raise TokbenchError(f"dashboard app not found at {path}: run from a tokbench checkout "
                            f"(pip install -e .) or set {APP_ENV}")
    return path


def _check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise TokbenchError(f"--port {port}: expected 1..65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            raise TokbenchError(f"port {port} on {HOST} is in use: choose another with --port") from None


def streamlit_command(runs_dir: Path, port: int) -> list[str]:
    """The `streamlit run` command line: loopback only, headless, no telemetry, no file watching."""
    return [sys.executable, "-m", "streamlit", "run", str(app_path()),
            "--server.address", HOST, "--server.port", str(port), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal",  # a local tool: no Deploy button
            "--", str(runs_dir)]


@app.command("dashboard")
def dashboard_command(
    runs_dir: Annotated[Optional[Path], typer.Argument(help="Folder of run folders to compare (default ./runs).",
                                                       show_default=False)] = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 8501,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the streamlit command and exit.")] = False,
) -> int:
    """Serve the comparison dashboard (runs, text, visual, audio, kernels) on 127.0.0.1."""
    if importlib.util.find_spec("streamlit") is None:
        raise TokbenchError("the dashboard needs streamlit: pip install 'tokbench[dashboard]'")
    if not 1 <= port <= 65535:  # checked before --dry-run too: the printed command must be one that runs
        raise TokbenchError(f"--port {port}: expected 1..65535")
    if runs_dir is not None and not runs_dir.is_dir():  # as `tokbench runs`: a named folder must exist
        raise TokbenchError(f"{runs_dir}: {'not a folder' if runs_dir.exists() else 'no such folder'}")
    runs_dir = (DEFAULT_RUNS_DIR if runs_dir is None else runs_dir).expanduser().resolve()
    if runs_dir.exists() and not runs_dir.is_dir():
        raise TokbenchError(f"{runs_dir}: not a folder")
    command = streamlit_command(runs_dir, port)
    if dry_run:
        typer.echo(shlex.join(command))
        return 0
    _check_port(port)
    stderr.print(f"tokbench dashboard on [bold]http://{HOST}:{port}[/bold] (runs: {runs_dir}); Ctrl-C to stop")
    env = dict(os.environ, TOKBENCH_RUNS_DIR=str(runs_dir))
    return serve(command, env)


FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
GRACE_SECONDS = 10.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run the server child until it exits; forward SIGTERM/SIGHUP/SIGINT to it and wait for it, so no
    server is left behind. Returns the child's status, 0 after Ctrl-C, 128 + signal after TERM/HUP."""
    got: list[int] = []
    proc = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    def forward(signum, _frame) -> None:
        got.append(signum)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

    previous = {}
    try:
        for signum in FORWARDED:
            previous[signum] = signal.signal(signum, forward)
    except ValueError:  # not the main thread: signals cannot be caught here; the death signal still holds
        pass
    try:
        deadline = None
        while True:
            try:
                rc = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if got and deadline is None:
                    deadline = time.monotonic() + GRACE_SECONDS
                if deadline is not None and time.monotonic() > deadline:
                    proc.kill()
            except KeyboardInterrupt:  # a SIGINT before the handler was installed
                got.append(signal.SIGINT)
                proc.send_signal(signal.SIGINT)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if got:
        return 0 if got[0] == signal.SIGINT else 128 + got[0]
    return rc
