"""The fit loop for visual tokenizers: run folder, safetensors checkpoints, exact resume, torchrun/DDP.

Loss = l1_weight * |x - x̂|_1 + l2_weight * |x - x̂|_2^2 + the quantizer's aux terms (commitment for VQ,
commitment + entropy for LFQ/BSQ; FSQ has none). AdamW, linear warmup then cosine decay to 10%.
With a proxy (`--proxy RUN`, TiTok's two stages): the first `proxy_steps` steps train on the cross-entropy
against the proxy's codes plus the quantizer's terms only, the rest on the pixel loss with encoder and
quantizer frozen; each stage has its own warmup and cosine decay.

Exact resume: everything random in step s is a function of (seed, s): the batch is a slice of the
per-epoch permutation `default_rng([seed, epoch])`, and torch's generator is re-seeded from (seed, s, rank)
before each step (dead-code replacement, nested-dropout lengths). A checkpoint holds model (with the EMA
codebook buffers `embed`, `embed_avg`, `cluster_size`), optimizer and RNG state as tensors in one safetensors
file, written only at step boundaries. CPU float results depend on torch's thread count, so the run records
the count it trained with (`torch_threads` in run.json) and a resume uses it unless told otherwise: an
interrupted run resumed from its last checkpoint reproduces the uninterrupted loss curve bit for bit on the same
machine (tests/test_resume_identical.py kills a training process at a random step to check it).

DDP: under `torchrun` (RANK / WORLD_SIZE set) each process trains on its slice of a global batch of
batch_size x world_size with DistributedDataParallel (gloo on CPU, nccl on CUDA); only rank 0 writes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.checkpoint import latest_checkpoint
from tokbench.errors import TokbenchError

CHECKPOINT_DIR = "checkpoints"
CKPT_FORMAT = "tokbench-visual-checkpoint-1"
KEEP_CHECKPOINTS = 2


@dataclass
class TrainConfig:
    """Knobs of the fit loop (the model's knobs live in `VQConfig`)."""

    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 50
    l1_weight: float = 1.0
    l2_weight: float = 1.0
    checkpoint_every: int = 250
    log_every: int = 10
    seed: int = 0
    train_limit: int | None = None  # use only the first N training images
    grad_clip: float = 1.0
    proxy_steps: int | None = None  # with --proxy: stage-1 (proxy-code) steps; default 2/3 of steps, as TiTok's

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: per-family defaults of the fit loop (trained in minutes on a 2-core CPU, see benchmarks/RESULTS.md)
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "grid2d": {"steps": 1000, "lr": 2e-3},
    "latent1d": {"steps": 3000, "lr": 3e-3},  # ViTs learn slower per step but each step is cheaper
    "binary": {"steps": 1000, "lr": 2e-3},
    "flexible": {"steps": 3000, "lr": 3e-3},
}


@dataclass
class FitResult:
    run_dir: Path | None
    family: str
    status: str
    steps: int
    final_loss: float | None
    seconds: float
    images_per_second: float
    resumed_from: int | None = None
    message: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    processes: int = 1  # the torchrun world size (images_per_second counts every process)
    model: Any = field(default=None, repr=False, compare=False)  # the trained nn.Module (on every DDP rank)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        d["run_dir"] = str(self.run_dir) if self.run_dir else None
        return d


# ---------------------------------------------------------------------------------------------- config files
def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A TOML or YAML file of knobs: flat, or with `[model]` and `[train]` tables (plus `family`, `data`)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise TokbenchError(f"{path}: cannot read config (not a regular file)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read config ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise TokbenchError(f"{path}: cannot read config (not UTF-8 text at byte {exc.start})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            doc = yaml.safe_load(text) or {}
        else:
            import tomllib

            doc = tomllib.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise TokbenchError(f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'TOML'}"
                            f" ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise TokbenchError(f"{path}: a config file must hold a table of options")
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("model", "train") and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Split one flat dict into (model knobs, train knobs, other: family / data); unknown names are errors."""
    from tokbench.visual.families.base import VQConfig

    model_keys = {f.name for f in dataclasses.fields(VQConfig)}
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    model, train, other = {}, {}, {}
    for key, value in options.items():
        key = key.replace("-", "_")
        if key in model_keys:
            model[key] = value
        elif key in train_keys:
            train[key] = value
        elif key in ("family", "data"):
            other[key] = value
        else:
            raise TokbenchError(f"unknown option {key!r} (model: {', '.join(sorted(model_keys))}; "
                                f"train: {', '.join(sorted(train_keys))})")
    return model, train, other


def make_train_config(family: str, overrides: dict[str, Any]) -> TrainConfig:
    values = dict(TRAIN_DEFAULTS.get(family, {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        tcfg = TrainConfig(**values)
    except TypeError as exc:
        raise TokbenchError(f"bad training option: {exc}") from None
    for f in dataclasses.fields(TrainConfig):  # config files may hold any JSON/TOML type
        value = getattr(tcfg, f.name)
        want = (int,) if f.type in ("int", "int | None") else (int, float)
        if value is None and f.type == "int | None":
            continue
        if isinstance(value, bool) or not isinstance(value, want):
            raise TokbenchError(f"training option {f.name} must be a number, not {value!r}")
    for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
        if int(getattr(tcfg, name)) < 1:
            raise TokbenchError(f"{name} must be >= 1")
        if int(getattr(tcfg, name)) > MAX_STEPS:  # a typo'd 10^20 steps would otherwise train forever
            raise TokbenchError(f"{name} {getattr(tcfg, name)} is more than {MAX_STEPS:,}")
    if not (tcfg.lr > 0 and math.isfinite(tcfg.lr)):
        raise TokbenchError("lr must be a finite number > 0")
    if not 0 <= int(tcfg.seed) < 2 ** 32:
        raise TokbenchError(f"seed {tcfg.seed} must be in 0..2^32-1")
    if int(tcfg.batch_size) > 65536:
        raise TokbenchError(f"batch_size {tcfg.batch_size} is more than 65536 images per step")
    if tcfg.proxy_steps is not None and not 0 <= tcfg.proxy_steps <= tcfg.steps:
        raise TokbenchError(f"proxy_steps {tcfg.proxy_steps} must be in 0..steps ({tcfg.steps})")
    if tcfg.checkpoint_every % tcfg.log_every:  # log windows must line up with resume points
        tcfg.log_every = math.gcd(tcfg.checkpoint_every, tcfg.log_every)
    return tcfg


# ---------------------------------------------------------------------------------------------- determinism
MAX_STEPS = 10_000_000


def batch_indices(seed: int, step: int, batch_size: int, n: int, rank: int = 0, world: int = 1) -> np.ndarray:
    """Indices of this rank's share of global batch `step`: slice [step*B*W, (step+1)*B*W) of the stream of
    per-epoch permutations `default_rng([seed, epoch]).permutation(n)`; a pure function of its arguments."""
    global_b = batch_size * world
    start = step * global_b + rank * batch_size
    out = np.empty(batch_size, dtype=np.int64)
    filled = 0
    while filled < batch_size:
        epoch, offset = divmod(start + filled, n)
        perm = _epoch_perm(seed, epoch, n)
        take = min(batch_size - filled, n - offset)
        out[filled:filled + take] = perm[offset:offset + take]
        filled += take
    return out


_PERM_CACHE: dict[tuple[int, int, int], np.ndarray] = {}


def _epoch_perm(seed: int, epoch: int, n: int) -> np.ndarray:
    key = (seed, epoch, n)
    if key not in _PERM_CACHE:
        if len(_PERM_CACHE) > 4:
            _PERM_CACHE.clear()
        _PERM_CACHE[key] = np.random.default_rng([seed, epoch]).permutation(n)
    return _PERM_CACHE[key]


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)


def lr_at(step: int, tcfg: TrainConfig) -> float:
    """Linear warmup over `warmup_steps`, then cosine decay from lr to 0.1 * lr at the last step."""
    if step < tcfg.warmup_steps:
        return tcfg.lr * (step + 1) / tcfg.warmup_steps
    span = max(1, tcfg.steps - tcfg.warmup_steps)
    progress = min(1.0, (step - tcfg.warmup_steps) / span)
    return tcfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


# ---------------------------------------------------------------------------------------------- losses
def compute_losses(model, images, tcfg: TrainConfig):
    """(total loss, {name: float}, tokens) for one batch: reconstruction terms plus the quantizer's aux losses."""
    import torch.nn.functional as F

    recon, aux, info = model(images)
    l1 = F.l1_loss(recon, images)
    l2 = F.mse_loss(recon, images)
    total = tcfg.l1_weight * l1 + tcfg.l2_weight * l2
    parts = {"l1_loss": l1, "l2_loss": l2}
    if info.get("pixel_loss") is False:  # stage 1 of proxy training: pixels are reported, not trained on
        total = 0.0
    for name, value in aux.items():
        total = total + value
        parts[name] = value
    return total, parts, info["tokens"]


# ---------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(ckpt_dir: Path, step: int, model, optimizer) -> Path:
    """Model, optimizer and RNG state at `step`, tagged with the family and config that made it."""
    from tokbench.checkpoint import save_checkpoint as save, state_tensors

    metadata = {"format": CKPT_FORMAT, "family": model.family, "config": json.dumps(model.config.to_dict())}
    return save(ckpt_dir, step, state_tensors(model), optimizer, metadata, keep=KEEP_CHECKPOINTS)


def load_checkpoint(path: Path, model, optimizer) -> int:
    """Restore model, optimizer and RNG from `path`; returns its step. Another family/config is refused."""
    from tokbench.checkpoint import model_tensors, read_checkpoint, restore_training_state
    from tokbench.visual.model_io import load_state

    tensors, meta = read_checkpoint(path)
    if meta.get("format") != CKPT_FORMAT:
        raise TokbenchError(f"{path}: not a tokbench visual checkpoint")
    if meta.get("family") != model.family:
        raise TokbenchError(f"{path}: checkpoint is a {meta.get('family')} model, not {model.family}")
    from tokbench.visual.families.base import make_config

    saved = json.loads(meta.get("config", "{}"))
    # knobs added since the checkpoint was written take their defaults (which add no weights), so an older run
    # still resumes; load_state below refuses weights that do not fit
    if not isinstance(saved, dict) or make_config(model.family, saved).to_dict() != model.config.to_dict():
        raise TokbenchError(f"{path}: checkpoint was trained with another model config")
    load_state(model, model_tensors(tensors), str(path))
    return restore_training_state(tensors, meta, optimizer)


# ---------------------------------------------------------------------------------------------- distributed
@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    started_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device: str) -> _Dist:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return _Dist()
    import torch.distributed as dist

    started = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        started = True
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), started)


_TEARDOWNS = [0]  # process groups this process has closed: keeps the store keys of each teardown apart


def _close_distributed(ddp: _Dist, finished: bool) -> None:
    """Destroy the process group we started, one rank at a time after a finished fit.

    Gloo's event loop enforces that a pair it is handling is still connected and error-free; a peer's close
    that arrives while this process is itself closing the same pairs can fail that check inside the loop
    thread, which aborts the process (SIGABRT; gloo issue 155: barrier then teardown fails some ranks). Rank 0
    usually closes last (it writes the checkpoint and the run files), but on a loaded machine rank 1 can be
    delayed into rank 0's teardown. So the other ranks close first and say so through the rendezvous store
    (which outlives the group), and rank 0 closes once they all have. After an error every rank just closes."""
    import datetime

    import torch.distributed as dist

    if not finished or ddp.world <= 1:
        dist.destroy_process_group()
        return
    store = dist.distributed_c10d._get_default_store()
    _TEARDOWNS[0] += 1
    keys = [f"tokbench/closed/{_TEARDOWNS[0]}/{rank}" for rank in range(1, ddp.world)]
    if ddp.rank == 0:
        store.wait(keys, datetime.timedelta(minutes=10))
        dist.destroy_process_group()
    else:
        dist.destroy_process_group()
        store.set(keys[ddp.rank - 1], "1")


def _resolve_device(device: str, ddp: _Dist) -> str:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise TokbenchError(f"device must be cpu, cuda or auto, not {device!r}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TokbenchError("device cuda asked for, but torch sees no CUDA GPU")
        if ddp.world > 1:
            device = f"cuda:{ddp.local_rank}"
    return device


def _recorded_threads(run_path: Path) -> int | None:
    """The torch thread count a run trained with (run.json `torch_threads`), if recorded and sane."""
    from tokbench.runs import read_json

    if not (run_path / "run.json").is_file():
        return None
    info = read_json(run_path / "run.json")
    value = info.get("torch_threads") if isinstance(info, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4096 else None


# ---------------------------------------------------------------------------------------------- the fit
def fit_vq(family: str | None = None, data: str | None = None, *, steps: int | None = None,
           config: dict[str, Any] | str | os.PathLike | None = None, runs_dir: str | os.PathLike = "runs",
           name: str | None = None, resume: str | os.PathLike | None = None, seed: int | None = None,
           device: str = "auto", checkpoint_every: int | None = None, batch_size: int | None = None,
           lr: float | None = None, model_options: dict[str, Any] | None = None,
           threads: int | None = None, proxy: str | os.PathLike | None = None,
           proxy_steps: int | None = None) -> FitResult:
    """Train a visual tokenizer of `family` on `data` and write a `visual-vq` run folder.

    `config` is a dict or a TOML/YAML file of model and train knobs; keyword arguments and `model_options`
    (e.g. {"codebook_size": 1024}) override it. `resume` continues an interrupted or failed run from its last
    checkpoint (its recorded family, data and config are used; conflicting ones are refused). `threads` sets
    torch's CPU threads (1 is much faster than the default when other jobs share the cores). `proxy` is a
    trained grid2d run: a latent1d or flexible model then trains in TiTok's two stages against it (see
    `tokbench.visual.families.latent1d`; `proxy_steps` stage-1 steps, default 2/3 of `steps`)."""
    import torch

    from tokbench.runs import read_json

    if resume is not None and threads is None:  # the same thread count gives the same float results
        recorded = _recorded_threads(Path(resume))
        threads = recorded if recorded is not None else threads
    if threads is not None:
        if threads < 1:
            raise TokbenchError("threads must be >= 1")
        torch.set_num_threads(threads)

    opts = read_config_file(config) if isinstance(config, (str, os.PathLike)) else dict(config or {})
    model_over, train_over, other = split_options(opts)
    model_over.update({k: v for k, v in (model_options or {}).items() if v is not None})
    train_over.update({k: v for k, v in (("steps", steps), ("checkpoint_every", checkpoint_every),
                                         ("batch_size", batch_size), ("lr", lr), ("seed", seed),
                                         ("proxy_steps", proxy_steps)) if v is not None})

    if "proxy_config" in model_over and proxy is None and resume is None:
        raise TokbenchError("proxy_config is set by --proxy RUN (a trained grid2d run), not by hand")
    proxy_model, proxy_record = None, None
    if proxy is not None:
        if resume is not None:
            raise TokbenchError("a resumed run keeps its proxy; drop --proxy")
        family = family or other.get("family")
        if family not in ("latent1d", "flexible"):
            raise TokbenchError(f"--proxy trains a latent1d or flexible model, not {family or 'grid2d (the default)'}")
        proxy_model, proxy_record = load_proxy(proxy)
        pcfg = proxy_model.config
        model_over.setdefault("image_size", pcfg.image_size)
        model_over.setdefault("channels", pcfg.channels)
        model_over.setdefault("patch_size", max(1, pcfg.image_size // proxy_model.grid))
        model_over["proxy_config"] = pcfg.to_dict()

    run_path = Path(resume) if resume is not None else None
    if run_path is not None:
        from tokbench.runs import load_run

        info = load_run(run_path).info
        if info.get("kind") != "visual-vq":
            raise TokbenchError(f"{run_path}: not a visual-vq run (kind {info.get('kind')})")
        saved = info.get("config") or {}
        if not (isinstance(saved.get("family"), str) and isinstance(saved.get("data"), str)
                and isinstance(saved.get("model"), dict) and isinstance(saved.get("train"), dict)):
            raise TokbenchError(f"{run_path}/run.json: malformed visual-vq config (needs family, data, model, train)")
        if family is not None and family != saved.get("family"):
            raise TokbenchError(f"{run_path}: run trains a {saved.get('family')} model, not {family}")
        if model_over:
            raise TokbenchError("a resumed run keeps its model config; drop the size options")
        family, data = saved["family"], saved["data"] if data is None else data
        if data != saved["data"]:
            raise TokbenchError(f"{run_path}: run trains on {saved['data']}, not {data}")
        model_over = saved["model"]
        # steps and lr may change on resume (e.g. a lower lr after a NaN stop); then the curve differs from here on
        train_over = {**saved["train"], **{k: v for k, v in train_over.items() if k in ("steps", "lr")}}
    family = family or other.get("family") or "grid2d"
    data = data or other.get("data") or "builtin:fashion-mnist"

    from tokbench.visual.families.base import make_config

    mcfg = make_config(family, model_over)
    tcfg = make_train_config(family, train_over)
    if mcfg.proxy_config is None and tcfg.proxy_steps is not None:
        raise TokbenchError("proxy_steps is for two-stage training with --proxy RUN")
    if mcfg.proxy_config is not None and tcfg.proxy_steps is None:
        tcfg.proxy_steps = round(tcfg.steps * 2 / 3)
    ddp = _setup_distributed(device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    finished = False
    try:
        dev = _resolve_device(device, ddp)
        if "batch_size" not in train_over:  # a GPU needs a larger batch than the CPU default to be kept busy
            from tokbench.visual.accel import default_batch_size

            tcfg.batch_size = default_batch_size(dev, mcfg.image_size)
        result = _fit(family, data, mcfg, tcfg, dev, ddp, runs_dir, name, run_path, (proxy_model, proxy_record))
        finished = True
        return result
    finally:
        if ddp.started_here:
            _close_distributed(ddp, finished)


def load_proxy(path: str | os.PathLike):
    """(the trained grid2d model of run `path`, {"run", "sha256", "family", "steps"}) for two-stage training."""
    from tokbench.runs import read_json
    from tokbench.visual.model_io import load_model
    from tokbench.visual.tokens import weights_sha256

    path = Path(path)
    if not path.is_dir():
        raise TokbenchError(f"--proxy {path}: no such run folder (a trained grid2d run)")
    try:
        model = load_model(path)
        sha = weights_sha256(path)
    except TokbenchError as exc:
        raise TokbenchError(f"--proxy: {exc}") from None
    if model.family != "grid2d":
        raise TokbenchError(f"--proxy {path}: a {model.family} run; the proxy must be a grid2d run")
    if not (path / "run.json").is_file():
        raise TokbenchError(f"--proxy {path}: no run.json; give the grid2d run's folder")
    info = read_json(path / "run.json")
    status = info.get("status") if isinstance(info, dict) else None
    if status != "done":  # still training (its weights change under us) or interrupted: not a finished proxy
        raise TokbenchError(f"--proxy {path}: the run's status is {status!r}, not 'done'; finish it first "
                            f"(tokbench fit-vq --resume {path})")
    return model, {"run": str(path.resolve()), "sha256": sha, "family": "grid2d", "steps": info.get("steps_done")}


def _restore_proxy(model, record: dict | None, run_path: Path) -> None:
    """Load the proxy's weights into a proxy model resumed before its first checkpoint (from the recorded run,
    if it is still there with the same weights)."""
    from tokbench.visual.model_io import load_model
    from tokbench.visual.tokens import weights_sha256

    where = (record or {}).get("run")
    try:
        if not isinstance(where, str) or weights_sha256(where) != record.get("sha256"):
            raise TokbenchError("changed")
        proxy = load_model(where)
    except TokbenchError:
        raise TokbenchError(f"{run_path}: no checkpoint yet and its proxy run {where} is gone or has changed; "
                            f"start a new run") from None
    model.proxy.load_state_dict(proxy.state_dict())


def _stage_schedule(tcfg: TrainConfig, step: int) -> tuple[int, float]:
    """(stage, learning rate) at `step` of a two-stage (proxy) run: each stage has its own warm-up and cosine
    decay over its own steps, as TiTok's two training runs do."""
    first = int(tcfg.proxy_steps or 0)
    if step < first:
        return 1, lr_at(step, dataclasses.replace(tcfg, steps=first))
    return 2, lr_at(step - first, dataclasses.replace(tcfg, steps=tcfg.steps - first))


def _fit(family, data, mcfg, tcfg, dev, ddp, runs_dir, name, run_path, proxy=(None, None)) -> FitResult:
    import torch

    from tokbench.progress import task
    from tokbench.runs import Run
    from tokbench.sources.images import load_images
    from tokbench.visual.accel import autocast_for
    from tokbench.visual.model_io import build_model, save_model

    imgs = load_images(data, "train", size=mcfg.image_size, channels=mcfg.channels, limit=tcfg.train_limit)
    if imgs.shape != (mcfg.channels, mcfg.image_size, mcfg.image_size):
        raise TokbenchError(f"{data}: images are {imgs.shape}, the model takes "
                            f"{(mcfg.channels, mcfg.image_size, mcfg.image_size)}")
    train = torch.from_numpy(np.ascontiguousarray(imgs.images, dtype=np.float32))
    n = train.shape[0]

    torch.manual_seed(tcfg.seed)
    model = build_model(family, mcfg)
    proxy_model, proxy_record = proxy
    if proxy_model is not None:
        model.proxy.load_state_dict(proxy_model.state_dict())
    model = model.to(dev)
    two_stage = mcfg.proxy_config is not None
    optimizer = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay,
                                  betas=(0.9, 0.99))

    run = None
    start = 0
    config_doc = {"family": family, "data": data, "model": mcfg.to_dict(), "train": tcfg.to_dict()}
    if ddp.is_main:
        if run_path is not None:
            run = Run.resume(run_path)
        else:
            run = Run.create(runs_dir, "visual-vq", config_doc, name=name, data=imgs.fingerprint(),
                             packages=("torch", "vector-quantize-pytorch", "safetensors"))
    status, message, last_good, final_loss = "done", None, start, None
    t0, images_done = time.perf_counter(), 0
    counts = None
    try:
        if run is not None:
            run.update_info(config=config_doc, torch_threads=torch.get_num_threads(),
                            precision="bf16-autocast" if dev.startswith("cuda") else "fp32")
            if proxy_record is not None:
                run.update_info(proxy=proxy_record)
        if run_path is not None:
            ckpt = latest_checkpoint(run_path / "artifacts" / CHECKPOINT_DIR)
            if ckpt is not None:
                start = load_checkpoint(ckpt, model, optimizer)
            elif two_stage:
                from tokbench.runs import read_json

                _restore_proxy(model, read_json(run_path / "run.json").get("proxy"), run_path)
            if run is not None:
                run.truncate_log(lambda r: int(r.get("step", 0)) <= start)
        ckpt_dir = (run.artifacts / CHECKPOINT_DIR) if run is not None else None

        train_model = model
        if ddp.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            train_model = DistributedDataParallel(model, device_ids=[dev] if dev.startswith("cuda") else None,
                                                  find_unused_parameters=has_unused_parameters(model))
        status, last_good = "done", start
        with (task(f"fit-vq {family}", total=tcfg.steps) if ddp.is_main else _NoBar()) as bar:
            bar.update(completed=start)
            model.train()
            for step in range(start, tcfg.steps):
                torch.manual_seed(step_seed(tcfg.seed, step, ddp.rank))
                idx = batch_indices(tcfg.seed, step, tcfg.batch_size, n, ddp.rank, ddp.world)
                batch = train[torch.from_numpy(idx)].to(dev, non_blocking=True)
                lr_now = lr_at(step, tcfg)
                if two_stage:
                    stage, lr_now = _stage_schedule(tcfg, step)
                    model.set_stage(stage)
                for group in optimizer.param_groups:
                    group["lr"] = lr_now
                with autocast_for(dev):  # bf16 on CUDA only (tokbench.visual.accel)
                    loss, parts, tokens = compute_losses(train_model, batch, tcfg)
                finite = torch.isfinite(loss.detach()).float()
                if ddp.world > 1:
                    import torch.distributed as dist

                    dist.all_reduce(finite, op=dist.ReduceOp.MIN)
                if finite.item() < 1:
                    status = "failed"
                    message = (f"non-finite loss at step {step + 1}; stopped, last good checkpoint (step "
                               f"{last_good}) kept" + ("" if last_good else " — none was written yet"))
                    break
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if tcfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
                optimizer.step()
                images_done += batch.shape[0]
                final_loss = float(loss.detach())
                counts = _accumulate_counts(model, tokens, counts)
                done = step + 1
                if run is not None and done % tcfg.log_every == 0:
                    recon = tcfg.l1_weight * parts["l1_loss"] + tcfg.l2_weight * parts["l2_loss"]
                    run.log({"step": done, "loss": final_loss, "recon_loss": float(recon.detach()),
                             **{k: float(v.detach()) for k, v in parts.items()}, "lr": lr_now,
                             **({"stage": model.stage} if two_stage else {}), **_usage_stats(counts)})
                if done % tcfg.log_every == 0:
                    counts = None
                if done % tcfg.checkpoint_every == 0 or done == tcfg.steps:
                    if run is not None:
                        try:
                            save_checkpoint(ckpt_dir, done, model, optimizer)
                            save_model(run.artifacts, model)
                            run.update_info(steps_done=done)
                        except OSError as exc:
                            raise TokbenchError(f"{run.path}: cannot write the step-{done} checkpoint "
                                                f"({exc.strerror}); the step-{last_good} one is kept") from None
                    last_good = done
                bar.advance(1)
    except KeyboardInterrupt:
        if run is not None:
            run.finish("interrupted", f"interrupted at step {last_good}; resume with --resume {run.path}")
        raise
    except Exception as exc:
        if run is not None:
            run.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    seconds = time.perf_counter() - t0
    ips = images_done * ddp.world / seconds if seconds > 0 else 0.0
    metrics = {}
    if run is not None:
        metrics = {"train_steps": last_good, "final_loss": final_loss, "train_images_per_second": ips,
                   "train_batch_size": tcfg.batch_size,
                   "tokens_per_image": model.tokens_per_image, "bits_per_token": model.bits_per_token,
                   "bits_per_image": model.tokens_per_image * model.bits_per_token}
        if two_stage:
            metrics["proxy_stage1_steps"] = tcfg.proxy_steps
        run.update_metrics(f"{data}/train", metrics)
        if status == "done":
            run.finish("done")
        else:
            run.finish("failed", message)
    return FitResult(run.path if run else None, family, status, last_good, final_loss, seconds, ips,
                     resumed_from=start if run_path is not None else None, message=message, metrics=metrics,
                     processes=ddp.world, model=model)


def has_unused_parameters(model) -> bool:
    """Whether a training step leaves some parameter out of the graph, which DDP must then be told
    (`find_unused_parameters`, an extra graph walk per step that warns when nothing is unused). Only the flexible
    family's mask token can be: nested dropout puts it in every training step's graph (a `torch.where` over all
    positions, even when no sample drops a token), so it is unused only when nested dropout is off."""
    config = getattr(model, "config", None)
    if getattr(config, "proxy_config", None) is not None:  # each stage leaves one side of the model frozen
        return True
    return getattr(model, "family", None) == "flexible" and not getattr(config, "nested_dropout", True)


class _NoBar:
    """What ranks other than 0 draw: nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def advance(self, n=1):
        pass

    def update(self, **kw):
        pass


def _accumulate_counts(model, tokens, counts):
    """Running code counts per statistics column over the current log window (what usage/perplexity read)."""
    import torch

    ids, vocabs = model.stats_ids(tokens.detach())
    fresh = [torch.bincount(ids[:, j], minlength=v).cpu() for j, v in enumerate(vocabs)]
    return fresh if counts is None else [c + f for c, f in zip(counts, fresh)]


def _usage_stats(counts) -> dict[str, float]:
    """Codebook usage (fraction of codes used), entropy and perplexity over the log window; for factorized
    binary codes, usage is averaged over bit groups and entropy summed (perplexity = 2^entropy)."""
    from tokbench.metrics.codebook import entropy_bits, perplexity_from_entropy, usage

    if counts is None:
        return {}
    rows = [c.numpy() for c in counts]
    ent = float(sum(entropy_bits(row) for row in rows))
    return {"usage": float(np.mean([usage(row) for row in rows])), "entropy_bits": ent,
            "perplexity": perplexity_from_entropy(ent)}
