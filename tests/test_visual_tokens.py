"""tokenize-image / detokenize-image end to end on tiny (untrained) runs of every token layout: ids, bits, and a
flexible run's prefixes; the token file's checks; and every bad input as one line with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tokbench.cli import main
from tokbench.runs import Run
from tokbench.sources.images import read_image_files
from tokbench.visual.model_io import build_model, save_model
from tokbench.visual.tokens import FORMAT, read_image_tokens

TINY = {
    "grid2d": {"width": 8, "codebook_size": 16, "code_dim": 4},
    "flexible": {"width": 16, "depth": 1, "heads": 2, "num_tokens": 6, "fsq_levels": [5, 3], "code_dim": 2},
    "binary": {"width": 8, "bits": 6},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """family -> a visual-vq run folder holding an untrained tiny model of that family (28x28 grey)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for family, config in TINY.items():
        torch.manual_seed(0)
        with Run.create(root, "visual-vq", {"family": family}, name=family) as run:
            save_model(run.artifacts, build_model(family, config))
        out[family] = run.path
    return out


@pytest.fixture()
def photos(tmp_path):
    """A folder of three RGB images of different sizes (they are fitted to 28x28 grey) and one non-image."""
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a.png": (40, 30), "b.jpg": (28, 28), "sub/c.png": (60, 80)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def _cli(capsys, *args):
    rc = main([*map(str, args), "--json"])
    captured = capsys.readouterr()
    return rc, (json.loads(captured.out) if rc == 0 else captured.err)


@pytest.mark.parametrize("family", ["grid2d", "binary"])
def test_round_trip_one_image_matches_the_model(family, runs, photos, tmp_path, capsys):
    from tokbench.visual.model_io import load_model

    rc, summary = _cli(capsys, "tokenize-image", photos / "a.png", "--run", runs[family], "--out", tmp_path / "t.npz")
    assert rc == 0, summary
    model = load_model(runs[family])
    assert summary["images"] == 1 and summary["tokens_per_image"] == model.tokens_per_image
    data = read_image_tokens(tmp_path / "t.npz")
    images, _ = read_image_files(photos / "a.png", 28, 1)
    expected = model.encode(torch.from_numpy(images))
    assert np.array_equal(data["tokens"], expected.numpy())
    assert data["tokens"].dtype.kind == ("b" if family == "binary" else "i")
    rc, summary = _cli(capsys, "detokenize-image", tmp_path / "t.npz", "--run", runs[family],
                       "--out", tmp_path / "a.png")
    assert rc == 0, summary
    png = np.asarray(Image.open(tmp_path / "a.png"), dtype=np.float32) / 255
    want = model.decode(expected)[0, 0].numpy()
    assert png.shape == (28, 28) and np.abs(png - want).max() <= 0.5 / 255 + 1e-6


def test_folder_round_trip_writes_one_png_per_image(runs, photos, tmp_path, capsys):
    rc, summary = _cli(capsys, "tokenize-image", photos, "--run", runs["grid2d"], "--out", tmp_path / "t.npz")
    assert rc == 0 and summary["images"] == 3  # notes.txt is skipped
    assert [str(n) for n in read_image_tokens(tmp_path / "t.npz")["names"]] == ["a.png", "b.jpg", "sub/c.png"]
    rc, summary = _cli(capsys, "detokenize-image", tmp_path / "t.npz", "--run", runs["grid2d"],
                       "--out", tmp_path / "out")
    assert rc == 0, summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["00000_a.png", "00001_b.png", "00002_c.png"]
    assert not list(tmp_path.glob("**/*.tmp*"))


def test_flexible_budgets(runs, photos, tmp_path, capsys):
    from tokbench.visual.model_io import load_model

    model = load_model(runs["flexible"])
    rc, summary = _cli(capsys, "tokenize-image", photos / "b.jpg", "--run", runs["flexible"],
                       "--out", tmp_path / "t.npz", "--budget", 4)
    assert rc == 0 and summary["tokens_per_image"] == 4
    tokens = read_image_tokens(tmp_path / "t.npz")["tokens"]
    assert tokens.shape == (1, 4)
    for budget in (None, 2):
        out = tmp_path / f"b{budget}.png"
        extra = () if budget is None else ("--budget", budget)
        rc, summary = _cli(capsys, "detokenize-image", tmp_path / "t.npz", "--run", runs["flexible"], "--out", out,
                           *extra)
        assert rc == 0 and summary["tokens_per_image"] == (budget or 4)
        want = model.decode(torch.from_numpy(tokens), keep=budget or 4)[0, 0].numpy()
        png = np.asarray(Image.open(out), dtype=np.float32) / 255
        assert np.abs(png - want).max() <= 0.5 / 255 + 1e-6
    full, short = (np.asarray(Image.open(tmp_path / name)) for name in ("bNone.png", "b2.png"))
    assert not np.array_equal(full, short)


def _token_file(path, **changes):
    base = {"tokens": np.zeros((1, 49), np.int64), "format": np.array(FORMAT), "family": np.array("grid2d"),
            "image_shape": np.array([1, 28, 28]), "budget": np.array(49), "names": np.array(["x.png"]),
            "model_sha256": np.array("0" * 64)}
    base.update(changes)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


BAD_TOKENIZE = [
    ("missing source", lambda d: (d["tmp"] / "nope.png", "grid2d", ()), "no such file"),
    ("not an image", lambda d: (d["photos"] / "notes.txt", "grid2d", ()), "not a readable image"),
    ("empty folder", lambda d: (d["empty"], "grid2d", ()), "no readable images"),
    ("budget on grid2d", lambda d: (d["photos"], "grid2d", ("--budget", 3)), "only flexible"),
    ("budget too large", lambda d: (d["photos"], "flexible", ("--budget", 7)), "expected 1..6"),
    ("budget zero", lambda d: (d["photos"], "flexible", ("--budget", 0)), "expected 1..6"),
    ("not a run", lambda d: (d["photos"], None, ()), "model.json"),
]


@pytest.mark.parametrize("label,case,message", BAD_TOKENIZE, ids=[c[0] for c in BAD_TOKENIZE])
def test_tokenize_bad_inputs_are_one_line(label, case, message, runs, photos, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    source, family, extra = case({"tmp": tmp_path, "photos": photos, "empty": empty})
    run = runs[family] if family else tmp_path
    rc, err = _cli(capsys, "tokenize-image", source, "--run", run, "--out", tmp_path / "t.npz", *extra)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "t.npz").exists()


def test_tokenize_refuses_a_folder_as_output(runs, photos, tmp_path, capsys):
    rc, err = _cli(capsys, "tokenize-image", photos, "--run", runs["grid2d"], "--out", tmp_path)
    assert rc == 2 and len(err.strip().splitlines()) == 1


BAD_TOKENS = [
    ("other model's sha", {}, "different model"),
    ("float tokens", {"tokens": np.zeros((1, 49), np.float32)}, "integers or bits"),
    ("wrong format", {"format": np.array("audio")}, "not a tokbench image token file"),
    ("missing names", {"names": None}, "missing names"),
    ("budget mismatch", {"budget": np.array(10)}, "budget does not match"),
    ("bad shape", {"tokens": np.zeros((1, 0), np.int64), "budget": np.array(0)}, "N, T >= 1"),
]


@pytest.mark.parametrize("label,changes,message", BAD_TOKENS, ids=[c[0] for c in BAD_TOKENS])
def test_detokenize_bad_token_files_are_one_line(label, changes, message, runs, tmp_path, capsys):
    path = _token_file(tmp_path / "t.npz", **changes)
    rc, err = _cli(capsys, "detokenize-image", path, "--run", runs["grid2d"], "--out", tmp_path / "o.png")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "o.png").exists()


def test_detokenize_checks_the_tokens_fit_the_model(runs, tmp_path, capsys):
    from tokbench.visual.tokens import weights_sha256

    sha = np.array(weights_sha256(runs["grid2d"]))
    cases = [({"tokens": np.full((1, 49), 16, np.int64)}, "0..15"),
             ({"family": np.array("latent1d")}, "not of this grid2d run"),
             ({"tokens": np.zeros((2, 49), np.int64), "names": np.array(["a", "b"])}, "give a folder")]
    for changes, message in cases:
        path = _token_file(tmp_path / "t.npz", model_sha256=sha, **changes)
        rc, err = _cli(capsys, "detokenize-image", path, "--run", runs["grid2d"], "--out", tmp_path / "o.png")
        assert rc == 2 and message in err, err
    path = _token_file(tmp_path / "t.npz", model_sha256=sha)
    rc, err = _cli(capsys, "detokenize-image", path, "--run", runs["grid2d"], "--out", tmp_path / "o.png",
                   "--budget", 10)
    assert rc == 2 and "only flexible" in err


def test_outputs_never_go_inside_the_run_folder(runs, photos, tmp_path, capsys):
    """tokenize-image / detokenize-image `-o RUN/run.json` replaced the run's run.json with an npz (data loss)."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["grid2d"], run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for target in (run / "run.json", run / "artifacts" / "x.npz", run / "new.npz"):
        rc, err = _cli(capsys, "tokenize-image", photos / "a.png", "--run", run, "--out", target)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "inside the run folder" in err, err
    rc, _ = _cli(capsys, "tokenize-image", photos / "a.png", "--run", run, "--out", tmp_path / "t.npz")
    assert rc == 0
    for target in (run / "x.png", run / "artifacts" / "x.png"):
        rc, err = _cli(capsys, "detokenize-image", tmp_path / "t.npz", "--run", run, "--out", target)
        assert rc == 2 and "inside the run folder" in err, err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
