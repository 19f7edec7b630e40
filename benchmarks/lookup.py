"""Nearest-code search: tokbench's `nearest_code` against torch.cdist+argmin, matmul+argmin and
vector-quantize-pytorch's VectorQuantize search, timed in one process on the same inputs.

    python benchmarks/lookup.py                                  # default grid (~2 min on 2 cores)
    python benchmarks/lookup.py --n 65536 --k 16384 --d 32       # the issue's headline CPU shape
    python benchmarks/lookup.py --full --json > lookup.json      # the whole grid

Same options as `tokbench bench-lookup` (this script is that command); it writes a `bench` run folder. The
Kernels section of benchmarks/RESULTS.md is written by hand from its output.

    python benchmarks/lookup.py --device cuda --write            # the GPU check of issue 11 (gpu_lookup_check.py)

With `--device cuda` the script runs `benchmarks/gpu_lookup_check.py` instead (its options: --write, --out,
--budget-s, --skip, --smoke): correctness, offsets past 2^31, timings against the bare GEMM and the peers on the
issue's shapes, and a tile sweep, written to gpu_lookup.json and the "Kernels on the GPU (issue 11)" section.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokbench.cli import main  # noqa: E402


def _gpu_check_args(argv: list[str]) -> list[str] | None:
    """The arguments for gpu_lookup_check.py when `--device cuda` was asked for, else None."""
    for i, a in enumerate(argv):
        if a == "--device=cuda":
            return argv[:i] + argv[i + 1:]
        if a == "--device" and argv[i + 1:i + 2] == ["cuda"]:
            return argv[:i] + argv[i + 2:]
    return None


if __name__ == "__main__":
    gpu_args = _gpu_check_args(sys.argv[1:])
    if gpu_args is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from gpu_lookup_check import main as gpu_check  # noqa: E402

        sys.exit(gpu_check(gpu_args))
    sys.exit(main(["bench-lookup", *sys.argv[1:]]))
