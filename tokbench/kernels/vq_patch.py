"""Route vector-quantize-pytorch's codebook search through `nearest_code`.

vector-quantize-pytorch (1.x, class `Codebook`) scores every input against every code with a full
``-cdist`` matrix, then takes its argmax and builds an N x K one-hot (`Codebook.forward`). Its `VectorQuantize`,
`ResidualVQ`, `GroupedResidualVQ`, ... all call that one method, so it is the clean hook: `enable_fast_search`
swaps the class of every plain `Codebook` (and `VectorQuantize`) inside a module for a subclass whose forward
finds the indices with `nearest_code` and then follows the library's own code for everything else.

What stays identical: the indices (up to exact-distance ties, which the library breaks on its sqrt-clamped
distances), the quantized vectors (gathered from the same embedding), EMA/dead-code updates in training (they
are the library's own methods, fed the same one-hot), and the state dict. What changes: the returned distance
matrix is `None` (nothing in VectorQuantize reads it unless it is needed, see below), so eval never allocates
N x K, and training keeps only the library's one-hot.

The fast path is used when the library's own result would be a plain argmin:
- eval: always, except `topk` search, `codebook_transform_fn` (implicit codebooks) and `affine_param` codebooks;
- training: additionally only when sampling is deterministic (`stochastic_sample_codes=False`,
  `straight_through=False`) and the owning VectorQuantize needs no distances (no codebook-diversity loss, no
  cross-entropy commitment loss, no `indices=` cross-entropy call). Anything else falls back to the library.
Cosine-similarity codebooks are searched as ``argmax x.c`` via `codebook_sqnorm = 0`, exactly their score.
One deliberate difference: NaN or infinite inputs (a diverged model) raise `LookupInputError` instead of
silently quantizing to an arbitrary code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from vector_quantize_pytorch.vector_quantize_pytorch import Codebook, VectorQuantize

from tokbench.kernels.lookup import nearest_code

__all__ = ["enable_fast_search", "disable_fast_search", "fast_search", "vq_search", "codebook_search",
           "FastSearchCodebook", "FastSearchVectorQuantize"]


def codebook_search(codebook: nn.Module, flatten: torch.Tensor, embed: torch.Tensor | None = None) -> torch.Tensor:
    """Indices (h, M) of the nearest codes for packed inputs `flatten` (h, M, d) in a library `Codebook`.

    `embed` (h, K, d) defaults to the codebook's stored embedding. Euclidean codebooks use squared distance;
    cosine codebooks (`use_cosine_sim=True`) use the inner product, as the library scores them.
    """
    if embed is None:
        embed = codebook.embed.detach().to(flatten.dtype)
    heads = flatten.shape[0]
    if embed.shape[0] != heads:
        embed = embed.expand(heads, -1, -1)
    zeros = embed.new_zeros(embed.shape[1]) if getattr(codebook, "use_cosine_sim", False) else None
    return torch.stack([nearest_code(flatten[h], embed[h].detach(), codebook_sqnorm=zeros) for h in range(heads)])


def _deterministic_sampling(codebook: Codebook) -> bool:
    """Whether the library's sampler would return the plain argmax with a hard one-hot in training."""
    sampler = codebook.gumbel_sample
    keywords = getattr(sampler, "keywords", None)
    if keywords is None:
        return False
    return not keywords.get("stochastic", False) and not keywords.get("straight_through", False)


class FastSearchCodebook(Codebook):
    """A `Codebook` whose nearest-code search runs through `tokbench.kernels.nearest_code`."""

    _tokbench_needs_distances = False

    def _fast_path_ok(self, codebook_transform_fn, topk) -> bool:
        if topk is not None or codebook_transform_fn is not None or self.affine_param:
            return False
        if self._tokbench_needs_distances:
            return False
        return not self.training or _deterministic_sampling(self)

    @torch.amp.autocast("cuda", enabled=False)
    def forward(self, x, sample_codebook_temp=None, mask=None, freeze_codebook=False,
                codebook_transform_fn=None, ema_update_weight=None, accum_ema_update=False, ema_update=None,
                topk=None, update_usage=True):
        if not self._fast_path_ok(codebook_transform_fn, topk):
            return super().forward(x, sample_codebook_temp=sample_codebook_temp, mask=mask,
                                   freeze_codebook=freeze_codebook, codebook_transform_fn=codebook_transform_fn,
                                   ema_update_weight=ema_update_weight, accum_ema_update=accum_ema_update,
                                   ema_update=ema_update, topk=topk, update_usage=update_usage)
        ema_update = self.ema_update if ema_update is None else ema_update
        needs_codebook_dim = x.ndim < 4
        x = x.float()
        if needs_codebook_dim:
            x = x.unsqueeze(0)
        heads, inner, dim = x.shape[0], x.shape[1:-1], x.shape[-1]
        flatten = x.reshape(heads, -1, dim)
        if mask is not None:  # the library's layout: c (b h n)
            mask = mask.reshape(1, mask.shape[0], 1, mask.shape[1])
            mask = mask.expand(heads, -1, flatten.shape[1] // (mask.shape[1] * mask.shape[3]), -1)
            mask = mask.reshape(heads, -1)
        self.init_embed_(flatten, mask=mask)
        embed = self.embed if self.learnable_codebook else self.embed.detach()
        embed = embed.to(flatten.dtype)
        if self.vq_bridge is not None:
            embed = self.vq_bridge(embed)

        with torch.no_grad():
            embed_ind = codebook_search(self, flatten.detach(), embed.detach())  # (h, M)

        if self.training:
            embed_onehot = F.one_hot(embed_ind, self.codebook_size).type(flatten.dtype)
            quantize = torch.einsum("h m c, h c d -> h m d", embed_onehot, embed)
            if update_usage and not freeze_codebook:
                self.update_codebook(flatten, embed_onehot, mask=mask, ema_update_weight=ema_update_weight,
                                     accum_ema_update=accum_ema_update, ema_update=ema_update)
        else:
            index = embed_ind.unsqueeze(-1).expand(-1, -1, dim)
            quantize = embed.expand(heads, -1, -1).gather(1, index) if embed.shape[0] != heads else \
                embed.gather(1, index)
        quantize = quantize.reshape(heads, *inner, dim)
        embed_ind = embed_ind.reshape(heads, *inner)
        if needs_codebook_dim:
            quantize, embed_ind = quantize[0], embed_ind[0]
        return quantize, embed_ind, None


class FastSearchVectorQuantize(VectorQuantize):
    """A `VectorQuantize` that tells its codebook when the library needs the full distance matrix."""

    def forward(self, x, indices=None, *args, **kwargs):
        needs = indices is not None or (self.training and (
            self.has_codebook_diversity_loss or (self.has_commitment_loss and self.commitment_use_cross_entropy_loss)))
        codebook = self._codebook
        previous = codebook.__dict__.get("_tokbench_needs_distances")
        codebook._tokbench_needs_distances = needs
        try:
            return super().forward(x, indices, *args, **kwargs)
        finally:
            if previous is None:
                codebook.__dict__.pop("_tokbench_needs_distances", None)
            else:
                codebook._tokbench_needs_distances = previous


_SWAPS = {Codebook: FastSearchCodebook, VectorQuantize: FastSearchVectorQuantize}
_UNSWAPS = {fast: plain for plain, fast in _SWAPS.items()}


def enable_fast_search(module: nn.Module) -> int:
    """Make every vector-quantize-pytorch `Codebook` inside `module` search with `nearest_code`, in place.

    Works on a `VectorQuantize`, a `ResidualVQ`, a bare `Codebook` or any model holding them (the class of each
    exact `Codebook` / `VectorQuantize` instance is swapped; parameters, buffers and the state dict are
    untouched). Idempotent. Returns the number of codebooks now on the fast path.
    """
    count = 0
    for m in module.modules():
        fast = _SWAPS.get(type(m))
        if fast is not None:
            m.__class__ = fast
        if type(m) is FastSearchCodebook:
            count += 1
    return count


def disable_fast_search(module: nn.Module) -> int:
    """Undo `enable_fast_search` on `module`; returns the number of codebooks restored."""
    count = 0
    for m in module.modules():
        plain = _UNSWAPS.get(type(m))
        if plain is not None:
            m.__class__ = plain
            count += plain is Codebook
    return count


@contextlib.contextmanager
def fast_search(module: nn.Module) -> Iterator[nn.Module]:
    """``with fast_search(vq): vq(x)`` — fast search inside the block, the library's own outside it."""
    already = {id(m) for m in module.modules() if type(m) in _UNSWAPS}
    enable_fast_search(module)
    try:
        yield module
    finally:
        for m in module.modules():
            plain = _UNSWAPS.get(type(m))
            if plain is not None and id(m) not in already:
                m.__class__ = plain


def vq_search(vq: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode ``(quantized, indices)`` of a `VectorQuantize` / `ResidualVQ` on `x`, searched by `nearest_code`.

    Same layout and values as ``vq.eval(); quantized, indices, _ = vq(x)`` (gradients off, the module's
    train/eval mode and class restored afterwards).
    """
    was_training = vq.training
    vq.eval()
    try:
        with fast_search(vq), torch.no_grad():
            out = vq(x)
    finally:
        vq.train(was_training)
    return out[0], out[1]
