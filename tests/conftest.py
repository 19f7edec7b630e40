"""Shared fixtures: small real text cut from the built-in corpora, built once per session."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

# Built-in data is built once into a cache shared by the whole test session (and later sessions).
os.environ.setdefault("TOKBENCH_CACHE", os.path.join(tempfile.gettempdir(), "tokbench-test-cache"))
os.environ["TOKBENCH_PROGRESS"] = "0"

HARD_STRINGS = [
    "",
    " ",
    "Hello, world!",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand CRLF",
    "Ünïcödé: straße, naïve café, Ωμέγα, Привет, 你好世界, こんにちは, 안녕하세요",
    "emoji 😀👩‍👩‍👧‍👦🏳️‍🌈 and combining e\u0301",
    "numbers 1234567890 3.14159 -42 1e-9 1,234,567.89",
    "zero width\u200bjoiner\u200d and NBSP\u00a0here",
    "<|endoftext|> is a special token string",
    "\x00\x01 control chars \x7f",
    "RTL: مرحبا بالعالم שלום",
]


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread, and spin-waiting threads crawl when other jobs share the cores."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def english_train_path() -> Path:
    from tokbench.sources.text import builtin_path

    return builtin_path("english", "train")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, english_train_path) -> Path:
    """About 300 KB of real English prose: enough to train a small BPE in well under a second."""
    text = english_train_path.read_text(encoding="utf-8")[:300_000]
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_hf_run(tmp_path_factory, small_corpus) -> Path:
    """A real text-bpe run folder (HF backend, vocab 600) trained on `small_corpus`."""
    from tokbench.text.bpe import train_bpe

    runs = tmp_path_factory.mktemp("runs")
    return train_bpe([str(small_corpus)], vocab_size=600, runs_dir=runs, name="tiny-hf").run_dir


@pytest.fixture(scope="session")
def tiny_spm_run(tmp_path_factory, small_corpus) -> Path:
    from tokbench.text.bpe import train_bpe

    runs = tmp_path_factory.mktemp("runs")
    return train_bpe([str(small_corpus)], vocab_size=600, backend="spm", runs_dir=runs, name="tiny-spm").run_dir


@pytest.fixture(scope="session")
def dashboard_runs(tmp_path_factory) -> tuple[Path, dict]:
    """Every kind of run folder, made once per session by the library's own trainers and evaluators
    (tests/test_dashboard_fixtures.py). Read-only: the dashboard never writes run folders."""
    from test_dashboard_fixtures import build_all

    root = tmp_path_factory.mktemp("dash") / "runs"
    return root, build_all(root, root.parent)


#: signals whose handlers a test must leave as it found them (a leaked SIG_IGN for SIGINT is inherited by every
#: later subprocess and makes Ctrl-C tests pass or fail by test order)
_GUARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """Fail the test that changes a process-wide signal handler without restoring it (and restore it)."""
    before = {sig: signal.getsignal(sig) for sig in _GUARDED_SIGNALS}
    yield
    changed = {sig: signal.getsignal(sig) for sig in _GUARDED_SIGNALS if signal.getsignal(sig) != before[sig]}
    for sig in changed:
        signal.signal(sig, before[sig])
    assert not changed, f"the test left signal handlers changed: {changed}"
