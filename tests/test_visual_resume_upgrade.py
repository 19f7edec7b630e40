"""A visual run interrupted before an upgrade that added model knobs (here latent_mixing and pixel_head) still
resumes: the checkpoint's config is compared after filling in the new knobs' defaults (found by a hostile review
of the 1D recipe options)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from tokbench.runs import load_run  # noqa: E402
from tokbench.visual import train as vtrain  # noqa: E402
from tokbench.visual.train import fit_vq  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"image_size": 8, "width": 8, "depth": 1, "codebook_size": 32, "code_dim": 4, "log_every": 1,
        "batch_size": 16, "warmup_steps": 2}
NEW_KEYS = ("latent_mixing", "pixel_head")  # model knobs added to VQConfig after runs were already made


def _as_before_the_upgrade(run_dir) -> None:
    """Rewrite an interrupted run as the previous release wrote it: no new knobs in run.json's model config nor
    in the checkpoints' config metadata (the weights are the same: the defaults add no parameter)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    for ckpt in sorted((run_dir / "artifacts" / "checkpoints").glob("*.safetensors")):
        with safe_open(str(ckpt), framework="pt") as fh:
            meta = dict(fh.metadata())
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        config = json.loads(meta["config"])
        meta["config"] = json.dumps({k: v for k, v in config.items() if k not in NEW_KEYS})
        save_file(tensors, str(ckpt), metadata=meta)
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text())
    info["config"]["model"] = {k: v for k, v in info["config"]["model"].items() if k not in NEW_KEYS}
    info_path.write_text(json.dumps(info, indent=2))


def test_a_run_interrupted_before_the_upgrade_resumes(tmp_path, monkeypatch):
    real = vtrain.compute_losses
    calls = {"n": 0}

    def interrupt_at_5(model, images, tcfg):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(model, images, tcfg)

    monkeypatch.setattr(vtrain, "compute_losses", interrupt_at_5)
    with pytest.raises(KeyboardInterrupt):
        fit_vq("grid2d", "builtin:digits", runs_dir=tmp_path, name="cut", device="cpu", steps=6,
               checkpoint_every=3, config=dict(TINY))
    monkeypatch.undo()
    assert load_run(tmp_path / "cut").status == "interrupted"
    _as_before_the_upgrade(tmp_path / "cut")
    res = fit_vq(resume=tmp_path / "cut", device="cpu")
    assert res.status == "done" and res.resumed_from == 3
