"""One interface over every text tokenizer a user may bring: our runs, HF `tokenizer.json`, sentencepiece
`.model`, and tiktoken rank files, all loaded from local paths.

Specs: a run folder (its `artifacts/tokbench.json` manifest says how to load it), `hf:PATH`, `spm:PATH`,
`tiktoken:PATH` (optionally `tiktoken:PATH#gpt2|gpt4|llama3|<regex>` for the split pattern), or a bare path
whose format is guessed from its name.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
from collections.abc import Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol

from tokbench.errors import TokbenchError
from tokbench.text.patterns import SPLIT_PATTERNS

MANIFEST = "tokbench.json"

#: transform name -> "module:factory"; a factory takes the manifest's transform config and returns a TextTransform.
TRANSFORMS = {
    "triad": "tokbench.text.triad:transform_from_config",
}


class TextTransform(Protocol):
    """A reversible rewrite applied before encoding and undone after decoding (e.g. numeric triads)."""

    def encode_text(self, text: str) -> str: ...

    def decode_text(self, text: str) -> str: ...


@lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (a fact of the byte-level BPE format)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@lru_cache(maxsize=1)
def _unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in _bytes_to_unicode().items()}


def byte_level_token_bytes(token: str) -> bytes | None:
    """Raw bytes of a byte-level BPE token string, or None when it is not byte-level encoded."""
    table = _unicode_to_bytes()
    try:
        return bytes(table[c] for c in token)
    except KeyError:
        return None


def _piece_bytes(piece: str) -> bytes:
    """Bytes of a sentencepiece/metaspace piece: '▁' is a space and '<0xNN>' a byte-fallback byte."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        try:
            return bytes([int(piece[3:5], 16)])
        except ValueError:
            pass
    return piece.replace("▁", " ").encode("utf-8")


class TextTokenizer:
    """The common interface. `encode` never adds special tokens; `decode` keeps them."""

    kind: str = "?"
    #: the run folder the tokenizer was loaded from (its run.json holds the requested vocabulary and training data)
    run_dir: Path | None = None

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = Path(path)

    # to implement ------------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def token_bytes(self, token_id: int) -> bytes:
        raise NotImplementedError

    # shared --------------------------------------------------------------------------------------------------
    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    @cached_property
    def _vocab(self) -> dict[str, int]:
        return self._build_vocab()

    def vocab(self) -> dict[str, int]:
        """Token string (as the backend spells it) -> id."""
        return self._vocab

    def _build_vocab(self) -> dict[str, int]:
        raise NotImplementedError

    @cached_property
    def _id_to_token(self) -> dict[int, str]:
        return {i: t for t, i in self.vocab().items()}

    def id_to_token(self, token_id: int) -> str:
        return self._id_to_token[int(token_id)]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab())

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "path": str(self.path), "vocab_size": self.vocab_size}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.kind}, {self.vocab_size} tokens)>"


def _check_hf_vocab(path: Path, config: dict) -> None:
    """A `model.vocab` mapping token -> id must give each id once, each non-negative and below
    len(vocab) + added + RANK_SLACK: `tokenizers` accepts a shared id on load and panics (Rust) only when it
    decodes it, and a far-off id makes id-indexed tables huge. Small gaps are legal (real files have them)."""
    vocab = (config.get("model") or {}).get("vocab") if isinstance(config, dict) else None
    if not isinstance(vocab, dict):
        return  # unigram (a list of pieces) or no model vocab: the Rust loader already checked it
    limit = len(vocab) + len(config.get("added_tokens") or []) + RANK_SLACK
    owner: dict[int, str] = {}
    for token, token_id in vocab.items():
        if not isinstance(token_id, int) or isinstance(token_id, bool) or not 0 <= token_id < limit:
            raise TokbenchError(f"{path}: vocabulary id {token_id!r} of token {token!r} is out of range "
                                f"(ids must be 0..{limit - 1})")
        if token_id in owner:
            raise TokbenchError(f"{path}: vocabulary id {token_id} is given to two tokens "
                                f"({owner[token_id]!r} and {token!r})")
        owner[token_id] = token


class HFTokenizer(TextTokenizer):
    """Any HF `tokenizers` tokenizer.json."""

    kind = "hf"

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name, path)
        from tokenizers import Tokenizer

        try:
            self.backend = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises plain Exceptions for corrupt files
            raise TokbenchError(f"{path}: not a valid tokenizer.json ({str(exc).splitlines()[0][:200]})") from None
        config = json.loads(Path(path).read_text(encoding="utf-8"))
        _check_hf_vocab(path, config)
        self.config = config
        self.byte_level = "ByteLevel" in json.dumps(config.get("decoder") or {})

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=False)

    def _build_vocab(self) -> dict[str, int]:
        return self.backend.get_vocab(with_added_tokens=True)

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def id_to_token(self, token_id: int) -> str:
        token = self.backend.id_to_token(int(token_id))
        if token is None:
            raise KeyError(token_id)
        return token

    @cached_property
    def _added(self) -> dict[int, dict]:
        return {t["id"]: t for t in self.config.get("added_tokens", [])}

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset(i for i, t in self._added.items() if t.get("special"))

    def token_bytes(self, token_id: int) -> bytes:
        token = self.id_to_token(token_id)
        if token_id in self._added:
            return token.encode("utf-8")
        if self.byte_level:
            raw = byte_level_token_bytes(token)
            if raw is not None:
                return raw
        return _piece_bytes(token)


class SPMTokenizer(TextTokenizer):
    """A sentencepiece `.model` (BPE or unigram)."""

    kind = "spm"

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name, path)
        import sentencepiece as spm

        self.backend = spm.SentencePieceProcessor()
        try:
            ok = self.backend.Load(str(path))
        except (OSError, RuntimeError) as exc:
            raise TokbenchError(f"{path}: not a valid sentencepiece model ({str(exc).splitlines()[0][:200]})") from None
        if not ok:
            raise TokbenchError(f"{path}: not a valid sentencepiece model")

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text, out_type=int)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self.backend.encode(list(texts), out_type=int)

    def decode(self, ids: Sequence[int]) -> str:
        return self.backend.decode([int(i) for i in ids])

    def _build_vocab(self) -> dict[str, int]:
        return {self.backend.id_to_piece(i): i for i in range(self.backend.get_piece_size())}

    @property
    def vocab_size(self) -> int:
        return self.backend.get_piece_size()

    def id_to_token(self, token_id: int) -> str:
        return self.backend.id_to_piece(int(token_id))

    @property
    def special_ids(self) -> frozenset[int]:
        b = self.backend
        return frozenset(i for i in range(b.get_piece_size()) if b.is_control(i) or b.is_unknown(i))

    def token_bytes(self, token_id: int) -> bytes:
        if self.backend.is_control(int(token_id)):
            return b""
        return _piece_bytes(self.id_to_token(token_id))


#: A text every usable split pattern cuts into pieces that join back to it (letters, digits, punctuation,
#: whitespace runs, non-Latin scripts); a pattern that loses any of it would silently drop text.
PATTERN_PROBE_TEXT = "Hello, World! 1,234.5 naïve  tabs\tand\nnew lines\r\n Привет 你好 😀 'quoted' don't "


def tiktoken_pattern(option: str | None) -> str:
    """The split regex for `tiktoken:PATH#OPTION`: a preset name, or a regex. A plain word that names no preset
    is refused (it would be taken as a regex that matches almost nothing)."""
    option = option or "gpt4"
    if option in SPLIT_PATTERNS:
        return SPLIT_PATTERNS[option]
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", option):
        raise TokbenchError(f"unknown split pattern {option!r} (names: {', '.join(SPLIT_PATTERNS)}; or give a regex)")
    return option


#: how many unused ranks a rank file may leave: tiktoken sizes its tables by the largest rank, so a sparse file
#: (one rank 4e9) would allocate gigabytes
RANK_SLACK = 1024


def read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """`base64(token) rank` per line, checked: every one of the 256 single bytes has a rank (byte-level BPE
    must be able to spell any text), and no token or rank appears twice."""
    ranks: dict[bytes, int] = {}
    seen_ranks: dict[int, bytes] = {}
    lineno = 0
    try:
        for lineno, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
            if not line.strip():
                continue
            token_b64, rank_text = line.split()
            token, rank = base64.b64decode(token_b64, validate=True), int(rank_text)
            if rank < 0:
                raise ValueError(f"negative rank {rank}")
            if token in ranks:
                raise ValueError(f"token {token!r} appears twice")
            if rank in seen_ranks:
                raise ValueError(f"rank {rank} appears twice ({seen_ranks[rank]!r} and {token!r})")
            ranks[token], seen_ranks[rank] = rank, token
    except (ValueError, UnicodeDecodeError) as exc:
        where = f"line {lineno}" if lineno else "not ASCII"
        raise TokbenchError(f"{path}: not a tiktoken rank file ({where}: {str(exc)[:200]})") from None
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read ({exc.strerror})") from None
    if not ranks:
        raise TokbenchError(f"{path}: empty tiktoken rank file")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise TokbenchError(f"{path}: not a byte-level rank file: {len(missing)} of the 256 single-byte tokens "
                            f"have no rank (first: 0x{missing[0]:02x})")
    top = max(ranks.values())
    if top >= len(ranks) + RANK_SLACK:
        raise TokbenchError(f"{path}: rank {top} is far beyond the {len(ranks):,} entries (ranks must be below "
                            f"the number of entries + {RANK_SLACK:,}; tiktoken allocates one slot per rank)")
    return ranks


class TiktokenTokenizer(TextTokenizer):
    """A tiktoken-format rank file (`base64(token) rank` per line) with a split pattern."""

    kind = "tiktoken"

    def __init__(self, name: str, path: Path, pattern: str = "gpt4") -> None:
        super().__init__(name, path)
        import tiktoken

        self.ranks = read_tiktoken_ranks(Path(path))
        pat = tiktoken_pattern(pattern)
        try:
            self.backend = tiktoken.Encoding(name=name, pat_str=pat, mergeable_ranks=self.ranks, special_tokens={})
        except ValueError as exc:  # the pattern does not compile
            raise TokbenchError(f"{path}: split pattern {pattern!r} is not a valid regex ({exc})") from None
        probe = PATTERN_PROBE_TEXT
        if self.backend.decode(self.backend.encode_ordinary(probe)) != probe:
            raise TokbenchError(f"{path}: split pattern {pattern!r} drops text (it must match every character; "
                                f"names: {', '.join(SPLIT_PATTERNS)})")

    def encode(self, text: str) -> list[int]:
        return self.backend.encode_ordinary(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self.backend.encode_ordinary_batch(list(texts), num_threads=2)

    def decode(self, ids: Sequence[int]) -> str:
        return self.backend.decode(list(ids), errors="replace")

    def _build_vocab(self) -> dict[str, int]:
        table = _bytes_to_unicode()
        return {"".join(table[b] for b in tok): rank for tok, rank in self.ranks.items()}

    @property
    def vocab_size(self) -> int:
        return self.backend.n_vocab

    def token_bytes(self, token_id: int) -> bytes:
        return self.backend.decode_single_token_bytes(int(token_id))


class WrappedTokenizer(TextTokenizer):
    """A tokenizer that changes how text is encoded but delegates everything else to `base`."""

    def __init__(self, base: TextTokenizer, name: str | None = None) -> None:
        super().__init__(name or base.name, base.path)
        self.base = base
        self.kind = base.kind

    def encode(self, text: str) -> list[int]:
        return self.base.encode(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self.base.encode_batch(texts)

    def decode(self, ids: Sequence[int]) -> str:
        return self.base.decode(ids)

    def _build_vocab(self) -> dict[str, int]:
        return self.base.vocab()

    @property
    def vocab_size(self) -> int:
        return self.base.vocab_size

    def id_to_token(self, token_id: int) -> str:
        return self.base.id_to_token(token_id)

    @property
    def special_ids(self) -> frozenset[int]:
        return self.base.special_ids

    def token_bytes(self, token_id: int) -> bytes:
        return self.base.token_bytes(token_id)


class TransformedTokenizer(WrappedTokenizer):
    """A base tokenizer behind a reversible text transform (the manifest's `transform`)."""

    def __init__(self, base: TextTokenizer, transform: TextTransform, name: str) -> None:
        super().__init__(base, name)
        self.transform = transform

    def encode(self, text: str) -> list[int]:
        return self.base.encode(self.transform.encode_text(text))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self.base.encode_batch([self.transform.encode_text(t) for t in texts])

    def decode(self, ids: Sequence[int]) -> str:
        return self.transform.decode_text(self.base.decode(ids))


# ---------------------------------------------------------------------------------------------- loading
def _load_file(kind: str, path: Path, name: str, option: str | None = None) -> TextTokenizer:
    if not path.is_file():
        raise TokbenchError(f"{path}: no such tokenizer file")
    if kind == "hf":
        return HFTokenizer(name, path)
    if kind == "spm":
        return SPMTokenizer(name, path)
    if kind == "tiktoken":
        return TiktokenTokenizer(name, path, option or "gpt4")
    raise TokbenchError(f"unknown tokenizer format {kind!r} (expected hf, spm or tiktoken)")


def _guess_kind(path: Path) -> str:
    if path.suffix == ".json":
        return "hf"
    if path.suffix == ".model":
        return "spm"
    if path.suffix in (".tiktoken", ".ranks", ".bpe"):
        return "tiktoken"
    raise TokbenchError(f"{path}: cannot tell the tokenizer format; prefix it with hf:, spm: or tiktoken:")


def load_run_tokenizer(run_dir: Path) -> TextTokenizer:
    """Restore the whole pipeline of a run's tokenizer from its manifest."""
    manifest_path = run_dir / "artifacts" / MANIFEST
    if not manifest_path.is_file():
        raise TokbenchError(f"{run_dir}: run has no tokenizer ({manifest_path.relative_to(run_dir)} missing)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        kind, file = manifest["format"], manifest["file"]
        if not (isinstance(kind, str) and isinstance(file, str) and file):
            raise TypeError(f"format and file must be strings, got {kind!r} and {file!r}")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TokbenchError(f"{manifest_path}: corrupt tokenizer manifest ({exc})") from None
    name = run_dir.name
    tok = _load_file(kind, run_dir / "artifacts" / file, name, manifest.get("pattern"))
    transform = manifest.get("transform")
    if transform:
        target = TRANSFORMS.get(transform.get("name"))
        if target is None:
            raise TokbenchError(f"{manifest_path}: unknown text transform {transform.get('name')!r}")
        module, attr = target.split(":")
        factory = getattr(importlib.import_module(module), attr)
        tok = TransformedTokenizer(tok, factory(transform), name)
    tok.run_dir = run_dir
    return tok


#: path parts that say nothing about which tokenizer a file is, skipped when naming it
GENERIC_PATH_PARTS = frozenset({"artifacts", "tokenizer", "tokenizers", "model", "models", "checkpoints",
                                "checkpoint", "snapshots", "export", "exports", "files", "data", "tmp", "runs", ""})
_LABEL = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.+@-]*)=(.+)$")


def split_label(spec: str) -> tuple[str | None, str]:
    """`NAME=SPEC` -> (NAME, SPEC); anything else -> (None, spec). A spec that is itself an existing path
    keeps its `=` (a file may be called `a=b.json`)."""
    m = _LABEL.match(spec)
    if m is None or Path(spec).expanduser().exists():
        return None, spec
    return m.group(1), m.group(2)


def default_name(path: Path) -> str:
    """A tokenizer's name from its path: the run folder's name for a file inside a run's `artifacts/`, else
    the nearest path part that says something (the file's stem, then its folders), never `artifacts` or
    `tokenizer`."""
    path = Path(path).expanduser().absolute()
    for parent in path.parents:
        if parent.name == "artifacts" and (parent.parent / "run.json").is_file():
            return parent.parent.name
    for part in [path.stem, *(p.name for p in path.parents)]:
        if part.lower() not in GENERIC_PATH_PARTS:
            return part
    return path.name


def load_tokenizer(spec: str | Path) -> TextTokenizer:
    """Load a tokenizer from a run folder, `hf:PATH`, `spm:PATH`, `tiktoken:PATH[#pattern]` or a bare path,
    optionally labelled `NAME=SPEC` (the name reports use instead of the default from `default_name`)."""
    if isinstance(spec, TextTokenizer):
        return spec
    label, spec = split_label(str(spec))
    tok = _load_unlabelled(spec)
    if label:
        tok.name = label
    return tok


def _load_unlabelled(spec: str) -> TextTokenizer:
    if spec.startswith("ref:"):  # a reference tokenizer an installed package ships (tokbench.text.references)
        from tokbench.text.references import reference_path

        return _load_file("hf", reference_path(spec[4:]), spec[4:])
    kind = None
    for prefix in ("hf", "spm", "tiktoken"):
        if spec.startswith(prefix + ":"):
            kind, spec = prefix, spec[len(prefix) + 1:]
            break
    option = None
    if kind == "tiktoken" and "#" in spec:
        spec, option = spec.split("#", 1)
    path = Path(spec).expanduser()
    if kind is None and path.is_dir():
        if (path / "artifacts" / MANIFEST).is_file() or (path / "run.json").is_file():
            return load_run_tokenizer(path)
        if (path / "tokenizer.json").is_file():
            return _load_file("hf", path / "tokenizer.json", default_name(path / "tokenizer.json"))
        raise TokbenchError(f"{path}: folder holds no tokenizer (expected a run folder or tokenizer.json)")
    if not path.exists():
        raise TokbenchError(f"{spec}: no such tokenizer file or run folder")
    kind = kind or _guess_kind(path)
    tok = _load_file(kind, path, default_name(path), option)
    run_dir = path.absolute().parent.parent
    if path.absolute().parent.name == "artifacts" and (run_dir / "run.json").is_file():
        tok.run_dir = run_dir  # a run's own file: its run.json still tells the requested size and training data
    return tok
