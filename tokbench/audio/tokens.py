"""Audio files to token files and back, so a user can listen to what a codec keeps.

A token file is an `.npz` (no pickled objects) holding `codes` (n_q, T) int32 and the facts needed to decode
it: sample rate, the original length in samples, hop length, codebook size and the sha256 of the model's
weights, which `detokenize_file` checks so tokens are never decoded by a different model.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_bytes, sha256_file

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
    from tokbench.sources.audio import CLIP_WARN_FRACTION, clipped_fraction, read_audio_file

    model = load_codec(run_dir, device)
    cfg = model.cfg
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
    warnings = []
    if clipped_fraction(wave) > CLIP_WARN_FRACTION:
        warnings.append(f"{audio}: input looks clipped (>{CLIP_WARN_FRACTION:.1%} of samples at full scale)")
    return {"input": str(audio), "output": str(out), "seconds": seconds, "n_q": int(codes.shape[0]),
            "frames": int(codes.shape[1]), "tokens": int(codes.size), "tokens_per_second": codes.size / seconds,
            "kbps": kbps(int(codes.shape[0]), cfg.codebook_size, cfg.frame_rate), "warnings": warnings}


def read_tokens(path: str | os.PathLike) -> dict:
    """A token file's arrays, checked; a bad file raises TokbenchError."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise TokbenchError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise TokbenchError(f"{path}: not a token file ({exc})") from None
    missing = [k for k in ("codes", "format", "sample_rate", "n_samples", "model_sha256") if k not in data]
    if missing or str(data["format"]) != FORMAT:
        raise TokbenchError(f"{path}: not a tokbench audio token file (missing {', '.join(missing) or 'format'})")
    if data["codes"].ndim != 2:
        raise TokbenchError(f"{path}: codes must be (n_q, T), got shape {data['codes'].shape}")
    return data


def detokenize_file(tokens: str | os.PathLike, run_dir: str | os.PathLike, out: str | os.PathLike,
                    n_q: int | None = None, device: str = "cpu") -> dict:
    """Decode a token file with the run's codec into a 16-bit wav (optionally from only the first n_q levels)."""
    import torch

    from tokbench.audio.codec import load_codec
    from tokbench.sources.audio import wav_bytes

    data = read_tokens(tokens)
    if str(data["model_sha256"]) != model_sha256(run_dir):
        raise TokbenchError(f"{tokens}: made by a different model than {run_dir} (weights sha256 differ)")
    model = load_codec(run_dir, device)
    codes = torch.from_numpy(data["codes"].astype(np.int64)).to(device)
    wave = model.decode(codes[None], n_q=n_q)[0, :int(data["n_samples"])].float().cpu().numpy()
    clipped = int((np.abs(wave) > 1.0).sum())
    atomic_write_bytes(out, wav_bytes(wave, int(data["sample_rate"])))
    return {"input": str(tokens), "output": str(out), "seconds": len(wave) / int(data["sample_rate"]),
            "n_q": int(n_q or codes.shape[0]), "clipped_samples": clipped}
