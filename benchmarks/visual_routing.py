"""Why the 1D families learn slowly on a CPU, and what our options change (issue 14): latent1d variants trained
the same way on builtin:fashion-mnist, one CPU thread, printing one JSON line per variant.

    .venv/bin/python benchmarks/visual_routing.py [STEPS] [VARIANT ...]

Every variant is latent1d's default size (width 64, 2 layers, 32 tokens, patch 4, VQ 1,024 x 8) trained by a
plain loop with fit-vq's settings (AdamW 3e-3, 50 warm-up steps then cosine to 10%, batch 32, L1 + L2 + the
quantizer's losses, gradient clip 1), then scored by mean PSNR on the first 1,000 test images. The controls
are built here and exist nowhere else:
- `identity`: the quantizer replaced by the identity (is the codebook what learns slowly?);
- `patch-tokens`: one token per patch and no latents (the same ViT, without routing patches into latents);
- `random-mixing`: our linear patches <-> latents path with a random (not pooling) initialisation.
The rest are fit-vq options: `published` (TiTok as published), `raster`, `pyramid` (`latent_mixing`),
`conv-head` (`pixel_head = "conv"`) and their combinations joined by `+`.
"""

from __future__ import annotations

import json
import math
import sys
import time

DEFAULT_VARIANTS = ["published", "identity", "patch-tokens", "random-mixing", "conv-head", "raster", "pyramid",
                    "raster+conv-head", "pyramid+conv-head"]


def build(variant: str):
    import torch
    from torch import nn

    from tokbench.visual.model_io import build_model

    parts = set(variant.split("+"))
    options = {"latent_mixing": "raster" if "raster" in parts else "pyramid" if "pyramid" in parts else "none",
               "pixel_head": "conv" if "conv-head" in parts else "linear"}
    if "random-mixing" in parts:
        options["latent_mixing"] = "raster"
    model = build_model("latent1d", options)
    if "random-mixing" in parts:
        p, k = model.num_patches, model.config.num_tokens
        with torch.no_grad():
            model.enc_mix.copy_(torch.randn(k, p) / math.sqrt(p))
            model.dec_mix.copy_(torch.randn(p, k) / math.sqrt(k))
    if "identity" in parts:
        class Identity(nn.Module):  # only the training and scoring forward pass is used here
            def forward(self, z):
                return z, torch.zeros(z.shape[:2], dtype=torch.long), {}

        model.quantizer = Identity()
    if "patch-tokens" in parts:
        def encode(x):
            patches = model.patch_in(x).flatten(2).transpose(1, 2) + model.patch_pos
            return model.to_code(model.encoder(patches))

        def decode(zq, keep):
            return model.decoder(model.from_code(zq) + model.patch_pos)

        model._encode_latents, model._decode_patches = encode, decode
    return model


def train_and_score(variant: str, steps: int) -> dict:
    import torch
    import torch.nn.functional as F

    from tokbench.sources.images import load_images

    torch.manual_seed(0)
    model = build(variant).train()
    train = torch.from_numpy(load_images("builtin:fashion-mnist", "train").images)
    test = torch.from_numpy(load_images("builtin:fashion-mnist", "test").images[:1000])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    start = time.time()
    for step in range(steps):
        warm = 50
        lr = 3e-3 * ((step + 1) / warm if step < warm else
                     0.1 + 0.45 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm))))
        for group in opt.param_groups:
            group["lr"] = lr
        x = train[torch.randint(0, len(train), (32,), generator=g)]
        recon, aux, _ = model(x)
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x) + sum(aux.values(), torch.tensor(0.0))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    seconds = time.time() - start
    model.eval()
    with torch.no_grad():
        recon = torch.cat([model(test[i:i + 250])[0].clamp(0, 1) for i in range(0, len(test), 250)])
    psnr = float((10 * torch.log10(1 / ((recon - test) ** 2).flatten(1).mean(1))).mean())
    return {"variant": variant, "steps": steps, "psnr_db": round(psnr, 2), "train_seconds": round(seconds)}


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    steps = int(argv[0]) if argv else 300
    for variant in argv[1:] or DEFAULT_VARIANTS:
        print(json.dumps(train_and_score(variant, steps)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
