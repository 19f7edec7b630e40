"""Identical resume (issue 15, class 7): a training process killed with SIGKILL at a random step after a
checkpoint, then resumed, gives the same loss curve and the same final weights, bit for bit, as a run that was
never interrupted, for fit-vq (EMA codebook with dead-code replacement) and fit-audio (residual VQ). The killed
run trains with one torch thread and the resume is called without a thread count from a process using two:
the run's recorded thread count must be used, or the CPU float results differ."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("vector_quantize_pytorch")

from tokbench.runs import load_run, read_log  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VQ_CFG = {"image_size": 8, "width": 8, "depth": 1, "codebook_size": 64, "code_dim": 4, "log_every": 1,
          "batch_size": 16, "warmup_steps": 2, "dead_code_threshold": 2.0}
AUDIO_CFG = dict(n_q=3, codebook_size=16, dim=8, channels=4, batch_size=4, segment_seconds=0.12, seed=3,
                 data="builtin:signals", log_every=1, ckpt_every=3)

# The child trains and stops dead (SIGSTOP-free: it prints, then sleeps) inside step `kill_at`'s forward pass,
# where the parent SIGKILLs it: the forward pass has already moved the EMA codebook of the unfinished step.
CHILD = """
import json, sys, time
kind, runs, kill_at, cfg = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
calls = {"n": 0}
def pause_in(real):
    def wrapped(*a, **k):
        out = real(*a, **k)
        calls["n"] += 1
        if calls["n"] == kill_at:
            print("in step", flush=True)
            time.sleep(120)
        return out
    return wrapped
if kind == "vq":
    from tokbench.visual import train as T
    T.compute_losses = pause_in(T.compute_losses)
    T.fit_vq("grid2d", "builtin:digits", runs_dir=runs, name="cut", device="cpu", steps=cfg.pop("steps"),
             checkpoint_every=cfg.pop("checkpoint_every"), config=cfg, threads=1)
else:
    from tokbench.audio import train as T
    T.total_loss = pause_in(T.total_loss)
    T.fit_audio(steps=cfg.pop("steps"), runs_dir=runs, name="cut", threads=1, **cfg)
"""


def _kill_child_at(kind: str, runs: Path, kill_at: int, cfg: dict) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(runs), str(kill_at), json.dumps(cfg)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "TOKBENCH_PROGRESS": "0"})
    try:
        line = proc.stdout.readline()
        assert line.strip() == "in step", f"child ended early: {proc.communicate()}"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert load_run(runs / "cut").status == "interrupted"  # `running` behind a dead writer's lock


def _same_weights(a: Path, b: Path) -> None:
    from safetensors.torch import load_file

    wa = load_file(str(a / "artifacts" / "model.safetensors"))
    wb = load_file(str(b / "artifacts" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not differ, f"weights differ: {differ[:4]}"


def _curve(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_log(run)]


@pytest.fixture
def two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)  # what a resume would get by default on a 2-core machine
    yield
    torch.set_num_threads(old)


@pytest.mark.slow
def test_class07_fit_vq_killed_at_a_random_step_resumes_identically(tmp_path, two_threads):
    from tokbench.visual.train import fit_vq

    steps, every = 12, 4
    kill_at = random.randint(every + 1, steps)  # somewhere after the first checkpoint
    cfg = {**VQ_CFG, "steps": steps, "checkpoint_every": every}
    _kill_child_at("vq", tmp_path, kill_at, dict(cfg))
    fit_vq("grid2d", "builtin:digits", runs_dir=tmp_path, name="straight", device="cpu", steps=steps,
           checkpoint_every=every, config=dict(VQ_CFG), threads=1)
    torch.set_num_threads(2)
    res = fit_vq(resume=tmp_path / "cut", device="cpu")
    assert res.status == "done" and res.resumed_from == (kill_at - 1) // every * every, kill_at
    assert _curve(tmp_path / "cut") == _curve(tmp_path / "straight"), f"killed in step {kill_at}"
    _same_weights(tmp_path / "cut", tmp_path / "straight")


@pytest.mark.slow
def test_class07_fit_audio_killed_at_a_random_step_resumes_identically(tmp_path, two_threads):
    from tokbench.audio.train import fit_audio

    steps = 8
    kill_at = random.randint(AUDIO_CFG["ckpt_every"] + 1, steps)
    _kill_child_at("audio", tmp_path, kill_at, {**AUDIO_CFG, "steps": steps})
    fit_audio(steps=steps, runs_dir=tmp_path, name="straight", threads=1, **AUDIO_CFG)
    torch.set_num_threads(2)
    summary = fit_audio(resume=tmp_path / "cut")
    assert summary["resumed_from"] == (kill_at - 1) // AUDIO_CFG["ckpt_every"] * AUDIO_CFG["ckpt_every"]
    assert _curve(tmp_path / "cut") == _curve(tmp_path / "straight"), f"killed in step {kill_at}"
    _same_weights(tmp_path / "cut", tmp_path / "straight")


def test_class07_audio_ctrl_c_mid_step_keeps_the_boundary_checkpoint(tmp_path, monkeypatch):
    """A Ctrl-C after the forward pass (EMA already moved) must not checkpoint that half-done state."""
    from tokbench.audio import train as T

    real = T.total_loss
    calls = {"n": 0}

    def interrupt_in_5th(*a, **k):
        out = real(*a, **k)
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(T, "total_loss", interrupt_in_5th)
    with pytest.raises(KeyboardInterrupt):
        T.fit_audio(steps=8, runs_dir=tmp_path, name="cut", threads=1, **AUDIO_CFG)
    monkeypatch.undo()
    names = sorted(p.name for p in (tmp_path / "cut" / "artifacts" / "checkpoints").iterdir())
    assert names == ["step_00000003.safetensors"]  # not the half-done step 5
    T.fit_audio(resume=tmp_path / "cut")
    T.fit_audio(steps=8, runs_dir=tmp_path, name="straight", threads=1, **AUDIO_CFG)
    assert _curve(tmp_path / "cut") == _curve(tmp_path / "straight")
    _same_weights(tmp_path / "cut", tmp_path / "straight")
