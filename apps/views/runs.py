"""Runs page: every run folder with its kind, status, data and key metrics; filters; pick runs to compare."""

from __future__ import annotations

import streamlit as st

from tbdash import data



def _compare() -> None:  # a callback runs before the sidebar widget exists, so it may set its state
    st.session_state["selected_runs"] = list(st.session_state.get("runs_compare") or [])


runs_dir, records = data.context()
st.title("Runs")
st.caption(f"Runs folder: `{runs_dir}`")

good = [r for r in records if not r.error]
bad = [r for r in records if r.error]
if not good:
    data.guidance(runs_dir)
else:
    table = data.runs_table(good)
    left, mid, right = st.columns([2, 2, 3])
    kinds = left.multiselect("Kind", sorted(table["kind"].dropna().unique()), key="runs_kind_filter")
    statuses = mid.multiselect("Status", sorted(table["status"].unique()), key="runs_status_filter")
    query = right.text_input("Search (name, data, metrics)", key="runs_query")
    shown = table
    if kinds:
        shown = shown[shown["kind"].isin(kinds)]
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if query.strip():
        q = query.strip().lower()
        hay = shown[["run", "kind", "data", "key metrics"]].astype(str).agg(" ".join, axis=1).str.lower()
        shown = shown[hay.str.contains(q, regex=False)]
    st.subheader(f"{len(shown)} of {len(table)} runs")
    st.table(shown.set_index("run"))

    st.subheader("Compare")
    names = shown["run"].tolist()
    chosen = st.multiselect("Runs to compare (also in the sidebar)", names, key="runs_compare",
                            default=[n for n in st.session_state.get("selected_runs", []) if n in names])
    st.button("Compare these runs", disabled=not chosen, type="primary", on_click=_compare)
    picked = [r for r in good if r.name in set(st.session_state.get("selected_runs") or [])]
    if picked:
        st.markdown("**Compared:** " + ", ".join(f"`{r.name}` ({r.kind})" for r in picked))
        rows = data.metric_rows(picked)
        if not rows.empty:
            wide = rows.pivot_table(index=["dataset", "metric"], columns="subject", values="value", aggfunc="first")
            st.dataframe(wide, width="stretch")
        with st.expander("Run details"):
            for r in picked:
                st.markdown(f"**{r.name}** · {r.kind} · {r.status}")
                st.json({k: r.info.get(k) for k in ("config", "data", "packages", "started", "finished", "error")
                         if r.info.get(k) is not None}, expanded=False)

if bad:
    st.subheader(f"Unreadable run folders ({len(bad)}, skipped)")
    st.table({"folder": [r.name for r in bad], "status": ["corrupt"] * len(bad), "reason": [r.error for r in bad]})
