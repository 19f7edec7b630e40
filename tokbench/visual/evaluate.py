"""Evaluate a trained image tokenizer per token budget and attach the results to its run folder.

For each budget k (every prefix length 1..K for the flexible family; the full length otherwise) the test images
are encoded once and decoded from their first k tokens, and we report:

- `psnr_db` (mean of per-image PSNR), `ssim` (mean of per-image SSIM, 11x11 Gaussian window; images under 11 px
  have none), both from `tokbench.metrics.fidelity`;
- `rfid` only with the verified standard FID Inception weights (`tokbench.metrics.fid`), else an entry in
  `unavailable`; `fd_pixels`, the Fréchet distance between pooled-pixel features, always (never an FID);
- code statistics over the k kept positions of every image (`tokbench.metrics.codebook`): `codebook_usage`,
  `entropy_bits`, `perplexity`, `dead_codes`, and `token_information_density` = entropy_bits / bits_per_token,
  the share of each token's nominal log2(V) bits that the empirical code distribution uses (1 = every code
  equally often; the estimate cannot exceed log2 of the number of tokens counted). Binary codes are counted
  factorized: their bits are split into groups of `group` bits (the model's `entropy_group`, default 8), each
  group's sub-codes are counted over 2^width values, entropies are summed (an upper bound on the joint entropy,
  exact for independent groups), usage is the mean over groups and dead codes are summed over groups;
- rate (`tokbench.metrics.rate`): `tokens_per_image` = k, `bits_per_image` = k x bits_per_token,
  `bits_per_pixel` = bits_per_image / (H x W).
A reference row gives the trivial baseline: every test image replaced by the mean training image.

Written into the training run (under its lock, `Run.attach`): report.json rows {"subject", "dataset", "metric",
"value", "budget", "unit"}, an `unavailable` list, an `evaluations` section {dataset: summary};
metrics.json {dataset: metrics at the largest budget}; artifacts/eval/reconstructions.npz with uint8
(N, H, W, C) arrays `original` and `budget_<k>` for the first `examples` images.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.metrics import codebook as cb
from tokbench.metrics import fid as fidm
from tokbench.metrics import rate
from tokbench.metrics.fidelity import psnr_per_image, ssim_per_image
from tokbench.runs import ARTIFACTS_DIR, REPORT_FILE, RUN_FILE, Run, atomic_write_bytes, read_json
from tokbench.sources.images import load_images

#: images evaluated by default: exactly as many as rFID needs (one per Inception feature dimension)
DEFAULT_LIMIT = fidm.RFID_MIN_IMAGES
BASELINE_TRAIN_IMAGES = 10_000
BASELINE_SUBJECT = "baseline:mean-image"
_EXACT_IDS_UP_TO = 1 << 24  # codebooks up to 16M entries are histogrammed exactly


# ---------------------------------------------------------------------------------------------- code statistics
def code_statistics(tokens: np.ndarray, bits_per_token: float, codebook_size: int | None = None,
                    group: int = 8) -> dict[str, Any]:
    """Usage, entropy, perplexity, dead codes and information density of the codes in `tokens`.

    `tokens` is int (N, T) code ids over a codebook of `codebook_size` (default round(2^bits_per_token)), or
    bits (N, T, B) for lookup-free binary codes, which are counted factorized in groups of `group` bits
    (see the module doc); 2^B codes are never enumerated.
    """
    tokens = np.asarray(tokens)
    if tokens.size == 0:
        raise ValueError("no tokens to count")
    if tokens.ndim == 3:
        bits = (tokens > 0).reshape(-1, tokens.shape[-1]).astype(np.int64)
        width_total = bits.shape[1]
        group = max(1, min(int(group), 16, width_total))
        groups = []
        for start in range(0, width_total, group):
            g = bits[:, start:start + group]
            weights = 1 << np.arange(g.shape[1] - 1, -1, -1, dtype=np.int64)
            counts = cb.counts_from_ids(g @ weights, 1 << g.shape[1])
            groups.append({"bits": int(g.shape[1]), "entropy_bits": cb.entropy_bits(counts),
                           "usage": cb.usage(counts), "dead_codes": cb.dead_codes(counts)})
        entropy = float(sum(g["entropy_bits"] for g in groups))
        return {"codebook_usage": float(np.mean([g["usage"] for g in groups])), "entropy_bits": entropy,
                "perplexity": cb.perplexity_from_entropy(entropy),
                "dead_codes": int(sum(g["dead_codes"] for g in groups)),
                "token_information_density": entropy / float(bits_per_token),
                "factorized": {"group_bits": group, "groups": len(groups)}}
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be (N, T) ids or (N, T, bits), got shape {tokens.shape}")
    size = int(codebook_size) if codebook_size else int(round(2.0 ** float(bits_per_token)))
    ids = tokens.astype(np.int64).ravel()
    if size <= _EXACT_IDS_UP_TO:
        counts = cb.counts_from_ids(ids, size)
        used, dead = cb.usage(counts), cb.dead_codes(counts)
    else:
        counts = np.unique(ids, return_counts=True)[1]
        used, dead = counts.size / size, size - counts.size
    entropy = cb.entropy_bits(counts)
    return {"codebook_usage": used, "entropy_bits": entropy, "perplexity": cb.perplexity(counts),
            "dead_codes": int(dead), "token_information_density": entropy / float(bits_per_token)}


# ---------------------------------------------------------------------------------------------- helpers
def _to_uint8_hwc(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def _finite_mean(values: np.ndarray) -> float | None:
    """Mean of per-image values; None when any is infinite (an exactly reconstructed image has PSNR +inf)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if np.isfinite(values).all() else None


def _model_device(model):
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return "cpu"


#: images per SSIM call: torchmetrics' SSIM holds several float64 copies of its batch at once (about 5 GB for
#: 256 RGB images of 64x64), so large batches and the baseline over every image go through in pieces
SSIM_CHUNK = 32


def _ssim_in_chunks(reference, reconstruction) -> np.ndarray:
    """`ssim_per_image` over `SSIM_CHUNK` images at a time (the values do not depend on the chunking)."""
    return np.concatenate([ssim_per_image(reference[i:i + SSIM_CHUNK], reconstruction[i:i + SSIM_CHUNK])
                           for i in range(0, len(reference), SSIM_CHUNK)])


def _image_shape(model, run_dir: Path) -> tuple[int, int, int]:
    shape = getattr(model, "image_shape", None)
    if shape is None:
        desc_path = run_dir / ARTIFACTS_DIR / "model.json"
        if desc_path.is_file():
            shape = read_json(desc_path).get("image_shape")
    if not shape or len(shape) != 3:
        raise TokbenchError(f"{run_dir}: cannot tell the model's image shape (no image_shape in model.json)")
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def _group_bits(model) -> int:
    cfg = getattr(model, "config", None)
    return int(getattr(cfg, "entropy_group", None) or 8)


def _codebook_size(model) -> int | None:
    size = getattr(model, "codebook_size", None)
    return int(size) if size else None


def _mean_image(data: str, shape, eval_images: np.ndarray) -> tuple[np.ndarray, str]:
    c, h, _ = shape
    try:
        train = load_images(data, "train", size=h, channels=c, limit=BASELINE_TRAIN_IMAGES)
        return train.images.mean(axis=0), f"mean of {len(train)} training images"
    except TokbenchError:
        return eval_images.mean(axis=0), "mean of the evaluated images (no train split)"


# ---------------------------------------------------------------------------------------------- evaluation
def trained_on(run_dir: str | Path) -> str | None:
    """The image source a visual-vq run was trained on (its run.json `config.data`), or None if unrecorded."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        return None
    try:
        data = (read_json(path).get("config") or {}).get("data")
    except (TokbenchError, OSError, ValueError, AttributeError):
        return None
    return data if isinstance(data, str) and data else None


def evaluate_vq(run_dir: str | Path, data: str | None = None, split: str = "test",
                limit: int | None = DEFAULT_LIMIT, batch_size: int = 256, budgets: list[int] | None = None,
                inception_weights: str | Path | None = None, examples: int = 32, model=None,
                write: bool = True, strict: bool = False) -> dict[str, Any]:
    """Evaluate the model in `run_dir` (or `model`, written into `run_dir`) on `split` of `data`; see the
    module doc for every metric. Returns the report dict (also written into the run unless `write=False`).
    `data` defaults to the source the run was trained on (run.json), else builtin:fashion-mnist; another
    source is evaluated with a note in the report saying so, since its images are converted to the model's shape.
    `strict` makes an unreadable file in an image folder an error instead of a skipped, counted file."""
    import torch

    if inception_weights is not None and not Path(inception_weights).expanduser().is_file():
        # a path the user typed that is not a file is a mistake; a file that is not the standard weights is
        # reported as rFID unavailable, with its sha256
        given = Path(inception_weights).expanduser()
        raise TokbenchError(f"--inception-weights {inception_weights}: "
                            f"{'not a regular file' if given.exists() else 'no such file'}")
    run_dir = Path(run_dir)
    source = trained_on(run_dir)
    data = data or source or "builtin:fashion-mnist"
    notes = []
    if source is not None and data != source:
        notes.append(f"evaluated on {data}, but the run was trained on {source}: its images are converted to "
                     "the model's input shape, so the numbers are not comparable with a test on its own data")
    if write and not (run_dir / RUN_FILE).is_file():
        raise TokbenchError(f"{run_dir}: not a run folder (no {RUN_FILE})")
    if model is None:
        from tokbench.visual.model_io import load_model

        model = load_model(run_dir)
    if hasattr(model, "eval"):
        model.eval()
    if batch_size < 1:
        raise TokbenchError("batch size must be positive")
    shape = _image_shape(model, run_dir)
    c, h, w = shape
    dataset = load_images(data, split, size=h, channels=c, limit=limit, strict=strict)
    if dataset.shape != shape:
        raise TokbenchError(f"{data}: images are {dataset.shape}, the model takes {shape}")
    images = dataset.images
    n = len(dataset)
    available = [int(b) for b in model.budgets()]
    if budgets:
        bad = [b for b in budgets if b not in available]
        if bad:
            raise TokbenchError(f"budget(s) {bad} not available; this model decodes {available[0]}..{available[-1]}"
                                if len(available) > 1 else f"budget(s) {bad} not available; this model uses "
                                f"{available[0]} tokens")
        chosen = sorted(set(int(b) for b in budgets))
    else:
        chosen = available
    full = int(model.tokens_per_image)
    bpt = float(model.bits_per_token)
    device = _model_device(model)
    unavailable: list[dict[str, str]] = []

    # rFID: only with verified weights; otherwise say why, once
    status = fidm.rfid_status(inception_weights, n_images=n)  # weights verified, and enough images
    inception = None
    if status.available:
        try:
            inception = fidm.inception_extractor(status, device=str(device))
        except (ImportError, TokbenchError, ValueError, RuntimeError) as exc:
            unavailable.append({"metric": "rfid", "reason": f"verified weights found but the FID Inception network "
                                                            f"could not be built: {exc}"})
    else:
        unavailable.append({"metric": "rfid", "reason": status.reason or "unavailable"})
    ssim_ok = min(h, w) >= 11
    if not ssim_ok:
        unavailable.append({"metric": "ssim", "reason": f"images are {h}x{w}, smaller than SSIM's 11x11 window"})
    pixels = fidm.PixelFeatures()

    # encode once
    started = time.perf_counter()
    token_batches = []
    with torch.no_grad():
        for s in range(0, n, batch_size):
            x = torch.from_numpy(images[s:s + batch_size]).to(device)
            token_batches.append(model.encode(x).detach().cpu())
    tokens = torch.cat(token_batches)
    encode_seconds = time.perf_counter() - started
    tokens_np = tokens.numpy()
    orig_features = pixels(images)
    orig_inception = inception(images) if inception is not None else None

    n_ex = min(examples, n)
    recon_examples = {"original": _to_uint8_hwc(images[:n_ex])}
    if tokens_np.ndim == 2:  # code ids of every evaluated image, for usage histograms (bit codes have none)
        recon_examples["codes"] = tokens_np.astype(np.int32 if tokens_np.max(initial=0) < 2**31 else np.int64)
    per_budget: list[dict[str, Any]] = []
    decode_seconds = 0.0
    for k in chosen:
        # every metric runs on the model's device, batch by batch; only per-image values, pooled features
        # and the shown examples come back to the CPU
        parts: dict[str, list[np.ndarray]] = {"psnr": [], "ssim": [], "pixels": [], "inception": [], "shown": []}
        with torch.no_grad():
            for s in range(0, n, batch_size):
                started = time.perf_counter()
                tok = tokens[s:s + batch_size].to(device)
                out = model.decode(tok, keep=None if k == full else k).detach().float().clamp(0.0, 1.0)
                if getattr(out, "is_cuda", False):
                    torch.cuda.synchronize(out.device)
                decode_seconds += time.perf_counter() - started
                ref = torch.from_numpy(images[s:s + batch_size]).to(out.device)
                if out.shape != ref.shape:
                    raise TokbenchError(f"the model's decoded images are {tuple(out.shape[1:])}, "
                                        f"the inputs {images.shape[1:]}")
                parts["psnr"].append(psnr_per_image(ref, out))
                if ssim_ok:
                    parts["ssim"].append(_ssim_in_chunks(ref, out))
                parts["pixels"].append(pixels(out))
                if inception is not None:
                    parts["inception"].append(inception(out))
                if s < n_ex:
                    parts["shown"].append(out[:n_ex - s].cpu().numpy())
        psnrs = np.concatenate(parts["psnr"])
        ssims = np.concatenate(parts["ssim"]) if ssim_ok else None
        stats = code_statistics(tokens_np[:, :k], bpt, _codebook_size(model), _group_bits(model))
        entry: dict[str, Any] = {
            "budget": k, "psnr_db": _finite_mean(psnrs),
            "ssim": float(np.mean(ssims)) if ssims is not None else None,
            "rfid": (fidm.fd_from_features(orig_inception, np.concatenate(parts["inception"]))
                     if inception is not None else None),
            "fd_pixels": fidm.fd_from_features(orig_features, np.concatenate(parts["pixels"])) if n >= 2 else None,
            **{key: stats[key] for key in ("codebook_usage", "entropy_bits", "perplexity", "dead_codes",
                                           "token_information_density")},
            "tokens_per_image": k, "bits_per_image": k * bpt,
            "bits_per_pixel": rate.bits_per_pixel(k, bpt, h * w),
        }
        if "factorized" in stats:
            entry["factorized"] = stats["factorized"]
        per_budget.append(entry)
        shown = np.concatenate(parts["shown"]) if parts["shown"] else np.zeros((0, *shape), np.float32)
        recon_examples[f"budget_{k}"] = _to_uint8_hwc(shown)

    mean_img, how = _mean_image(data, shape, images)
    base = np.broadcast_to(mean_img, images.shape)
    baseline = {"psnr_db": _finite_mean(psnr_per_image(images, base)),
                "ssim": float(np.mean(_ssim_in_chunks(images, base))) if ssim_ok else None, "how": how}

    dataset_name = dataset.name
    subject = run_dir.name
    family = getattr(model, "family", None)
    units = {"psnr_db": "dB", "entropy_bits": "bits", "bits_per_image": "bits", "bits_per_pixel": "bits/pixel",
             "tokens_per_image": "tokens"}
    rows = []
    metric_names = ("psnr_db", "ssim", "rfid", "fd_pixels", "codebook_usage", "entropy_bits", "perplexity",
                    "dead_codes", "token_information_density", "tokens_per_image", "bits_per_image", "bits_per_pixel")
    skip = {u["metric"] for u in unavailable}
    for entry in per_budget:
        for metric in metric_names:
            if metric in skip:
                continue
            row = {"subject": subject, "dataset": dataset_name, "metric": metric, "value": entry[metric],
                   "budget": entry["budget"]}
            if metric in units:
                row["unit"] = units[metric]
            if metric == "psnr_db" and entry[metric] is None:
                row["note"] = "some images reconstructed exactly (PSNR +inf)"
            if "factorized" in entry and metric in ("codebook_usage", "entropy_bits", "perplexity", "dead_codes",
                                                    "token_information_density"):
                f = entry["factorized"]
                row["note"] = f"factorized over {f['groups']} groups of <= {f['group_bits']} bits"
            rows.append(row)
    for metric in ("psnr_db", "ssim"):
        if baseline[metric] is not None:
            rows.append({"subject": BASELINE_SUBJECT, "dataset": dataset_name, "metric": metric,
                         "value": baseline[metric], "unit": units.get(metric), "note": how})
    for u in unavailable:
        u["dataset"] = dataset_name
    summary = {
        "dataset": dataset_name, "images": n, "image_shape": list(shape), "family": family,
        "tokens_per_image": full, "bits_per_token": bpt, "budgets": per_budget, "baseline": baseline,
        "unavailable": unavailable, "skipped_files": dataset.skipped, "trained_on": source, "notes": notes,
        "encode_images_per_second": n / encode_seconds if encode_seconds > 0 else None,
        "decode_images_per_second": n * len(chosen) / decode_seconds if decode_seconds > 0 else None,
    }
    report = {"schema": 1, "kind": "visual-eval", "rows": rows, "unavailable": unavailable,
              "evaluations": {dataset_name: summary}, "run_dir": str(run_dir)}
    if write:
        report = _attach(run_dir, report, dataset_name, per_budget[-1], baseline, recon_examples,
                         dataset.fingerprint())
    return report


def _attach(run_dir: Path, report: dict, dataset_name: str, last: dict, baseline: dict,
            recon_examples: dict[str, np.ndarray], fingerprint: list[dict]) -> dict:
    """Merge this evaluation into the run's report.json / metrics.json / artifacts, under the run's lock."""
    with Run.attach(run_dir) as run:
        old = read_json(run.path / REPORT_FILE) if (run.path / REPORT_FILE).exists() else {}
        keep_rows = [r for r in old.get("rows", []) if r.get("dataset") != dataset_name]
        keep_unavail = [u for u in old.get("unavailable", []) if u.get("dataset") != dataset_name]
        evaluations = dict(old.get("evaluations", {}))
        evaluations.update(report["evaluations"])
        merged = {**{k: v for k, v in old.items() if k not in ("rows", "unavailable", "evaluations")},
                  "schema": 1, "kind": run.info.get("kind", "visual-vq"), "evaluation": "visual-eval",
                  "rows": keep_rows + report["rows"], "unavailable": keep_unavail + report["unavailable"],
                  "evaluations": evaluations}
        merged["evaluations"][dataset_name]["data"] = fingerprint
        run.write_report({k: v for k, v in merged.items() if k != "run_dir"})
        values = {m: last[m] for m in ("psnr_db", "ssim", "rfid", "fd_pixels", "codebook_usage", "entropy_bits",
                                       "perplexity", "dead_codes", "token_information_density",
                                       "tokens_per_image", "bits_per_image", "bits_per_pixel")
                  if last.get(m) is not None}
        if baseline["psnr_db"] is not None:
            values["baseline_mean_image_psnr_db"] = baseline["psnr_db"]
        run.update_metrics(dataset_name, values)
        buf = io.BytesIO()
        np.savez_compressed(buf, **recon_examples)
        atomic_write_bytes(run.artifacts / "eval" / "reconstructions.npz", buf.getvalue())
    return {**report, "kind": merged["kind"], "evaluation": "visual-eval",
            "reconstructions": str(run_dir / ARTIFACTS_DIR / "eval" / "reconstructions.npz")}
