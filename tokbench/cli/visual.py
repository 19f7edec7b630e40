"""`tokbench fit-vq`: train a visual tokenizer (grid2d, latent1d, binary, flexible) into a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import DEFAULT_RUNS_DIR, JsonOpt, NameOpt, RunsDirOpt, emit, fmt, stderr, stdout
from tokbench.errors import TokbenchError


def _levels(text: Optional[str]) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise TokbenchError(f"--fsq-levels {text!r}: expected comma-separated integers like 8,5,5,5") from None


@app.command("fit-vq")
def fit_vq_command(
    family: Annotated[Optional[str], typer.Option("--family", "-f", help="grid2d | latent1d | binary | flexible (default grid2d).")] = None,
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Images: builtin:fashion-mnist (default), builtin:digits, builtin:photos, builtin:photos64 (64x64 RGB: add --image-size 64 --channels 3), a folder, IDX or .npz file.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Training steps (default 1000; latent1d and flexible 3000).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML or YAML file of model/train knobs (flat or [model]/[train] tables).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Images per step, per process under torchrun (default 32).")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate, AdamW with warmup then cosine (default 2e-3; latent1d and flexible 3e-3).")] = None,
    quantizer: Annotated[Optional[str], typer.Option("--quantizer", help="vq | fsq (grid2d, latent1d, flexible); lfq | bsq (binary). Default: vq for grid2d and latent1d, fsq for flexible, bsq for binary.")] = None,
    codebook_size: Annotated[Optional[int], typer.Option("--codebook-size", help="VQ codebook entries (default 512; latent1d 1024).")] = None,
    code_dim: Annotated[Optional[int], typer.Option("--code-dim", help="Quantized latent width, vq and fsq (default 8; flexible 4). With fsq and no --code-dim: one per FSQ level.")] = None,
    fsq_levels: Annotated[Optional[str], typer.Option("--fsq-levels", help="FSQ levels, comma-separated, one per code dim (default 8,5,5,5).")] = None,
    bits: Annotated[Optional[int], typer.Option("--bits", help="Binary family: bits per token, may exceed 63 (default 16).")] = None,
    entropy_group: Annotated[Optional[int], typer.Option("--entropy-group", help="Binary family: bits per group of the factorized entropy loss (default 8).")] = None,
    num_tokens: Annotated[Optional[int], typer.Option("--num-tokens", help="1D layouts: latent tokens per image (default 32).")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help="Binary family: 2d (conv grid, default) or 1d (ViT latents).")] = None,
    width: Annotated[Optional[int], typer.Option("--width", help="Conv base channels / transformer width (default 16 for grid2d and binary, 64 for latent1d and flexible).")] = None,
    depth: Annotated[Optional[int], typer.Option("--depth", help="Conv downsampling stages / transformer layers (default 2).")] = None,
    heads: Annotated[Optional[int], typer.Option("--heads", help="Attention heads, 1D layouts (default 4).")] = None,
    patch_size: Annotated[Optional[int], typer.Option("--patch-size", help="ViT patch size, 1D layouts (default 4).")] = None,
    image_size: Annotated[Optional[int], typer.Option("--image-size", help="Images are resized/cropped to this side (default 28).")] = None,
    channels: Annotated[Optional[int], typer.Option("--channels", help="1 (grey, default) or 3 (RGB).")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--learnable-codebook", help="VQ codebook updated by EMA (default) or by gradients.")] = None,
    causal: Annotated[Optional[bool], typer.Option("--causal/--no-causal", help="Flexible family: causal mask over latent tokens (default on).")] = None,
    keep_lengths: Annotated[Optional[str], typer.Option("--keep-lengths", help="Flexible family: nested-dropout prefix lengths, FlexTok's modes: uniform (1..K, default), pow2 (1, 2, 4 .. K) or uniform_pow2 (1..K rounded up to a power of two).")] = None,
    latent_mixing: Annotated[Optional[str], typer.Option("--latent-mixing", help="1D layouts, ours (not in TiTok/FlexTok): none (default), raster or pyramid: a linear patches<->latents path initialised as region pooling, so the ViT learns in CPU step counts.")] = None,
    pixel_head: Annotated[Optional[str], typer.Option("--pixel-head", help="1D layouts without --proxy: linear (default, per patch) or conv (a VQGAN-style conv decoder after the ViT decoder).")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option("--checkpoint-every", help="Write a safetensors checkpoint every N steps (default 250).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for init, data order and every random draw (default 0).")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto.", show_default=True)] = "auto",
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads for torch (default: torch's choice).")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue an interrupted run folder from its last checkpoint.")] = None,
    proxy: Annotated[Optional[Path], typer.Option("--proxy", help="latent1d / flexible: a trained grid2d run; train in TiTok's two stages (its codes, then pixels through its decoder).")] = None,
    proxy_steps: Annotated[Optional[int], typer.Option("--proxy-steps", help="With --proxy: stage-1 (proxy-code) steps (default 2/3 of --steps).")] = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    name: NameOpt = None,
    json_out: JsonOpt = False,
) -> int:
    """Train a visual tokenizer on images and write a **visual-vq** run folder.

    Defaults train each family on **builtin:fashion-mnist** on a CPU in minutes. Under
    **torchrun --nproc_per_node N** it trains with DistributedDataParallel. Evaluate with
    **tokbench eval-vq RUN**.
    """
    from tokbench import fit_vq

    model_options: dict[str, Any] = {
        "quantizer": quantizer, "codebook_size": codebook_size, "code_dim": code_dim,
        "fsq_levels": _levels(fsq_levels), "bits": bits, "entropy_group": entropy_group, "num_tokens": num_tokens,
        "layout": layout, "width": width, "depth": depth, "heads": heads, "patch_size": patch_size,
        "image_size": image_size, "channels": channels, "ema": ema, "causal": causal,
        "keep_lengths": keep_lengths, "latent_mixing": latent_mixing, "pixel_head": pixel_head,
    }
    model_options = {k: v for k, v in model_options.items() if v is not None}
    result = fit_vq(family, data, steps=steps, config=config, runs_dir=runs_dir, name=name, resume=resume,
                    seed=seed, device=device, checkpoint_every=checkpoint_every, batch_size=batch_size, lr=lr,
                    model_options=model_options, threads=threads, proxy=proxy,
                    proxy_steps=proxy_steps)
    if result.run_dir is None:  # a torchrun rank other than 0: rank 0 reports for all
        return 0 if result.status == "done" else 1
    payload = result.to_dict()
    emit(payload, json_out, _render)
    if result.status != "done":
        stderr.print(f"tokbench: fit-vq {result.status}: {result.message}")
        return 1
    return 0


def _render(payload: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"fit-vq {payload['family']}: {payload['status']}")
    table.add_column("field", style="bold")
    table.add_column("value", justify="right")
    rows = [("run", payload["run_dir"]), ("steps", payload["steps"]), ("final loss", payload["final_loss"]),
            ("seconds", payload["seconds"]), ("train images/s", payload["images_per_second"])]
    rows.append(("processes", payload.get("processes", 1)))  # > 1 under torchrun; images/s counts them all
    metrics = payload.get("metrics") or {}
    rows += [(k.replace("_", " "), metrics[k]) for k in ("tokens_per_image", "bits_per_token", "bits_per_image")
             if k in metrics]
    if payload.get("resumed_from") is not None:
        rows.append(("resumed from step", payload["resumed_from"]))
    for key, value in rows:
        table.add_row(key, fmt(value) if value is not None else "-")
    stdout.print(table)
    if payload["status"] == "done" and payload["run_dir"]:
        stdout.print(f"next: tokbench eval-vq {payload['run_dir']}")


BudgetOpt = Annotated[Optional[int], typer.Option("--budget", help="Flexible runs: keep only the first N ordered "
                                                  "tokens (default all; other families always use all).")]


@app.command("tokenize-image")
def tokenize_image_command(
    source: Annotated[Path, typer.Argument(help="An image file, or a folder of images (searched recursively).")],
    run: Annotated[Path, typer.Option("--run", help="The visual-vq run folder whose model encodes.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Token file to write (.npz).")],
    budget: BudgetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Encode images into a visual run's tokens (an npz with tokens (N, T) and what decoding needs).

    Each image is resized and center-cropped to the model's size; decode with **tokbench detokenize-image**."""
    from tokbench.visual.tokens import tokenize_images

    emit(tokenize_images(source, run, out, budget=budget), json_out, lambda r: stdout.print(
        f"{r['input']}: {r['images']} image(s) x {r['tokens_per_image']} tokens ({fmt(r['bits_per_image'])} bits "
        f"per image, {r['family']}) -> {r['output']}"))


@app.command("detokenize-image")
def detokenize_image_command(
    tokens: Annotated[Path, typer.Argument(help="A token file written by tokenize-image.")],
    run: Annotated[Path, typer.Option("--run", help="The visual-vq run folder that made the tokens.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="A .png for one image, else a folder of PNGs.")],
    budget: BudgetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Decode a token file back into PNG images so you can see what the tokens keep."""
    from tokbench.visual.tokens import detokenize_images

    emit(detokenize_images(tokens, run, out, budget=budget), json_out, lambda r: stdout.print(
        f"{r['input']} -> {r['output']} ({r['images']} image(s) from {r['tokens_per_image']} tokens each)"))
