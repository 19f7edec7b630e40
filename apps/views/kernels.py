"""Kernels page: nearest-code lookup benchmark tables and speedup plots from `bench` runs."""

from __future__ import annotations

import streamlit as st

from tbdash import charts, data, tables

runs_dir, records = data.context()
st.title("Lookup kernels")
runs, from_user = data.selection(records, data.BENCH_KINDS)
if not runs:
    data.guidance(runs_dir, f"No benchmark runs in `{runs_dir}` yet. `tokbench bench-lookup` times the "
                  "nearest-code search (Triton on CUDA, tiled torch elsewhere) against `torch.cdist` + argmin.")
    st.stop()
data.pick_note(from_user, runs, "benchmark runs")
rows = data.metric_rows(runs)
rows = rows[rows["source"] == "report"] if not rows.empty else rows
if rows.empty:
    st.info("These bench runs hold no report rows yet.")
    st.stop()
multi = len(runs) > 1
rows = rows.copy()
rows["method"] = rows["run"] + "/" + rows["subject"] if multi else rows["subject"]
for r in runs:
    cfg = r.info.get("config") or {}
    device = cfg.get("device") or r.info.get("device") or "?"
    st.markdown(f"**{r.name}** · device `{device}` · {r.status} · {(r.info.get('started') or '')[:19]}")

speed = rows[rows["metric"] == "speedup_vs_cdist"]
if not speed.empty:
    st.subheader("Speedup over torch.cdist + argmin (higher is better; 1.0 = parity)")
    st.altair_chart(charts.bars(speed[["dataset", "method", "value"]], "dataset", "value", "method", "speedup ×",
                                rule_at=1.0), width="stretch")
for metric, title in (("seconds", "Time per lookup (s)"), ("speedup_vs_cdist", "Speedup vs cdist"),
                      ("peak_extra_mb", "Peak extra memory (MB)")):
    sub = rows[rows["metric"] == metric]
    if sub.empty:
        continue
    st.subheader(title)
    tables.show(sub.pivot_table(index="dataset", columns="method", values="value", aggfunc="first"), f"kernels_{metric}",
                name=metric)
other = rows[~rows["metric"].isin(["seconds", "speedup_vs_cdist", "peak_extra_mb"])]
if not other.empty:
    with st.expander("Other measurements"):
        tables.show(other.pivot_table(index=["dataset", "metric"], columns="method", values="value", aggfunc="first"),
                    "kernels_other", name="other-measurements")
