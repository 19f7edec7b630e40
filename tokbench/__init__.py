"""tokbench: train, evaluate and compare tokenizers for text, images and audio.

The public API is re-exported here and imported lazily, so `import tokbench` (and every text command)
starts without loading torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> "module:attribute"
_EXPORTS = {
    # text
    "train_bpe": "tokbench.text.bpe:train_bpe",
    "load_tokenizer": "tokbench.text.tokenizer:load_tokenizer",
    "TextTokenizer": "tokbench.text.tokenizer:TextTokenizer",
    "evaluate_text": "tokbench.text.evaluate:evaluate_text",
    "requested_vocab": "tokbench.text.evaluate:requested_vocab",
    "sweep_vocab": "tokbench.text.sweep:sweep_vocab",
    "export_run": "tokbench.text.export:export_run",
    "segment": "tokbench.text.inspect:segment",
    "vocab_diff": "tokbench.text.inspect:vocab_diff",
    "most_different_lines": "tokbench.text.inspect:most_different_lines",
    "probe_nonunique": "tokbench.text.inspect:probe_nonunique",
    # visual
    "fit_vq": "tokbench.visual.train:fit_vq",
    "evaluate_vq": "tokbench.visual.evaluate:evaluate_vq",
    # audio
    "fit_audio": "tokbench.audio.train:fit_audio",
    "evaluate_audio": "tokbench.audio.evaluate:evaluate_audio",
    "tokenize_file": "tokbench.audio.tokens:tokenize_file",
    "detokenize_file": "tokbench.audio.tokens:detokenize_file",
    # kernels
    "nearest_code": "tokbench.kernels.lookup:nearest_code",
    "run_lookup_bench": "tokbench.kernels.bench:run_lookup_bench",
    # data and runs
    "Corpus": "tokbench.sources.text:Corpus",
    "Run": "tokbench.runs:Run",
    "list_runs": "tokbench.runs:list_runs",
    "load_run": "tokbench.runs:load_run",
    "TokbenchError": "tokbench.errors:TokbenchError",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'tokbench' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
