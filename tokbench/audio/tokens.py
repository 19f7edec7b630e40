"""Audio files to token files and back, so a user can listen to what a codec keeps.

A token file is an `.npz` (no pickled objects) holding `codes` (n_q, T) int32 and the facts needed to decode
it: sample rate, the original length in samples, hop length, codebook size and the sha256 of the model's
weights, which `detokenize_file` checks so tokens are never decoded by a different model.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_bytes, check_output_file, read_npz, sha256_file

FORMAT = "tokbench-audio-tokens-1"


def model_sha256(run_dir: str | os.PathLike) -> str:
    from tokbench.audio.codec import MODEL_FILE

    path = Path(run_dir)
    path = path / "artifacts" / MODEL_FILE if (path / "artifacts" / MODEL_FILE).is_file() else path / MODEL_FILE
    if not path.is_file():
        raise TokbenchError(f"{run_dir}: no trained audio codec here (missing {MODEL_FILE})")
    return sha256_file(path)


def tokenize_file(audio: str | os.PathLike, run_dir: str | os.PathLike, out: str | os.PathLike,
                  n_q: int | None = None, device: str = "cpu") -> dict:
    """Encode one wav/flac file (resampled to the model rate) into a token file; returns a summary."""
    import torch

    from tokbench.audio.codec import load_codec
    from tokbench.metrics.rate import kbps
    from tokbench.sources.audio import CLIP_WARN_FRACTION, clipped_fraction, read_audio_file, truncation_note

    _check_paths(audio, run_dir, out)
    model = load_codec(run_dir, device)
    cfg = model.cfg
    _check_n_q(n_q, cfg.n_q)
    wave = read_audio_file(audio, cfg.sample_rate)
    codes = model.encode(torch.from_numpy(wave).to(device)[None], n_q=n_q)[0].cpu().numpy().astype(np.int32)
    payload = {"codes": codes, "format": np.array(FORMAT), "sample_rate": np.array(cfg.sample_rate),
               "n_samples": np.array(len(wave)), "hop_length": np.array(cfg.hop_length),
               "codebook_size": np.array(cfg.codebook_size), "model_sha256": np.array(model_sha256(run_dir)),
               "source": np.array(Path(audio).name)}
    buf = io.BytesIO()
    np.savez_compressed(buf, **payload)
    atomic_write_bytes(out, buf.getvalue())
    seconds = len(wave) / cfg.sample_rate
    warnings = [note] if (note := truncation_note(audio)) else []
    if clipped_fraction(wave) > CLIP_WARN_FRACTION:
        warnings.append(f"{audio}: input looks clipped (>{CLIP_WARN_FRACTION:.1%} of samples at full scale)")
    return {"input": str(audio), "output": str(out), "seconds": seconds, "n_q": int(codes.shape[0]),
            "frames": int(codes.shape[1]), "tokens": int(codes.size), "tokens_per_second": codes.size / seconds,
            "kbps": kbps(int(codes.shape[0]), cfg.codebook_size, cfg.frame_rate), "warnings": warnings}


MAX_DECODE_SECONDS = 3600  # one decode pass of an hour at 16 kHz holds a few GB of activations at most


def _check_paths(source: str | os.PathLike, run_dir: str | os.PathLike, out: str | os.PathLike) -> None:
    """Before any work: the input is a regular file, and the output a regular file that is not an input."""
    source = Path(source)
    if not source.exists():
        raise TokbenchError(f"{source}: no such file")
    if not source.is_file():
        raise TokbenchError(f"{source}: not a regular file")
    inputs = [source, *(p for p in Path(run_dir).glob("artifacts/*") if p.is_file())] if Path(run_dir).is_dir() \
        else [source]
    check_output_file(out, inputs=tuple(inputs), run_dir=run_dir)


def _check_n_q(n_q: int | None, available: int) -> None:
    if n_q is not None and not 1 <= n_q <= available:
        raise TokbenchError(f"--n-q {n_q}: the codec has {available} quantizers (expected 1..{available})")


def _scalar(data: dict, key: str, path, kind: str = "iu") -> int | str:
    value = data[key]
    if value.shape != () or value.dtype.kind not in kind:
        raise TokbenchError(f"{path}: {key} must be a single {'integer' if kind == 'iu' else 'string'}, "
                            f"got {value.dtype} of shape {value.shape}")
    return value.item()


def read_tokens(path: str | os.PathLike) -> dict:
    """A token file's arrays, checked: integer codes (n_q, T) with at least one frame, and integer facts in
    range. Float codes are refused rather than truncated. A bad file raises TokbenchError."""
    path = Path(path)
    data = read_npz(path)
    missing = [k for k in ("codes", "format", "sample_rate", "n_samples", "model_sha256") if k not in data]
    if missing or data["format"].dtype.kind != "U" or str(data["format"]) != FORMAT:
        raise TokbenchError(f"{path}: not a tokbench audio token file (missing {', '.join(missing) or 'format'})")
    codes = data["codes"]
    if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] < 1:
        raise TokbenchError(f"{path}: codes must be (n_q, T) with n_q, T >= 1, got shape {codes.shape}")
    if codes.dtype.kind not in "iu":
        raise TokbenchError(f"{path}: codes must be integers, got {codes.dtype} (float codes are not truncated)")
    rate, n_samples = _scalar(data, "sample_rate", path), _scalar(data, "n_samples", path)
    _scalar(data, "model_sha256", path, "U")
    if not 1 <= rate <= 1_000_000:
        raise TokbenchError(f"{path}: sample_rate {rate} out of range")
    if n_samples < 1:
        raise TokbenchError(f"{path}: n_samples {n_samples} must be >= 1")
    return data


def detokenize_file(tokens: str | os.PathLike, run_dir: str | os.PathLike, out: str | os.PathLike,
                    n_q: int | None = None, device: str = "cpu") -> dict:
    """Decode a token file with the run's codec into a 16-bit wav (optionally from only the first n_q levels)."""
    import torch

    from tokbench.audio.codec import load_codec
    from tokbench.sources.audio import wav_bytes

    _check_paths(tokens, run_dir, out)
    data = read_tokens(tokens)
    if str(data["model_sha256"]) != model_sha256(run_dir):
        raise TokbenchError(f"{tokens}: made by a different model than {run_dir} (weights sha256 differ)")
    model = load_codec(run_dir, device)
    cfg = model.cfg
    codes_np = data["codes"]
    if codes_np.shape[1] > MAX_DECODE_SECONDS * cfg.frame_rate:  # decoding is one pass, memory grows with T
        raise TokbenchError(f"{tokens}: {codes_np.shape[1]:,} frames is more than {MAX_DECODE_SECONDS // 3600} "
                            f"hour(s) of audio ({int(MAX_DECODE_SECONDS * cfg.frame_rate):,} frames at "
                            f"{cfg.frame_rate:g} Hz); split the token file")
    if codes_np.shape[0] > cfg.n_q:
        raise TokbenchError(f"{tokens}: {codes_np.shape[0]} quantizer levels, the codec has {cfg.n_q}")
    _check_n_q(n_q, codes_np.shape[0])
    if codes_np.min() < 0 or codes_np.max() >= cfg.codebook_size:
        raise TokbenchError(f"{tokens}: codes must lie in 0..{cfg.codebook_size - 1}, found "
                            f"{int(codes_np.min())}..{int(codes_np.max())}")
    if int(data["sample_rate"]) != cfg.sample_rate:
        raise TokbenchError(f"{tokens}: sample_rate {int(data['sample_rate'])} differs from the codec's "
                            f"{cfg.sample_rate}")
    longest = codes_np.shape[1] * cfg.hop_length
    if int(data["n_samples"]) > longest:
        raise TokbenchError(f"{tokens}: n_samples {int(data['n_samples'])} is more than {codes_np.shape[1]} frames "
                            f"can hold ({longest})")
    codes = torch.from_numpy(codes_np.astype(np.int64)).to(device)
    wave = model.decode(codes[None], n_q=n_q)[0, :int(data["n_samples"])].float().cpu().numpy()
    clipped = int((np.abs(wave) > 1.0).sum())
    atomic_write_bytes(out, wav_bytes(wave, int(data["sample_rate"])))
    return {"input": str(tokens), "output": str(out), "seconds": len(wave) / int(data["sample_rate"]),
            "n_q": int(n_q or codes.shape[0]), "clipped_samples": clipped}
