"""Reliability of the run folder (issue 15): atomic artifacts on a full disk, the stale-lock race, file modes,
malformed run.json files in listings, symlinked run parts, and outputs that are not regular files."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tokbench import runs as R
from tokbench.errors import TokbenchError
from tokbench.runs import Run, check_output_file, list_runs, load_run, write_artifact


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stale_run(runs: Path, name: str, dead: int) -> Path:
    run = Run.create(runs, "bench", {}, name=name)
    run.info["status"] = "running"
    run.save_info()
    (run.path / R.LOCK_FILE).write_text(json.dumps({"pid": dead, "host": socket.gethostname()}))
    return run.path


def _race(path: str, start, done, wins, slot: int) -> None:
    start.wait()
    try:
        Run.resume(path)
        wins[slot] = 1
    except TokbenchError:
        wins[slot] = 0
    done.wait()  # a winner holds the lock until every racer has tried
    os._exit(0)


# ---------------------------------------------------------------------------------------------- class 6
@pytest.mark.slow
def test_class06_stale_lock_race_has_exactly_one_winner(tmp_path):
    """Class 6: 200 trials of 3 processes resuming one run behind a stale lock: exactly one wins each time."""
    ctx = multiprocessing.get_context("fork")
    dead = _dead_pid()
    trials, racers, double = 200, 3, 0
    for t in range(trials):
        path = _stale_run(tmp_path, f"r{t}", dead)
        start, done, wins = ctx.Barrier(racers), ctx.Barrier(racers), ctx.Array("i", [-1] * racers)
        procs = [ctx.Process(target=_race, args=(str(path), start, done, wins, i)) for i in range(racers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=30)
        assert -1 not in list(wins), f"trial {t}: a racer did not report"
        won = sum(wins)
        assert won >= 1, f"trial {t}: nobody took the stale lock"
        double += won > 1
    assert double == 0, f"{double}/{trials} trials had more than one writer"


# ---------------------------------------------------------------------------------------------- class 17
def test_class17_run_files_respect_the_umask(tmp_path):
    """Class 17: run.json, metrics.json, the lock and artifacts get 0666 & ~umask, like any new file."""
    old = os.umask(0o022)
    try:
        with Run.create(tmp_path, "bench", {}, name="m") as run:
            run.update_metrics("d", {"x": 1})
            write_artifact(run.artifacts / "a.bin", lambda p: Path(p).write_bytes(b"x"))
            assert stat.S_IMODE((run.path / R.LOCK_FILE).stat().st_mode) == 0o644
        os.umask(0o027)
        R.atomic_write_text(tmp_path / "other.txt", "x")
    finally:
        os.umask(old)
    for name in ("run.json", "metrics.json", "artifacts/a.bin"):
        assert stat.S_IMODE((tmp_path / "m" / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE((tmp_path / "other.txt").stat().st_mode) == 0o640


# ---------------------------------------------------------------------------------------------- class 5
def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_class05_full_disk_keeps_old_artifact_marks_run_failed_and_frees_the_lock(tmp_path, monkeypatch):
    """Class 5 (simulated ENOSPC): a failed artifact write leaves the old file whole, no temporary, the run
    `failed` with one line, and no lock."""
    with pytest.raises(TokbenchError, match="No space left"):
        with Run.create(tmp_path, "text-bpe", {}, name="full") as run:
            write_artifact(run.artifacts / "tokenizer.json", lambda p: Path(p).write_text('{"old": 1}'))

            def torn_writer(p):  # a library that writes half its file, then hits the full disk
                Path(p).write_text('{"ne')
                _enospc()

            write_artifact(run.artifacts / "tokenizer.json", torn_writer)
    assert json.loads((run.artifacts / "tokenizer.json").read_text()) == {"old": 1}
    assert sorted(p.name for p in run.artifacts.iterdir()) == ["tokenizer.json"]
    rec = load_run(run.path)
    assert rec.status == "failed" and "No space left" in rec.info["error"] and "\n" not in rec.info["error"]
    assert not (run.path / R.LOCK_FILE).exists()
    # the same through atomic_write_bytes, failing in fsync
    monkeypatch.setattr(R.os, "fsync", _enospc)
    with pytest.raises(R.WriteFailed):
        R.atomic_write_bytes(tmp_path / "x.bin", b"data")
    assert not list(tmp_path.glob(".x.bin.*"))


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or not Path("/proc/mounts").exists():
        return False
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A real 2 MB tmpfs (needs root); unmounted afterwards."""
    where = tmp_path / "small"
    if not _mount_tmpfs(where, "2m"):
        pytest.skip("needs root to mount a small tmpfs")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_class05_full_real_filesystem_write_is_atomic(tiny_filesystem):
    """Class 5 on a real 2 MB filesystem: an artifact that does not fit leaves the old one and no temporary,
    and the run is `failed` without a lock."""
    with pytest.raises(TokbenchError, match="No space left"):
        with Run.create(tiny_filesystem, "visual-vq", {}, name="r") as run:
            R.atomic_write_bytes(run.artifacts / "model.safetensors", b"old")
            write_artifact(run.artifacts / "model.safetensors",
                           lambda p: Path(p).write_bytes(os.urandom(3 << 20)))
    assert (run.artifacts / "model.safetensors").read_bytes() == b"old"
    assert [p.name for p in run.artifacts.iterdir()] == ["model.safetensors"]
    assert load_run(run.path).status == "failed" and not (run.path / R.LOCK_FILE).exists()


# ---------------------------------------------------------------------------------------------- class 8
MALFORMED = [
    ('{"kind": "text-bpe", "started": 5}', "started is int"),
    ('{"kind": 7}', "kind is int"),
    ('{"kind": "bench", "status": "weird"}', "status"),
    ('{"kind": "bench", "config": [1]}', "config is list"),
    ('{"kind": "bench", "data": "x"}', "data is str"),
    ('["kind"]', "not a tokbench run"),
    ('{"kind": "bench", "started": {"a": 1}}', "started is dict"),
    ("[" * 100000, "corrupt JSON"),
]


@pytest.mark.parametrize("text,why", MALFORMED)
def test_class08_malformed_run_json_is_flagged_and_listing_carries_on(tmp_path, text, why):
    """Class 8: one malformed run.json is listed as corrupt (with the reason); the other runs still list."""
    with Run.create(tmp_path, "text-bpe", {}, name="good"):
        pass
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_text(text)
    records = {r.name: r for r in list_runs(tmp_path)}
    assert records["good"].status == "done"
    assert records["bad"].status == "corrupt" and why in records["bad"].error


# ---------------------------------------------------------------------------------------------- class 15
def test_class15_writers_refuse_symlinked_run_parts(tmp_path):
    """Class 15: --resume / attach refuse a run whose artifacts (or the folder itself) is a symlink."""
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with Run.create(tmp_path / "runs", "visual-vq", {}, name="r") as run:
            raise KeyboardInterrupt
    os.rmdir(run.artifacts)
    os.symlink(outside, run.artifacts)
    for opener in (Run.resume, Run.attach):
        with pytest.raises(TokbenchError, match="symlink"):
            opener(run.path)
    os.symlink(run.path, tmp_path / "runs" / "alias")
    with pytest.raises(TokbenchError, match="symlink"):
        Run.resume(tmp_path / "runs" / "alias")
    assert list(outside.iterdir()) == [] and not (run.path / R.LOCK_FILE).exists()
    listed = {r.name: r for r in list_runs(tmp_path / "runs")}
    assert listed["alias"].status == "corrupt" and "symlink" in listed["alias"].error


def test_class15_listing_reads_no_symlinked_run_files(tmp_path):
    with Run.create(tmp_path, "bench", {}, name="r"):
        pass
    secret = tmp_path / "secret.json"
    secret.write_text('{"x": {"y": 1}}')
    os.symlink(secret, tmp_path / "r" / "metrics.json")
    rec = {r.name: r for r in list_runs(tmp_path)}["r"]
    assert rec.status == "corrupt" and "symlink" in rec.error


# ---------------------------------------------------------------------------------------------- class 4
def test_class04_outputs_go_to_regular_files_only(tmp_path):
    """Class 4: devices, FIFOs, folders, symlinks and the input itself are refused before anything is written."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    os.symlink(tmp_path / "target", link)
    src = tmp_path / "in.wav"
    src.write_bytes(b"x")
    for bad, what in ((Path("/dev/full"), "character device"), (Path("/dev/null"), "character device"),
                      (fifo, "FIFO"), (tmp_path, "folder"), (link, "symlink")):
        with pytest.raises(TokbenchError, match=what):
            check_output_file(bad)
        with pytest.raises(TokbenchError, match=what):
            R.atomic_write_bytes(bad, b"data")
    with pytest.raises(TokbenchError, match="also the input"):
        check_output_file(src, inputs=(src,))
    assert Path("/dev/full").is_char_device() and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert src.read_bytes() == b"x" and not (tmp_path / "target").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "in.wav", "link"]


def _fill(where: Path, leave: int) -> None:
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    (where / "filler").write_bytes(b"\0" * max(0, free - leave))


def test_class05_train_bpe_on_a_full_filesystem_fails_cleanly(tiny_filesystem, small_corpus, capsys):
    """Class 5, the reported case: train-bpe whose tokenizer.json does not fit exits 2 with one line, leaves no
    torn or temporary file, marks the run `failed` and frees the lock."""
    from tokbench.cli import main

    _fill(tiny_filesystem, 48 << 10)
    runs = tiny_filesystem / "runs"
    rc = main(["train-bpe", "-c", str(small_corpus), "-v", "2000", "--runs-dir", str(runs), "--name", "full"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "No space left" in err[0], err
    run = runs / "full"
    rec = load_run(run)
    assert rec.status == "failed" and "No space left" in rec.info["error"]
    assert not (run / R.LOCK_FILE).exists()
    leftovers = [p.name for p in run.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []
    if (run / "artifacts" / "tokenizer.json").exists():
        json.loads((run / "artifacts" / "tokenizer.json").read_text())


def test_class05_run_creation_on_a_full_disk_leaves_nothing(tmp_path, monkeypatch):
    """A run whose run.json cannot be written is not left half-made (folder, lock) behind."""
    monkeypatch.setattr(R.os, "fsync", _enospc)
    with pytest.raises(R.WriteFailed, match="No space left"):
        Run.create(tmp_path, "visual-vq", {}, name="r")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    with Run.create(tmp_path, "visual-vq", {}, name="s") as run:
        run.info["status"] = "interrupted"
    run.finish("interrupted")
    monkeypatch.setattr(R.os, "fsync", _enospc)
    with pytest.raises(R.WriteFailed):
        Run.resume(run.path)
    monkeypatch.undo()
    assert not (run.path / R.LOCK_FILE).exists() and load_run(run.path).status == "interrupted"


@pytest.mark.parametrize("command", [
    ["fit-vq", "-d", "builtin:digits", "--image-size", "8", "--width", "8", "--depth", "1", "--codebook-size", "16",
     "--code-dim", "4", "--batch-size", "8", "--steps", "2", "--checkpoint-every", "1", "--threads", "1",
     "--device", "cpu"],
    ["fit-audio", "-d", "builtin:signals", "--n-q", "2", "-k", "8", "--dim", "8", "--channels", "4", "--batch-size",
     "2", "--segment", "0.08", "--steps", "2", "--threads", "1", "--device", "cpu"],
], ids=["fit-vq", "fit-audio"])
def test_class05_model_training_on_a_full_filesystem_fails_cleanly(tiny_filesystem, command, capsys):
    """Checkpoints and weights (safetensors from torch tensors) that do not fit: exit 2, one line, the run
    `failed` without a lock, and no temporary or torn file."""
    pytest.importorskip("torch")
    from safetensors import safe_open

    from tokbench.cli import main

    _fill(tiny_filesystem, 24 << 10)
    runs = tiny_filesystem / "runs"
    rc = main([*command, "--runs-dir", str(runs), "--name", "full"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "No space left" in err[0], err
    rec = load_run(runs / "full")
    assert rec.status == "failed" and not (runs / "full" / R.LOCK_FILE).exists()
    assert [p for p in (runs / "full").rglob("*") if p.name.startswith(".")] == []
    for weights in (runs / "full").rglob("*.safetensors"):
        with safe_open(str(weights), framework="pt") as fh:  # whatever is there is whole
            list(fh.keys())


def test_class05_library_writers_go_through_write_artifact():
    """No trainer hands a run path straight to a library writer (HF `save`, torch `save`, `save_file`): those
    write in place and tear on a full disk; they must write through `write_artifact` (or bytes through
    `atomic_write_bytes`)."""
    import re

    root = Path(R.__file__).resolve().parent
    direct = re.compile(r"\.save\(str\(|torch\.save\(|save_file\(|save_pretrained\(|\.save_model\(")
    found = [f"{p.relative_to(root)}:{n}" for p in root.rglob("*.py")
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if direct.search(line)]
    assert found == [], f"direct library writes: {found}"
