"""What a run is, in the words of a methods section: variant, backend, vocabulary or codebook, and its
settings as a flat key/value table (the Runs page's columns and its "Run details")."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tokbench.runs import RunRecord


def _config(record: RunRecord) -> dict:
    cfg = record.info.get("config")
    return cfg if isinstance(cfg, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def vocabulary(record: RunRecord) -> tuple[int | None, int | None]:
    """(requested, reached) vocabulary of a text run: run.json `vocab`, else metrics.json's training section
    (`vocab_size_requested` / `vocab_size_reached`), else the requested size of the config (older runs)."""
    vocab = record.info.get("vocab") if isinstance(record.info.get("vocab"), dict) else {}
    training = (record.metrics or {}).get("training") if isinstance(record.metrics, dict) else None
    training = training if isinstance(training, dict) else {}
    spec = _config(record).get("spec") if isinstance(_config(record).get("spec"), dict) else {}
    requested = _int(vocab.get("requested", training.get("vocab_size_requested", spec.get("vocab_size"))))
    reached = _int(vocab.get("reached", training.get("vocab_size_reached")))
    return requested, reached


def summary(record: RunRecord) -> dict[str, str]:
    """{"variant", "backend", "vocabulary"} for the runs table ("" where the kind has no such thing)."""
    cfg = _config(record)
    if record.kind == "text-bpe":
        spec = cfg.get("spec") if isinstance(cfg.get("spec"), dict) else {}
        requested, reached = vocabulary(record)
        if reached is not None and requested is not None and reached != requested:
            vocab = f"{reached:,} of {requested:,}"
        else:
            vocab = f"{reached if reached is not None else requested:,}" if (reached or requested) else ""
        backend = " ".join(str(v) for v in (spec.get("backend"), spec.get("model_type")) if v)
        return {"variant": str(spec.get("variant") or "plain"), "backend": backend, "vocabulary": vocab}
    if record.kind == "text-eval":
        toks = cfg.get("tokenizers") if isinstance(cfg.get("tokenizers"), list) else []
        return {"variant": "evaluation", "backend": "", "vocabulary": f"{len(toks)} tokenizers" if toks else ""}
    if record.kind == "visual-vq":
        model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
        quant = str(model.get("quantizer") or "")
        size = _int(model.get("codebook_size"))
        vocab = f"2^{model.get('bits')}" if quant in ("lfq", "binary") or cfg.get("family") == "binary" \
            else (f"{size:,}" if size else "")
        extras = [f"{model['latent_mixing']} mixing"] if model.get("latent_mixing") not in (None, "none") else []
        extras += ["conv head"] if model.get("pixel_head") == "conv" else []  # our 1D options, not the paper's
        variant = str(cfg.get("family") or "") + (f" ({', '.join(extras)})" if extras else "")
        return {"variant": variant, "backend": quant, "vocabulary": vocab}
    if record.kind == "audio-codec":
        codec = cfg.get("codec") if isinstance(cfg.get("codec"), dict) else {}
        n_q, size = _int(codec.get("n_q")), _int(codec.get("codebook_size"))
        return {"variant": "residual VQ", "backend": f"{n_q} levels" if n_q else "",
                "vocabulary": f"{n_q} × {size:,}" if n_q and size else ""}
    if record.kind == "bench":
        return {"variant": "", "backend": str(cfg.get("device") or ""), "vocabulary": ""}
    return {"variant": "", "backend": "", "vocabulary": ""}


def _flatten(value: Any, prefix: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for k, item in enumerate(value):
            _flatten(item, f"{prefix}[{k}]", out)
    elif isinstance(value, list):
        out.append((prefix, ", ".join(str(v) for v in value) if value else "—"))
    else:
        out.append((prefix, "—" if value is None else str(value)))


def details(record: RunRecord) -> pd.DataFrame:
    """The run's settings, data and provenance as a two-column table of dotted keys (config.spec.vocab_size)."""
    out: list[tuple[str, str]] = [("kind", str(record.kind)), ("status", str(record.status))]
    for key in ("started", "finished", "host", "steps_done", "vocab", "config", "data", "evaluations", "notes",
                "warnings", "packages", "error"):
        if record.info.get(key) not in (None, "", [], {}):
            _flatten(record.info[key], key, out)
    return pd.DataFrame(out, columns=["setting", "value"])
