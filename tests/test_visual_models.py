"""Every visual family on tiny configs and random tensors: shapes, gradients, train/eval agreement, the
kernel lookup against the library's own search, nested-dropout prefixes, 64+-bit binary codes, save/load."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.visual.model_io import build_model, load_model, save_model  # noqa: E402
from tokbench.visual.families.base import make_config  # noqa: E402

TINY_2D = {"image_size": 8, "width": 8, "depth": 1}
TINY_1D = {"image_size": 8, "width": 16, "depth": 1, "heads": 2, "patch_size": 2, "num_tokens": 6}

CASES = [
    ("grid2d", {**TINY_2D, "codebook_size": 32, "code_dim": 4}),
    ("grid2d", {**TINY_2D, "codebook_size": 32, "code_dim": 4, "ema": False}),
    ("grid2d", {**TINY_2D, "quantizer": "fsq", "code_dim": 3, "fsq_levels": [5, 5, 3]}),
    ("latent1d", {**TINY_1D, "codebook_size": 32, "code_dim": 4}),
    ("latent1d", {**TINY_1D, "quantizer": "fsq", "code_dim": 4, "fsq_levels": [8, 5, 5, 5], "channels": 3}),
    ("binary", {**TINY_2D, "quantizer": "bsq", "bits": 10}),
    ("binary", {**TINY_2D, "quantizer": "lfq", "bits": 12}),
    ("binary", {**TINY_1D, "layout": "1d", "quantizer": "bsq", "bits": 70}),
    ("flexible", {**TINY_1D, "codebook_size": 32, "code_dim": 4, "quantizer": "vq"}),
    ("flexible", {**TINY_1D, "code_dim": 4, "fsq_levels": [8, 5, 5, 5], "causal": False}),
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(model, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *model.image_shape, generator=g)


@pytest.mark.parametrize("family,config", CASES, ids=lambda v: v if isinstance(v, str) else "-".join(
    f"{k}={v}" for k, v in v.items() if k not in TINY_1D or k == "num_tokens"))
def test_forward_backward_encode_decode(family, config):
    torch.manual_seed(0)
    model = build_model(family, config)
    x = _images(model)
    model.train()
    recon, losses, info = model(x)
    assert recon.shape == x.shape
    loss = (recon - x).abs().mean() + sum(losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    enc_grads = [p.grad for n, p in model.named_parameters() if n.startswith(("encoder", "patch_in", "latents"))]
    assert enc_grads and all(g is not None for g in enc_grads), "no gradient reached the encoder"
    assert any(float(g.abs().sum()) > 0 for g in enc_grads)

    model.eval()
    tokens = model.encode(x)
    t = model.tokens_per_image
    if family == "binary":
        assert tokens.dtype == torch.bool and tokens.shape == (3, t, config["bits"])
        assert model.bits_per_token == config["bits"]
        assert model.codebook_size == 2 ** config["bits"]
    else:
        assert tokens.dtype == torch.int64 and tokens.shape == (3, t)
        assert 0 <= int(tokens.min()) and int(tokens.max()) < model.codebook_size
        assert model.bits_per_token == pytest.approx(math.log2(model.codebook_size))
    out = model.decode(tokens)
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    # eval-mode forward decodes the same tokens to the same image (train/eval agreement of the two paths)
    recon_eval, _, info_eval = model(x)
    assert torch.equal(info_eval["tokens"].to(tokens.dtype), tokens)
    assert torch.allclose(recon_eval.clamp(0, 1), out, atol=1e-5)
    expected = list(range(1, t + 1)) if family == "flexible" else [t]
    assert model.budgets() == expected


@pytest.mark.parametrize("ema", [True, False])
def test_vq_lookup_through_kernels_matches_library(ema):
    """The inference path (tokbench.kernels nearest_code, max inner product) picks exactly the indices that
    VectorQuantize's own cosine-sim search picks, also for a learnable codebook whose norms drifted."""
    from tokbench.visual.quantize import VQ

    torch.manual_seed(1)
    q = VQ(6, 300, ema=ema)
    q.train()
    q(torch.randn(4, 50, 6))  # initializes the codebook
    if not ema:
        with torch.no_grad():
            q.vq._codebook.embed.mul_(torch.rand_like(q.vq._codebook.embed[..., :1]) + 0.5)
    q.eval()
    z = torch.randn(8, 200, 6)
    _, lib_idx, _ = q.vq(z)
    assert torch.equal(q.tokens(z), lib_idx)


def test_flexible_prefix_decoding():
    torch.manual_seed(0)
    model = build_model("flexible", {**TINY_1D, "code_dim": 4, "fsq_levels": [8, 5, 5, 5]}).eval()
    x = _images(model, n=2)
    tokens = model.encode(x)
    outs = []
    for k in range(1, model.tokens_per_image + 1):
        a = model.decode(tokens, keep=k)
        assert a.shape == x.shape
        assert torch.allclose(a, model.decode(tokens[:, :k]), atol=1e-6)  # a bare prefix decodes the same
        scrambled = tokens.clone()
        scrambled[:, k:] = (scrambled[:, k:] + 7) % model.codebook_size
        assert torch.allclose(a, model.decode(scrambled, keep=k), atol=1e-6)  # tokens after k are ignored
        outs.append(a)
    assert not torch.allclose(outs[0], outs[-1])
    with pytest.raises(TokbenchError):
        model.decode(tokens, keep=0)
    with pytest.raises(TokbenchError):
        model.decode(tokens[:, :2], keep=3)


def test_flexible_nested_dropout_masks_tail_in_training():
    torch.manual_seed(0)
    model = build_model("flexible", {**TINY_1D, "code_dim": 4, "fsq_levels": [8, 5, 5, 5]}).train()
    keep = model._train_keep(torch.zeros(500, 6, 4))
    assert int(keep.min()) == 1 and int(keep.max()) == model.tokens_per_image  # k drawn per sample over 1..K
    lat = torch.randn(2, 6, 16)
    out = model._apply_keep(lat, torch.tensor([2, 6]))
    assert torch.equal(out[0, :2], lat[0, :2]) and torch.equal(out[1], lat[1])
    assert torch.equal(out[0, 2:], model.mask_token[0].expand(4, 16).detach())


def test_causal_mask_orders_latents():
    """With the causal mask, latent i does not depend on latents after it."""
    torch.manual_seed(0)
    model = build_model("flexible", {**TINY_1D, "code_dim": 4, "fsq_levels": [8, 5, 5, 5]}).eval()
    x = _images(model, n=2) * 2 - 1
    with torch.no_grad():
        before = model._encode_latents(x)
        model.latents[:, 3:] += 1.0
        after = model._encode_latents(x)
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not torch.allclose(before[:, 3:], after[:, 3:])


@pytest.mark.parametrize("kind", ["lfq", "bsq"])
def test_binary_128_bits_roundtrip_and_entropy(kind):
    from tokbench.visual.quantize import Binary

    q = Binary(128, spherical=kind == "bsq", group=8).train()
    z = torch.randn(4, 5, 128, requires_grad=True)
    zq, bits, losses = q(z)
    assert bits.dtype == torch.bool and bits.shape == (4, 5, 128)
    assert q.codebook_size == 2 ** 128  # exact, never an int64
    assert torch.allclose(q.codes(bits), zq.detach(), atol=1e-6)  # tokens decode to the quantized latents
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    ids, vocabs = q.stats_ids(bits)
    assert ids.shape == (20, 16) and vocabs == [256] * 16 and int(ids.max()) < 256
    # a narrower last group has its own, smaller vocabulary (70 = 8 x 8 + 6 bits)
    from tokbench.visual.quantize import Binary

    ids70, vocabs70 = Binary(70, spherical=False, group=8).stats_ids(torch.ones(3, 70, dtype=torch.bool))
    assert vocabs70 == [256] * 8 + [64] and ids70[:, -1].tolist() == [63, 63, 63]


def test_binary_factorized_entropy_matches_brute_force():
    """With one group covering all bits the factorized loss equals the entropy terms computed over all 2^bits
    codes of p(q|z) ∝ exp(-||u - q||^2 / (s^2 tau)) (MAGVIT-v2 eq. 5)."""
    from tokbench.visual.quantize import Binary, _bit_patterns

    torch.manual_seed(0)
    for spherical in (False, True):
        q = Binary(6, spherical=spherical, group=6, temperature=0.7)
        u = q._unit(torch.randn(40, 6))
        codes = (_bit_patterns(6, "cpu") * 2 - 1) * q.scale  # (64, 6)
        logits = -((u[:, None, :] - codes[None]) ** 2).sum(-1) / (q.scale ** 2 * q.temperature)
        p = logits.softmax(-1)
        per_sample = -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
        avg = p.mean(0)
        expected = per_sample - (-(avg * avg.log()).sum())
        assert float(q._entropy_loss(u)) == pytest.approx(float(expected), abs=1e-4)


def test_save_load_roundtrip_and_refusals(tmp_path):
    torch.manual_seed(0)
    model = build_model("grid2d", CASES[0][1]).eval()
    x = _images(model)
    save_model(tmp_path / "a", model)
    back = load_model(tmp_path / "a")
    assert torch.equal(back.encode(x), model.encode(x))
    assert load_model(tmp_path / "a", family="grid2d", config=CASES[0][1]).family == "grid2d"
    with pytest.raises(TokbenchError, match="grid2d model, not binary"):
        load_model(tmp_path / "a", family="binary")
    with pytest.raises(TokbenchError, match="codebook_size"):
        load_model(tmp_path / "a", config={**CASES[0][1], "codebook_size": 64})
    # weights from another model under this model.json: refused by name/shape, never silently loaded
    other = build_model("grid2d", {**CASES[0][1], "codebook_size": 64})
    save_model(tmp_path / "b", other)
    (tmp_path / "a" / "model.safetensors").write_bytes((tmp_path / "b" / "model.safetensors").read_bytes())
    with pytest.raises(TokbenchError, match="shape"):
        load_model(tmp_path / "a")
    (tmp_path / "a" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(TokbenchError, match="corrupt"):
        load_model(tmp_path / "a")
    with pytest.raises(TokbenchError):
        load_model(tmp_path / "nothing")


@pytest.mark.parametrize("family,config,match", [
    ("grid2d", {"image_size": 30, "depth": 2}, "divisible"),
    ("latent1d", {"patch_size": 5}, "divisible"),
    ("binary", {"quantizer": "vq"}, "lfq or bsq"),
    ("grid2d", {"quantizer": "fsq", "code_dim": 3}, "fsq_levels"),
    ("grid2d", {"colour": 3}, "unknown model option"),
    ("pixels", {}, "unknown family"),
    ("latent1d", {"latent_mixing": "spiral"}, "latent_mixing must be"),
    ("flexible", {"pixel_head": "mlp"}, "pixel_head must be"),
    ("latent1d", {"pixel_head": "conv", "patch_size": 7}, "power of two"),
    ("latent1d", {"pixel_head": "conv", "patch_size": 4, "proxy_config": {}}, "without a proxy"),
    ("grid2d", {"latent_mixing": "raster"}, "1D layouts"),
    ("binary", {"pixel_head": "conv"}, "1D layouts"),
    ("latent1d", {"keep_lengths": "pow2"}, "flexible family"),
])
def test_bad_configs_are_user_errors(family, config, match):
    with pytest.raises(TokbenchError, match=match):
        build_model(family, config)


def test_wrong_image_shape_is_user_error():
    model = build_model("grid2d", CASES[0][1])
    with pytest.raises(TokbenchError, match="shape"):
        model.encode(torch.rand(2, 3, 8, 8))


@pytest.mark.parametrize("k,lengths", [(1, [1]), (6, [1, 2, 4, 6]), (8, [1, 2, 4, 8]), (32, [1, 2, 4, 8, 16, 32])])
def test_flexible_keep_lengths_are_flextok_powers_of_two(k, lengths):
    from tokbench.visual.families.flexible import keep_lengths

    assert keep_lengths(k) == lengths


@pytest.mark.parametrize("mode,allowed", [("pow2", {1, 2, 4, 6}), ("uniform", {1, 2, 3, 4, 5, 6}),
                                          ("uniform_pow2", {1, 2, 4, 6})])
def test_flexible_nested_dropout_draws_from_its_lengths(mode, allowed):
    torch.manual_seed(0)
    model = build_model("flexible", {**TINY_1D, "code_dim": 4, "fsq_levels": [8, 5, 5, 5],
                                     "keep_lengths": mode}).train()
    drawn = set(model._train_keep(torch.zeros(400, 6, 4)).tolist())
    assert drawn == allowed


def test_kmeans_codebook_init_sets_codes_from_the_first_batch():
    torch.manual_seed(0)
    model = build_model("latent1d", {**TINY_1D, "codebook_size": 8, "code_dim": 4, "codebook_init": "kmeans"})
    book = model.quantizer.vq._codebook
    assert not bool(book.initted)
    before = book.embed.clone()
    model.train()(_images(model, n=16))
    assert bool(book.initted) and not torch.equal(before, book.embed)
    assert bool(build_model("latent1d", {**TINY_1D, "codebook_size": 8, "code_dim": 4}).quantizer.vq._codebook.initted)


@pytest.mark.parametrize("config,match", [({"codebook_init": "pca"}, "codebook_init"),
                                          ({"keep_lengths": "fib"}, "keep_lengths")])
def test_bad_recipe_options_are_user_errors(config, match):
    with pytest.raises(TokbenchError, match=match):
        build_model("flexible", {**TINY_1D, **config})


def test_each_family_architecture_lives_in_its_own_module():
    from tokbench.visual.families import base, binary, flexible, grid2d, latent1d

    assert flexible.Flexible.__mro__[1] is latent1d.Latent1DTokenizer
    assert issubclass(grid2d.Grid2D, grid2d.Conv2DTokenizer) and issubclass(binary.Binary2D, grid2d.Conv2DTokenizer)
    assert issubclass(binary.Binary1D, latent1d.Latent1DTokenizer)
    assert not hasattr(base, "Latent1DTokenizer") and not hasattr(base, "Conv2DTokenizer")


@pytest.mark.parametrize("family, overrides, code_dim", [
    ("grid2d", {"quantizer": "fsq"}, 4),                        # the default levels 8,5,5,5
    ("latent1d", {"quantizer": "fsq"}, 4),
    ("flexible", {"fsq_levels": [8, 8, 8, 5, 5, 5]}, 6),        # FlexTok's levels
    ("grid2d", {"quantizer": "vq"}, 8),                         # vq keeps its own width
])
def test_fsq_takes_one_latent_dimension_per_level_unless_told(family, overrides, code_dim):
    assert make_config(family, overrides).code_dim == code_dim


def test_fsq_with_a_code_dim_that_does_not_match_its_levels_is_refused():
    with pytest.raises(TokbenchError, match=r"fsq_levels \[8, 5, 5, 5\] must have code_dim=8 entries"):
        make_config("grid2d", {"quantizer": "fsq", "code_dim": 8})


def test_a_weights_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    """Reading a FIFO blocks until a writer comes: every command that loads a model would hang."""
    import os

    from tokbench.visual.model_io import MODEL_FILE

    save_model(tmp_path, build_model("grid2d", {}))
    (tmp_path / MODEL_FILE).unlink()
    os.mkfifo(tmp_path / MODEL_FILE)
    with pytest.raises(TokbenchError, match=f"{MODEL_FILE}: not a regular file"):
        load_model(tmp_path)


@pytest.mark.parametrize("levels, total", [([1000, 1000, 1000, 1000], "1,000,000,000,000"), ([8, 1, 5, 5], "200")])
def test_fsq_levels_that_cannot_make_a_codebook_are_refused(levels, total):
    """Levels of 1 code nothing; a product past 2^24 codes would allocate terabytes (an 'internal error')."""
    with pytest.raises(TokbenchError, match=rf"each level >= 2 and at most 2\^24 codes in all \(got {total}\)"):
        make_config("grid2d", {"quantizer": "fsq", "fsq_levels": levels})


# our latent_mixing / pixel_head options on the 1D layouts ----------------------------------------------------
MIXED = [("latent1d", {**TINY_1D, "codebook_size": 32, "code_dim": 4, "latent_mixing": "raster", "pixel_head": "conv"}),
         ("flexible", {**TINY_1D, "codebook_size": 32, "code_dim": 4, "quantizer": "vq", "latent_mixing": "pyramid",
                       "pixel_head": "conv"}),
         ("binary", {**TINY_1D, "layout": "1d", "quantizer": "bsq", "bits": 12, "latent_mixing": "pyramid"})]


@pytest.mark.parametrize("family,config", MIXED, ids=[f for f, _ in MIXED])
def test_mixing_and_conv_head_train_and_round_trip(family, config, tmp_path):
    test_forward_backward_encode_decode(family, config)
    torch.manual_seed(0)
    model = build_model(family, config)
    names = {n for n, _ in model.named_parameters()}
    assert {"enc_mix", "dec_mix"} <= names
    assert ("pixel_head.net.0.weight" in names) == (config.get("pixel_head") == "conv")
    assert ("patch_out.weight" in names) == (config.get("pixel_head") != "conv")
    model.eval()
    x = _images(model)
    save_model(tmp_path, model)
    again = load_model(tmp_path)
    assert torch.equal(again.encode(x), model.encode(x))
    assert torch.equal(again.decode(model.encode(x)), model.decode(model.encode(x)))


def test_mixing_path_carries_gradient_and_changes_the_output():
    """The linear path is in the graph: zeroing it changes encode's latents, and both matrices get gradients."""
    torch.manual_seed(0)
    model = build_model("latent1d", {**TINY_1D, "codebook_size": 32, "code_dim": 4, "latent_mixing": "raster"})
    x = _images(model) * 2 - 1
    recon, losses, _ = model(x * 0.5 + 0.5)
    ((recon - x).abs().mean() + sum(losses.values())).backward()
    assert float(model.enc_mix.grad.abs().sum()) > 0 and float(model.dec_mix.grad.abs().sum()) > 0
    with torch.no_grad():
        before = model._encode_latents(x)
        model.enc_mix.zero_()
        assert not torch.allclose(before, model._encode_latents(x))


def test_flexible_prefix_with_pyramid_mixing_ignores_later_tokens():
    """The decoder's mixing path reads the masked latents, so tokens after the kept prefix still change nothing."""
    torch.manual_seed(0)
    model = build_model("flexible", {**TINY_1D, "code_dim": 4, "latent_mixing": "pyramid", "pixel_head": "conv"}).eval()
    x = _images(model, n=2)
    tokens = model.encode(x)
    for k in (1, 3, 6):
        scrambled = tokens.clone()
        scrambled[:, k:] = (scrambled[:, k:] + 7) % model.codebook_size
        assert torch.allclose(model.decode(tokens, keep=k), model.decode(scrambled, keep=k), atol=1e-6)
    with torch.no_grad():  # causal encoder: latent i does not see latents after it, mixing included
        before = model._encode_latents(x * 2 - 1)
        model.latents[:, 3:] += 1.0
        assert torch.allclose(before[:, :3], model._encode_latents(x * 2 - 1)[:, :3], atol=1e-6)


def test_region_matrix_raster_and_pyramid():
    from tokbench.visual.families.latent1d import region_matrix

    raster = region_matrix("raster", 7, 32)
    assert raster.shape == (32, 49) and torch.equal(raster.sum(0), torch.ones(49))  # each patch in one latent
    assert set(raster.sum(1).tolist()) == {1.0, 2.0}
    first = [int(row.nonzero()[0]) for row in raster]
    assert first == sorted(first)  # runs in raster order
    pyramid = region_matrix("pyramid", 8, 32)
    sizes = pyramid.sum(1).tolist()
    assert sizes[:5] == [64, 16, 16, 16, 16] and sizes[5:21] == [4] * 16 and sizes[21:] == [1] * 11
    assert torch.equal(pyramid[1:5].sum(0), torch.ones(64)) and torch.equal(pyramid[5:21].sum(0), torch.ones(64))
    assert len({tuple(r.nonzero().flatten().tolist()) for r in pyramid[21:]}) == 11  # 11 distinct single patches
    assert pyramid.shape == (32, 64) and region_matrix("pyramid", 7, 3).sum(1).tolist() == [49, 16, 9]
    with pytest.raises(ValueError):
        region_matrix("spiral", 7, 4)


def test_uniform_pow2_rounds_uniform_draws_up_to_powers_of_two():
    """FlexTok's uniform_pow2: k ~ U{1..K} rounded up to 2^n, capped at K: for K = 6, P(1) = P(2) = 1/6,
    P(4) = 2/6 (k = 3, 4), P(6) = 2/6 (k = 5, 6)."""
    torch.manual_seed(0)
    model = build_model("flexible", {**TINY_1D, "code_dim": 4, "keep_lengths": "uniform_pow2"}).train()
    keep = model._train_keep(torch.zeros(60000, 6, 4))
    share = {k: float((keep == k).float().mean()) for k in (1, 2, 4, 6)}
    assert share == pytest.approx({1: 1 / 6, 2: 1 / 6, 4: 2 / 6, 6: 2 / 6}, abs=0.01)
