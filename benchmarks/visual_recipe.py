"""Fit + evaluate one visual config on one CPU thread and print one JSON line: PSNR (and codebook use, bits per
image) per token budget, the mean-image baseline's PSNR, and training images/second (issue 14).

    .venv/bin/python benchmarks/visual_recipe.py FAMILY DATA STEPS ['{"model or train knob": value}'] ['[budgets]']

The run folder goes to a temporary directory (removed afterwards) unless the knobs hold `"runs_dir": DIR`
(kept there, named after the family); `"proxy": RUN` trains in TiTok's two stages against a grid2d run
(`fit-vq --proxy`). Eval uses up to 1,000 test images.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time


def main(argv: list[str]) -> None:
    import torch

    from tokbench.visual.evaluate import evaluate_vq
    from tokbench.visual.train import fit_vq

    torch.set_num_threads(1)
    family, data, steps = argv[0], argv[1], int(argv[2])
    knobs = json.loads(argv[3]) if len(argv) > 3 else {}
    budgets = json.loads(argv[4]) if len(argv) > 4 else None
    proxy, keep = knobs.pop("proxy", None), knobs.pop("runs_dir", None)
    start = time.time()
    with tempfile.TemporaryDirectory() as runs:
        fit = fit_vq(family, data, steps=steps, runs_dir=keep or runs, device="cpu", threads=1, config=knobs,
                     proxy=proxy, name=family if keep else None)
        report = evaluate_vq(fit.run_dir, data=data, limit=1000, budgets=budgets, examples=0)
    rows: dict[str, dict[str, float]] = {}
    for row in report["rows"]:
        if row["metric"] in ("psnr_db", "ssim", "codebook_usage", "bits_per_image"):
            key = "baseline" if row["subject"].startswith("baseline") else f"budget {row.get('budget')}"
            rows.setdefault(key, {})[row["metric"]] = round(row["value"], 3)
    if proxy:
        knobs["proxy"] = proxy
    print(json.dumps({"family": family, "data": data, "steps": steps, "knobs": knobs, "run": str(fit.run_dir),
                      "train_images_per_second": round(fit.images_per_second, 1),
                      "seconds": round(time.time() - start), "rows": rows}))


if __name__ == "__main__":
    main(sys.argv[1:])
