"""Tables as the dashboard shows them: one number format, one empty-cell marker, and a CSV download each.

Every table on every page goes through `show`: the cells are formatted by `tbdash.data.fmt` (integers as
integers, four significant digits, EMPTY for a missing value), so no page shows "nan" or "None", and the
download button under it writes the unformatted numbers as CSV (what a paper's table is built from).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from tbdash.data import EMPTY, fmt


def formatted(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell (and every index level) as display text; column names are kept."""
    out = frame.copy()
    for col in out.columns:
        out[col] = [fmt(v) for v in out[col].tolist()]
    if isinstance(out.index, pd.MultiIndex):
        levels = [_index_level(out.index.get_level_values(k)) for k in range(out.index.nlevels)]
        out.index = pd.MultiIndex.from_arrays(levels, names=out.index.names)
    elif not isinstance(out.index, pd.RangeIndex):
        out.index = pd.Index(_index_level(out.index), name=out.index.name)
    return out


def _index_level(values: pd.Index) -> list:
    """Index labels stay what they are (so a row can be looked up by its run name or budget); integral
    numbers become ints and missing ones EMPTY."""
    out = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            out.append(EMPTY)
        elif isinstance(v, float) and v.is_integer():
            out.append(int(v))
        else:
            out.append(v)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table's raw values as UTF-8 CSV (index included when it carries names)."""
    keep_index = not isinstance(frame.index, pd.RangeIndex)
    return frame.to_csv(index=keep_index).encode("utf-8")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "table"


def show(frame: pd.DataFrame, key: str, *, name: str | None = None, interactive: bool = False,
         widths: dict[str, str] | None = None, height: int | None = None) -> pd.DataFrame:
    """Draw `frame` formatted (st.table, or a sortable st.dataframe when `interactive`), then a CSV download
    of its raw values. Returns the displayed (formatted) frame."""
    shown = formatted(frame)
    if interactive:
        config: dict[str, Any] = {c: st.column_config.TextColumn(c, width=w) for c, w in (widths or {}).items()}
        kwargs = {"height": height} if height else {}
        st.dataframe(shown, width="stretch", column_config=config or None,
                     hide_index=isinstance(frame.index, pd.RangeIndex), **kwargs)
    else:
        st.table(shown)
    st.download_button("CSV", csv_bytes(frame), file_name=f"{slug(name or key)}.csv", mime="text/csv",
                       key=f"csv_{key}", icon=":material/download:", help="Download this table's values as CSV")
    return shown


def sortable(frame: pd.DataFrame, key: str, *, name: str | None = None, widths: dict[str, str] | None = None,
             height: int | None = None) -> None:
    """A sortable table that keeps numbers numeric (so a click on a header sorts by value, not by text):
    numeric columns are shown through a NumberColumn format, missing cells as EMPTY."""
    config: dict[str, Any] = {}
    frame = frame.copy()
    for col in frame.columns:  # the grid would write "None" in an empty numeric cell: such columns go as text
        if pd.api.types.is_numeric_dtype(frame[col]) and frame[col].isna().any():
            frame[col] = [fmt(v) for v in frame[col].tolist()]
    for col in frame.columns:
        if pd.api.types.is_bool_dtype(frame[col]):
            continue
        if pd.api.types.is_integer_dtype(frame[col]):
            config[col] = st.column_config.NumberColumn(col, format="%d")
        elif pd.api.types.is_float_dtype(frame[col]):
            config[col] = st.column_config.NumberColumn(col, format="%.4g")
    for col, width in (widths or {}).items():
        config[col] = st.column_config.TextColumn(col, width=width) if col not in config else config[col]
    kwargs = {"height": height} if height else {}
    st.dataframe(frame, width="stretch", column_config=config, hide_index=True, **kwargs)
    st.download_button("CSV", csv_bytes(frame.reset_index(drop=True)), file_name=f"{slug(name or key)}.csv",
                       mime="text/csv", key=f"csv_{key}", icon=":material/download:",
                       help="Download this table's values as CSV")


__all__ = ["EMPTY", "csv_bytes", "formatted", "show", "sortable"]


def download(frame: pd.DataFrame, key: str, *, name: str | None = None) -> None:
    """Only the CSV button, for a table drawn some other way."""
    st.download_button("CSV", csv_bytes(frame), file_name=f"{slug(name or key)}.csv", mime="text/csv",
                       key=f"csv_{key}", icon=":material/download:", help="Download this table's values as CSV")
