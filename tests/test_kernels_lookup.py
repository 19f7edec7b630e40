"""nearest_code (tiled torch path) against a float64 brute force, on fresh random inputs every run."""

from __future__ import annotations

import os
import random

import pytest

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tokbench.errors import TokbenchError  # noqa: E402
from tokbench.kernels import nearest_code  # noqa: E402
from tokbench.kernels.reference import disagreements, reference_nearest  # noqa: E402

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.fixture(autouse=True)
def _torch_backend(monkeypatch):
    monkeypatch.setenv("TOKBENCH_LOOKUP", "torch")


def _fresh_seed() -> int:
    seed = random.SystemRandom().randrange(2**31)
    print(f"seed={seed}")  # shown by pytest when the test fails
    return seed


def _random(n, k, d, dtype, seed, magnitude=1.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, d, generator=g, dtype=torch.float64) * magnitude).to(dtype)
    c = (torch.randn(k, d, generator=g, dtype=torch.float64) * magnitude).to(dtype)
    return x, c


def _assert_correct(idx, x, c, seed, precision="ieee"):
    assert idx.dtype == torch.int64
    assert idx.shape == x.shape[:-1]
    bad = disagreements(idx, x, c, precision)
    assert bad.numel() == 0, f"seed={seed}: {bad.numel()} rows off the optimum, first rows {bad[:5].tolist()}"


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), k=st.integers(1, 700), d=st.integers(1, 40), dtype=st.sampled_from(DTYPES),
       log_mag=st.sampled_from([-30, -12, 0, 12, 30]), seed=st.integers(0, 2**31 - 1),
       block_rows=st.sampled_from([None, 1, 7, 64]), block_codes=st.sampled_from([None, 64, 100, 256]))
def test_matches_float64_brute_force(n, k, d, dtype, log_mag, seed, block_rows, block_codes):
    # fp16 cannot hold 1e+-12: keep its magnitudes representable, the others span 1e-30 .. 1e30
    mag = 10.0 ** (max(-3, min(3, log_mag)) if dtype == torch.float16 else log_mag)
    x, c = _random(n, k, d, dtype, seed, mag)
    idx = nearest_code(x, c, block_rows=block_rows, block_codes=block_codes)
    _assert_correct(idx, x, c, seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,k,d", [(1, 1, 1), (1, 5000, 3), (513, 1, 8), (200, 4097, 1), (3, 65, 300)])
def test_edge_shapes(n, k, d, dtype):
    seed = _fresh_seed()
    x, c = _random(n, k, d, dtype, seed)
    _assert_correct(nearest_code(x, c), x, c, seed)


def test_duplicated_codewords_break_ties_to_the_lowest_index():
    # small integers: every product and sum is exact in fp32, so the duplicates tie exactly
    seed = _fresh_seed()
    g = torch.Generator().manual_seed(seed)
    base = torch.randint(-4, 5, (37, 6), generator=g).float()
    c = torch.cat([base, base, base[:11], base])  # K = 122: not a multiple of the 64-wide groups or tiles
    perm_x = torch.randint(-4, 5, (400, 6), generator=g).float()
    ref, _ = reference_nearest(perm_x, c)
    for block_codes in (None, 64, 128):
        idx = nearest_code(perm_x, c, block_codes=block_codes, block_rows=50)
        assert torch.equal(idx, ref), f"seed={seed}, block_codes={block_codes}"
    assert int(idx.max()) < 37  # a later copy never wins


def test_identical_codes_everywhere_pick_zero():
    c = torch.ones(1000, 4)
    x = torch.randn(17, 4)
    assert torch.equal(nearest_code(x, c), torch.zeros(17, dtype=torch.int64))


def test_leading_shape_and_distance():
    seed = _fresh_seed()
    x, c = _random(2 * 3 * 5, 50, 7, torch.float32, seed)
    x = x.reshape(2, 3, 5, 7)
    idx, dist = nearest_code(x, c, return_distance=True)
    assert idx.shape == (2, 3, 5) and dist.shape == (2, 3, 5) and dist.dtype == torch.float32
    ref_idx, ref_dist = reference_nearest(x, c)
    _assert_correct(idx, x, c, seed)
    assert torch.allclose(dist.double(), ref_dist, rtol=1e-4, atol=1e-4)


def test_scaled_inputs_keep_distance_units():
    # 1e18 is rescaled internally (beyond 2^40); the distance 1e36 still fits fp32 and comes back in input units
    x = torch.tensor([[1e18, 0.0]])
    c = torch.tensor([[1e18, 1e17], [0.0, 0.0]])
    idx, dist = nearest_code(x, c, return_distance=True)
    assert idx.item() == 0
    expected = (1e36 + 1e34) - 2 * 1e36
    assert abs(dist.item() - expected) / abs(expected) < 1e-5


def test_codebook_sqnorm_zero_is_max_inner_product():
    seed = _fresh_seed()
    x, c = _random(100, 300, 16, torch.float32, seed)
    idx = nearest_code(x, c, codebook_sqnorm=torch.zeros(300))
    assert torch.equal(idx, (x.double() @ c.double().T).argmax(1))


def test_empty_input_and_float64():
    c = torch.randn(10, 3)
    assert nearest_code(torch.empty(0, 3), c).shape == (0,)
    x64 = torch.randn(50, 3, dtype=torch.float64)
    idx = nearest_code(x64, c.double())
    assert torch.equal(idx, reference_nearest(x64, c.double())[0])


@pytest.mark.parametrize("mag,rescale", [(1e-300, 2.0**990), (1e-170, 2.0**560), (1e200, 2.0**-660)])
def test_float64_extreme_magnitudes(mag, rescale):
    # float64 needs scales beyond fp32's range (the Triton path clamps its fp32 scale; this path must not); the
    # reference runs on inputs brought near 1 by hand, where its own squares neither underflow nor overflow
    seed = _fresh_seed()
    x, c = _random(200, 300, 4, torch.float64, seed, mag)
    assert torch.equal(nearest_code(x, c), reference_nearest(x * rescale, c * rescale)[0]), f"seed={seed}"


def test_gradients_are_not_required():
    x = torch.randn(20, 4, requires_grad=True)
    c = torch.nn.Parameter(torch.randn(30, 4))
    idx = nearest_code(x, c)
    assert not idx.requires_grad


@pytest.mark.parametrize("args,match", [
    ((torch.randn(4, 3), torch.randn(5, 4)), "D=3 but the codebook has D=4"),
    ((torch.randn(4, 3), torch.randn(0, 3)), "empty"),
    ((torch.tensor([[1.0, float("nan")]]), torch.randn(5, 2)), "NaN or infinite"),
    ((torch.randn(3, 2), torch.tensor([[float("inf"), 0.0]])), "NaN or infinite"),
    ((torch.randint(0, 5, (4, 3)), torch.randn(5, 3)), "dtype torch.int64"),
    ((torch.randn(4, 3), torch.randn(5, 3, 1)), r"\(K, D\)"),
    ((torch.tensor(1.0), torch.randn(5, 1)), "at least one dimension"),
    (([[1.0]], torch.randn(5, 1)), "torch tensors"),
])
def test_bad_input_raises_clear_errors(args, match):
    with pytest.raises(TokbenchError, match=match) as info:
        nearest_code(*args)
    assert isinstance(info.value, ValueError)  # catchable the torch way too
    assert "\n" not in str(info.value)


def test_bad_options_raise():
    x, c = torch.randn(4, 3), torch.randn(5, 3)
    with pytest.raises(TokbenchError, match="precision"):
        nearest_code(x, c, precision="fp8")
    with pytest.raises(TokbenchError, match="block_rows"):
        nearest_code(x, c, block_rows=0)
    with pytest.raises(TokbenchError, match="codebook_sqnorm"):
        nearest_code(x, c, codebook_sqnorm=torch.zeros(4))
    with pytest.raises(TokbenchError, match="codebook_sqnorm"):
        nearest_code(x, c, codebook_sqnorm=torch.tensor([0.0, 1, 2, 3, float("nan")]))


def test_different_devices_raise():
    if not torch.cuda.is_available():
        x = torch.randn(4, 3, device="meta")
        with pytest.raises(TokbenchError, match="same device"):
            nearest_code(x, torch.randn(5, 3))
    else:
        with pytest.raises(TokbenchError, match="same device"):
            nearest_code(torch.randn(4, 3, device="cuda"), torch.randn(5, 3))


def test_forcing_triton_without_interpreter_on_cpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TOKBENCH_LOOKUP", "triton")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(TokbenchError, match="TRITON_INTERPRET=1"):
        nearest_code(torch.randn(4, 3), torch.randn(5, 3))
    monkeypatch.setenv("TOKBENCH_LOOKUP", "sideways")
    with pytest.raises(TokbenchError, match="TOKBENCH_LOOKUP"):
        nearest_code(torch.randn(4, 3), torch.randn(5, 3))


def test_import_tokbench_does_not_load_torch_or_kernels():
    import subprocess
    import sys

    code = ("import sys, tokbench; tokbench.__version__; "
            "assert 'torch' not in sys.modules and 'tokbench.kernels' not in sys.modules, sorted(sys.modules)[:5]; "
            "import tokbench.kernels; assert 'torch' not in sys.modules")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_worker_threads_give_the_same_answer(threads, monkeypatch):
    # 2048 x 1100 x 8 is above the size where the CPU path shares row blocks out to threads; small integers make
    # every distance exact, so the many ties (duplicates and distinct codes at equal distance) must go to the
    # lowest index exactly as the float64 reference breaks them
    monkeypatch.setenv("TOKBENCH_LOOKUP_THREADS", threads)
    seed = _fresh_seed()
    g = torch.Generator().manual_seed(seed)
    c = torch.randint(-4, 5, (1100, 8), generator=g).float()
    c[700:] = c[:400]
    x = torch.randint(-4, 5, (2048, 8), generator=g).float()
    before = torch.get_num_threads()
    idx = nearest_code(x, c, block_codes=512)
    assert torch.get_num_threads() == before  # restored
    assert torch.equal(idx, reference_nearest(x, c)[0]), f"seed={seed}"


def test_bad_thread_override(monkeypatch):
    monkeypatch.setenv("TOKBENCH_LOOKUP_THREADS", "many")
    with pytest.raises(TokbenchError, match="TOKBENCH_LOOKUP_THREADS"):
        nearest_code(torch.randn(4096, 64), torch.randn(4096, 64))
