"""Realistic run folders of every kind for the dashboard tests, and checks that they follow the contracts.

Text-bpe runs are real (`tokbench.train_bpe` on a small cut of `builtin:english`); the other kinds are
written through `tokbench.runs` exactly as the run-folder contracts in ARCHITECTURE.md describe, with the
numbers that can be computed from the fixture's own arrays (PSNR of the stored reconstructions) computed.
"""

from __future__ import annotations

import json
import math
import wave
from pathlib import Path

import numpy as np

from tokbench.runs import Run, list_runs

PREMIUMS = {  # language -> (script, premium vs English) for two tokenizers
    "eng_Latn": ("Latn", 1.0, 1.0), "fra_Latn": ("Latn", 1.21, 1.12), "deu_Latn": ("Latn", 1.3, 1.18),
    "rus_Cyrl": ("Cyrl", 2.6, 1.9), "ell_Grek": ("Grek", 3.1, 2.2), "jpn_Jpan": ("Jpan", 2.2, 1.7),
    "arb_Arab": ("Arab", 2.9, 2.0),
}
VISUAL_BUDGETS = (1, 2, 4, 8, 16, 32)
AUDIO_QUANTIZERS = (1, 2, 4)
BENCH_SHAPES = ("N=4096,K=1024,D=64,dtype=float32", "N=16384,K=8192,D=32,dtype=float32")


def corpus_file(folder: Path, chars: int = 60_000) -> Path:
    from tokbench import Corpus

    path = folder / "english-small.txt"
    if not path.exists():
        path.write_text(Corpus("builtin:english", split="train").text(max_chars=chars), encoding="utf-8")
    return path


def make_text_runs(root: Path, corpus: Path) -> list[str]:
    from tokbench import train_bpe

    names = []
    for vocab in (500, 300):
        train_bpe(str(corpus), vocab_size=vocab, runs_dir=root, name=f"bpe-{vocab}")
        names.append(f"bpe-{vocab}")
    with Run.create(root, "text-eval", {"tokenizers": [str(root / n) for n in names]}, name="eval-text") as run:
        rows = []
        for k, name in enumerate(names):
            base = {"subject": name, "dataset": "builtin:english/heldout"}
            rows += [dict(base, metric="bytes_per_token", value=[2.07, 1.84][k]),
                     dict(base, metric="fertility", value=[3.36, 3.9][k]),
                     dict(base, metric="vocab_utilization", value=[0.652, 0.81][k]),
                     dict(base, metric="round_trip_rate", value=1.0)]
            for lang, (script, *values) in PREMIUMS.items():
                rows.append({"subject": name, "dataset": "builtin:parallel", "metric": "token_premium",
                             "value": values[k], "language": lang, "script": script})
        run.write_report({"schema": 1, "kind": "text-eval", "rows": rows, "unavailable": []})
        for row in rows:  # metrics.json as eval-text writes it: a summary keyed "metric[tokenizer]"
            if "language" not in row:
                run.update_metrics(row["dataset"], {f"{row['metric']}[{row['subject']}]": row["value"]})
    return names + ["eval-text"]


def _images(n: int = 8, size: int = 28) -> np.ndarray:
    """Simple shapes (rings and bars) as uint8 grey images (N, H, W, 1)."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    out = []
    for i in range(n):
        r = np.hypot(xx - 0.5, yy - 0.5)
        img = 0.5 + 0.5 * np.cos(2 * math.pi * (r * (2 + i) + 0.1 * i)) if i % 2 else (xx * (i + 1)) % 1.0
        out.append((img * 255).astype(np.uint8))
    return np.stack(out)[..., None]


def _blur(images: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return images.copy()
    x = images.astype(np.float64)
    k = 2 * radius + 1
    pad = np.pad(x, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="edge")
    acc = sum(pad[:, i:i + x.shape[1], j:j + x.shape[2]] for i in range(k) for j in range(k)) / (k * k)
    return np.clip(np.round(acc), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def make_visual_runs(root: Path) -> list[str]:
    original = _images()
    specs = {"vq-grid": ("grid2d", (64,), 10.0), "vq-flex": ("flexible", VISUAL_BUDGETS, 12.0)}
    for name, (family, budgets, bits) in specs.items():
        with Run.create(root, "visual-vq", {"family": family, "steps": 40}, name=name,
                        data=[{"source": "builtin:fashion-mnist", "split": "train"}]) as run:
            for step in range(0, 40, 5):
                run.log({"step": step, "loss": 1.0 / (1 + step), "recon_loss": 0.8 / (1 + step),
                         "usage": min(1.0, 0.2 + step / 50), "perplexity": 10 + step})
            (run.artifacts / "model.json").write_text(json.dumps({
                "family": family, "config": {}, "image_shape": [1, 28, 28], "tokens_per_image": max(budgets),
                "bits_per_token": bits}))
            arrays = {"original": original}
            rows = []
            for k in budgets:
                radius = max(0, 5 - int(math.log2(k))) if family == "flexible" else 1
                noise = np.random.default_rng(k).normal(0, 24.0 / k, original.shape)
                recon = np.clip(_blur(original, radius) + noise, 0, 255).astype(np.uint8)
                arrays[f"budget_{k}"] = recon
                base = {"subject": name, "dataset": "builtin:fashion-mnist/test", "budget": k}
                rows += [dict(base, metric="psnr_db", value=psnr(original, recon), unit="dB"),
                         dict(base, metric="bits_per_image", value=k * bits),
                         dict(base, metric="codebook_usage", value=min(1.0, 0.1 * k))]
            rows.append({"subject": "baseline:mean-image", "dataset": base["dataset"], "metric": "psnr_db",
                         "value": psnr(original, np.full_like(original, int(original.mean())))})
            arrays["codes"] = np.random.default_rng(0).zipf(1.5, size=512) % 256
            (run.artifacts / "eval").mkdir()
            np.savez(run.artifacts / "eval" / "reconstructions.npz", **arrays)
            run.write_report({"schema": 1, "kind": "visual-eval", "rows": rows,
                              "unavailable": [{"metric": "rfid", "reason": "Inception weights not found"}]})
            run.update_metrics("builtin:fashion-mnist/test", {"psnr_db": rows[-4]["value"]})
    return list(specs)


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())


def make_audio_run(root: Path) -> str:
    rate = 16000
    t = np.arange(int(0.5 * rate)) / rate
    clean = 0.5 * np.sin(2 * math.pi * (200 + 600 * t) * t)
    rng = np.random.default_rng(0)
    with Run.create(root, "audio-codec", {"quantizers": 4}, name="codec-rvq") as run:
        for step in range(0, 30, 5):
            run.log({"step": step, "loss": 2.0 / (1 + step), "usage": 0.5 + step / 100})
        (run.artifacts / "eval").mkdir()
        _write_wav(run.artifacts / "eval" / "original_0.wav", clean, rate)
        rows = []
        for q in AUDIO_QUANTIZERS:
            noisy = clean + rng.normal(0, 0.2 / q, clean.shape)
            _write_wav(run.artifacts / "eval" / f"recon_q{q}_0.wav", noisy, rate)
            snr = 10 * math.log10(np.sum(clean ** 2) / np.sum((noisy - clean) ** 2))
            base = {"subject": "codec-rvq", "dataset": "builtin:speech/test", "budget": q}
            rows += [dict(base, metric="kbps", value=1.5 * q), dict(base, metric="tokens_per_second", value=75.0 * q),
                     dict(base, metric="si_snr_db", value=snr), dict(base, metric="mel_distance", value=1.0 / q)]
        run.write_report({"schema": 1, "kind": "audio-eval", "rows": rows, "unavailable": []})
    return "codec-rvq"


def make_bench_run(root: Path) -> str:
    with Run.create(root, "bench", {"device": "cpu"}, name="bench-cpu") as run:
        rows = []
        for shape, (cd, tiled) in zip(BENCH_SHAPES, ((0.020, 0.008), (0.310, 0.090))):
            n, k, d, dtype = (p.split("=")[1] for p in shape.split(","))
            extra = {"n": int(n), "k": int(k), "d": int(d), "dtype": dtype}
            for method, sec in (("cdist_argmin", cd), ("tiled_torch", tiled)):
                rows += [dict(extra, subject=method, dataset=shape, metric="seconds", value=sec),
                         dict(extra, subject=method, dataset=shape, metric="speedup_vs_cdist", value=cd / sec)]
        run.write_report({"schema": 1, "kind": "bench", "rows": rows})
    return "bench-cpu"


def make_corrupt(root: Path) -> str:
    folder = root / "broken-run"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{not json")
    return "broken-run"


def build_all(root: Path, scratch: Path) -> dict[str, list[str]]:
    """Every kind of run under `root`; returns the names by kind group."""
    return {"text": make_text_runs(root, corpus_file(scratch)), "visual": make_visual_runs(root),
            "audio": [make_audio_run(root)], "bench": [make_bench_run(root)], "corrupt": [make_corrupt(root)]}


def test_fixture_runs_follow_the_contracts(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    make_visual_runs(root)
    make_audio_run(root)
    make_bench_run(root)
    make_corrupt(root)
    records = {r.name: r for r in list_runs(root)}
    assert records["broken-run"].error and records["broken-run"].status == "corrupt"
    for name in ("vq-grid", "vq-flex", "codec-rvq", "bench-cpu"):
        rec = records[name]
        assert rec.error is None and rec.status == "done"
        assert rec.report["schema"] == 1 and all({"subject", "dataset", "metric", "value"} <= set(r)
                                                  for r in rec.report["rows"])
    with np.load(records["vq-flex"].artifacts / "eval" / "reconstructions.npz") as npz:
        assert npz["original"].dtype == np.uint8 and npz["budget_32"].shape == npz["original"].shape
    # the flexible fixture's quality rises with the budget, as a real flexible tokenizer's should
    values = [r["value"] for r in records["vq-flex"].report["rows"] if r["metric"] == "psnr_db" and "budget" in r]
    assert values == sorted(values)
