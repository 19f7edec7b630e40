"""Fréchet distance between image feature distributions, with pluggable feature extractors.

FD = ||mu_1 - mu_2||^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^(1/2))   (Dowson & Landau 1982; Heusel et al. 2017)

The number is only called **rFID** when the features are the pool3 activations of the standard FID Inception
network (`pt_inception-2015-12-05-6726825d.pth`, the TensorFlow 2015-12-05 graph ported by pytorch-fid) and that
file's sha256 matches `INCEPTION_SHA256`. Any other extractor's figure is named for it (`fd_pixels`, ...), so a
reader never mistakes it for an FID. Without the verified weights `rfid_status` says why, and nothing is
estimated in its place.

Why the distance and the network are tokbench's own code (`tokbench.metrics.inception`), not a library's:
torch-fidelity (which torchmetrics' FID also needs) and pytorch-fid both require torchvision, and the only
torchvision builds on the package registries these machines reach are CUDA builds that do not import beside
the CPU build of torch 2.13 that tokbench pins ("operator torchvision::nms does not exist"). The Fréchet
distance is the formula above in a few lines, checked in the tests against pytorch-fid's computation (scipy's
`sqrtm`); the network is checked against torch-fidelity's Inception-v3 in RESULTS.md (same weights file, same
pool3 features on the same 299x299 input). Feature extractors take numpy arrays or torch tensors; tensors are
pooled / run on their own device and only the (N, D) features come back to the CPU.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tokbench.runs import sha256_file

INCEPTION_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
#: sha256 of pytorch-fid's release file (its name carries the first 8 hex digits, the torch hub convention);
#: the same value is pinned by torch-fidelity and by several published evaluation scripts.
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INCEPTION_BYTES = 95_628_359
#: pool3 features of the FID Inception network. The standard rFID needs at least this many images per set: with
#: fewer, each set's feature covariance has rank N - 1 < 2048 and the figure is biased (upward, strongly so for
#: small N) and not comparable with published ones (issue 14), so it is refused, not reported.
INCEPTION_FEATURES = 2048
RFID_MIN_IMAGES = INCEPTION_FEATURES


# ---------------------------------------------------------------------------------------------- the distance
def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, N-1, as pytorch-fid's `np.cov(rowvar=False)`) of (N, D) features."""
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors shaped (N, D), got {feats.shape}")
    mu = feats.mean(axis=0)
    centred = feats - mu
    sigma = centred.T @ centred / (feats.shape[0] - 1)
    return mu, sigma


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix through its eigendecomposition."""
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S_1 S_2)^(1/2)) for PSD S_1, S_2.

    S_1 S_2 is similar to S_1^(1/2) S_2 S_1^(1/2) (= A, symmetric PSD), so both share eigenvalues and
    Tr((S_1 S_2)^(1/2)) = sum_i sqrt(lambda_i(A)). This avoids the general (non-symmetric) matrix square
    root that pytorch-fid takes with `scipy.linalg.sqrtm`, and its complex round-off.
    """
    root1 = _psd_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    vals = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(vals, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, S1) and N(mu2, S2), formula in the module doc."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))
    return max(value, 0.0)  # a true distance; tiny negatives are round-off


# ---------------------------------------------------------------------------------------------- extractors
class FeatureExtractor(Protocol):
    """Maps images (N, C, H, W) float in [0, 1] to features (N, D). `name` names the reported metric
    (`fd_<name>`); only the verified FID Inception network may call its figure rFID."""

    name: str

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


@dataclass
class PixelFeatures:
    """Raw pixels, average-pooled by the smallest integer factor that brings each side to at most `max_side`
    (so a 32x32 RGB image gives 3x16x16 = 768 features), then flattened. A cheap, honest distribution
    distance with no learned weights: it sees colour and layout, not semantics, and is not comparable to FID."""

    max_side: int = 16
    name: str = "pixels"

    def __call__(self, images) -> np.ndarray:
        import torch

        x = images.detach() if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
        x = x.to(torch.float64)
        n, c, h, w = x.shape
        f = max(1, math.ceil(max(h, w) / self.max_side))
        hh, ww = h // f, w // f
        x = x[:, :, :hh * f, :ww * f].reshape(n, c, hh, f, ww, f).mean(dim=(3, 5))
        return x.reshape(n, -1).cpu().numpy()


def fd_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))


def fd(reference: np.ndarray, reconstruction: np.ndarray, extractor: FeatureExtractor | None = None) -> float:
    """Fréchet distance between the `extractor` features of two image sets (default: `PixelFeatures`)."""
    extractor = extractor or PixelFeatures()
    return fd_from_features(extractor(reference), extractor(reconstruction))


# ---------------------------------------------------------------------------------------------- rFID weights
def hub_checkpoint_dir() -> Path:
    """torch hub's checkpoint cache: $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints),
    found without importing torch."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


@dataclass
class RfidStatus:
    """Whether rFID can be computed: the verified weights file, or the reason it cannot."""

    weights: Path | None
    reason: str | None

    @property
    def available(self) -> bool:
        return self.weights is not None


def rfid_status(weights: str | os.PathLike | None = None, n_images: int | None = None) -> RfidStatus:
    """Find and verify the FID Inception weights: the given path, else the torch hub cache. Nothing is
    downloaded; a file whose sha256 differs from `INCEPTION_SHA256` is refused, and so is an evaluation of
    `n_images` < `RFID_MIN_IMAGES` images (when given)."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            return RfidStatus(None, f"Inception weights {path} not found")
    else:
        path = hub_checkpoint_dir() / INCEPTION_FILENAME
        if not path.is_file():
            return RfidStatus(None, f"standard FID Inception weights ({INCEPTION_FILENAME}) not found in {path.parent} "
                                    "and no --inception-weights given; rFID is never estimated")
    digest = sha256_file(path)
    if digest != INCEPTION_SHA256:
        return RfidStatus(None, f"{path}: sha256 {digest[:16]}... does not match the standard FID Inception weights "
                                f"({INCEPTION_SHA256[:16]}...)")
    if n_images is not None and n_images < RFID_MIN_IMAGES:
        return RfidStatus(None, f"rFID needs at least {RFID_MIN_IMAGES} images (the Inception feature dimension, "
                                f"for a full-rank covariance); {n_images} evaluated")
    return RfidStatus(path, None)


def inception_extractor(status: RfidStatus, device: str = "cpu", batch_size: int = 50):
    """The FID Inception pool3 extractor for verified weights (imports torch); a `FeatureExtractor` named
    "inception" whose figure may be reported as rFID."""
    if not status.available:
        raise ValueError(status.reason)
    from tokbench.metrics.inception import FIDInceptionExtractor

    return FIDInceptionExtractor(status.weights, device=device, batch_size=batch_size)
