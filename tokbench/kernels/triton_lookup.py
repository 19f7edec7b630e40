"""The fused nearest-codeword kernel in Triton (imported only where Triton is installed).

Each program owns BLOCK_N rows of x and one contiguous slice of the codebook (the whole codebook unless the
call is split, below). It loads its rows once (the whole vector when D <= MAX_RESIDENT_D, otherwise D is
streamed in BLOCK_D chunks that stay in L1/L2), then walks its codes in BLOCK_K tiles. Per tile it computes
``s_k - 2 x.c_k`` with `tl.dot` (fp32 accumulation; `input_precision` "ieee" or "tf32" for fp32 inputs) and
folds the tile into a running (min, argmin) per row held in registers. Only N indices and N distances are
written: no N x K matrix exists, in memory or in shared memory.

Offsets. Every pointer formed from a row, code or dimension index is computed in 64 bits (the indices are
widened before they meet a stride; a transposed x has a dimension stride of N), so N x D or K x D past 2^31
elements is addressed correctly; indices themselves stay 32-bit inside the kernel (the caller checks K).

Split codebook. When N is too small to give every SM a few row blocks (say N = 4,096 against K = 4M codes),
the codebook is cut into `splits` contiguous slices, one program per (row block, slice); each writes its
slice's (min, argmin) and `_merge_splits_kernel` keeps, per row, the first slice holding the minimum. Slices
are in code order and every comparison is strict, so ties still go to the lowest index.

Tiles. `pick_config` reads `TILES`, a table keyed by (precision class, D bucket, K bucket) seeded from a sweep
on an H200 (benchmarks/gpu_lookup_check.py re-runs that sweep and prints a table to paste back). No autotuning:
the first call does not benchmark, and a given shape class always gets the same tile. On a GPU with less shared
memory than the H200, a tile that does not fit is shrunk (`shrink`: stages, then rows, then codes) on its first
launch, and the tile that fits is remembered for the rest of the process.

Under `TRITON_INTERPRET=1` the kernels run on CPU tensors through Triton's interpreter; there bf16/fp16 tiles
are widened to fp32 before `tl.dot`, since the interpreter's bf16 dot is unreliable.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

#: largest D whose row block is kept resident for the whole codebook walk
MAX_RESIDENT_D = 256
#: chunk of D per step when D is streamed (D > MAX_RESIDENT_D)
STREAM_BLOCK_D = 64
#: split the codebook only when the row blocks alone give fewer than this many programs per SM (1: they do not
#: even fill one wave; the measured tiles at N = 65,536 run unsplit) ...
SPLIT_BELOW_PROGRAMS_PER_SM = 1
#: ... aiming at this many programs per SM in all, each slice keeping at least MIN_TILES_PER_SPLIT code tiles
SPLIT_TARGET_PROGRAMS_PER_SM = 4
MIN_TILES_PER_SPLIT = 4
#: largest codebook the kernel indexes (indices are int32 inside the kernel; slice starts must not overflow)
MAX_CODES = 2**31 - 2**20


@dataclass(frozen=True)
class Config:
    block_n: int
    block_k: int
    block_d: int
    num_warps: int
    num_stages: int
    splits: int = 1


# (block_n, block_k, num_warps, num_stages) per (precision class, D bucket, K bucket).
# "measured": best of the tile sweep on an NVIDIA H200 (triton 3.6, 2026-11-29) at the shape in the comment;
# other entries are borrowed from the nearest measured class or, for fp32 "ieee" (not swept), the earlier
# hand-picked tiles. K buckets share tiles until a sweep says otherwise (the table keeps them apart so it can).
_HALF_SMALL_D = (128, 128, 4, 3)   # like tf32 at D = 32
_TF32_SMALL_D = (128, 128, 4, 3)   # measured: 65536 x 16384 x 32 tf32, 0.45 ms
_WIDE_128 = (256, 64, 4, 3)        # measured: 65536 x 256 x 128, tf32 0.037 ms and bf16 0.021 ms
_HALF_256 = (256, 64, 4, 3)        # measured: 65536 x 1024 x 256 bf16, 0.084 ms
_TF32_256 = (128, 32, 8, 3)        # measured: 65536 x 1024 x 256 tf32, 0.20 ms
_STREAMED = (64, 64, 8, 3)         # D > 256: D streamed in 64-wide chunks (not swept)
_IEEE = {16: (128, 64, 4, 3), 32: (128, 64, 4, 3), 64: (128, 64, 4, 3), 128: (64, 64, 4, 3), 256: (64, 32, 8, 2)}
D_BUCKETS = (16, 32, 64, 128, 256, "streamed")
K_BUCKETS = ("k<=1024", "k<=65536", "k>65536")


def _tile_table() -> dict[tuple[str, int | str, str], tuple[int, int, int, int]]:
    table = {}
    for kb in K_BUCKETS:
        for db in (16, 32, 64):
            table["half", db, kb] = _HALF_SMALL_D
            table["tf32", db, kb] = _TF32_SMALL_D
        table["half", 128, kb] = table["tf32", 128, kb] = _WIDE_128
        table["half", 256, kb] = _HALF_256
        table["tf32", 256, kb] = _TF32_256
        for db, tile in _IEEE.items():
            table["ieee", db, kb] = tile
        for pc in ("half", "tf32", "ieee"):
            table[pc, "streamed", kb] = _STREAMED
    return table


TILES = _tile_table()


def shape_class(k: int, d: int, dtype: torch.dtype, precision: str) -> tuple[str, int | str, str]:
    """The `TILES` key of a call: precision class ("half" for fp16/bf16, else the fp32 precision), D bucket (the
    padded D, a power of two >= 16, or "streamed" above MAX_RESIDENT_D) and K bucket."""
    pclass = "half" if dtype in (torch.float16, torch.bfloat16) else precision
    d_pow2 = max(16, triton.next_power_of_2(d))
    dbucket: int | str = d_pow2 if d_pow2 <= MAX_RESIDENT_D else "streamed"
    kbucket = K_BUCKETS[0] if k <= 1024 else K_BUCKETS[1] if k <= 65536 else K_BUCKETS[2]
    return pclass, dbucket, kbucket


def pick_config(n: int, k: int, d: int, block_rows: int | None = None, block_codes: int | None = None, *,
                dtype: torch.dtype = torch.float32, precision: str = "ieee", sm_count: int | None = None,
                splits: int | None = None) -> Config:
    """The tile for this call: `TILES[shape_class(...)]`, clipped to tiny inputs, then the codebook split.

    `tl.dot` needs every dimension >= 16, so D is padded (masked zeros) to a power of two >= 16. `block_rows` /
    `block_codes` override the tile, `splits` the number of codebook slices (else `choose_splits`).
    """
    key = shape_class(k, d, dtype, precision)
    bn, bk, warps, stages = TILES[key]
    block_d = STREAM_BLOCK_D if key[1] == "streamed" else key[1]
    if block_rows is not None:
        bn = max(16, triton.next_power_of_2(block_rows))
    else:  # tiny inputs: no point in mostly-masked row blocks
        bn = min(bn, max(16, triton.next_power_of_2(n)))
    if block_codes is not None:
        bk = max(16, triton.next_power_of_2(block_codes))
    else:
        bk = min(bk, max(16, triton.next_power_of_2(k)))
    if splits is None:
        splits = choose_splits(n, k, bn, bk, sm_count)
    tiles = triton.cdiv(k, bk)
    splits = triton.cdiv(tiles, triton.cdiv(tiles, max(1, min(splits, tiles))))  # no empty slice
    return Config(bn, bk, block_d, warps, stages, splits)


def choose_splits(n: int, k: int, block_n: int, block_k: int, sm_count: int | None) -> int:
    """How many codebook slices: 1 when the row blocks fill the GPU (or the SM count is unknown), else enough to
    reach SPLIT_TARGET_PROGRAMS_PER_SM programs per SM, keeping MIN_TILES_PER_SPLIT code tiles per slice."""
    if not sm_count:
        return 1
    row_programs = triton.cdiv(n, block_n)
    if row_programs >= SPLIT_BELOW_PROGRAMS_PER_SM * sm_count:
        return 1
    wanted = triton.cdiv(SPLIT_TARGET_PROGRAMS_PER_SM * sm_count, row_programs)
    return max(1, min(wanted, triton.cdiv(k, block_k) // MIN_TILES_PER_SPLIT))


@functools.lru_cache(maxsize=None)
def _sm_count(device_index: int) -> int:
    return torch.cuda.get_device_properties(device_index).multi_processor_count


def sm_count_of(device: torch.device) -> int | None:
    """Streaming multiprocessors of a CUDA device (cached); None elsewhere (the interpreter never auto-splits)."""
    if device.type != "cuda":
        return None
    return _sm_count(device.index if device.index is not None else torch.cuda.current_device())


@triton.jit
def _nearest_code_kernel(
    x_ptr, c_ptr, s_ptr, idx_ptr, dist_ptr,
    N, K, D, CODES_PER_SPLIT, scale,
    stride_xn, stride_xd, stride_ck, stride_cd,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr,
    RESIDENT: tl.constexpr, WIDEN: tl.constexpr, SCALED: tl.constexpr, INPUT_PRECISION: tl.constexpr,
):
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    # 64-bit row offsets: rows * stride_xn passes 2^31 once N x D does
    rows = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    # 64-bit dimension offsets too: a column-major x or codebook has a dimension stride of N or K
    dims = tl.arange(0, BLOCK_D).to(tl.int64)
    x_rows = x_ptr + rows[:, None] * stride_xn
    if RESIDENT:  # the row block is loaded once and reused against every codebook tile
        xb = tl.load(x_rows + dims[None, :] * stride_xd, mask=row_ok[:, None] & (dims[None, :] < D), other=0.0)
        if SCALED:  # exact power-of-two rescale, done here instead of on a full-size copy
            xb = (xb.to(tl.float32) * scale).to(xb.dtype)
        if WIDEN:
            xb = xb.to(tl.float32)
    best = tl.full((BLOCK_N,), float("inf"), tl.float32)
    best_idx = tl.zeros((BLOCK_N,), tl.int32)
    k_start = pid_k * CODES_PER_SPLIT
    k_stop = tl.minimum(K, k_start + CODES_PER_SPLIT)
    for k0 in range(k_start, k_stop, BLOCK_K):
        codes = k0 + tl.arange(0, BLOCK_K)
        code_ok = codes < K
        # 64-bit code offsets: codes * stride_ck passes 2^31 once K x D does
        c_cols = c_ptr + codes.to(tl.int64)[None, :] * stride_ck
        if RESIDENT:
            cb = tl.load(c_cols + dims[:, None] * stride_cd, mask=code_ok[None, :] & (dims[:, None] < D), other=0.0)
            if SCALED:
                cb = (cb.to(tl.float32) * scale).to(cb.dtype)
            if WIDEN:
                cb = cb.to(tl.float32)
            dot = tl.dot(xb, cb, input_precision=INPUT_PRECISION, out_dtype=tl.float32)
        else:  # large D: stream D in chunks, the row chunk comes back from cache
            dot = tl.zeros((BLOCK_N, BLOCK_K), tl.float32)
            for d0 in range(0, D, BLOCK_D):
                dd = d0 + dims
                xc = tl.load(x_rows + dd[None, :] * stride_xd, mask=row_ok[:, None] & (dd[None, :] < D), other=0.0)
                cc = tl.load(c_cols + dd[:, None] * stride_cd, mask=code_ok[None, :] & (dd[:, None] < D), other=0.0)
                if SCALED:
                    xc = (xc.to(tl.float32) * scale).to(xc.dtype)
                    cc = (cc.to(tl.float32) * scale).to(cc.dtype)
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
    out = pid_k.to(tl.int64) * N + rows  # this slice's row of the (splits, N) outputs
    tl.store(idx_ptr + out, best_idx.to(tl.int64), mask=row_ok)
    tl.store(dist_ptr + out, best, mask=row_ok)


@triton.jit
def _merge_splits_kernel(part_idx_ptr, part_dist_ptr, idx_ptr, dist_ptr, N, SPLITS, BLOCK: tl.constexpr):
    """Per row, the (min, argmin) over the slices' partial results: the first slice that reaches the minimum."""
    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = rows < N
    p_dist = part_dist_ptr + rows
    p_idx = part_idx_ptr + rows
    best = tl.load(p_dist, mask=ok, other=float("inf"))
    best_idx = tl.load(p_idx, mask=ok, other=0)
    for _ in range(1, SPLITS):
        p_dist += N  # pointer steps: no 32-bit slice * N product
        p_idx += N
        v = tl.load(p_dist, mask=ok, other=float("inf"))
        i = tl.load(p_idx, mask=ok, other=0)
        better = v < best  # strict: slices come in code order, so ties keep the lower index
        best_idx = tl.where(better, i, best_idx)
        best = tl.where(better, v, best)
    tl.store(idx_ptr + rows, best_idx, mask=ok)
    tl.store(dist_ptr + rows, best, mask=ok)


@triton.jit
def _sqnorm_kernel(c_ptr, s_ptr, K, D, scale, stride_ck, stride_cd,
                   BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr, SCALED: tl.constexpr):
    """s_k = ||scale * c_k||^2 in fp32, one pass over the codebook without a (K, D) temporary."""
    codes = tl.program_id(0).to(tl.int64) * BLOCK_K + tl.arange(0, BLOCK_K)
    ok = codes < K
    acc = tl.zeros((BLOCK_K,), tl.float32)
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + tl.arange(0, BLOCK_D).to(tl.int64)
        c = tl.load(c_ptr + codes[:, None] * stride_ck + dd[None, :] * stride_cd,
                    mask=ok[:, None] & (dd[None, :] < D), other=0.0).to(tl.float32)
        if SCALED:
            c = c * scale
        acc += tl.sum(c * c, axis=1)
    tl.store(s_ptr + codes, acc, mask=ok)


@triton.jit
def _block_norms_and_max(base, rows, ok, stride_r, stride_d, D, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    """(squared norm per row, largest |value| of the block) of a block of rows; NaN counts as +inf."""
    acc = tl.zeros((BLOCK_R,), tl.float32)
    top = tl.zeros((BLOCK_R,), tl.float32)
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + tl.arange(0, BLOCK_D).to(tl.int64)
        v = tl.load(base + rows[:, None] * stride_r + dd[None, :] * stride_d,
                    mask=ok[:, None] & (dd[None, :] < D), other=0.0).to(tl.float32)
        acc += tl.sum(v * v, axis=1)
        top = tl.maximum(top, tl.max(tl.where(v == v, tl.abs(v), float("inf")), axis=1))
    return acc, tl.max(top, axis=0)


@triton.jit
def _prepare_kernel(x_ptr, c_ptr, s_ptr, stats_ptr, N, K, D, CODE_PROGRAMS,
                    stride_xn, stride_xd, stride_ck, stride_cd, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    """The wrapper's one pass over the inputs: programs [0, CODE_PROGRAMS) take blocks of codes (their squared
    norms into s, their largest |value| into stats[0]), the others blocks of x rows (largest |value| into
    stats[1]). NaN counts as +inf, so a non-finite input shows up as an infinite maximum."""
    pid = tl.program_id(0)
    if pid < CODE_PROGRAMS:
        rows = pid.to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
        ok = rows < K
        acc, top = _block_norms_and_max(c_ptr, rows, ok, stride_ck, stride_cd, D, BLOCK_R, BLOCK_D)
        tl.store(s_ptr + rows, acc, mask=ok)
        tl.atomic_max(stats_ptr, top)
    else:
        rows = (pid - CODE_PROGRAMS).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
        ok = rows < N
        _, top = _block_norms_and_max(x_ptr, rows, ok, stride_xn, stride_xd, D, BLOCK_R, BLOCK_D)
        tl.atomic_max(stats_ptr + 1, top)


def prepare_triton(x: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One launch over x (N, D) and the codebook (K, D): fp32 squared norms of the codes (K,) and a (2,) fp32
    tensor holding the largest |value| of the codebook and of x (+inf where a value is NaN or infinite)."""
    n, d = x.shape
    k = codebook.shape[0]
    sqnorm = torch.empty(k, dtype=torch.float32, device=codebook.device)
    stats = torch.zeros(2, dtype=torch.float32, device=codebook.device)
    block_d = min(128, max(16, triton.next_power_of_2(d)))
    block_r = max(16, 8192 // block_d)  # 8K elements per block: few programs, so few atomics on the two maxima
    code_programs = triton.cdiv(k, block_r)
    _prepare_kernel[(code_programs + triton.cdiv(n, block_r),)](
        x, codebook, sqnorm, stats, n, k, d, code_programs, x.stride(0), x.stride(1), codebook.stride(0),
        codebook.stride(1), BLOCK_R=block_r, BLOCK_D=block_d)
    return sqnorm, stats


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def sqnorms_triton(codebook: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """fp32 ``||scale * c_k||^2`` for a (K, D) fp16/bf16/fp32 codebook: one launch, no (K, D) temporary."""
    k, d = codebook.shape
    out = torch.empty(k, dtype=torch.float32, device=codebook.device)
    block_d = min(128, max(16, triton.next_power_of_2(d)))
    _sqnorm_kernel[(triton.cdiv(k, 64),)](codebook, out, k, d, float(scale), codebook.stride(0), codebook.stride(1),
                                          BLOCK_K=64, BLOCK_D=block_d, SCALED=scale != 1.0)
    return out


def nearest_code_triton(x: torch.Tensor, codebook: torch.Tensor, sqnorm: torch.Tensor, *, precision: str = "ieee",
                        scale: float = 1.0, block_rows: int | None = None, block_codes: int | None = None,
                        splits: int | None = None, config: Config | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Launch the kernel on (N, D) `x` and (K, D) `codebook` (any strides) with fp32 `sqnorm` (K,), the squared
    norms of ``scale * codebook``.

    `scale` (a power of two) multiplies x and the codebook inside the kernel. `splits` forces the number of
    codebook slices (default: `choose_splits`); `config` replaces the whole tile choice (the tile sweep uses
    it; it is never shrunk, see `shrink`). Returns int64 indices (N,) and fp32 distances
    ``s_k - 2 (scale x).(scale c_k)`` (N,). Inputs are validated by `tokbench.kernels.nearest_code`; call that,
    not this, unless you know the inputs are clean.
    """
    n, d = x.shape
    k = codebook.shape[0]
    if x.dtype != codebook.dtype:  # mixed input dtypes: compute both in fp32
        x, codebook = x.float(), codebook.float()
    cfg = config or pick_config(n, k, d, block_rows, block_codes, dtype=x.dtype, precision=precision,
                                sm_count=sm_count_of(x.device), splits=splits)
    widen = interpreting() and x.dtype != torch.float32
    if sqnorm.dtype != torch.float32 or not sqnorm.is_contiguous():
        sqnorm = sqnorm.to(torch.float32).contiguous()
    idx = torch.empty(n, dtype=torch.int64, device=x.device)
    dist = torch.empty(n, dtype=torch.float32, device=x.device)
    if cfg.splits > 1:
        part_idx = torch.empty(cfg.splits, n, dtype=torch.int64, device=x.device)
        part_dist = torch.empty(cfg.splits, n, dtype=torch.float32, device=x.device)
    else:
        part_idx, part_dist = idx, dist
    args = (x, codebook, sqnorm, part_idx, part_dist, scale, precision, widen)
    shrink_key = (x.device, cfg)
    cfg = _SHRUNK.get(shrink_key, cfg)
    while True:
        try:
            _launch_search(cfg, *args)
            break
        except triton.OutOfResources:  # a GPU with less shared memory / registers than the one the table is for
            smaller = shrink(cfg) if config is None else None  # an explicit config is run as given, or fails
            if smaller is None:
                raise
            cfg = _SHRUNK[shrink_key] = smaller
    if cfg.splits > 1:
        _merge_splits_kernel[(triton.cdiv(n, 1024),)](part_idx, part_dist, idx, dist, n, cfg.splits, BLOCK=1024)
    return idx, dist


#: (device, table tile) -> the smaller tile that fit this device, so a failing tile is tried once per process
_SHRUNK: dict[tuple[torch.device, Config], Config] = {}


def shrink(cfg: Config) -> Config | None:
    """The next smaller tile after an out-of-resources launch: fewer pipeline stages, then fewer rows, then
    fewer codes per tile; None when nothing is left to give up."""
    if cfg.num_stages > 1:
        return dataclasses.replace(cfg, num_stages=cfg.num_stages - 1)
    if cfg.block_n > 16:
        return dataclasses.replace(cfg, block_n=cfg.block_n // 2)
    if cfg.block_k > 16:
        return dataclasses.replace(cfg, block_k=cfg.block_k // 2)
    return None


def _launch_search(cfg: Config, x, codebook, sqnorm, out_idx, out_dist, scale, precision, widen) -> None:
    """One launch of the search kernel: a (row blocks, codebook slices) grid."""
    n, d = x.shape
    k = codebook.shape[0]
    codes_per_split = triton.cdiv(triton.cdiv(k, cfg.block_k), cfg.splits) * cfg.block_k
    grid = (triton.cdiv(n, cfg.block_n), cfg.splits)
    _nearest_code_kernel[grid](
        x, codebook, sqnorm, out_idx, out_dist,
        n, k, d, codes_per_split, float(scale),
        x.stride(0), x.stride(1), codebook.stride(0), codebook.stride(1),
        BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, BLOCK_D=cfg.block_d,
        RESIDENT=d <= MAX_RESIDENT_D, WIDEN=widen, SCALED=scale != 1.0, INPUT_PRECISION=precision,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )
