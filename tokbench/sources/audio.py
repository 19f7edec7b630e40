"""Where audio comes from: wav/flac files and folders, `builtin:speech` and `builtin:signals`.

Every source returns mono float32 waveforms in [-1, 1] at the model's sample rate. Files at another rate are
resampled with a polyphase FIR filter (`scipy.signal.resample_poly`, Kaiser window, beta 5.0: the
anti-aliasing low-pass runs at the lower of the two Nyquist frequencies), or refused with `resample_ok=False`.
Multi-channel files are averaged to mono.

`builtin:speech` is speech synthesized with Debian's `espeak-ng` from a fixed list of sentences in English,
American English, German, French and Spanish, each spoken by a fixed voice variant (male and female variants,
two speaking rates, every sentence read twice); leading and trailing silence is trimmed to 0.1 s
and a -80 dBFS Gaussian noise floor is added (espeak-ng writes exact digital zeros, which no recording
has and which make log-spectral losses degenerate); it is built once and cached under `cache_dir()/audio/speech-v3/`.
`builtin:signals` is generated on the fly: tones, chirps, amplitude-modulated tones and noise.

Both built-ins carry a fixed train/test split: a clip is a test clip when the first byte of the sha256 of its
name is below 32 (about 1 in 8). User folders are split by sorted position: every eighth file is a test file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.sources.text import cache_dir

DEFAULT_SAMPLE_RATE = 16000
AUDIO_SUFFIXES = (".wav", ".flac")
SPLITS = ("all", "train", "test")
BUILTIN_PREFIX = "builtin:"
ESPEAK = "espeak-ng"
_TEST_EVERY = 8
CLIP_LEVEL = 0.999  # |x| at or above this counts as a clipped sample
CLIP_WARN_FRACTION = 0.001
#: float files whose peak |x| exceeds this are refused: float audio is in [-1, 1], so a peak of 1e6 is a scaling
#: mistake (e.g. int16 values stored as float) that would train to a meaningless loss; up to it, overs count as clipping
MAX_FLOAT_PEAK = 2.0
#: what audio commands use when no data is given
DEFAULT_DATA = "builtin:speech"

# --------------------------------------------------------------------------------------- builtin:speech text
#: (language voice, sentences). Short, everyday sentences so each clip lasts two to four seconds.
SPEECH_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The quick brown fox jumps over the lazy dog.",
        "Please call Stella and ask her to bring these things from the store.",
        "A rainbow is a division of white light into many beautiful colors.",
        "The birch canoe slid on the smooth planks.",
        "Glue the sheet to the dark blue background.",
        "It is easy to tell the depth of a well.",
        "These days a chicken leg is a rare dish.",
        "Rice is often served in round bowls.",
        "The juice of lemons makes fine punch.",
        "The box was thrown beside the parked truck.",
        "Four hours of steady work faced us.",
        "A large size in stockings is hard to sell.",
        "The boy was there when the sun rose.",
        "A rod is used to catch pink salmon.",
        "The source of the huge river is the clear spring.",
        "Kick the ball straight and follow through.",
        "Help the woman get back to her feet.",
        "A pot of tea helps to pass the evening.",
        "Smoky fires lack flame and heat.",
        "The soft cushion broke the man's fall.",
        "The salt breeze came across from the sea.",
        "The girl at the booth sold fifty bonds.",
        "The small pup gnawed a hole in the sock.",
        "The fish twisted and turned on the bent hook.",
    ),
    "en-us": (
        "Press the pants and sew a button on the vest.",
        "The swan dive was far short of perfect.",
        "The beauty of the view stunned the young boy.",
        "Two blue fish swam in the tank.",
        "Her purse was full of useless trash.",
        "The colt reared and threw the tall rider.",
        "It snowed, rained, and hailed the same morning.",
        "Read verse out loud for pleasure.",
        "Hoist the load to your left shoulder.",
        "Take the winding path to reach the lake.",
        "Note closely the size of the gas tank.",
        "Wipe the grease off his dirty face.",
    ),
    "de": (
        "Der Wind weht heute kalt über das weite Land.",
        "Am Morgen trinken wir gerne einen heißen Kaffee.",
        "Die Kinder spielen im Garten hinter dem Haus.",
        "Im Sommer fahren viele Menschen an das Meer.",
        "Das alte Fahrrad steht schon lange im Keller.",
        "Bitte schließen Sie die Tür, wenn Sie gehen.",
        "Der Zug nach Berlin hat leider zehn Minuten Verspätung.",
        "Meine Schwester liest jeden Abend ein Buch.",
    ),
    "fr": (
        "Le petit chat dort sur le rebord de la fenêtre.",
        "Nous avons acheté du pain frais ce matin.",
        "Il pleut depuis trois jours sur la ville.",
        "La musique du concert était vraiment magnifique.",
        "Les enfants jouent au ballon dans le parc.",
        "Pouvez-vous m'indiquer le chemin de la gare?",
        "Ma grand-mère prépare une tarte aux pommes.",
        "Le bateau quitte le port au lever du soleil.",
    ),
    "es": (
        "El perro corre feliz por la playa.",
        "Mañana vamos a visitar a nuestros abuelos.",
        "La biblioteca abre a las nueve de la mañana.",
        "Me gusta caminar por el bosque en otoño.",
        "El tren llega a la estación a tiempo.",
        "Mi hermano toca la guitarra todas las noches.",
        "Hace mucho calor en el verano de Sevilla.",
        "¿Dónde está el museo de arte moderno?",
    ),
}
#: espeak-ng voice variants (male and female) cycled over each language's sentences.
SPEECH_VARIANTS = ("m1", "f2", "m3", "f4", "m2", "f1")
SPEECH_RATES = (160, 185)  # words per minute, alternated
SPEECH_VERSION = "speech-v3"
NOISE_FLOOR = 1e-4  # std of the added Gaussian noise floor (-80 dBFS)


@dataclass
class AudioClips:
    """A list of mono float32 waveforms at one sample rate, with where they came from."""

    waves: list[np.ndarray]
    names: list[str]
    sample_rate: int
    source: str
    split: str
    files: list[Path] = field(default_factory=list)  # backing files (empty for generated sources)
    skipped: list[str] = field(default_factory=list)  # "path: reason" for files left out
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.waves)

    @property
    def seconds(self) -> float:
        return float(sum(len(w) for w in self.waves)) / self.sample_rate

    def fingerprint(self) -> list[dict]:
        """A stable record of the data: the source, split, rate, clip count and a sha256 over the samples."""
        h = hashlib.sha256()
        for name, wave in zip(self.names, self.waves):
            h.update(name.encode())
            h.update(np.ascontiguousarray(wave, dtype="<f4").tobytes())
        return [{"source": self.source, "split": self.split, "sample_rate": self.sample_rate, "clips": len(self),
                 "seconds": round(self.seconds, 3), "skipped": len(self.skipped), "sha256": h.hexdigest()}]


# ------------------------------------------------------------------------------------------------ helpers
def resample(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling by the reduced ratio to_rate/from_rate (scipy.signal.resample_poly)."""
    if from_rate == to_rate:
        return wave.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    ratio = Fraction(int(to_rate), int(from_rate))
    return resample_poly(wave.astype(np.float64), ratio.numerator, ratio.denominator).astype(np.float32)


def read_audio_file(path: str | os.PathLike, sample_rate: int = DEFAULT_SAMPLE_RATE,
                    resample_ok: bool = True) -> np.ndarray:
    """One wav/flac file as mono float32 at `sample_rate`. Raises TokbenchError for unreadable, empty or
    non-finite audio, and for a different rate when `resample_ok` is False."""
    import soundfile as sf

    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise TokbenchError(f"{path}: unreadable audio ({str(exc).splitlines()[0][:160]})") from None
    if data.shape[0] == 0:
        raise TokbenchError(f"{path}: zero-length audio")
    wave = data.mean(axis=1)
    if not np.isfinite(wave).all():
        raise TokbenchError(f"{path}: audio holds NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > MAX_FLOAT_PEAK:
        raise TokbenchError(f"{path}: samples reach {peak:.3g}, far past full scale 1.0 (float audio must lie in "
                            "[-1, 1]; rescale the file)")
    if rate != sample_rate:
        if not resample_ok:
            raise TokbenchError(f"{path}: sample rate {rate} Hz differs from the model's {sample_rate} Hz "
                                "(allow resampling, or convert the file)")
        wave = resample(wave, rate, sample_rate)
    return wave.astype(np.float32, copy=False)


def truncation_note(path: str | os.PathLike) -> str | None:
    """Why a WAV file looks cut short (its `data` chunk declares more bytes than the file holds), or None.
    libsndfile reads such files silently up to where they end; a warning says what was lost."""
    import struct

    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            offset = 12
            while offset + 8 <= size:
                fh.seek(offset)
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"data":
                    held = size - offset - 8
                    if length != 0xFFFFFFFF and held < length:
                        return (f"{path}: truncated WAV (its data chunk declares {length:,} bytes, the file holds "
                                f"{held:,}); only the part present is used")
                    return None
                offset += 8 + length + (length & 1)
    except OSError:
        return None
    return None


def wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """A waveform in [-1, 1] as the bytes of a 16-bit PCM wav file (samples past full scale are clipped)."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(wave, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def clipped_fraction(wave: np.ndarray) -> float:
    """Fraction of samples at full scale (|x| >= 0.999): a sign the recording was clipped."""
    return float((np.abs(wave) >= CLIP_LEVEL).mean()) if wave.size else 0.0


def trim_silence(wave: np.ndarray, sample_rate: int, threshold: float = 1e-3, margin: float = 0.1) -> np.ndarray:
    """Cut leading and trailing near-silence (|x| < threshold), keeping `margin` seconds on each side:
    espeak-ng pads utterances with long runs of exact digital zeros, which no real recording has."""
    loud = np.flatnonzero(np.abs(wave) >= threshold)
    if loud.size == 0:
        return wave
    pad = int(margin * sample_rate)
    return wave[max(0, loud[0] - pad):loud[-1] + 1 + pad]


def _is_test(name: str) -> bool:
    return hashlib.sha256(name.encode()).digest()[0] < 32


def _check_split(split: str) -> str:
    split = "test" if split == "heldout" else split
    if split not in SPLITS:
        raise TokbenchError(f"unknown split {split!r} (expected all, train or test)")
    return split


# ------------------------------------------------------------------------------------------------ files
def _audio_files(spec: str) -> list[Path]:
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                       and not any(x.startswith(".") for x in p.relative_to(path).parts))
        if not files:
            raise TokbenchError(f"{spec}: folder holds no .wav or .flac files")
        return files
    if path.is_file():
        return [path]
    if path.exists():
        raise TokbenchError(f"{spec}: not a regular file or folder")
    raise TokbenchError(f"{spec}: no such file, folder or built-in audio source (builtin:speech, builtin:signals)")


def _load_files(spec: str, split: str, sample_rate: int, resample_ok: bool, on_error: str) -> AudioClips:
    files = _audio_files(spec)
    if len(files) > 1 and split != "all":
        files = [p for i, p in enumerate(files) if (i % _TEST_EVERY == _TEST_EVERY - 1) == (split == "test")]
    clips = AudioClips([], [], sample_rate, spec, split)
    for path in files:
        try:
            wave = read_audio_file(path, sample_rate, resample_ok)
        except TokbenchError as exc:
            if on_error != "skip":
                raise TokbenchError(f"{exc} (use --skip-bad to leave such files out)") from None
            clips.skipped.append(str(exc))
            continue
        clips.waves.append(wave)
        clips.names.append(str(path))
        clips.files.append(path)
        note = truncation_note(path)
        if note:
            clips.warnings.append(note)
    return clips


# ------------------------------------------------------------------------------------------------ builtin:speech
def speech_items() -> list[dict]:
    """The fixed list of utterances of builtin:speech: every sentence in two voice variants and two rates.

    Both readings of a sentence share its split (the split hashes the sentence id), so test sentences are unseen.
    """
    items = []
    for lang, sentences in SPEECH_SENTENCES.items():
        for i, text in enumerate(sentences):
            for reading in range(2):
                variant = SPEECH_VARIANTS[(i + 3 * reading) % len(SPEECH_VARIANTS)]
                rate = SPEECH_RATES[(i + reading) % len(SPEECH_RATES)]
                items.append({"name": f"{lang}-{i:02d}-{reading}", "sentence": f"{lang}-{i:02d}", "lang": lang,
                              "voice": f"{lang}+{variant}", "rate": rate, "text": text})
    return items


def speech_dir() -> Path:
    return cache_dir() / "audio" / SPEECH_VERSION


def _espeak() -> str:
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise TokbenchError("builtin:speech needs Debian's espeak-ng: run `apt-get install espeak-ng`")
    return exe


def build_speech(folder: Path | None = None) -> Path:
    """Synthesize builtin:speech into its cache folder (built in a temporary folder, renamed into place)."""
    folder = folder or speech_dir()
    if (folder / "manifest.json").is_file():
        return folder
    exe = _espeak()
    import soundfile as sf

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        manifest = []
        for item in speech_items():
            raw = tmp / f"{item['name']}.raw.wav"
            cmd = [exe, "-v", item["voice"], "-s", str(item["rate"]), "-w", str(raw), item["text"]]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if proc.returncode != 0 or not raw.is_file():
                raise TokbenchError(f"espeak-ng failed for voice {item['voice']}: {proc.stderr.strip()[:200]}")
            wave = read_audio_file(raw, DEFAULT_SAMPLE_RATE)
            raw.unlink()
            wave = trim_silence(wave, DEFAULT_SAMPLE_RATE)
            peak = float(np.abs(wave).max())
            if peak > 0:
                wave = wave * (0.9 / peak)  # normalize to a fixed peak so clips are comparable
            seed = int.from_bytes(hashlib.sha256(item["name"].encode()).digest()[:8], "little")
            wave = wave + np.random.default_rng(seed).normal(0.0, NOISE_FLOOR, len(wave)).astype(np.float32)
            sf.write(str(tmp / f"{item['name']}.wav"), wave, DEFAULT_SAMPLE_RATE, subtype="PCM_16")
            manifest.append({**item, "file": f"{item['name']}.wav", "samples": int(len(wave)),
                             "split": "test" if _is_test(item["sentence"]) else "train"})
        (tmp / "manifest.json").write_text(json.dumps({"version": SPEECH_VERSION, "sample_rate": DEFAULT_SAMPLE_RATE,
                                                       "items": manifest}, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished first: keep its copy
            if not (folder / "manifest.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _load_speech(split: str, sample_rate: int) -> AudioClips:
    folder = build_speech()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    clips = AudioClips([], [], sample_rate, "builtin:speech", split)
    for item in manifest["items"]:
        if split != "all" and item["split"] != split:
            continue
        path = folder / item["file"]
        clips.waves.append(read_audio_file(path, sample_rate))
        clips.names.append(item["name"])
        clips.files.append(path)
    return clips


# ------------------------------------------------------------------------------------------------ builtin:signals
def signal_waves(sample_rate: int = DEFAULT_SAMPLE_RATE, seconds: float = 1.0) -> dict[str, np.ndarray]:
    """Deterministic test signals: pure tones, linear and exponential chirps, AM tones, white and pink noise."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    nyq = sample_rate / 2
    out: dict[str, np.ndarray] = {}
    for f in (110.0, 220.0, 440.0, 1000.0, 3000.0):
        out[f"tone-{int(f)}hz"] = 0.5 * np.sin(2 * np.pi * f * t)
    for f0, f1 in ((100.0, 4000.0), (300.0, 0.9 * nyq)):
        k = (f1 - f0) / seconds
        out[f"chirp-lin-{int(f0)}-{int(f1)}"] = 0.5 * np.sin(2 * np.pi * (f0 * t + 0.5 * k * t * t))
        r = math.log(f1 / f0) / seconds
        out[f"chirp-exp-{int(f0)}-{int(f1)}"] = 0.5 * np.sin(2 * np.pi * f0 * (np.exp(r * t) - 1) / r)
    for fc, fm in ((500.0, 4.0), (1200.0, 11.0), (250.0, 30.0)):
        out[f"am-{int(fc)}-{int(fm)}"] = 0.5 * (0.5 + 0.5 * np.sin(2 * np.pi * fm * t)) * np.sin(2 * np.pi * fc * t)
    rng = np.random.default_rng(20240607)
    for i in range(2):
        out[f"noise-white-{i}"] = 0.2 * rng.standard_normal(n)
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1 / sample_rate)
        spectrum[1:] /= np.sqrt(freqs[1:])  # 1/f power
        spectrum[0] = 0
        pink = np.fft.irfft(spectrum, n)
        out[f"noise-pink-{i}"] = 0.5 * pink / np.abs(pink).max()
    return {k: v.astype(np.float32) for k, v in out.items()}


def _load_signals(split: str, sample_rate: int) -> AudioClips:
    clips = AudioClips([], [], sample_rate, "builtin:signals", split)
    for name, wave in signal_waves(sample_rate).items():
        if split != "all" and _is_test(name) != (split == "test"):
            continue
        clips.waves.append(wave)
        clips.names.append(name)
    return clips


BUILTIN_AUDIO = {
    "speech": (_load_speech, "speech synthesized with espeak-ng: en, en-us, de, fr, es; male and female variants"),
    "signals": (_load_signals, "generated tones, chirps, AM tones and noise (1 s each)"),
}


# ------------------------------------------------------------------------------------------------ entry point
def load_audio(specs: str | list[str], split: str = "all", sample_rate: int = DEFAULT_SAMPLE_RATE,
               resample_ok: bool = True, on_error: str = "error") -> AudioClips:
    """Load one or more audio sources (files, folders, `builtin:speech`, `builtin:signals`) restricted to a split.

    `on_error="skip"` leaves unreadable, empty or non-finite files out and counts them in `.skipped`;
    `"error"` stops at the first with a one-line TokbenchError. Clipped clips add a line to `.warnings`.
    """
    split = _check_split(split)
    if on_error not in ("error", "skip"):
        raise TokbenchError(f"unknown on_error {on_error!r} (expected error or skip)")
    if sample_rate <= 0:
        raise TokbenchError(f"bad sample rate {sample_rate}")
    specs = [specs] if isinstance(specs, str) else list(specs)
    if not specs:
        raise TokbenchError("no audio source given")
    parts = []
    for spec in specs:
        if spec.startswith(BUILTIN_PREFIX):
            name = spec[len(BUILTIN_PREFIX):]
            if name not in BUILTIN_AUDIO:
                raise TokbenchError(f"unknown built-in audio {name!r} (available: {', '.join(sorted(BUILTIN_AUDIO))})")
            parts.append(BUILTIN_AUDIO[name][0](split, sample_rate))
        else:
            parts.append(_load_files(spec, split, sample_rate, resample_ok, on_error))
    clips = AudioClips([], [], sample_rate, "+".join(specs), split)
    for part in parts:
        clips.waves += part.waves
        clips.names += part.names
        clips.files += part.files
        clips.skipped += part.skipped
        clips.warnings += part.warnings
    if not clips.waves:
        why = f" ({len(clips.skipped)} skipped)" if clips.skipped else ""
        raise TokbenchError(f"audio source {clips.source} has no clips in split {split!r}{why}")
    clipped = [n for n, w in zip(clips.names, clips.waves) if clipped_fraction(w) > CLIP_WARN_FRACTION]
    if clipped:
        clips.warnings.append(f"{len(clipped)} clip(s) look clipped (>{CLIP_WARN_FRACTION:.1%} of samples at full "
                              f"scale), e.g. {clipped[0]}")
    if clips.skipped:
        clips.warnings.append(f"skipped {len(clips.skipped)} unreadable or empty file(s), e.g. {clips.skipped[0]}")
    return clips
