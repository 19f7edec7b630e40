"""Quantizer adapters with one shape, so every family can swap them like vector-quantize-pytorch's quantizers.

Every adapter maps latents `z` of shape (B, T, dim) to
- `forward(z) -> (zq, tokens, losses)`: straight-through quantized latents, tokens, and named aux losses
  (already weighted, summed into the training loss);
- `tokens(z)`: tokens only, without gradients (the inference path: VQ lookup goes through `tokbench.kernels`);
- `codes(tokens) -> zq`: the inverse, used by `decode`;
- `stats_ids(tokens) -> (ids (M, G) int64, [vocabulary of each column])`: integer ids per statistics group, for usage / entropy.

Tokens are int64 code indices (B, T) for `vq` and `fsq`; for `lfq` / `bsq` they are bit tensors (B, T, bits)
of dtype bool, never packed into one integer, so codes wider than 63 bits are fine.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tokbench.errors import TokbenchError
from tokbench.metrics.rate import bits_per_token

QUANTIZERS = ("vq", "fsq", "lfq", "bsq")


# ---------------------------------------------------------------------------------------------- nearest code
def nearest_code_ip(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """argmax_k <x, e_k> for rows of `x` (N, D) over `codebook` (K, D): VectorQuantize's cosine-sim choice
    (the largest dot product with the stored codes; its EMA keeps them near unit norm, but the search does not
    rely on that). Goes through `tokbench.kernels.lookup.nearest_code` with zero code norms, which turns its
    argmin_k (|e_k|^2 - 2 <x, e_k>) into the maximum inner product without building the N x K matrix."""
    try:
        from tokbench.kernels.lookup import nearest_code
    except ImportError:  # kernels not installed in this tree: the same search, one N x K matrix at a time
        return (x.float() @ codebook.float().t()).argmax(-1)
    zeros = torch.zeros(codebook.shape[0], dtype=torch.float32, device=codebook.device)
    return nearest_code(x.float(), codebook.float(), codebook_sqnorm=zeros).long()


def nearest_code_l2(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """argmin_k ||x - e_k||^2 through `tokbench.kernels.lookup.nearest_code` (the Euclidean codebook's choice)."""
    try:
        from tokbench.kernels.lookup import nearest_code
    except ImportError:
        return torch.cdist(x.float(), codebook.float()).argmin(-1)
    return nearest_code(x.float(), codebook.float()).long()


# ---------------------------------------------------------------------------------------------- adapters
class VQ(nn.Module):
    """VectorQuantize (vector-quantize-pytorch) with l2-normalized codes in a low dimension (ViT-VQGAN,
    Yu et al. 2022), an EMA or learnable codebook, and dead-code replacement (`threshold_ema_dead_code`).

    The library's cosine-sim codebook cannot be learnable, so with `ema=False` the codebook is a plain
    Euclidean one trained by the codebook/commitment loss (VQ-VAE, van den Oord et al. 2017)."""

    def __init__(self, dim: int, codebook_size: int, *, ema: bool = True, dead_code_threshold: float = 2.0,
                 commitment_weight: float = 0.25, decay: float = 0.8, kmeans_init: bool = False) -> None:
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.dim, self.codebook_size, self.cosine = dim, codebook_size, bool(ema)
        self.vq = VectorQuantize(dim=dim, codebook_size=codebook_size, use_cosine_sim=self.cosine, decay=decay,
                                 ema_update=ema, learnable_codebook=not ema,
                                 threshold_ema_dead_code=dead_code_threshold,
                                 commitment_weight=commitment_weight, kmeans_init=kmeans_init, kmeans_iters=10)

    @property
    def bits_per_token(self) -> float:
        return bits_per_token(self.codebook_size)

    def forward(self, z: torch.Tensor):
        zq, idx, commit = self.vq(z)
        return zq, idx, {"commit_loss": commit.sum()}

    @torch.no_grad()
    def tokens(self, z: torch.Tensor) -> torch.Tensor:
        x = z.float().reshape(-1, self.dim)
        if self.cosine:  # the cosine-sim codebook compares unit inputs by dot product
            idx = nearest_code_ip(F.normalize(x, dim=-1), self.vq.codebook.detach())
        else:
            idx = nearest_code_l2(x, self.vq.codebook.detach())
        return idx.reshape(z.shape[:-1])

    def codes(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.vq.get_output_from_indices(tokens.long())

    def stats_ids(self, tokens: torch.Tensor):
        return tokens.reshape(-1, 1).long(), [self.codebook_size]


class FSQ(nn.Module):
    """Finite scalar quantization (Mentzer et al. 2023) from vector-quantize-pytorch: no codebook, no aux loss."""

    def __init__(self, dim: int, levels: list[int]) -> None:
        super().__init__()
        from vector_quantize_pytorch import FSQ as _FSQ

        if len(levels) != dim:
            raise TokbenchError(f"fsq_levels has {len(levels)} entries but code_dim is {dim}")
        if any(level < 3 for level in levels):
            raise TokbenchError("fsq_levels must all be >= 3")
        self.dim, self.levels = dim, list(levels)
        self.fsq = _FSQ(levels=list(levels))
        self.codebook_size = int(math.prod(levels))

    @property
    def bits_per_token(self) -> float:
        return bits_per_token(self.codebook_size)

    def forward(self, z: torch.Tensor):
        zq, idx = self.fsq(z)
        return zq, idx.long(), {}

    @torch.no_grad()
    def tokens(self, z: torch.Tensor) -> torch.Tensor:
        return self.fsq(z)[1].long()

    def codes(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fsq.indices_to_codes(tokens.long())

    def stats_ids(self, tokens: torch.Tensor):
        return tokens.reshape(-1, 1).long(), [self.codebook_size]


class Binary(nn.Module):
    """Lookup-free binary quantization: LFQ (Yu et al. 2023, MAGVIT-v2) and BSQ (Zhao et al. 2024, `spherical`).

    Written here rather than wrapping `vector_quantize_pytorch.LFQ`, because that class materializes all
    2^bits codes (`codebook_size = 2**bits`): 24 bits already needs a 16M x 24 table and 64 bits overflows.
    Here a code is a vector of signs: LFQ q = sign(z); BSQ u = z/|z|, q = sign(u)/sqrt(bits).

    Entropy loss (MAGVIT-v2 eq. 5): L = E[H(p(q|z))] - gamma * H(E[p(q|z)]), with
    p(q|z) ∝ exp(-||u - q||^2 / (s^2 tau)) over the codes (s = code scale). That distribution factorizes over
    bits, p(bit_i = 1 | z) = sigmoid(4 u_i / (s tau)), so the per-sample term is the exact sum of per-bit
    binary entropies. The codebook term over 2^bits codes is intractable; as in BSQ (sec. 3.3) it is
    approximated by splitting the bits into groups of `group` bits and summing the entropies of each group's batch-averaged distribution over its 2^group sub-codes
    (an upper bound on the joint entropy that is exact when the groups are independent).
    """

    def __init__(self, bits: int, *, spherical: bool, group: int = 8, entropy_weight: float = 0.1,
                 commitment_weight: float = 0.25, diversity_gamma: float = 1.0, temperature: float = 1.0) -> None:
        super().__init__()
        if bits < 1:
            raise TokbenchError("bits must be >= 1")
        if not 1 <= group <= 16:
            raise TokbenchError("entropy group must be 1..16 bits")
        self.dim = self.bits = bits
        self.spherical = spherical
        self.group = min(group, bits)
        self.entropy_weight, self.commitment_weight = entropy_weight, commitment_weight
        self.diversity_gamma, self.temperature = diversity_gamma, temperature
        self.scale = 1.0 / math.sqrt(bits) if spherical else 1.0
        self.codebook_size = 2 ** bits  # a Python int: exact for any width

    @property
    def bits_per_token(self) -> float:
        return float(self.bits)

    def _unit(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z.float(), dim=-1) if self.spherical else z.float()

    def forward(self, z: torch.Tensor):
        u = self._unit(z)
        q = torch.where(u > 0, self.scale, -self.scale).to(u.dtype)
        zq = u + (q - u).detach()
        losses = {}
        if self.training:
            if self.commitment_weight > 0:
                losses["commit_loss"] = self.commitment_weight * F.mse_loss(u, q.detach())
            if self.entropy_weight > 0:
                losses["entropy_loss"] = self.entropy_weight * self._entropy_loss(u)
        return zq, u > 0, losses

    def _entropy_loss(self, u: torch.Tensor) -> torch.Tensor:
        p1 = torch.sigmoid(4.0 * u * self.scale / (self.scale ** 2 * self.temperature))  # per-bit P(bit = 1)
        p1 = p1.reshape(-1, self.bits)
        eps = 1e-6
        per_sample = -(p1 * (p1 + eps).log() + (1 - p1) * (1 - p1 + eps).log()).sum(-1).mean()
        codebook = p1.new_zeros(())
        for start in range(0, self.bits, self.group):
            g = p1[:, start:start + self.group]  # (M, g)
            width = g.shape[1]
            patterns = _bit_patterns(width, g.device)  # (2^g, g)
            # P(sub-code c | z) = prod_i p_i^c_i (1-p_i)^(1-c_i), computed in log space
            logp = patterns @ (g + eps).log().t() + (1 - patterns) @ (1 - g + eps).log().t()  # (2^g, M)
            avg = logp.exp().mean(1)
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                from torch.distributed import nn as dist_nn

                avg = dist_nn.all_reduce(avg) / torch.distributed.get_world_size()
            codebook = codebook - (avg * (avg + eps).log()).sum()
        return per_sample - self.diversity_gamma * codebook

    @torch.no_grad()
    def tokens(self, z: torch.Tensor) -> torch.Tensor:
        return self._unit(z) > 0

    def codes(self, tokens: torch.Tensor) -> torch.Tensor:
        return (tokens.float() * 2 - 1) * self.scale

    def stats_ids(self, tokens: torch.Tensor):
        """Sub-code ids of each `group`-bit slice: (M, ceil(bits/group)), and each column's vocabulary
        (2^group, or 2^width for a narrower last slice)."""
        bits = tokens.reshape(-1, self.bits).long()
        cols = []
        for start in range(0, self.bits, self.group):
            g = bits[:, start:start + self.group]
            weights = 2 ** torch.arange(g.shape[1] - 1, -1, -1, device=g.device)
            cols.append((g * weights).sum(-1))
        return torch.stack(cols, 1), [2 ** min(self.group, self.bits - start) for start in range(0, self.bits, self.group)]


def _bit_patterns(width: int, device) -> torch.Tensor:
    ids = torch.arange(2 ** width, device=device)
    return ((ids[:, None] >> torch.arange(width - 1, -1, -1, device=device)) & 1).float()


def make_quantizer(kind: str, dim: int, cfg) -> nn.Module:
    """The adapter named by `kind` for latents of width `dim`, sized by the family config `cfg`."""
    if kind == "vq":
        return VQ(dim, cfg.codebook_size, ema=cfg.ema, dead_code_threshold=cfg.dead_code_threshold,
                  commitment_weight=cfg.commitment_weight, kmeans_init=cfg.codebook_init == "kmeans")
    if kind == "fsq":
        return FSQ(dim, list(cfg.fsq_levels))
    if kind in ("lfq", "bsq"):
        return Binary(dim, spherical=kind == "bsq", group=cfg.entropy_group, entropy_weight=cfg.entropy_weight,
                      commitment_weight=cfg.commitment_weight)
    raise TokbenchError(f"unknown quantizer {kind!r} (expected one of {', '.join(QUANTIZERS)})")
