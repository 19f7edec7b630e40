"""The run-folder contract field by field (ARCHITECTURE.md, "The run folder"): what run.json, run.lock and
log.jsonl hold, the messages of refusals, and the order runs are listed in. Written to kill the mutants of
tokbench/runs.py that the behavioural tests in test_runs.py let through (issue 19, `make mutate`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import socket
import sys

import numpy as np
import pytest

from tokbench import runs
from tokbench.errors import TokbenchError
from tokbench.runs import Run, iter_runs, load_run, lock_holder, read_json, read_log, sha256_file


def _iso_utc_seconds(text: str) -> dt.datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text), text
    return dt.datetime.fromisoformat(text)


def test_run_json_holds_every_documented_field(tmp_path):
    with Run.create(tmp_path / "a" / "b", "bench", {"k": 1}, name="r", data=[{"path": "x"}],
                    packages=("numpy",)) as run:
        info = json.loads((run.path / "run.json").read_text(encoding="utf-8"))
        assert info == {"name": "r", "kind": "bench", "status": "running", "config": {"k": 1},
                        "data": [{"path": "x"}], "packages": info["packages"], "started": info["started"],
                        "finished": None, "host": socket.gethostname(), "pid": os.getpid()}
        started = _iso_utc_seconds(info["started"])
        assert abs((dt.datetime.now(dt.timezone.utc) - started).total_seconds()) < 600
        assert info["packages"]["python"] == sys.version.split()[0]
        assert info["packages"]["numpy"] == np.__version__ and "tokbench" in info["packages"]
        # the lock names this process and host, with the time it was taken
        lock = json.loads((run.path / "run.lock").read_text())
        assert lock["pid"] == os.getpid() and lock["host"] == socket.gethostname()
        _iso_utc_seconds(lock["since"])
        assert lock_holder(run.path) == lock
    info = read_json(run.path / "run.json")
    assert info["status"] == "done" and _iso_utc_seconds(info["finished"]) >= started
    assert "error" not in info and not (run.path / "run.lock").exists()
    assert Run.create(tmp_path, "bench", {}, name="plain").info["data"] == []


def test_automatic_names_carry_kind_and_time_and_never_collide(tmp_path, monkeypatch):
    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=tz)

    monkeypatch.setattr(runs._dt, "datetime", Frozen)
    made = [Run.create(tmp_path, "bench", {}) for _ in range(3)]  # the same second: suffixed, never an error
    assert [r.name for r in made] == ["bench-20240506-070809", "bench-20240506-070809-2", "bench-20240506-070809-3"]
    assert made[0].info["started"] == "2024-05-06T07:08:09+00:00"
    for r in made:
        r.finish()


@pytest.mark.parametrize("make,message", [
    (lambda p: Run.create(p, "nope", {}), "unknown run kind 'nope' (expected one of text-bpe, text-eval"),
    (lambda p: Run.create(p, "bench", {}, name="../x"), "invalid run name '../x': use letters, digits"),
    (lambda p: Run.create(p / "file", "bench", {}, name="x"), "cannot create runs folder"),
    (lambda p: read_json(p / "missing.json"), "missing.json: no such file"),
    (lambda p: load_run(p), "not a run folder (no run.json)"),
])
def test_refusals_name_what_is_wrong(tmp_path, make, message):
    (tmp_path / "file").write_text("")
    with pytest.raises(TokbenchError) as err:
        make(tmp_path)
    assert message in str(err.value)


def test_existing_name_message_and_bad_status(tmp_path):
    Run.create(tmp_path, "bench", {}, name="x").finish()
    with pytest.raises(TokbenchError, match=r"run folder .*x already exists: choose another --name, or --resume it"):
        Run.create(tmp_path, "bench", {}, name="x")
    run = Run.create(tmp_path, "bench", {}, name="y")
    with pytest.raises(ValueError, match="bad status 'weird'"):
        run.finish("weird")
    run.finish("failed", "disk on fire")
    info = read_json(run.path / "run.json")
    assert info["status"] == "failed" and info["error"] == "disk on fire"
    assert not (run.path / "run.lock").exists()


@pytest.mark.parametrize("exc,status,error", [
    (KeyboardInterrupt(), "interrupted", "interrupted by the user"),
    (ValueError("boom"), "failed", "ValueError: boom"),
    (TokbenchError("bad input"), "failed", "bad input"),
])
def test_exit_records_the_error_and_lets_it_through(tmp_path, exc, status, error):
    with pytest.raises(type(exc)):
        with Run.create(tmp_path, "bench", {}, name="r"):
            raise exc
    info = read_json(tmp_path / "r" / "run.json")
    assert (info["status"], info["error"]) == (status, error)
    assert not (tmp_path / "r" / "run.lock").exists()


def test_resume_and_attach_record_who_writes(tmp_path):
    run = Run.create(tmp_path, "bench", {"a": 1}, name="r")
    run.finish("interrupted", "stopped")
    again = Run.resume(tmp_path / "r")
    info = read_json(tmp_path / "r" / "run.json")
    assert info["status"] == "running" and info["finished"] is None and info["pid"] == os.getpid()
    _iso_utc_seconds(info["resumed"])
    assert again.info == info and lock_holder(tmp_path / "r")["pid"] == os.getpid()
    again.finish()
    with Run.attach(tmp_path / "r") as attached:
        assert attached.info == read_json(tmp_path / "r" / "run.json") and attached.info["config"] == {"a": 1}
        assert lock_holder(tmp_path / "r") is not None
        attached.update_info(note="x")
    assert read_json(tmp_path / "r" / "run.json")["status"] == "done"
    assert read_json(tmp_path / "r" / "run.json")["note"] == "x" and lock_holder(tmp_path / "r") is None


@pytest.mark.parametrize("payload", [{"host": socket.gethostname()}, {"pid": -1, "host": socket.gethostname()},
                                     {"pid": 2 ** 22 + 12345, "host": socket.gethostname()}, "not json"])
def test_a_lock_without_a_live_local_pid_is_stale(tmp_path, payload):
    run = Run.create(tmp_path, "bench", {}, name="r")
    run.finish("interrupted")
    (run.path / "run.lock").write_text(payload if isinstance(payload, str) else json.dumps(payload))
    assert lock_holder(run.path) is None
    Run.resume(run.path).finish()  # taken over


def test_a_live_foreign_lock_is_refused_by_name(tmp_path):
    run = Run.create(tmp_path, "bench", {}, name="r")
    run.finish("interrupted")
    (run.path / "run.lock").write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    with pytest.raises(TokbenchError, match=f"locked by process {os.getppid()} on {socket.gethostname()}"):
        Run.resume(run.path)


def test_log_keeps_numpy_values_unicode_and_order(tmp_path):
    with Run.create(tmp_path, "bench", {}, name="r") as run:
        run.log({"step": np.int64(1), "loss": np.float32(0.5), "v": np.arange(2), "note": "naïve 日本"})
        run.log({"step": 2})
    raw = (run.path / "log.jsonl").read_bytes()
    assert raw.count(b"\n") == 2 and raw.isascii()  # json.dumps escapes non-ASCII: any encoding reads it
    assert read_log(run.path) == [{"step": 1, "loss": 0.5, "v": [0, 1], "note": "naïve 日本"}, {"step": 2}]
    with open(run.path / "log.jsonl", "a", encoding="utf-8") as fh:
        fh.write("torn {\n[1, 2]\n" + json.dumps({"step": 3}) + "\n")
    assert [r["step"] for r in read_log(run.path)] == [1, 2, 3]  # bad lines skipped, later ones kept
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        runs._json_default(object())
    assert runs._json_default(tmp_path) == str(tmp_path)


def test_load_run_reads_metrics_and_report(tmp_path):
    with Run.create(tmp_path, "bench", {}, name="r") as run:
        run.update_metrics("d", {"x": 1})
        run.update_metrics("d", {"y": 2})
        run.write_report({"schema": 1, "rows": []})
    rec = load_run(tmp_path / "r")
    assert rec.metrics == {"d": {"x": 1, "y": 2}} and rec.report == {"schema": 1, "rows": []}
    bare = Run.create(tmp_path, "bench", {}, name="bare")
    bare.finish()
    assert load_run(bare.path).metrics == {} and load_run(bare.path).report == {}
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "run.json").write_text("[1]")
    with pytest.raises(TokbenchError, match=r"odd/run.json: not a tokbench run description"):
        load_run(tmp_path / "odd")
    (tmp_path / "odd" / "run.json").write_text('{"status": "done"}')
    with pytest.raises(TokbenchError, match="not a tokbench run description"):
        load_run(tmp_path / "odd")


def test_runs_are_listed_by_start_time_then_name_skipping_hidden_folders_and_files(tmp_path):
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a-file").write_text("")
    for name, started in (("b", "2024-01-02T00:00:00+00:00"), ("a", "2024-01-02T00:00:00+00:00"),
                          ("c", "2023-12-31T00:00:00+00:00"), ("z", None)):
        run = Run.create(tmp_path, "bench", {}, name=name)
        run.finish()
        info = read_json(run.path / "run.json")
        info["started"] = started
        (run.path / "run.json").write_text(json.dumps(info))
    (tmp_path / ".hidden" / "run.json").write_text(json.dumps({"kind": "bench", "status": "done"}))
    assert [r.name for r in iter_runs(tmp_path)] == ["z", "c", "a", "b"]


def test_sha256_file_reads_past_the_first_block(tmp_path):
    data = os.urandom((1 << 20) + 12345)
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    (tmp_path / "e").write_bytes(b"")
    assert sha256_file(tmp_path / "e") == hashlib.sha256(b"").hexdigest()
