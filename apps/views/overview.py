"""Rate–distortion across modalities: every evaluated text, image and audio tokenizer on the same conventions
(bits per source unit against fidelity), one panel per modality (see `tbdash.crossmodal` for the formulas)."""

from __future__ import annotations

import streamlit as st

from tbdash import charts, crossmodal, data, tables

runs_dir, records = data.context()
st.title("Rate–distortion across modalities")
good = [r for r in records if not r.error]
picked = set(st.session_state.get("selected_runs") or [])
runs = [r for r in good if r.name in picked] or good
if not runs:
    data.guidance(runs_dir)
    st.stop()
data.pick_note(bool(picked & {r.name for r in good}), runs, "runs")
st.caption("Rate: log2(vocabulary) bits per token over the source units a token covers — bits per byte of "
           "text, per pixel, per second of audio (log axis). Fidelity: higher is better in every panel — "
           "text round-trip rate, image PSNR, audio SI-SNR. Lines join the token budgets of one tokenizer.")
frame = crossmodal.points(runs)
never = crossmodal.never_evaluated(runs, frame)
if frame.empty:
    st.info("No evaluated runs yet: `tokbench eval-text`, `tokbench eval-vq` and `tokbench eval-audio` write "
            "the rows this page draws.")
else:
    present = [m for m in crossmodal.MODALITIES if (frame["modality"] == m).any()]
    cols = st.columns(len(present))
    for col, modality in zip(cols, present):
        _, rate_title, _, fidelity_title = crossmodal.MODALITIES[modality]
        sub = frame[frame["modality"] == modality].copy()
        sub["tokenizer"] = sub["tokenizer"] if sub.groupby("tokenizer")["run"].nunique().max() <= 1 \
            else sub["run"] + "/" + sub["tokenizer"]
        sub = sub.sort_values(["tokenizer", "rate"])
        with col:
            st.markdown(f"**{modality.capitalize()}**: {fidelity_title} vs {rate_title}")
            st.altair_chart(charts.lines(sub.drop(columns=["budget"]) if sub["budget"].isna().all() else sub,
                                         "rate", "fidelity", "tokenizer", f"{rate_title} (log)", fidelity_title,
                                         log_x=True, log_y=False), width="stretch")
    shown = frame.rename(columns={"rate": "bits per unit"})
    shown["dataset"] = shown["dataset"].map(data.short_name)
    tables.show(shown.set_index(["modality", "tokenizer"]), "crossmodal_table", name="rate-distortion-all")
if never:
    st.info("Not evaluated yet, so not drawn: " + ", ".join(f"`{n}`" for n in never))
