"""TiTok's two-stage training with a proxy tokenizer (`fit-vq --proxy RUN`) on builtin:digits with tiny models:
what each stage trains and freezes, the stage-1 loss, the pixel head, the run record, resume across the stage
boundary, decoding without the proxy's run, and every bad --proxy as one line with exit status 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tokbench.cli import main
from tokbench.errors import TokbenchError
from tokbench.runs import Run, read_json, read_log
from tokbench.visual.families.base import make_config
from tokbench.visual.model_io import build_model, load_model, save_model
from tokbench.visual import train as vtrain
from tokbench.visual.tokens import weights_sha256
from tokbench.visual.train import TrainConfig, compute_losses, fit_vq

DATA = "builtin:digits"  # 8x8 images
GRID = {"image_size": 8, "width": 8, "depth": 1, "codebook_size": 16, "code_dim": 4}  # a 4x4 code grid
TRAIN = {"log_every": 1, "batch_size": 8, "warmup_steps": 1, "checkpoint_every": 3}
LATENT = {"width": 16, "depth": 1, "heads": 2, "num_tokens": 3, "codebook_size": 8, "code_dim": 4}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def proxy_run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("proxy")
    return fit_vq("grid2d", DATA, steps=3, runs_dir=root, name="grid", device="cpu",
                  config={**GRID, **TRAIN}).run_dir


def _two_stage(tmp_path, proxy, name="two", **kw):
    return fit_vq(kw.pop("family", "latent1d"), DATA, runs_dir=tmp_path, name=name, device="cpu",
                  config={**LATENT, **TRAIN}, proxy=proxy, **kw)


def _model(proxy_dir, **options):
    """A latent1d model built around the trained proxy, as fit_vq builds it."""
    proxy = load_model(proxy_dir)
    torch.manual_seed(0)
    model = build_model("latent1d", {**LATENT, "image_size": 8, "patch_size": 2,
                                     "proxy_config": proxy.config.to_dict(), **options})
    model.proxy.load_state_dict(proxy.state_dict())
    return model, proxy


def _images(n=8):
    from tokbench.sources.images import load_images

    return torch.from_numpy(np.ascontiguousarray(load_images(DATA, "train", limit=n).images, dtype=np.float32))


def test_run_records_the_proxy_and_trains_the_stages_in_order(tmp_path, proxy_run):
    res = _two_stage(tmp_path, proxy_run, steps=6)
    assert res.status == "done"
    info = read_json(res.run_dir / "run.json")
    assert info["proxy"]["sha256"] == weights_sha256(proxy_run)
    assert info["proxy"]["run"] == str(proxy_run.resolve()) and info["proxy"]["family"] == "grid2d"
    assert info["config"]["train"]["proxy_steps"] == 4  # 2/3 of the steps, as TiTok's 1M + 500k
    assert info["config"]["model"]["patch_size"] == 2  # the proxy's 4x4 grid sets the patch grid (default 4)
    log = read_log(res.run_dir)
    assert [r["stage"] for r in log] == [1, 1, 1, 1, 2, 2]
    assert all(("proxy_ce_loss" in r) == (r["stage"] == 1) for r in log)
    assert log[0]["lr"] == log[4]["lr"]  # each stage restarts its own warm-up
    assert res.metrics["proxy_stage1_steps"] == 4
    # the proxy's weights are in the saved model, unchanged by stage 1 and with a fine-tuned decoder after stage 2
    model, proxy = load_model(res.run_dir), load_model(proxy_run)
    assert torch.equal(model.proxy.encoder.net[0].weight, proxy.encoder.net[0].weight)
    assert not torch.equal(model.proxy.decoder.net[0].weight, proxy.decoder.net[0].weight)


@pytest.mark.parametrize("quantizer", [{}, {"quantizer": "fsq", "fsq_levels": [5, 3], "code_dim": 2}],
                         ids=["vq", "fsq"])
def test_stage_one_trains_encoder_on_proxy_codes_and_stage_two_only_the_decoders(proxy_run, quantizer):
    model, proxy = _model(proxy_run, **quantizer)
    images = _images()
    tcfg = TrainConfig()

    def step(stage):
        model.train()
        model.set_stage(stage)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
        loss, parts, _ = compute_losses(model, images, tcfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
        return loss, parts, changed

    loss, parts, changed = step(1)
    assert torch.allclose(loss, parts["proxy_ce_loss"] + parts.get("commit_loss", 0))  # no pixel term
    assert not any(k.startswith("proxy.") for k in changed)
    assert {"encoder.layers.0.linear1.weight", "to_code.weight", "proxy_logits.weight"} <= changed
    loss, parts, changed = step(2)
    assert set(parts) == {"l1_loss", "l2_loss"}
    assert torch.allclose(loss, parts["l1_loss"] + parts["l2_loss"])
    assert {"decoder.layers.0.linear1.weight", "proxy_logits.weight", "proxy.decoder.net.0.weight"} <= changed
    frozen = ("encoder.", "to_code.", "latents", "patch_in.", "quantizer.", "proxy.encoder.", "proxy.quantizer.")
    assert not [k for k in changed if k.startswith(frozen)]


def test_stage_one_loss_is_cross_entropy_against_the_proxys_codes(proxy_run):
    model, proxy = _model(proxy_run)
    model.eval()
    model.set_stage(1)
    images = _images()
    _, losses, _ = model(images)
    zq = model.quantizer(model._encode_latents(images * 2 - 1))[0]
    logits = model.proxy_logits(model._decode_patches(zq, None))
    target = proxy.encode(images)
    expected = F.cross_entropy(logits.reshape(-1, proxy.codebook_size), target.reshape(-1))
    assert torch.allclose(losses["proxy_ce_loss"], expected, atol=1e-6)
    wrong = F.cross_entropy(logits.reshape(-1, proxy.codebook_size), target.roll(1, 0).reshape(-1))
    assert not torch.allclose(expected, wrong)


def test_a_perfect_code_prediction_decodes_to_the_proxys_reconstruction(proxy_run):
    model, proxy = _model(proxy_run)
    images = _images()
    codes = proxy.encode(images)
    logits = 1e4 * F.one_hot(codes, proxy.codebook_size).float()
    pixels = (model._proxy_pixels(logits) * 0.5 + 0.5).clamp(0, 1)
    assert torch.allclose(pixels, proxy.decode(codes), atol=1e-5)


def test_resume_across_the_stage_boundary_matches_an_uninterrupted_run(tmp_path, proxy_run, monkeypatch):
    whole = _two_stage(tmp_path, proxy_run, name="whole", steps=6, proxy_steps=3)
    real = vtrain.compute_losses
    calls = [0]

    def interrupt_at_step_5(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(vtrain, "compute_losses", interrupt_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        _two_stage(tmp_path, proxy_run, name="cut", steps=6, proxy_steps=3)
    monkeypatch.undo()
    resumed = fit_vq(resume=tmp_path / "cut", device="cpu")
    assert resumed.status == "done" and resumed.resumed_from == 3  # the checkpoint at the stage boundary
    assert [r["loss"] for r in read_log(whole.run_dir)] == [r["loss"] for r in read_log(resumed.run_dir)]
    a, b = load_model(whole.run_dir).state_dict(), load_model(resumed.run_dir).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_tokens_decode_after_the_proxy_run_is_gone(tmp_path, proxy_run, capsys):
    copy = tmp_path / "proxy-copy"
    shutil.copytree(proxy_run, copy)
    res = _two_stage(tmp_path, copy, family="flexible", steps=2,
                     model_options={"quantizer": "fsq", "fsq_levels": [3, 3], "code_dim": 2})
    shutil.rmtree(copy)
    image = tmp_path / "x.png"
    Image.fromarray((_images(1)[0, 0].numpy() * 255).astype(np.uint8)).save(image)
    assert main(["tokenize-image", str(image), "--run", str(res.run_dir), "--out", str(tmp_path / "t.npz"),
                 "--json"]) == 0
    assert main(["detokenize-image", str(tmp_path / "t.npz"), "--run", str(res.run_dir), "--out",
                 str(tmp_path / "back.png"), "--budget", "2", "--json"]) == 0
    capsys.readouterr()
    assert Image.open(tmp_path / "back.png").size == (8, 8)


def test_proxy_config_needs_a_grid2d_proxy_on_the_patch_grid():
    grid = make_config("grid2d", GRID).to_dict()
    assert make_config("latent1d", {**LATENT, "image_size": 8, "patch_size": 2, "proxy_config": grid})
    with pytest.raises(TokbenchError, match="use --patch-size 2"):
        make_config("latent1d", {**LATENT, "image_size": 8, "patch_size": 4, "proxy_config": grid})


def _other_run(tmp_path):
    with Run.create(tmp_path, "visual-vq", {"family": "latent1d"}, name="lat") as run:
        save_model(run.artifacts, build_model("latent1d", {**LATENT, "image_size": 8}))
    return run.path


BAD_PROXY = [
    ("not a run", lambda d: ("--proxy", d["empty"]), "model.json"),
    ("missing folder", lambda d: ("--proxy", d["tmp"] / "nope"), "no such run folder"),
    ("a latent1d run", lambda d: ("--proxy", d["latent"]), "the proxy must be a grid2d run"),
    ("grid does not match", lambda d: ("--proxy", d["proxy"], "--patch-size", 4), "use --patch-size 2"),
    ("image size differs", lambda d: ("--proxy", d["proxy"], "--image-size", 16), "the proxy takes 1x8x8"),
    ("grid2d family", lambda d: ("--proxy", d["proxy"], "--family", "grid2d"), "latent1d or flexible"),
    ("binary family", lambda d: ("--proxy", d["proxy"], "--family", "binary"), "latent1d or flexible"),
    ("stage 1 longer than the run", lambda d: ("--proxy", d["proxy"], "--proxy-steps", 9), "0..steps (2)"),
    ("proxy steps without proxy", lambda d: ("--proxy-steps", 1), "two-stage training with --proxy"),
    ("proxy config by hand", lambda d: ("--config", d["toml"]), "set by --proxy RUN"),
    ("proxy on resume", lambda d: ("--proxy", d["proxy"], "--resume", d["latent"]), "keeps its proxy"),
    ("an unfinished proxy run", lambda d: ("--proxy", d["unfinished"]), "status is 'interrupted', not 'done'"),
    ("the model folder, not the run", lambda d: ("--proxy", d["proxy"] / "artifacts"), "no run.json"),
]


@pytest.mark.parametrize("label,case,message", BAD_PROXY, ids=[c[0] for c in BAD_PROXY])
def test_bad_proxy_is_one_line(label, case, message, tmp_path, proxy_run, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    toml = tmp_path / "c.toml"
    toml.write_text("[model.proxy_config]\nimage_size = 8\n")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(proxy_run, unfinished)
    info = json.loads((unfinished / "run.json").read_text())
    (unfinished / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))
    extra = case({"tmp": tmp_path, "empty": empty, "proxy": proxy_run, "latent": _other_run(tmp_path),
                  "toml": toml, "unfinished": unfinished})
    args = ["fit-vq", "--data", DATA, "--steps", "2", "--image-size", "8", "--device", "cpu",
            "--runs-dir", str(tmp_path / "runs"), *map(str, extra), "--json"]
    if "--family" not in args:
        args[1:1] = ["--family", "latent1d"]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_proxy_knobs_reach_the_run_folder(tmp_path, proxy_run):
    res = _two_stage(tmp_path, proxy_run, steps=3, proxy_steps=0)
    log = read_log(res.run_dir)
    assert [r["stage"] for r in log] == [2, 2, 2]
    assert json.loads((res.run_dir / "artifacts" / "model.json").read_text())["config"]["proxy_config"] == \
        load_model(proxy_run).config.to_dict()


def test_resume_before_the_first_checkpoint_reloads_the_recorded_proxy(tmp_path, proxy_run, monkeypatch):
    copy = tmp_path / "proxy-copy"
    shutil.copytree(proxy_run, copy)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    for name in ("a", "b"):
        monkeypatch.setattr(vtrain, "compute_losses", interrupt)
        with pytest.raises(KeyboardInterrupt):
            _two_stage(tmp_path, copy, name=name, steps=3)
    monkeypatch.undo()
    res = fit_vq(resume=tmp_path / "a", device="cpu")
    assert res.status == "done" and res.resumed_from == 0
    whole = _two_stage(tmp_path, copy, name="whole", steps=3)
    a, b = load_model(whole.run_dir).state_dict(), load_model(res.run_dir).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the proxy's weights came back, not a fresh init
    shutil.rmtree(copy)
    with pytest.raises(TokbenchError, match="proxy run .* is gone or has changed"):
        fit_vq(resume=tmp_path / "b", device="cpu")
