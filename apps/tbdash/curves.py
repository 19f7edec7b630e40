"""Training curves from log.jsonl, one chart per chosen metric with a line per run (visual and audio pages)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tbdash import charts, data


def training_curves(runs, preferred: tuple[str, ...], key: str) -> None:
    logs = {r.name: data.read_log(r) for r in runs}
    logs = {n: f for n, f in logs.items() if not f.empty and "step" in f.columns}
    if not logs:
        st.info("No training logs (log.jsonl) in these runs.")
        return
    columns = sorted({c for f in logs.values() for c in f.columns if c != "step"})
    default = [c for c in preferred if c in columns] or columns[:2]
    for metric in st.multiselect("Curves", columns, default=default, key=key):
        long = pd.concat([f[["step", metric]].rename(columns={metric: "value"}).assign(run=n)
                          for n, f in logs.items() if metric in f.columns]).dropna()
        st.markdown(f"**{metric}**")
        st.altair_chart(charts.lines(long, "step", "value", "run", "step", metric), width="stretch")
