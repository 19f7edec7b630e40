"""The fused Triton kernel, run on the CPU through Triton's interpreter (TRITON_INTERPRET=1).

TRITON_INTERPRET must be set before triton is imported, so the real checks run in a child pytest process with
the variable set (this same file); in the parent session only the launcher test below is collected.
Shapes stay small: the interpreter executes every program instance in numpy.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

CHILD = os.environ.get("TRITON_INTERPRET") == "1" and os.environ.get("TOKBENCH_LOOKUP") == "triton"

if not CHILD:

    @pytest.mark.slow
    def test_triton_kernel_under_the_interpreter():
        env = dict(os.environ, TRITON_INTERPRET="1", TOKBENCH_LOOKUP="triton",
                   PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]

else:
    from tokbench.kernels import backend_for, nearest_code
    from tokbench.kernels.reference import disagreements, reference_nearest
    from tokbench.kernels.triton_lookup import pick_config

    DTYPES = [torch.float32, torch.float16, torch.bfloat16]

    def _seeded():
        seed = random.SystemRandom().randrange(2**31)
        print(f"seed={seed}")
        return seed, torch.Generator().manual_seed(seed)

    def test_dispatches_to_triton():
        assert backend_for(torch.zeros(1, 1)) == "triton"

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("n,k,d", [(1, 1, 1), (1, 70, 3), (37, 130, 8), (150, 65, 32), (20, 33, 80), (9, 40, 300)])
    def test_matches_float64_brute_force(n, k, d, dtype):
        seed, g = _seeded()
        x = torch.randn(n, d, generator=g).to(dtype)
        c = torch.randn(k, d, generator=g).to(dtype)
        idx, dist = nearest_code(x, c, return_distance=True)
        assert idx.dtype == torch.int64 and idx.shape == (n,) and dist.dtype == torch.float32
        bad = disagreements(idx, x, c)
        assert bad.numel() == 0, f"seed={seed}: rows {bad[:5].tolist()}"
        _, ref_dist = reference_nearest(x, c)
        scale = 1 + (x.double() ** 2).sum(1) + (c.double() ** 2).sum(1).max()
        assert ((dist.double() - ref_dist).abs() <= 1e-5 * d * scale).all(), f"seed={seed}"

    def test_tf32_precision_option():
        seed, g = _seeded()
        x, c = torch.randn(40, 16, generator=g), torch.randn(90, 16, generator=g)
        idx = nearest_code(x, c, precision="tf32")
        assert disagreements(idx, x, c, precision="tf32").numel() == 0, f"seed={seed}"

    @pytest.mark.parametrize("block_codes", [16, 32, None])
    def test_exact_ties_go_to_the_lowest_index_across_tiles(block_codes):
        seed, g = _seeded()
        base = torch.randint(-3, 4, (21, 5), generator=g).float()
        c = torch.cat([base, base, base[:7]])  # K = 49: ragged last tile for every block size
        x = torch.randint(-3, 4, (60, 5), generator=g).float()
        idx = nearest_code(x, c, block_codes=block_codes, block_rows=16)
        assert torch.equal(idx, reference_nearest(x, c)[0]), f"seed={seed}"

    def test_large_and_small_magnitudes_and_leading_shape():
        seed, g = _seeded()
        for mag in (1e-30, 1e-8, 1e8, 1e30):
            x = torch.randn(2, 3, 6, generator=g, dtype=torch.float64).mul(mag).float()
            c = torch.randn(50, 6, generator=g, dtype=torch.float64).mul(mag).float()
            idx = nearest_code(x, c)
            assert idx.shape == (2, 3)
            assert disagreements(idx, x, c).numel() == 0, f"seed={seed}, magnitude {mag}"

    def test_codebook_sqnorm_zero_is_max_inner_product():
        seed, g = _seeded()
        x, c = torch.randn(30, 8, generator=g), torch.randn(45, 8, generator=g)
        idx = nearest_code(x, c, codebook_sqnorm=torch.zeros(45))
        assert torch.equal(idx, (x.double() @ c.double().T).argmax(1)), f"seed={seed}"

    def test_configs_per_shape_class():
        small, medium = pick_config(10**6, 65536, 32), pick_config(10**6, 65536, 200)
        large = pick_config(10**6, 65536, 1000)
        assert small.block_d == 32 and small.block_n == 128
        assert medium.block_d == 256 and medium.num_warps == 8
        assert large.block_d == 64  # D streamed in chunks
        assert pick_config(3, 5, 1).block_n == 16 and pick_config(3, 5, 1).block_d == 16  # tl.dot needs >= 16
