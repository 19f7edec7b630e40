"""Fused nearest-codeword lookup that never builds the N x K distance matrix.

`nearest_code` (in `lookup.py`) dispatches to the Triton kernel on CUDA and to a tiled torch loop elsewhere;
`vq_patch.py` routes vector-quantize-pytorch's codebook search through it; `bench.py` times it against peers.
Torch is imported only when a function runs (the vq_patch names load torch and vector-quantize-pytorch on first
access), so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from tokbench.kernels.lookup import LookupInputError, backend_for, nearest_code, triton_available

_LAZY = {name: "tokbench.kernels.vq_patch" for name in
         ("enable_fast_search", "disable_fast_search", "fast_search", "vq_search")}
_LAZY["run_lookup_bench"] = "tokbench.kernels.bench"

__all__ = ["nearest_code", "backend_for", "triton_available", "LookupInputError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokbench.kernels' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
