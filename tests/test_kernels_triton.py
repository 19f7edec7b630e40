"""The fused Triton kernel, run on the CPU through Triton's interpreter (TRITON_INTERPRET=1).

TRITON_INTERPRET must be set before triton is imported, so the real checks run in a child pytest process with
the variable set (this same file); in the parent session only the launcher test below is collected.
Shapes stay small: the interpreter executes every program instance in numpy.
"""

from __future__ import annotations

import json
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

    @pytest.mark.slow
    def test_gpu_check_script_dry_run_on_the_cpu(tmp_path):
        # the script a GPU session runs (benchmarks/lookup.py --device cuda), in --smoke: interpreter, tiny shapes
        root = Path(__file__).resolve().parents[1]
        results = tmp_path / "RESULTS.md"
        results.write_text("# Benchmark results\n\n## Other\n\nkept\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "TOKBENCH_LOOKUP", "OUT")}
        proc = subprocess.run([sys.executable, str(root / "benchmarks" / "lookup.py"), "--device", "cuda", "--smoke",
                               "--out", str(tmp_path), "--write", "--results", str(results)],
                              env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        res = json.loads((tmp_path / "gpu_lookup.json").read_text(encoding="utf-8"))
        assert not [k for k in res if k.endswith("_error")], res
        assert res["correctness"]["all_ok"] and res["smoke"]
        assert {(r["dtype"], r["precision"]) for r in res["speed"]} == {("float32", "ieee"), ("float32", "tf32"),
                                                                          ("bfloat16", "ieee")}
        for r in res["speed"]:
            assert r["nearest_code_ms"] > 0 and r["gemm_ms"] > 0 and r["ratio_vs_gemm"] > 0
        assert res["sweep"] and res["sweep"][0]["best_tile"]
        assert {k: v["rc"] for k, v in res["training"].items()} == {"fit-vq": 0}  # fit-audio only on a GPU
        text = results.read_text(encoding="utf-8")
        assert "## Other\n\nkept" in text and "## Kernels on the GPU (issue 11)" in text
        assert "Smoke run" in text and "Before this change" in text and "4.78 ms" in text

else:
    from tokbench.kernels import backend_for, nearest_code
    from tokbench.kernels.reference import disagreements, reference_nearest
    import triton

    from tokbench.kernels.triton_lookup import (D_BUCKETS, K_BUCKETS, TILES, nearest_code_triton, pick_config,
                                                prepare_triton, shape_class, shrink, sqnorms_triton)

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

    @pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # unscaled norms, then rescaled
    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
    def test_large_and_small_magnitudes_and_leading_shape(dtype):
        # the rescale happens inside the kernel; 1e-41 is subnormal in fp32 (its scale is clamped to 2^126)
        seed, g = _seeded()
        for mag in (1e-41, 1e-30, 1e-8, 1e8, 1e30):
            x = torch.randn(2, 3, 6, generator=g, dtype=torch.float64).mul(mag).to(dtype)
            c = torch.randn(50, 6, generator=g, dtype=torch.float64).mul(mag).to(dtype)
            idx = nearest_code(x, c)
            assert idx.shape == (2, 3)
            assert disagreements(idx, x, c).numel() == 0, f"seed={seed}, magnitude {mag}"

    def test_codebook_sqnorm_zero_is_max_inner_product():
        seed, g = _seeded()
        x, c = torch.randn(30, 8, generator=g), torch.randn(45, 8, generator=g)
        idx = nearest_code(x, c, codebook_sqnorm=torch.zeros(45))
        assert torch.equal(idx, (x.double() @ c.double().T).argmax(1)), f"seed={seed}"

    def test_fused_pass_gives_norms_and_maxima_and_rejects_non_finite_values():
        from tokbench.errors import TokbenchError

        seed, g = _seeded()
        x = torch.randn(70, 300, generator=g).bfloat16()
        c = torch.randn(300, 45, generator=g).T.mul(3)  # column-major codebook
        norms, maxima = prepare_triton(x, c.bfloat16())
        assert torch.allclose(norms, (c.bfloat16().float() ** 2).sum(1), rtol=1e-5)
        assert maxima.tolist() == [float(c.bfloat16().abs().max()), float(x.abs().max())]
        for where, what in (("x", "the input"), ("codebook", "the codebook")):
            for bad in (float("nan"), float("-inf")):
                xb, cb = torch.randn(20, 6, generator=g), torch.randn(30, 6, generator=g)
                (xb if where == "x" else cb)[7, 2] = bad
                with pytest.raises(TokbenchError, match=f"{what} contains NaN or infinite"):
                    nearest_code(xb, cb)

    def test_given_norms_are_checked_and_rescaled():
        from tokbench.errors import TokbenchError

        seed, g = _seeded()
        # 1e15 is past 2^40, so x and the codes are rescaled, and the given norms (about 1e31) with them
        x, c = torch.randn(30, 8, generator=g) * 1e15, torch.randn(45, 8, generator=g) * 1e15
        idx = nearest_code(x, c, codebook_sqnorm=(c.double() ** 2).sum(1))
        assert disagreements(idx, x, c).numel() == 0, f"seed={seed}"
        with pytest.raises(TokbenchError, match="codebook_sqnorm must be finite"):
            nearest_code(x, c, codebook_sqnorm=torch.full((45,), float("nan")))

    def test_mixed_input_dtypes():
        seed, g = _seeded()
        x, c = torch.randn(30, 12, generator=g).half(), torch.randn(50, 12, generator=g)
        assert disagreements(nearest_code(x, c), x.float(), c).numel() == 0, f"seed={seed}"

    def test_configs_per_shape_class():
        small, medium = pick_config(10**6, 65536, 32), pick_config(10**6, 65536, 200)
        large = pick_config(10**6, 65536, 1000)
        assert small.block_d == 32 and small.block_n == 128
        assert medium.block_d == 256 and medium.num_warps == 8
        assert large.block_d == 64  # D streamed in chunks
        assert pick_config(3, 5, 1).block_n == 16 and pick_config(3, 5, 1).block_d == 16  # tl.dot needs >= 16
        # the H200 sweep's best tiles: tf32 D=32 128x128, bf16 D=256 256x64 (4 warps), tf32 D=256 128x32 (8 warps)
        tile = lambda cfg: (cfg.block_n, cfg.block_k, cfg.num_warps)  # noqa: E731
        assert tile(pick_config(65536, 16384, 32, precision="tf32")) == (128, 128, 4)
        assert tile(pick_config(65536, 1024, 256, dtype=torch.bfloat16)) == (256, 64, 4)
        assert tile(pick_config(65536, 1024, 256, precision="tf32")) == (128, 32, 8)
        assert shape_class(4_194_304, 64, torch.float16, "tf32") == ("half", 64, "k>65536")
        assert set(TILES) == {(p, d, k) for p in ("half", "tf32", "ieee") for d in D_BUCKETS for k in K_BUCKETS}

    def test_codebook_split_only_when_rows_do_not_fill_the_gpu():
        # N = 4,096 against 4M codes on 132 SMs: 32 row blocks, so the codebook is cut into enough slices
        few_rows = pick_config(4096, 4_194_304, 64, precision="tf32", sm_count=132)
        assert few_rows.splits * triton.cdiv(4096, few_rows.block_n) >= 4 * 132
        assert pick_config(1 << 20, 65536, 32, sm_count=132).splits == 1  # rows alone fill it
        assert pick_config(65536, 1024, 256, dtype=torch.bfloat16, sm_count=132).splits == 1  # 256 row blocks
        assert pick_config(4096, 4_194_304, 64).splits == 1  # SM count unknown (interpreter): never auto-split
        assert pick_config(16, 100, 8, block_codes=16, splits=50).splits == 7  # at most one slice per code tile
        assert pick_config(16, 100, 8, block_codes=16, splits=6).splits == 4  # no empty slice (7 tiles: 2+2+2+1)

    @pytest.mark.parametrize("splits", [2, 3, 5])
    def test_split_codebook_matches_brute_force_and_keeps_lowest_index_ties(splits):
        seed, g = _seeded()
        base = torch.randint(-3, 4, (23, 6), generator=g).float()
        c = torch.cat([base, base, base, base[:9]])  # K = 78: duplicates in every slice, ragged last tile
        x = torch.randint(-3, 4, (40, 6), generator=g).float()
        sq = sqnorms_triton(c)
        assert torch.equal(sq, (c * c).sum(1))
        idx, dist = nearest_code_triton(x, c, sq, block_rows=16, block_codes=16, splits=splits)
        ref_idx, ref_dist = reference_nearest(x, c)
        assert torch.equal(idx, ref_idx), f"seed={seed}"
        assert torch.equal(dist.double(), ref_dist), f"seed={seed}"
        xr, cr = torch.randn(33, 20, generator=g).bfloat16(), torch.randn(200, 20, generator=g).bfloat16()
        idx = nearest_code_triton(xr, cr, sqnorms_triton(cr), block_codes=16, splits=splits)[0]
        assert disagreements(idx, xr, cr).numel() == 0, f"seed={seed}"

    def test_a_tile_too_big_for_the_device_shrinks_once_and_is_remembered(monkeypatch):
        from tokbench.kernels import triton_lookup

        seed, g = _seeded()
        x, c = torch.randn(70, 24, generator=g), torch.randn(150, 24, generator=g)
        real, tried = triton_lookup._launch_search, []

        def small_device(cfg, *args):  # pretends only <= 32-row, 1-stage tiles fit in shared memory
            tried.append(cfg)
            if cfg.num_stages > 1 or cfg.block_n > 32:
                raise triton.OutOfResources(cfg.num_stages * cfg.block_n * 1024, 32 * 1024, "shared memory")
            real(cfg, *args)

        monkeypatch.setattr(triton_lookup, "_launch_search", small_device)
        monkeypatch.setattr(triton_lookup, "_SHRUNK", {})
        for _ in range(2):
            idx = triton_lookup.nearest_code_triton(x, c, sqnorms_triton(c), block_rows=128)[0]
            assert disagreements(idx, x, c).numel() == 0, f"seed={seed}"
        first = [(t.block_n, t.num_stages) for t in tried]
        assert first == [(128, 3), (128, 2), (128, 1), (64, 1), (32, 1), (32, 1)]  # the 2nd call starts at the fit
        assert shrink(triton_lookup.Config(16, 16, 16, 4, 1)) is None
        with pytest.raises(triton.OutOfResources):  # an explicit tile (the sweep's) is never swapped for another
            triton_lookup.nearest_code_triton(x, c, sqnorms_triton(c), config=triton_lookup.Config(64, 64, 32, 4, 2))

    # Offsets past 2^31 elements without allocating them: a view whose stride (< 2^31, so Triton passes it as a
    # 32-bit integer) puts one element at 2^31 + 8 past the view's start. In 32 bits that offset wraps to
    # -2^31 + 8; the view starts 2^31 elements into an 8 GiB buffer that is never touched (virtual memory only),
    # so the wrapped read lands on untouched zeros inside the buffer instead of crashing, and the answer changes.
    STRIDE = 2**30 + 4
    START = 2**31

    def _far_view(shape, strides):
        try:
            buf = torch.empty(START + 2 * STRIDE + 512, dtype=torch.float16)
        except RuntimeError as exc:  # no room for 8 GiB of virtual memory here
            pytest.skip(f"cannot reserve the 8 GiB buffer: {exc}")
        return buf.as_strided(shape, strides, START)

    @pytest.mark.parametrize("layout", ["x rows", "x rows, D streamed", "x columns", "code rows", "code columns"])
    def test_offsets_past_2_31_elements(layout):
        if layout.startswith("x rows"):  # row 2 of x sits at element 2^31 + 8
            d = 300 if "streamed" in layout else 16
            c = torch.zeros(8, d, dtype=torch.float16)
            c[1:].normal_(generator=torch.Generator().manual_seed(0))
            c[5] = 3.0
            x = _far_view((3, d), (STRIDE, 1))
            x[0], x[1], x[2] = c[1], c[2], c[5]
            expected = [1, 2, 5]  # a wrapped read of row 2 sees zeros: code 0
        elif layout == "x columns":  # dimension 2 of x (column-major) sits at element 2^31 + 8
            c = torch.tensor([[1, 1, 0], [1, 1, 5], [-1, 2, 0], [-1, 2, 4]], dtype=torch.float16)
            x = _far_view((2, 3), (1, STRIDE))
            x[0], x[1] = c[1], c[3]
            expected = [1, 3]  # with dimension 2 read as zero: codes 0 and 2
        elif layout == "code rows":  # code 2 sits at element 2^31 + 8
            c = _far_view((3, 16), (STRIDE, 1))
            c[0], c[1], c[2] = -3.0, torch.linspace(-1, 1, 16), 3.0
            x = torch.full((1, 16), 3.0, dtype=torch.float16)
            expected = [2]  # code 2 read as zeros loses to code 1
        else:  # dimension 2 of every code (column-major codebook) sits at element 2^31 + 8 + k
            c = _far_view((3, 3), (1, STRIDE))
            c[0], c[1], c[2] = torch.tensor([0.0, 0, -5]), torch.tensor([0.0, 0, 5]), torch.tensor([1.0, 0, 0])
            x = torch.tensor([[0.0, 0, 5]], dtype=torch.float16)
            expected = [1]  # with dimension 2 read as zero: code 2
        assert nearest_code(x, c).tolist() == expected
        if layout.startswith("code"):
            assert torch.allclose(sqnorms_triton(c), (c.float() ** 2).sum(1), rtol=1e-6)
