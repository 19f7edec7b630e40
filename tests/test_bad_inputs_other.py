"""Table-driven bad inputs for the model, audio, kernel, runs and dashboard commands (issue 15).

Every case runs the CLI in-process (`tokbench.cli.main`) and ends in one of two ways:
- `ERR`: exit 2 and exactly one line on stderr (`tokbench: error: ...`, never "internal error", never a
  traceback), optionally containing a given phrase;
- `OK`: a documented correct result (exit 0, and what the case's check says).
After every case nothing is torn or left behind: no temporary files, no run.lock, no run left `running`, no
output created by a failed command, and special files (devices, FIFOs) untouched.
Commands: fit-vq, eval-vq, fit-audio, eval-audio, tokenize-audio, detokenize, bench-lookup, runs, show,
dashboard (argument validation only: `--dry-run`, no server is started). Text commands have their own suite.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("vector_quantize_pytorch")
sf = pytest.importorskip("soundfile")

from tokbench.cli import main  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
VQ_TINY = ["--image-size", "8", "--width", "8", "--depth", "1", "--codebook-size", "16", "--code-dim", "4",
           "--batch-size", "8", "--threads", "1", "--device", "cpu", "-d", "builtin:digits"]
AUDIO_TINY = ["--n-q", "2", "-k", "8", "--dim", "8", "--channels", "4", "--batch-size", "2", "--segment", "0.08",
              "--threads", "1", "--device", "cpu"]


# ---------------------------------------------------------------------------------------------- shared inputs
@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Trained tiny runs (visual, audio), a wav, a token file, made once; cases copy what they modify."""
    from tokbench.audio.train import fit_audio
    from tokbench.audio.tokens import tokenize_file
    from tokbench.visual.train import fit_vq

    root = tmp_path_factory.mktemp("shared")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fit_vq("grid2d", "builtin:digits", runs_dir=root / "runs", name="vq", device="cpu", steps=2,
               checkpoint_every=2, config={"image_size": 8, "width": 8, "depth": 1, "codebook_size": 16,
                                           "code_dim": 4, "batch_size": 8})
        fit_audio("builtin:signals", 2, runs_dir=root / "runs", name="codec", n_q=2, codebook_size=8, dim=8,
                  channels=4, batch_size=2, segment_seconds=0.08, ckpt_every=1, threads=1)
        wav = root / "tone.wav"
        t = np.arange(8000) / 16000
        sf.write(str(wav), (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, subtype="PCM_16")
        tokenize_file(wav, root / "runs" / "codec", root / "tone.npz")
    finally:
        torch.set_num_threads(old)
    return root


@dataclass
class Ctx:
    shared: Path
    tmp: Path

    # runs ---------------------------------------------------------------------------------------------
    @property
    def runs(self) -> Path:
        return self.tmp / "runs"

    def copy(self, name: str) -> Path:
        dest = self.tmp / "copies" / name
        if not dest.exists():
            shutil.copytree(self.shared / "runs" / name, dest, symlinks=True)
        return dest

    @property
    def vq(self) -> Path:
        return self.shared / "runs" / "vq"

    @property
    def codec(self) -> Path:
        return self.shared / "runs" / "codec"

    def interrupted(self, name: str) -> Path:
        """A copy of a run set back to `interrupted`, so --resume may open it."""
        run = self.copy(name)
        info = json.loads((run / "run.json").read_text())
        info["status"] = "interrupted"
        (run / "run.json").write_text(json.dumps(info))
        return run

    def edit_info(self, name: str, **fields) -> Path:
        run = self.interrupted(name)
        info = json.loads((run / "run.json").read_text())
        info.update(fields)
        (run / "run.json").write_text(json.dumps(info))
        return run

    def edit_config(self, name: str, **fields) -> Path:
        run = self.interrupted(name)
        info = json.loads((run / "run.json").read_text())
        info["config"].update(fields)
        (run / "run.json").write_text(json.dumps(info))
        return run

    def replace(self, name: str, rel: str, content: bytes | str | None) -> Path:
        """A copy of a run with one file replaced (None: removed)."""
        run = self.copy(name)
        target = run / rel
        target.unlink(missing_ok=True)
        if content is not None:
            (target.write_bytes if isinstance(content, bytes) else target.write_text)(content)
        return run

    def truncate(self, name: str, rel: str, keep: float = 0.5) -> Path:
        run = self.copy(name)
        data = (run / rel).read_bytes()
        (run / rel).write_bytes(data[:int(len(data) * keep)])
        return run

    def symlinked_artifacts(self, name: str) -> Path:
        run = self.interrupted(name)
        outside = self.tmp / "outside"
        shutil.move(str(run / "artifacts"), outside)
        os.symlink(outside, run / "artifacts")
        return run

    # files --------------------------------------------------------------------------------------------
    def file(self, name: str, content: bytes | str = b"") -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        return path

    def folder(self, name: str, files: dict[str, bytes] | None = None) -> Path:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        for fname, data in (files or {}).items():
            (path / fname).write_bytes(data)
        return path

    def fifo(self, name: str = "fifo") -> Path:
        path = self.tmp / name
        os.mkfifo(path)
        return path

    def symlink(self, name: str = "link.out") -> Path:
        path = self.tmp / name
        os.symlink(self.tmp / "nowhere", path)
        return path

    def wav(self, name: str, samples: np.ndarray | None = None, subtype: str = "PCM_16", rate: int = 16000) -> Path:
        path = self.tmp / name
        if samples is None:
            samples = 0.3 * np.sin(np.arange(4000) / 7)
        sf.write(str(path), np.asarray(samples, dtype=np.float32), rate, subtype=subtype)
        return path

    def truncated_wav(self, name: str = "cut.wav") -> Path:
        path = self.wav(name, 0.3 * np.sin(np.arange(16000) / 7))
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
        return path

    def tokens(self, name: str = "t.npz", **changes) -> Path:
        """A copy of the shared token file with arrays replaced (value None: dropped)."""
        with np.load(self.shared / "tone.npz", allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = np.asarray(value)
        buf = io.BytesIO()
        np.savez(buf, **data)
        return self.file(name, buf.getvalue())

    @property
    def tokens_file(self) -> Path:
        return self.shared / "tone.npz"

    @property
    def tone(self) -> Path:
        return self.shared / "tone.wav"


GARBAGE = bytes(range(256)) * 8
BAD_TOML = "steps = [unclosed\n"


def _codes(c: Ctx) -> np.ndarray:
    with np.load(c.tokens_file, allow_pickle=False) as npz:
        return npz["codes"]


# ---------------------------------------------------------------------------------------------- the table
ERR, OK, USAGE = "error", "ok", "usage"
Case = tuple[str, Callable[[Ctx], list[str]], str, object]  # (id, argv(ctx), expectation, phrase or check)


def _fit_vq(*extra):
    return lambda c: ["fit-vq", *VQ_TINY, "--runs-dir", str(c.runs), *[e(c) if callable(e) else e for e in extra]]


def _fit_audio(*extra):
    return lambda c: ["fit-audio", *AUDIO_TINY, "--runs-dir", str(c.runs), *[e(c) if callable(e) else e for e in extra]]


def _cmd(*parts):
    return lambda c: [str(p(c)) if callable(p) else str(p) for p in parts]


def _tok(out: Callable[[Ctx], object] = lambda c: c.tmp / "out.npz", src=lambda c: c.tone, run=lambda c: c.codec,
         *extra):
    return lambda c: ["tokenize-audio", str(src(c)), "--run", str(run(c)), "-o", str(out(c)), *extra]


def _detok(tokens=lambda c: c.tokens_file, out: Callable[[Ctx], object] = lambda c: c.tmp / "out.wav",
           run=lambda c: c.codec, *extra):
    return lambda c: ["detokenize", str(tokens(c)), "--run", str(run(c)), "-o", str(out(c)), *extra]


CASES: list[Case] = [
    # fit-vq: numbers out of range --------------------------------------------------------------------------
    ("vq-family-unknown", _fit_vq("--family", "nope"), ERR, "unknown family"),
    ("vq-steps-0", _fit_vq("--steps", "0"), ERR, "steps"),
    ("vq-steps-neg", _fit_vq("--steps", "-5"), ERR, "steps"),
    ("vq-batch-0", _fit_vq("--batch-size", "0"), ERR, "batch_size"),
    ("vq-batch-huge", _fit_vq("--batch-size", "10000000"), ERR, "batch_size"),
    ("vq-lr-0", _fit_vq("--lr", "0"), ERR, "lr"),
    ("vq-lr-neg", _fit_vq("--lr", "-1"), ERR, "lr"),
    ("vq-lr-nan", _fit_vq("--lr", "nan"), ERR, "lr"),
    ("vq-lr-inf", _fit_vq("--lr", "inf"), ERR, "lr"),
    ("vq-seed-neg", _fit_vq("--seed", "-1"), ERR, "seed"),
    ("vq-seed-huge", _fit_vq("--seed", str(2 ** 40)), ERR, "seed"),
    ("vq-codebook-0", _fit_vq("--codebook-size", "0"), ERR, "codebook"),
    ("vq-codebook-1", _fit_vq("--codebook-size", "1"), ERR, "codebook"),
    ("vq-code-dim-0", _fit_vq("--code-dim", "0"), ERR, "code_dim"),
    ("vq-width-0", _fit_vq("--width", "0"), ERR, "width"),
    ("vq-depth-0", _fit_vq("--depth", "0"), ERR, "depth"),
    ("vq-depth-too-deep", _fit_vq("--depth", "9"), ERR, None),
    ("vq-image-size-0", _fit_vq("--image-size", "0"), ERR, "image_size"),
    ("vq-channels-2", _fit_vq("--channels", "2"), ERR, "channels"),
    ("vq-quantizer-unknown", _fit_vq("--quantizer", "zzz"), ERR, "quantizer"),
    ("vq-fsq-levels-text", _fit_vq("--quantizer", "fsq", "--fsq-levels", "a,b"), ERR, "fsq-levels"),
    ("vq-fsq-levels-small", _fit_vq("--quantizer", "fsq", "--fsq-levels", "2,2,2,2"), ERR, "fsq_levels"),
    ("vq-fsq-levels-mismatch", _fit_vq("--quantizer", "fsq", "--fsq-levels", "5,5"), ERR, "fsq_levels"),
    ("vq-bits-0", _fit_vq("--family", "binary", "--bits", "0"), ERR, "bits"),
    ("vq-entropy-group-99", _fit_vq("--family", "binary", "--entropy-group", "99"), ERR, "group"),
    ("vq-num-tokens-0", _fit_vq("--family", "latent1d", "--num-tokens", "0"), ERR, "num_tokens"),
    ("vq-patch-not-dividing", _fit_vq("--family", "latent1d", "--patch-size", "3"), ERR, "patch"),
    ("vq-latent-mixing-unknown", _fit_vq("--family", "latent1d", "--latent-mixing", "spiral"), ERR, "latent_mixing"),
    ("vq-pixel-head-unknown", _fit_vq("--family", "latent1d", "--pixel-head", "mlp"), ERR, "pixel_head"),
    ("vq-pixel-head-conv-patch-7", _fit_vq("--family", "latent1d", "--pixel-head", "conv", "--patch-size", "7"), ERR,
     "power of two"),
    ("vq-keep-lengths-unknown", _fit_vq("--family", "flexible", "--keep-lengths", "fib"), ERR, "keep_lengths"),
    ("vq-mixing-on-grid2d", _fit_vq("--family", "grid2d", "--latent-mixing", "raster"), ERR, "1D layouts"),
    ("vq-keep-lengths-on-latent1d", _fit_vq("--family", "latent1d", "--keep-lengths", "pow2"), ERR, "flexible"),
    ("vq-checkpoint-every-0", _fit_vq("--checkpoint-every", "0"), ERR, "checkpoint_every"),
    ("vq-threads-0", _fit_vq("--threads", "0"), ERR, "threads"),
    ("vq-device-tpu", _fit_vq("--device", "tpu"), ERR, "device"),
    ("vq-name-escape", _fit_vq("--name", "../x"), ERR, "invalid run name"),
    ("vq-name-empty", _fit_vq("--name", ""), ERR, "invalid run name"),
    ("vq-runs-dir-file", lambda c: ["fit-vq", *VQ_TINY, "--runs-dir", str(c.file("afile", "x"))], ERR, None),
    # fit-vq: data and config files
    ("vq-data-missing", _fit_vq("-d", lambda c: str(c.tmp / "missing.npz")), ERR, None),
    ("vq-data-empty-npz", _fit_vq("-d", lambda c: str(c.file("e.npz"))), ERR, None),
    ("vq-data-garbage-npz", _fit_vq("-d", lambda c: str(c.file("g.npz", GARBAGE))), ERR, None),
    ("vq-data-text-idx", _fit_vq("-d", lambda c: str(c.file("t-ubyte", "hello"))), ERR, None),
    ("vq-data-empty-folder", _fit_vq("-d", lambda c: str(c.folder("imgs"))), ERR, None),
    ("vq-data-folder-bad-pngs", _fit_vq("-d", lambda c: str(c.folder("bad", {"a.png": b"nope", "b.png": b""}))),
     ERR, None),
    ("vq-data-builtin-unknown", _fit_vq("-d", "builtin:nope"), ERR, None),
    ("vq-data-fifo", _fit_vq("-d", lambda c: str(c.fifo("d.npz"))), ERR, None),
    ("vq-config-missing", _fit_vq("--config", lambda c: str(c.tmp / "none.toml")), ERR, "cannot read config"),
    ("vq-config-bad-toml", _fit_vq("--config", lambda c: str(c.file("b.toml", BAD_TOML))), ERR, "TOML"),
    ("vq-config-yaml-list", _fit_vq("--config", lambda c: str(c.file("l.yaml", "- 1\n- 2\n"))), ERR, "table"),
    ("vq-config-unknown-key", _fit_vq("--config", lambda c: str(c.file("u.toml", "bogus = 1\n"))), ERR, "bogus"),
    ("vq-config-binary", _fit_vq("--config", lambda c: str(c.file("bin.toml", GARBAGE))), ERR, None),
    ("vq-config-wrong-type", _fit_vq("--config", lambda c: str(c.file("w.toml", 'steps = "many"\n'))), ERR, None),
    ("vq-config-model-wrong-type", _fit_vq("--config", lambda c: str(c.file("m.toml", 'commitment_weight = "x"\n'))),
     ERR, "commitment_weight"),
    ("vq-data-npy-named-npz", _fit_vq("-d", lambda c: str(_npy_as_npz(c))), ERR, "not a readable .npz"),
    ("vq-data-npz-1d", _fit_vq("-d", lambda c: str(_npz(c, images=np.zeros(5)))), ERR, None),
    ("vq-data-npz-nan", _fit_vq("-d", lambda c: str(_npz(c, images=np.full((20, 8, 8), np.nan))), "--steps", "2"),
     ERR, None),
    ("vq-data-npz-strings", _fit_vq("-d", lambda c: str(_npz(c, images=np.array(["a", "b"])))), ERR, None),
    ("vq-config-folder", _fit_vq("--config", lambda c: str(c.folder("cfgdir"))), ERR, None),
    # fit-vq --resume: corrupt run folders
    ("vq-resume-missing", _cmd("fit-vq", "--resume", lambda c: c.tmp / "nope"), ERR, None),
    ("vq-resume-file", _cmd("fit-vq", "--resume", lambda c: c.file("f", "x")), ERR, None),
    ("vq-resume-empty-dir", _cmd("fit-vq", "--resume", lambda c: c.folder("emptyrun")), ERR, "not a run folder"),
    ("vq-resume-corrupt-json", _cmd("fit-vq", "--resume", lambda c: c.replace("vq", "run.json", "{oops")), ERR,
     "corrupt JSON"),
    ("vq-resume-malformed-started", _cmd("fit-vq", "--resume", lambda c: c.edit_info("vq", started=5)), ERR,
     "started"),
    ("vq-resume-malformed-config", _cmd("fit-vq", "--resume", lambda c: c.edit_info("vq", config={"family": 1})),
     ERR, "malformed"),
    ("vq-resume-done", _cmd("fit-vq", "--resume", lambda c: c.copy("vq")), ERR, "already finished"),
    ("vq-resume-audio-run", _cmd("fit-vq", "--resume", lambda c: c.interrupted("codec")), ERR, "not a visual-vq"),
    ("vq-resume-symlinked-artifacts", _cmd("fit-vq", "--resume", lambda c: c.symlinked_artifacts("vq")), ERR,
     "symlink"),
    ("vq-resume-other-family", _cmd("fit-vq", "--resume", lambda c: c.interrupted("vq"), "--family", "binary"), ERR,
     "binary"),
    ("vq-resume-size-option", _cmd("fit-vq", "--resume", lambda c: c.interrupted("vq"), "--codebook-size", "8"), ERR,
     "keeps its model config"),
    ("vq-resume-garbage-checkpoint", _cmd("fit-vq", "--resume", lambda c: c.interrupted("vq") and c.replace(
        "vq", "artifacts/checkpoints/step_00000002.safetensors", GARBAGE), "--threads", "1"), ERR, "checkpoint"),
    ("vq-resume-truncated-checkpoint", _cmd("fit-vq", "--resume", lambda c: c.interrupted("vq") and c.truncate(
        "vq", "artifacts/checkpoints/step_00000002.safetensors"), "--threads", "1"), ERR, "checkpoint"),
    ("vq-resume-foreign-checkpoint", _cmd("fit-vq", "--resume", lambda c: c.interrupted("vq") and c.replace(
        "vq", "artifacts/checkpoints/step_00000002.safetensors",
        (c.codec / "artifacts" / "model.safetensors").read_bytes()), "--threads", "1"), ERR, "checkpoint"),
    ("vq-resume-fifo-checkpoint", _cmd("fit-vq", "--resume", lambda c: _fifo_checkpoint(c), "--threads", "1"), ERR,
     "FIFO"),
    ("vq-usage-steps-text", _fit_vq("--steps", "abc"), USAGE, None),
    ("vq-usage-unknown-option", _fit_vq("--bogus"), USAGE, None),

    # eval-vq --------------------------------------------------------------------------------------------------
    ("evq-missing", _cmd("eval-vq", lambda c: c.tmp / "nope"), ERR, None),
    ("evq-file", _cmd("eval-vq", lambda c: c.file("f", "x")), ERR, None),
    ("evq-empty-dir", _cmd("eval-vq", lambda c: c.folder("empty")), ERR, None),
    ("evq-corrupt-model-json", _cmd("eval-vq", lambda c: c.replace("vq", "artifacts/model.json", "{bad")), ERR,
     "corrupt JSON"),
    ("evq-model-json-list", _cmd("eval-vq", lambda c: c.replace("vq", "artifacts/model.json", "[1]")), ERR, None),
    ("evq-model-json-unknown-family", _cmd("eval-vq", lambda c: c.replace(
        "vq", "artifacts/model.json", json.dumps({"family": "zzz", "config": {}}))), ERR, "family"),
    ("evq-model-json-bad-config", _cmd("eval-vq", lambda c: c.replace(
        "vq", "artifacts/model.json", json.dumps({"family": "grid2d", "config": {"width": -3}}))), ERR, None),
    ("evq-weights-missing", _cmd("eval-vq", lambda c: c.replace("vq", "artifacts/model.safetensors", None)), ERR,
     "no such file"),
    ("evq-weights-garbage", _cmd("eval-vq", lambda c: c.replace("vq", "artifacts/model.safetensors", GARBAGE)), ERR,
     "safetensors"),
    ("evq-weights-empty", _cmd("eval-vq", lambda c: c.replace("vq", "artifacts/model.safetensors", b"")), ERR, None),
    ("evq-weights-truncated", _cmd("eval-vq", lambda c: c.truncate("vq", "artifacts/model.safetensors")), ERR, None),
    ("evq-weights-of-audio", _cmd("eval-vq", lambda c: c.replace("vq", "artifacts/model.safetensors", (
        c.codec / "artifacts" / "model.safetensors").read_bytes())), ERR, "do not fit"),
    ("evq-split-unknown", _cmd("eval-vq", lambda c: c.vq, "--split", "nope"), ERR, "split"),
    ("evq-limit-neg", _cmd("eval-vq", lambda c: c.vq, "--limit", "-1"), ERR, "limit"),
    ("evq-batch-0", _cmd("eval-vq", lambda c: c.vq, "--batch-size", "0"), ERR, "batch"),
    ("evq-budget-0", _cmd("eval-vq", lambda c: c.vq, "--budget", "0", "-d", "builtin:digits"), ERR, "budget"),
    ("evq-budget-huge", _cmd("eval-vq", lambda c: c.vq, "--budget", "99999", "-d", "builtin:digits"), ERR, "budget"),
    ("evq-data-missing", _cmd("eval-vq", lambda c: c.vq, "-d", lambda c: c.tmp / "none"), ERR, None),
    ("evq-data-garbage", _cmd("eval-vq", lambda c: c.vq, "-d", lambda c: c.file("g.npz", GARBAGE)), ERR, None),
    ("evq-data-empty-folder", _cmd("eval-vq", lambda c: c.vq, "-d", lambda c: c.folder("imgs")), ERR, None),
    ("evq-data-fifo", _cmd("eval-vq", lambda c: c.vq, "-d", lambda c: c.fifo("d.npz")), ERR, "regular file"),
    ("evq-malformed-run-json", _cmd("eval-vq", lambda c: c.edit_info("vq", started=[1]), "-d", "builtin:digits"),
     ERR, "started"),
    ("evq-symlinked-artifacts", _cmd("eval-vq", lambda c: c.symlinked_artifacts("vq"), "-d", "builtin:digits"),
     ERR, "symlink"),
    ("evq-inception-missing", _cmd(  # a typo'd path is refused; a file with another sha256 is "unavailable"
        "eval-vq", lambda c: c.copy("vq"), "--inception-weights", lambda c: c.tmp / "none.pth", "-d",
        "builtin:digits", "--limit", "16", "--budget", "16", "--json"), ERR, "no such file"),
    ("evq-inception-a-folder", _cmd("eval-vq", lambda c: c.vq, "--inception-weights", lambda c: c.folder("w")),
     ERR, "not a regular file"),
    ("evq-inception-wrong-sha-is-unavailable", _cmd(
        "eval-vq", lambda c: c.copy("vq"), "--inception-weights", lambda c: c.file("w.pth", GARBAGE), "-d",
        "builtin:digits", "--limit", "16", "--budget", "16", "--json"), OK,
     lambda c, out, err: any(u["metric"] == "rfid" and "does not match" in u["reason"]
                             for s in json.loads(out)["evaluations"].values() for u in s["unavailable"])),

    # fit-audio ------------------------------------------------------------------------------------------------
    ("fa-steps-0", _fit_audio("--steps", "0"), ERR, "steps"),
    ("fa-steps-neg", _fit_audio("--steps", "-1"), ERR, "steps"),
    ("fa-batch-0", _fit_audio("--batch-size", "0"), ERR, "batch_size"),
    ("fa-batch-huge", _fit_audio("--batch-size", "100000"), ERR, "batch_size"),
    ("fa-segment-0", _fit_audio("--segment", "0"), ERR, "segment"),
    ("fa-segment-neg", _fit_audio("--segment", "-1"), ERR, "segment"),
    ("fa-segment-huge", _fit_audio("--segment", "1e9"), ERR, "segment"),
    ("fa-segment-nan", _fit_audio("--segment", "nan"), ERR, "segment"),
    ("fa-lr-0", _fit_audio("--lr", "0"), ERR, "lr"),
    ("fa-lr-2", _fit_audio("--lr", "2"), ERR, "lr"),
    ("fa-lr-nan", _fit_audio("--lr", "nan"), ERR, "lr"),
    ("fa-nq-0", _fit_audio("--n-q", "0"), ERR, "n_q"),
    ("fa-nq-100", _fit_audio("--n-q", "100"), ERR, "n_q"),
    ("fa-codebook-1", _fit_audio("-k", "1"), ERR, "codes"),
    ("fa-codebook-huge", _fit_audio("-k", "10000000"), ERR, "codes"),
    ("fa-dim-0", _fit_audio("--dim", "0"), ERR, "dim"),
    ("fa-channels-0", _fit_audio("--channels", "0"), ERR, "channels"),
    ("fa-seed-neg", _fit_audio("--seed", "-1"), ERR, "seed"),
    ("fa-threads-0", _fit_audio("--threads", "0"), ERR, "threads"),
    ("fa-device-tpu", _fit_audio("--device", "tpu"), ERR, "device"),
    ("fa-name-escape", _fit_audio("--name", "a/b"), ERR, "invalid run name"),
    ("fa-data-missing", _fit_audio("-d", lambda c: str(c.tmp / "none.wav")), ERR, "no such file"),
    ("fa-data-empty", _fit_audio("-d", lambda c: str(c.file("e.wav"))), ERR, "unreadable"),
    ("fa-data-text", _fit_audio("-d", lambda c: str(c.file("t.wav", "just text\n"))), ERR, "unreadable"),
    ("fa-data-garbage", _fit_audio("-d", lambda c: str(c.file("g.wav", GARBAGE))), ERR, "unreadable"),
    ("fa-data-header-only", _fit_audio("-d", lambda c: str(c.wav("h.wav", np.zeros(0)))), ERR, None),
    ("fa-data-nan", _fit_audio("-d", lambda c: str(c.wav("n.wav", np.full(800, np.nan), "FLOAT"))), ERR, "NaN"),
    ("fa-data-float-1e6", _fit_audio("-d", lambda c: str(c.wav("big.wav", 1e6 * np.sin(np.arange(4000) / 7),
                                                                "FLOAT"))), ERR, "full scale"),
    ("fa-data-empty-folder", _fit_audio("-d", lambda c: str(c.folder("wavs"))), ERR, "no .wav"),
    ("fa-data-folder-all-bad", _fit_audio("-d", lambda c: str(c.folder("badw", {"a.wav": b"x", "b.wav": b""})),
                                          "--skip-bad"), ERR, "no clips"),
    ("fa-data-builtin-unknown", _fit_audio("-d", "builtin:nope"), ERR, "built-in"),
    ("fa-data-fifo", _fit_audio("-d", lambda c: str(c.fifo("f.wav"))), ERR, None),
    ("fa-resume-missing", _cmd("fit-audio", "--resume", lambda c: c.tmp / "nope"), ERR, None),
    ("fa-resume-visual", _cmd("fit-audio", "--resume", lambda c: c.interrupted("vq")), ERR, "not an audio-codec"),
    ("fa-resume-done", _cmd("fit-audio", "--resume", lambda c: c.copy("codec")), ERR, "already finished"),
    ("fa-resume-steps-edited-neg", _cmd("fit-audio", "--resume", lambda c: c.edit_config("codec", steps=-5)), ERR,
     "steps"),
    ("fa-resume-batch-edited-0", _cmd("fit-audio", "--resume", lambda c: c.edit_config("codec", batch_size=0)), ERR,
     "batch_size"),
    ("fa-steps-1e20", _fit_audio("--steps", "99999999999999999999"), ERR, "steps"),
    ("vq-steps-1e20", _fit_vq("--steps", "99999999999999999999"), ERR, "steps"),
    ("fa-resume-malformed-config", _cmd("fit-audio", "--resume", lambda c: c.edit_config("codec", steps="x")), ERR,
     "malformed"),
    ("fa-resume-bad-codec", _cmd("fit-audio", "--resume", lambda c: c.edit_config("codec", codec={"n_q": -1})), ERR,
     None),
    ("fa-resume-corrupt-json", _cmd("fit-audio", "--resume", lambda c: c.replace("codec", "run.json", "")), ERR,
     "corrupt JSON"),
    ("fa-resume-symlinked", _cmd("fit-audio", "--resume", lambda c: c.symlinked_artifacts("codec")), ERR, "symlink"),
    ("fa-resume-fewer-steps", _cmd("fit-audio", "--resume", lambda c: c.interrupted("codec"), "--steps", "1"), ERR,
     "fewer"),
    ("fa-resume-garbage-checkpoint", _cmd("fit-audio", "--resume", lambda c: c.interrupted("codec") and c.replace(
        "codec", "artifacts/checkpoints/step_00000002.safetensors", GARBAGE) and c.replace(
        "codec", "artifacts/checkpoints/step_00000001.safetensors", None)), ERR, "checkpoint"),
    ("fa-usage-steps-text", _fit_audio("--steps", "many"), USAGE, None),

    # eval-audio -----------------------------------------------------------------------------------------------
    ("ea-missing", _cmd("eval-audio", lambda c: c.tmp / "nope"), ERR, None),
    ("ea-file", _cmd("eval-audio", lambda c: c.file("f", "x")), ERR, None),
    ("ea-empty-dir", _cmd("eval-audio", lambda c: c.folder("empty")), ERR, None),
    ("ea-visual-run", _cmd("eval-audio", lambda c: c.vq, "-d", "builtin:signals"), ERR, None),
    ("ea-model-json-corrupt", _cmd("eval-audio", lambda c: c.replace("codec", "artifacts/model.json", "{x"),
                                   "-d", "builtin:signals"), ERR, "corrupt JSON"),
    ("ea-model-json-list", _cmd("eval-audio", lambda c: c.replace("codec", "artifacts/model.json", "[]"),
                                "-d", "builtin:signals"), ERR, None),
    ("ea-model-json-bad-config", _cmd("eval-audio", lambda c: c.replace(
        "codec", "artifacts/model.json", json.dumps({"family": "tokbench-audio-codec", "config": {"n_q": "x"}})),
        "-d", "builtin:signals"), ERR, None),
    ("ea-weights-garbage", _cmd("eval-audio", lambda c: c.replace("codec", "artifacts/model.safetensors", GARBAGE),
                                "-d", "builtin:signals"), ERR, "weights"),
    ("ea-weights-truncated", _cmd("eval-audio", lambda c: c.truncate("codec", "artifacts/model.safetensors"),
                                  "-d", "builtin:signals"), ERR, "weights"),
    ("ea-weights-of-visual", _cmd("eval-audio", lambda c: c.replace("codec", "artifacts/model.safetensors", (
        c.vq / "artifacts" / "model.safetensors").read_bytes()), "-d", "builtin:signals"), ERR, "weights"),
    ("ea-split-unknown", _cmd("eval-audio", lambda c: c.codec, "--split", "nope"), ERR, "split"),
    ("ea-max-clips-0", _cmd("eval-audio", lambda c: c.codec, "--max-clips", "0"), ERR, "max"),
    ("ea-max-clips-neg", _cmd("eval-audio", lambda c: c.codec, "--max-clips", "-3"), ERR, "max"),
    ("ea-wavs-neg", _cmd("eval-audio", lambda c: c.codec, "--wavs", "-1"), ERR, "wavs"),
    ("ea-data-missing", _cmd("eval-audio", lambda c: c.codec, "-d", lambda c: c.tmp / "n.wav"), ERR, None),
    ("ea-data-text", _cmd("eval-audio", lambda c: c.codec, "-d", lambda c: c.file("t.wav", "hi")), ERR, None),
    ("ea-device-tpu", _cmd("eval-audio", lambda c: c.codec, "--device", "tpu"), ERR, "device"),
    ("ea-malformed-run-json", _cmd("eval-audio", lambda c: c.edit_info("codec", kind=3), "-d", "builtin:signals"),
     ERR, None),

    # tokenize-audio -------------------------------------------------------------------------------------------
    ("ta-input-missing", _tok(src=lambda c: c.tmp / "none.wav"), ERR, "no such file"),
    ("ta-input-dir", _tok(src=lambda c: c.folder("d")), ERR, "regular file"),
    ("ta-input-empty", _tok(src=lambda c: c.file("e.wav")), ERR, "unreadable"),
    ("ta-input-text", _tok(src=lambda c: c.file("t.wav", "hello")), ERR, "unreadable"),
    ("ta-input-garbage", _tok(src=lambda c: c.file("g.wav", GARBAGE)), ERR, "unreadable"),
    ("ta-input-nan", _tok(src=lambda c: c.wav("n.wav", np.full(800, np.nan), "FLOAT")), ERR, "NaN"),
    ("ta-input-1e6", _tok(src=lambda c: c.wav("b.wav", 1e6 * np.ones(800), "FLOAT")), ERR, "full scale"),
    ("ta-input-fifo", _tok(src=lambda c: c.fifo("in.wav")), ERR, "regular file"),
    ("ta-run-missing", _tok(run=lambda c: c.tmp / "none"), ERR, None),
    ("ta-run-empty", _tok(run=lambda c: c.folder("emptyrun")), ERR, "no trained audio codec"),
    ("ta-run-visual", _tok(run=lambda c: c.vq), ERR, None),
    ("ta-run-corrupt-model-json", _tok(run=lambda c: c.replace("codec", "artifacts/model.json", "{")), ERR, None),
    ("ta-run-garbage-weights", _tok(run=lambda c: c.replace("codec", "artifacts/model.safetensors", GARBAGE)), ERR,
     "weights"),
    ("ta-nq-0", lambda c: _tok()(c) + ["--n-q", "0"], ERR, "n-q"),
    ("ta-nq-99", lambda c: _tok()(c) + ["--n-q", "99"], ERR, "n-q"),
    ("ta-out-dev-full", _tok(out=lambda c: "/dev/full"), ERR, "character device"),
    ("ta-out-dev-null", _tok(out=lambda c: "/dev/null"), ERR, "character device"),
    ("ta-out-fifo", _tok(out=lambda c: c.fifo("o.npz")), ERR, "FIFO"),
    ("ta-out-dir", _tok(out=lambda c: c.folder("odir")), ERR, "folder"),
    ("ta-out-is-input", lambda c: _tok(out=lambda c2: c2.file("in.wav", c.tone.read_bytes()),
                                       src=lambda c2: c2.tmp / "in.wav")(c), ERR, "also the input"),
    ("ta-out-symlink", _tok(out=lambda c: c.symlink()), ERR, "symlink"),
    ("ta-out-is-model", _tok(run=lambda c: c.copy("codec"),
                             out=lambda c: c.copy("codec") / "artifacts" / "model.safetensors"), ERR, "also the input"),
    ("ta-out-parent-is-file", _tok(out=lambda c: c.file("plain", "x") / "o.npz"), ERR, None),
    ("ta-truncated-wav-warns", _tok(src=lambda c: c.truncated_wav()), OK,
     lambda c, out, err: "truncated WAV" in err and (c.tmp / "out.npz").is_file()),
    ("ta-ok", _tok(), OK, lambda c, out, err: (c.tmp / "out.npz").is_file() and err == ""),

    # detokenize -----------------------------------------------------------------------------------------------
    ("evq-text-run", _cmd("eval-vq", lambda c: (c.replace("vq", "artifacts/model.json", None),
                                                c.edit_info("vq", kind="text-bpe"))[1]), ERR, "text-bpe run, not"),
    ("dt-missing", _detok(tokens=lambda c: c.tmp / "none.npz"), ERR, "no such file"),
    ("dt-frames-hours", _detok(tokens=lambda c: c.tokens("long.npz", codes=np.zeros((1, 2_000_000), np.uint8))), ERR,
     "hour(s) of audio"),
    ("dt-empty", _detok(tokens=lambda c: c.file("e.npz")), ERR, "not a token file"),
    ("dt-text", _detok(tokens=lambda c: c.file("t.npz", "hello")), ERR, "not a token file"),
    ("dt-garbage", _detok(tokens=lambda c: c.file("g.npz", GARBAGE)), ERR, "not a token file"),
    ("dt-npy", _detok(tokens=lambda c: (np.save(c.tmp / "a.npy", np.zeros(3)), c.tmp / "a.npy")[1]), ERR,
     "not a token file"),
    ("dt-truncated-zip", _detok(tokens=lambda c: c.file("cut.npz", c.tokens_file.read_bytes()[:200])), ERR,
     "not a token file"),
    ("dt-dir", _detok(tokens=lambda c: c.folder("tdir")), ERR, "regular file"),
    ("dt-missing-codes", _detok(tokens=lambda c: c.tokens(codes=None)), ERR, "missing codes"),
    ("dt-wrong-format", _detok(tokens=lambda c: c.tokens(format="something-else")), ERR, "not a tokbench"),
    ("dt-float-codes", _detok(tokens=lambda c: c.tokens(codes=_codes(c).astype(np.float32) + 0.5)), ERR,
     "integers"),
    ("dt-codes-1d", _detok(tokens=lambda c: c.tokens(codes=_codes(c)[0])), ERR, "(n_q, T)"),
    ("dt-codes-3d", _detok(tokens=lambda c: c.tokens(codes=_codes(c)[None])), ERR, "(n_q, T)"),
    ("dt-codes-empty", _detok(tokens=lambda c: c.tokens(codes=_codes(c)[:, :0])), ERR, "(n_q, T)"),
    ("dt-codes-too-big", _detok(tokens=lambda c: c.tokens(codes=_codes(c) + 1000)), ERR, "codes must lie"),
    ("dt-codes-negative", _detok(tokens=lambda c: c.tokens(codes=_codes(c) - 1000)), ERR, "codes must lie"),
    ("dt-codes-too-many-levels", _detok(tokens=lambda c: c.tokens(codes=np.concatenate([_codes(c)] * 3))), ERR,
     "levels"),
    ("dt-other-model", _detok(tokens=lambda c: c.tokens(model_sha256="0" * 64)), ERR, "different model"),
    ("dt-n-samples-huge", _detok(tokens=lambda c: c.tokens(n_samples=10 ** 12)), ERR, "n_samples"),
    ("dt-n-samples-zero", _detok(tokens=lambda c: c.tokens(n_samples=0)), ERR, "n_samples"),
    ("dt-n-samples-float", _detok(tokens=lambda c: c.tokens(n_samples=3.5)), ERR, "n_samples"),
    ("dt-rate-zero", _detok(tokens=lambda c: c.tokens(sample_rate=0)), ERR, "sample_rate"),
    ("dt-rate-other", _detok(tokens=lambda c: c.tokens(sample_rate=8000)), ERR, "sample_rate"),
    ("dt-rate-text", _detok(tokens=lambda c: c.tokens(sample_rate="fast")), ERR, "sample_rate"),
    ("dt-nq-0", lambda c: _detok()(c) + ["--n-q", "0"], ERR, "n-q"),
    ("dt-nq-99", lambda c: _detok()(c) + ["--n-q", "99"], ERR, "n-q"),
    ("dt-out-dev-full", _detok(out=lambda c: "/dev/full"), ERR, "character device"),
    ("dt-out-fifo", _detok(out=lambda c: c.fifo("o.wav")), ERR, "FIFO"),
    ("dt-out-dir", _detok(out=lambda c: c.folder("odir")), ERR, "folder"),
    ("dt-out-is-input", lambda c: _detok(tokens=lambda c2: c2.file("in.npz", c.tokens_file.read_bytes()),
                                         out=lambda c2: c2.tmp / "in.npz")(c), ERR, "also the input"),
    ("dt-out-symlink", _detok(out=lambda c: c.symlink()), ERR, "symlink"),
    ("dt-run-missing", _detok(run=lambda c: c.tmp / "none"), ERR, None),
    ("dt-run-garbage-weights", _detok(run=lambda c: c.replace("codec", "artifacts/model.safetensors", GARBAGE)),
     ERR, None),
    ("dt-ok", _detok(), OK, lambda c, out, err: (c.tmp / "out.wav").is_file()),
    ("dt-ok-fewer-levels", lambda c: _detok()(c) + ["--n-q", "1"], OK,
     lambda c, out, err: (c.tmp / "out.wav").is_file()),

    # bench-lookup ---------------------------------------------------------------------------------------------
    ("bl-n-0", _cmd("bench-lookup", "--n", "0", "--no-run"), ERR, None),
    ("bl-n-neg", _cmd("bench-lookup", "--n", "-4", "--no-run"), ERR, None),
    ("bl-k-0", _cmd("bench-lookup", "--k", "0", "--no-run"), ERR, None),
    ("bl-d-0", _cmd("bench-lookup", "--d", "0", "--no-run"), ERR, None),
    ("bl-n-huge", _cmd("bench-lookup", "--n", str(10 ** 12), "--no-run"), ERR, None),
    ("bl-dtype", _cmd("bench-lookup", "--dtype", "float8", "--no-run"), ERR, "dtype"),
    ("bl-method", _cmd("bench-lookup", "--n", "4", "--method", "nope", "--no-run"), ERR, "method"),
    ("bl-device-tpu", _cmd("bench-lookup", "--n", "4", "--device", "tpu", "--no-run"), ERR, "device"),
    ("bl-device-cuda", _cmd("bench-lookup", "--n", "4", "--device", "cuda", "--no-run"), ERR, "CUDA"),
    ("bl-repeats-0", _cmd("bench-lookup", "--n", "4", "--repeats", "0", "--no-run"), ERR, "repeats"),
    ("bl-seed-neg", _cmd("bench-lookup", "--n", "4", "--seed", "-1", "--no-run"), ERR, "seed"),
    ("bl-name-escape", _cmd("bench-lookup", "--n", "4", "--k", "4", "--d", "2", "--repeats", "1", "--method",
                            "nearest_code", "--name", "../up", "--runs-dir", lambda c: c.runs), ERR, "run name"),
    ("bl-runs-dir-file", _cmd("bench-lookup", "--n", "4", "--k", "4", "--d", "2", "--repeats", "1", "--method",
                              "nearest_code", "--runs-dir", lambda c: c.file("rd", "x")), ERR, None),
    ("bl-ok-tiny", _cmd("bench-lookup", "--n", "4", "--k", "4", "--d", "2", "--repeats", "1", "--method",
                        "nearest_code", "--no-run", "--json"), OK,
     lambda c, out, err: json.loads(out)["results"][0]["method"] == "nearest_code"),

    # runs / show ---------------------------------------------------------------------------------------------
    ("runs-missing-folder", _cmd("runs", lambda c: c.tmp / "none"), ERR, "no such folder"),
    ("runs-file", _cmd("runs", lambda c: c.file("f", "x")), ERR, "not a folder"),
    ("runs-kind-unknown", _cmd("runs", lambda c: c.shared / "runs", "--kind", "zzz"), ERR, "kind"),
    ("runs-malformed-listed", lambda c: ["runs", "--json", str(_with_malformed(c))], OK,
     lambda c, out, err: {r["name"]: r["status"] for r in json.loads(out)["runs"]} == {
         "vq": "done", "bad": "corrupt", "fifo": "corrupt", "alias": "corrupt", "nokind": "corrupt"}),
    ("runs-empty-folder", lambda c: ["runs", "--json", str(c.folder("nothing"))], OK,
     lambda c, out, err: json.loads(out)["runs"] == []),
    ("runs-kind-filter", _cmd("runs", lambda c: c.shared / "runs", "--kind", "visual-vq", "--json"), OK,
     lambda c, out, err: [r["name"] for r in json.loads(out)["runs"]] == ["vq"]),
    ("runs-binary-log", lambda c: ["runs", "--json", str(c.replace("vq", "log.jsonl", GARBAGE).parent)], OK,
     lambda c, out, err: json.loads(out)["runs"][0]["status"] == "done"),
    ("show-missing", _cmd("show", lambda c: c.tmp / "none"), ERR, None),
    ("show-file", _cmd("show", lambda c: c.file("f", "x")), ERR, None),
    ("show-empty-dir", _cmd("show", lambda c: c.folder("e")), ERR, "not a run folder"),
    ("show-malformed-started", _cmd("show", lambda c: c.edit_info("vq", started=5)), ERR, "started"),
    ("show-corrupt-json", _cmd("show", lambda c: c.replace("vq", "run.json", "{")), ERR, "corrupt JSON"),
    ("show-run-json-binary", _cmd("show", lambda c: c.replace("vq", "run.json", GARBAGE)), ERR, None),
    ("show-metrics-list", _cmd("show", lambda c: c.replace("vq", "metrics.json", "[1, 2]")), ERR, "metrics"),
    ("show-run-json-fifo", lambda c: ["show", str(_fifo_run(c))], ERR, "regular file"),
    ("show-run-json-symlink", lambda c: ["show", str(_symlinked_run_json(c))], ERR, "symlink"),
    ("show-ok", _cmd("show", lambda c: c.vq, "--json"), OK, lambda c, out, err: json.loads(out)["status"] == "done"),

    # dashboard (validation only) -------------------------------------------------------------------------------
    ("dash-port-0", _cmd("dashboard", lambda c: c.tmp, "--port", "0"), ERR, "port"),
    ("dash-port-huge", _cmd("dashboard", lambda c: c.tmp, "--port", "70000"), ERR, "port"),
    ("dash-port-neg", _cmd("dashboard", lambda c: c.tmp, "--port", "-1"), ERR, "port"),
    ("dash-runs-dir-file", _cmd("dashboard", lambda c: c.file("f", "x"), "--dry-run"), ERR, "not a folder"),
    ("dash-runs-dir-fifo", _cmd("dashboard", lambda c: c.fifo("rf"), "--dry-run"), ERR, "not a folder"),
    ("dash-port-in-use", lambda c: ["dashboard", str(c.tmp), "--port", str(_busy_port(c))], ERR, "in use"),
    ("dash-dry-port-huge", _cmd("dashboard", lambda c: c.tmp, "--port", "70000", "--dry-run"), ERR, "port"),
    ("dash-dry-port-0", _cmd("dashboard", lambda c: c.tmp, "--port", "0", "--dry-run"), ERR, "port"),
    ("dash-dry-port-neg", _cmd("dashboard", lambda c: c.tmp, "--port", "-1", "--dry-run"), ERR, "port"),
    ("dash-runs-dir-missing", _cmd("dashboard", lambda c: c.tmp / "nonexist", "--dry-run"), ERR, "no such folder"),
    ("dash-dry-run-ok", _cmd("dashboard", lambda c: c.tmp, "--port", "8765", "--dry-run"), OK,
     lambda c, out, err: "streamlit" in out and "--server.port 8765" in out),

    # outputs never go inside the --run folder (its run.json was replaced by an npz) ----------------------------
    ("ta-out-run-json", _tok(lambda c: c.copy("codec") / "run.json", lambda c: c.tone, lambda c: c.copy("codec")),
     ERR, "inside the run folder"),
    ("ta-out-run-artifact", _tok(lambda c: c.copy("codec") / "artifacts" / "new.npz", lambda c: c.tone,
                                 lambda c: c.copy("codec")), ERR, "inside the run folder"),
    ("dt-out-run-json", _detok(lambda c: c.tokens_file, lambda c: c.copy("codec") / "run.json",
                               lambda c: c.copy("codec")), ERR, "inside the run folder"),
    ("dt-out-run-log", _detok(lambda c: c.tokens_file, lambda c: c.copy("codec") / "log.jsonl",
                              lambda c: c.copy("codec")), ERR, "inside the run folder"),
]


def _fifo_checkpoint(c: Ctx) -> Path:
    run = c.interrupted("vq")
    ckpt = run / "artifacts" / "checkpoints" / "step_00000002.safetensors"
    ckpt.unlink()
    os.mkfifo(ckpt)  # never opened: checkpoints are regular files only, and never written through a FIFO
    return run


def _npy_as_npz(c: Ctx) -> Path:
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 8, 8), dtype=np.uint8))
    return c.file("arr.npz", buf.getvalue())


def _npz(c: Ctx, **arrays) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return c.file("data.npz", buf.getvalue())


def _with_malformed(c: Ctx) -> Path:
    root = c.tmp / "listing"
    shutil.copytree(c.vq, root / "vq", symlinks=True)
    (root / "bad").mkdir()
    (root / "bad" / "run.json").write_text('{"kind": "text-bpe", "started": 5}')
    (root / "fifo").mkdir()
    os.mkfifo(root / "fifo" / "run.json")
    (root / "nokind").mkdir()
    (root / "nokind" / "run.json").write_text("{}")
    os.symlink(root / "vq", root / "alias")
    return root


def _fifo_run(c: Ctx) -> Path:
    run = c.copy("vq")
    (run / "run.json").unlink()
    os.mkfifo(run / "run.json")
    return run


def _symlinked_run_json(c: Ctx) -> Path:
    run = c.copy("vq")
    (run / "run.json").unlink()
    os.symlink(c.vq / "run.json", run / "run.json")
    return run


def _busy_port(c: Ctx) -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    c.busy = sock  # closed after the case
    return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------- the checks
def _snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for p in root.rglob("*"):
        try:
            st = os.lstat(p)
        except OSError:
            continue
        out[str(p)] = (stat.S_IFMT(st.st_mode), st.st_size if stat.S_ISREG(st.st_mode) else 0, st.st_mtime_ns)
    return out


def _left_behind(root: Path) -> list[str]:
    """Temporary files, locks and runs left `running` anywhere under `root`."""
    bad = []
    for p in root.rglob("*"):
        if p.name.endswith(".tmp") and p.name.startswith("."):
            bad.append(f"temporary {p}")
        if p.name == "run.lock":
            bad.append(f"lock {p}")
        if p.name == "run.json" and p.is_file() and not p.is_symlink():
            try:
                if json.loads(p.read_text()).get("status") == "running":
                    bad.append(f"running {p}")
            except (ValueError, AttributeError, UnicodeDecodeError):
                pass
    return bad


def test_enough_cases():
    assert len(CASES) >= 150 and len({c[0] for c in CASES}) == len(CASES)
    for prefix in ("vq-", "evq-", "fa-", "ea-", "ta-", "dt-", "bl-", "runs-", "show-", "dash-"):
        assert sum(c[0].startswith(prefix) for c in CASES) >= 6, prefix


@pytest.mark.parametrize("case_id,argv_of,expect,check", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case_id, argv_of, expect, check, shared, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = Ctx(shared, tmp_path / "case")
    ctx.tmp.mkdir()
    shared_before = _snapshot(shared)
    argv = argv_of(ctx)
    before = _snapshot(ctx.tmp)
    capsys.readouterr()
    try:
        rc = main(argv)
    finally:
        if getattr(ctx, "busy", None) is not None:
            ctx.busy.close()
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and "internal error" not in err, err
    if expect == ERR:
        assert rc == 2, (rc, out[-500:], err)
        assert len(lines) == 1 and lines[0].startswith("tokbench: error: "), err
        if check:
            assert check in lines[0], lines[0]
        # a failed command creates no output and changes no existing file's kind
        after = _snapshot(ctx.tmp)
        for path, (kind, _, _) in before.items():
            if path in after:
                assert after[path][0] == kind, f"{path} changed kind"
        for name in ("out.npz", "out.wav"):
            assert not (ctx.tmp / name).exists(), f"a failed command wrote {name}"
    elif expect == USAGE:
        assert rc == 2 and lines and "rror" in err, (rc, err)
    else:
        assert rc == 0, (rc, out[-500:], err)
        assert check(ctx, out, err), (out[-800:], err)
    assert _left_behind(ctx.tmp) == [] and _left_behind(shared) == []
    assert _snapshot(shared) == shared_before, "a case modified the shared runs"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)


# ---------------------------------------------------------------------------------------------- named regressions
def test_class04_tokenize_audio_never_replaces_a_device_or_its_input(shared, tmp_path, capsys):
    """The reported case: `tokenize-audio ... -o /dev/full` replaced the device node with a zip file, and `-o`
    equal to the input overwrote it. Both are refused before any work; /dev/full stays a device."""
    src = tmp_path / "in.wav"
    src.write_bytes((shared / "tone.wav").read_bytes())
    for out, why in (("/dev/full", "character device"), (str(src), "also the input")):
        rc = main(["tokenize-audio", str(src), "--run", str(shared / "runs" / "codec"), "-o", out])
        assert rc == 2 and why in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert src.read_bytes() == (shared / "tone.wav").read_bytes()


def test_class10_float_token_codes_are_refused_not_truncated(shared, tmp_path, capsys):
    ctx = Ctx(shared, tmp_path)
    tokens = ctx.tokens(codes=_codes(ctx).astype(np.float64) + 0.7)
    rc = main(["detokenize", str(tokens), "--run", str(ctx.codec), "-o", str(tmp_path / "o.wav")])
    assert rc == 2 and "codes must be integers" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()


def test_class10_truncated_wav_trains_with_a_warning(tmp_path, capsys):
    """A WAV cut short trains on what it holds, and says so on stderr and in run.json."""
    ctx = Ctx(tmp_path, tmp_path)
    cut = ctx.truncated_wav()
    rc = main(["fit-audio", "-d", str(cut), "--steps", "1", *AUDIO_TINY, "--runs-dir", str(tmp_path / "runs"),
               "--name", "cut"])
    err = capsys.readouterr().err
    assert rc == 0 and "truncated WAV" in err and "declares 32,000 bytes" in err
    info = json.loads((tmp_path / "runs" / "cut" / "run.json").read_text())
    assert any("truncated WAV" in w for w in info["warnings"])


def test_class10_float_wav_far_past_full_scale_is_refused_and_overs_warn(tmp_path, capsys):
    ctx = Ctx(tmp_path, tmp_path)
    loud = ctx.wav("loud.wav", 1e6 * np.sin(np.arange(8000) / 7), "FLOAT")
    rc = main(["fit-audio", "-d", str(loud), "--steps", "1", *AUDIO_TINY, "--runs-dir", str(tmp_path / "runs")])
    assert rc == 2 and "far past full scale" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
    hot = ctx.wav("hot.wav", 1.5 * np.sin(np.arange(8000) / 7), "FLOAT")  # slightly over: trains, but warns
    rc = main(["fit-audio", "-d", str(hot), "--steps", "1", *AUDIO_TINY, "--runs-dir", str(tmp_path / "runs")])
    assert rc == 0 and "look clipped" in capsys.readouterr().err


class _FullStdout(io.StringIO):
    """A standard output on a full disk, like /dev/full: every write fails with ENOSPC."""

    def write(self, text):
        raise OSError(28, "No space left on device")

    def flush(self):
        pass


class _ClosedPipeStdout(_FullStdout):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("argv_of", [lambda s: ["runs", str(s / "runs"), "--json"],
                                     lambda s: ["runs", str(s / "runs")],
                                     lambda s: ["show", str(s / "runs" / "vq"), "--json"]],
                         ids=["runs-json", "runs-table", "show-json"])
def test_stdout_full_is_one_line_and_a_closed_pipe_is_quiet(argv_of, shared, capsys, monkeypatch):
    """`tokbench runs >/dev/full` was an "internal error: OSError [Errno 28]" with exit 1."""
    monkeypatch.setattr("sys.stdout", _FullStdout())
    rc = main(argv_of(shared))
    err = capsys.readouterr().err
    assert rc == 2 and err.strip() == "tokbench: error: cannot write to standard output (No space left on device)"
    if "--json" in argv_of(shared):  # (rich handles a closed pipe itself: quiet, exit 1, console muted for good)
        monkeypatch.setattr("sys.stdout", _ClosedPipeStdout())
        rc = main(argv_of(shared))
        assert rc == 0 and capsys.readouterr().err == ""


def test_stdout_on_dev_full_in_a_real_process(shared, tmp_path):
    import subprocess
    import sys

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-c", "from tokbench.cli import run; run()", "runs",
                               str(shared / "runs"), "--json"], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "tokbench: error: cannot write to standard output (No space left on device)"], proc.stderr


def test_export_outputs_are_real_new_folders_and_inspect_refuses_a_fifo(tiny_hf_run, tmp_path, capsys):
    """`export -o LINK` wrote through a symlink to an empty folder; `-o /dev/nonexist/x` created folders under
    /dev; `inspect -f FIFO` blocked forever. Each is now one error line, exit 2, with nothing created."""
    target = tmp_path / "empty"
    target.mkdir()
    os.symlink(target, tmp_path / "link")
    (tmp_path / "plain").write_text("x")
    cases = [(tmp_path / "link", "symlink"), (tmp_path / "missing" / "deeper" / "x", "no such folder"),
             (tmp_path / "plain" / "x", "no such folder")]
    for out, phrase in cases:
        rc = main(["export", str(tiny_hf_run), "-o", str(out), "--format", "tiktoken"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and err[0].startswith("tokbench: error: ") and phrase in err[0], err
    assert list(target.iterdir()) == [] and not (tmp_path / "missing").exists()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rc = main(["inspect", "-f", str(fifo), "-t", str(tiny_hf_run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not a regular file" in err[0], err


@pytest.mark.parametrize("command,option", [("eval-audio", "--max-clips"), ("tokenize-audio", "--n-q"),
                                            ("detokenize", "--n-q")])
def test_help_states_the_default(command, option, capsys, monkeypatch):
    """Options whose default is "all" said nothing about it in -h."""
    monkeypatch.setenv("COLUMNS", "200")
    assert main([command, "-h"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if option in ln)
    assert "default all" in line, line
