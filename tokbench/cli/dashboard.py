"""`tokbench dashboard [RUNS_DIR] [--port N]`: serve the comparison dashboard on 127.0.0.1.

The app is `apps/dashboard.py`, beside the package in the source tree rather than inside it (it is a face,
like the CLI, and Streamlit runs it as a script). The CLI finds it through the path the package knows:
`<folder holding the tokbench package>/apps/dashboard.py`, which is the repository root for a checkout or an
editable install (`make setup` installs editable). `$TOKBENCH_DASHBOARD_APP` overrides the path, e.g. for a
wheel install with the app copied elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Annotated

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
            "--", str(runs_dir)]


@app.command("dashboard")
def dashboard_command(
    runs_dir: Annotated[Path, typer.Argument(help="Folder of run folders to compare.")] = DEFAULT_RUNS_DIR,
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 8501,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the streamlit command and exit.")] = False,
) -> int:
    """Serve the comparison dashboard (runs, text, visual, audio, kernels) on 127.0.0.1."""
    if importlib.util.find_spec("streamlit") is None:
        raise TokbenchError("the dashboard needs streamlit: pip install 'tokbench[dashboard]'")
    runs_dir = runs_dir.expanduser().resolve()
    if runs_dir.exists() and not runs_dir.is_dir():
        raise TokbenchError(f"{runs_dir}: not a folder")
    command = streamlit_command(runs_dir, port)
    if dry_run:
        typer.echo(shlex.join(command))
        return 0
    _check_port(port)
    stderr.print(f"tokbench dashboard on [bold]http://{HOST}:{port}[/bold] (runs: {runs_dir}); Ctrl-C to stop")
    env = dict(os.environ, TOKBENCH_RUNS_DIR=str(runs_dir))
    proc = subprocess.Popen(command, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
