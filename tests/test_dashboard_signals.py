"""`tokbench dashboard` leaves no Streamlit server behind (issue 15, class 13): SIGTERM, SIGHUP and SIGINT are
forwarded to the server and waited for, and even SIGKILL of tokbench takes the server down (death signal)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def assert_nothing_listens(port: int, timeout: float = 15) -> None:
    assert wait_until(lambda: not listening(port), timeout), f"a server still listens on port {port}"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL],
                         ids=["TERM", "HUP", "INT", "KILL"])
def test_class13_signal_to_dashboard_stops_the_server(tmp_path, sig):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", "from tokbench.cli import run; run()", "dashboard",
                             str(tmp_path), "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _healthy(port) or proc.poll() is not None, 60) and proc.poll() is None
        proc.send_signal(sig)
        proc.wait(timeout=20)
        assert_nothing_listens(port)
        if sig in (signal.SIGTERM, signal.SIGHUP):
            assert proc.returncode == 128 + sig
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
