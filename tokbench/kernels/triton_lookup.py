"""The fused nearest-codeword kernel in Triton (imported only where Triton is installed).

Each program owns BLOCK_N rows of x: it loads them once (the whole vector when D <= MAX_RESIDENT_D, otherwise
D is streamed in BLOCK_D chunks that stay in L1/L2), then walks the codebook in BLOCK_K tiles. Per tile it
computes ``s_k - 2 x.c_k`` with `tl.dot` (fp32 accumulation; `input_precision` "ieee" or "tf32" for fp32
inputs), and folds the tile into a running (min, argmin) per row held in registers. Only N indices and N
distances are written: no N x K matrix exists, in memory or in shared memory.

Configs are hand-picked per shape class (no autotune, so the first call does not benchmark). Under
`TRITON_INTERPRET=1` the kernel runs on CPU tensors through Triton's interpreter; there bf16/fp16 tiles are
widened to fp32 before `tl.dot`, since the interpreter's bf16 dot is unreliable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

#: largest D whose row block is kept resident for the whole codebook walk
MAX_RESIDENT_D = 256


@dataclass(frozen=True)
class Config:
    block_n: int
    block_k: int
    block_d: int
    num_warps: int
    num_stages: int


def pick_config(n: int, k: int, d: int, block_rows: int | None = None, block_codes: int | None = None) -> Config:
    """Hand-picked tile shapes per shape class.

    Small D (<= 64): the dot is cheap, so big row blocks amortize the codebook stream (128 x 64 tiles, 4 warps).
    Medium D (<= 128): 64 x 64 tiles. D <= 256: the resident row block costs registers, so narrower code tiles
    (64 x 32) and 8 warps. Larger D: D is streamed in 64-wide chunks. (Chosen by reasoning about register and
    shared-memory use; not yet timed on a GPU.)
    `tl.dot` needs every dimension >= 16, so D is padded (with masked zeros) to a power of two >= 16.
    """
    d_pow2 = max(16, triton.next_power_of_2(d))
    if d_pow2 <= 64:
        cfg = Config(128, 64, d_pow2, 4, 3)
    elif d_pow2 <= 128:
        cfg = Config(64, 64, d_pow2, 4, 3)
    elif d_pow2 <= MAX_RESIDENT_D:
        cfg = Config(64, 32, d_pow2, 8, 2)
    else:
        cfg = Config(64, 64, 64, 8, 3)
    bn = cfg.block_n if block_rows is None else max(16, triton.next_power_of_2(block_rows))
    bk = cfg.block_k if block_codes is None else max(16, triton.next_power_of_2(block_codes))
    if block_rows is None:  # tiny inputs: no point in mostly-masked row blocks
        bn = min(bn, max(16, triton.next_power_of_2(n)))
    if block_codes is None:
        bk = min(bk, max(16, triton.next_power_of_2(k)))
    return Config(bn, bk, cfg.block_d, cfg.num_warps, cfg.num_stages)


@triton.jit
def _nearest_code_kernel(
    x_ptr, c_ptr, s_ptr, idx_ptr, dist_ptr,
    N, K, D,
    stride_xn, stride_xd, stride_ck, stride_cd,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr,
    RESIDENT: tl.constexpr, WIDEN: tl.constexpr, INPUT_PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    dims = tl.arange(0, BLOCK_D)
    if RESIDENT:  # the row block is loaded once and reused against every codebook tile
        xb = tl.load(x_ptr + rows[:, None] * stride_xn + dims[None, :] * stride_xd,
                     mask=row_ok[:, None] & (dims[None, :] < D), other=0.0)
        if WIDEN:
            xb = xb.to(tl.float32)
    best = tl.full((BLOCK_N,), float("inf"), tl.float32)
    best_idx = tl.zeros((BLOCK_N,), tl.int32)
    for k0 in range(0, K, BLOCK_K):
        codes = k0 + tl.arange(0, BLOCK_K)
        code_ok = codes < K
        if RESIDENT:
            cb = tl.load(c_ptr + codes[None, :] * stride_ck + dims[:, None] * stride_cd,
                         mask=code_ok[None, :] & (dims[:, None] < D), other=0.0)
            if WIDEN:
                cb = cb.to(tl.float32)
            dot = tl.dot(xb, cb, input_precision=INPUT_PRECISION, out_dtype=tl.float32)
        else:  # large D: stream D in chunks, the row chunk comes back from cache
            dot = tl.zeros((BLOCK_N, BLOCK_K), tl.float32)
            for d0 in range(0, D, BLOCK_D):
                dd = d0 + dims
                xc = tl.load(x_ptr + rows[:, None] * stride_xn + dd[None, :] * stride_xd,
                             mask=row_ok[:, None] & (dd[None, :] < D), other=0.0)
                cc = tl.load(c_ptr + codes[None, :] * stride_ck + dd[:, None] * stride_cd,
                             mask=code_ok[None, :] & (dd[:, None] < D), other=0.0)
                if WIDEN:
                    xc = xc.to(tl.float32)
                    cc = cc.to(tl.float32)
                dot = tl.dot(xc, cc, acc=dot, input_precision=INPUT_PRECISION, out_dtype=tl.float32)
        s = tl.load(s_ptr + codes, mask=code_ok, other=float("inf"))
        dist = s[None, :] - 2.0 * dot
        tile_min = tl.min(dist, axis=1)
        # first (lowest) code index that reaches the tile minimum
        cand = tl.where(dist == tile_min[:, None], codes[None, :], 2147483647)
        tile_idx = tl.min(cand, axis=1)
        better = tile_min < best  # strict: a later tile never steals a tie
        best_idx = tl.where(better, tile_idx, best_idx)
        best = tl.where(better, tile_min, best)
    tl.store(idx_ptr + rows, best_idx.to(tl.int64), mask=row_ok)
    tl.store(dist_ptr + rows, best, mask=row_ok)


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def nearest_code_triton(x: torch.Tensor, codebook: torch.Tensor, sqnorm: torch.Tensor, *, precision: str = "ieee",
                        block_rows: int | None = None, block_codes: int | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Launch the kernel on (N, D) `x` and (K, D) `codebook` with precomputed fp32 `sqnorm` (K,).

    Returns int64 indices (N,) and fp32 distances ``s_k - 2 x.c_k`` (N,). Inputs are validated by
    `tokbench.kernels.nearest_code`; call that, not this, unless you know the inputs are clean.
    """
    n, d = x.shape
    k = codebook.shape[0]
    cfg = pick_config(n, k, d, block_rows, block_codes)
    if x.dtype != codebook.dtype:  # mixed input dtypes: compute both in fp32
        x, codebook = x.float(), codebook.float()
    widen = interpreting() and x.dtype != torch.float32
    sqnorm = sqnorm.to(torch.float32).contiguous()
    idx = torch.empty(n, dtype=torch.int64, device=x.device)
    dist = torch.empty(n, dtype=torch.float32, device=x.device)
    resident = d <= MAX_RESIDENT_D
    grid = (triton.cdiv(n, cfg.block_n),)
    _nearest_code_kernel[grid](
        x, codebook, sqnorm, idx, dist,
        n, k, d,
        x.stride(0), x.stride(1), codebook.stride(0), codebook.stride(1),
        BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, BLOCK_D=cfg.block_d if resident else 64,
        RESIDENT=resident, WIDEN=widen, INPUT_PRECISION=precision,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )
    return idx, dist
