"""The run folder contract: atomic writes, locking, statuses, collisions, listing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tokbench.errors import TokbenchError
from tokbench.runs import (Run, atomic_write_json, atomic_write_text, list_runs, load_run, read_json, read_log)


def test_create_writes_the_documented_layout(tmp_path):
    with Run.create(tmp_path, "text-bpe", {"vocab_size": 10}, name="a", data=[{"path": "x"}]) as run:
        run.update_metrics("ds", {"bytes_per_token": 3.5})
        run.update_metrics("ds", {"round_trip_rate": 1.0})
        run.write_report({"schema": 1, "rows": []})
        run.log({"step": 1, "loss": 2.0})
        assert (run.path / "run.lock").exists()
    info = read_json(tmp_path / "a" / "run.json")
    assert info["kind"] == "text-bpe" and info["status"] == "done" and info["finished"]
    assert info["config"] == {"vocab_size": 10} and info["data"] == [{"path": "x"}]
    assert "python" in info["packages"]
    assert read_json(tmp_path / "a" / "metrics.json") == {"ds": {"bytes_per_token": 3.5, "round_trip_rate": 1.0}}
    assert (tmp_path / "a" / "artifacts").is_dir()
    assert not (tmp_path / "a" / "run.lock").exists()
    assert read_log(tmp_path / "a") == [{"step": 1, "loss": 2.0}]


def test_name_collision_never_overwrites(tmp_path):
    with Run.create(tmp_path, "bench", {}, name="same") as run:
        run.update_metrics("x", {"v": 1})
    with pytest.raises(TokbenchError, match="already exists"):
        Run.create(tmp_path, "bench", {}, name="same")
    assert read_json(tmp_path / "same" / "metrics.json") == {"x": {"v": 1}}
    with Run.create(tmp_path, "bench", {}, name="same", on_exists="suffix") as second:
        assert second.name == "same-2"


def test_bad_names_and_kinds_are_refused(tmp_path):
    with pytest.raises(TokbenchError):
        Run.create(tmp_path, "bench", {}, name="../escape")
    with pytest.raises(TokbenchError):
        Run.create(tmp_path, "nonsense", {})


def test_failure_and_interrupt_are_recorded(tmp_path):
    with pytest.raises(RuntimeError):
        with Run.create(tmp_path, "bench", {}, name="f"):
            raise RuntimeError("boom")
    assert read_json(tmp_path / "f" / "run.json")["status"] == "failed"
    with pytest.raises(KeyboardInterrupt):
        with Run.create(tmp_path, "bench", {}, name="i"):
            raise KeyboardInterrupt
    info = read_json(tmp_path / "i" / "run.json")
    assert info["status"] == "interrupted"
    resumed = Run.resume(tmp_path / "i")
    assert resumed.info["status"] == "running"
    resumed.finish()
    with pytest.raises(TokbenchError, match="already finished"):
        Run.resume(tmp_path / "i")


def test_lock_refuses_a_second_live_writer_and_frees_a_stale_one(tmp_path):
    run = Run.create(tmp_path, "bench", {}, name="locked")
    # A live holder (this process) on another host name is respected.
    (run.path / "run.lock").write_text(json.dumps({"pid": os.getpid() + 1, "host": "elsewhere"}))
    with pytest.raises(TokbenchError, match="locked by"):
        Run.resume(run.path)
    # A holder whose process is gone is stale: the run reads as interrupted and can be resumed.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (run.path / "run.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    assert load_run(run.path).status == "interrupted"
    again = Run.resume(run.path)
    again.finish()
    assert load_run(run.path).status == "done"


def test_killed_writer_leaves_the_old_file_intact(tmp_path):
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"old": True})
    script = (
        "import sys, os\n"
        "from tokbench.runs import atomic_write_bytes\n"
        "import tokbench.runs as r\n"
        "orig = os.fdopen\n"
        "def slow_fdopen(*a, **k):\n"
        "    fh = orig(*a, **k)\n"
        "    w = fh.write\n"
        "    def write(data):\n"
        "        w(data[:10]); fh.flush(); print('writing', flush=True)\n"
        "        import time; time.sleep(30)\n"
        "    fh.write = write\n"
        "    return fh\n"
        "r.os.fdopen = slow_fdopen\n"
        f"atomic_write_bytes({str(target)!r}, b'x' * 1000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads(target.read_text()) == {"old": True}


def test_failed_replace_keeps_old_file_and_cleans_temp(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    def broken(*_):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_listing_flags_corrupt_runs_and_ignores_torn_log_lines(tmp_path):
    with Run.create(tmp_path, "text-bpe", {}, name="good") as run:
        run.log({"step": 1})
    with open(run.path / "log.jsonl", "a") as fh:
        fh.write('{"step": 2, "lo')  # a writer killed mid-line
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    (tmp_path / "not-a-run").mkdir()
    records = {r.name: r for r in list_runs(tmp_path)}
    assert records["good"].status == "done" and records["good"].log() == [{"step": 1}]
    assert records["bad"].status == "corrupt" and "corrupt JSON" in records["bad"].error
    assert records["not-a-run"].status == "corrupt"
    assert [r.name for r in list_runs(tmp_path, kind="text-bpe")] == ["good"]


def test_attach_adds_results_without_changing_status(tmp_path):
    with Run.create(tmp_path, "visual-vq", {}, name="m"):
        pass
    with Run.attach(tmp_path / "m") as run:
        run.write_report({"schema": 1, "rows": [{"subject": "m", "dataset": "d", "metric": "psnr", "value": 1.0}]})
        assert (run.path / "run.lock").exists()
    rec = load_run(tmp_path / "m")
    assert rec.status == "done" and rec.report["rows"][0]["metric"] == "psnr"
    assert not (tmp_path / "m" / "run.lock").exists()
