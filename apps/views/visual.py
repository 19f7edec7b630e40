"""Visual page: reconstruction grids, rate–distortion (PSNR/SSIM/rFID vs bits per image), codebook usage,
training curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from tbdash import charts, curves, data, describe, media, tables
from tokbench.metrics import codebook

RATE_METRICS = ("bits_per_image", "bits_per_pixel", "tokens_per_image", "bits_per_token")
CODEBOOK_WORDS = ("usage", "perplexity", "dead", "entropy", "density", "utilization")

runs_dir, records = data.context()
st.title("Visual tokenizers")
runs, from_user = data.selection(records, data.VISUAL_KINDS)
if not runs:
    data.guidance(runs_dir, f"No visual runs in `{runs_dir}` yet. Train an image tokenizer with "
                  "`tokbench fit-vq --family grid2d --data builtin:fashion-mnist`, then evaluate it with "
                  "`tokbench eval-vq runs/<RUN>` to get reconstructions and rate–distortion numbers.")
    st.stop()
data.pick_note(from_user, runs, "visual runs")


def _label(record) -> str:
    """`name` (family and our options; the images its evaluation used, which its codebook figures depend on)."""
    evaluations = (record.report or {}).get("evaluations") if isinstance(record.report, dict) else None
    seen = [f"{e['images']:,} images of {name}" for name, e in (evaluations or {}).items()
            if isinstance(e, dict) and isinstance(e.get("images"), int)]
    return f"`{record.name}` ({describe.summary(record)['variant'] or record.kind}" + \
        (f"; evaluated on {', '.join(seen)}" if seen else "") + ")"


st.markdown("**Runs:** " + " · ".join(_label(r) for r in runs))

tab_rec, tab_rd, tab_cb, tab_train = st.tabs(["Reconstructions", "Rate–distortion", "Codebook usage", "Training"])


def _recon(record) -> dict | None:
    path = data.run_file(record, "artifacts", "eval", "reconstructions.npz")
    if path is None:
        return None
    try:
        return data.read_npz(str(path), data.mtime(path))
    except (OSError, ValueError) as exc:
        st.warning(f"{record.name}: cannot read {path.name} ({exc})")
        return None


def _model_info(record) -> dict:
    from tokbench.errors import TokbenchError
    from tokbench.runs import read_json

    path = data.run_file(record, "artifacts", "model.json")
    try:
        return read_json(path) if path is not None else {}
    except TokbenchError:
        return {}


# ---------------------------------------------------------------------------------------------- reconstructions
with tab_rec:
    recs = {r.name: a for r in runs if (a := _recon(r)) is not None and "original" in a}
    if not recs:
        st.info("No reconstructions yet: `tokbench eval-vq runs/<RUN>` writes artifacts/eval/reconstructions.npz.")
    else:
        most = max(len(a["original"]) for a in recs.values())
        count = st.slider("Images", 1, min(most, 12), min(most, 6), key="recon_count")
        first = next(iter(recs.values()))["original"]
        scale = media.upscale_for(first.shape[1])
        width = first.shape[2] * scale
        st.subheader("Original vs each tokenizer (largest budget)")
        same = {n: a for n, a in recs.items() if a["original"].shape == first.shape
                and np.array_equal(a["original"][:count], first[:count])}
        cols = st.columns(1 + len(same))
        cols[0].image(media.column(first, count, scale), width=width, caption="original")
        for col, (name, arrays) in zip(cols[1:], same.items()):
            ks = media.budgets(arrays)
            if ks:
                col.image(media.column(arrays[f"budget_{ks[-1]}"], count, scale), width=width, caption=f"{name} · {ks[-1]} token{'s' * (ks[-1] != 1)}")
        if len(same) < len(recs):
            st.caption("Not shown side by side (evaluated on other images): "
                       + ", ".join(n for n in recs if n not in same))
        for name, arrays in recs.items():
            ks = media.budgets(arrays)
            if len(ks) < 2:
                continue
            strip = [k for k in ks if k & (k - 1) == 0] or ks
            if ks[-1] not in strip:
                strip.append(ks[-1])
            st.subheader(f"{name}: reconstructions at {', '.join(map(str, strip))} tokens")
            cols = st.columns(1 + len(strip))
            cols[0].image(media.column(arrays["original"], count, scale), width=width, caption="original")
            for col, k in zip(cols[1:], strip):
                col.image(media.column(arrays[f"budget_{k}"], count, scale), width=width, caption=f"{k} token{'s' * (k != 1)}")

# ---------------------------------------------------------------------------------------------- rate-distortion
with tab_rd:
    all_rows = data.metric_rows(runs)
    rows = all_rows[all_rows["budget"].notna()] if not all_rows.empty else all_rows
    evaluated = set(rows["run"]) if not rows.empty else set()
    never = [r.name for r in runs if r.kind == "visual-vq" and r.name not in evaluated]
    if rows.empty:
        st.info("No per-budget evaluation rows yet: run `tokbench eval-vq runs/<RUN>`.")
    else:
        rows = rows.copy()
        rows["budget"] = rows["budget"].astype(int)
        multi = rows.groupby("subject")["run"].nunique().max() > 1
        rows["tokenizer"] = rows["run"] + "/" + rows["subject"] if multi else rows["subject"]
        keys = ["tokenizer", "run", "dataset", "budget"]
        rate = rows[rows["metric"] == "bits_per_image"][keys + ["value"]].rename(columns={"value": "bits_per_image"})
        if rate.empty:  # fall back to budget x bits per token from the model description
            bpt = {r.name: _model_info(r).get("bits_per_token") for r in runs}
            rate = rows[keys].drop_duplicates()
            rate["bits_per_image"] = [b * bpt[r] if bpt.get(r) else np.nan for b, r in zip(rate["budget"], rate["run"])]
        quality = [m for m in rows["metric"].unique() if m not in RATE_METRICS
                   and not any(w in m for w in CODEBOOK_WORDS)]
        quality.sort(key=lambda m: (not m.startswith("psnr"), not m.startswith("ssim"), "fid" not in m, m))
        metric = st.selectbox("Quality measure", quality, key="rd_metric")
        frame = rows[rows["metric"] == metric][keys + ["value"]].merge(rate, on=keys, how="left")
        frame = frame.dropna(subset=["value", "bits_per_image"]).sort_values(["tokenizer", "bits_per_image"])
        st.subheader(f"{metric} vs bits per image")
        if frame.empty:
            st.info(f"No {metric} values with a known rate.")
        else:
            refs = all_rows[(all_rows["metric"] == metric) & all_rows["budget"].isna()
                            & all_rows["run_kind"].isin(data.VISUAL_KINDS) & (all_rows["source"] == "report")]
            refs = refs.drop_duplicates(["subject", "dataset"])[["subject", "value"]].dropna()
            chart = charts.lines(frame, "bits_per_image", "value", "tokenizer", "bits per image (log)", metric,
                                 log_x=True, log_y=False, extra_y=refs["value"].tolist())
            if not refs.empty:  # reference rows without a budget (e.g. the mean-image baseline) as dashed lines
                chart = chart + charts.rules(refs, "value", "subject")
                st.caption("Dashed: " + "; ".join(f"{s} = {data.fmt(v)}" for s, v in refs.itertuples(index=False)))
            st.altair_chart(chart, width="stretch")
            long = frame[["tokenizer", "budget", "bits_per_image", "value"]].rename(columns={"value": metric})
            tables.show(long.set_index(["tokenizer", "budget"]), "rd_table", name=f"rate-distortion-{metric}")
    if never:
        st.info("Not evaluated yet (no rate–distortion points): "
                + ", ".join(f"`{n}` (`tokbench eval-vq runs/{n}`)" for n in never))
    unavailable: dict[tuple[str, str], list[str]] = {}
    for run, m, reason in data.unavailable(runs):  # one warning per metric and reason, naming its runs
        unavailable.setdefault((m, reason), []).append(run)
    for (m, reason), names in unavailable.items():
        st.warning(f"{m} unavailable for {', '.join(names)} — {reason}")

# ---------------------------------------------------------------------------------------------- codebook
with tab_cb:
    rows = data.metric_rows(runs)
    cb = rows[rows["metric"].str.contains("|".join(CODEBOOK_WORDS), na=False)] if not rows.empty else rows
    if not cb.empty:
        st.subheader("Codebook statistics")
        cb = cb.copy()
        cb["budget"] = pd.array([None if b != b or b is None else int(b) for b in cb["budget"]], dtype="Int64")
        index = ["run", "budget"] if cb["budget"].notna().any() else ["run"]
        wide = cb.pivot_table(index=index, columns="metric", values="value", aggfunc="first")
        tables.show(wide, "codebook_table", name="codebook-statistics")
    shown = False
    for r in runs:
        arrays = _recon(r) or {}
        codes = {k: v for k, v in arrays.items() if k.startswith("codes")}
        for key, ids in codes.items():
            ids = np.asarray(ids).ravel().astype(np.int64)
            if ids.size == 0 or ids.min() < 0:
                continue
            bits = (_model_info(r) or {}).get("bits_per_token")
            size = round(2 ** bits) if bits and bits < 31 else 0  # the codebook size, when model.json says it
            counts = codebook.counts_from_ids(ids, max(size, int(ids.max()) + 1))
            ranked = np.sort(counts)[::-1]
            frame = pd.DataFrame({"code rank": np.arange(1, len(ranked) + 1), "count": ranked.astype(np.int64)})
            used = len(counts) - codebook.dead_codes(counts)
            st.markdown(f"**{r.name}** · `{key}`: {used:,} of {len(counts):,} codes used")
            st.altair_chart(charts.histogram(frame, "code rank", "count", "codes, most used first"),
                            width="stretch")
            shown = True
    logs = {r.name: data.read_log(r) for r in runs}
    usage = [(n, f) for n, f in logs.items() if "usage" in f.columns and "step" in f.columns]
    if usage:
        long = pd.concat([f[["step", "usage"]].assign(run=n) for n, f in usage]).dropna()
        st.subheader("Codebook usage during training")
        st.altair_chart(charts.lines(long, "step", "usage", "run", "step", "fraction of codes used", log_y=False),
                        width="stretch")
        shown = True
    if cb.empty and not shown:
        st.info("No codebook statistics yet: training logs usage per step, `tokbench eval-vq` per budget.")

# ---------------------------------------------------------------------------------------------- training
with tab_train:
    curves.training_curves(runs, ("loss", "recon_loss", "perplexity"), key="visual_curves")
