"""Where text comes from: files, globs, directories, stdin (`-`) and `builtin:NAME` corpora.

Everything streams line by line (a multi-GB corpus is never read into memory; training cuts lines longer
than `LONG_LINE_CHARS` into pieces) and knows nothing of tokenizers. Standard input is copied once into a
temporary file that every split reads and that is deleted when the process exits. Built-in corpora are
made once from what installed packages ship (no network), cached under `$TOKBENCH_CACHE` (default
`~/.cache/tokbench`), and carry a fixed train/held-out split: a document goes to held-out when the first byte
of the sha256 of its text is below 26 (about 10%). User corpora are split by line: every tenth line (line
numbers 10, 20, ...) is held out.
"""

from __future__ import annotations

import ast
import atexit
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


#: Debian packages whose documentation makes `builtin:english-large` (the Makefile installs them).
ENGLISH_LARGE_PACKAGES = ("python3-doc", "linux-doc")
_DOC_ROOT = Path("/usr/share/doc")


def english_large_files(root: Path = _DOC_ROOT) -> list[Path]:
    """The reStructuredText/plain-text sources of CPython's and the Linux kernel's documentation, as Debian's
    python3-doc (`python3.X/html/_sources`) and linux-doc (`linux-doc-X/Documentation`, gzipped) ship them.
    The kernel's devicetree bindings (schemas, not prose) are left out."""
    files = sorted(root.glob("python3.*/html/_sources/**/*.txt"))
    for docs in sorted(root.glob("linux-doc-*/Documentation")):
        files += sorted(p for p in docs.rglob("*.gz") if p.name.endswith((".rst.gz", ".txt.gz"))
                        and "devicetree" not in p.relative_to(docs).parts)
    return list({p.resolve(): p for p in files}.values())  # python3.X-doc/html links to python3.X/html


def english_large_documents() -> Iterator[str]:
    """One document per documentation source file (see `english_large_files`), taken as is (rst/txt markup
    included). Raises TokbenchError naming the Debian packages when none are installed."""
    import gzip

    files = english_large_files()
    if not files:
        raise TokbenchError("builtin:english-large needs the Debian packages " + " and ".join(ENGLISH_LARGE_PACKAGES)
                            + " (apt-get install " + " ".join(ENGLISH_LARGE_PACKAGES) + ")")
    for path in files:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        yield raw.decode("utf-8", errors="replace")


#: name -> (document generator, one-line description). Other modules add their own built-ins here.
BUILTIN_TEXT: dict[str, tuple[Callable[[], Iterable[str]], str]] = {
    "english": (english_documents, "English prose: CPython's pydoc topics and the standard library's docstrings"),
    "code": (code_documents, "Python source code: the standard library"),
    "legal": (legal_documents, "license texts from /usr/share/common-licenses and installed packages"),
    "english-large": (english_large_documents, "English technical prose (~36 MB): CPython's and the Linux "
                      "kernel's documentation sources from Debian's python3-doc and linux-doc"),
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


#: the spooled copy of standard input (stdin can be read only once), and the stream it was read from
_STDIN_SPOOL: list[Path] = []
_STDIN_SOURCE: list[object] = []


def _remove_stdin_spool() -> None:
    for path in _STDIN_SPOOL:
        path.unlink(missing_ok=True)
    _STDIN_SPOOL.clear()
    _STDIN_SOURCE.clear()


atexit.register(_remove_stdin_spool)


def stdin_spool() -> Path:
    """Standard input copied once into a temporary file, so every split of `-` (train, held-out, the
    fingerprint) reads the same bytes; the copy is deleted when the process exits (a run that wants to keep
    the data copies it into its own folder). A new `sys.stdin` object (a caller swapped it) is spooled anew."""
    if _STDIN_SPOOL and _STDIN_SOURCE and _STDIN_SOURCE[0] is sys.stdin and _STDIN_SPOOL[0].exists():
        return _STDIN_SPOOL[0]
    source = sys.stdin
    fd, tmp = tempfile.mkstemp(prefix="tokbench-stdin.", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as fh:
            shutil.copyfileobj(source.buffer, fh, 1 << 20)
    except BaseException:
        os.unlink(tmp)
        raise
    _remove_stdin_spool()
    _STDIN_SPOOL.append(Path(tmp))
    _STDIN_SOURCE.append(source)
    return _STDIN_SPOOL[0]


def evaluation_split(specs: str | Iterable[str]) -> str:
    """The split to evaluate on when none is chosen: held-out, for built-ins and the user's own files alike,
    by the same rule `train-bpe` trains with (built-ins by document hash, files every tenth line), so a
    tokenizer trained here is never scored on its own training lines unless `--split` asks for it."""
    return "heldout"


def resolve(spec: str, split: str = "all") -> list[TextFile]:
    """Turn one `--corpus` value into the files it names. Raises TokbenchError when it names nothing."""
    if split not in SPLITS:
        raise TokbenchError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    if spec.startswith(BUILTIN_PREFIX):
        name = spec[len(BUILTIN_PREFIX):]
        splits = ("train", "heldout") if split == "all" else (split,)
        return [TextFile(builtin_path(name, s), spec, "all") for s in splits]
    if spec == "-":
        return [TextFile(stdin_spool(), spec, split)]
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
                    shown = "- (standard input)" if path in _STDIN_SPOOL else path
                    raise TokbenchError(f"{shown}: invalid UTF-8 at byte offset {start + exc.start} (line {lineno}); "
                                        "use --errors replace or --errors skip") from None
                if errors == "replace":
                    yield raw.decode("utf-8", errors="replace")
                # skip: drop the line


#: Lines longer than this (in characters) are cut into pieces for training (`Corpus.bounded_lines`): a 50 MB
#: single-line file would otherwise be one sequence for the trainer, which then holds GBs of per-split state.
LONG_LINE_CHARS = 1 << 16


def cut_long_line(line: str, max_chars: int = LONG_LINE_CHARS) -> Iterator[str]:
    """Consecutive pieces of `line`, each at most `max_chars` long, cut just before a whitespace character
    in the second half of the window when there is one (so words stay whole), anywhere otherwise. The
    pieces join back to `line`; only the pre-tokenizer chunks that straddle a cut can differ."""
    start, n = 0, len(line)
    while n - start > max_chars:
        end = start + max_chars
        cut = end
        floor = start + max_chars // 2
        while cut > floor and not line[cut].isspace():
            cut -= 1
        if cut == floor:
            cut = end
        yield line[start:cut]
        start = cut
    if start < n:
        yield line[start:]


@dataclass
class CorpusStats:
    """What one pass over a corpus split found (`Corpus.scan`)."""

    lines: int = 0
    text_lines: int = 0
    bytes: int = 0
    longest_line_bytes: int = 0


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
        seen: dict[Path, str] = {}
        for f in self.files:  # one rule: a file is read once, so a corpus given twice is refused, not counted twice
            key = Path(f.path).resolve()
            if key in seen:
                raise TokbenchError(f"corpus file {f.path} is given twice ({seen[key]} and {f.source}): "
                                    "give each corpus once")
            seen[key] = f.source
        self.stats: CorpusStats | None = None  # what the last `scan` found

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

    def scan(self) -> CorpusStats:
        """One full pass: every byte decodes under the error policy; what the split holds."""
        stats = CorpusStats()
        for line in self.lines():
            size = len(line.encode("utf-8"))
            stats.lines += 1
            stats.bytes += size
            stats.longest_line_bytes = max(stats.longest_line_bytes, size)
            stats.text_lines += bool(line.strip())
        self.stats = stats
        return stats

    def validate(self) -> CorpusStats:
        """One full pass before any work starts: every byte decodes under the error policy, and some text
        is there. Cheap next to training, and it keeps bad input from leaving half-made run folders."""
        stats = self.scan()
        if not stats.text_lines:
            raise TokbenchError(f"corpus {self.name} ({self.split}) is empty")
        return stats

    def bounded_lines(self, max_chars: int | None = None) -> Iterator[str]:
        """The lines, with every line longer than `max_chars` (default `LONG_LINE_CHARS`) cut into pieces
        (see `cut_long_line`), so that work per item stays bounded however long a line is."""
        limit = LONG_LINE_CHARS if max_chars is None else max_chars
        for line in self.lines():
            if len(line) <= limit:
                yield line
            else:
                yield from cut_long_line(line, limit)

    def has_long_lines(self) -> bool:
        """Whether some line is longer than `LONG_LINE_CHARS` (from the last scan; scans if there was none)."""
        return (self.stats or self.scan()).longest_line_bytes > LONG_LINE_CHARS

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
