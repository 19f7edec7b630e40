"""What training on a GPU changes: bf16 autocast and a batch large enough to keep the device busy.

On CUDA the encoder and decoder run under `torch.autocast(dtype=torch.bfloat16)` (bf16 keeps fp32's exponent
range, so no loss scaling is needed, as in the TiTok and FlexTok training code); the quantizer always runs in
fp32 (`VisualTokenizer.forward` turns autocast off around it), so nearest-code choices and EMA codebook updates
do not depend on the device. On CPU nothing changes: CPU bf16 matmuls are slower than fp32 on most machines.

The default CUDA batch is a heuristic, not a measurement: our default models are a few MB, so at the CPU
batch of 32 an H200 spends its time launching kernels (1,864 images/s, 1.9x a 16-core CPU). The CUDA default
scales the batch with the device's memory and inversely with the pixels per image, capped so one epoch of a
small built-in is still many steps.
"""

from __future__ import annotations

import contextlib
from typing import Any

CPU_BATCH = 32
CUDA_BATCH_PER_GIB_28PX = 16   # images of 28x28 per GiB of device memory in the default batch
CUDA_BATCH_RANGE = (64, 2048)


def autocast_for(device: str) -> Any:
    """The context manager the training step runs under: bf16 autocast on CUDA, nothing elsewhere."""
    import torch

    if str(device).startswith("cuda"):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def default_batch_size(device: str, image_size: int, memory_gib: float | None = None) -> int:
    """Images per step when the user gives none: 32 on CPU; on CUDA, 16 images of 28x28 per GiB of device
    memory, scaled by (28 / image_size)^2, rounded down to a power of two within 64..2048."""
    if not str(device).startswith("cuda"):
        return CPU_BATCH
    if memory_gib is None:
        import torch

        memory_gib = torch.cuda.get_device_properties(torch.device(device)).total_memory / 2 ** 30
    raw = CUDA_BATCH_PER_GIB_28PX * memory_gib * (28 / max(1, image_size)) ** 2
    low, high = CUDA_BATCH_RANGE
    size = low
    while size * 2 <= min(raw, high):
        size *= 2
    return size
