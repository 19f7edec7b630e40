"""Runs page: every run folder with its kind, variant, backend, vocabulary, status, data and key metrics;
filters; pick runs to compare (the same picks as the sidebar's)."""

from __future__ import annotations

import streamlit as st

from tbdash import data, describe, tables


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
    about = [describe.summary(r) for r in good]
    for col in ("variant", "backend", "vocabulary"):
        table.insert(table.columns.get_loc("status"), col, [a[col] for a in about])
    left, mid, right = st.columns([2, 2, 3])
    kinds = left.multiselect("Kind", sorted(table["kind"].dropna().unique()), key="runs_kind_filter")
    statuses = mid.multiselect("Status", sorted(table["status"].unique()), key="runs_status_filter")
    query = right.text_input("Search (name, variant, data, metrics)", key="runs_query")
    shown = table
    if kinds:
        shown = shown[shown["kind"].isin(kinds)]
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if query.strip():
        q = query.strip().lower()
        hay = shown[["run", "kind", "variant", "backend", "data", "key metrics"]].astype(str) \
            .agg(" ".join, axis=1).str.lower()
        shown = shown[hay.str.contains(q, regex=False)]
    st.subheader(f"{len(shown)} of {len(table)} runs")
    # times are in each run's details below; the CSV keeps them
    st.table(tables.formatted(shown.drop(columns=["started", "finished"]).set_index("run")))
    tables.download(shown.set_index("run"), "runs_table", name="runs")

    st.subheader("Compare")
    names = shown["run"].tolist()
    picked_names = [n for n in st.session_state.get("selected_runs") or [] if n in names]
    # the box always shows the current picks (made here or in the sidebar); changing it compares at once
    if st.session_state.get("runs_compare") != picked_names:
        st.session_state["runs_compare"] = picked_names
    chosen = st.multiselect("Runs to compare (the sidebar's picks, on every page)", names, key="runs_compare",
                            on_change=_compare, placeholder="Pick runs to compare")
    st.button("Compare these runs" if chosen else "Pick runs above to compare", disabled=not chosen,
              type="primary", on_click=_compare)
    picked = [r for r in good if r.name in set(st.session_state.get("selected_runs") or [])]
    if picked:
        st.markdown("**Compared:** " + ", ".join(f"`{r.name}` ({r.kind})" for r in picked))
        rows = data.metric_rows(picked)
        rows = rows[rows["language"].isna()] if not rows.empty else rows
        if not rows.empty:
            wide = rows.pivot_table(index=["dataset", "metric"], columns="subject", values="value", aggfunc="first")
            wide = wide.reset_index()
            wide["dataset"] = wide["dataset"].map(data.short_name)
            tables.show(wide.set_index(["dataset", "metric"]), "runs_compare_table", name="compared-runs")
        st.markdown("**Run details**")
        for tab, r in zip(st.tabs([r.name for r in picked]), picked):
            with tab:
                tables.sortable(describe.details(r), f"details_{r.name}", name=f"{r.name}-details",
                                widths={"setting": "medium", "value": "large"})

if bad:
    st.subheader(f"Unreadable run folders ({len(bad)}, skipped)")
    st.table({"folder": [r.name for r in bad], "status": ["corrupt"] * len(bad), "reason": [r.error for r in bad]})
