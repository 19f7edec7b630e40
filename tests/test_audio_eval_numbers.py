"""eval-audio's numbers recomputed outside `evaluate_audio`, budget by budget, from the same codec and clips:
SI-SNR and SDR by their textbook formulas, STOI and PESQ straight from pystoi / pesq (reference first), the
spectral distances, bitrates and codebook statistics, and what is written into the run folder. Each would
have caught a swapped argument or a scorer that silently fails (issue 19). The second half drives `evaluate_audio`
with a stand-in codec whose reconstructions are written down, for what the tiny trained codec never shows
(clipping, an 8 kHz codec, failing or missing scorers, defaults, refusals); together they leave no mutant of
`tokbench/audio/evaluate.py` alive that tools/mutants/audio-evaluate.toml does not explain."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
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


def test_eval_audio_numbers_levels_and_run_folder(evaluated, reconstructions):
    """One test for the one shared evaluation: mutmut attributes `evaluate_audio` to the test whose setup ran it,
    so checks split over several tests sharing the module fixture would run only the first one per mutant."""
    run_dir, result = evaluated
    _check_budgets(result, reconstructions)
    _check_levels_and_frames(result, reconstructions)
    _check_run_folder(run_dir, result)


def _expected(pairs, q: int, sr: int, pesq_band: str) -> dict[str, float]:
    """Every per-budget metric recomputed from the reconstructions with the textbook formulas and the libraries
    called directly (PESQ in `pesq_band`, "wb" or "nb"), averaged over the clips."""
    return {
        "si_snr_db": np.mean([_si_snr(ref, est[q]) for ref, est in pairs]),
        "sdr_db": np.mean([_sdr(ref, est[q]) for ref, est in pairs]),
        "mrstft_distance": np.mean([fidelity.mrstft_distance(ref, est[q]) for ref, est in pairs]),
        "mel_distance": np.mean([fidelity.mel_distance(ref, est[q], sr) for ref, est in pairs]),
        "stoi": np.mean([pystoi.stoi(ref, est[q], sr, extended=False) for ref, est in pairs]),
        "pesq_wb": np.mean([pesq_mod.pesq(sr, ref, est[q], pesq_band) for ref, est in pairs]),
    }


def _check_budgets(result: dict, reconstructions) -> None:
    model, pairs, _ = reconstructions
    sr = model.cfg.sample_rate
    assert result["clips"] == 2 and [b["n_q"] for b in result["budgets"]] == [1, 2]
    for budget in result["budgets"]:
        q = budget["n_q"]
        want = _expected(pairs, q, sr, "wb")
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


def _check_levels_and_frames(result: dict, reconstructions) -> None:
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


def _check_run_folder(run_dir: Path, result: dict) -> None:
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
        assert {m: r.get("unit") for m, r in got.items()} == {
            "kbps": "kbit/s", "tokens_per_second": "tokens/s", "si_snr_db": "dB", "sdr_db": "dB",
            "mrstft_distance": None, "mel_distance": None, "stoi": None, "pesq_wb": "MOS-LQO"}
        for key in ("kbps", "si_snr_db", "sdr_db", "mrstft_distance", "mel_distance", "stoi", "pesq_wb"):
            assert rec.metrics[dataset][f"{key}_q{q}"] == pytest.approx(budget[key])
    levels = [r for r in rows if r["metric"].startswith("codebook_")]
    assert {(r["metric"], r["level"]) for r in levels} == {(f"codebook_{k}", lv) for k in
                                                            ("usage", "entropy_bits", "perplexity") for lv in (1, 2)}
    for r in levels:
        assert r["value"] == pytest.approx(result["levels"][r["level"] - 1][r["metric"][len("codebook_"):]])
        assert r["note"] == "per quantizer level" and r["subject"] == "codec" and r["dataset"] == dataset
    section = rec.report["sections"][dataset]
    assert section == json.loads(json.dumps({k: result[k] for k in ("clips", "seconds", "frames", "levels",
                                                                     "monotonic")}))
    assert section["clips"] == 2
    assert {k: result[k] for k in ("run_dir", "subject", "sample_rate", "frame_rate", "codebook_size", "n_q",
                                   "warnings", "trained_on", "notes", "eval_dir")} == {
        "run_dir": str(run_dir), "subject": "codec", "sample_rate": 16000, "frame_rate": 50, "codebook_size": 16,
        "n_q": 2, "warnings": [], "trained_on": [DATA], "notes": [], "eval_dir": str(rec.artifacts / "eval")}
    assert {u["metric"] for u in rec.report["unavailable"]} == {"utmos", "wer", "speaker_similarity"}
    wavs = sorted(p.name for p in (rec.artifacts / "eval").iterdir())
    assert wavs == ["original_0.wav", "recon_q1_0.wav", "recon_q2_0.wav"]


# ------------------------------------------------------------------------------------------ a codec with known output
# The tiny trained codec never clips, its second level barely moves the output and it runs at 16 kHz only. A stand-in
# codec whose reconstructions are written down here reaches what it cannot: clipped samples, a second level that
# changes every number, an 8 kHz codec (narrow-band PESQ), scorers that fail or are missing.
HOP = 160
GAINS = {1: 0.5, 2: 0.9}
#: the first samples of every reconstruction: two past full scale, one exactly at it (not clipped)
FORCED = (1.5, 1.0, -2.5)


def _stub_estimate(wave: torch.Tensor, n_q: int) -> torch.Tensor:
    """What the stand-in codec decodes from `n_q` levels: the clip scaled by GAINS[n_q] plus an echo."""
    est = GAINS[n_q] * wave + 0.05 * torch.roll(wave, 7)
    n = min(len(FORCED), len(est))
    est[:n] = torch.tensor(FORCED[:n], dtype=est.dtype)
    return est


class _StubCodec:
    """Stands in for a trained codec: level-1 codes are frame indices mod K, level-2 codes all 3."""

    def __init__(self, sample_rate: int):
        from types import SimpleNamespace

        self.cfg = SimpleNamespace(n_q=2, codebook_size=4, sample_rate=sample_rate, frame_rate=sample_rate / HOP)
        self._wave = None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._wave = x[0].clone()
        frames = -(-x.shape[-1] // HOP)
        return torch.stack([torch.arange(frames) % 4, torch.full((frames,), 3)])[None]

    def decode(self, codes: torch.Tensor, n_q: int) -> torch.Tensor:
        assert codes.shape == (1, 2, -(-len(self._wave) // HOP))
        return _stub_estimate(self._wave, n_q)[None]


@pytest.fixture
def stub_run(tmp_path, monkeypatch):
    """make(sample_rate, data, config) -> a finished audio-codec run folder whose codec is a `_StubCodec`, trained
    on `data` (or with run.json's whole `config` replaced by `config`, or left out when `config` is None); the
    devices the codec was loaded on are collected in `make.devices`."""
    from tokbench.audio import codec as codec_mod
    from tokbench.runs import Run

    def make(sample_rate: int = 16000, data=DATA, config=...) -> Path:
        run = Run.create(tmp_path / "runs", "audio-codec", {"data": data, "sample_rate": sample_rate}, name="stub")
        run.finish("done")
        if config is not ...:
            info = json.loads((run.path / "run.json").read_text(encoding="utf-8"))
            info["config"] = config
            if config is None:  # run.json's config is optional
                del info["config"]
            (run.path / "run.json").write_text(json.dumps(info), encoding="utf-8")

        def fake_load_codec(path, device):
            assert Path(path) == run.path
            make.devices.append(device)
            return _StubCodec(sample_rate)

        monkeypatch.setattr(codec_mod, "load_codec", fake_load_codec)
        return run.path

    make.devices = []
    return make


def _stub_pairs(sample_rate: int, n: int, data=DATA, split: str = SPLIT) -> list[tuple[np.ndarray, dict]]:
    clips = load_audio(data, split=split, sample_rate=sample_rate)
    return [(w.astype(np.float64), {q: _stub_estimate(torch.from_numpy(w), q).numpy().astype(np.float64)
                                    for q in GAINS}) for w in clips.waves[:n]]


def test_eight_khz_codec_scored_narrow_band_with_clipping_counted(stub_run):
    run_dir = stub_run(8000)
    result = evaluate_audio(run_dir, DATA, split=SPLIT, max_clips=2, n_wavs=0, device="cpu")
    pairs = _stub_pairs(8000, 2)
    assert stub_run.devices == ["cpu"] and result["sample_rate"] == 8000 and result["clips"] == 2
    assert result["frames"] == sum(-(-len(ref) // HOP) for ref, _ in pairs) == 2 * 50
    for budget in result["budgets"]:
        q = budget["n_q"]
        want = _expected(pairs, q, 8000, "nb")  # PESQ narrow band at 8 kHz
        for metric, value in want.items():
            assert budget[metric] == pytest.approx(value, rel=1e-5), (q, metric)
        assert budget["kbps"] == pytest.approx(q * 2 * 50 / 1000)
        # per clip and budget: 1.5 and -2.5 are past full scale, 1.0 is not
        assert budget["recon_clipped_fraction"] == 2 * 2 / sum(len(ref) for ref, _ in pairs)
    assert result["budgets"][0]["si_snr_db"] != pytest.approx(result["budgets"][1]["si_snr_db"])
    assert [lv["usage"] for lv in result["levels"]] == [1.0, 0.25]
    assert result["trained_on"] == [DATA] and result["notes"] == []
    higher = {"si_snr_db": True, "sdr_db": True, "mrstft_distance": False, "mel_distance": False, "stoi": True,
              "pesq_wb": True}
    for metric, up in higher.items():  # the stand-in's two budgets differ in every metric
        a, b = result["budgets"][0][metric], result["budgets"][1][metric]
        assert a != b and result["monotonic"][metric] == ((b > a) if up else (b < a)), metric
    assert not (run_dir / "artifacts" / "eval").exists() or not any((run_dir / "artifacts" / "eval").iterdir())


def test_one_clip_and_no_wavs_are_accepted(stub_run):
    run_dir = stub_run(8000, data=None)  # a run that does not say what it was trained on
    result = evaluate_audio(run_dir, DATA, split=SPLIT, max_clips=1, n_wavs=0, device="cpu")
    assert result["clips"] == 1 and result["frames"] == 50
    assert result["trained_on"] is None and result["notes"] == []
    assert not (run_dir / "artifacts" / "eval").exists() or not any((run_dir / "artifacts" / "eval").iterdir())


def test_defaults_evaluate_the_training_data_and_attach_three_wavs(stub_run):
    trained = [DATA, DATA]  # four test clips at 8 kHz: more than the three wavs kept by default
    run_dir = stub_run(8000, trained)
    result = evaluate_audio(run_dir)
    assert stub_run.devices == ["cpu"]  # no GPU here: "auto" picks the CPU
    assert result["clips"] == 2 * len(load_audio(DATA, split="test", sample_rate=8000)) == 4
    assert result["dataset"] == f"{DATA}+{DATA}/test"
    assert result["trained_on"] == trained and result["notes"] == []
    rec = load_run(run_dir)
    assert f"{DATA}+{DATA}/test" in rec.report["sections"] and rec.report["sections"][result["dataset"]]["clips"] == 4
    wavs = sorted(p.name for p in (rec.artifacts / "eval").iterdir())
    assert wavs == sorted([f"original_{i}.wav" for i in range(3)] + [f"recon_q{q}_{i}.wav" for q in (1, 2)
                                                                       for i in range(3)])


def test_scorer_failures_counted_and_left_out_of_the_mean(stub_run, monkeypatch):
    run_dir = stub_run(16000)
    real, calls = pystoi.stoi, []

    def stoi_failing_on_the_first_clip(ref, est, sr, extended=False):
        calls.append(len(calls))
        if len(calls) <= 2:  # clip 0 at budgets 1 and 2 (clips are the outer loop)
            raise RuntimeError("no speech found")
        return real(ref, est, sr, extended=extended)

    monkeypatch.setattr(pystoi, "stoi", stoi_failing_on_the_first_clip)
    result = evaluate_audio(run_dir, DATA, split=SPLIT, max_clips=2, n_wavs=0, device="cpu")
    pairs = _stub_pairs(16000, 2)
    for budget in result["budgets"]:
        ref, est = pairs[1]
        assert budget["stoi"] == pytest.approx(real(ref, est[budget["n_q"]], 16000, extended=False), rel=1e-6)
        assert budget["pesq_wb"] == pytest.approx(np.mean([pesq_mod.pesq(16000, r, e[budget["n_q"]], "wb")
                                                           for r, e in pairs]), rel=1e-6)
    failed = [u for u in result["unavailable"] if u["metric"] == "stoi"]
    assert failed == [{"metric": "stoi", "reason": "failed on 2 clip/budget pairs (left out of the mean)"}]


def test_missing_stoi_and_pesq_are_listed_and_the_rest_still_scored(stub_run, monkeypatch):
    from tokbench.audio.evaluate import NEEDS_MODELS, _optional_scorers

    monkeypatch.setitem(sys.modules, "pystoi", None)  # `import pystoi` now raises ImportError
    monkeypatch.setitem(sys.modules, "pesq", None)
    scorers, unavailable = _optional_scorers()
    assert scorers == {}
    assert [u["metric"] for u in unavailable] == ["stoi", "pesq_wb", *(m for m, _ in NEEDS_MODELS)]
    prefix = "pystoi is not installed ("  # then ImportError's own text, which names the module
    assert unavailable[0]["reason"].startswith(prefix) and "pystoi" in unavailable[0]["reason"][len(prefix):]
    assert unavailable[1]["reason"].startswith("the pesq package is not installed (")
    assert unavailable[1]["reason"].endswith("); `pip install pesq` to offer it")
    assert [u["reason"] for u in unavailable[2:]] == [r for _, r in NEEDS_MODELS]
    run_dir = stub_run(16000)
    result = evaluate_audio(run_dir, DATA, split=SPLIT, max_clips=2, n_wavs=1, device="cpu")
    assert result["unavailable"] == unavailable
    pairs = _stub_pairs(16000, 2)
    for budget in result["budgets"]:  # every clip at every budget, though only the first is written as a wav
        q = budget["n_q"]
        assert "stoi" not in budget and "pesq_wb" not in budget
        assert budget["si_snr_db"] == pytest.approx(np.mean([_si_snr(r, e[q]) for r, e in pairs]), rel=1e-5)
    wavs = sorted(p.name for p in (run_dir / "artifacts" / "eval").iterdir())
    assert wavs == ["original_0.wav", "recon_q1_0.wav", "recon_q2_0.wav"]


def test_pesq_is_nan_at_a_rate_it_does_not_define():
    from tokbench.audio.evaluate import _optional_scorers

    scorers, _ = _optional_scorers()
    wave = load_audio(DATA, split=SPLIT, sample_rate=22050).waves[0].astype(np.float64)
    assert math.isnan(scorers["pesq_wb"](wave, 0.5 * wave, 22050))


def test_unreadable_files_skipped_when_asked(stub_run, tmp_path):
    from tokbench.sources.audio import signal_waves, wav_bytes

    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "a.wav").write_bytes(wav_bytes(signal_waves(16000)["tone-440hz"], 16000))
    (folder / "b.wav").write_bytes(b"not a wav file")
    run_dir = stub_run(16000)
    result = evaluate_audio(run_dir, str(folder), split="all", n_wavs=0, on_error="skip", device="cpu")
    assert result["clips"] == 1 and result["frames"] == 100
    assert result["notes"] == [f"evaluated on {folder}, but the run was trained on {DATA}: the numbers are not a "
                               "test on its own data"]


def test_clipped_fraction_of_a_one_sample_clip(stub_run, tmp_path):
    """The fraction's denominator is the number of samples, down to a single one (whose reconstruction, 1.5, is
    clipped at both budgets); STOI and PESQ cannot score it and say so."""
    from tokbench.sources.audio import wav_bytes

    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "one.wav").write_bytes(wav_bytes(np.array([0.25], dtype=np.float32), 16000))
    result = evaluate_audio(stub_run(16000), str(folder), split="all", n_wavs=0, device="cpu")
    assert result["clips"] == 1 and [b["recon_clipped_fraction"] for b in result["budgets"]] == [1.0, 1.0]
    assert {u["metric"] for u in result["unavailable"]} >= {"stoi", "pesq_wb"}
    assert all(b["stoi"] is None and b["pesq_wb"] is None for b in result["budgets"])  # no value, not nan


@pytest.mark.parametrize("config, given, trained_on, note", [
    ({"data": [DATA, DATA]}, DATA, [DATA, DATA], f"evaluated on {DATA}, but the run was trained on {DATA}, {DATA}"),
    ({"data": DATA}, [DATA, DATA], [DATA], f"evaluated on {DATA}, {DATA}, but the run was trained on {DATA}"),
    ({"data": []}, DATA, None, None),            # run.json records no usable training data: no note
    ({"data": [DATA, 3]}, DATA, None, None),
    ({"data": None}, DATA, None, None),
    (None, DATA, None, None),
])
def test_training_data_note(stub_run, config, given, trained_on, note):
    result = evaluate_audio(stub_run(8000, config=config), given, split=SPLIT, max_clips=1, n_wavs=0, device="cpu")
    assert result["trained_on"] == trained_on
    assert result["notes"] == ([f"{note}: the numbers are not a test on its own data"] if note else [])


def test_a_second_dataset_is_added_and_the_same_one_replaced(stub_run):
    """report.json keeps one block of rows and one section per evaluated dataset; metrics.json likewise."""
    run_dir = stub_run(8000)
    first = evaluate_audio(run_dir, DATA, split="test", max_clips=1, n_wavs=0, device="cpu")
    evaluate_audio(run_dir, DATA, split="train", max_clips=2, n_wavs=0, device="cpu")
    again = evaluate_audio(run_dir, DATA, split="test", max_clips=2, n_wavs=0, device="cpu")
    rec = load_run(run_dir)
    rows = rec.report["rows"]
    per_dataset = {d: [r for r in rows if r["dataset"] == d] for d in (f"{DATA}/test", f"{DATA}/train")}
    assert len(rows) == 2 * len(per_dataset[f"{DATA}/test"]) == 2 * (2 * 8 + 3 * 2)
    assert set(rec.report["sections"]) == set(rec.metrics) == set(per_dataset)
    assert rec.report["sections"][f"{DATA}/test"]["clips"] == again["clips"] == 2 != first["clips"]
    assert rec.report["sections"][f"{DATA}/train"]["clips"] == 2
    si_snr = [r["value"] for r in per_dataset[f"{DATA}/test"] if r["metric"] == "si_snr_db"]
    assert si_snr == [b["si_snr_db"] for b in again["budgets"]]


@pytest.mark.parametrize("values, increasing, want", [
    ([1.0, 2.0, 3.0], True, True),
    ([1.0, 3.0, 2.0], True, False),   # a later budget is worse than the one before it
    ([3.0, 2.0, 1.0], True, False),
    ([3.0, 2.0, 1.0], False, True),
    ([1.0, 2.0], False, False),
    ([1.0, 1.0], True, False),        # no gain is not an improvement
    ([1.0, 1.0], False, False),
    ([1.0, None, math.nan, 2.0], True, True),  # budgets without a value are left out
    ([2.0, None, math.nan, 1.0], True, False),
])
def test_is_monotonic(values, increasing, want):
    from tokbench.audio.evaluate import _is_monotonic

    assert _is_monotonic(values, increasing) is want


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_wavs=-1), "need --wavs >= 0 and --max-clips >= 1 (got -1 and None)"),
    (dict(max_clips=0), "need --wavs >= 0 and --max-clips >= 1 (got 3 and 0)"),
])
def test_bad_counts_refused(tmp_path, kwargs, message):
    from tokbench.errors import TokbenchError

    with pytest.raises(TokbenchError) as err:
        evaluate_audio(tmp_path / "no-such-run", **kwargs)
    assert str(err.value) == message


def test_wrong_runs_and_devices_refused(stub_run, tmp_path):
    from tokbench.errors import TokbenchError
    from tokbench.runs import Run

    text = Run.create(tmp_path / "other", "text-bpe", {}, name="bpe")
    text.finish("done")
    with pytest.raises(TokbenchError) as err:
        evaluate_audio(text.path)
    assert str(err.value) == f"{text.path}: not an audio-codec run (kind 'text-bpe')"
    training = Run.create(tmp_path / "other", "audio-codec", {}, name="busy")  # this process holds its lock
    try:
        with pytest.raises(TokbenchError) as err:
            evaluate_audio(training.path)
        assert str(err.value) == f"{training.path}: run is still training"
    finally:
        training.finish("done")
    with pytest.raises(TokbenchError) as err:
        evaluate_audio(stub_run(16000), device="gpu9")
    assert str(err.value) == "unknown device 'gpu9' (expected cpu, cuda or auto)"
