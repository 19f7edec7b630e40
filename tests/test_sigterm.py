"""SIGTERM / SIGHUP to a training command behaves like Ctrl-C: the run is marked `interrupted`, one stderr line
says how to resume, run.lock is released, and the exit status is 128 + the signal number."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("soundfile")


def _wait_for_running(runs: Path, proc: subprocess.Popen, timeout: float = 120.0) -> Path:
    """The run folder once its run.json says `running` and a log line is written (training has begun)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for info in runs.glob("*/run.json"):
            try:
                status = json.loads(info.read_text()).get("status")
            except (OSError, ValueError):
                continue
            log = info.parent / "log.jsonl"
            if status == "running" and log.exists() and log.stat().st_size > 0:
                return info.parent
        time.sleep(0.1)
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"training never started: {err[-2000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_mid_training_marks_the_run_interrupted(sig, tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    argv = [sys.executable, "-c", "from tokbench.cli import run; run()", "fit-audio", "-d", "builtin:signals",
            "--steps", "1000000", "--n-q", "2", "-k", "8", "--dim", "8", "--channels", "4", "--batch-size", "2",
            "--segment", "0.08", "--threads", "1", "--device", "cpu", "--runs-dir", str(runs), "--name", "r"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        run = _wait_for_running(runs, proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert len(lines) == 1 and "marked interrupted" in lines[0] and "--resume" in lines[0], err
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert not (run / "run.lock").exists()
    assert [p for p in (tmp_path / "tmp").iterdir() if not p.name.startswith("torchinductor")] == []
