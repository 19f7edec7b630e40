"""The tokbench dashboard: compare tokenizers across run folders (text, visual, audio, kernels).

Start it with `tokbench dashboard [RUNS_DIR] [--port N]`, or `streamlit run apps/dashboard.py -- RUNS_DIR`.
It reads run folders through `tokbench.runs` and never writes them; the runs folder is the first script
argument, else $TOKBENCH_RUNS_DIR, else ./runs, and can be changed in the sidebar.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
if str(APP_DIR) not in sys.path:  # the view helpers (apps/tbdash) sit next to this script
    sys.path.insert(0, str(APP_DIR))
if str(APP_DIR.parent) not in sys.path:  # a source checkout without `pip install -e .`
    sys.path.append(str(APP_DIR.parent))

import streamlit as st  # noqa: E402

from tbdash import data  # noqa: E402



def remember_picks(folder: str, names) -> None:
    """Keep each runs folder's picks apart: switching the folder stores the picks of the one left and
    restores those of the one entered (only runs that still exist), so switching back keeps them."""
    store = st.session_state.setdefault("picks_by_folder", {})
    last = st.session_state.get("picks_folder")
    current = list(st.session_state.get("selected_runs") or [])
    if last is not None and last != folder:
        store[last] = current
        current = store.get(folder, [])
    st.session_state["selected_runs"] = [n for n in current if n in names]
    st.session_state["picks_folder"] = folder


st.set_page_config(page_title="tokbench", page_icon=":material/token:", layout="wide")

default_dir = str(data.default_runs_dir())
with st.sidebar:
    st.markdown("## :material/token: tokbench")
    runs_dir = Path(st.text_input("Runs folder", value=default_dir, key="runs_dir",
                                  help="The folder holding run folders (tokbench writes to ./runs by default).")
                    .strip() or default_dir).expanduser()
    records = data.load_all(runs_dir)
    good = [r for r in records if not r.error]
    kinds = {r.name: r.kind for r in good}
    remember_picks(str(runs_dir), kinds)
    st.multiselect("Compare runs", options=list(kinds), key="selected_runs",
                   format_func=lambda n: f"{n} ({kinds[n]})",
                   help="Runs to compare on every page. With none of a page's kind picked, the page shows all of them.")
    st.caption(f"{len(good)} runs in `{runs_dir}`" + (f", {len(records) - len(good)} unreadable" if len(good) < len(records) else ""))

pages = st.navigation([
    st.Page("views/runs.py", title="Runs", icon=":material/table_rows:", default=True),
    st.Page("views/text.py", title="Text", icon=":material/text_fields:"),
    st.Page("views/visual.py", title="Visual", icon=":material/image:"),
    st.Page("views/audio.py", title="Audio", icon=":material/graphic_eq:"),
    st.Page("views/overview.py", title="Rate–distortion", icon=":material/scatter_plot:", url_path="rate-distortion"),
    st.Page("views/kernels.py", title="Kernels", icon=":material/bolt:"),
])
pages.run()
