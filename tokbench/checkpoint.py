"""Training checkpoints shared by every trainer: model, optimizer and RNG state as plain safetensors tensors.

Nothing is pickled, so loading a checkpoint never runs code. Files are written atomically, named
`step_<n>.safetensors`, and only the newest few are kept. torch is imported inside the functions, so importing
this module costs nothing for text-only commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_bytes

PATTERN = "step_*.safetensors"


def checkpoint_path(folder: Path, step: int) -> Path:
    return Path(folder) / f"step_{step:08d}.safetensors"


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in `folder`, oldest first; names that are not ours, and anything that is
    not a regular file of the run's own (a symlink, a FIFO), are ignored."""
    found = []
    for path in Path(folder).glob(PATTERN) if Path(folder).is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            found.append((int(path.stem.split("_", 1)[1]), path))
        except (IndexError, ValueError):
            continue
    return sorted(found)


def latest_checkpoint(folder: Path) -> Path | None:
    found = checkpoints(folder)
    return found[-1][1] if found else None


def state_tensors(module) -> dict[str, Any]:
    """A module's state dict as standalone contiguous CPU tensors (safetensors refuses shared storage)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def optimizer_tensors(optimizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """The optimizer's state as flat `optim.<param>.<key>` tensors, and its param groups as JSON metadata."""
    import torch

    sd = optimizer.state_dict()
    tensors = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optim.{pid}.{key}"] = t.detach().to("cpu").contiguous().clone()
    return tensors, {"param_groups": sd["param_groups"]}


def load_optimizer_tensors(optimizer, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """Inverse of `optimizer_tensors` (torch moves the state to each parameter's device)."""
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(folder: Path, step: int, model_tensors: dict[str, Any], optimizer,
                    metadata: dict[str, str], keep: int = 2) -> Path:
    """Write model tensors (under `model.`), optimizer and RNG state for `step`; keep the newest `keep` files."""
    import torch
    from safetensors.torch import save

    tensors = {f"model.{k}": v for k, v in model_tensors.items()}
    opt, opt_meta = optimizer_tensors(optimizer)
    tensors.update(opt)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = {**metadata, "step": str(step), "optimizer": json.dumps(opt_meta)}
    path = checkpoint_path(folder, step)
    atomic_write_bytes(path, save(tensors, metadata=meta))
    for _, old in checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """All tensors and the metadata of a checkpoint; a torn or foreign file is a one-line TokbenchError."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - the Rust reader raises plain exceptions
        raise TokbenchError(f"{path}: unreadable checkpoint ({exc})") from None
    if "step" not in meta or "optimizer" not in meta:
        raise TokbenchError(f"{path}: not a tokbench training checkpoint")
    return tensors, meta


def model_tensors(tensors: dict[str, Any]) -> dict[str, Any]:
    """The model's part of a checkpoint's tensors, with the `model.` prefix removed."""
    return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}


def restore_training_state(tensors: dict[str, Any], meta: dict[str, str], optimizer) -> int:
    """Restore optimizer and RNG state from a checkpoint read by `read_checkpoint`; returns its step."""
    import torch

    load_optimizer_tensors(optimizer, tensors, json.loads(meta["optimizer"]))
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return int(meta["step"])
