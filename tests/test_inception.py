"""The FID Inception network without its weights (which never exist in tests): its published size and layer
shapes, each block's pooling branch against torch's pooling called directly, the weights loader's refusals by
cause (on a small stand-in network), and the extractor's input pipeline (grey -> RGB, bilinear resize to 299,
[-1, 1], batches, float64 out) on a probe network."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as tf
from torch import nn

from tokbench.errors import TokbenchError
from tokbench.metrics import inception as inc


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and batch-norm statistics (the defaults, mean 0 and var 1, would hide the bn's terms)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) + 0.5 if name.endswith("running_var")
                        else torch.randn(t.shape, generator=g) * 0.3)
    return module.eval()


# ---------------------------------------------------------------------------------------------- layers
def test_basic_conv_is_conv_without_bias_then_bn_eps_1e3_then_relu():
    layer = _randomize(inc.BasicConv2d(3, 4, kernel_size=3, padding=1))
    assert layer.conv.bias is None and layer.bn.eps == 0.001
    x = torch.randn(2, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    bn = layer.bn
    expected = tf.relu(tf.batch_norm(tf.conv2d(x, layer.conv.weight, padding=1), bn.running_mean, bn.running_var,
                                     bn.weight, bn.bias, training=False, eps=1e-3))
    with torch.no_grad():
        torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-6)


def test_average_pool_ignores_padded_cells():
    """3x3 mean, stride 1, over the cells inside the image only: a corner is the mean of 4 cells, an edge of 6."""
    x = torch.arange(20.0).reshape(1, 1, 4, 5)
    out = inc._avg_pool_no_pad(x)[0, 0]
    a = x[0, 0].numpy()
    assert out.shape == (4, 5)
    assert float(out[0, 0]) == pytest.approx(a[:2, :2].mean())
    assert float(out[0, 2]) == pytest.approx(a[:2, 1:4].mean())
    assert float(out[2, 3]) == pytest.approx(a[1:4, 2:5].mean())
    assert float(out[3, 4]) == pytest.approx(a[2:, 3:].mean())


@pytest.mark.parametrize("make,cin,side,channels,out_side,pool", [
    (lambda c: inc.InceptionA(c, pool_features=5), 8, 7, 64 + 64 + 96 + 5, 7, "avg"),
    (lambda c: inc.InceptionB(c), 8, 9, 384 + 96 + 8, 4, "max2"),
    (lambda c: inc.InceptionC(c, c7=6), 8, 7, 4 * 192, 7, "avg"),
    (lambda c: inc.InceptionD(c), 8, 9, 320 + 192 + 8, 4, "max2"),
    (lambda c: inc.InceptionE(c, max_pool=False), 8, 3, 320 + 768 + 768 + 192, 3, "avg"),
    (lambda c: inc.InceptionE(c, max_pool=True), 8, 3, 320 + 768 + 768 + 192, 3, "max1"),
])
def test_block_shapes_and_pooling_branch(make, cin, side, channels, out_side, pool):
    """Every block keeps its branches' channel counts; its last branch pools as FID's graph does (A, C and the
    first E: 3x3 average without padded cells, then a 1x1 conv; the last E: 3x3 max, stride 1; B and D: 3x3 max,
    stride 2, passed through), checked against torch's pooling called directly."""
    block = _randomize(make(cin), seed=cin + side)
    x = torch.randn(2, cin, side, side, generator=torch.Generator().manual_seed(side))
    with torch.no_grad():
        out = block(x)
        assert out.shape == (2, channels, out_side, out_side)
        if pool == "avg":
            tail = block.branch_pool(tf.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        elif pool == "max1":
            tail = block.branch_pool(tf.max_pool2d(x, 3, stride=1, padding=1))
        else:
            tail = tf.max_pool2d(x, 3, stride=2)
        torch.testing.assert_close(out[:, -tail.shape[1]:], tail, rtol=0, atol=1e-6)
        if hasattr(block, "branch1x1"):  # the first branch: a 1x1 conv of the input
            head = block.branch1x1(x)
            torch.testing.assert_close(out[:, :head.shape[1]], head, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------- the network
@pytest.fixture
def net():
    """Built for each test (0.3 s): mutation testing maps a constructor to the tests that call it, and a
    module-scoped network would be mapped to the first test only."""
    return inc.FIDInceptionV3().eval()


def test_network_has_the_published_size_and_fid_variants(net):
    # torchvision's Inception3 without the auxiliary head, with pytorch-fid's 1008-way fc
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    assert sum(isinstance(m, inc.BasicConv2d) for m in net.modules()) == 94  # conv + batch-norm layers
    assert net.fc.weight.shape == (1008, 2048)
    assert (net.Mixed_7b.max_pool, net.Mixed_7c.max_pool) == (False, True)
    assert [m.branch_pool.conv.out_channels for m in (net.Mixed_5b, net.Mixed_5c, net.Mixed_5d)] == [32, 64, 64]
    assert [m.branch7x7_1.conv.out_channels for m in (net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e)] == \
        [128, 160, 160, 192]


def test_network_layer_shapes_on_the_smallest_input(net):
    """75x75 is the smallest input the network takes; each stage's shape follows from its kernels, strides and
    paddings (at 299x299 they are the paper's 35x35x288, 17x17x768 and 8x8x2048)."""
    seen = {}
    names = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "Mixed_5b",
             "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")
    hooks = [getattr(net, n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, tuple(o.shape[1:])))
             for n in names]
    try:
        with torch.no_grad():
            out = net.pool3(torch.zeros(1, 3, 75, 75))
    finally:
        for h in hooks:
            h.remove()
    assert out.shape == (1, 2048)
    assert seen == {"Conv2d_1a_3x3": (32, 37, 37), "Conv2d_2a_3x3": (32, 35, 35), "Conv2d_2b_3x3": (64, 35, 35),
                    "Conv2d_3b_1x1": (80, 17, 17), "Conv2d_4a_3x3": (192, 15, 15), "Mixed_5b": (256, 7, 7),
                    "Mixed_5c": (288, 7, 7), "Mixed_5d": (288, 7, 7), "Mixed_6a": (768, 3, 3),
                    "Mixed_6b": (768, 3, 3), "Mixed_6e": (768, 3, 3), "Mixed_7a": (1280, 1, 1),
                    "Mixed_7b": (2048, 1, 1), "Mixed_7c": (2048, 1, 1)}


def test_pool3_pools_between_stages_and_averages_globally(net, monkeypatch):
    """With every learned stage made the identity, pool3 is: 3x3 max (stride 2), again, then the global mean."""
    for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "Mixed_5b",
                 "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
                 "Mixed_7b", "Mixed_7c"):
        monkeypatch.setattr(net, name, nn.Identity())
    x = torch.randn(2, 3, 13, 13, generator=torch.Generator().manual_seed(3))
    a = x.numpy()
    once = np.stack([[a[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(2, 3)) for j in range(6)]
                     for i in range(6)], axis=-1).transpose(1, 2, 0, 3)  # 13 -> 6
    twice = np.stack([[once[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(2, 3)) for j in range(2)]
                      for i in range(2)], axis=-1).transpose(1, 2, 0, 3)  # 6 -> 2
    np.testing.assert_allclose(net.pool3(x).numpy(), twice.mean(axis=(2, 3)), rtol=1e-6)


# ---------------------------------------------------------------------------------------------- the weights loader
class _Small(nn.Module):
    """A stand-in network with the same kinds of entries (conv, batch norm, linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = inc.BasicConv2d(3, 4, kernel_size=1)
        self.b = inc.BasicConv2d(4, 5, kernel_size=1)
        self.fc = nn.Linear(5, 2)


def _state(seed=0):
    return {k: v.clone() for k, v in _randomize(_Small(), seed).state_dict().items()}


def test_loader_fills_every_entry_from_a_plain_or_wrapped_state(tmp_path):
    state = _state()
    for name, payload in (("plain.pth", state), ("wrapped.pth", {"state_dict": state, "epoch": 3}),
                          ("no_counters.pth", {k: v for k, v in state.items() if "num_batches" not in k})):
        torch.save(payload, tmp_path / name)
        net = _Small()
        inc.load_fid_weights(net, tmp_path / name)
        for key, value in state.items():
            assert torch.equal(net.state_dict()[key], value), (name, key)


def test_loader_ignores_a_file_counter_the_network_lacks(tmp_path):
    state = dict(_state(), **{"a.extra.num_batches_tracked": torch.tensor(5)})
    torch.save(state, tmp_path / "w.pth")
    net = _Small()
    inc.load_fid_weights(net, tmp_path / "w.pth")
    assert torch.equal(net.fc.weight, state["fc.weight"])


def _without(state, *keys):
    return {k: v for k, v in state.items() if k not in keys}


@pytest.mark.parametrize("change,message", [
    (lambda s: _without(s, "b.bn.running_var"), "weights do not fit the FID Inception network "
                                                "(missing ['b.bn.running_var'], unexpected [])"),
    (lambda s: dict(s, **{"c.weight": torch.zeros(1)}), "weights do not fit the FID Inception network "
                                                        "(missing [], unexpected ['c.weight'])"),
    (lambda s: _without(s, "a.conv.weight", "a.bn.bias", "a.bn.weight", "fc.bias"),
     "(missing ['a.bn.bias', 'a.bn.weight', 'a.conv.weight'], unexpected [])"),  # the first 3, sorted
    (lambda s: dict(s, **{"fc.weight": torch.zeros(3, 5)}), "fc.weight has shape (3, 5), expected (2, 5)"),
    (lambda s: dict(s, **{"a.bn.running_mean": torch.zeros(4, 1)}),
     "a.bn.running_mean has shape (4, 1), expected (4,)"),
    (lambda s: {"state_dict": _without(s, "fc.bias")}, "(missing ['fc.bias'], unexpected [])"),
    (lambda s: dict(s, state_dict=torch.zeros(1)), "(missing [], unexpected ['state_dict'])"),  # not a wrapper
    (lambda s: list(s.values()), "not a state dict (parameter names to tensors) but a list"),
    (lambda s: list(s), "not a state dict (parameter names to tensors) but a list"),  # names alone
    (lambda s: dict(s, **{f"z{i}": torch.zeros(1) for i in range(4)}),
     "(missing [], unexpected ['z0', 'z1', 'z2'])"),  # the first 3, sorted
    (lambda s: {i: v for i, v in enumerate(s.values())}, "not a state dict (parameter names to tensors) but a dict"),
    (lambda s: dict(s, **{"fc.bias": [0.0, 0.0]}), "fc.bias is a list, not a tensor"),
    (lambda s: dict(s, **{"a.bn.num_batches_tracked": torch.zeros(2)}),
     "a.bn.num_batches_tracked has shape (2,), expected ()"),  # a counter, if present, must fit too
])
def test_loader_refuses_anything_but_an_exact_fit(tmp_path, change, message):
    path = tmp_path / "w.pth"
    torch.save(change(_state()), path)
    net = _Small()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(TokbenchError) as err:
        inc.load_fid_weights(net, path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())  # nothing half-loaded


class _Payload:
    """Not a tensor container: `torch.load(weights_only=True)` must refuse to unpickle it."""


def test_loader_refuses_unreadable_files_and_code_in_pickles(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"junk")
    with pytest.raises(TokbenchError, match=rf"^{junk}: cannot read the Inception weights \(\w+: \S"):
        inc.load_fid_weights(_Small(), junk)
    with pytest.raises(TokbenchError, match="cannot read"):
        inc.load_fid_weights(_Small(), tmp_path / "absent.pth")
    code = tmp_path / "code.pth"
    torch.save(dict(_state(), payload=_Payload()), code, pickle_module=pickle)
    with pytest.raises(TokbenchError, match=rf"^{code}: cannot read the Inception weights \(UnpicklingError: "):
        inc.load_fid_weights(_Small(), code)


# ---------------------------------------------------------------------------------------------- the extractor
class _Probe(nn.Module):
    """Stands in for the network: records what pool3 receives and returns each channel's mean (float32)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))
        self.seen: list[torch.Tensor] = []

    def pool3(self, x):
        self.seen.append(x.clone())
        return x.mean(dim=(2, 3)) * self.scale


@pytest.fixture
def probe_extractor(tmp_path, monkeypatch):
    torch.save(_Probe().state_dict(), tmp_path / "probe.pth")
    monkeypatch.setattr(inc, "FIDInceptionV3", _Probe)
    return lambda **kw: inc.FIDInceptionExtractor(tmp_path / "probe.pth", **kw)


def test_extractor_resizes_to_299_and_scales_to_minus_one_one(probe_extractor):
    ext = probe_extractor()
    assert ext.name == "inception" and not ext.net.training and ext.device == "cpu" and ext.batch_size == 50
    rgb = np.random.default_rng(0).random((2, 3, 20, 28)).astype(np.float32)
    feats = ext(rgb)
    (x,) = ext.net.seen
    assert x.shape == (2, 3, 299, 299) and x.dtype == torch.float32
    resized = tf.interpolate(torch.from_numpy(rgb), size=(299, 299), mode="bilinear", align_corners=False)
    torch.testing.assert_close(x, 2 * resized - 1, rtol=0, atol=1e-6)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert isinstance(feats, np.ndarray) and feats.dtype == np.float64 and feats.shape == (2, 3)
    np.testing.assert_allclose(feats, (2 * resized - 1).mean(dim=(2, 3)).double().numpy(), rtol=1e-6)


def test_extractor_puts_the_network_on_its_device(probe_extractor):
    ext = probe_extractor(device="meta")  # stands in for a GPU (data sent there never comes back)
    assert ext.device == "meta" and ext.net.scale.device.type == "meta"


def test_extractor_repeats_grey_to_rgb_and_takes_tensors(probe_extractor):
    ext = probe_extractor()
    grey = np.random.default_rng(1).random((3, 1, 28, 28)).astype(np.float32)
    feats = ext(grey)
    x = ext.net.seen[0]
    assert x.shape == (3, 3, 299, 299)
    torch.testing.assert_close(x[:, 1], x[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(x[:, 2], x[:, 0], rtol=0, atol=0)
    np.testing.assert_array_equal(ext(torch.from_numpy(grey).double()), feats)  # a float64 tensor: same path
    assert ext.net.seen[1].dtype == torch.float32
    np.testing.assert_array_equal(ext(grey.astype(np.float64)), feats)


def test_extractor_runs_in_batches_and_keeps_the_order(probe_extractor):
    ext = probe_extractor(batch_size=2)
    imgs = np.random.default_rng(2).random((5, 3, 8, 8)).astype(np.float32)
    feats = ext(imgs)
    assert [len(x) for x in ext.net.seen] == [2, 2, 1]
    whole = probe_extractor(batch_size=5)(imgs)
    np.testing.assert_allclose(feats, whole, rtol=1e-6)
    assert feats.shape == (5, 3) and not np.allclose(feats[0], feats[1])


def test_extractor_refuses_weights_that_do_not_fit(tmp_path):
    torch.save({"scale": torch.ones(3)}, tmp_path / "small.pth")
    with pytest.raises(TokbenchError, match=r"small.pth: weights do not fit the FID Inception network \(missing \["):
        inc.FIDInceptionExtractor(tmp_path / "small.pth")
