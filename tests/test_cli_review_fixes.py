"""Fixes from a new-user review of the visual/audio CLI: eval-vq / eval-audio default to the run's own training
data and say so when told to use another; the tables say which way each metric improves; help shows defaults;
option checks that need no model happen before loading one; an unreachable dask scheduler leaves no run folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tokbench.cli import main
from tokbench.runs import Run


# ------------------------------------------------------------------------------------------ eval-vq data source
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """An untrained grid2d model saved into a visual-vq run whose run.json says it trained on builtin:digits."""
    model_io = pytest.importorskip("tokbench.visual.model_io")
    model = model_io.build_model("grid2d", {"width": 8, "codebook_size": 16, "code_dim": 4})
    runs = tmp_path_factory.mktemp("runs")
    with Run.create(runs, "visual-vq", {"family": "grid2d", "data": "builtin:digits"}, name="digits") as run:
        model_io.save_model(run.artifacts, model)
    return run.path


def test_eval_vq_defaults_to_the_runs_own_data(digits_run, capsys, one_torch_thread):
    assert main(["eval-vq", str(digits_run), "--limit", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (name, summary), = report["evaluations"].items()
    assert name.startswith("builtin:digits") and summary["notes"] == []
    assert summary["trained_on"] == "builtin:digits"


def test_eval_vq_on_another_source_says_so(digits_run, capsys, one_torch_thread):
    assert main(["eval-vq", str(digits_run), "--data", "builtin:fashion-mnist", "--limit", "8"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "note:" in out and "trained on builtin:digits" in out


def test_eval_vq_table_marks_which_way_is_better(digits_run, capsys, one_torch_thread):
    assert main(["eval-vq", str(digits_run), "--limit", "8", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "↑ higher is better" in out
    assert "PSNR dB ↑" in out and "SSIM ↑" in out and "rFID ↓" in out and "dead codes ↓" in out


# ------------------------------------------------------------------------------------------ eval-audio data source
@pytest.fixture(scope="module")
def signals_run(tmp_path_factory):
    """A 2-step codec trained on builtin:signals (not the eval default builtin:speech)."""
    pytest.importorskip("vector_quantize_pytorch")
    from tokbench.audio import train as T

    runs = tmp_path_factory.mktemp("runs")
    summary = T.fit_audio(steps=2, runs_dir=runs, name="signals", n_q=2, codebook_size=8, dim=8, channels=4,
                          batch_size=2, segment_seconds=0.1, seed=0, data="builtin:signals", threads=1)
    return summary["run_dir"]


def test_eval_audio_defaults_to_the_runs_own_data_and_marks_directions(signals_run, capsys):
    assert main(["eval-audio", signals_run, "--max-clips", "1", "--wavs", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dataset"].startswith("builtin:signals") and result["notes"] == []
    assert main(["eval-audio", signals_run, "--max-clips", "1", "--wavs", "0"]) == 0
    out = capsys.readouterr().out
    assert "SI-SNR dB ↑" in out and "MR-STFT ↓" in out and "↑ higher is better" in out


def test_eval_audio_on_another_source_says_so(signals_run, tmp_path, capsys):
    sf = pytest.importorskip("soundfile")
    wav = tmp_path / "tone.wav"
    sf.write(wav, (0.3 * np.sin(np.arange(8000) * 0.2)).astype(np.float32), 16000)
    assert main(["eval-audio", signals_run, "--data", str(wav), "--split", "all", "--wavs", "0"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "note:" in out and "trained on builtin:signals" in out


# ------------------------------------------------------------------------------------------ unreachable scheduler
def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_train_bpe_unreachable_scheduler_exits_2_and_leaves_no_run_folder(small_corpus, tmp_path, capsys):
    pytest.importorskip("distributed")
    runs = tmp_path / "runs"
    rc = main(["train-bpe", "-c", str(small_corpus), "-v", "300", "--engine", "dask",
               "--scheduler", f"tcp://127.0.0.1:{_closed_port()}", "--runs-dir", str(runs), "--name", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "cannot reach the Dask scheduler" in err[0]
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("address", ["tcp://nohost", "tcp://host:notaport"])
def test_check_scheduler_refuses_addresses_without_a_port(address):
    from tokbench.engines.cluster import check_scheduler
    from tokbench.errors import TokbenchError

    with pytest.raises(TokbenchError, match="scheduler"):
        check_scheduler(address)


# ------------------------------------------------------------------------------------------ help and option checks
def _help(command: str, capsys) -> str:
    assert main([command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.replace("│", " ").split())


def test_fit_vq_help_states_the_libraries_effective_defaults(capsys):
    from tokbench.visual.families.base import make_config
    from tokbench.visual.train import make_train_config

    text = _help("fit-vq", capsys)
    model = {f: make_config(f).to_dict() for f in ("grid2d", "latent1d", "binary", "flexible")}
    train = {f: make_train_config(f, {}).to_dict() for f in model}
    g, l, f = train["grid2d"], train["latent1d"], train["flexible"]
    assert l["steps"] == f["steps"] and l["lr"] == f["lr"] and {t["batch_size"] for t in train.values()} == {32}
    assert f"(default {g['steps']}; latent1d and flexible {l['steps']})" in text
    assert f"(default {g['lr']:.0e}; latent1d and flexible {l['lr']:.0e})".replace("e-0", "e-") in text
    assert f"(default {g['batch_size']})" in text
    assert f"(default {model['grid2d']['codebook_size']}; latent1d {model['latent1d']['codebook_size']})" in text
    assert model["grid2d"]["width"] == model["binary"]["width"]
    assert model["latent1d"]["width"] == model["flexible"]["width"]
    assert (f"(default {model['grid2d']['width']} for grid2d and binary, {model['latent1d']['width']} for latent1d "
            "and flexible)") in text
    assert f"(default {model['grid2d']['code_dim']}; flexible {model['flexible']['code_dim']})" in text
    assert f"(default {g['checkpoint_every']})" in text


def test_eval_vq_help_offers_threads_and_photos64(capsys):
    text = _help("eval-vq", capsys)
    assert "--threads" in text and "builtin:photos64" in text


def test_tokenize_image_budget_on_a_fixed_run_is_refused_before_loading(tmp_path, capsys, monkeypatch):
    from tokbench.runs import atomic_write_json
    from tokbench.visual import model_io

    run = tmp_path / "run"
    atomic_write_json(run / "artifacts" / "model.json", {"family": "grid2d", "tokens_per_image": 49})

    def no_loading(*args, **kwargs):
        raise AssertionError("loaded the model before checking --budget")

    monkeypatch.setattr(model_io, "load_model", no_loading)
    rc = main(["tokenize-image", str(tmp_path), "--run", str(run), "--out", str(tmp_path / "t.npz"), "--budget", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and "only flexible runs take a shorter budget" in err


def test_scale_benchmark_help_description_is_a_whole_sentence():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "the counting speedup per worker." in " ".join(out.split())


# ------------------------------------------------------------------------------------------ fit-vq under torchrun
def test_flexible_mask_token_is_in_every_training_graph_so_ddp_needs_no_unused_search(one_torch_thread):
    """DDP's find_unused_parameters warns when nothing is unused: with nested dropout the mask token gets a
    gradient in a step even when every sample keeps all K tokens, so it must be off; without, it must be on."""
    import torch

    from tokbench.visual import model_io
    from tokbench.visual.train import has_unused_parameters

    small = {"width": 16, "depth": 1, "heads": 2, "num_tokens": 4, "patch_size": 7}
    model = model_io.build_model("flexible", small).train()
    model._train_keep = lambda zq: torch.full((zq.shape[0],), model.tokens_per_image, device=zq.device)
    out = model._decode_latents(model.quantizer.codes(torch.zeros(2, 4, dtype=torch.long)), model._train_keep(
        torch.zeros(2, 4)))
    out.sum().backward()
    assert model.mask_token.grad is not None  # in the graph: DDP counts it as used
    assert not has_unused_parameters(model)
    assert has_unused_parameters(model_io.build_model("flexible", {**small, "nested_dropout": False}))
    assert not has_unused_parameters(model_io.build_model("grid2d", {"width": 8}))


def test_fit_vq_summary_says_how_many_processes(tmp_path, capsys, one_torch_thread):
    rc = main(["fit-vq", "--family", "grid2d", "--data", "builtin:digits", "--steps", "2", "--batch-size", "4",
               "--width", "4", "--codebook-size", "8", "--image-size", "8", "--depth", "1", "--device", "cpu",
               "--runs-dir", str(tmp_path), "--name", "p"])
    out = capsys.readouterr().out
    assert rc == 0 and "processes" in out
