"""builtin:english-large: CPython's and the Linux kernel's documentation sources as Debian ships them (issue 13).

Fast: only a slice of the documents is read; the full build (about 36 MB) is left to the benchmarks."""

from __future__ import annotations

import itertools

import pytest

from tokbench.errors import TokbenchError
from tokbench.sources import text as sources

_FILES = sources.english_large_files()
needs_docs = pytest.mark.skipif(not _FILES, reason="builtin:english-large needs the Debian packages python3-doc and "
                                                   "linux-doc (`make system-deps` installs them)")


@needs_docs
def test_sources_are_python_and_kernel_docs_without_devicetree() -> None:
    names = [str(p) for p in _FILES]
    assert any("/html/_sources/" in n for n in names) and any("/Documentation/" in n for n in names)
    assert not any("/devicetree/" in n for n in names)
    assert len(names) == len(set(p.resolve() for p in _FILES))  # python3.X-doc's html link counted once
    assert sum(p.stat().st_size for p in _FILES) > 15_000_000  # gzipped kernel docs: the text is ~36 MB


@needs_docs
def test_documents_are_text_with_the_fixed_split() -> None:
    docs = list(itertools.islice(sources.english_large_documents(), 300))
    assert all(isinstance(d, str) and d for d in docs)
    assert sum(len(d) for d in docs) > 300_000
    held = [d for d in docs if sources.doc_is_heldout(d.strip())]
    assert 0.02 < len(held) / len(docs) < 0.25  # the same ~10% content-hash rule as every built-in
    assert "english-large" in sources.builtin_names()


def test_missing_packages_name_them(monkeypatch) -> None:
    monkeypatch.setattr(sources, "english_large_files", lambda root=None: [])
    with pytest.raises(TokbenchError, match="python3-doc and linux-doc"):
        next(sources.english_large_documents())
