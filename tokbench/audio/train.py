"""`fit_audio`: train the residual-VQ codec into a run folder, with checkpoints and exact resume.

Loss = w_wave · L1(x, x̂) + w_stft · MR-STFT(x, x̂) + w_mel · log-mel L1(x, x̂) + commitment (the RVQ's,
weight in the codec config). The training MR-STFT floors magnitudes at 1e-3 (not the metric's 1e-7): near-silent
bins then stop dominating the log terms, whose gradients (1/|S|) otherwise destabilise early training.
The batch of step s (clips and offsets), the quantizer-dropout draw and torch's generator (re-seeded from
(seed, s) before each step: k-means init, dead-code replacement) are functions of (seed, s) only, and
checkpoints hold the model (with its EMA codebook buffers), the Adam moments and the RNG state as safetensors
tensors, taken only at step boundaries (a Ctrl-C in the middle of a step, after the forward pass has already
moved the EMA buffers, keeps the previous checkpoint instead). CPU float results depend on the thread count,
so the run records it (`torch_threads`) and a resume uses it. An interrupted or killed run resumed from a
checkpoint follows the same loss curve, bit for bit, as one that never stopped (tests/test_resume_identical.py).
A NaN/inf loss stops training before the bad update:
the last good checkpoint is kept, the run is marked failed, and the error says how to go on.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.checkpoint import latest_checkpoint
from tokbench.errors import TokbenchError
from tokbench.runs import Run, read_json

KIND = "audio-codec"
CKPT_DIR = "checkpoints"
KEEP_CHECKPOINTS = 2
DEFAULTS: dict[str, Any] = {
    "steps": 1500, "batch_size": 8, "segment_seconds": 0.64, "lr": 1e-3, "warmup_steps": 30,
    "w_wave": 10.0, "w_stft": 1.0, "w_mel": 1.0, "stft_log_eps": 1e-3, "ckpt_every": 100, "log_every": 10,
}


def _quiet_vq_logs() -> None:
    try:  # vector-quantize-pytorch warns through loguru on every small k-means batch
        from loguru import logger

        logger.disable("vector_quantize_pytorch")
    except ImportError:
        pass


def pick_device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TokbenchError(f"device {device!r} requested but CUDA is not available")
    if device != "cpu" and not device.startswith("cuda"):
        raise TokbenchError(f"unknown device {device!r} (expected cpu, cuda or auto)")
    return device


def batch_for_step(waves: list[np.ndarray], seed: int, step: int, batch_size: int, segment: int) -> np.ndarray:
    """The training batch of `step`: clips drawn with probability proportional to their length, a random
    offset in each; short clips are zero-padded. A pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    lengths = np.array([len(w) for w in waves], dtype=np.float64)
    picks = rng.choice(len(waves), size=batch_size, p=lengths / lengths.sum())
    out = np.zeros((batch_size, segment), dtype=np.float32)
    for row, i in enumerate(picks):
        w = waves[i]
        start = int(rng.integers(0, max(1, len(w) - segment + 1)))
        piece = w[start:start + segment]
        out[row, :len(piece)] = piece
    return out


def lr_at(step: int, cfg: dict) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak rate over the run's steps."""
    peak, warm, total = cfg["lr"], cfg["warmup_steps"], max(cfg["steps"], 1)
    if step < warm:
        return peak * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def total_loss(model, mel_loss, batch, dropout_seed: int, cfg: dict) -> tuple[Any, dict[str, float], Any]:
    """The training objective on one batch: (loss tensor, its parts as floats, the RVQ indices)."""
    from tokbench.audio.losses import mrstft_loss

    recon, indices, commit = model(batch, dropout_seed=dropout_seed)
    recon = recon[:, :batch.shape[-1]]
    wave = (recon - batch).abs().mean()
    stft = mrstft_loss(batch, recon, eps=cfg.get("stft_log_eps", 1e-7))
    mel = mel_loss(batch, recon)
    loss = cfg["w_wave"] * wave + cfg["w_stft"] * stft + cfg["w_mel"] * mel + commit
    parts = {k: float(v.detach()) for k, v in (("wave_l1", wave), ("mrstft", stft), ("mel", mel), ("commit", commit))}
    return loss, parts, indices


# ---------------------------------------------------------------------------------------------- checkpoints
CKPT_FORMAT = "tokbench-audio-checkpoint-1"


def save_checkpoint(run: Run, model, optim, steps_done: int) -> Path:
    """Model, optimizer and RNG state as safetensors tensors (no pickle); keeps the newest two."""
    from tokbench.checkpoint import save_checkpoint as save, state_tensors

    return save(run.artifacts / CKPT_DIR, steps_done, state_tensors(model), optim, {"format": CKPT_FORMAT},
                keep=KEEP_CHECKPOINTS)


def load_checkpoint(path: Path, model, optim) -> int:
    """Restore model, optimizer and RNG state from `path`; returns the number of steps done."""
    from tokbench.checkpoint import model_tensors, read_checkpoint, restore_training_state

    tensors, meta = read_checkpoint(path)
    if meta.get("format") != CKPT_FORMAT:
        raise TokbenchError(f"{path}: not a tokbench audio checkpoint")
    try:
        model.load_state_dict(model_tensors(tensors))
        return restore_training_state(tensors, meta, optim)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise TokbenchError(f"{path}: checkpoint does not fit this codec ({str(exc).splitlines()[0][:160]})") from None


# ---------------------------------------------------------------------------------------------- the loop
def fit_audio(data: str | list[str] | None = None, steps: int | None = None, *, batch_size: int | None = None,
              segment_seconds: float | None = None, lr: float | None = None, n_q: int = 8,
              codebook_size: int = 256, dim: int = 64, channels: int = 16,
              strides: tuple[int, ...] = (2, 4, 5, 8), sample_rate: int = 16000, seed: int = 0,
              device: str | None = None, runs_dir: str | os.PathLike = "runs", name: str | None = None,
              resume: str | os.PathLike | None = None, ckpt_every: int | None = None,
              log_every: int | None = None, on_error: str = "error", threads: int | None = None,
              w_wave: float | None = None, w_stft: float | None = None, w_mel: float | None = None) -> dict:
    """Train an audio codec on `data` (train split; default builtin:speech) and return a summary with `run_dir`.

    `resume=RUN_DIR` continues an interrupted or failed run from its newest checkpoint with its own config
    (a larger `steps` extends it); every other argument is then ignored. `threads` caps torch's CPU threads
    for this call (1 is much faster than 2 on a CPU that other jobs share).
    """
    import torch

    from tokbench.sources.audio import DEFAULT_DATA

    data = data or DEFAULT_DATA
    previous_threads = torch.get_num_threads()
    if resume is not None and threads is None:  # the same thread count gives the same float results
        threads = _recorded_threads(Path(resume))
    if threads is not None:
        if threads < 1:
            raise TokbenchError("threads must be at least 1")
        torch.set_num_threads(threads)
    try:
        weights = {"w_wave": w_wave, "w_stft": w_stft, "w_mel": w_mel}
        return _fit(data, steps, batch_size, segment_seconds, lr, n_q, codebook_size, dim, channels, strides,
                    sample_rate, seed, device, runs_dir, name, resume, ckpt_every, log_every, on_error, weights)
    finally:
        torch.set_num_threads(previous_threads)


def _recorded_threads(run_dir: Path) -> int | None:
    try:
        value = read_json(run_dir / "run.json").get("torch_threads")
    except (TokbenchError, AttributeError):
        return None  # the resume itself reports what is wrong with the folder
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4096 else None


def step_seed(seed: int, step: int) -> int:
    """The torch seed of training step `step`: a pure function of (seed, step)."""
    return int(np.random.SeedSequence([seed, step, 0xA0D10]).generate_state(1, dtype=np.uint64)[0] >> 1)


MAX_STEPS = 10_000_000  # far beyond any real codec run; a typo'd 10^20 would otherwise train forever


def _check_cfg(cfg: dict) -> None:
    """Refuse training options out of range (new runs and resumed run.json alike), each as one clear line."""
    for key in ("steps", "batch_size", "ckpt_every", "log_every"):
        if not 1 <= int(cfg[key]) <= MAX_STEPS:
            raise TokbenchError(f"{key} {cfg[key]} must be in 1..{MAX_STEPS}")
    if not 0 <= cfg["seed"] < 2 ** 32:
        raise TokbenchError(f"seed {cfg['seed']} must be in 0..2^32-1")
    if not 0 < cfg["lr"] < 1 or not 0 < cfg["segment_seconds"] <= 60:
        raise TokbenchError("need 0 < lr < 1 and 0 < segment_seconds <= 60")
    if cfg["batch_size"] > 4096:
        raise TokbenchError(f"batch_size {cfg['batch_size']} is more than 4096 segments per step")
    if not all(math.isfinite(float(cfg[k])) and cfg[k] >= 0 for k in ("w_wave", "w_stft", "w_mel")):
        raise TokbenchError("loss weights must be finite and >= 0")


def _fit(data, steps, batch_size, segment_seconds, lr, n_q, codebook_size, dim, channels, strides, sample_rate,
         seed, device, runs_dir, name, resume, ckpt_every, log_every, on_error, weights) -> dict:
    import torch

    from tokbench import progress
    from tokbench.audio.codec import AudioCodec, CodecConfig, save_codec
    from tokbench.audio.losses import MelLoss
    from tokbench.sources.audio import load_audio

    _quiet_vq_logs()
    device = pick_device(device)
    if resume is not None:
        from tokbench.runs import load_run

        info = load_run(resume).info
        if info.get("kind") != KIND:
            raise TokbenchError(f"{resume}: not an {KIND} run (kind {info.get('kind')!r})")
        cfg = dict(info.get("config") or {})
        if not isinstance(cfg.get("codec"), dict) or any(not isinstance(cfg.get(k), (int, float)) or
                                                         isinstance(cfg.get(k), bool) for k in DEFAULTS) \
                or not isinstance(cfg.get("data"), list) or not isinstance(cfg.get("seed"), int):
            raise TokbenchError(f"{resume}/run.json: malformed {KIND} config")
        if steps is not None:
            if steps < cfg["steps"]:
                raise TokbenchError(f"--steps {steps} is fewer than the run's {cfg['steps']}")
            cfg["steps"] = steps
        try:
            codec_cfg = CodecConfig.from_dict(cfg["codec"])
            codec_cfg.check()
        except (TypeError, ValueError) as exc:
            raise TokbenchError(f"{resume}/run.json: malformed codec config ({exc})") from None
    else:
        codec_cfg = CodecConfig(sample_rate=sample_rate, strides=tuple(strides), channels=channels, dim=dim,
                                n_q=n_q, codebook_size=codebook_size)
        codec_cfg.check()
        given = {"steps": steps, "batch_size": batch_size, "segment_seconds": segment_seconds, "lr": lr,
                 "ckpt_every": ckpt_every, "log_every": log_every, **weights}
        cfg = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
        cfg.update(data=[data] if isinstance(data, str) else list(data), seed=int(seed), codec=asdict(codec_cfg))
    _check_cfg(cfg)  # a resumed run.json may have been edited by hand: the same checks as a new run

    clips = load_audio(cfg["data"], split="train", sample_rate=codec_cfg.sample_rate, on_error=on_error)
    segment = int(round(cfg["segment_seconds"] * codec_cfg.sample_rate))
    segment += (-segment) % codec_cfg.hop_length

    torch.manual_seed(cfg["seed"])
    model = AudioCodec(codec_cfg).to(device).train()
    mel_loss = MelLoss(codec_cfg.sample_rate).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(0.8, 0.99))

    if resume is not None:
        run = Run.resume(resume)
        ckpt = latest_checkpoint(run.artifacts / CKPT_DIR)
        try:
            start = load_checkpoint(ckpt, model, optim) if ckpt is not None else 0
        except BaseException as exc:  # a torn or foreign checkpoint: the run is failed, its lock freed
            run.finish("failed", str(exc) if isinstance(exc, TokbenchError) else f"{type(exc).__name__}: {exc}")
            raise
        if ckpt is None:
            torch.manual_seed(cfg["seed"])
            model = AudioCodec(codec_cfg).to(device).train()
            optim = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(0.8, 0.99))
    else:
        run = Run.create(runs_dir, KIND, cfg, name=name, data=clips.fingerprint(),
                         packages=("torch", "vector-quantize-pytorch", "safetensors", "soundfile", "scipy"))
        start = 0
    total = int(cfg["steps"])
    with run:
        if resume is not None:
            run.truncate_log(lambda r: r.get("step", 0) <= start)
        run.update_info(config=cfg, torch_threads=torch.get_num_threads(), device=device, train_clips=len(clips),
                        train_seconds=round(clips.seconds, 2),
                        warnings=clips.warnings)
        last_ckpt = start
        t0, seen = time.perf_counter(), 0.0
        step = start
        at_boundary, completed = True, start  # at_boundary is False while a step changes the model
        with progress.task("training audio codec", total=total) as bar:
            bar.update(completed=start)
            try:
                for step in range(start, total):
                    torch.manual_seed(step_seed(cfg["seed"], step))
                    batch = torch.from_numpy(batch_for_step(clips.waves, cfg["seed"], step, cfg["batch_size"],
                                                            segment)).to(device)
                    for group in optim.param_groups:
                        group["lr"] = lr_at(step, cfg)
                    at_boundary = False  # the forward pass moves the EMA codebook
                    loss, parts, indices = total_loss(model, mel_loss, batch, cfg["seed"] * 1_000_003 + step, cfg)
                    if not math.isfinite(float(loss.detach())):
                        msg = (f"loss became {float(loss.detach())} at step {step + 1}; stopped before updating "
                               "the model. "
                               f"The last good checkpoint (step {last_ckpt}) is kept; lower --lr and "
                               f"`tokbench fit-audio --resume {run.path}`")
                        run.finish("failed", msg)
                        raise TokbenchError(msg)
                    optim.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                    optim.step()
                    completed = step + 1
                    at_boundary = True
                    seen += batch.numel() / codec_cfg.sample_rate
                    done = step + 1
                    if done % cfg["log_every"] == 0 or done == total:
                        run.log({"step": done, "loss": float(loss.detach()), **parts, **_usage(indices, codec_cfg),
                                 "lr": lr_at(step, cfg), "audio_seconds_per_second":
                                 seen / max(time.perf_counter() - t0, 1e-9)})
                    if done % cfg["ckpt_every"] == 0 and done != total:
                        save_checkpoint(run, model, optim, done)
                        last_ckpt = done
                    bar.advance(1)
            except KeyboardInterrupt:
                # keep the finished steps, but only from a step boundary: a forward pass already moved the
                # EMA codebook, so a mid-step state would not resume to the same curve
                if at_boundary and completed > last_ckpt:
                    save_checkpoint(run, model, optim, completed)
                raise
        save_checkpoint(run, model, optim, total)
        save_codec(model.eval(), run.artifacts)
        elapsed = time.perf_counter() - t0
        summary = {"run_dir": str(run.path), "steps": total, "resumed_from": start, "device": device,
                   "final_loss": float(loss.detach()) if total > start else None,
                   "train_seconds_of_audio": clips.seconds,
                   "audio_seconds_per_second": seen / max(elapsed, 1e-9), "wall_seconds": elapsed,
                   "frame_rate": codec_cfg.frame_rate, "n_q": codec_cfg.n_q, "codebook_size": codec_cfg.codebook_size,
                   "warnings": list(clips.warnings)}
        run.update_metrics("train", {"final_loss": summary["final_loss"], "steps": total,
                                     "audio_seconds_per_second": summary["audio_seconds_per_second"]})
        run.update_info(steps_done=total)
    return summary


def _usage(indices, cfg) -> dict[str, float]:
    """Batch codebook usage (mean over the levels used) and level-1 perplexity, for the training log."""
    from tokbench.metrics.codebook import counts_from_ids, perplexity, usage

    idx = indices.detach().reshape(-1, cfg.n_q).cpu().numpy()
    used = []
    for q in range(cfg.n_q):
        col = idx[:, q]
        col = col[col >= 0]
        if col.size:
            used.append(usage(counts_from_ids(col, cfg.codebook_size)))
    first = idx[:, 0][idx[:, 0] >= 0]
    return {"usage": float(np.mean(used)) if used else 0.0,
            "perplexity": perplexity(counts_from_ids(first, cfg.codebook_size)) if first.size else 0.0}
