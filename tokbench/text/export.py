"""Export a text-bpe run for other libraries: a `transformers` folder or a tiktoken rank file.

Nothing is exported that the target library would load but segment differently: every export is encoded
both ways on a sample (the run's held-out lines plus hard strings) and refused with one line when a single
id differs.

- `transformers`: `tokenizer.json` (copied from an HF run; converted from a sentencepiece run by transformers'
  own `SpmConverter`, with the run's whitespace handling and byte fallback), `tokenizer_config.json` and
  `special_tokens_map.json` with bos/eos/pad/unk as the run defines them (`special_roles`), so
  `AutoTokenizer.from_pretrained(DIR)` has `eos_token` and `pad_token` set.
- `tiktoken`: byte-level BPE only, `<name>.tiktoken` (`base64(token) rank` lines, ranks = the run's ids) and
  `tiktoken.json` with the split pattern and the special tokens, the three things `tiktoken.Encoding` needs.
- A run whose manifest requires a text transform (the triad number tokenizer) is refused: its
  `tokenizer.json` alone splits numbers differently, and no file format of either library can express the
  transform.
"""

from __future__ import annotations

import base64
import json
import shutil
import types
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.runs import atomic_write_json, atomic_write_text, read_json
from tokbench.text.tokenizer import MANIFEST, TextTokenizer, load_run_tokenizer

FORMATS = ("transformers", "tiktoken")
VERIFY_LINES = 2000
#: strings every export is also checked on: whitespace runs, non-Latin scripts, emoji, controls, numbers
HARD_STRINGS = ("", " ", "  two  spaces  ", "tabs\tand\nnewlines\r\n", "Straße naïve café Ωμέγα Привет 你好 こんにちは",
                "emoji 😀👩‍👩‍👧 and e\u0301", "1234567.89 -42 1e-9", "\x00\x01 controls \x7f", "مرحبا שלום")


def special_roles(special_tokens: list[str], kind: str) -> dict[str, str]:
    """bos / eos / pad / unk from the run's special tokens, by the names the conventions use.

    eos: the token named like `endoftext`, `eos` or `</s>`; bos: one named `bos`, `<s>` or `startoftext`, else
    the eos token (GPT-2's convention: `<|endoftext|>` opens and closes documents); pad: one named `pad`;
    unk: one named `unk`. A sentencepiece run also has sentencepiece's own `<s>`, `</s>` and `<unk>`, used for
    a role the run's tokens leave open.
    """
    roles: dict[str, str] = {}
    for tok in special_tokens:
        low = tok.lower()
        if "endoftext" in low or "eos" in low or low == "</s>":
            roles.setdefault("eos_token", tok)
        elif "startoftext" in low or "bos" in low or low == "<s>":
            roles.setdefault("bos_token", tok)
        elif "pad" in low:
            roles.setdefault("pad_token", tok)
        elif "unk" in low:
            roles.setdefault("unk_token", tok)
    if kind == "spm":
        for role, piece in (("bos_token", "<s>"), ("eos_token", "</s>"), ("unk_token", "<unk>")):
            roles.setdefault(role, piece)
    if "eos_token" in roles:
        roles.setdefault("bos_token", roles["eos_token"])
    return roles


def _run_config(run_dir: Path) -> dict[str, Any]:
    info = read_json(run_dir / "run.json")
    if info.get("kind") != "text-bpe":
        raise TokbenchError(f"{run_dir}: not a text-bpe run (export takes a train-bpe run folder)")
    if info.get("status") not in (None, "done"):
        raise TokbenchError(f"{run_dir}: run is {info.get('status')}, not done")
    return info.get("config") or {}


def _sample(config: dict[str, Any], limit: int = VERIFY_LINES) -> list[str]:
    from tokbench.sources.text import Corpus

    lines: list[str] = list(HARD_STRINGS)
    try:
        corpus = Corpus(config.get("corpus") or [], split="heldout", errors="replace")
        for line in corpus.lines():
            if line.strip():
                lines.append(line)
            if len(lines) >= limit:
                break
    except TokbenchError:
        pass  # the training data is gone: the hard strings still check the export
    return lines


def _first_difference(ours: TextTokenizer, theirs, lines: list[str]) -> str | None:
    for line in lines:
        a, b = list(ours.encode(line)), list(theirs(line))
        if a != b:
            return f"{line[:40]!r}: tokbench {a[:6]} vs export {b[:6]}"
    return None


def _prepare_out(out: Path) -> None:
    """A new or empty real folder: never through a symlink, and only the final folder is created (a parent
    that is not an existing folder, e.g. /dev/nonexist, is refused rather than made)."""
    if out.is_symlink():
        raise TokbenchError(f"{out}: is a symlink; export into a real folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TokbenchError(f"{out}: exists and is not an empty folder (an export never overwrites)")
    if not out.absolute().parent.is_dir():
        raise TokbenchError(f"{out.parent}: no such folder (export creates only the final folder)")
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise TokbenchError(f"{out}: cannot create the folder ({exc.strerror})") from None


def export_run(run: str | Path, out: str | Path, fmt: str = "transformers") -> dict[str, Any]:
    """Export run folder `run` into folder `out` as `fmt` (transformers | tiktoken); returns what was written,
    the special-token roles and how many strings the export was verified on."""
    run_dir, out = Path(run), Path(out)
    if fmt not in FORMATS:
        raise TokbenchError(f"unknown export format {fmt!r} (expected {' or '.join(FORMATS)})")
    if not (run_dir / "artifacts" / MANIFEST).is_file():
        raise TokbenchError(f"{run_dir}: not a text-bpe run folder with a tokenizer")
    config = _run_config(run_dir)
    manifest = read_json(run_dir / "artifacts" / MANIFEST)
    if manifest.get("transform"):
        name = (manifest["transform"] or {}).get("name", "text")
        raise TokbenchError(f"{run_dir}: this tokenizer needs tokbench's {name} number transform before encoding, "
                            f"which {fmt} cannot express (its tokenizer.json alone splits numbers differently); "
                            "use tokbench.load_tokenizer")
    tok = load_run_tokenizer(run_dir)
    specials = list((config.get("spec") or {}).get("special_tokens") or [])
    roles = special_roles(specials, manifest["format"])
    lines = _sample(config)
    if fmt == "tiktoken":
        written = _export_tiktoken(run_dir, tok, manifest, out, lines)
    else:
        written = _export_transformers(run_dir, tok, manifest, roles, out, lines)
    result = {"run": str(run_dir), "format": fmt, "out": str(out), "files": written, "special_tokens": roles,
              "verified_strings": len(lines)}
    atomic_write_json(out / "tokbench-export.json", result)
    return result


# ---------------------------------------------------------------------------------------------- transformers
def _converted_spm(model_file: Path):
    """tokenizer.json from a sentencepiece model through transformers' SpmConverter, told the run's choices:
    no dummy prefix, whitespace kept as is (one Metaspace chunk), byte fallback decoded back to bytes."""
    try:
        from transformers.convert_slow_tokenizer import SentencePieceExtractor, SpmConverter
    except ImportError:
        raise TokbenchError("exporting a sentencepiece run needs transformers (pip install transformers)") from None
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    class RunConverter(SpmConverter):
        handle_byte_fallback = True

        def normalizer(self, proto):
            if proto.normalizer_spec.remove_extra_whitespaces:
                return super().normalizer(proto)
            charsmap = proto.normalizer_spec.precompiled_charsmap
            return normalizers.Precompiled(charsmap) if charsmap else None

        def pre_tokenizer(self, replacement, add_prefix_space):
            return pre_tokenizers.Metaspace(replacement=replacement, split=False,
                                            prepend_scheme="first" if add_prefix_space else "never")

        def decoder(self, replacement, add_prefix_space):
            steps = [decoders.Replace(replacement, " "), decoders.ByteFallback(), decoders.Fuse()]
            if add_prefix_space:
                steps.append(decoders.Strip(content=" ", left=1))
            return decoders.Sequence(steps)

        def tokenizer(self, proto):
            if proto.trainer_spec.model_type != 2:  # unigram: transformers' own path
                return super().tokenizer(proto)
            # BPE: transformers' extractor gives vocab + merges (its SpmConverter BPE branch is broken in 5.x)
            kw = SentencePieceExtractor(str(model_file)).extract(None)
            tok = Tokenizer(BPE(kw["vocab"], kw["merges"], unk_token=proto.trainer_spec.unk_piece, fuse_unk=True,
                                byte_fallback=True))
            tok.add_tokens([AddedToken(p.piece, normalized=False, special=p.type == 3)
                            for p in proto.pieces if p.type in (3, 4)])
            return tok

    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_file.read_bytes())
    original = types.SimpleNamespace(vocab_file=str(model_file), legacy=False,
                                     add_prefix_space=proto.normalizer_spec.add_dummy_prefix)
    return RunConverter(original).converted()


def _export_transformers(run_dir: Path, tok: TextTokenizer, manifest: dict, roles: dict[str, str], out: Path,
                         lines: list[str]) -> list[str]:
    source = run_dir / "artifacts" / manifest["file"]
    if manifest["format"] == "hf":
        from tokenizers import Tokenizer

        backend = Tokenizer.from_file(str(source))
    elif manifest["format"] == "spm":
        backend = _converted_spm(source)
    else:
        raise TokbenchError(f"{run_dir}: cannot export a {manifest['format']} tokenizer to transformers")
    diff = _first_difference(tok, lambda s: backend.encode(s, add_special_tokens=False).ids, lines)
    if diff:
        raise TokbenchError(f"{run_dir}: the transformers tokenizer.json does not reproduce this tokenizer exactly "
                            f"({diff}); not exported")
    _prepare_out(out)
    if manifest["format"] == "hf":
        shutil.copyfile(source, out / "tokenizer.json")
    else:
        atomic_write_text(out / "tokenizer.json", backend.to_str())
    atomic_write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", **roles, "clean_up_tokenization_spaces": False,
        "add_bos_token": False, "add_eos_token": False, "model_max_length": 1_000_000_000})
    atomic_write_json(out / "special_tokens_map.json", roles)
    _check_with_transformers(tok, out, roles, lines)
    return ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]


def _check_with_transformers(tok: TextTokenizer, out: Path, roles: dict[str, str], lines: list[str]) -> None:
    """Load the folder with AutoTokenizer (when transformers is installed) and compare ids and roles."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return
    loaded = AutoTokenizer.from_pretrained(str(out))
    for role, value in roles.items():
        if getattr(loaded, role, None) != value:
            raise TokbenchError(f"{out}: AutoTokenizer reads {role} as {getattr(loaded, role, None)!r}, not {value!r}")
    diff = _first_difference(tok, lambda s: loaded.encode(s, add_special_tokens=False), lines[:500])
    if diff:
        raise TokbenchError(f"{out}: AutoTokenizer does not reproduce this tokenizer exactly ({diff})")


# ---------------------------------------------------------------------------------------------- tiktoken
def _export_tiktoken(run_dir: Path, tok: TextTokenizer, manifest: dict, out: Path, lines: list[str]) -> list[str]:
    from tokbench.text.fast_encode import NotRepresentable, build_ranks, split_pattern
    from tokbench.text.tokenizer import HFTokenizer

    if not isinstance(tok, HFTokenizer) or not tok.byte_level:
        raise TokbenchError(f"{run_dir}: --format tiktoken needs a byte-level BPE run (this one is "
                            f"{manifest['format']}); use --format transformers")
    try:
        pattern = split_pattern(tok.config)
        table = build_ranks(tok.config)
    except NotRepresentable as exc:
        raise TokbenchError(f"{run_dir}: tiktoken cannot express this tokenizer ({exc})") from None
    if table.rank_to_id is not None:
        raise TokbenchError(f"{run_dir}: the merge order and the ids disagree, so tiktoken ranks cannot keep the "
                            "run's ids; use --format transformers")
    specials = {t["content"]: t["id"] for t in tok.config.get("added_tokens", [])}
    import tiktoken

    enc = tiktoken.Encoding(name=run_dir.name, pat_str=pattern, mergeable_ranks=table.ranks, special_tokens=specials)
    diff = _first_difference(tok, enc.encode_ordinary, lines)
    if diff:
        raise TokbenchError(f"{run_dir}: tiktoken does not reproduce this tokenizer exactly ({diff}); not exported")
    _prepare_out(out)
    rank_file = f"{run_dir.name}.tiktoken"
    text = "".join(f"{base64.b64encode(b).decode('ascii')} {r}\n" for b, r in sorted(table.ranks.items(),
                                                                                     key=lambda kv: kv[1]))
    atomic_write_text(out / rank_file, text)
    atomic_write_json(out / "tiktoken.json", {
        "name": run_dir.name, "rank_file": rank_file, "pat_str": pattern, "special_tokens": specials,
        "load": "tiktoken.Encoding(name, pat_str=pat_str, mergeable_ranks={base64-decoded token: rank per line of "
                "rank_file}, special_tokens=special_tokens), or tokbench.text.export.load_exported_tiktoken(folder)"})
    return [rank_file, "tiktoken.json"]


def load_exported_tiktoken(folder: str | Path):
    """The `tiktoken.Encoding` an export folder describes (what its tiktoken.json says to do)."""
    import tiktoken

    folder = Path(folder)
    meta = json.loads((folder / "tiktoken.json").read_text(encoding="utf-8"))
    ranks = {}
    for line in (folder / meta["rank_file"]).read_text(encoding="ascii").splitlines():
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(meta["name"], pat_str=meta["pat_str"], mergeable_ranks=ranks,
                             special_tokens=meta["special_tokens"])
