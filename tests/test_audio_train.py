"""fit_audio / evaluate_audio / the CLI on a tiny codec and builtin:signals: resume equivalence, NaN loss
handling, the evaluation report, and the tokenize/detokenize round trip of files."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("vector_quantize_pytorch")
sf = pytest.importorskip("soundfile")

from tokbench.audio import train as T  # noqa: E402
from tokbench.cli import main  # noqa: E402
from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.runs import load_run, read_log  # noqa: E402

TINY = dict(n_q=3, codebook_size=16, dim=8, channels=4, batch_size=4, segment_seconds=0.12, seed=7,
            data="builtin:signals", log_every=1, ckpt_every=3, threads=1)


def _losses(run_dir):
    return [(r["step"], r["loss"]) for r in read_log(run_dir)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    summary = T.fit_audio(steps=6, runs_dir=runs, name="straight", **TINY)
    return runs, summary


def test_fit_writes_a_run_folder(trained):
    runs, summary = trained
    rec = load_run(summary["run_dir"])
    assert rec.kind == "audio-codec" and rec.status == "done"
    assert (rec.artifacts / "model.safetensors").is_file()
    info = json.loads((rec.artifacts / "model.json").read_text())
    assert info["frame_rate"] == 50.0 and info["n_q"] == 3 and info["bits_per_token"] == 4.0
    assert [r["step"] for r in rec.log()] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(r["loss"]) and 0 <= r["usage"] <= 1 for r in rec.log())
    assert sorted(p.name for p in (rec.artifacts / "checkpoints").iterdir()) == [
        "step_00000003.safetensors", "step_00000006.safetensors"]


def test_resume_follows_the_same_loss_curve(trained, monkeypatch):
    runs, summary = trained
    real_batch = T.batch_for_step

    def interrupt_at_4(waves, seed, step, *args):
        if step == 4:
            raise KeyboardInterrupt
        return real_batch(waves, seed, step, *args)

    monkeypatch.setattr(T, "batch_for_step", interrupt_at_4)
    with pytest.raises(KeyboardInterrupt):
        T.fit_audio(steps=6, runs_dir=runs, name="cut", **TINY)
    cut = runs / "cut"
    assert load_run(cut).status == "interrupted"
    assert (cut / "artifacts" / "checkpoints" / "step_00000004.safetensors").is_file()  # finished steps kept
    monkeypatch.setattr(T, "batch_for_step", real_batch)
    T.fit_audio(resume=cut, threads=1)
    assert load_run(cut).status == "done"
    assert _losses(cut) == _losses(summary["run_dir"])
    from safetensors.torch import load_file

    a = load_file(str(runs / "straight" / "artifacts" / "model.safetensors"))
    b = load_file(str(cut / "artifacts" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_keeps_checkpoint_and_marks_failed(tmp_path, monkeypatch):
    real_loss = T.total_loss

    def nan_at_5(model, mel, batch, seed, cfg):
        loss, parts, idx = real_loss(model, mel, batch, seed, cfg)
        return (loss * float("nan") if seed % 1_000_003 == 4 else loss), parts, idx

    monkeypatch.setattr(T, "total_loss", nan_at_5)
    with pytest.raises(TokbenchError, match="loss became nan at step 5.*checkpoint \\(step 3\\)"):
        T.fit_audio(steps=6, runs_dir=tmp_path, name="nan", **TINY)
    rec = load_run(tmp_path / "nan")
    assert rec.status == "failed" and "nan" in rec.info["error"]
    assert (rec.artifacts / "checkpoints" / "step_00000003.safetensors").is_file()
    assert [r["step"] for r in rec.log()] == [1, 2, 3, 4]


def test_evaluate_attaches_rows_per_budget(trained):
    from tokbench.audio.evaluate import evaluate_audio

    _, summary = trained
    result = evaluate_audio(summary["run_dir"], "builtin:signals", split="all", max_clips=3, n_wavs=1)
    assert [b["n_q"] for b in result["budgets"]] == [1, 2, 3]
    assert [b["kbps"] for b in result["budgets"]] == pytest.approx([0.2, 0.4, 0.6])
    assert [b["tokens_per_second"] for b in result["budgets"]] == [50.0, 100.0, 150.0]
    assert all(np.isfinite(b["si_snr_db"]) and b["mel_distance"] > 0 for b in result["budgets"])
    assert {u["metric"] for u in result["unavailable"]} >= {"utmos", "wer", "speaker_similarity"}
    assert len(result["levels"]) == 3 and all(0 < lv["usage"] <= 1 for lv in result["levels"])
    report = load_run(summary["run_dir"]).report
    rows = [r for r in report["rows"] if r["metric"] == "si_snr_db"]
    assert [r["budget"] for r in rows] == [1, 2, 3] and report["kind"] == "audio-codec"
    ev = load_run(summary["run_dir"]).artifacts / "eval"
    assert {p.name for p in ev.iterdir()} == {"original_0.wav", "recon_q1_0.wav", "recon_q2_0.wav",
                                              "recon_q3_0.wav"}
    assert sf.info(str(ev / "recon_q3_0.wav")).subtype == "PCM_16"
    assert load_run(summary["run_dir"]).status == "done"  # attaching does not change the status


def test_cli_tokenize_detokenize_round_trip(trained, tmp_path, capsys):
    _, summary = trained
    run = summary["run_dir"]
    wave = (0.4 * np.sin(2 * np.pi * 330 * np.arange(11025) / 22050)).astype(np.float32)
    sf.write(tmp_path / "in.wav", wave, 22050)  # 0.5 s at 22.05 kHz: resampled to 16 kHz
    assert main(["tokenize-audio", str(tmp_path / "in.wav"), "--run", run, "-o", str(tmp_path / "t.npz"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == 25 and out["tokens"] == 75 and out["kbps"] == pytest.approx(0.6)
    with np.load(tmp_path / "t.npz", allow_pickle=False) as npz:
        codes = npz["codes"]
    assert codes.shape == (3, 25)
    assert main(["detokenize", str(tmp_path / "t.npz"), "--run", run, "-o", str(tmp_path / "out.wav")]) == 0
    back, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16000 and len(back) == 8000
    # decoding is deterministic and the tokens of the file are stable
    assert main(["tokenize-audio", str(tmp_path / "in.wav"), "--run", run, "-o", str(tmp_path / "t2.npz")]) == 0
    with np.load(tmp_path / "t2.npz", allow_pickle=False) as npz:
        assert np.array_equal(npz["codes"], codes)
    capsys.readouterr()
    # bad input: zero-length audio, a file that is not a token file, tokens from another model
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    assert main(["tokenize-audio", str(tmp_path / "empty.wav"), "--run", run, "-o", str(tmp_path / "x.npz")]) == 2
    (tmp_path / "bad.npz").write_bytes(b"nope")
    assert main(["detokenize", str(tmp_path / "bad.npz"), "--run", run, "-o", str(tmp_path / "x.wav")]) == 2
    assert "not a token file" in capsys.readouterr().err
    np.savez(tmp_path / "other.npz", codes=codes, format=np.array("tokbench-audio-tokens-1"),
             sample_rate=np.array(16000), n_samples=np.array(8000), model_sha256=np.array("0" * 64))
    assert main(["detokenize", str(tmp_path / "other.npz"), "--run", run, "-o", str(tmp_path / "x.wav")]) == 2
    assert "different model" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.npz").exists()


def test_cli_fit_and_eval_end_to_end(tmp_path, capsys):
    args = ["fit-audio", "--data", "builtin:signals", "--steps", "2", "--n-q", "2", "-k", "8", "--dim", "8",
            "--channels", "4", "--batch-size", "2", "--segment", "0.1", "--threads", "1",
            "--runs-dir", str(tmp_path), "--name", "cli", "--json"]
    assert main(args) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["run_dir"].endswith("cli") and fit["steps"] == 2
    assert main(args) == 2  # the name is taken: never overwritten
    assert "already exists" in capsys.readouterr().err
    assert main(["eval-audio", fit["run_dir"], "--data", "builtin:signals", "--split", "test", "--wavs", "0"]) == 0
    table = capsys.readouterr().out
    assert "SI-SNR dB" in table and "MR-STFT" in table and "unavailable: utmos" in table
    assert main(["eval-audio", str(tmp_path / "nope")]) == 2
    assert main(["fit-audio", "--data", str(tmp_path / "missing"), "--runs-dir", str(tmp_path)]) == 2
