"""Images and sound for the dashboard: reconstruction grids, WAV reading and spectrogram pictures.

Presentation only: arrays come from the eval artifacts the library wrote (`reconstructions.npz`, `*.wav`).
"""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np

BUDGET_KEY = re.compile(r"^budget_(\d+)$")
# viridis at 6 anchors (matplotlib's table, sampled), interpolated linearly: no matplotlib needed.
_VIRIDIS = np.array([[68, 1, 84], [65, 68, 135], [42, 120, 142], [34, 168, 132], [122, 209, 81], [253, 231, 37]],
                    dtype=np.float64)


def budgets(arrays: dict) -> list[int]:
    """The token budgets a reconstructions.npz holds (`budget_<k>` keys), ascending."""
    return sorted(int(m.group(1)) for k in arrays if (m := BUDGET_KEY.match(k)))


def as_rgb(images: np.ndarray) -> np.ndarray:
    """(N,H,W), (N,H,W,1) or (N,H,W,3) -> (N,H,W,3) uint8."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 255).astype(np.uint8)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images[..., :3]


def column(images: np.ndarray, count: int, scale: int, pad: int = 2) -> np.ndarray:
    """The first `count` images stacked vertically, each upscaled by `scale` (nearest), white gaps between."""
    images = as_rgb(images)[:count]
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, _ = images.shape
    out = np.full((n * h + (n - 1) * pad, w, 3), 255, dtype=np.uint8)
    for i in range(n):
        out[i * (h + pad):i * (h + pad) + h] = images[i]
    return out


def upscale_for(height: int, target: int = 96) -> int:
    return max(1, target // max(1, height))


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float samples in [-1, 1] and the sample rate of a 16-bit PCM WAV file (channels are averaged).
    Anything that is not such a file (a symlink, text, a torn header) raises ValueError."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"{path.name}: not a regular file")
    try:
        with wave.open(str(path), "rb") as fh:
            if fh.getsampwidth() != 2:
                raise ValueError(f"{path}: expected 16-bit PCM, got {8 * fh.getsampwidth()}-bit")
            rate, channels = fh.getframerate(), fh.getnchannels()
            data = np.frombuffer(fh.readframes(fh.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path.name}: not a readable WAV file ({exc})") from None
    if rate <= 0 or channels <= 0:
        raise ValueError(f"{path.name}: WAV header has rate {rate} and {channels} channels")
    data = data[:len(data) - len(data) % channels]
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return data, rate


def spectrogram_db(samples: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Log-magnitude STFT (Hann window) in dB relative to the loudest bin: shape (freq, frames)."""
    if len(samples) < n_fft:
        samples = np.pad(samples, (0, n_fft - len(samples)))
    frames = 1 + (len(samples) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(samples[idx] * np.hanning(n_fft), axis=1)).T
    db = 20 * np.log10(np.maximum(spec, 1e-10))
    return db - db.max()


def spectrogram_image(samples: np.ndarray, floor_db: float = -80.0, height: int = 160) -> np.ndarray:
    """A viridis picture of the spectrogram, low frequencies at the bottom, resampled to `height` rows."""
    db = spectrogram_db(samples)
    level = np.clip((db - floor_db) / -floor_db, 0, 1)[::-1]
    rows = np.linspace(0, level.shape[0] - 1, height).astype(int)
    level = level[rows]
    pos = level * (len(_VIRIDIS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_VIRIDIS) - 2)
    frac = (pos - lo)[..., None]
    rgb = _VIRIDIS[lo] * (1 - frac) + _VIRIDIS[lo + 1] * frac
    return rgb.astype(np.uint8)


def spectrogram_frame(samples: np.ndarray, rate: int, freq_bins: int = 48, time_bins: int = 80,
                      floor_db: float = -80.0):
    """The spectrogram as a tidy frame of rectangles for a labelled chart: time (s) and frequency (kHz)
    edges and the level in dB (floored at `floor_db`), averaged down to at most freq_bins x time_bins cells."""
    import pandas as pd

    hop, n_fft = 128, 512
    db = np.maximum(spectrogram_db(samples, n_fft=n_fft, hop=hop), floor_db)
    f_edges = np.linspace(0, db.shape[0], min(freq_bins, db.shape[0]) + 1).astype(int)
    t_edges = np.linspace(0, db.shape[1], min(time_bins, db.shape[1]) + 1).astype(int)
    rows = []
    for fa, fb in zip(f_edges[:-1], f_edges[1:]):
        for ta, tb in zip(t_edges[:-1], t_edges[1:]):
            if fb > fa and tb > ta:
                rows.append((ta * hop / rate, tb * hop / rate, fa * rate / n_fft / 1000, fb * rate / n_fft / 1000,
                             float(db[fa:fb, ta:tb].mean())))
    return pd.DataFrame(rows, columns=["t0", "t1", "f0", "f1", "db"])
