"""The visual fit loop on builtin:digits with tiny models: run folder contract, exact resume, NaN stop,
refusals, config files, the CLI, and DDP with two gloo processes under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.runs import load_run, read_log  # noqa: E402
from tokbench.visual import train as vtrain  # noqa: E402
from tokbench.visual.train import fit_vq  # noqa: E402

DATA = "builtin:digits"  # 8x8 images: real data, tiny models
TINY = {"image_size": 8, "width": 8, "depth": 1, "codebook_size": 32, "code_dim": 4, "log_every": 1,
        "batch_size": 16, "warmup_steps": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _fit(tmp_path, name, **kw):
    kw.setdefault("config", dict(TINY))
    return fit_vq(kw.pop("family", "grid2d"), DATA, runs_dir=tmp_path, name=name, device="cpu", **kw)


def test_run_folder_contract(tmp_path):
    from safetensors import safe_open

    res = _fit(tmp_path, "a", steps=4, checkpoint_every=2)
    assert res.status == "done" and res.steps == 4 and res.run_dir == tmp_path / "a"
    rec = load_run(res.run_dir)
    assert rec.kind == "visual-vq" and rec.status == "done"
    assert rec.info["config"]["family"] == "grid2d" and rec.info["data"]  # data fingerprint recorded
    log = read_log(res.run_dir)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    for key in ("loss", "recon_loss", "commit_loss", "usage", "perplexity", "entropy_bits"):
        assert key in log[-1]
    assert 0 < log[-1]["usage"] <= 1 and 1 <= log[-1]["perplexity"] <= 32
    desc = json.loads((rec.artifacts / "model.json").read_text())
    assert desc["family"] == "grid2d" and desc["image_shape"] == [1, 8, 8]
    assert desc["tokens_per_image"] == 16 and desc["bits_per_token"] == 5.0
    ckpts = sorted((rec.artifacts / "checkpoints").glob("*.safetensors"))
    assert [c.name for c in ckpts] == ["step_00000002.safetensors", "step_00000004.safetensors"]
    with safe_open(str(ckpts[-1]), framework="pt") as fh:
        keys = list(fh.keys())
        assert fh.metadata()["step"] == "4"
    assert any(k.startswith("model.") for k in keys) and any(k.startswith("optim.") for k in keys)
    assert "rng.torch" in keys
    assert rec.metrics[f"{DATA}/train"]["bits_per_image"] == 80.0


def _interrupt_at(monkeypatch, call_no: int, exc: BaseException | None = None, nan: bool = False):
    real = vtrain.compute_losses
    calls = {"n": 0}

    def fake(model, images, tcfg):
        calls["n"] += 1
        out = real(model, images, tcfg)
        if calls["n"] == call_no:
            if nan:
                return (out[0] * float("nan"), out[1], out[2])
            raise exc
        return out

    monkeypatch.setattr(vtrain, "compute_losses", fake)


@pytest.mark.parametrize("family,extra", [("grid2d", {}), ("flexible", {"width": 16, "heads": 2, "patch_size": 2,
                                                                          "num_tokens": 4, "quantizer": "vq"})])
def test_resume_reproduces_uninterrupted_run(tmp_path, monkeypatch, family, extra):
    """Same seed: an interrupted run resumed from its last checkpoint has the same loss curve and weights."""
    cfg = {**TINY, **extra}
    if family == "flexible":
        cfg.pop("depth")
    _fit(tmp_path, "full", family=family, steps=6, checkpoint_every=3, config=cfg)
    _interrupt_at(monkeypatch, 5, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "cut", family=family, steps=6, checkpoint_every=3, config=cfg)
    assert load_run(tmp_path / "cut").status == "interrupted"
    assert [r["step"] for r in read_log(tmp_path / "cut")] == [1, 2, 3, 4]
    monkeypatch.undo()
    res = fit_vq(resume=tmp_path / "cut", device="cpu")
    assert res.status == "done" and res.resumed_from == 3
    a, b = read_log(tmp_path / "full"), read_log(tmp_path / "cut")
    assert [r["step"] for r in b] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    from safetensors.torch import load_file

    wa = load_file(str(tmp_path / "full" / "artifacts" / "model.safetensors"))
    wb = load_file(str(tmp_path / "cut" / "artifacts" / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    _interrupt_at(monkeypatch, 4, nan=True)
    res = _fit(tmp_path, "nan", steps=6, checkpoint_every=2)
    assert res.status == "failed" and res.steps == 2
    assert "non-finite loss at step 4" in res.message and "step 2" in res.message
    rec = load_run(tmp_path / "nan")
    assert rec.status == "failed" and "non-finite" in rec.info["error"]
    assert [c.name for c in (rec.artifacts / "checkpoints").glob("*")] == ["step_00000002.safetensors"]
    assert (rec.artifacts / "model.safetensors").is_file()
    assert [r["step"] for r in read_log(rec.path)] == [1, 2, 3]
    from tokbench.visual.model_io import load_model

    model = load_model(rec.path)  # the kept model is the last good one, usable
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_refusals(tmp_path, monkeypatch):
    _interrupt_at(monkeypatch, 3, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "r", steps=4, checkpoint_every=2)
    monkeypatch.undo()
    with pytest.raises(TokbenchError, match="not binary"):
        fit_vq("binary", resume=tmp_path / "r", device="cpu")
    with pytest.raises(TokbenchError, match="keeps its model config"):
        fit_vq(resume=tmp_path / "r", device="cpu", model_options={"codebook_size": 64})
    # a checkpoint of another config is refused by the loader itself
    from tokbench.visual.model_io import build_model

    other = build_model("grid2d", {**{k: v for k, v in TINY.items() if k in ("image_size", "width", "depth")},
                                   "codebook_size": 64, "code_dim": 4})
    opt = torch.optim.AdamW(other.parameters())
    ckpt = vtrain.latest_checkpoint(tmp_path / "r" / "artifacts" / "checkpoints")
    with pytest.raises(TokbenchError, match="another model config"):
        vtrain.load_checkpoint(ckpt, other, opt)
    with pytest.raises(TokbenchError, match="already exists"):
        _fit(tmp_path, "r", steps=1)
    with pytest.raises(TokbenchError, match="unknown option"):
        _fit(tmp_path, "x", steps=1, config={"colour": 3})
    with pytest.raises(TokbenchError, match="unknown image source"):
        fit_vq("grid2d", "builtin:nothing", steps=1, runs_dir=tmp_path, name="y", device="cpu", config=dict(TINY))
    assert not (tmp_path / "y").exists()
    (tmp_path / "plain-file").write_text("")
    with pytest.raises(TokbenchError, match="cannot create"):
        fit_vq("grid2d", DATA, steps=1, runs_dir=tmp_path / "plain-file" / "runs", device="cpu", config=dict(TINY))


def test_batch_indices_are_a_pure_function_of_seed_and_step():
    a = vtrain.batch_indices(0, 7, 16, 100)
    assert (a == vtrain.batch_indices(0, 7, 16, 100)).all()
    # two ranks of world 2 split one global batch without overlap; an epoch visits every image once
    r0, r1 = vtrain.batch_indices(3, 0, 50, 100, 0, 2), vtrain.batch_indices(3, 0, 50, 100, 1, 2)
    assert sorted([*r0, *r1]) == list(range(100))


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_config_file_and_cli(tmp_path, suffix, capsys):
    from tokbench.cli import main

    cfg = tmp_path / f"c{suffix}"
    if suffix == ".toml":
        cfg.write_text('family = "binary"\n[model]\nimage_size = 8\nwidth = 8\ndepth = 1\nbits = 66\n'
                       '[train]\nbatch_size = 8\n')
    else:
        cfg.write_text("family: binary\nmodel:\n  image_size: 8\n  width: 8\n  depth: 1\n  bits: 66\n"
                       "train:\n  batch_size: 8\n")
    rc = main(["fit-vq", "--config", str(cfg), "--data", DATA, "--steps", "2", "--quantizer", "lfq",
               "--runs-dir", str(tmp_path), "--name", "cli", "--device", "cpu", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["status"] == "done" and out["family"] == "binary"
    assert out["metrics"]["bits_per_token"] == 66 and out["metrics"]["tokens_per_image"] == 16
    info = load_run(tmp_path / "cli").info["config"]
    assert info["model"]["quantizer"] == "lfq" and info["train"]["batch_size"] == 8
    bad = tmp_path / f"bad{suffix}"
    bad.write_text("[model\n" if suffix == ".toml" else "model: [unclosed\n")
    rc = main(["fit-vq", "--config", str(bad), "--runs-dir", str(tmp_path)])
    assert rc == 2 and "not valid" in capsys.readouterr().err


def _rank_logs(log_dir: Path) -> dict[str, str]:
    """Every worker's full stdout/stderr as torchrun's --log-dir keeps them: {"rank 1 stderr": text}."""
    out = {}
    for path in sorted(log_dir.rglob("*.log")):
        if path.parent.name.isdigit():
            out[f"rank {path.parent.name} {path.stem}"] = path.read_text(errors="replace")
    return out


@pytest.mark.slow
def test_ddp_two_gloo_processes(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(
        "import sys\nfrom tokbench.visual.train import fit_vq\n"
        f"r = fit_vq('grid2d', {DATA!r}, steps=4, runs_dir=sys.argv[1], name='ddp', device='cpu', "
        f"checkpoint_every=2, config={TINY!r})\n"
        "total = sum(float(p.detach().double().sum()) for p in r.model.parameters())\n"
        "print('RESULT', r.status, repr(total), flush=True)\n")
    # loopback only (no hostname lookup for gloo's sockets); torchrun's temp files inside tmp_path
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1",
           "TOKBENCH_PROGRESS": "0", "GLOO_SOCKET_IFNAME": "lo", "TMPDIR": str(tmp_path)}
    log_dir = tmp_path / "logs"
    # every rank's stdout and stderr go whole into files under --log-dir (-r 3), kept for the failure report
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "--log-dir", str(log_dir), "-r", "3", str(script), str(tmp_path / "runs")]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        logs = _rank_logs(log_dir)
        pytest.fail(f"torchrun did not finish in {exc.timeout} s\n" + "\n".join(f"--- {k}:\n{v}" for k, v in
                                                                               logs.items()))
    logs = _rank_logs(log_dir)
    report = f"torchrun exit {proc.returncode}\n--- torchrun stderr:\n{proc.stderr}\n" + \
        "\n".join(f"--- {k}:\n{v}" for k, v in logs.items())
    assert proc.returncode == 0, report
    assert sorted(logs) == ["rank 0 stderr", "rank 0 stdout", "rank 1 stderr", "rank 1 stdout"], report
    lines = [ln for rank in ("0", "1") for ln in logs[f"rank {rank} stdout"].splitlines() if ln.startswith("RESULT")]
    assert len(lines) == 2 and all(" done" in ln for ln in lines), report
    # the ranks saw different images, yet DDP kept their weights identical
    assert lines[0].split()[-1] == lines[1].split()[-1], report
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["ddp"]  # only rank 0 wrote
    rec = load_run(tmp_path / "runs" / "ddp")
    assert rec.status == "done" and [r["step"] for r in rec.log()] == [1, 2, 3, 4]
    assert (rec.artifacts / "checkpoints" / "step_00000004.safetensors").is_file()


def test_cli_reports_nan_stop(tmp_path, monkeypatch, capsys):
    from tokbench.cli import main

    _interrupt_at(monkeypatch, 2, nan=True)
    rc = main(["fit-vq", "--data", DATA, "--steps", "3", "--image-size", "8", "--width", "8", "--depth", "1",
               "--codebook-size", "16", "--batch-size", "8", "--runs-dir", str(tmp_path), "--name", "n",
               "--device", "cpu"])
    assert rc == 1
    assert "non-finite loss at step 2" in capsys.readouterr().err
    assert load_run(tmp_path / "n").status == "failed"
