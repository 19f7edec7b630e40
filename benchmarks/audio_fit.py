"""Audio codec benchmark: training speed, encoding/decoding speed (seconds of audio per second), and the
rate-distortion table of the trained model on builtin:speech's test split.

Encoding is timed twice in the same run: through tokbench's `AudioCodec.encode` (residual search via
`tokbench.kernels.nearest_code`) and through vector-quantize-pytorch's own `ResidualVQ` forward (the peer),
so the ratio between them is meaningful even on a noisy shared CPU.

    python benchmarks/audio_fit.py [--steps 600] [--threads 1] [--runs-dir runs] [--write]

Appends (or refreshes) the `## Audio (issue 7)` section of benchmarks/RESULTS.md; other sections are kept.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

SECTION = "## Audio (issue 7)"


def _audio_per_second(fn, items, audio_seconds: float, repeats: int = 3) -> float:
    """Best of `repeats` passes of fn over all items: seconds of audio processed per wall-clock second."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t0)
    return audio_seconds / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: fit_audio's default)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared CPU)")
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--name", default=None)
    ap.add_argument("--run", default=None, help="time and evaluate this trained run instead of training one")
    ap.add_argument("--write", action="store_true", help="record the figures in benchmarks/RESULTS.md")
    args = ap.parse_args()

    import torch

    from tokbench.audio.codec import load_codec
    from tokbench.audio.evaluate import evaluate_audio
    from tokbench.audio.train import fit_audio
    from tokbench.sources.audio import load_audio

    torch.set_num_threads(args.threads)
    name = args.name or f"bench-audio-{time.strftime('%Y%m%d-%H%M%S')}"
    if args.run:  # reuse a trained run: its training figures come from its own records
        from tokbench.runs import load_run

        rec = load_run(args.run)
        train = rec.metrics.get("train", {})
        fit = {"run_dir": str(rec.path), "steps": train.get("steps"), "device": rec.info.get("device"),
               "audio_seconds_per_second": train.get("audio_seconds_per_second"),
               "train_seconds_of_audio": rec.info.get("train_seconds"),
               "wall_seconds": train.get("steps", 0) * rec.info["config"]["batch_size"]
               * rec.info["config"]["segment_seconds"] / train.get("audio_seconds_per_second", 1.0)}
    else:
        fit = fit_audio("builtin:speech", args.steps, runs_dir=args.runs_dir, name=name, threads=args.threads)
    print(f"trained {fit['steps']} steps in {fit['wall_seconds']:.0f} s: "
          f"{fit['audio_seconds_per_second']:.1f} s of audio per second")

    model = load_codec(fit["run_dir"])
    sr = model.cfg.sample_rate
    clips = load_audio("builtin:speech", split="test", sample_rate=sr)
    tensors = [torch.from_numpy(w)[None] for w in clips.waves]
    codes = [model.encode(t) for t in tensors]

    def peer_encode(t):
        with torch.no_grad():
            return model.rvq(model.latents(t))[1]

    same = all(torch.equal(c.transpose(1, 2), peer_encode(t)) for c, t in zip(codes, tensors))
    audio_s = clips.seconds
    enc = _audio_per_second(model.encode, tensors, audio_s)
    enc_peer = _audio_per_second(peer_encode, tensors, audio_s)
    dec = _audio_per_second(model.decode, codes, audio_s)
    print(f"encode: {enc:.0f} s/s (tokbench.kernels search) vs {enc_peer:.0f} s/s (ResidualVQ forward): "
          f"{enc / enc_peer:.2f}x; identical codes: {same}; decode: {dec:.0f} s/s")

    t0 = time.perf_counter()
    ev = evaluate_audio(fit["run_dir"], "builtin:speech", split="test")
    eval_s = time.perf_counter() - t0
    cols = ["kbps", "tokens_per_second", "si_snr_db", "sdr_db", "mrstft_distance", "mel_distance", "stoi",
            "pesq_wb"]
    cols = [c for c in cols if any(b.get(c) is not None for b in ev["budgets"])]
    table = ["| n_q | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for b in ev["budgets"]:
        table.append(f"| {b['n_q']} | " + " | ".join("-" if b.get(c) is None else f"{b[c]:.3f}" for c in cols) + " |")
    print("\n".join(table))
    print("monotonic:", ev["monotonic"])

    sys.path.insert(0, str(Path(__file__).parent))
    from _results import load_note

    cfg = model.cfg
    lines = [
        SECTION, "",
        f"`python benchmarks/audio_fit.py --threads {args.threads}`" + (" (timing and evaluating the run it trained "
        "earlier; training figures from that run)" if args.run else "") + f" ({time.strftime('%Y-%m-%d')}, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} torch thread(s); "
        f"{load_note()}; absolute speeds move with load, ratios less so).",
        "",
        f"- codec: strides {'·'.join(map(str, cfg.strides))} = hop {cfg.hop_length} at {sr} Hz -> "
        f"{cfg.frame_rate:g} frames/s; {cfg.n_q} quantizers x {cfg.codebook_size} codes "
        f"({cfg.n_q * cfg.frame_rate * __import__('math').log2(cfg.codebook_size) / 1000:g} kbps at full rate)",
        f"- training: {fit['steps']} steps on builtin:speech train ({fit['train_seconds_of_audio']:.0f} s of audio) "
        f"in {fit['wall_seconds']:.0f} s = **{fit['audio_seconds_per_second']:.1f} s of audio per second** "
        f"({fit['device']})",
        f"- encoding: **{enc:.0f} s of audio per second** through tokbench.kernels vs {enc_peer:.0f} with "
        f"ResidualVQ's own forward ({enc / enc_peer:.2f}x; codes identical: {same}); decoding {dec:.0f} s/s",
        f"- evaluation of {ev['clips']} test clips ({ev['seconds']:.0f} s) x {cfg.n_q} budgets: {eval_s:.0f} s",
        "",
        f"Rate-distortion on builtin:speech/test (means over clips; run `{Path(fit['run_dir']).name}`):",
        "",
        *table,
        "",
        "Improves with every added quantizer: " + ", ".join(f"{k} {'yes' if v else 'NO'}"
                                                           for k, v in ev["monotonic"].items()) + ".",
        "Unavailable: " + "; ".join(f"{u['metric']} ({u['reason']})" for u in ev["unavailable"]) + ".",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.write:
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from _results import RESULTS, write_section

    write_section(SECTION[3:], section.split("\n", 2)[2])
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
