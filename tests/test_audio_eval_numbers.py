"""eval-audio's numbers recomputed outside `evaluate_audio`, budget by budget, from the same codec and clips:
SI-SNR and SDR by their textbook formulas, STOI and PESQ straight from pystoi / pesq (reference first), the
spectral distances, bitrates and codebook statistics, and what is written into the run folder. Each would
have caught a swapped argument or a scorer that silently fails (issue 19)."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("vector_quantize_pytorch")
pystoi = pytest.importorskip("pystoi")
pesq_mod = pytest.importorskip("pesq")

from tokbench.audio import train as T  # noqa: E402
from tokbench.audio.codec import load_codec  # noqa: E402
from tokbench.audio.evaluate import evaluate_audio  # noqa: E402
from tokbench.metrics import codebook as cbm  # noqa: E402
from tokbench.metrics import fidelity  # noqa: E402
from tokbench.runs import load_run  # noqa: E402
from tokbench.sources.audio import load_audio  # noqa: E402

TINY = dict(n_q=2, codebook_size=16, dim=8, channels=4, batch_size=4, segment_seconds=0.12, seed=7,
            data="builtin:signals", log_every=1, ckpt_every=2, threads=1)
DATA, SPLIT = "builtin:signals", "test"


def _trained_codec(runs: Path) -> Path:
    """A codec trained for two steps in `runs`. Under `make mutate` (TOKBENCH_MUTATION_CACHE set by
    tools/mutate.py, which mutates only the evaluation) the trained run is made once and copied per mutant."""
    cache = os.environ.get("TOKBENCH_MUTATION_CACHE")
    if not cache:
        return Path(T.fit_audio(steps=2, runs_dir=runs, name="codec", **TINY)["run_dir"])
    cached = Path(cache) / "audio-codec"
    if not cached.is_dir():
        fresh = Path(T.fit_audio(steps=2, runs_dir=runs / "fresh", name="codec", **TINY)["run_dir"])
        tmp = Path(cache) / f".audio-codec-{os.getpid()}"
        shutil.copytree(fresh, tmp)
        try:
            tmp.rename(cached)
        except OSError:  # another worker got there first
            shutil.rmtree(tmp)
    shutil.copytree(cached, runs / "codec")
    return runs / "codec"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A codec trained for two steps, evaluated on two held-out signals (written into its run folder)."""
    torch.set_num_threads(1)
    run_dir = _trained_codec(tmp_path_factory.mktemp("runs"))
    result = evaluate_audio(run_dir, DATA, split=SPLIT, max_clips=2, n_wavs=1)
    return run_dir, result


@pytest.fixture(scope="module")
def reconstructions(evaluated):
    """(reference, {n_q: estimate}) per clip and the codes, decoded here exactly as eval-audio documents."""
    run_dir, _ = evaluated
    model = load_codec(run_dir)
    clips = load_audio(DATA, split=SPLIT, sample_rate=model.cfg.sample_rate)
    out, codes_all = [], []
    for wave in clips.waves[:2]:
        codes = model.encode(torch.from_numpy(wave)[None])
        codes_all.append(codes[0].numpy())
        est = {q: model.decode(codes, n_q=q)[0, :len(wave)].float().numpy().astype(np.float64)
               for q in range(1, model.cfg.n_q + 1)}
        out.append((wave.astype(np.float64), est))
    return model, out, codes_all


def _si_snr(ref: np.ndarray, est: np.ndarray) -> float:
    """Le Roux et al. 2019, written out again: zero-mean, project the estimate on the reference."""
    s, e = ref - ref.mean(), est - est.mean()
    target = np.dot(e, s) / np.dot(s, s) * s
    return 10 * math.log10(np.sum(target ** 2) / np.sum((e - target) ** 2))


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return 10 * math.log10(np.sum(ref ** 2) / np.sum((ref - est) ** 2))


def test_every_budget_recomputed_from_the_codec(evaluated, reconstructions):
    _, result = evaluated
    model, pairs, _ = reconstructions
    sr = model.cfg.sample_rate
    assert result["clips"] == 2 and [b["n_q"] for b in result["budgets"]] == [1, 2]
    for budget in result["budgets"]:
        q = budget["n_q"]
        want = {
            "si_snr_db": np.mean([_si_snr(ref, est[q]) for ref, est in pairs]),
            "sdr_db": np.mean([_sdr(ref, est[q]) for ref, est in pairs]),
            "mrstft_distance": np.mean([fidelity.mrstft_distance(ref, est[q]) for ref, est in pairs]),
            "mel_distance": np.mean([fidelity.mel_distance(ref, est[q], sr) for ref, est in pairs]),
            "stoi": np.mean([pystoi.stoi(ref, est[q], sr, extended=False) for ref, est in pairs]),
            "pesq_wb": np.mean([pesq_mod.pesq(sr, ref, est[q], "wb") for ref, est in pairs]),
        }
        for metric, value in want.items():
            assert math.isfinite(budget[metric]), (q, metric)
            assert budget[metric] == pytest.approx(value, rel=1e-6, abs=1e-9), (q, metric)
        assert budget["kbps"] == pytest.approx(q * math.log2(16) * 50 / 1000)
        assert budget["tokens_per_second"] == q * 50
        clipped = sum(int((np.abs(est[q]) > 1.0).sum()) for _, est in pairs)
        assert budget["recon_clipped_fraction"] == clipped / sum(len(ref) for ref, _ in pairs)
    # SI-SNR = 10 log10(rho^2 / (1 - rho^2)) with rho the correlation of the zero-mean signals, so swapping its
    # arguments cannot change it (an equivalent mutation); SDR, STOI and PESQ are not symmetric, and the
    # comparisons above catch their swaps
    ref, est = pairs[0][0], pairs[0][1][1]
    rho = np.corrcoef(ref, est)[0, 1]
    assert _si_snr(ref, est) == pytest.approx(_si_snr(est, ref))
    assert _si_snr(ref, est) == pytest.approx(10 * math.log10(rho ** 2 / (1 - rho ** 2)))
    assert _sdr(ref, est) != pytest.approx(_sdr(est, ref), rel=1e-3)
    assert pystoi.stoi(ref, est, 16000) != pytest.approx(pystoi.stoi(est, ref, 16000), rel=1e-3)
    assert not any(u["metric"] in ("stoi", "pesq_wb") for u in result["unavailable"])


def test_codebook_levels_and_frames_counted_from_the_codes(evaluated, reconstructions):
    _, result = evaluated
    _, pairs, codes = reconstructions
    assert result["frames"] == sum(c.shape[-1] for c in codes)
    assert result["seconds"] == pytest.approx(sum(len(ref) for ref, _ in pairs) / 16000)
    for level in result["levels"]:
        counts = sum(cbm.counts_from_ids(c[level["level"] - 1], 16) for c in codes)
        assert level["usage"] == cbm.usage(counts) and level["dead_codes"] == cbm.dead_codes(counts)
        assert level["entropy_bits"] == pytest.approx(cbm.entropy_bits(counts))
        assert level["perplexity"] == pytest.approx(cbm.perplexity(counts))
    assert [lv["level"] for lv in result["levels"]] == [1, 2]
    higher = {"si_snr_db": True, "sdr_db": True, "mrstft_distance": False, "mel_distance": False, "stoi": True,
              "pesq_wb": True}
    for metric, up in higher.items():
        a, b = (result["budgets"][0][metric], result["budgets"][1][metric])
        assert result["monotonic"][metric] == ((b > a) if up else (b < a)), metric


def test_run_folder_holds_the_same_numbers(evaluated):
    run_dir, result = evaluated
    rec = load_run(run_dir)
    dataset = f"{DATA}/{SPLIT}"
    assert result["dataset"] == dataset and rec.status == "done"
    rows = rec.report["rows"]
    assert rec.report["kind"] == "audio-codec" and rec.report["schema"] == 1
    for budget in result["budgets"]:
        q = budget["n_q"]
        got = {r["metric"]: r for r in rows if r.get("budget") == q}
        assert set(got) == {"kbps", "tokens_per_second", "si_snr_db", "sdr_db", "mrstft_distance", "mel_distance",
                            "stoi", "pesq_wb"}
        for metric, row in got.items():
            assert row["value"] == pytest.approx(budget[metric]) and row["subject"] == "codec"
            assert row["dataset"] == dataset
        assert got["si_snr_db"]["unit"] == "dB" and got["kbps"]["unit"] == "kbit/s"
        assert got["pesq_wb"]["unit"] == "MOS-LQO" and "unit" not in got["stoi"]
        for key in ("kbps", "si_snr_db", "sdr_db", "mrstft_distance", "mel_distance", "stoi", "pesq_wb"):
            assert rec.metrics[dataset][f"{key}_q{q}"] == pytest.approx(budget[key])
    levels = [r for r in rows if r["metric"].startswith("codebook_")]
    assert {(r["metric"], r["level"]) for r in levels} == {(f"codebook_{k}", lv) for k in
                                                            ("usage", "entropy_bits", "perplexity") for lv in (1, 2)}
    for r in levels:
        assert r["value"] == pytest.approx(result["levels"][r["level"] - 1][r["metric"][len("codebook_"):]])
    section = rec.report["sections"][dataset]
    assert section["clips"] == 2 and section["levels"] == json.loads(json.dumps(result["levels"]))
    assert {u["metric"] for u in rec.report["unavailable"]} == {"utmos", "wer", "speaker_similarity"}
    wavs = sorted(p.name for p in (rec.artifacts / "eval").iterdir())
    assert wavs == ["original_0.wav", "recon_q1_0.wav", "recon_q2_0.wav"]
