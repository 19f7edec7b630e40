"""The FID Inception-v3 network (pool3, 2048 features), for rFID with the verified standard weights only.

Architecture: Szegedy et al. 2016 ("Rethinking the Inception Architecture"), in the variant of the TensorFlow
2015-12-05 graph that FID (Heusel et al. 2017) uses, as ported to PyTorch by pytorch-fid: 1008 classes, and
four blocks that differ from torchvision's Inception3 — the A and C blocks and the first E block average-pool
their pooling branch without counting padded cells, and the last E block max-pools it. Parameter names follow
torchvision's Inception3 (the names in `pt_inception-2015-12-05-6726825d.pth`).

Inputs are images in [0, 1], grey ones repeated to RGB, resized to 299x299 bilinearly (align_corners=False)
and scaled to [-1, 1]; features are the global average of Mixed_7c. The weights are read with
`torch.load(weights_only=True)` (no code runs) and must fill every parameter and buffer of the network
exactly, or the extractor refuses to exist: it never runs on partial or mismatched weights.

Why this module exists instead of torch-fidelity's `FeatureExtractorInceptionV3` or pytorch-fid's
`InceptionV3`: both packages import torchvision, whose only builds on the registries we reach are CUDA builds
that fail to import beside tokbench's pinned CPU torch 2.13 (see `tokbench.metrics.fid`). The network was
checked block for block against torch-fidelity 0.4.0's: the same weights file loads into both and gives the
same pool3 features (benchmarks/RESULTS.md, "Metric parity"). Where torchvision imports, replace this module
with torch-fidelity's extractor (it takes the same file through `feature_extractor_weights_path`); note that
torch-fidelity resizes like TensorFlow 1 (no half-pixel offset) where this module follows pytorch-fid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tokbench.errors import TokbenchError

FID_INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    """conv (no bias) + batch norm (eps 0.001) + ReLU."""

    def __init__(self, cin: int, cout: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_no_pad(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool_no_pad(x)),
        ], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_no_pad(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b7 = x
        for layer in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """`max_pool=False`: FID's first E block (average pool without padding); True: the last (max pool)."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool_no_pad(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 up to pool3 (plus the 1008-way `fc` so the published state dict loads whole)."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def pool3(self, x):
        """Images (B, 3, 299, 299) in [-1, 1] -> (B, 2048)."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def load_fid_weights(net: nn.Module, path: Path) -> None:
    """Fill `net` from the weights file, refusing anything but an exact fit (`num_batches_tracked`, a BN
    counter unused in evaluation, may be absent)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-facing refusal
        raise TokbenchError(f"{path}: cannot read the Inception weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise TokbenchError(f"{path}: not a state dict (parameter names to tensors) but a {type(state).__name__}")
    own = net.state_dict()
    needed = {k for k in own if not k.endswith("num_batches_tracked")}
    missing = sorted(needed - set(state))
    extra = sorted(k for k in set(state) - set(own) if not k.endswith("num_batches_tracked"))
    if missing or extra:
        raise TokbenchError(f"{path}: weights do not fit the FID Inception network "
                            f"(missing {missing[:3]}, unexpected {extra[:3]})")
    used = sorted(k for k in state if k in own)  # every needed entry, and the counters the file has
    for key in used:
        value, expected = state[key], tuple(own[key].shape)
        if not isinstance(value, torch.Tensor):
            raise TokbenchError(f"{path}: {key} is a {type(value).__name__}, not a tensor")
        if tuple(value.shape) != expected:
            raise TokbenchError(f"{path}: {key} has shape {tuple(value.shape)}, expected {expected}")
    net.load_state_dict({k: state[k] for k in used})  # strict: a counter the file lacks, BatchNorm sets to 0


class FIDInceptionExtractor:
    """`FeatureExtractor` over the FID Inception pool3 features; its Fréchet distance is rFID."""

    name = "inception"

    def __init__(self, weights: str | Path, device: str = "cpu", batch_size: int = 50) -> None:
        self.net = FIDInceptionV3()
        load_fid_weights(self.net, Path(weights))
        self.net.eval().to(device)
        self.device, self.batch_size = device, batch_size

    @torch.no_grad()
    def __call__(self, images) -> np.ndarray:
        """Images (N, C, H, W) in [0, 1], a numpy array or a tensor on any device -> (N, 2048) float64."""
        out = []
        for s in range(0, len(images), self.batch_size):
            batch = images[s:s + self.batch_size]
            x = (batch.detach().to(self.device, torch.float32) if isinstance(batch, torch.Tensor)
                 else torch.as_tensor(np.asarray(batch, dtype=np.float32), device=self.device))
            if x.shape[1] == 1:
                x = x.repeat(1, 3, 1, 1)
            x = F.interpolate(x, size=(FID_INPUT_SIZE, FID_INPUT_SIZE), mode="bilinear", align_corners=False)
            out.append(self.net.pool3(2 * x - 1).double().cpu().numpy())
        return np.concatenate(out)
