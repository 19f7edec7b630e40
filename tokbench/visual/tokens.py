"""Images to token files and back, so a user can see what a visual tokenizer keeps.

A token file is an `.npz` (no pickled objects) holding `tokens`, int64 (N, T) code indices, or bool
(N, T, bits) for the binary family's lookup-free codes, and the facts needed to decode them: the family, the
image shape (C, H, W), the token budget T (a flexible run may keep any prefix 1..K of its K ordered tokens;
every other family keeps all of them), each image's source name, and the sha256 of the model's weights, which
`detokenize_images` checks so tokens are never decoded by a different model.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_bytes, check_output_file, read_npz, sha256_file

FORMAT = "tokbench-image-tokens-1"
BATCH = 256  # images per encode/decode call: bounds memory on large folders


def weights_sha256(run_dir: str | os.PathLike) -> str:
    """The sha256 of the visual run's `model.safetensors` (in the run folder, its artifacts, or the folder)."""
    from tokbench.visual.model_io import MODEL_FILE, _model_dir

    path = _model_dir(Path(run_dir)) / MODEL_FILE
    if not path.is_file():
        raise TokbenchError(f"{run_dir}: no trained visual model here (missing {MODEL_FILE})")
    return sha256_file(path)


def _check_budget(model, budget: int | None, available: int) -> int:
    """The number of tokens to keep: `budget`, which only a flexible model may set below its full length."""
    if budget is None:
        return available
    if model.family != "flexible" and budget != model.tokens_per_image:
        raise TokbenchError(f"--budget {budget}: a {model.family} model always uses all "
                            f"{model.tokens_per_image} tokens (only flexible runs take a shorter budget)")
    if not 1 <= budget <= available:
        raise TokbenchError(f"--budget {budget}: expected 1..{available}")
    return int(budget)


def _precheck_budget(run_dir: str | os.PathLike, budget: int | None) -> None:
    """Refuse a short `budget` for a fixed-length run from its model.json alone, before torch and the weights
    load (seconds); `_check_budget` repeats the check, and checks the range, on the loaded model."""
    if budget is None:
        return
    from tokbench.runs import read_json
    from tokbench.visual.model_io import MODEL_JSON, _model_dir

    desc = read_json(_model_dir(Path(run_dir)) / MODEL_JSON)
    if not isinstance(desc, dict):
        return  # load_model reports a malformed model.json
    family, full = desc.get("family"), desc.get("tokens_per_image")
    if isinstance(family, str) and family != "flexible" and isinstance(full, int) and budget != full:
        raise TokbenchError(f"--budget {budget}: a {family} model always uses all {full} tokens "
                            "(only flexible runs take a shorter budget)")


def _inputs(run_dir: str | os.PathLike, *sources: str | os.PathLike) -> tuple[Path, ...]:
    run = Path(run_dir)
    weights = [p for p in run.glob("artifacts/*") if p.is_file()] if run.is_dir() else []
    return (*(Path(s) for s in sources), *weights)


def tokenize_images(source: str | os.PathLike, run_dir: str | os.PathLike, out: str | os.PathLike,
                    budget: int | None = None, device: str = "cpu") -> dict:
    """Encode one image file, or every image under a folder, with the run's visual tokenizer into a token file.

    Each image is resized (shorter side) and center-cropped to the model's size and converted to its channels."""
    _precheck_budget(run_dir, budget)
    import torch

    from tokbench.sources.images import read_image_files
    from tokbench.visual.model_io import load_model

    if Path(source).exists() and Path(source).is_file():
        check_output_file(out, inputs=_inputs(run_dir, source), run_dir=run_dir)
    else:
        check_output_file(out, inputs=_inputs(run_dir), run_dir=run_dir)
    model = load_model(run_dir).to(device)
    keep = _check_budget(model, budget, model.tokens_per_image)
    c, h, _ = model.image_shape
    images, names = read_image_files(source, h, c)
    chunks = []
    for start in range(0, len(images), BATCH):
        batch = torch.from_numpy(images[start:start + BATCH]).to(device)
        chunks.append(model.encode(batch)[:, :keep].cpu())
    tokens = torch.cat(chunks).numpy()
    payload = {"tokens": tokens, "format": np.array(FORMAT), "family": np.array(model.family),
               "image_shape": np.array(model.image_shape, dtype=np.int64), "budget": np.array(keep),
               "names": np.array(names), "model_sha256": np.array(weights_sha256(run_dir))}
    buf = io.BytesIO()
    np.savez_compressed(buf, **payload)
    atomic_write_bytes(out, buf.getvalue())
    bits = keep * model.bits_per_token
    return {"input": str(source), "output": str(out), "family": model.family, "images": len(names),
            "tokens_per_image": keep, "bits_per_image": bits, "tokens": int(len(names) * keep)}


def read_image_tokens(path: str | os.PathLike) -> dict:
    """A token file's arrays, checked: integer (N, T) or bool (N, T, bits) tokens, N, T >= 1, one name per
    image, and a budget equal to T. Float tokens are refused rather than truncated. A bad file raises
    TokbenchError."""
    path = Path(path)
    data = read_npz(path)
    missing = [k for k in ("tokens", "format", "family", "image_shape", "budget", "names", "model_sha256")
               if k not in data]
    if missing or data["format"].dtype.kind != "U" or str(data["format"]) != FORMAT:
        raise TokbenchError(f"{path}: not a tokbench image token file (missing {', '.join(missing) or 'format'})")
    tokens = data["tokens"]
    if tokens.dtype.kind not in "iub":
        raise TokbenchError(f"{path}: tokens must be integers or bits, got {tokens.dtype} (not truncated)")
    if tokens.ndim not in (2, 3) or tokens.shape[0] < 1 or tokens.shape[1] < 1:
        raise TokbenchError(f"{path}: tokens must be (N, T) or (N, T, bits) with N, T >= 1, got {tokens.shape}")
    if data["names"].shape != (tokens.shape[0],):
        raise TokbenchError(f"{path}: {data['names'].shape} names for {tokens.shape[0]} images")
    if data["budget"].shape != () or data["budget"].dtype.kind not in "iu" or int(data["budget"]) != tokens.shape[1]:
        raise TokbenchError(f"{path}: budget does not match the {tokens.shape[1]} tokens per image stored")
    return data


def _check_tokens_fit(model, data: dict, path) -> None:
    tokens = data["tokens"]
    if str(data["family"]) != model.family or tuple(int(v) for v in data["image_shape"]) != model.image_shape:
        raise TokbenchError(f"{path}: tokens of a {data['family']} model, not of this {model.family} run")
    if tokens.shape[1] > model.tokens_per_image:
        raise TokbenchError(f"{path}: {tokens.shape[1]} tokens per image, the model has {model.tokens_per_image}")
    if model.family != "flexible" and tokens.shape[1] != model.tokens_per_image:
        raise TokbenchError(f"{path}: {tokens.shape[1]} tokens per image, the {model.family} model needs all "
                            f"{model.tokens_per_image}")
    binary = model.config.quantizer in ("lfq", "bsq")
    if binary != (tokens.dtype.kind == "b") or (binary and tokens.shape[2:] != (model.config.bits,)) \
            or (not binary and tokens.ndim != 2):
        raise TokbenchError(f"{path}: token layout {tokens.dtype} {tokens.shape} does not fit this model")
    if not binary and (tokens.min() < 0 or tokens.max() >= model.codebook_size):
        raise TokbenchError(f"{path}: tokens must lie in 0..{model.codebook_size - 1}, found "
                            f"{int(tokens.min())}..{int(tokens.max())}")


def _png_bytes(image: np.ndarray) -> bytes:
    """(C, H, W) float in [0, 1] -> PNG (8-bit grey or RGB)."""
    from PIL import Image

    arr = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    pil = Image.fromarray(arr[0]) if arr.shape[0] == 1 else Image.fromarray(arr.transpose(1, 2, 0))
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def _output_paths(out: Path, names: list[str]) -> list[Path]:
    """One image -> `out` itself when it ends in .png; otherwise `out` is a folder of NNNNN_<stem>.png files."""
    if len(names) == 1 and out.suffix.lower() == ".png":
        return [out]
    if out.suffix.lower() == ".png":
        raise TokbenchError(f"{out}: the token file holds {len(names)} images; give a folder to write them into")
    if out.exists() and not out.is_dir():
        raise TokbenchError(f"{out}: not a folder (give a .png file for one image, a folder for several)")
    return [out / f"{i:05d}_{Path(name).stem or 'image'}.png" for i, name in enumerate(names)]


def detokenize_images(tokens: str | os.PathLike, run_dir: str | os.PathLike, out: str | os.PathLike,
                      budget: int | None = None, device: str = "cpu") -> dict:
    """Decode a token file with the run's tokenizer into PNG images (a flexible run: from the first `budget`)."""
    _precheck_budget(run_dir, budget)
    import torch

    from tokbench.visual.model_io import load_model

    out = Path(out)
    data = read_image_tokens(tokens)
    if str(data["model_sha256"]) != weights_sha256(run_dir):
        raise TokbenchError(f"{tokens}: made by a different model than {run_dir} (weights sha256 differ)")
    names = [str(n) for n in data["names"]]
    paths = _output_paths(out, names)
    inputs = _inputs(run_dir, tokens)
    for path in paths:
        check_output_file(path, inputs=inputs, run_dir=run_dir)
    model = load_model(run_dir).to(device)
    _check_tokens_fit(model, data, tokens)
    keep = _check_budget(model, budget, data["tokens"].shape[1])
    array = data["tokens"].astype(bool if data["tokens"].dtype.kind == "b" else np.int64)
    if paths[0] != out:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TokbenchError(f"{out}: cannot create the folder ({exc.strerror})") from None
    for start in range(0, len(array), BATCH):
        batch = torch.from_numpy(array[start:start + BATCH, :keep]).to(device)
        decoded = model.decode(batch, keep=keep if model.family == "flexible" else None).float().cpu().numpy()
        for i, image in enumerate(decoded):
            atomic_write_bytes(paths[start + i], _png_bytes(image))
    return {"input": str(tokens), "output": str(out), "family": model.family, "images": len(paths),
            "tokens_per_image": keep, "files": [str(p) for p in paths]}
