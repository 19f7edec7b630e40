"""One rate–distortion table for every modality: bits per source unit against a fidelity measure.

The rate is always the cost of writing the token ids with a fixed-length code, log2(vocabulary) bits per
token, divided by the source units a token covers, as the visual and audio reports already count it:
- text: bits per byte = log2(V_reached) / bytes_per_token (V from the evaluation's tokenizer record or the
  run); fidelity = round_trip_rate (the fraction of held-out lines decoded back exactly; 1 = lossless);
- images: bits_per_pixel from `eval-vq` (tokens x log2 K / pixels) against psnr_db, per token budget;
- audio: bits per second = 1000 x kbps from `eval-audio` (frames/s x n_q x log2 K) against si_snr_db, per
  number of quantizers.
"""

from __future__ import annotations

import math

import pandas as pd

from tbdash import data, describe

#: modality -> (run kinds, rate column title, fidelity metric, fidelity title)
MODALITIES = {
    "text": (data.TEXT_KINDS, "bits per byte", "round_trip_rate", "round-trip rate (1 = lossless)"),
    "image": (data.VISUAL_KINDS, "bits per pixel", "psnr_db", "PSNR (dB)"),
    "audio": (data.AUDIO_KINDS, "bits per second", "si_snr_db", "SI-SNR (dB)"),
}
COLUMNS = ["modality", "tokenizer", "run", "dataset", "budget", "rate", "fidelity"]


def _text_points(records, rows: pd.DataFrame) -> list[dict]:
    sizes: dict[str, int] = {}
    for r in records:
        if r.kind == "text-bpe":
            req, got = describe.vocabulary(r)
            if got or req:
                sizes[r.name] = int(got or req)
        report = r.report if isinstance(r.report, dict) else {}
        for info in report.get("tokenizers") or []:
            if isinstance(info, dict) and info.get("name"):
                v = info.get("vocab_size_reached") or info.get("vocab_size")
                if v:
                    sizes[str(info["name"])] = int(v)
    text = rows[rows["run_kind"].isin(data.TEXT_KINDS) & rows["language"].isna()]
    out = []
    for (run, subject, dataset), group in text.groupby(["run", "subject", "dataset"]):
        values = dict(zip(group["metric"], group["value"]))
        bpt, fidelity, vocab = values.get("bytes_per_token"), values.get("round_trip_rate"), sizes.get(subject)
        if bpt and vocab and vocab > 1 and fidelity is not None and not math.isnan(fidelity):
            out.append({"modality": "text", "tokenizer": subject, "run": run, "dataset": dataset, "budget": None,
                        "rate": math.log2(vocab) / bpt, "fidelity": fidelity})
    return out


def _budget_points(rows: pd.DataFrame, modality: str, rate_metric: str, scale: float) -> list[dict]:
    kinds, _, fidelity, _ = MODALITIES[modality]
    sub = rows[rows["run_kind"].isin(kinds) & rows["budget"].notna()]
    out = []
    for (run, subject, dataset, budget), group in sub.groupby(["run", "subject", "dataset", "budget"]):
        values = dict(zip(group["metric"], group["value"]))
        rate, quality = values.get(rate_metric), values.get(fidelity)
        if rate is not None and quality is not None and not (math.isnan(rate) or math.isnan(quality)):
            out.append({"modality": modality, "tokenizer": subject, "run": run, "dataset": dataset,
                        "budget": int(budget), "rate": rate * scale, "fidelity": quality})
    return out


def points(records) -> pd.DataFrame:
    """Every evaluated (tokenizer, dataset[, budget]) as one row: modality, rate (bits per unit), fidelity."""
    rows = data.metric_rows(records)
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    found = _text_points(records, rows) + _budget_points(rows, "image", "bits_per_pixel", 1.0) \
        + _budget_points(rows, "audio", "kbps", 1000.0)
    frame = pd.DataFrame(found, columns=COLUMNS)
    frame["budget"] = pd.array(frame["budget"], dtype="Int64")
    return frame


def never_evaluated(records, frame: pd.DataFrame) -> list[str]:
    """Trained runs with no point of their own (no evaluation yet, or none that names them)."""
    named = set(frame["run"]) | set(frame["tokenizer"])
    trained = ("text-bpe", "visual-vq", "audio-codec")
    return [r.name for r in records if not r.error and r.kind in trained and r.name not in named]
