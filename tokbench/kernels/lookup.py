"""`nearest_code`: the index of the nearest codeword for every input vector, without the N x K matrix.

Vector quantizers pick, for each row x, ``argmin_k ||x - c_k||^2``. Dropping the per-row constant ``||x||^2``
leaves ``argmin_k (||c_k||^2 - 2 x.c_k)``: one matrix product plus a bias. Libraries such as
vector-quantize-pytorch build the whole N x K distance matrix (plus a one-hot of the same size) to take that
argmin; here the product is computed tile by tile (a block of rows against a block of codes) and only a running
(min, argmin) per row survives, so the extra memory is one tile, whatever N and K are.

Two backends share one contract (ties go to the lowest index, fp32 accumulation for fp16/bf16 inputs):
- CUDA tensors with Triton installed: the fused kernel in `tokbench.kernels.triton_lookup`. The wrapper costs
  a few launches and one host sync, whatever N is: one fused pass over x and the codebook (NaN/inf check, the
  largest |value| that decides the exact power-of-two rescale of extreme magnitudes (LOG2_RANGE), the codes'
  squared norms), one read-back of two numbers, one search kernel. x and the codebook are not copied (the
  kernels take any strides); the exceptions are mixed input dtypes and an x whose leading dimensions cannot be
  flattened into rows without a copy.
- everything else: `_nearest_tiled`, a tiled torch loop tuned for CPU caches (it also runs on any torch device).
`TOKBENCH_LOOKUP=torch` forces the tiled torch path; `TOKBENCH_LOOKUP=triton` forces Triton (on CPU tensors
this needs `TRITON_INTERPRET=1`, which is how the tests exercise the kernel without a GPU).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from tokbench.errors import TokbenchError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: dtypes accepted for x and the codebook
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
#: columns per group in the two-stage tile argmin (see `_tile_argmin`); tiles are padded to a multiple of it
GROUP = 64
#: default tile: rows x codes, 8 MiB of fp32 in all (split between the worker threads), tuned by measurement on
#: a 2-core Zen 5 (128..2,048 rows x 1,024..16,384 codes tried); buffers never depend on N x K
DEFAULT_BLOCK_CODES = 4096
DEFAULT_TILE_ELEMENTS = 512 * 4096
#: inputs whose largest magnitude lies outside [2^-LOG2_RANGE, 2^LOG2_RANGE] are rescaled by a power of two
#: (exact, argmin-invariant) so that squared norms neither overflow nor go subnormal in fp32
LOG2_RANGE = 40
PRECISIONS = ("ieee", "tf32")


class LookupInputError(TokbenchError, ValueError):
    """Bad input to `nearest_code`: a `TokbenchError` (one line, exit 2 in the CLI) that is also a ValueError."""


def nearest_code(
    x: torch.Tensor,
    codebook: torch.Tensor,
    *,
    codebook_sqnorm: torch.Tensor | None = None,
    return_distance: bool = False,
    precision: str = "ieee",
    block_rows: int | None = None,
    block_codes: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest codeword (squared Euclidean distance) for every row of `x`.

    Computes ``argmin_k (s_k - 2 x.c_k)`` with ``s_k = ||c_k||^2`` (or `codebook_sqnorm` when given: pass
    zeros to get the maximum inner product, i.e. cosine search over unit vectors). Ties go to the lowest index.
    Cost on CUDA: one fused pass over the inputs, one host sync, one search kernel (plus a small merge when a
    few rows face a huge codebook); extra memory O(N + K). Indexing is 64-bit: N x D and K x D may pass 2^31.

    Args:
        x: (..., D) float16 / bfloat16 / float32 / float64 tensor.
        codebook: (K, D) floating tensor on the same device as `x`.
        codebook_sqnorm: optional precomputed (K,) squared norms (reuse them across calls on one codebook).
        return_distance: also return ``s_k - 2 x.c_k`` at the chosen index, as float32 (float64 for f64 input).
        precision: "ieee" (exact fp32 products) or "tf32" (tensor-core TF32 inputs on CUDA; ignored on CPU).
        block_rows, block_codes: tile shape override (defaults are tuned per backend).

    Returns:
        int64 indices of shape ``x.shape[:-1]``; with `return_distance`, ``(indices, distance)``.
    """
    import torch

    _validate(x, codebook, codebook_sqnorm, precision, block_rows, block_codes)
    lead_shape = x.shape[:-1]
    d = x.shape[-1]
    x2 = x.detach().reshape(-1, d)
    cb = codebook.detach()
    compute_dtype = torch.float64 if torch.float64 in (x.dtype, cb.dtype) else torch.float32
    with torch.no_grad():
        if x2.shape[0] == 0:
            scale = _check_values_and_scale(x2, cb, codebook_sqnorm)
            idx = torch.empty(0, dtype=torch.int64, device=x.device)
            dist = torch.empty(0, dtype=compute_dtype, device=x.device)
        elif _use_triton(x2, compute_dtype):
            idx, dist, scale = _nearest_triton(x2, cb, codebook_sqnorm, precision, block_rows, block_codes)
        else:
            scale = _check_values_and_scale(x2, cb, codebook_sqnorm)
            csq = _sqnorms(cb, compute_dtype, scale, codebook_sqnorm)
            idx, dist = _nearest_tiled(x2, cb, csq, compute_dtype, scale, block_rows, block_codes)
        idx = idx.reshape(lead_shape)
        if not return_distance:
            return idx
        if scale != 1.0:
            dist = dist / (scale * scale)
        return idx, dist.reshape(lead_shape)


# ---------------------------------------------------------------------------------------------- validation
def _validate(x, codebook, codebook_sqnorm, precision, block_rows, block_codes) -> None:
    import torch

    if not isinstance(x, torch.Tensor) or not isinstance(codebook, torch.Tensor):
        raise LookupInputError(f"nearest_code needs torch tensors, got {type(x).__name__} and "
                               f"{type(codebook).__name__}")
    for name, t in (("x", x), ("codebook", codebook)):
        if str(t.dtype).removeprefix("torch.") not in _FLOAT_DTYPES:
            raise LookupInputError(f"nearest_code: {name} has dtype {t.dtype}; expected float16, bfloat16, float32 "
                                   "or float64")
    if codebook.ndim != 2:
        raise LookupInputError(f"nearest_code: the codebook must be (K, D), got shape {tuple(codebook.shape)}")
    if codebook.shape[0] == 0:
        raise LookupInputError("nearest_code: the codebook is empty (K = 0)")
    if x.ndim == 0:
        raise LookupInputError("nearest_code: x must have at least one dimension (..., D)")
    if x.shape[-1] != codebook.shape[1]:
        raise LookupInputError(f"nearest_code: x has D={x.shape[-1]} but the codebook has D={codebook.shape[1]}")
    if codebook.shape[1] == 0:
        raise LookupInputError("nearest_code: vectors have dimension D = 0")
    if x.device != codebook.device:
        raise LookupInputError(f"nearest_code: x is on {x.device} but the codebook is on {codebook.device}; "
                               "move them to the same device")
    if precision not in PRECISIONS:
        raise LookupInputError(f"nearest_code: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    for name, v in (("block_rows", block_rows), ("block_codes", block_codes)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise LookupInputError(f"nearest_code: {name} must be a positive integer, got {v!r}")
    if codebook_sqnorm is not None:
        if not isinstance(codebook_sqnorm, torch.Tensor) or tuple(codebook_sqnorm.shape) != (codebook.shape[0],):
            shape = tuple(codebook_sqnorm.shape) if isinstance(codebook_sqnorm, torch.Tensor) else None
            raise LookupInputError(f"nearest_code: codebook_sqnorm must be a ({codebook.shape[0]},) tensor, "
                                   f"got {shape or type(codebook_sqnorm).__name__}")
        if codebook_sqnorm.device != codebook.device:
            raise LookupInputError(f"nearest_code: codebook_sqnorm is on {codebook_sqnorm.device} but the codebook is "
                                   f"on {codebook.device}")
        if not codebook_sqnorm.is_floating_point():  # finiteness is checked with the inputs' values
            raise LookupInputError("nearest_code: codebook_sqnorm must be finite floating-point values")


def _check_values_and_scale(x2: torch.Tensor, cb: torch.Tensor, given: torch.Tensor | None,
                            fp32_scale: bool = False) -> float:
    """Reject NaN/inf and pick the exact power-of-two rescale, with one reduction per tensor and one host sync.

    `torch.aminmax` reads each tensor once on its own device without a temporary (NaN propagates into both
    results, and an infinity shows up as one of them); the (min, max) pairs of x, the codebook and the optional
    squared norms are gathered into one small tensor and read back in a single transfer. Returns 1.0, or the power
    of two that brings the largest |value| of x and the codebook near 1 when it lies outside
    [2^-LOG2_RANGE, 2^LOG2_RANGE] (then squared norms neither overflow nor go subnormal in fp32; scaling by a
    power of two is exact and leaves the argmin unchanged). `fp32_scale`: the scale must be a normal fp32 number.
    """
    import torch

    named = [("the codebook", cb), ("the input", x2)]
    if given is not None:
        named.append(("codebook_sqnorm", given))
    named = [(what, t) for what, t in named if t.numel()]
    wide = torch.float32 if cb.device.type == "mps" else torch.float64
    values = torch.cat([torch.stack(torch.aminmax(t)).to(wide) for _, t in named]).tolist()
    m = 0.0  # largest |value| of x and the codebook
    # (the same checks and choice of scale as in _nearest_triton, which gets the maxima from its fused pass)
    for (what, _), lo, hi in zip(named, values[::2], values[1::2]):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            if what == "codebook_sqnorm":
                raise LookupInputError("nearest_code: codebook_sqnorm must be finite floating-point values")
            raise LookupInputError(f"nearest_code: {what} contains NaN or infinite values")
        if what != "codebook_sqnorm":
            m = max(m, -lo, hi)
    return _power_of_two_scale(m, fp32_scale)


def _power_of_two_scale(m: float, fp32_scale: bool = False) -> float:
    """1.0, or the power of two that brings a largest |value| `m` outside [2^-LOG2_RANGE, 2^LOG2_RANGE] near 1.
    With `fp32_scale` (the Triton kernel takes the scale as fp32) it is clamped to [2^-126, 2^126], which still
    brings every fp32 value, subnormals included, into range."""
    if m == 0.0 or 2.0 ** -LOG2_RANGE <= m <= 2.0 ** LOG2_RANGE:
        return 1.0
    exponent = -math.floor(math.log2(m))
    return 2.0 ** (max(-126, min(126, exponent)) if fp32_scale else exponent)


def _nearest_triton(x2: torch.Tensor, cb: torch.Tensor, given: torch.Tensor | None, precision: str,
                    block_rows: int | None, block_codes: int | None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The Triton path in three steps: one fused pass over x and the codebook (`prepare_triton`: largest |value|
    of each, NaN/inf as +inf, and the codes' squared norms), one host sync to read the two maxima, one search
    kernel (two when the codebook is split). x and the codebook go to the kernels as they are (any strides, no
    copy); a rescale, when needed, happens inside the search kernel. Returns (indices, distances, scale)."""
    import torch

    from tokbench.kernels.triton_lookup import MAX_CODES, nearest_code_triton, prepare_triton, sqnorms_triton

    if cb.shape[0] > MAX_CODES:
        raise LookupInputError(f"nearest_code: the GPU kernel takes at most {MAX_CODES:,} codes, got {cb.shape[0]:,}")
    if x2.dtype != cb.dtype:  # uncommon: the general checks, then the norms
        scale = _check_values_and_scale(x2, cb, given, fp32_scale=True)
        csq = sqnorms_triton(cb, scale) if given is None else _sqnorms(cb, torch.float32, scale, given)
    else:
        csq, maxima = prepare_triton(x2, cb)
        if given is not None:  # the caller's norms (e.g. zeros for cosine search) are checked in the same read-back
            maxima = torch.cat([maxima, given.detach().abs().amax().reshape(1).float()])
        top_code, top_x, *top_given = maxima.tolist()  # the call's one host sync
        if top_given and not math.isfinite(top_given[0]):
            raise LookupInputError("nearest_code: codebook_sqnorm must be finite floating-point values")
        for what, top in (("the codebook", top_code), ("the input", top_x)):
            if not math.isfinite(top):
                raise LookupInputError(f"nearest_code: {what} contains NaN or infinite values")
        scale = _power_of_two_scale(max(top_code, top_x), fp32_scale=True)
        if given is not None:
            csq = _sqnorms(cb, torch.float32, scale, given)
        elif scale != 1.0:  # extreme magnitudes: the norms again, of the rescaled codes
            csq = sqnorms_triton(cb, scale)
    idx, dist = nearest_code_triton(x2, cb, csq, precision=precision, scale=scale, block_rows=block_rows,
                                    block_codes=block_codes)
    return idx, dist, scale


def _sqnorms(cb: torch.Tensor, dtype, scale: float, given: torch.Tensor | None) -> torch.Tensor:
    """||c_k||^2 in the compute dtype (after the rescaling), or the caller's values rescaled the same way."""
    if given is not None:
        s = given.detach().to(dtype)
        return s * (scale * scale) if scale != 1.0 else s
    c = cb.to(dtype)
    if scale != 1.0:
        c = c * scale
    return (c * c).sum(dim=1)


# ---------------------------------------------------------------------------------------------- dispatch
def backend_for(x: torch.Tensor) -> str:
    """"triton" or "torch": which backend `nearest_code` uses for a tensor like `x` (honours TOKBENCH_LOOKUP)."""
    import torch

    return "triton" if _use_triton(x, torch.float32) else "torch"


def _use_triton(x: torch.Tensor, compute_dtype) -> bool:
    import torch

    choice = os.environ.get("TOKBENCH_LOOKUP", "auto").strip().lower() or "auto"
    if choice not in ("auto", "torch", "triton"):
        raise LookupInputError(f"TOKBENCH_LOOKUP must be auto, torch or triton, got {choice!r}")
    if choice == "torch" or compute_dtype == torch.float64:
        return False
    if choice == "triton":
        if not triton_available():
            raise LookupInputError("TOKBENCH_LOOKUP=triton but triton is not installed (pip install 'tokbench[gpu]')")
        if x.device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
            raise LookupInputError("TOKBENCH_LOOKUP=triton on CPU tensors needs TRITON_INTERPRET=1")
        return True
    return x.device.type == "cuda" and triton_available()


def triton_available() -> bool:
    """Whether `import triton` works here (checked once)."""
    global _TRITON_OK
    if _TRITON_OK is None:
        try:
            import triton  # noqa: F401
            import triton.language  # noqa: F401

            _TRITON_OK = True
        except Exception:  # noqa: BLE001 - any import failure means "no triton"
            _TRITON_OK = False
    return _TRITON_OK


_TRITON_OK: bool | None = None


# ---------------------------------------------------------------------------------------------- tiled torch path
def tile_shape(n_rows: int, n_codes: int, block_rows: int | None = None,
               block_codes: int | None = None) -> tuple[int, int]:
    """(rows, codes) per tile: codes a multiple of GROUP, about DEFAULT_TILE_ELEMENTS elements in all."""
    k_pad = -(-n_codes // GROUP) * GROUP
    codes = min(k_pad, -(-(block_codes or DEFAULT_BLOCK_CODES) // GROUP) * GROUP)
    rows = block_rows or max(64, DEFAULT_TILE_ELEMENTS // codes)
    return max(1, min(rows, n_rows)), codes


def _nearest_tiled(x2: torch.Tensor, cb: torch.Tensor, csq: torch.Tensor, dtype, scale: float,
                   block_rows: int | None, block_codes: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Blocks of rows x blocks of codes: ``tile = addmm(s, x_blk, c_blk^T, alpha=-2)`` into a preallocated
    buffer, then a two-stage argmin of the tile merged into the running (min, argmin) of the row block.

    On a multi-core CPU the row blocks are shared out to one Python thread per torch thread, each running
    single-threaded torch ops on its own tile (torch releases the GIL inside ops). Many small OpenMP parallel
    regions (two per tile) stall whenever one core is busy with another process; independent workers do not.
    Torch's intra-op thread count is set to 1 for the duration of the call and restored afterwards.
    """
    import threading

    import torch

    n, k = x2.shape[0], cb.shape[0]
    workers = _cpu_workers(x2, n, k, x2.shape[1])
    rows, codes = tile_shape(n, k, block_rows, block_codes)
    if workers > 1 and block_rows is None:
        # the same cache footprint in all, and at least ~8 row blocks per worker so that a worker slowed down by
        # another process leaves its share to the others (blocks are handed out one at a time)
        rows = max(64, min(rows // workers, -(-n // (8 * workers))))
    k_pad = -(-k // GROUP) * GROUP
    # codebook in the compute dtype, padded with zero rows whose norm is +inf (never the minimum)
    c = cb.to(dtype)
    if scale != 1.0:
        c = c * scale
    s = csq
    if k_pad != k:
        c = torch.cat([c, c.new_zeros(k_pad - k, c.shape[1])])
        s = torch.cat([s, s.new_full((k_pad - k,), math.inf)])
    c_t = c.t()
    out_idx = torch.empty(n, dtype=torch.int64, device=x2.device)
    out_val = torch.empty(n, dtype=dtype, device=x2.device)
    starts = iter(range(0, n, rows))
    lock = threading.Lock()

    def next_start() -> int | None:
        with lock:
            return next(starts, None)

    def run_blocks() -> None:
        storage = torch.empty(rows * codes, dtype=dtype, device=x2.device)
        offsets = torch.arange(GROUP, device=x2.device)
        while (r0 := next_start()) is not None:
            xb = x2[r0:r0 + rows].to(dtype)
            if scale != 1.0:
                xb = xb * scale
            m = xb.shape[0]
            best_v = best_i = None
            for c0 in range(0, k_pad, codes):
                w = min(codes, k_pad - c0)
                tile = storage[:m * w].view(m, w)
                torch.addmm(s[c0:c0 + w].unsqueeze(0).expand(m, w), xb, c_t[:, c0:c0 + w], beta=1, alpha=-2,
                            out=tile)
                v, i = _tile_argmin(tile, offsets)
                if best_v is None:
                    best_v, best_i = v, i.add_(c0)
                else:
                    better = v < best_v  # strict: an equal value in a later tile keeps the lower index
                    best_v = torch.where(better, v, best_v)
                    best_i = torch.where(better, i.add_(c0), best_i)
            out_idx[r0:r0 + m] = best_i
            out_val[r0:r0 + m] = best_v

    if workers <= 1:
        run_blocks()
        return out_idx, out_val
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            run_blocks()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            errors.append(exc)

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        threads = [threading.Thread(target=guarded, name=f"nearest_code-{i}", daemon=True) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        torch.set_num_threads(previous)
    if errors:
        raise errors[0]
    return out_idx, out_val


#: below this many multiply-adds a call is too small to be worth spreading over threads
PARALLEL_MIN_WORK = 1 << 24


def _cpu_workers(x2: torch.Tensor, n: int, k: int, d: int) -> int:
    """How many worker threads the tiled path uses: torch's intra-op thread count on CPU for big enough work
    (`TOKBENCH_LOOKUP_THREADS` overrides it; 1 keeps torch's own threading)."""
    import torch

    if x2.device.type != "cpu":
        return 1
    override = os.environ.get("TOKBENCH_LOOKUP_THREADS")
    if override:
        try:
            wanted = int(override)
        except ValueError:
            raise LookupInputError(f"TOKBENCH_LOOKUP_THREADS must be a positive integer, got {override!r}") from None
        if wanted < 1:
            raise LookupInputError(f"TOKBENCH_LOOKUP_THREADS must be a positive integer, got {override!r}")
    else:
        wanted = torch.get_num_threads()
    if wanted <= 1 or n * k * d < PARALLEL_MIN_WORK or n < 128:
        return 1
    return min(wanted, max(1, n // 64))


def _tile_argmin(tile: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-wise (min, first argmin) of a (m, w) tile, w a multiple of GROUP.

    `torch.min(dim=1)` with indices is a slow scalar loop on CPU while `amin` vectorizes, so: the minimum of
    each group of GROUP consecutive columns (amin), the first group holding the row minimum, then the first
    argmin inside that group only (m x GROUP gathered values). Groups are contiguous and ordered, so the result
    is the lowest index holding the minimum, exactly as `torch.min` would give.
    """
    m, w = tile.shape
    group_min = tile.view(m, w // GROUP, GROUP).amin(dim=2)
    v, g = group_min.min(dim=1)
    cols = g.unsqueeze(1) * GROUP + offsets
    j = tile.gather(1, cols).argmin(dim=1)
    return v, g.mul_(GROUP).add_(j)
