"""`evaluate_audio`: what each quantizer (each token per frame) buys, measured on held-out audio.

For every number of quantizers n = 1..N the clips are encoded once and decoded from the first n levels; the
rows report bitrate (kbps = n · log2 K · frame rate / 1000), tokens per second (n · frame rate), SI-SNR, SDR,
multi-resolution STFT distance and mel distance (`tokbench.metrics.fidelity`), STOI (pystoi) and wide-band
PESQ (the `pesq` package, ITU-T P.862.2) when installed. Metric values are means over clips. Codebook usage,
entropy and perplexity are reported per quantizer level. Results are attached to the training run:
report.json rows (with "budget" = n), metrics.json, and 16-bit wavs under artifacts/eval/.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.metrics import codebook as cbm
from tokbench.metrics import fidelity, rate
from tokbench.runs import Run, atomic_write_bytes, load_run, read_json

#: metrics that need downloaded models, so they are listed, never estimated
NEEDS_MODELS = (
    ("utmos", "needs the UTMOS MOS-prediction model weights (a download); not estimated"),
    ("wer", "needs a speech recognizer (e.g. Whisper weights, a download); not estimated"),
    ("speaker_similarity", "needs a speaker-verification model (e.g. WavLM/ECAPA weights, a download); "
                           "not estimated"),
)
UNITS = {"kbps": "kbit/s", "tokens_per_second": "tokens/s", "si_snr_db": "dB", "sdr_db": "dB",
         "mrstft_distance": "", "mel_distance": "", "stoi": "", "pesq_wb": "MOS-LQO"}
HIGHER_IS_BETTER = {"si_snr_db": True, "sdr_db": True, "mrstft_distance": False, "mel_distance": False,
                    "stoi": True, "pesq_wb": True}


def _optional_scorers() -> tuple[dict, list[dict]]:
    scorers, unavailable = {}, []
    try:
        from pystoi import stoi

        scorers["stoi"] = lambda ref, est, sr: float(stoi(ref, est, sr, extended=False))
    except ImportError as exc:
        unavailable.append({"metric": "stoi", "reason": f"pystoi is not installed ({exc})"})
    try:
        from pesq import pesq

        def _pesq(ref, est, sr):
            if sr not in (8000, 16000):
                return float("nan")
            return float(pesq(sr, ref, est, "wb" if sr == 16000 else "nb"))

        scorers["pesq_wb"] = _pesq
    except ImportError as exc:
        unavailable.append({"metric": "pesq_wb", "reason": f"the pesq package is not installed ({exc}); "
                                                           "`pip install pesq` to offer it"})
    unavailable += [{"metric": m, "reason": r} for m, r in NEEDS_MODELS]
    return scorers, unavailable


def _is_monotonic(values: list[float], increasing: bool) -> bool:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    pairs = zip(vals, vals[1:])
    return all((b > a) if increasing else (b < a) for a, b in pairs)


def evaluate_audio(run_dir: str | os.PathLike, data: str | list[str] | None = None, split: str = "test",
                   max_clips: int | None = None, n_wavs: int = 3, device: str | None = None,
                   on_error: str = "error", write: bool = True) -> dict:
    """Rate-distortion evaluation of a trained codec for n_q = 1..N; attaches the results to the run. `data`
    defaults to the sources the run was trained on (run.json `config.data`, else builtin:speech); other
    sources are evaluated with a note in the result saying so."""
    import torch

    from tokbench.sources.audio import DEFAULT_DATA

    if n_wavs < 0 or (max_clips is not None and max_clips < 1):
        raise TokbenchError(f"need --wavs >= 0 and --max-clips >= 1 (got {n_wavs} and {max_clips})")

    from tokbench.audio.codec import load_codec
    from tokbench.audio.train import pick_device
    from tokbench.progress import track
    from tokbench.sources.audio import load_audio, wav_bytes

    record = load_run(run_dir)
    if record.kind != "audio-codec":
        raise TokbenchError(f"{run_dir}: not an audio-codec run (kind {record.kind!r})")
    if record.status == "running":
        raise TokbenchError(f"{run_dir}: run is still training")
    config = record.info.get("config")
    trained = config.get("data") if isinstance(config, dict) else None
    trained = [trained] if isinstance(trained, str) else trained
    trained = list(trained) if isinstance(trained, list) and trained and all(
        isinstance(d, str) for d in trained) else None
    data = data or trained or DEFAULT_DATA
    given = [data] if isinstance(data, str) else list(data)
    notes = []
    if trained is not None and given != trained:
        notes.append(f"evaluated on {', '.join(given)}, but the run was trained on {', '.join(trained)}: "
                     "the numbers are not a test on its own data")
    device = pick_device(device)
    model = load_codec(record.path, device)
    cfg = model.cfg
    sr = cfg.sample_rate
    clips = load_audio(data, split=split, sample_rate=sr, on_error=on_error)
    if max_clips is not None:  # checked >= 1 above
        clips.waves, clips.names = clips.waves[:max_clips], clips.names[:max_clips]
    dataset = f"{clips.source}/{split}"
    scorers, unavailable = _optional_scorers()
    names = ["si_snr_db", "sdr_db", "mrstft_distance", "mel_distance", *scorers]
    per_q: dict[int, dict[str, list[float]]] = {q: {m: [] for m in names} for q in range(1, cfg.n_q + 1)}
    counts = np.zeros((cfg.n_q, cfg.codebook_size), dtype=np.int64)
    clipped = {q: 0 for q in per_q}
    wavs: dict[str, bytes] = {}
    failures: dict[str, int] = {}
    n_frames = 0
    for i, wave in enumerate(track(clips.waves, "evaluating audio codec", total=len(clips.waves))):
        x = torch.from_numpy(wave).to(device)
        codes = model.encode(x[None])  # (1, N, T)
        n_frames += codes.shape[-1]
        for q in range(cfg.n_q):
            counts[q] += cbm.counts_from_ids(codes[0, q].cpu().numpy(), cfg.codebook_size)
        if i < n_wavs:
            wavs[f"original_{i}.wav"] = wav_bytes(wave, sr)
        for q in per_q:
            est_t = model.decode(codes, n_q=q)[0, :len(wave)].float()  # scored on the model's device
            clipped[q] += int((est_t.abs() > 1.0).sum())
            per_q[q]["si_snr_db"].append(fidelity.si_snr_db(x, est_t))
            per_q[q]["sdr_db"].append(fidelity.sdr_db(x, est_t))
            per_q[q]["mrstft_distance"].append(fidelity.mrstft_distance(x, est_t))
            per_q[q]["mel_distance"].append(fidelity.mel_distance(x, est_t, sr))
            if not scorers and i >= n_wavs:
                continue
            # STOI, PESQ and the wav writer are CPU libraries: only they need the samples back
            ref, est = wave.astype(np.float64), est_t.cpu().numpy().astype(np.float64)
            for metric, fn in scorers.items():
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        per_q[q][metric].append(fn(ref, est, sr))
                except Exception:  # noqa: BLE001 - e.g. PESQ finds no utterance in a clip: counted, not fatal
                    failures[metric] = failures.get(metric, 0) + 1
                    per_q[q][metric].append(float("nan"))
            if i < n_wavs:
                wavs[f"recon_q{q}_{i}.wav"] = wav_bytes(est, sr)

    subject = record.name
    rows, budgets = [], []
    for q, values in per_q.items():
        entry = {"n_q": q, "kbps": rate.kbps(q, cfg.codebook_size, cfg.frame_rate),
                 "tokens_per_second": q * cfg.frame_rate}
        for metric, vals in values.items():
            arr = np.asarray(vals, dtype=np.float64)
            finite = arr[np.isfinite(arr)]
            entry[metric] = float(finite.mean()) if finite.size else None
        entry["recon_clipped_fraction"] = clipped[q] / max(1, sum(len(w) for w in clips.waves))
        budgets.append(entry)
        for metric in ("kbps", "tokens_per_second", *names):
            row = {"subject": subject, "dataset": dataset, "metric": metric, "value": entry[metric], "budget": q}
            if UNITS.get(metric):
                row["unit"] = UNITS[metric]
            rows.append(row)
    levels = []
    for q in range(cfg.n_q):
        c = counts[q]
        lvl = {"level": q + 1, "usage": cbm.usage(c), "entropy_bits": cbm.entropy_bits(c),
               "perplexity": cbm.perplexity(c), "dead_codes": cbm.dead_codes(c)}
        levels.append(lvl)
        for key in ("usage", "entropy_bits", "perplexity"):
            rows.append({"subject": subject, "dataset": dataset, "metric": f"codebook_{key}", "value": lvl[key],
                         "level": q + 1, "note": "per quantizer level"})
    for metric, n in failures.items():
        unavailable.append({"metric": metric, "reason": f"failed on {n} clip/budget pairs (left out of the mean)"})
    monotonic = {m: _is_monotonic([b[m] for b in budgets], HIGHER_IS_BETTER[m]) for m in names}
    result = {"run_dir": str(record.path), "subject": subject, "dataset": dataset, "clips": len(clips),
              "seconds": clips.seconds, "frames": n_frames, "sample_rate": sr, "frame_rate": cfg.frame_rate,
              "codebook_size": cfg.codebook_size, "n_q": cfg.n_q, "budgets": budgets, "levels": levels,
              "monotonic": monotonic, "unavailable": unavailable, "warnings": clips.warnings,
              "trained_on": trained, "notes": notes,
              "eval_dir": str(record.artifacts / "eval")}
    if write:
        _attach(record.path, dataset, rows, result, wavs)
    return result


def _attach(run_dir: Path, dataset: str, rows: list[dict], result: dict, wavs: dict[str, bytes]) -> None:
    """Merge this dataset's rows into report.json (other datasets' rows are kept) and write the wavs."""
    with Run.attach(run_dir) as run:
        path = run.path / "report.json"
        old = read_json(path) if path.exists() else {}
        kept = [r for r in old.get("rows", []) if r.get("dataset") != dataset]
        sections = {k: v for k, v in old.get("sections", {}).items() if k != dataset}
        sections[dataset] = {k: result[k] for k in ("clips", "seconds", "frames", "levels", "monotonic")}
        run.write_report({"schema": 1, "kind": "audio-codec", "rows": kept + rows,
                          "unavailable": result["unavailable"], "sections": sections})
        flat = {}
        for b in result["budgets"]:
            for key in ("kbps", "si_snr_db", "sdr_db", "mrstft_distance", "mel_distance", "stoi", "pesq_wb"):
                if b.get(key) is not None:
                    flat[f"{key}_q{b['n_q']}"] = b[key]
        run.update_metrics(dataset, flat)
        for name, data in wavs.items():
            atomic_write_bytes(run.artifacts / "eval" / name, data)
