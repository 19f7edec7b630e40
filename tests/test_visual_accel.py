"""GPU training's CPU-visible parts: autocast only on CUDA, the quantizer kept in fp32 under autocast, the
default batch per device, and the images/second, batch and precision a run records."""

from __future__ import annotations

import contextlib

import pytest

torch = pytest.importorskip("torch")

from tokbench.runs import load_run  # noqa: E402
from tokbench.visual.accel import CPU_BATCH, autocast_for, default_batch_size  # noqa: E402
from tokbench.visual.model_io import build_model  # noqa: E402
from tokbench.visual.train import fit_vq  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.filterwarnings("ignore:CUDA is not available")
def test_autocast_only_on_cuda():
    assert isinstance(autocast_for("cpu"), contextlib.nullcontext)
    for device in ("cuda", "cuda:1"):
        ctx = autocast_for(device)
        assert isinstance(ctx, torch.autocast) and ctx.device == "cuda" and ctx.fast_dtype == torch.bfloat16


@pytest.mark.parametrize("device,image_size,memory,want", [
    ("cpu", 28, None, CPU_BATCH), ("cpu", 64, None, CPU_BATCH),
    ("cuda", 28, 139.0, 2048), ("cuda", 64, 139.0, 256), ("cuda:0", 28, 16.0, 256), ("cuda", 256, 8.0, 64),
])
def test_default_batch_size(device, image_size, memory, want):
    assert default_batch_size(device, image_size, memory_gib=memory) == want


@pytest.mark.parametrize("family", ["grid2d", "latent1d"])
def test_quantizer_runs_in_fp32_under_autocast(family):
    model = build_model(family, {"width": 8, "heads": 2, "depth": 1, "num_tokens": 4, "codebook_size": 16,
                                 "code_dim": 4})
    seen = []
    model.quantizer.register_forward_pre_hook(lambda mod, args: seen.append(args[0].dtype))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        recon, losses, _ = model(torch.rand(2, 1, 28, 28))
    assert seen == [torch.float32]
    assert all(v.dtype == torch.float32 for v in losses.values())


def test_run_records_throughput_batch_and_precision(tmp_path):
    config = {"image_size": 8, "width": 8, "depth": 1, "codebook_size": 32, "code_dim": 4, "warmup_steps": 1}
    result = fit_vq("grid2d", "builtin:digits", steps=3, runs_dir=tmp_path, name="r", device="cpu", config=config)
    record = load_run(result.run_dir)
    train = record.metrics["builtin:digits/train"]
    assert train["train_images_per_second"] > 0 and result.images_per_second > 0
    assert train["train_batch_size"] == CPU_BATCH
    assert record.info["precision"] == "fp32"
    given = fit_vq("grid2d", "builtin:digits", steps=1, runs_dir=tmp_path, name="g", device="cpu",
                   config=config, batch_size=5)
    assert load_run(given.run_dir).metrics["builtin:digits/train"]["train_batch_size"] == 5
