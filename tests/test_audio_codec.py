"""The residual-VQ codec: shapes, frame rates, bitrate arithmetic, search equal to the library's, save/load."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("vector_quantize_pytorch")

from tokbench.audio.codec import AudioCodec, CodecConfig, load_codec, save_codec  # noqa: E402
from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.metrics import rate  # noqa: E402

TINY = dict(channels=4, dim=16, n_q=3, codebook_size=32)


def _with_unique_codebooks(model: AudioCodec, seed: int = 0) -> AudioCodec:
    """Distinct random codebooks, marked initialised, so nearest-code ties cannot happen."""
    g = torch.Generator().manual_seed(seed)
    for layer in model.rvq.layers:
        cb = layer._codebook
        cb.embed.data.copy_(torch.randn(cb.embed.shape, generator=g) * 0.5)
        cb.initted.data.fill_(True)
    return model.eval()


@pytest.mark.parametrize("strides,rate_hz", [((2, 4, 5, 8), 50.0), ((4, 4, 4, 4), 62.5), ((2, 4, 4, 8), 62.5)])
def test_shapes_and_frame_rates(strides, rate_hz):
    torch.manual_seed(0)
    model = _with_unique_codebooks(AudioCodec(CodecConfig(strides=strides, **TINY)))
    hop = math.prod(strides)
    assert model.frame_rate == rate_hz and model.hop_length == hop
    for n in (16000, 16001, hop):
        codes = model.encode(torch.randn(2, n) * 0.1)
        assert codes.shape == (2, 3, math.ceil(n / hop)) and codes.dtype == torch.int64
        assert int(codes.min()) >= 0 and int(codes.max()) < 32
        assert model.decode(codes).shape == (2, codes.shape[-1] * hop)
    assert model.encode(torch.randn(1600), n_q=2).shape == (1, 2, math.ceil(1600 / hop))


def test_bad_config_rejected():
    with pytest.raises(TokbenchError, match="strides"):
        AudioCodec(CodecConfig(strides=(2, 0), **TINY))
    with pytest.raises(TokbenchError, match="n_q"):
        AudioCodec(CodecConfig(**{**TINY, "n_q": 0}))


def test_bitrate_arithmetic():
    assert rate.kbps(8, 1024, 75) == pytest.approx(6.0)  # EnCodec 24 kHz: 8 x 10 bits x 75 Hz
    assert rate.kbps(8, 256, 50.0) == pytest.approx(3.2)
    assert rate.kbps(1, 256, 50.0) == pytest.approx(0.4)
    cfg = CodecConfig(**TINY)
    assert rate.kbps(cfg.n_q, cfg.codebook_size, cfg.frame_rate) == pytest.approx(3 * 5 * 50 / 1000)


def test_search_equals_the_librarys_own_search():
    torch.manual_seed(1)
    model = _with_unique_codebooks(AudioCodec(CodecConfig(**TINY)))
    wave = torch.randn(3, 6400) * 0.2
    with torch.no_grad():
        quantized, lib_indices, _ = model.rvq(model.latents(wave))
        lib_wave = model.synthesize(quantized)
    codes = model.encode(wave)
    assert torch.equal(codes.transpose(1, 2), lib_indices)
    torch.testing.assert_close(model.decode(codes), lib_wave)


def test_fewer_quantizers_decode_and_bad_codes_rejected():
    torch.manual_seed(2)
    model = _with_unique_codebooks(AudioCodec(CodecConfig(**TINY)))
    codes = model.encode(torch.randn(1, 3200) * 0.1)
    assert model.decode(codes, n_q=1).shape == model.decode(codes).shape
    assert not torch.equal(model.decode(codes, n_q=1), model.decode(codes))
    with pytest.raises(TokbenchError, match="quantizers"):
        model.decode(codes, n_q=4)
    with pytest.raises(TokbenchError, match="outside"):
        model.decode(codes + 32)
    with pytest.raises(TokbenchError, match="n_q"):
        model.encode(torch.randn(1, 320), n_q=0)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(3)
    model = _with_unique_codebooks(AudioCodec(CodecConfig(**TINY)))
    save_codec(model, tmp_path)
    again = load_codec(tmp_path)
    wave = torch.randn(1, 4000) * 0.1
    assert torch.equal(model.encode(wave), again.encode(wave))
    assert again.cfg == model.cfg
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(TokbenchError, match="unreadable weights"):
        load_codec(tmp_path)
    with pytest.raises(TokbenchError, match="no trained audio codec"):
        load_codec(tmp_path / "nowhere")


def test_training_forward_applies_quantizer_dropout():
    torch.manual_seed(4)
    model = AudioCodec(CodecConfig(**TINY)).train()
    kept = set()
    for seed in range(12):
        _, indices, _ = model(torch.randn(2, 3200) * 0.1, dropout_seed=seed)
        kept.add(int((indices[0, 0] >= 0).sum()))
    assert kept == {1, 2, 3}  # every bitrate is trained


def test_frame_path_starts_as_an_exact_mdct_with_all_coefficients():
    # hop 20 and 20 latent dims: the full MDCT; conv stacks start as a no-op, so analysis + overlap-add
    # synthesis reconstructs the interior exactly (time-domain aliasing cancellation)
    model = AudioCodec(CodecConfig(strides=(4, 5), channels=4, dim=20, n_q=1, codebook_size=2))
    x = torch.randn(1, 400, dtype=torch.float32)
    with torch.no_grad():
        y = model.synthesize(model.latents(x))
    torch.testing.assert_close(y[:, 20:-20], x[:, 20:-20], atol=1e-5, rtol=0)
