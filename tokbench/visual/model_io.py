"""Build, save and load visual tokenizers: `model.safetensors` (weights, no pickle) + `model.json` (what to build).

`model.json` = {"family", "config", "image_shape": [C,H,W], "tokens_per_image", "bits_per_token",
"bits_per_image"}. Loading rebuilds the model from that description and refuses weights whose names or shapes do
not match it, and a model of another family or config than the caller expects.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from tokbench.checkpoint import state_tensors
from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_bytes, atomic_write_json, read_json

MODEL_FILE = "model.safetensors"
MODEL_JSON = "model.json"


def build_model(family: str, config: Any = None):
    """A fresh model of `family` from a VQConfig, a dict of overrides, or None (the family defaults)."""
    from tokbench.visual.families import FAMILY_MODULES
    from tokbench.visual.families.base import VQConfig, make_config

    if family not in FAMILY_MODULES:
        raise TokbenchError(f"unknown family {family!r} (expected one of {', '.join(FAMILY_MODULES)})")
    if isinstance(config, VQConfig):
        config = config.to_dict()
    cfg = make_config(family, dict(config or {}))
    module = importlib.import_module(f"tokbench.visual.families.{family}")
    return getattr(module, FAMILY_MODULES[family])(cfg)


def describe(model) -> dict[str, Any]:
    """The model.json document for `model`."""
    return {"family": model.family, "config": model.config.to_dict(), "image_shape": list(model.image_shape),
            "tokens_per_image": model.tokens_per_image, "bits_per_token": model.bits_per_token,
            "bits_per_image": model.tokens_per_image * model.bits_per_token}


def save_model(path_dir: str | os.PathLike, model) -> Path:
    """Write model.safetensors + model.json into `path_dir` (atomically) and return the weights path."""
    from safetensors.torch import save

    path_dir = Path(path_dir)
    try:
        path_dir.mkdir(parents=True, exist_ok=True)
        data = save(state_tensors(model), metadata={"family": model.family})
        atomic_write_bytes(path_dir / MODEL_FILE, data)
        atomic_write_json(path_dir / MODEL_JSON, describe(model))
    except OSError as exc:
        raise TokbenchError(f"{path_dir}: cannot write the model ({exc.strerror})") from None
    return path_dir / MODEL_FILE


def _model_dir(path: Path) -> Path:
    for candidate in (path, path / "artifacts"):
        if (candidate / MODEL_JSON).is_file():
            return candidate
    if (path / "run.json").is_file():
        try:
            kind = json.loads((path / "run.json").read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError, AttributeError):
            kind = None
        if isinstance(kind, str) and kind != "visual-vq":  # e.g. a text-bpe run given to eval-vq
            raise TokbenchError(f"{path}: is a {kind} run, not a visual-vq run")
        raise TokbenchError(f"{path}: run has no trained model yet (no artifacts/{MODEL_JSON})")
    raise TokbenchError(f"{path}: no {MODEL_JSON} here or in {path}/artifacts")


def load_state(model, tensors: dict, source: str) -> None:
    """Load `tensors` into `model`, refusing any missing, unexpected or mis-shaped entry with one clear line."""
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        what = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise TokbenchError(f"{source}: weights do not fit a {model.family} model with this config ({what})")
    for key, value in tensors.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise TokbenchError(f"{source}: weight {key} has shape {tuple(value.shape)}, the {model.family} model "
                                f"with this config needs {tuple(own[key].shape)}")
    model.load_state_dict(tensors, strict=True)


def load_model(path: str | os.PathLike, *, family: str | None = None, config: Any = None):
    """Rebuild the model saved in a run folder, its artifacts folder, or any folder with model.json.

    With `family` / `config` given, a checkpoint of another family or another config is refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    mdir = _model_dir(Path(path))
    desc = read_json(mdir / MODEL_JSON)
    if not isinstance(desc, dict) or "family" not in desc or "config" not in desc:
        raise TokbenchError(f"{mdir / MODEL_JSON}: not a tokbench visual model description")
    if family is not None and desc["family"] != family:
        raise TokbenchError(f"{mdir}: checkpoint is a {desc['family']} model, not {family}")
    model = build_model(desc["family"], desc["config"])
    if config is not None:
        want = build_model(desc["family"], config).config.to_dict()
        diff = sorted(k for k, v in want.items() if model.config.to_dict().get(k) != v)
        if diff:
            raise TokbenchError(f"{mdir}: checkpoint config differs in {', '.join(diff)}")
    weights = mdir / MODEL_FILE
    if weights.exists() and not weights.is_file():  # a FIFO or device would block or never end the read
        raise TokbenchError(f"{weights}: not a regular file")
    try:
        tensors = load(weights.read_bytes())
    except FileNotFoundError:
        raise TokbenchError(f"{mdir / MODEL_FILE}: no such file") from None
    except (SafetensorError, json.JSONDecodeError, ValueError) as exc:
        raise TokbenchError(f"{mdir / MODEL_FILE}: corrupt safetensors file ({exc})") from None
    load_state(model, tensors, str(mdir / MODEL_FILE))
    model.eval()
    return model
