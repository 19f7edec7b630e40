"""evaluate_vq end to end on tiny models that implement the visual-model interface (patch-mean codes whose
statistics we can compute by hand), and the eval-vq CLI on a real (untrained) model from model_io."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tokbench.errors import TokbenchError
from tokbench.metrics import codebook as cb
from tokbench.runs import Run, load_run, read_json
from tokbench.sources.images import load_images
from tokbench.visual.evaluate import BASELINE_SUBJECT, code_statistics, evaluate_vq


class PatchMeanTokenizer:
    """A real (if crude) image tokenizer: each p x p patch becomes the index of its mean grey level quantized
    to `levels` values; decoding paints each patch flat. `flexible=True` orders tokens in raster order and
    decodes a prefix of k tokens with the rest painted mid-grey; `bits` > 0 emits thermometer bit codes
    (B, T, bits) instead of ids, like a lookup-free binary quantizer."""

    def __init__(self, size=28, patch=7, levels=16, flexible=False, bits=0, fill=0.3):
        self.image_shape = (1, size, size)
        self.patch, self.levels, self.flexible, self.bits, self.fill = patch, levels, flexible, bits, fill
        self.side = size // patch
        self.tokens_per_image = self.side * self.side
        self.bits_per_token = float(bits) if bits else float(np.log2(levels))
        self.family = "flexible" if flexible else ("binary" if bits else "grid2d")

    def budgets(self):
        return list(range(1, self.tokens_per_image + 1)) if self.flexible else [self.tokens_per_image]

    def encode(self, images):
        b = images.shape[0]
        p = self.patch
        means = images.reshape(b, self.side, p, self.side, p).mean(dim=(2, 4)).reshape(b, -1)
        if self.bits:
            thresholds = (torch.arange(self.bits) + 0.5) / self.bits
            return means[..., None] > thresholds
        return torch.clamp((means * self.levels).long(), max=self.levels - 1)

    def decode(self, tokens, keep=None):
        b = tokens.shape[0]
        if self.bits:
            values = tokens.float().sum(-1) / self.bits
        else:
            values = (tokens.float() + 0.5) / self.levels
        if keep is not None:
            if not self.flexible and keep != self.tokens_per_image:
                raise TokbenchError("fixed-length model")
            values = values.clone()
            values[:, keep:] = self.fill
        grid = values.reshape(b, 1, self.side, 1, self.side, 1).expand(b, 1, self.side, self.patch, self.side,
                                                                        self.patch)
        return grid.reshape(b, *self.image_shape).clone()


@pytest.fixture()
def run_dir(tmp_path):
    with Run.create(tmp_path / "runs", "visual-vq", {"family": "tiny"}, name="tiny") as run:
        pass
    return run.path


def _rows(report, metric, subject="tiny"):
    return {r.get("budget"): r["value"] for r in report["rows"] if r["metric"] == metric and r["subject"] == subject}


def test_code_statistics_ids_and_factorized_bits():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 10, (50, 8))
    stats = code_statistics(ids, bits_per_token=4.0)  # codebook of 16, 10 used
    counts = cb.counts_from_ids(ids.ravel(), 16)
    assert stats["codebook_usage"] == 10 / 16 and stats["dead_codes"] == 6
    assert stats["entropy_bits"] == pytest.approx(cb.entropy_bits(counts))
    assert stats["token_information_density"] == pytest.approx(cb.entropy_bits(counts) / 4)
    # 8-bit codes in one group: the factorized count is the exact joint count
    bits8 = rng.integers(0, 2, (40, 5, 8)).astype(bool)
    packed = (bits8.astype(np.int64) * (1 << np.arange(7, -1, -1))).sum(-1)
    exact = code_statistics(bits8, 8.0)
    assert exact["entropy_bits"] == pytest.approx(cb.entropy_bits(cb.counts_from_ids(packed.ravel(), 256)))
    # 80-bit codes: 10 groups of 8, never 2^80 cells
    wide = rng.integers(0, 2, (400, 16, 80)).astype(bool)
    w = code_statistics(wide, 80.0, group=8)
    assert w["factorized"] == {"group_bits": 8, "groups": 10}
    assert 70 < w["entropy_bits"] <= 80 and w["dead_codes"] >= 0 and 0 < w["codebook_usage"] <= 1
    odd = code_statistics(rng.integers(0, 2, (100, 4, 70)).astype(bool), 70.0, group=8)
    assert odd["factorized"]["groups"] == 9  # 8 groups of 8 and one of 6
    with pytest.raises(ValueError):
        code_statistics(np.zeros((0, 3), dtype=np.int64), 4.0)


def test_evaluate_fixed_model_writes_report_metrics_and_reconstructions(run_dir):
    model = PatchMeanTokenizer()
    report = evaluate_vq(run_dir, data="builtin:fashion-mnist", limit=120, batch_size=50, model=model, examples=8)
    psnr = _rows(report, "psnr_db")
    baseline = _rows(report, "psnr_db", BASELINE_SUBJECT)[None]
    assert list(psnr) == [16] and psnr[16] > baseline + 2  # 16 flat patches beat the mean image clearly
    # the reported PSNR is the mean of per-image PSNRs of exactly these reconstructions
    imgs = load_images("builtin:fashion-mnist", "test", limit=120).images
    recon = model.decode(model.encode(torch.from_numpy(imgs))).numpy()
    mse = ((imgs - recon) ** 2).reshape(120, -1).mean(1)
    assert psnr[16] == pytest.approx(float(np.mean(10 * np.log10(1 / mse))), abs=1e-4)
    ids = model.encode(torch.from_numpy(imgs)).numpy()
    counts = cb.counts_from_ids(ids.ravel(), 16)
    assert _rows(report, "codebook_usage")[16] == pytest.approx(cb.usage(counts))
    assert _rows(report, "entropy_bits")[16] == pytest.approx(cb.entropy_bits(counts))
    assert _rows(report, "dead_codes")[16] == cb.dead_codes(counts)
    assert _rows(report, "bits_per_pixel")[16] == pytest.approx(16 * 4 / 784)
    assert _rows(report, "bits_per_image")[16] == 64
    assert 0 < _rows(report, "ssim")[16] < 1 and _rows(report, "fd_pixels")[16] > 0
    assert not _rows(report, "rfid")  # never a number without the verified weights
    assert [u["metric"] for u in report["unavailable"]] == ["rfid"]

    written = load_run(run_dir)
    assert written.status == "done" and not (run_dir / "run.lock").exists()
    assert written.report["schema"] == 1 and written.report["rows"] == report["rows"]
    assert written.metrics["builtin:fashion-mnist/test"]["psnr_db"] == pytest.approx(psnr[16])
    assert "baseline_mean_image_psnr_db" in written.metrics["builtin:fashion-mnist/test"]
    with np.load(run_dir / "artifacts" / "eval" / "reconstructions.npz") as npz:
        assert npz["original"].shape == (8, 28, 28, 1) and npz["original"].dtype == np.uint8
        assert npz["budget_16"].shape == (8, 28, 28, 1)
        assert np.array_equal(npz["codes"], ids)  # every evaluated image's code ids, for usage histograms
    # a second evaluation on other data keeps the first one's rows
    evaluate_vq(run_dir, data="builtin:fashion-mnist", split="train", limit=40, model=model)
    datasets = {r["dataset"] for r in read_json(run_dir / "report.json")["rows"]}
    assert datasets == {"builtin:fashion-mnist/test", "builtin:fashion-mnist/train"}


def test_flexible_budgets_psnr_rises_and_wrong_sha_weights_refused(run_dir, tmp_path):
    junk = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    junk.write_bytes(b"x" * 1000)
    model = PatchMeanTokenizer(flexible=True, patch=14)
    report = evaluate_vq(run_dir, limit=80, model=model, inception_weights=junk)
    psnr = _rows(report, "psnr_db")
    assert sorted(psnr) == [1, 2, 3, 4]
    assert psnr[4] > psnr[2] > psnr[1]
    assert _rows(report, "tokens_per_image") == {1: 1, 2: 2, 3: 3, 4: 4}
    assert "does not match" in report["unavailable"][0]["reason"]
    part = evaluate_vq(run_dir, limit=20, model=model, budgets=[2, 4], write=False)
    assert sorted(_rows(part, "psnr_db")) == [2, 4]
    with pytest.raises(TokbenchError, match="not available"):
        evaluate_vq(run_dir, limit=20, model=model, budgets=[99], write=False)


def test_binary_codes_over_64_bits_and_small_images_without_ssim(run_dir):
    model = PatchMeanTokenizer(bits=72)
    report = evaluate_vq(run_dir, limit=60, model=model)
    summary = report["evaluations"]["builtin:fashion-mnist/test"]["budgets"][0]
    assert summary["factorized"]["groups"] == 9 and summary["bits_per_image"] == 16 * 72
    assert summary["psnr_db"] > report["evaluations"]["builtin:fashion-mnist/test"]["baseline"]["psnr_db"]
    tiny = PatchMeanTokenizer(size=8, patch=4)
    small = evaluate_vq(run_dir, data="builtin:digits", limit=50, model=tiny)
    assert {u["metric"] for u in small["unavailable"]} == {"rfid", "ssim"}
    assert not _rows(small, "ssim") and _rows(small, "psnr_db")[4] > 0


def test_evaluate_bad_input(tmp_path, run_dir):
    with pytest.raises(TokbenchError, match="not a run folder"):
        evaluate_vq(tmp_path, model=PatchMeanTokenizer())
    broken = PatchMeanTokenizer()
    broken.decode = lambda tokens, keep=None: torch.zeros(tokens.shape[0], 1, 14, 14)
    with pytest.raises(TokbenchError, match="decoded images"):
        evaluate_vq(run_dir, limit=5, model=broken)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """An untrained grid2d model from the models helper's model_io, saved into a visual-vq run."""
    model_io = pytest.importorskip("tokbench.visual.model_io")
    model = model_io.build_model("grid2d", {"width": 8, "codebook_size": 16, "code_dim": 4})
    runs = tmp_path_factory.mktemp("runs")
    with Run.create(runs, "visual-vq", {"family": "grid2d"}, name="real") as run:
        model_io.save_model(run.artifacts, model)
    return run.path


def test_eval_vq_cli_json(real_run, capsys):
    from tokbench.cli import main

    rc = main(["eval-vq", str(real_run), "--data", "builtin:fashion-mnist", "--limit", "40", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    payload = json.loads(out)
    assert payload["run_dir"] == str(real_run) and payload["rows"]
    assert {r["metric"] for r in payload["rows"]} >= {"psnr_db", "ssim", "codebook_usage", "bits_per_pixel"}
    assert payload["unavailable"][0]["metric"] == "rfid"
    rc = main(["eval-vq", str(real_run), "--limit", "10"])
    table = capsys.readouterr().out
    assert rc == 0 and "PSNR dB" in table and "rfid: unavailable" in table


def test_eval_vq_cli_errors_are_one_line(tmp_path, capsys):
    from tokbench.cli import main

    assert main(["eval-vq", str(tmp_path), "--limit", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tokbench: error:")


def test_rfid_reported_only_with_verified_weights(run_dir, tmp_path, monkeypatch):
    """Wiring: a file whose sha256 is the expected one enables the rfid rows, given at least RFID_MIN_IMAGES
    (2048) test images (else unavailable, saying so); if the network then cannot be built from it, rfid is
    unavailable with that reason. (The real weights never exist here, so the expected
    hash is patched to a stand-in file's, and the extractor to a cheap one in the first case.)"""
    import hashlib

    from tokbench.metrics import fid as fidm

    weights = tmp_path / "stand-in.pth"
    weights.write_bytes(b"stand-in weights")
    monkeypatch.setattr(fidm, "INCEPTION_SHA256", hashlib.sha256(b"stand-in weights").hexdigest())
    broken = evaluate_vq(run_dir, limit=30, model=PatchMeanTokenizer(), inception_weights=weights, write=False)
    reason = broken["unavailable"][0]["reason"]
    assert "needs at least 2048 images" in reason and "30 evaluated" in reason and not _rows(broken, "rfid")
    monkeypatch.setattr(fidm, "RFID_MIN_IMAGES", 30)  # the 30 test images are enough from here on
    broken = evaluate_vq(run_dir, limit=30, model=PatchMeanTokenizer(), inception_weights=weights, write=False)
    assert "could not be built" in broken["unavailable"][0]["reason"] and not _rows(broken, "rfid")
    monkeypatch.setattr(fidm, "inception_extractor",
                        lambda status, device="cpu", batch_size=50: fidm.PixelFeatures(max_side=7))
    report = evaluate_vq(run_dir, limit=30, model=PatchMeanTokenizer(), inception_weights=weights, write=False)
    assert report["unavailable"] == [] and _rows(report, "rfid")[16] > 0


def test_default_limit_evaluates_enough_images_for_rfid():
    """eval-vq's default image count (library and CLI) is what rFID needs, so the README's plain `eval-vq RUN`
    can report rFID when the weights are present."""
    import inspect

    from tokbench.cli import visual_eval as cli_eval
    from tokbench.metrics import fid as fidm
    from tokbench.visual import evaluate as vev

    assert vev.DEFAULT_LIMIT == fidm.RFID_MIN_IMAGES == 2048
    assert inspect.signature(vev.evaluate_vq).parameters["limit"].default == vev.DEFAULT_LIMIT
    cli_default = inspect.signature(cli_eval.eval_vq_command).parameters["limit"].default
    assert cli_default == vev.DEFAULT_LIMIT


def test_ssim_in_chunks_equals_one_call():
    """eval-vq computes SSIM SSIM_CHUNK images at a time to bound memory; the values are those of one call."""
    import numpy as np

    from tokbench.metrics.fidelity import ssim_per_image
    from tokbench.visual import evaluate as ev

    rng = np.random.default_rng(0)
    a = rng.random((ev.SSIM_CHUNK * 2 + 5, 3, 16, 16))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    chunked = ev._ssim_in_chunks(a, b)
    assert chunked.shape == (len(a),)
    assert np.allclose(chunked, ssim_per_image(a, b), rtol=0, atol=1e-12)
