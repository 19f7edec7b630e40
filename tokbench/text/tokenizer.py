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


class TiktokenTokenizer(TextTokenizer):
    """A tiktoken-format rank file (`base64(token) rank` per line) with a split pattern."""

    kind = "tiktoken"

    def __init__(self, name: str, path: Path, pattern: str = "gpt4") -> None:
        super().__init__(name, path)
        import tiktoken

        ranks: dict[bytes, int] = {}
        try:
            for lineno, line in enumerate(Path(path).read_text(encoding="ascii").splitlines(), 1):
                if not line.strip():
                    continue
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokbenchError(f"{path}: not a tiktoken rank file (line {lineno}: {exc})") from None
        if not ranks:
            raise TokbenchError(f"{path}: empty tiktoken rank file")
        pat = SPLIT_PATTERNS.get(pattern, pattern)
        self.ranks = ranks
        self.backend = tiktoken.Encoding(name=name, pat_str=pat, mergeable_ranks=ranks, special_tokens={})

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
    return tok


def load_tokenizer(spec: str | Path) -> TextTokenizer:
    """Load a tokenizer from a run folder, `hf:PATH`, `spm:PATH`, `tiktoken:PATH[#pattern]` or a bare path."""
    if isinstance(spec, TextTokenizer):
        return spec
    spec = str(spec)
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
            return _load_file("hf", path / "tokenizer.json", path.name)
        raise TokbenchError(f"{path}: folder holds no tokenizer (expected a run folder or tokenizer.json)")
    if not path.exists():
        raise TokbenchError(f"{spec}: no such tokenizer file or run folder")
    kind = kind or _guess_kind(path)
    return _load_file(kind, path, path.parent.name if path.name in ("tokenizer.json",) else path.stem, option)
