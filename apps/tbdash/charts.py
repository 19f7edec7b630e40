"""Altair chart builders: each takes the tidy frame it draws, so tests can check the data behind a chart."""

from __future__ import annotations

import altair as alt
import pandas as pd

SORTS = ("script", "premium", "language")


def premium_order(frame: pd.DataFrame, sort: str) -> list[str]:
    """Language order for the premium chart: grouped by script (then premium), by mean premium, or by name."""
    per = frame.groupby("language").agg(value=("value", "mean"), script=("script", "first")).reset_index()
    per["script"] = per["script"].fillna("")
    if sort == "script":
        per = per.sort_values(["script", "value", "language"])
    elif sort == "premium":
        per = per.sort_values(["value", "language"])
    else:
        per = per.sort_values("language")
    return per["language"].tolist()


def premiums(frame: pd.DataFrame, order: list[str], title: str) -> alt.LayerChart:
    """Grouped bars, one group per language and one bar per tokenizer, with the English = 1.0 line."""
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("language:N", sort=order, title="language"),
        xOffset=alt.XOffset("subject:N"),
        y=alt.Y("value:Q", title=title),
        color=alt.Color("subject:N", title="tokenizer"),
        tooltip=["subject", "language", "script", alt.Tooltip("value:Q", format=".3f")],
    )
    rule = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="black", strokeDash=[4, 3]).encode(y="y:Q")
    return alt.layer(bars, rule).properties(height=320)


def lines(frame: pd.DataFrame, x: str, y: str, color: str, x_title: str, y_title: str,
          log_x: bool = False) -> alt.Chart:
    """Points joined by lines, one line per `color` value (rate-distortion curves, training curves)."""
    scale = alt.Scale(type="log") if log_x else alt.Undefined
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=scale),
        y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color(f"{color}:N"),
        tooltip=[c for c in frame.columns if c in (x, y, color, "budget", "step")],
    ).properties(height=300)


def bars(frame: pd.DataFrame, x: str, y: str, color: str, y_title: str, rule_at: float | None = None):
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X(f"{x}:N", title=None, axis=alt.Axis(labelAngle=0, labelLimit=500)), xOffset=alt.XOffset(f"{color}:N"), y=alt.Y(f"{y}:Q", title=y_title),
        color=alt.Color(f"{color}:N"), tooltip=[x, color, alt.Tooltip(f"{y}:Q", format=".3g")])
    if rule_at is None:
        return chart.properties(height=300)
    rule = alt.Chart(pd.DataFrame({"y": [rule_at]})).mark_rule(color="black", strokeDash=[4, 3]).encode(y="y:Q")
    return alt.layer(chart, rule).properties(height=300)


def histogram(frame: pd.DataFrame, x: str, y: str, title: str) -> alt.Chart:
    return alt.Chart(frame).mark_bar().encode(x=alt.X(f"{x}:Q", title=title), y=alt.Y(f"{y}:Q", title="count"),
                                              tooltip=[x, y]).properties(height=220)


def rules(frame: pd.DataFrame, y: str, label: str) -> alt.Chart:
    """Dashed horizontal reference lines (baselines) with their label on hover."""
    return alt.Chart(frame).mark_rule(strokeDash=[4, 3], color="gray").encode(y=f"{y}:Q", tooltip=[label, y])
