"""Where text comes from: files, globs, directories, stdin (`-`) and `builtin:NAME` corpora.

Everything streams line by line (a multi-GB corpus is never read into memory) and knows nothing of
tokenizers. Built-in corpora are made once from what installed packages ship (no network), cached under
`$TOKBENCH_CACHE` (default `~/.cache/tokbench`), and carry a fixed train/held-out split: a document goes
to held-out when the first byte of the sha256 of its text is below 26 (about 10%). User corpora are split
by line: every tenth line (line numbers 10, 20, ...) is held out.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tokbench.errors import TokbenchError
from tokbench.runs import sha256_file

SPLITS = ("all", "train", "heldout")
ERROR_MODES = ("strict", "replace", "skip")
BUILTIN_PREFIX = "builtin:"
_HELDOUT_EVERY = 10
_DOC_SEPARATOR = "\n\n"


def cache_dir() -> Path:
    """Where built-in data is built and kept."""
    return Path(os.environ.get("TOKBENCH_CACHE") or Path.home() / ".cache" / "tokbench")


def doc_is_heldout(doc: str) -> bool:
    """The fixed split of built-in corpora: about 10% of documents, chosen by content hash."""
    return hashlib.sha256(doc.encode("utf-8")).digest()[0] < 26


# ---------------------------------------------------------------------------------------------- built-ins
def _stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


_NOT_STDLIB = {"site-packages", "dist-packages", "__pycache__", "test", "tests"}
_NOT_CODE = _NOT_STDLIB | {"idlelib", "lib2to3", "turtledemo", "ensurepip", "tkinter", "pydoc_data"}


def _stdlib_sources(skip: set[str] = _NOT_STDLIB) -> list[Path]:
    root = _stdlib_dir()
    out = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p in skip or p.startswith("config-") or p.startswith("test_") for p in parts):
            continue
        out.append(path)
    return out


def _docstrings(source: str) -> Iterator[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc and len(doc) >= 40:
                yield doc


def english_documents() -> Iterator[str]:
    """CPython's pydoc topics (the language reference) and the standard library's docstrings."""
    import pydoc_data.topics as topics

    for key in sorted(topics.topics):
        yield topics.topics[key].strip()
    seen = set()
    for path in _stdlib_sources():
        for doc in _docstrings(path.read_text(encoding="utf-8", errors="replace")):
            if doc not in seen:
                seen.add(doc)
                yield doc


def code_documents(max_bytes: int = 6_000_000) -> Iterator[str]:
    """The standard library's own Python sources (tests and GUI demos left out), up to `max_bytes`."""
    total = 0
    for path in _stdlib_sources(_NOT_CODE):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if not text:
            continue
        total += len(text.encode())
        if total > max_bytes:
            return
        yield text


def _license_files() -> list[Path]:
    files = [p for p in sorted(Path("/usr/share/common-licenses").glob("*")) if p.is_file()]
    site_dirs = {Path(p) for p in sys.path if p and Path(p).is_dir() and ("site-packages" in p or "dist-packages" in p)}
    for site in sorted(site_dirs):
        for dist in sorted(site.glob("*.dist-info")):
            for cand in sorted(dist.rglob("*")):
                name = cand.name.upper()
                if cand.is_file() and (name.startswith(("LICEN", "COPYING", "NOTICE")) or "licenses" in cand.parts):
                    files.append(cand)
    return files


def legal_documents() -> Iterator[str]:
    """License texts: Debian's common licenses and installed distributions' license files, deduplicated."""
    seen = set()
    for path in _license_files():
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (UnicodeDecodeError, OSError):
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()
        if len(text) < 200 or digest in seen:
            continue
        seen.add(digest)
        yield text


#: name -> (document generator, one-line description). Other modules add their own built-ins here.
BUILTIN_TEXT: dict[str, tuple[Callable[[], Iterable[str]], str]] = {
    "english": (english_documents, "English prose: CPython's pydoc topics and the standard library's docstrings"),
    "code": (code_documents, "Python source code: the standard library"),
    "legal": (legal_documents, "license texts from /usr/share/common-licenses and installed packages"),
}


def register_builtin(name: str, documents: Callable[[], Iterable[str]], description: str) -> None:
    """Make `builtin:name` available (used by modules that generate their own corpora)."""
    BUILTIN_TEXT[name] = (documents, description)


def _ensure_registered() -> None:
    # Built-ins defined in other source modules register themselves on import.
    import importlib

    for module in ("tokbench.sources.numbers",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def builtin_names() -> list[str]:
    _ensure_registered()
    return sorted(BUILTIN_TEXT)


def builtin_path(name: str, split: str) -> Path:
    """The cached file holding one split of a built-in corpus, building it on first use."""
    _ensure_registered()
    if name not in BUILTIN_TEXT:
        raise TokbenchError(f"unknown built-in corpus {name!r} (available: {', '.join(sorted(BUILTIN_TEXT))})")
    if split not in ("train", "heldout"):
        raise ValueError(split)
    folder = cache_dir() / "text" / f"py{sys.version_info.major}{sys.version_info.minor}"
    target = folder / f"{name}.{split}.txt"
    if not target.exists():
        _build_builtin(name, folder)
    return target


def _build_builtin(name: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    documents, _ = BUILTIN_TEXT[name]
    outs = {}
    tmps = {}
    for split in ("train", "heldout"):
        fd, tmps[split] = tempfile.mkstemp(prefix=f".{name}.{split}.", dir=folder)
        os.fchmod(fd, 0o644)
        outs[split] = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
    try:
        for doc in documents():
            doc = doc.strip().replace("\r\n", "\n")
            if doc:
                outs["heldout" if doc_is_heldout(doc) else "train"].write(doc + _DOC_SEPARATOR)
        for split, fh in outs.items():
            fh.close()
            os.replace(tmps[split], folder / f"{name}.{split}.txt")
    finally:
        for split, fh in outs.items():
            fh.close()
            if os.path.exists(tmps[split]):
                os.unlink(tmps[split])


# ---------------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class TextFile:
    """One concrete file of a corpus, and which of its lines belong to the requested split."""

    path: Path
    source: str
    line_split: str  # "all" | "train" | "heldout": how to filter lines (user files); built-ins come pre-split


def _stdin_to_file() -> Path:
    folder = cache_dir() / "stdin"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="stdin.", suffix=".txt", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
    return Path(tmp)


def evaluation_split(specs: str | Iterable[str]) -> str:
    """The split to evaluate on when none is chosen: held-out for built-ins (never their training text),
    everything for the user's own files."""
    specs = [specs] if isinstance(specs, str) else list(specs)
    return "heldout" if all(s.startswith(BUILTIN_PREFIX) for s in specs) else "all"


def resolve(spec: str, split: str = "all") -> list[TextFile]:
    """Turn one `--corpus` value into the files it names. Raises TokbenchError when it names nothing."""
    if split not in SPLITS:
        raise TokbenchError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    if spec.startswith(BUILTIN_PREFIX):
        name = spec[len(BUILTIN_PREFIX):]
        splits = ("train", "heldout") if split == "all" else (split,)
        return [TextFile(builtin_path(name, s), spec, "all") for s in splits]
    if spec == "-":
        return [TextFile(_stdin_to_file(), spec, split)]
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(x.startswith(".") for x in p.relative_to(path).parts))
        if not files:
            raise TokbenchError(f"{spec}: directory holds no files")
        return [TextFile(p, spec, split) for p in files]
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise TokbenchError(f"{spec}: file is not readable")
        return [TextFile(path, spec, split)]
    if any(ch in spec for ch in "*?["):
        matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True) if Path(p).is_file())
        if not matches:
            raise TokbenchError(f"{spec}: glob matches no files")
        return [TextFile(p, spec, split) for p in matches]
    if path.exists():
        raise TokbenchError(f"{spec}: not a regular file or directory")
    raise TokbenchError(f"{spec}: no such file, directory or built-in corpus")


def iter_file_lines(path: Path, errors: str = "strict", line_split: str = "all") -> Iterator[str]:
    """Lines of one file (with their newlines), decoded as UTF-8 under the chosen error policy."""
    if errors not in ERROR_MODES:
        raise TokbenchError(f"unknown --errors mode {errors!r} (expected strict, replace or skip)")
    offset = 0
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            start = offset
            offset += len(raw)
            if line_split != "all" and ((lineno % _HELDOUT_EVERY == 0) != (line_split == "heldout")):
                continue
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if errors == "strict":
                    raise TokbenchError(f"{path}: invalid UTF-8 at byte offset {start + exc.start} (line {lineno}); "
                                        "use --errors replace or --errors skip") from None
                if errors == "replace":
                    yield raw.decode("utf-8", errors="replace")
                # skip: drop the line


class Corpus:
    """A streaming text corpus over one or more `--corpus` specs, restricted to a split."""

    def __init__(self, specs: str | Iterable[str], split: str = "all", errors: str = "strict") -> None:
        self.specs = [specs] if isinstance(specs, str) else list(specs)
        if not self.specs:
            raise TokbenchError("no corpus given")
        if errors not in ERROR_MODES:
            raise TokbenchError(f"unknown --errors mode {errors!r} (expected strict, replace or skip)")
        self.split = split
        self.errors = errors
        self.files: list[TextFile] = [f for spec in self.specs for f in resolve(spec, split)]

    @property
    def name(self) -> str:
        return "+".join(self.specs)

    def lines(self) -> Iterator[str]:
        for f in self.files:
            yield from iter_file_lines(f.path, self.errors, f.line_split)

    def __iter__(self) -> Iterator[str]:
        return self.lines()

    def documents(self) -> Iterator[str]:
        """Blank-line separated paragraphs (built-ins store one document per such block)."""
        block: list[str] = []
        for line in self.lines():
            if line.strip():
                block.append(line)
            elif block:
                yield "".join(block)
                block = []
        if block:
            yield "".join(block)

    def text(self, max_chars: int | None = None) -> str:
        """The corpus as one string, for held-out evaluation; `max_chars` caps the memory it takes."""
        parts, size = [], 0
        for line in self.lines():
            parts.append(line)
            size += len(line)
            if max_chars is not None and size >= max_chars:
                break
        return "".join(parts)

    def check_not_empty(self) -> None:
        for line in self.lines():
            if line.strip():
                return
        raise TokbenchError(f"corpus {self.name} ({self.split}) is empty")

    def validate(self) -> None:
        """One full pass before any work starts: every byte decodes under the error policy, and some text
        is there. Cheap next to training, and it keeps bad input from leaving half-made run folders."""
        has_text = False
        for line in self.lines():
            has_text = has_text or bool(line.strip())
        if not has_text:
            raise TokbenchError(f"corpus {self.name} ({self.split}) is empty")

    def fingerprint(self) -> list[dict]:
        return fingerprint(self.files)


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """Consecutive lists of `size` items (the last may be shorter): streaming work in batches."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def fingerprint(files: Iterable[TextFile]) -> list[dict]:
    """A stable record of the data: source spec, path, size and sha256 of each file."""
    out = []
    for f in files:
        out.append({"source": f.source, "path": str(f.path), "bytes": f.path.stat().st_size,
                    "sha256": sha256_file(f.path), "split": f.line_split})
    return out
