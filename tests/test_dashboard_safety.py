"""The dashboard under hostile run folders (issue 15, classes 8 and 15): a malformed run.json is flagged and
every page still renders; the dashboard opens only regular files under the runs folder: no tokenizer path a
run.json names outside it (`hf:/etc/...`), no symlinked artifacts, and a symlinked or non-WAV original_0.wav
is a warning on the Audio page, not a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tokbench  # noqa: E402
from test_dashboard_fixtures import make_audio_run, make_bench_run  # noqa: E402
from tokbench.runs import Run  # noqa: E402

APP = Path(__file__).resolve().parent.parent / "apps" / "dashboard.py"
PAGES = tuple(f"views/{p.name}" for p in sorted((APP.parent / "views").glob("*.py")))  # every page, new ones too


@pytest.fixture
def hostile(tmp_path) -> Path:
    root = tmp_path / "runs"
    make_audio_run(root)
    make_bench_run(root)
    secret = tmp_path / "secret.txt"
    secret.write_text("not audio, not a tokenizer\n")
    wav = root / "codec-rvq" / "artifacts" / "eval" / "original_0.wav"
    wav.unlink()
    os.symlink(secret, wav)  # class 15: a symlinked original
    (root / "codec-rvq" / "artifacts" / "eval" / "recon_q1_0.wav").write_text("RIFF but not really")
    (root / "malformed").mkdir()  # class 8
    (root / "malformed" / "run.json").write_text('{"kind": "text-bpe", "started": 5}')
    with Run.create(root, "text-eval", {"tokenizers": [f"hf:{secret}", "hf:/etc/passwd", f"spm:{secret}",
                                                       "tiktoken:/etc/passwd#gpt2", str(tmp_path)]}, name="ev"):
        pass
    with Run.create(root, "text-bpe", {}, name="linked-bpe") as run:
        os.symlink(secret, run.artifacts / "tokenizer.json")
    return root


def test_class08_class15_every_page_renders_and_nothing_outside_is_opened(monkeypatch, hostile, tmp_path):
    opened: list[str] = []

    def spy(spec, *a, **k):
        opened.append(spec)
        raise tokbench.TokbenchError(f"{spec}: refused by the test")

    monkeypatch.setattr(tokbench, "load_tokenizer", spy)
    monkeypatch.setenv("TOKBENCH_RUNS_DIR", str(hostile))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page == "views/runs.py":
            text = " ".join(t.value.to_string() for t in at.table)
            assert "malformed" in text and "started is int" in text
        if page == "views/audio.py":
            warnings = " ".join(w.value for w in at.warning)
            assert "original_0.wav" in warnings or "Clip" not in str(at)  # a warning, never a crash
            assert "recon_q1_0.wav" not in warnings or "not a readable WAV" in warnings
    assert opened == [], f"the dashboard opened {opened}"
    outside = tmp_path / "secret.txt"
    assert outside.read_text() == "not audio, not a tokenizer\n"


def test_class15_media_read_wav_refuses_symlinks_and_text(tmp_path):
    import sys

    sys.path.insert(0, str(APP.parent))
    from tbdash import media

    text = tmp_path / "t.wav"
    text.write_text("hello")
    link = tmp_path / "l.wav"
    os.symlink(text, link)
    for bad in (text, link, tmp_path):
        with pytest.raises(ValueError):
            media.read_wav(bad)
