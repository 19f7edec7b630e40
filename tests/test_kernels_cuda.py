"""The Triton nearest-code kernel on a real CUDA GPU (`pytest -m cuda`; skipped where there is none).

Correctness against a float64 brute force over a grid of shapes, dtypes and precisions, ties, empty and
single-row inputs, the codebook split, the wrapper's budget (one host sync, no full-size copy), and the two
offset cases past 2^31 elements (N x D and K x D), each with a known exact match planted beyond element 2^31.
The big cases need about 9 GB of free GPU memory each and are skipped with a reason when it is not there.
"""

from __future__ import annotations

import random
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

pytestmark = pytest.mark.cuda
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)

from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.kernels import backend_for, nearest_code  # noqa: E402
from tokbench.kernels.reference import disagreements, reference_nearest  # noqa: E402

DEV = "cuda"
#: rows checked against the float64 brute force (which builds rows x K on the CPU)
SAMPLE = 512
BIG = (1 << 26) + 1000  # 2^26 + 1000 rows (or codes) of D = 32: past 2^31 elements


@pytest.fixture(autouse=True)
def _auto_backend(monkeypatch):
    monkeypatch.delenv("TOKBENCH_LOOKUP", raising=False)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)


def _seeded():
    seed = random.SystemRandom().randrange(2**31)
    print(f"seed={seed}")
    return seed, torch.Generator(device=DEV).manual_seed(seed)


def _needs_free_gpu_memory(gib: float) -> None:
    free = torch.cuda.mem_get_info()[0] / 2**30
    if free < gib:
        pytest.skip(f"needs {gib:.0f} GiB of free GPU memory, {free:.1f} GiB free")


def test_cuda_tensors_use_the_triton_kernel():
    assert backend_for(torch.zeros(1, 1, device=DEV)) == "triton"


@pytest.mark.parametrize("dtype,precision", [(torch.float32, "ieee"), (torch.float32, "tf32"),
                                             (torch.float16, "ieee"), (torch.bfloat16, "ieee")])
@pytest.mark.parametrize("n,k,d", [(1, 7, 1), (1000, 300, 3), (257, 4097, 32), (2048, 16384, 64),
                                   (513, 1024, 128), (513, 1024, 256), (300, 2000, 1000), (64, 300_000, 16)])
def test_matches_float64_brute_force(n, k, d, dtype, precision):
    seed, g = _seeded()
    x = torch.randn(n, d, device=DEV, generator=g).to(dtype)
    c = torch.randn(k, d, device=DEV, generator=g).to(dtype)
    idx, dist = nearest_code(x, c, precision=precision, return_distance=True)
    assert idx.dtype == torch.int64 and idx.shape == (n,) and idx.device.type == "cuda"
    rows = slice(0, min(n, SAMPLE))
    bad = disagreements(idx[rows], x[rows], c, precision)
    assert bad.numel() == 0, f"seed={seed}: rows {bad[:5].tolist()}"
    _, ref = reference_nearest(x[rows], c)
    scale = 1 + (x[rows].double().cpu() ** 2).sum(1) + (c.double().cpu() ** 2).sum(1).max()
    tol = (2.0 ** -11 if precision == "tf32" else 2.0 ** -22) * (d + 2) * scale
    assert ((dist[rows].double().cpu() - ref).abs() <= tol).all(), f"seed={seed}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("k_copies,d", [(3, 5), (40, 32), (4, 300)])
def test_exact_ties_go_to_the_lowest_index(dtype, k_copies, d):
    # small integers: every product and sum is exact in every dtype, so copies tie exactly
    seed, g = _seeded()
    base = torch.randint(-3, 4, (97, d), device=DEV, generator=g)
    c = torch.cat([base] * k_copies + [base[:13]]).to(dtype)
    x = torch.randint(-3, 4, (700, d), device=DEV, generator=g).to(dtype)
    idx = nearest_code(x, c)
    assert torch.equal(idx.cpu(), reference_nearest(x, c)[0]), f"seed={seed}"
    assert int(idx.max()) < 97


@pytest.mark.parametrize("splits", [None, 2, 7, 64])
def test_codebook_split_keeps_results_and_ties(splits):
    from tokbench.kernels.triton_lookup import nearest_code_triton, pick_config, sm_count_of, sqnorms_triton

    seed, g = _seeded()
    base = torch.randint(-3, 4, (5000, 16), device=DEV, generator=g).float()
    c = torch.cat([base] * 40)  # K = 200,000 with duplicates in every slice
    x = torch.randint(-3, 4, (100, 16), device=DEV, generator=g).float()
    if splits is None:  # the automatic choice splits here: 100 rows cannot fill the GPU
        assert pick_config(100, c.shape[0], 16, sm_count=sm_count_of(x.device)).splits > 1
    idx, dist = nearest_code_triton(x, c, sqnorms_triton(c), splits=splits)
    ref_idx, ref_dist = reference_nearest(x, c)
    assert torch.equal(idx.cpu(), ref_idx), f"seed={seed}"
    assert torch.equal(dist.double().cpu(), ref_dist), f"seed={seed}"


def test_empty_single_row_leading_shape_and_strided_inputs():
    c = torch.randn(300, 24, device=DEV)
    assert nearest_code(torch.empty(0, 24, device=DEV), c).shape == (0,)
    one = torch.randn(1, 24, device=DEV)
    assert nearest_code(one, c).shape == (1,) and disagreements(nearest_code(one, c), one, c).numel() == 0
    assert nearest_code(c[123:124] * 1.0, c).tolist() == [123]
    x = torch.randn(4, 5, 24, device=DEV)
    assert nearest_code(x, c).shape == (4, 5)
    xt = torch.randn(24, 333, device=DEV).T  # column-major rows
    ct = torch.randn(24, 300, device=DEV).T
    assert disagreements(nearest_code(xt, ct), xt, ct).numel() == 0


def test_extreme_magnitudes_are_rescaled_exactly():
    _, g = _seeded()
    for mag in (1e-41, 1e-30, 1e30):
        x = torch.randn(200, 8, device=DEV, generator=g, dtype=torch.float64).mul(mag).float()
        c = torch.randn(500, 8, device=DEV, generator=g, dtype=torch.float64).mul(mag).float()
        assert disagreements(nearest_code(x, c), x, c).numel() == 0, f"magnitude {mag}"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_values_are_a_clear_error(bad):
    x = torch.randn(100, 8, device=DEV)
    x[57, 3] = bad
    with pytest.raises(TokbenchError, match="NaN or infinite"):
        nearest_code(x, torch.randn(10, 8, device=DEV))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("cosine", [False, True])
def test_one_host_sync_and_no_full_size_copy(dtype, cosine):
    n, d = 1 << 20, 32
    x = torch.randn(n, d, device=DEV).to(dtype)
    c = torch.randn(4096, d, device=DEV).to(dtype)
    zeros = torch.zeros(4096, device=DEV) if cosine else None  # how the cosine codebooks call it
    nearest_code(x, c, codebook_sqnorm=zeros)  # compile outside the count
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            nearest_code(x, c, codebook_sqnorm=zeros)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) == 1, [str(w.message) for w in syncs]  # the read-back of the maxima, nothing else
    extra = torch.cuda.max_memory_allocated() - before
    assert extra < 16 * n + (1 << 20), f"{extra / 2**20:.1f} MiB extra; x alone is {x.nbytes / 2**20:.0f} MiB"


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["row-major", "column-major"])
def test_rows_past_2_31_elements(layout):
    _needs_free_gpu_memory(12)
    d, k = 32, 256
    g = torch.Generator(device=DEV).manual_seed(0)
    if layout == "row-major":
        x = torch.randn(BIG, d, device=DEV, generator=g)
    else:  # x[i, j] at j * N + i: the last dimensions sit past element 2^31
        x = torch.randn(d, BIG, device=DEV, generator=g).T
    c = torch.randn(k, d, device=DEV, generator=g)
    c[77] = 10.0  # far from every random row: only a planted copy finds it
    x[BIG - 1] = c[77]
    idx = nearest_code(x, c)
    assert int(idx[BIG - 1]) == 77 and int(idx[0]) != 77
    tail = slice(BIG - 2000, BIG)
    assert disagreements(idx[tail], x[tail], c).numel() == 0
    assert disagreements(idx[:2000], x[:2000], c).numel() == 0


@pytest.mark.slow
def test_codes_past_2_31_elements():
    _needs_free_gpu_memory(12)
    d, n = 32, 4096  # few rows against a huge codebook: the split path
    g = torch.Generator(device=DEV).manual_seed(1)
    c = torch.randn(BIG, d, device=DEV, generator=g)
    x = torch.randn(n, d, device=DEV, generator=g)
    c[BIG - 1] = 10.0
    x[0] = c[BIG - 1]
    idx, dist = nearest_code(x, c, return_distance=True)
    assert int(idx[0]) == BIG - 1
    assert abs(float(dist[0]) + float((c[BIG - 1] ** 2).sum())) <= 1e-3 * float((c[BIG - 1] ** 2).sum())
    # the other rows against a float64 brute force over the last 2^20 codes (all past element 2^31) and the rest
    tail = c[BIG - (1 << 20):]
    best_tail = (tail.double() ** 2).sum(1)[None, :] - 2 * x[1:65].double() @ tail.double().T
    assert (dist[1:65].double() <= best_tail.min(1).values + 1e-3).all()
