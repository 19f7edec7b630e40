"""A float64 brute-force nearest-code search, and the rule that says when a fast answer is as good as it.

Two indices can both be right: when two codes sit at (numerically) the same distance, fp32 rounding may pick
either. So a fast index that differs from the float64 reference is accepted only when its float64 distance is
within the rounding error of the fp32 computation (``tol = 4 (D + 2) u (||x||^2 + max_k ||c_k||^2)``, u the unit
roundoff of the arithmetic used: 2^-24 for fp32, 2^-11 for TF32), the standard forward error bound of a
length-D dot product (Higham, *Accuracy and Stability of Numerical Algorithms*, 2002, eq. 3.5) with slack.
Used by the tests and by `tokbench bench-lookup` to verify every method it times.
"""

from __future__ import annotations

import torch

#: unit roundoff of the arithmetic each precision uses
UNIT_ROUNDOFF = {"ieee": 2.0 ** -24, "tf32": 2.0 ** -11, "float64": 2.0 ** -53}


def reference_distances(x: torch.Tensor, codebook: torch.Tensor, rows: int = 1024) -> torch.Tensor:
    """(N, K) float64 ``||c_k||^2 - 2 x.c_k`` — the brute force (allocates N x K; only for small checks)."""
    x64 = x.detach().reshape(-1, x.shape[-1]).to(torch.float64).cpu()
    c64 = codebook.detach().to(torch.float64).cpu()
    s = (c64 * c64).sum(1)
    return torch.cat([s - 2 * (x64[r:r + rows] @ c64.T) for r in range(0, max(1, x64.shape[0]), rows)])


def reference_nearest(x: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 (indices, distances) with ties to the lowest index; indices shaped like ``x.shape[:-1]``."""
    dist = reference_distances(x, codebook)
    v, i = dist.min(dim=1)
    return i.reshape(x.shape[:-1]), v.reshape(x.shape[:-1])


def disagreements(indices: torch.Tensor, x: torch.Tensor, codebook: torch.Tensor, precision: str = "ieee",
                  slack: float = 4.0) -> torch.Tensor:
    """Rows (flat positions) whose index is worse than the float64 optimum by more than rounding can explain.

    An empty result means `indices` is a correct nearest-code answer for `x` under `precision`.
    """
    dist = reference_distances(x, codebook)
    d = x.shape[-1]
    flat = indices.detach().reshape(-1).cpu().to(torch.int64)
    if flat.numel() == 0:
        return flat
    if int(flat.min()) < 0 or int(flat.max()) >= codebook.shape[0]:
        return torch.nonzero((flat < 0) | (flat >= codebook.shape[0])).flatten()
    chosen = dist.gather(1, flat.unsqueeze(1)).squeeze(1)
    best = dist.min(dim=1).values
    x64 = x.detach().reshape(-1, d).to(torch.float64).cpu()
    c64 = codebook.detach().to(torch.float64).cpu()
    scale = (x64 * x64).sum(1) + (c64 * c64).sum(1).max()
    tol = slack * (d + 2) * UNIT_ROUNDOFF[precision] * scale
    return torch.nonzero(chosen - best > tol).flatten()
