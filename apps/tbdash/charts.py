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


def domain(values, log: bool = False, pad: float = 0.06) -> list[float]:
    """An axis domain that holds every value with a margin (`pad` of the span, or a factor on a log axis), so
    no point sits on or past the plot's edge; a single value gets a span of its own."""
    import math

    vals = [float(v) for v in values if v is not None and math.isfinite(float(v)) and (not log or float(v) > 0)]
    if not vals:
        return [0.0, 1.0] if not log else [1.0, 10.0]
    lo, hi = min(vals), max(vals)
    if log:
        a, b = math.log10(lo), math.log10(hi)
        margin = max((b - a) * pad, 0.05)
        return [10 ** (a - margin), 10 ** (b + margin)]
    span = hi - lo
    margin = span * pad if span > 0 else max(abs(hi) * 0.1, 0.5)
    return [lo - margin, hi + margin]


def wants_log(values) -> bool:
    """A log axis when every value is positive and they span more than two decades."""
    vals = [float(v) for v in values if v == v]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 100


def _axis(values, log: bool) -> alt.Axis:
    """Tick labels: whole numbers (steps, budgets) without fractions, others with at most 4 digits."""
    vals = [float(v) for v in values if v == v]
    if not log and vals and all(v.is_integer() for v in vals):
        return alt.Axis(format=",d", tickMinStep=1)
    return alt.Axis(format="~g" if log else ",.4~g")


def lines(frame: pd.DataFrame, x: str, y: str, color: str, x_title: str, y_title: str,
          log_x: bool = False, log_y: bool | None = None, extra_y=()) -> alt.Chart:
    """Points joined by lines, one line per `color` value (rate-distortion curves, training curves).

    Both axes get an explicit domain holding every point (`domain`), so nothing is drawn outside the plot;
    each line has its own point shape and dash as well as its colour, so two lines on top of each other stay
    apart; y goes logarithmic when the values span more than two decades (`wants_log`) unless `log_y` says.
    `extra_y`: values drawn on top (reference lines) that the y domain must hold too."""
    log_y = wants_log(frame[y]) if log_y is None else log_y
    x_scale = alt.Scale(type="log" if log_x else "linear", domain=domain(frame[x], log_x), nice=False,
                        zero=False)
    y_scale = alt.Scale(type="log" if log_y else "linear", domain=domain([*frame[y], *extra_y], log_y), nice=False,
                        zero=False)
    tip = [alt.Tooltip(f"{c}:Q", format=",.4~g") if pd.api.types.is_float_dtype(frame[c]) else c
           for c in frame.columns if c in (x, y, color, "budget", "step", "dataset")]
    return alt.Chart(frame).mark_line(point={"size": 70, "filled": True}, strokeWidth=2).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=x_scale, axis=_axis(frame[x], log_x)),
        y=alt.Y(f"{y}:Q", title=y_title, scale=y_scale, axis=alt.Axis(format="~g" if log_y else ",.4~g")),
        color=alt.Color(f"{color}:N", title=color),
        shape=alt.Shape(f"{color}:N", title=color),
        strokeDash=alt.StrokeDash(f"{color}:N", title=color),
        tooltip=tip,
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
    """Bars of `y` per integer `x` (code ranks), on axes that start at the first rank and at zero count."""
    n = int(frame[x].max()) if len(frame) else 1
    top = float(frame[y].max()) if len(frame) else 1.0
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X(f"{x}:Q", title=title, scale=alt.Scale(domain=[0.5, n + 0.5], nice=False, zero=False),
                axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y(f"{y}:Q", title="count", scale=alt.Scale(domain=[0, max(top, 1.0) * 1.05], nice=False),
                axis=alt.Axis(format=",d", tickMinStep=1)),
        tooltip=[x, y]).properties(height=220)


def rules(frame: pd.DataFrame, y: str, label: str) -> alt.Chart:
    """Dashed horizontal reference lines (baselines) with their label on hover."""
    return alt.Chart(frame).mark_rule(strokeDash=[4, 3], color="gray").encode(y=f"{y}:Q", tooltip=[label, y])


def spectrogram(frame: pd.DataFrame, title: str) -> alt.Chart:
    """A spectrogram with labelled axes (time in s, frequency in kHz) and a dB colour scale (viridis)."""
    return alt.Chart(frame, title=alt.Title(title, fontSize=11)).mark_rect().encode(
        x=alt.X("t0:Q", title="time (s)", scale=alt.Scale(domain=[0, float(frame["t1"].max())], nice=False)),
        x2="t1:Q",
        y=alt.Y("f0:Q", title="kHz", scale=alt.Scale(domain=[0, float(frame["f1"].max())], nice=False)),
        y2="f1:Q",
        color=alt.Color("db:Q", title="dB", scale=alt.Scale(scheme="viridis")),
        tooltip=[alt.Tooltip("t0:Q", title="s", format=".2f"), alt.Tooltip("f0:Q", title="kHz", format=".1f"),
                 alt.Tooltip("db:Q", format=".0f")],
    ).properties(height=200)
