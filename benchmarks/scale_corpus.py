"""Benchmark corpora of a given size made only from text already on this machine (no network).

In order, deduplicated by content, valid UTF-8 only: the documentation Debian packages ship under
/usr/share/doc (plain and gzipped text, Markdown, reStructuredText, HTML as it is), then CPython's standard library
sources, then the Python sources of the installed site-packages. The first `size` bytes (cut at a line end) form
the corpus, so the 8 MB corpus is a prefix of the 32 MB one, which is a prefix of the 128 MB one.
"""

from __future__ import annotations

import gzip
import hashlib
import sysconfig
from collections.abc import Iterator
from pathlib import Path

DOC_ROOT = Path("/usr/share/doc")
_DOC_SUFFIXES = {".txt", ".md", ".rst", ".html", ".gz", ""}


def _doc_files() -> Iterator[Path]:
    for path in sorted(DOC_ROOT.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.suffix in _DOC_SUFFIXES:
            yield path


def _code_files() -> Iterator[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    for root in (stdlib, site):
        for path in sorted(root.rglob("*.py")):
            if root == stdlib and "site-packages" in path.parts:
                continue
            yield path


def _texts() -> Iterator[str]:
    seen: set[bytes] = set()
    for path in [*_doc_files(), *_code_files()]:
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
        digest = hashlib.sha256(raw).digest()
        if digest in seen or not text.strip():
            continue
        seen.add(digest)
        yield text if text.endswith("\n") else text + "\n"


def make_corpus(path: Path, size_bytes: int) -> Path:
    """Write (once) a corpus of about `size_bytes` UTF-8 bytes at `path` and return it."""
    if path.exists() and path.stat().st_size >= size_bytes * 0.99:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    written = 0
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        for text in _texts():
            data = text.encode("utf-8")
            if written + len(data) > size_bytes:
                cut = data[: size_bytes - written]
                cut = cut[: cut.rfind(b"\n") + 1]
                out.write(cut.decode("utf-8", errors="ignore"))
                written += len(cut)
                break
            out.write(text)
            written += len(data)
    if written < size_bytes * 0.99:
        tmp.unlink()
        raise SystemExit(f"only {written / 1e6:.1f} MB of local text found, {size_bytes / 1e6:.0f} MB wanted")
    tmp.replace(path)
    return path
