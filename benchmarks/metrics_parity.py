"""Parity of the fidelity metrics across implementations: the same seeded inputs, values saved and compared.

Computes every image and audio fidelity metric of `tokbench.metrics` on fixed inputs — the first Fashion-MNIST
test images and a few `builtin:photos` crops with a deterministic distortion (3x3 box blur, seeded Gaussian
noise, clipped), the first `builtin:speech` clips (espeak-ng) with a deterministic distortion (gain, 5-tap
moving average, seeded noise) plus one 300-sample clip (short-signal padding) — and the Fréchet distance of
pooled pixels and of the FID Inception network under seeded random weights (the real weights are not on this
machine; the network and the feature path are what is compared).

    PYTHONPATH=<old copy> python benchmarks/metrics_parity.py --weights /tmp/w.pth --save /tmp/old.json
    python benchmarks/metrics_parity.py --weights /tmp/w.pth --compare /tmp/old.json   # worst first

The Inception part runs only with `--weights` (a seeded random weights file in the published layout, made
there on first use and shared by both runs; about 95 MB). Without --save / --compare the values are printed.

Relative difference = |new - old| / max(|old|, 1e-12), per value (per image / per clip, then the worst).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

TOLERANCE = 1e-4
N_IMAGES = 256
N_PHOTOS = 16
N_CLIPS = 4
N_INCEPTION = 12


def _blur_noise(images: np.ndarray, seed: int) -> np.ndarray:
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = images.shape[-2:]
    blurred = sum(padded[..., i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0
    noise = np.random.default_rng(seed).standard_normal(images.shape) * 0.05
    return np.clip(blurred + noise, 0.0, 1.0).astype(np.float32)


def _distort_audio(wave: np.ndarray, seed: int) -> np.ndarray:
    smooth = np.convolve(wave, np.ones(5) / 5.0, mode="same")
    return 0.9 * smooth + 0.01 * np.random.default_rng(seed).standard_normal(wave.shape)


def image_values() -> dict[str, list[float]]:
    from tokbench.metrics import fid as fidm
    from tokbench.metrics import fidelity
    from tokbench.sources.images import load_images

    out: dict[str, list[float]] = {}
    for name, spec, kwargs in (("fmnist", "builtin:fashion-mnist", {"limit": N_IMAGES}),
                               ("photos", "builtin:photos", {"limit": N_PHOTOS, "size": 32, "channels": 3})):
        ref = load_images(spec, "test", **kwargs).images
        est = _blur_noise(ref, seed=1)
        out[f"{name}/psnr_per_image"] = [float(v) for v in fidelity.psnr_per_image(ref, est)]
        out[f"{name}/ssim_per_image"] = [float(v) for v in fidelity.ssim_per_image(ref, est)]
        out[f"{name}/psnr_one"] = [float(fidelity.psnr(ref[0], est[0]))]
        out[f"{name}/ssim_one"] = [float(fidelity.ssim(ref[0], est[0]))]
        out[f"{name}/fd_pixels"] = [float(fidm.fd(ref, est))]
    return out


def inception_values(weights: Path) -> dict[str, list[float]]:
    import torch

    from tokbench.metrics import fid as fidm
    from tokbench.sources.images import load_images

    if not weights.is_file():  # seeded random weights in the published layout, made once and shared by both runs
        from tokbench.metrics.inception import FIDInceptionV3

        torch.manual_seed(0)
        net = FIDInceptionV3()
        for m in net.modules():  # variance-keeping convolutions, non-trivial batch norms: features stay alive
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(1.0, 3.0)
                m.bias.data.uniform_(0.0, 0.2)
        weights.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}, weights)
    torch.set_num_threads(1)
    ref = load_images("builtin:fashion-mnist", "test", limit=N_INCEPTION).images
    est = _blur_noise(ref, seed=2)
    extractor = fidm.inception_extractor(fidm.RfidStatus(weights, None), batch_size=N_INCEPTION)
    fa, fb = extractor(ref), extractor(est)
    return {"inception/features": [float(v) for v in fa[:2, :64].ravel()],
            "inception/fd": [float(fidm.fd_from_features(fa, fb))]}


def audio_values() -> dict[str, list[float]]:
    from tokbench.metrics import fidelity
    from tokbench.sources.audio import load_audio

    clips = load_audio("builtin:speech", split="test", sample_rate=16000)
    waves = [w.astype(np.float64) for w in clips.waves[:N_CLIPS]]
    waves.append(waves[0][4000:4300])  # shorter than n_fft / 2 of every STFT: the padding path
    out: dict[str, list[float]] = {k: [] for k in ("si_snr_db", "sdr_db", "mrstft_distance", "mel_distance")}
    for i, ref in enumerate(waves):
        est = _distort_audio(ref, seed=10 + i)
        out["si_snr_db"].append(float(fidelity.si_snr_db(ref, est)))
        out["sdr_db"].append(float(fidelity.sdr_db(ref, est)))
        out["mrstft_distance"].append(float(fidelity.mrstft_distance(ref, est)))
        out["mel_distance"].append(float(fidelity.mel_distance(ref, est, 16000)))
    return {f"speech/{k}": v for k, v in out.items()}


def compute(weights: Path | None, inception: bool) -> dict[str, list[float]]:
    values = {**image_values(), **audio_values()}
    if inception:
        values.update(inception_values(weights))
    return values


def compare(old: dict[str, list[float]], new: dict[str, list[float]]) -> list[tuple[str, float, float, float]]:
    """(name, worst relative difference, old value there, new value there), worst first."""
    rows = []
    for name in sorted(old):
        if name not in new:
            rows.append((name, math.inf, math.nan, math.nan))
            continue
        a, b = np.asarray(old[name]), np.asarray(new[name])
        rel = np.abs(b - a) / np.maximum(np.abs(a), 1e-12)
        i = int(np.argmax(rel))
        rows.append((name, float(rel[i]), float(a[i]), float(b[i])))
    return sorted(rows, key=lambda r: -r[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path, help="write the values to this JSON file")
    ap.add_argument("--compare", type=Path, help="compare with the values in this JSON file")
    ap.add_argument("--weights", type=Path, help="seeded random Inception weights (made on first use); "
                                                 "without it the Inception network is skipped")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    values = compute(args.weights, args.weights is not None)
    print(f"computed {sum(len(v) for v in values.values())} values in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    if args.save:
        args.save.write_text(json.dumps(values, indent=1))
    if not (args.save or args.compare):
        print("| metric | values | mean |\n|---|---:|---:|")
        for name, vals in sorted(values.items()):
            print(f"| {name} | {len(vals)} | {np.mean(vals):.9g} |")
    if args.compare:
        rows = compare(json.loads(args.compare.read_text()), values)
        print(f"| metric | worst relative difference | old | new |\n|---|---|---|---|")
        for name, rel, a, b in rows:
            print(f"| {name} | {rel:.2e} | {a:.9g} | {b:.9g} |")
        worst = max(r[1] for r in rows)
        print(f"worst: {worst:.2e} ({'within' if worst <= TOLERANCE else 'OVER'} {TOLERANCE:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
