"""The run folder's edges that mutation testing of tokbench/runs.py found untested (issue 19): refusals checked by
their whole message (a refusal that loses its message is a bug the user sees), failures simulated where they
cannot be caused for real here (a full disk, a failing flock, a process of another user), outputs that are
FIFOs, sockets and devices, file modes under a umask, and the exact text of the JSON files."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import stat
from pathlib import Path

import pytest

from tokbench import runs as R
from tokbench.errors import TokbenchError
from tokbench.runs import Run, WriteFailed, check_output_file, load_run, lock_holder, read_json, read_log

ENOSPC = os.strerror(errno.ENOSPC)  # "No space left on device"


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, ENOSPC)


def _interrupted(tmp_path: Path, name: str = "r") -> Run:
    run = Run.create(tmp_path, "bench", {}, name=name)
    run.finish("interrupted")
    return run


def _raises(exc_type, call) -> BaseException:
    with pytest.raises(exc_type) as err:
        call()
    return err.value


# ---------------------------------------------------------------------------------------------- output checks
def _socket_file(where: Path) -> Path:
    path = where / "s.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the socket file stays until unlinked
    return path


def test_special_outputs_are_refused_by_their_exact_kind(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    os.symlink(tmp_path / "nowhere", link)
    cases = [(Path("/dev/null"), "a character device"), (fifo, "a FIFO"), (tmp_path, "a folder"), (link, "a symlink")]
    if len(str(tmp_path / "s.sock")) < 100:  # the length limit of a unix socket's path
        cases.append((_socket_file(tmp_path), "a socket"))
    blocks = [Path("/dev") / n for n in sorted(os.listdir("/dev")) if stat.S_ISBLK(os.lstat(Path("/dev") / n).st_mode)]
    if blocks:
        cases.append((blocks[0], "a block device"))
    for path, what in cases:
        expected = f"{path}: is {what}; outputs go to regular files only"
        assert str(_raises(TokbenchError, lambda: check_output_file(path))) == expected
        assert str(_raises(TokbenchError, lambda: R.atomic_write_bytes(path, b"x"))) == expected
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("mode,what", [
    (stat.S_IFDIR, "a folder"), (stat.S_IFCHR, "a character device"), (stat.S_IFBLK, "a block device"),
    (stat.S_IFIFO, "a FIFO"), (stat.S_IFSOCK, "a socket"), (stat.S_IFLNK, "a symlink"), (0, "not a regular file"),
])
def test_describe_special_names_every_file_type(mode, what):
    assert R._describe_special(mode | 0o644) == what


def test_output_must_name_a_file(tmp_path):
    for path in (Path(""), tmp_path / "missing" / ".."):  # ".." need not exist to be a folder
        assert str(_raises(TokbenchError, lambda: check_output_file(path))) == (
            f"{path}: output must be a file name, not a folder")
    under_a_file = tmp_path / "file" / "x.json"
    (tmp_path / "file").write_text("")
    assert str(_raises(TokbenchError, lambda: check_output_file(under_a_file))) == (
        f"{under_a_file}: cannot use as output (Not a directory)")


def test_output_is_refused_only_when_it_is_the_input(tmp_path):
    out, other = tmp_path / "out.json", tmp_path / "in.json"
    out.write_text("{}")
    other.write_text("{}")
    assert check_output_file(out, inputs=(other,)) == out  # an existing output and a different input
    assert check_output_file(out, inputs=(tmp_path / "missing.json",)) == out  # an input that is not there
    assert check_output_file(tmp_path / "new.json", inputs=(other,)) == tmp_path / "new.json"
    os.link(out, tmp_path / "hard.json")
    assert str(_raises(TokbenchError, lambda: check_output_file(out, inputs=(tmp_path / "hard.json",)))) == (
        f"{out}: is also the input; choose another output file")


def test_outputs_inside_a_run_folder_are_refused_even_through_a_symlink(tmp_path):
    with Run.create(tmp_path / "runs", "bench", {}, name="r") as run:
        pass
    inside = run.artifacts / "eval.json"
    assert str(_raises(TokbenchError, lambda: check_output_file(inside, run_dir=run.path))) == (
        f"{inside}: is inside the run folder {run.path}; write outputs elsewhere")
    os.symlink(run.artifacts, tmp_path / "alias")  # the same folder under another name
    with pytest.raises(TokbenchError, match="is inside the run folder"):
        check_output_file(tmp_path / "alias" / "eval.json", run_dir=run.path)
    outside = tmp_path / "eval.json"
    assert check_output_file(outside, run_dir=run.path) == outside
    (tmp_path / "plain").mkdir()  # a folder without run.json is not a run folder
    assert check_output_file(tmp_path / "plain" / "x.json", run_dir=tmp_path / "plain") == tmp_path / "plain" / "x.json"


# ---------------------------------------------------------------------------------------------- atomic writes
def test_json_files_are_indented_by_two_in_insertion_order(tmp_path):
    obj = {"zeta": 1, "alpha": [1, {"b": 2, "a": None}], "path": tmp_path}
    R.atomic_write_json(tmp_path / "x.json", obj)
    text = (tmp_path / "x.json").read_text(encoding="utf-8")
    assert text == json.dumps({**obj, "path": str(tmp_path)}, indent=2, sort_keys=False) + "\n"
    assert text.startswith('{\n  "zeta": 1,\n  "alpha": [\n    1,')
    with Run.create(tmp_path, "bench", {"z": 1, "a": 2}, name="r") as run:
        run.update_metrics("d", {"z": 1, "a": 2})
    assert (run.path / "metrics.json").read_text() == '{\n  "d": {\n    "z": 1,\n    "a": 2\n  }\n}\n'
    assert list(read_json(run.path / "run.json")) == ["name", "kind", "status", "config", "data", "packages",
                                                     "started", "finished", "host", "pid"]


def test_atomic_writes_make_missing_parent_folders(tmp_path):
    R.atomic_write_text(tmp_path / "a" / "b" / "c.txt", "x")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "x"


def test_new_files_get_0666_less_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        R.atomic_write_text(tmp_path / "private.txt", "x")
        os.umask(0o002)
        R.write_artifact(tmp_path / "shared.bin", lambda p: Path(p).write_bytes(b"x"))
        with Run.create(tmp_path, "bench", {}, name="r") as run:
            lock_mode = stat.S_IMODE((run.path / R.LOCK_FILE).stat().st_mode)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "shared.bin").stat().st_mode) == 0o664
    assert lock_mode == 0o664 and stat.S_IMODE((run.path / "run.json").stat().st_mode) == 0o664


def test_umask_is_read_from_proc_without_changing_it(monkeypatch):
    """Setting the umask to read it would race other threads creating files; Linux reports it in /proc."""
    calls = []
    real_umask = os.umask
    old = real_umask(0o027)
    try:
        monkeypatch.setattr(R.os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
        assert R._umask() == 0o027 and calls == []
    finally:
        monkeypatch.undo()
        os.umask(old)


def test_umask_is_read_without_proc_too(monkeypatch):
    def no_proc(*_a, **_k):
        raise OSError(errno.ENOENT, "no /proc here")

    old = os.umask(0o027)
    try:
        assert R._umask() == 0o027
        monkeypatch.setattr(R, "open", no_proc, raising=False)  # shadows the builtin inside runs.py only
        assert R._umask() == 0o027
        assert os.umask(0o027) == 0o027  # and left as it was
    finally:
        os.umask(old)


def _no_temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.mark.parametrize("raised,message,reason", [
    (OSError(errno.ENOSPC, ENOSPC), f"cannot write ({ENOSPC})", ENOSPC),
    (RuntimeError("quota exceeded\nat line 3 of the library"), "cannot write (quota exceeded)", "quota exceeded"),
    (RuntimeError(), "cannot write (RuntimeError)", "RuntimeError"),
])
def test_a_writer_that_fails_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, raised, message, reason):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")

    def writer(tmp):
        Path(tmp).write_bytes(b"half")
        raise raised

    err = _raises(WriteFailed, lambda: R.write_artifact(target, writer))
    assert str(err) == f"{target}: {message}" and err.strerror == reason and isinstance(err, OSError)
    assert target.read_bytes() == b"old" and _no_temporaries(tmp_path) == []


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), TokbenchError("bad tokenizer")])
def test_interrupts_and_our_own_errors_pass_through_writers_unchanged(tmp_path, raised):
    def writer(tmp):
        Path(tmp).write_bytes(b"half")
        raise raised

    assert _raises(type(raised), lambda: R.write_artifact(tmp_path / "x.bin", writer)) is raised
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing", ["write", "fsync", "replace", "mkstemp"])
def test_a_full_disk_at_any_step_keeps_the_target(tmp_path, monkeypatch, failing):
    target = tmp_path / "run.json"
    target.write_text('{"old": 1}')
    if failing == "write":
        monkeypatch.setattr(R.os, "fdopen", lambda fd, *a, **k: _FullFile(fd))
    elif failing == "mkstemp":
        monkeypatch.setattr(R.tempfile, "mkstemp", _enospc)
    else:
        monkeypatch.setattr(R.os, failing, _enospc)
    err = _raises(WriteFailed, lambda: R.atomic_write_json(target, {"new": 2}))
    monkeypatch.undo()
    assert str(err) == f"{target}: cannot write ({ENOSPC})" and err.strerror == ENOSPC
    assert json.loads(target.read_text()) == {"old": 1} and _no_temporaries(tmp_path) == []


class _FullFile:
    """What os.fdopen returns on a full disk: writes fail with ENOSPC (the descriptor is closed on exit)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        os.close(self.fd)
        return False

    def write(self, _data):
        _enospc()


def test_json_default_uses_item_for_scalars_without_tolist():
    class Scalar:
        def item(self):
            return 7

    assert json.loads(json.dumps({"x": Scalar()}, default=R._json_default)) == {"x": 7}


# ---------------------------------------------------------------------------------------------- reading
def test_read_json_refusals_name_the_file_and_the_cause(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert str(_raises(TokbenchError, lambda: read_json(fifo))) == f"{fifo}: not a regular file"
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "x.json"
    assert str(_raises(TokbenchError, lambda: read_json(bad))) == f"{bad}: cannot read (Not a directory)"


def test_read_log_skips_undecodable_bytes_and_a_symlinked_log(tmp_path):
    with Run.create(tmp_path, "bench", {}, name="r") as run:
        run.log({"step": 1})
    with open(run.path / R.LOG_FILE, "ab") as fh:  # a killed writer cut a multibyte character in half
        fh.write(b'{"note": "\xe6\x97"}\n{"step": 2}\n')
    assert [r.get("step") for r in read_log(run.path)] == [1, None, 2]
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"secret": 1}\n')
    (run.path / R.LOG_FILE).unlink()
    os.symlink(outside, run.path / R.LOG_FILE)
    assert read_log(run.path) == [] and run.path.joinpath(R.LOG_FILE).is_file()


def test_read_npz_reads_arrays_without_pickle_and_names_what_is_wrong(tmp_path, monkeypatch):
    import numpy as np

    np.savez(tmp_path / "tokens.npz", codes=np.arange(6).reshape(2, 3), rate=np.float32(1.5))
    arrays = R.read_npz(tmp_path / "tokens.npz")
    assert sorted(arrays) == ["codes", "rate"] and arrays["codes"].tolist() == [[0, 1, 2], [3, 4, 5]]
    np.save(tmp_path / "bare.npy", np.arange(3))
    np.savez(tmp_path / "pickled.npz", obj=np.array([{"a": 1}], dtype=object))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "folder.npz").mkdir()
    for name, message in (("missing.npz", "no such file"), ("folder.npz", "not a regular file"),
                          ("bare.npy", "not a token file (a .npy array, not an .npz archive)")):
        assert str(_raises(TokbenchError, lambda: R.read_npz(tmp_path / name))) == f"{tmp_path / name}: {message}"
    for name in ("pickled.npz", "junk.npz"):
        assert str(_raises(TokbenchError, lambda: R.read_npz(tmp_path / name))).startswith(
            f"{tmp_path / name}: not a token file (")
    assert "allow_pickle" in str(_raises(TokbenchError, lambda: R.read_npz(tmp_path / "pickled.npz")))

    def long_error(*_a, **_k):  # a library error of several lines: the first, cut to 160 characters
        raise ValueError("x" * 200 + "\nsecond line")

    monkeypatch.setattr(np, "load", long_error)
    assert str(_raises(TokbenchError, lambda: R.read_npz(tmp_path / "tokens.npz"))) == (
        f"{tmp_path / 'tokens.npz'}: not a token file ({'x' * 160})")


def test_load_run_refusals_name_the_file(tmp_path):
    none = tmp_path / "none"
    assert str(_raises(TokbenchError, lambda: load_run(none))) == f"{none}: no such run folder"
    with Run.create(tmp_path, "bench", {}, name="r") as run:
        pass
    for filename, message in ((R.METRICS_FILE, "malformed (expected an object of datasets)"),
                              (R.REPORT_FILE, "malformed (expected an object with rows)")):
        (run.path / filename).write_text("[1]")
        assert str(_raises(TokbenchError, lambda: load_run(run.path))) == f"{run.path / filename}: {message}"
        (run.path / filename).unlink()


def test_malformed_run_json_messages_quote_forty_characters(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    config = list(range(30))
    (folder / "run.json").write_text(json.dumps({"kind": "bench", "config": config}))
    assert str(_raises(TokbenchError, lambda: load_run(folder))) == (
        f"{folder / 'run.json'}: malformed run description (config is list: {str(config)[:40]!r})")
    (folder / "run.json").write_text(json.dumps({"kind": "bench", "status": "s" * 50}))
    assert str(_raises(TokbenchError, lambda: load_run(folder))) == (
        f"{folder / 'run.json'}: malformed run description (status {'s' * 40!r})")
    (folder / "run.json").write_text(json.dumps({"kind": "bench"}))  # no status: read as a running run
    assert load_run(folder).info == {"kind": "bench"} and load_run(folder).status == "unknown"


def test_listing_goes_on_after_a_symlinked_run(tmp_path):
    target = tmp_path / "elsewhere"
    with Run.create(target, "bench", {}, name="t"):
        pass
    runs_dir = tmp_path / "runs"
    names = []
    for i in range(40):  # until the symlink is not the last folder the directory listing returns
        with Run.create(runs_dir, "bench", {}, name=f"r{i}"):
            pass
        names.append(f"r{i}")
        if i == 0:
            os.symlink(target / "t", runs_dir / "alias")
        listed = os.listdir(runs_dir)
        if listed.index("alias") < len(listed) - 1:
            break
    records = {r.name: r for r in R.iter_runs(runs_dir)}
    assert sorted(records) == sorted([*names, "alias"])
    assert records["alias"].error == f"{runs_dir / 'alias'}: is a symlink; not read"


def test_package_versions_skips_absent_packages_and_goes_on():
    versions = R.package_versions("no-such-package-tokbench-xyz", "numpy")
    assert "no-such-package-tokbench-xyz" not in versions and "numpy" in versions and "python" in versions


# ---------------------------------------------------------------------------------------------- locks
def test_a_lock_whose_pid_is_not_a_positive_integer_protects_nothing(tmp_path):
    run = _interrupted(tmp_path)
    for pid in (True, False, 0, 1.0, "1", None):
        (run.path / R.LOCK_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
        assert lock_holder(run.path) is None, pid
    for foreign in ("[1]", "5", '"pid"'):  # JSON, but not an object with a pid
        (run.path / R.LOCK_FILE).write_text(foreign)
        assert lock_holder(run.path) is None, foreign
    init = {"pid": 1, "host": socket.gethostname()}  # pid 1 always lives (a container's own entrypoint may hold it)
    (run.path / R.LOCK_FILE).write_text(json.dumps(init))
    assert lock_holder(run.path) == init
    (run.path / R.LOCK_FILE).write_text(json.dumps({"pid": True, "host": socket.gethostname()}))
    Run.resume(run.path).finish()  # taken over
    assert read_json(run.path / "run.json")["status"] == "done"


def test_pid_liveness_sends_no_signal(monkeypatch):
    sent = []
    real_kill = os.kill

    def spy(pid, sig):  # signal 0 only probes; any other would really be sent (1 is SIGHUP)
        sent.append((pid, sig))
        if sig == 0:
            real_kill(pid, sig)

    monkeypatch.setattr(R.os, "kill", spy)
    assert R._pid_alive(os.getpid()) is True
    assert sent == [(os.getpid(), 0)]


def test_another_users_live_process_holds_its_lock(tmp_path, monkeypatch):
    def not_ours(pid, sig):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    run = _interrupted(tmp_path)
    holder = {"pid": 424242, "host": socket.gethostname()}
    (run.path / R.LOCK_FILE).write_text(json.dumps(holder))
    monkeypatch.setattr(R.os, "kill", not_ours)
    assert R._pid_alive(424242) is True and lock_holder(run.path) == holder
    assert str(_raises(TokbenchError, lambda: Run.resume(run.path))) == (
        f"{run.path}: locked by process 424242 on {socket.gethostname()}")


def test_a_lock_left_by_this_process_is_taken_over(tmp_path):
    run = _interrupted(tmp_path)
    (run.path / R.LOCK_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    Run.resume(run.path).finish()
    assert read_json(run.path / "run.json")["status"] == "done" and not (run.path / R.LOCK_FILE).exists()


def test_a_holder_that_finishes_while_we_look_is_gone(tmp_path, monkeypatch):
    run = _interrupted(tmp_path)
    (run.path / R.LOCK_FILE).write_text(json.dumps({"pid": os.getppid(), "host": "elsewhere"}))
    real = R.lock_holder

    def finishing(run_dir):  # the holder frees its lock (Run.finish) between our attempt and our look
        (Path(run_dir) / R.LOCK_FILE).unlink()
        return real(run_dir)

    monkeypatch.setattr(R, "lock_holder", finishing)
    Run.resume(run.path).finish()
    assert read_json(run.path / "run.json")["status"] == "done"


def test_a_lock_recreated_behind_our_back_is_given_up_on(tmp_path, monkeypatch):
    run = _interrupted(tmp_path)
    real_open = os.open

    def racer_open(path, flags, *args):  # a writer bypassing the flock recreates a stale lock every time
        if str(path).endswith(R.LOCK_FILE) and flags & os.O_EXCL:
            Path(path).write_text(json.dumps({"pid": 2 ** 22 + 1, "host": socket.gethostname()}))
        return real_open(path, flags, *args)

    monkeypatch.setattr(R.os, "open", racer_open)
    assert str(_raises(TokbenchError, lambda: Run.resume(run.path))) == f"{run.path}: could not take the lock"


@pytest.mark.parametrize("failing", ["open", "write"])
def test_a_lock_that_cannot_be_written_names_the_lock_and_leaves_none(tmp_path, monkeypatch, failing):
    run = _interrupted(tmp_path)
    lock = run.path / R.LOCK_FILE
    real_open = os.open

    def full_open(path, flags, *args):
        if str(path).endswith(R.LOCK_FILE):
            _enospc()
        return real_open(path, flags, *args)

    if failing == "open":
        monkeypatch.setattr(R.os, "open", full_open)
    else:
        real_fdopen = os.fdopen
        monkeypatch.setattr(R.os, "fdopen", lambda fd, mode="r", *a, **k: (
            _FullFile(fd) if mode == "wb" else real_fdopen(fd, mode, *a, **k)))
    err = _raises(WriteFailed, lambda: Run.resume(run.path))
    monkeypatch.undo()
    assert str(err) == f"{lock}: cannot take the lock ({ENOSPC})" and err.strerror == ENOSPC
    assert not lock.exists() and read_json(run.path / "run.json")["status"] == "interrupted"


def test_folder_lock_refusals_close_what_they_opened(tmp_path, monkeypatch):
    import fcntl

    fds = len(os.listdir("/proc/self/fd"))
    missing = tmp_path / "missing"
    assert str(_raises(TokbenchError, lambda: R._FolderMutex(missing).__enter__())) == (
        f"{missing}: cannot lock the run folder (No such file or directory)")
    (tmp_path / "file").write_text("")
    assert str(_raises(TokbenchError, lambda: R._FolderMutex(tmp_path / "file").__enter__())) == (
        f"{tmp_path / 'file'}: cannot lock the run folder (Not a directory)")
    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    assert str(_raises(TokbenchError, lambda: R._FolderMutex(tmp_path).__enter__())) == (
        f"{tmp_path}: cannot lock the run folder (No locks)")
    assert len(os.listdir("/proc/self/fd")) == fds


# ---------------------------------------------------------------------------------------------- the run
def test_refusing_symlinked_parts_checks_the_folder_and_each_artifact(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    run = _interrupted(tmp_path / "runs")
    os.symlink(outside / "model.bin", run.artifacts / "model.bin")
    for opener in (Run.resume, Run.attach):
        assert str(_raises(TokbenchError, lambda: opener(run.path))) == (
            f"{run.artifacts / 'model.bin'}: is a symlink; a run folder's parts must be real files and folders")
    (run.artifacts / "model.bin").unlink()
    alias = tmp_path / "runs" / "alias"
    os.symlink(run.path, alias)  # the folder itself, with real parts inside
    assert str(_raises(TokbenchError, lambda: Run.resume(alias))) == (
        f"{alias}: is a symlink; a run folder's parts must be real files and folders")
    shutil.rmtree(run.artifacts)  # no artifacts folder at all is no symlink
    Run.resume(run.path).finish()
    assert not (outside / "model.bin").exists() and not (run.path / R.LOCK_FILE).exists()


def test_resume_and_attach_refusals_name_the_folder(tmp_path):
    for opener in (Run.resume, Run.attach):
        assert str(_raises(TokbenchError, lambda: opener(tmp_path / "none"))) == (
            f"{tmp_path / 'none'}: no such run folder")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "run.json").write_text('{"kind": "bench", "data": 5}')
    for opener in (Run.resume, Run.attach):
        assert str(_raises(TokbenchError, lambda: opener(tmp_path / "odd"))) == (
            f"{tmp_path / 'odd' / 'run.json'}: malformed run description (data is int: '5')")


def test_a_resumed_run_records_the_host_and_pid_that_write_it(tmp_path):
    run = _interrupted(tmp_path)
    info = read_json(run.path / "run.json")
    info.update(host="another-machine", pid=1)  # it was started elsewhere
    (run.path / "run.json").write_text(json.dumps(info))
    again = Run.resume(run.path)
    info = read_json(run.path / "run.json")
    assert (info["host"], info["pid"]) == (socket.gethostname(), os.getpid()) and again.info == info
    again.finish()
    again.update_info(host="trainer-machine", pid=1)
    with Run.attach(run.path) as attached:  # an evaluation adds results; the run's writer stays on record
        attached.update_info(note="x")
    info = read_json(run.path / "run.json")
    assert (info["host"], info["pid"], info["note"], info["status"]) == ("trainer-machine", 1, "x", "done")


def test_create_on_a_full_disk_names_the_folder_and_leaves_nothing(tmp_path, monkeypatch):
    real_mkdir = Path.mkdir

    def full_mkdir(self, *a, **k):
        if self.name in ("r", R.ARTIFACTS_DIR):
            _enospc()
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(R.Path, "mkdir", full_mkdir)
    err = _raises(TokbenchError, lambda: Run.create(tmp_path, "bench", {}, name="r"))
    assert str(err) == f"{tmp_path / 'r'}: cannot create run folder ({ENOSPC})"

    def full_artifacts(self, *a, **k):
        if self.name == R.ARTIFACTS_DIR:
            _enospc()
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(R.Path, "mkdir", full_artifacts)
    err = _raises(WriteFailed, lambda: Run.create(tmp_path, "bench", {}, name="s"))
    assert str(err) == f"{tmp_path / 's'}: cannot create run folder ({ENOSPC})" and err.strerror == ENOSPC
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_create_cleanup_that_fails_does_not_hide_the_cause(tmp_path, monkeypatch):
    import shutil as sh

    real_rmtree = sh.rmtree

    def stuck_rmtree(path, ignore_errors=False, **k):  # a file in the half-made folder cannot be removed
        if not ignore_errors:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_rmtree(path, ignore_errors=ignore_errors, **k)

    monkeypatch.setattr(sh, "rmtree", stuck_rmtree)
    monkeypatch.setattr(R.os, "fsync", _enospc)
    err = _raises(WriteFailed, lambda: Run.create(tmp_path, "bench", {}, name="r"))
    assert ENOSPC in str(err)


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), ValueError("bug")])
def test_create_lets_other_failures_through_and_leaves_nothing(tmp_path, monkeypatch, raised):
    def broken(self):
        raise raised

    monkeypatch.setattr(Run, "save_info", broken)
    assert _raises(type(raised), lambda: Run.create(tmp_path, "bench", {}, name="r")) is raised
    assert list(tmp_path.iterdir()) == []


def test_log_refusals_name_the_log_and_the_cause(tmp_path):
    with Run.create(tmp_path, "bench", {}, name="r") as run:
        log = run.path / R.LOG_FILE
        os.symlink(tmp_path / "elsewhere.jsonl", log)
        assert str(_raises(TokbenchError, lambda: run.log({"step": 1}))) == (
            f"{log}: is a symlink; a run folder's parts must be real files and folders")
        log.unlink()
        log.mkdir()
        err = _raises(WriteFailed, lambda: run.log({"step": 1}))
        assert str(err) == f"{log}: cannot write (Is a directory)" and err.strerror == "Is a directory"
        log.rmdir()
    assert not (tmp_path / "elsewhere.jsonl").exists()


def test_truncate_log_keeps_records_up_to_the_resume_point(tmp_path):
    with Run.create(tmp_path, "bench", {}, name="r") as run:
        for step in range(5):
            run.log({"step": step})
        run.truncate_log(lambda r: r["step"] < 3)
    assert (run.path / R.LOG_FILE).read_text() == "".join(json.dumps({"step": s}) + "\n" for s in range(3))


def test_finish_marks_interrupted_runs_for_the_cli_and_tolerates_a_missing_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "INTERRUPTED_RUNS", [])
    a = Run.create(tmp_path, "bench", {}, name="a")
    (a.path / R.LOCK_FILE).unlink()  # removed by hand while it ran
    a.finish("interrupted")
    Run.create(tmp_path, "bench", {}, name="b").finish("failed", "x")
    Run.create(tmp_path, "bench", {}, name="c").finish()
    assert R.INTERRUPTED_RUNS == [a.path] and read_json(a.path / "run.json")["status"] == "interrupted"


def test_attached_runs_let_errors_through_and_tolerate_a_missing_lock(tmp_path):
    Run.create(tmp_path, "bench", {}, name="r").finish()
    with pytest.raises(ValueError, match="evaluation failed"):
        with Run.attach(tmp_path / "r"):
            raise ValueError("evaluation failed")
    assert not (tmp_path / "r" / R.LOCK_FILE).exists()
    with Run.attach(tmp_path / "r") as run:
        (run.path / R.LOCK_FILE).unlink()
    assert read_json(tmp_path / "r" / "run.json")["status"] == "done"


def test_a_lock_that_is_a_folder_is_refused_in_one_line(tmp_path):
    """run.lock made a folder (by hand or by another tool): refused by name, not an internal error."""
    run = Run.create(tmp_path, "text-bpe", {}, name="r")
    run.finish("interrupted")
    (run.path / R.LOCK_FILE).unlink(missing_ok=True)
    (run.path / R.LOCK_FILE).mkdir()
    with pytest.raises(TokbenchError) as err:
        Run.resume(run.path)
    assert str(err.value) == f"{run.path / R.LOCK_FILE}: is not a regular file; remove it to use this run folder"


def test_a_temporary_whose_mode_cannot_be_set_is_removed(tmp_path, monkeypatch):
    """fchmod failing (a filesystem without file modes): WriteFailed naming the target, no temporary left."""
    target = tmp_path / "out.json"

    def no_modes(fd, mode):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(R.os, "fchmod", no_modes)
    with pytest.raises(WriteFailed) as err:
        R.atomic_write_json(target, {"a": 1})
    assert str(err.value) == f"{target}: cannot write (Operation not permitted)"
    assert err.value.strerror == "Operation not permitted"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, says", [("fifo", "run.lock: is not a regular file"),
                                        ("dangling-symlink", "run.lock: is a symlink")])
def test_a_lock_that_is_a_fifo_or_a_symlink_is_refused_without_blocking(tmp_path, make, says):
    """Opening a FIFO for reading blocks until a writer comes: the lock is never read unless it is a regular
    file, so `--resume`, `runs` and `show` answer at once."""
    run = Run.create(tmp_path, "text-bpe", {}, name="r")
    run.finish("interrupted")
    lock = run.path / R.LOCK_FILE
    lock.unlink(missing_ok=True)
    if make == "fifo":
        os.mkfifo(lock)
    else:
        lock.symlink_to(tmp_path / "nowhere")
    assert lock_holder(run.path) is None
    assert load_run(run.path).status == "interrupted"
    with pytest.raises(TokbenchError, match=says):
        Run.resume(run.path)


def test_an_unreadable_lock_counts_as_held(tmp_path, monkeypatch):
    """A lock this user cannot read (another user's run, mode 000) is not stale: refused, never taken over."""
    run = Run.create(tmp_path, "text-bpe", {}, name="r")
    run.finish("interrupted")
    lock = run.path / R.LOCK_FILE
    lock.write_text('{"pid": 1, "host": "elsewhere"}')
    real_open = os.open

    def denied(path, flags, *args):
        if Path(path) == lock and not flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(R.os, "open", denied)
    assert lock_holder(run.path) == {"pid": None, "host": None, "unreadable": "Permission denied"}
    with pytest.raises(TokbenchError) as err:
        Run.resume(run.path)
    assert str(err.value) == (f"{lock}: cannot be read (Permission denied); another user's process may hold "
                              "this run")
    assert lock.exists()


def test_a_lock_is_read_without_following_a_symlink_and_only_its_first_64_kib(tmp_path):
    """A symlinked lock names no holder (its target may be anything), and a lock is read up to 64 KiB: a
    larger file is no lock of ours, even when the JSON after the cut would name a live process."""
    run = Run.create(tmp_path, "text-bpe", {}, name="r")
    live = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
    lock = run.path / R.LOCK_FILE
    target = tmp_path / "elsewhere.json"
    target.write_text(live)
    lock.unlink()
    lock.symlink_to(target)
    assert lock_holder(run.path) is None
    lock.unlink()
    lock.write_text(" " * 100_000 + live)
    assert lock_holder(run.path) is None
    lock.write_text(live)
    assert lock_holder(run.path) == json.loads(live)
    run.finish()
