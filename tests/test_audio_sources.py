"""Audio sources: files and folders (resampling, bad input), builtin:signals and builtin:speech."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.sources import audio as A  # noqa: E402


@pytest.fixture()
def wav_folder(tmp_path):
    t = np.arange(22050) / 22050
    sf.write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 22050)
    sf.write(tmp_path / "b.flac", 0.5 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000), 16000)
    stereo = np.stack([np.full(8000, 0.2), np.full(8000, 0.4)], axis=1)
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "c.wav", stereo, 16000)
    (tmp_path / "notes.txt").write_text("not audio")
    return tmp_path


def test_folder_is_resampled_and_mono(wav_folder):
    clips = A.load_audio(str(wav_folder))
    assert [n.rsplit("/", 1)[-1] for n in clips.names] == ["a.wav", "b.flac", "c.wav"]
    assert all(w.dtype == np.float32 and w.ndim == 1 for w in clips.waves)
    assert len(clips.waves[0]) == 16000  # 1 s at 22.05 kHz -> 1 s at 16 kHz
    # the 440 Hz tone survives resampling: its spectrum peaks at 440 Hz
    spec = np.abs(np.fft.rfft(clips.waves[0]))
    assert abs(int(spec.argmax()) - 440) <= 1
    assert np.allclose(clips.waves[2], 0.3, atol=1e-4)  # stereo averaged
    assert clips.fingerprint() == A.load_audio(str(wav_folder)).fingerprint()


def test_wrong_rate_refused_when_resampling_is_off(wav_folder):
    with pytest.raises(TokbenchError, match="22050 Hz differs"):
        A.load_audio(str(wav_folder / "a.wav"), resample_ok=False)


def test_zero_length_and_unreadable_files(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF but not really a wav file")
    sf.write(tmp_path / "good.wav", 0.1 * np.ones(1600), 16000)
    with pytest.raises(TokbenchError, match="zero-length|unreadable"):
        A.load_audio(str(tmp_path))
    clips = A.load_audio(str(tmp_path), on_error="skip")
    assert len(clips) == 1 and len(clips.skipped) == 2
    assert any("skipped 2" in w for w in clips.warnings)
    with pytest.raises(TokbenchError, match="no clips"):
        A.load_audio(str(tmp_path / "empty.wav"), on_error="skip")
    with pytest.raises(TokbenchError, match="no such file"):
        A.load_audio(str(tmp_path / "missing"))


def test_clipping_is_warned(tmp_path):
    wave = np.clip(2.0 * np.sin(np.arange(16000) / 3.0), -1, 1)
    sf.write(tmp_path / "loud.wav", wave, 16000)
    assert any("clipped" in w for w in A.load_audio(str(tmp_path / "loud.wav")).warnings)


def test_signals_are_deterministic_and_split():
    all_ = A.load_audio("builtin:signals")
    train, test = A.load_audio("builtin:signals", "train"), A.load_audio("builtin:signals", "test")
    assert len(train) + len(test) == len(all_) and len(test) >= 1
    assert not set(train.names) & set(test.names)
    assert all(len(w) == 16000 and np.abs(w).max() <= 1.0 for w in all_.waves)
    assert all_.fingerprint() == A.load_audio("builtin:signals").fingerprint()
    assert len(A.load_audio("builtin:signals", sample_rate=8000).waves[0]) == 8000
    with pytest.raises(TokbenchError, match="unknown split"):
        A.load_audio("builtin:signals", "dev")
    with pytest.raises(TokbenchError, match="unknown built-in"):
        A.load_audio("builtin:music")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_builtin_speech_builds_once_with_fixed_split(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKBENCH_CACHE", str(tmp_path))
    train, test = A.load_audio("builtin:speech", "train"), A.load_audio("builtin:speech", "test")
    manifest = (tmp_path / "audio" / A.SPEECH_VERSION / "manifest.json")
    assert manifest.is_file()
    assert len(train) + len(test) == len(A.speech_items()) and len(test) >= 4
    sentence = lambda n: n.rsplit("-", 1)[0]  # noqa: E731
    assert not {sentence(n) for n in train.names} & {sentence(n) for n in test.names}
    assert {n.split("-")[0] for n in train.names} >= {"en", "de", "fr", "es"}
    assert train.seconds > 120 and all(np.abs(w).max() <= 1.0 for w in train.waves)
    before = manifest.stat().st_mtime_ns
    assert A.load_audio("builtin:speech", "test").fingerprint() == test.fingerprint()
    assert manifest.stat().st_mtime_ns == before  # cached, not rebuilt


def test_missing_espeak_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(A.shutil, "which", lambda name: None)
    with pytest.raises(TokbenchError, match="apt-get install espeak-ng"):
        A.load_audio("builtin:speech")
