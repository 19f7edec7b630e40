"""Text page: metrics across tokenizers, token premiums per language, live segmentation side by side,
numbers, a vocabulary browser and a vocabulary diff."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import streamlit as st

from tbdash import charts, data, spans
from tokbench.metrics import premiums

SAMPLE = ("Tokenizers split “naïve” café prose, snake_case_names, 1234567 and 3.14159 differently.\n"
          "\tIndented: 日本語のテキスト, русский текст, ελληνικά, العربية 😀")
PREFERRED = ("bytes_per_token", "chars_per_token", "tokens_per_char", "tokens_per_word", "fertility",
             "fertility_words", "fertility_isolated", "continued_words", "vocab_utilization", "round_trip_rate",
             "canonicality_rate", "renyi_efficiency", "shannon_entropy_bits", "tokens")


def _stamp(spec: str) -> int:
    path = Path(spec.split(":", 1)[1] if spec.split(":", 1)[0] in ("hf", "spm", "tiktoken") else spec)
    path = Path(str(path).split("#", 1)[0])
    return max(data.mtime(path / "artifacts"), data.mtime(path))


def _tokenizers(runs: list) -> dict[str, object]:
    """name -> tokenizer, for the compared text-bpe runs, the tokenizers text-eval runs name, and extra specs."""
    specs: list[tuple[str | None, str]] = []  # (name, spec); None: use the tokenizer's own name, as eval-text does
    for r in runs:
        if r.kind == "text-bpe":
            specs.append((r.name, str(r.path)))
        specs += [(None, spec) for spec in (r.info.get("config") or {}).get("tokenizers") or [] if isinstance(spec, str)]
    extra = st.session_state.get("extra_tokenizers", "")
    specs += [(spec, spec) for spec in (s.strip() for s in extra.replace("\n", ",").split(",")) if spec]
    out: dict[str, object] = {}
    loaded: set[str] = set()
    for name, spec in specs:
        key = str(Path(spec).resolve()) if Path(spec).exists() else spec
        if key in loaded:
            continue
        try:
            tok = data.tokenizer(spec, _stamp(spec))
        except Exception as exc:  # noqa: BLE001 - a tokenizer that will not load is reported, not fatal
            st.warning(f"{name or spec}: cannot load tokenizer ({exc})")
            continue
        loaded.add(key)
        out.setdefault(name or tok.name, tok)
    return out


runs_dir, records = data.context()
st.title("Text tokenizers")
runs, from_user = data.selection(records, data.TEXT_KINDS)
st.text_input("More tokenizers to compare (comma separated: hf:PATH, spm:PATH, tiktoken:PATH, or a run folder)",
              key="extra_tokenizers")
if not runs and not st.session_state.get("extra_tokenizers"):
    data.guidance(runs_dir, f"No text runs in `{runs_dir}` yet. Train one with `tokbench train-bpe` (or `make demo`), "
                  "compare several with `tokbench eval-text`, or name a tokenizer file above.")
    st.stop()
if runs:
    data.pick_note(from_user, runs, "text runs")
toks = _tokenizers(runs)
if toks:
    st.markdown("**Tokenizers:** " + " · ".join(f"`{n}` ({t.vocab_size:,} tokens)" for n, t in toks.items()))

tab_metrics, tab_prem, tab_seg, tab_num, tab_vocab, tab_diff = st.tabs(
    ["Metrics", "Token premiums", "Segmentation", "Numbers", "Vocabulary", "Vocabulary diff"])

# ---------------------------------------------------------------------------------------------- metrics
with tab_metrics:
    rows = data.metric_rows(runs)
    plain = rows[rows["language"].isna() & (rows["dataset"] != "training")] if not rows.empty else rows
    if plain.empty:
        st.info("The compared runs hold no text metrics yet (`tokbench train-bpe` evaluates on held-out text; "
                "`tokbench eval-text` compares tokenizers on any corpora).")
    else:
        datasets = sorted(plain["dataset"].dropna().unique())
        ds = st.selectbox("Dataset", datasets, key="metrics_dataset")
        sub = plain[plain["dataset"] == ds]
        wide = sub.pivot_table(index="subject", columns="metric", values="value", aggfunc="first")
        order = [m for m in PREFERRED if m in wide.columns] + sorted(c for c in wide.columns if c not in PREFERRED)
        wide = wide[order]
        st.subheader(f"Metrics on {data.short_name(ds)}")
        st.table(wide.map(data.fmt))
        metric = st.selectbox("Chart a metric", order, key="metrics_chart_metric")
        chart_frame = wide[[metric]].reset_index().rename(columns={metric: "value"}).dropna()
        chart_frame["dataset"] = ds
        st.altair_chart(charts.bars(chart_frame, "subject", "value", "subject", metric), width="stretch")

# ---------------------------------------------------------------------------------------------- premiums
with tab_prem:
    rows = data.metric_rows(runs)
    langs = rows[rows["language"].notna()].copy() if not rows.empty else rows
    if langs.empty:
        st.info("No per-language rows yet. `tokbench eval-text RUN ...` on a parallel corpus (the default includes "
                "`builtin:parallel`) reports token premiums per language, with English = 1.0.")
    else:
        metrics = sorted(langs["metric"].unique(), key=lambda m: ("premium" not in m, m))
        left, mid, right = st.columns(3)
        metric = left.selectbox("Measure", metrics, key="premium_metric")
        datasets = sorted(langs.loc[langs["metric"] == metric, "dataset"].dropna().unique()) or ["—"]
        ds = mid.selectbox("Parallel corpus", datasets, key="premium_dataset")
        sort = right.radio("Sort languages by", charts.SORTS, horizontal=True, key="premium_sort")
        frame = langs[(langs["metric"] == metric) & ((langs["dataset"] == ds) | (ds == "—"))]
        frame = frame[["subject", "language", "script", "value"]].dropna(subset=["value"])
        scripts = sorted(frame["script"].dropna().unique())
        keep = st.multiselect("Scripts", scripts, key="premium_scripts")
        if keep:
            frame = frame[frame["script"].isin(keep)]
        order = charts.premium_order(frame, sort)
        st.subheader(f"{metric} per language (English = 1.0)")
        st.altair_chart(charts.premiums(frame, order, metric), width="stretch")
        spread = pd.DataFrame({subject: premiums.spread(group["value"].tolist())
                               for subject, group in frame.groupby("subject")}).T
        spread = spread.rename(columns={"max_over_min": "max/min"})
        st.markdown(f"**Spread across {frame['language'].nunique()} languages** (lower is fairer)")
        st.table(spread[["min", "max", "max/min", "cv"]].map(data.fmt))
        with st.expander("All values"):
            st.dataframe(frame.pivot_table(index=["script", "language"], columns="subject", values="value")
                         .reindex(order, level=1), width="stretch")

# ---------------------------------------------------------------------------------------------- segmentation
with tab_seg:
    text = st.text_area("Text to segment", value=SAMPLE, key="seg_text", height=110)
    if not toks:
        st.info("No tokenizer to run: compare a text-bpe run or name a tokenizer file above.")
    elif text:
        segs = [spans.segment(tok, text, name) for name, tok in toks.items()]
        rings = spans.disagreements(segs)
        st.caption("Colour follows the token id; hover a token for its id and bytes. · is a space, → a tab, "
                   "↵ a newline, ⟨E6 97⟩ a token holding part of a UTF-8 character. "
                   + ("Red rings mark tokens the other tokenizers split differently." if len(segs) > 1 else ""))
        n_bytes = len(text.encode("utf-8"))
        cols = st.columns(len(segs)) if len(segs) <= 3 else [st.container() for _ in segs]
        for col, seg, ringed in zip(cols, segs, rings):
            with col:
                st.markdown(f"#### {seg.name}")
                st.caption(f"{len(seg.spans)} tokens · {n_bytes / max(len(seg.spans), 1):.2f} bytes/token"
                           + (f" · {len(ringed)} split differently" if len(segs) > 1 else "")
                           + ("" if seg.aligned else " · token bytes do not spell the text (transformed); not compared"))
                st.markdown(spans.segmentation_html(seg, ringed), unsafe_allow_html=True)
                with st.expander("ids"):
                    st.code(" ".join(str(s.id) for s in seg.spans), language=None)

# ---------------------------------------------------------------------------------------------- numbers
with tab_num:
    raw = st.text_area("Numbers, one a line", value="\n".join(spans.DEFAULT_NUMBERS), key="numbers_text", height=150)
    lead = st.checkbox("Encode with a leading space (as inside running text)", key="numbers_space")
    numbers = [n.strip() for n in raw.splitlines() if n.strip()]
    if toks and numbers:
        table = {"number": numbers, "digits": [sum(c.isdigit() for c in n) for n in numbers]}
        for name, tok in toks.items():
            splits = [spans.split_label(tok, (" " if lead else "") + n) for n in numbers]
            table[name] = [label for label, _ in splits]
            table[f"{name} tokens"] = [count for _, count in splits]
        frame = pd.DataFrame(table)
        st.subheader("How each tokenizer splits numbers")
        st.table(frame.set_index("number"))

# ---------------------------------------------------------------------------------------------- vocabulary
with tab_vocab:
    if not toks:
        st.info("No tokenizer to browse.")
    else:
        name = st.selectbox("Tokenizer", list(toks), key="vocab_tok")
        rows = pd.DataFrame(data.vocab_table(name, toks[name]))
        c1, c2, c3 = st.columns([2, 2, 2])
        query = c1.text_input("Search tokens", key="vocab_query")
        sort = c2.selectbox("Sort by", ["id", "length", "frequency", "merge rank", "script"], key="vocab_sort")
        scripts = c3.multiselect("Scripts", sorted(rows["script"].unique()), key="vocab_scripts")
        if sort == "frequency":
            sample = st.text_input("Count frequencies on (held-out split)", value="builtin:english",
                                   key="vocab_freq_corpus")
            try:
                counts = data.token_counts(name, toks[name], sample)
            except Exception as exc:  # noqa: BLE001 - bad corpus spec: say it, keep the table
                st.warning(f"cannot count on {sample}: {exc}")
                counts = Counter()
            rows["frequency"] = rows["id"].map(lambda i: counts.get(i, 0))
        shown = rows
        if query:
            shown = shown[shown["token"].str.contains(query, regex=False)
                          | shown["token"].str.contains(spans.visible(query), regex=False)]
        if scripts:
            shown = shown[shown["script"].isin(scripts)]
        key = {"id": ("id", True), "length": ("bytes", False), "frequency": ("frequency", False),
               "merge rank": ("merge_rank", True), "script": ("script", True)}[sort]
        shown = shown.sort_values([key[0], "id"], ascending=[key[1], True], na_position="last")
        st.subheader(f"{len(shown):,} of {len(rows):,} tokens of {name}")
        st.dataframe(shown.drop(columns=["raw"]).head(2000), width="stretch", hide_index=True)
        by_script = rows.groupby("script").size().sort_values(ascending=False).reset_index(name="tokens")
        st.caption("Tokens per script: " + ", ".join(f"{s} {n}" for s, n in by_script.itertuples(index=False)))

# ---------------------------------------------------------------------------------------------- diff
with tab_diff:
    if len(toks) < 2:
        st.info("Pick two text runs in the sidebar (or name another tokenizer above) to diff their vocabularies.")
    else:
        names = list(toks)
        left, right = st.columns(2)
        a = left.selectbox("A", names, index=0, key="diff_a")
        b = right.selectbox("B", names, index=1, key="diff_b")
        diff = data.vocab_diff(a, toks[a], b, toks[b])
        m1, m2, m3 = st.columns(3)
        m1.metric(f"only in {a}", f"{len(diff.only_a):,}")
        m2.metric(f"only in {b}", f"{len(diff.only_b):,}")
        m3.metric("shared", f"{diff.shared:,}")
        cols = ["id", "token", "bytes", "script", "merge_rank"]
        l2, r2 = st.columns(2)
        for col, name, only in ((l2, a, diff.only_a), (r2, b, diff.only_b)):
            by_raw = {r["raw"]: r for r in data.vocab_table(name, toks[name])}
            rows = sorted((by_raw[x] for x in only if x in by_raw), key=lambda r: (-r["bytes"], r["id"]))
            col.markdown(f"**Only in {name}** (longest first)")
            col.dataframe(pd.DataFrame(rows, columns=cols + ["raw"])[cols].head(500), hide_index=True)
