"""Nearest-code search: tokbench's `nearest_code` against torch.cdist+argmin, matmul+argmin and
vector-quantize-pytorch's VectorQuantize search, timed in one process on the same inputs.

    python benchmarks/lookup.py                                  # default grid (~2 min on 2 cores)
    python benchmarks/lookup.py --n 65536 --k 16384 --d 32       # the issue's headline CPU shape
    python benchmarks/lookup.py --full --json > lookup.json      # the whole grid

Same options as `tokbench bench-lookup` (this script is that command); it writes a `bench` run folder. The
Kernels section of benchmarks/RESULTS.md is written by hand from its output.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokbench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench-lookup", *sys.argv[1:]]))
