"""Text page: metrics across tokenizers, token premiums per language, live segmentation side by side,
numbers, a vocabulary browser and a vocabulary diff."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import streamlit as st

from tbdash import charts, data, describe, spans, tables, vocab
import tokbench
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
    skipped: list[str] = []
    for r in runs:  # what run files name is opened only when it lies under the runs folder, without symlinks
        if r.kind == "text-bpe":
            safe = data.safe_spec(runs_dir, str(r.path.absolute()))
            if safe:  # statements, not expressions: Streamlit's magic would print an expression's None
                specs.append((r.name, safe))
            else:
                skipped.append(r.name)
        named = (r.info.get("config") or {}).get("tokenizers") or []
        for spec in named if isinstance(named, list) else []:
            if isinstance(spec, str):
                safe = data.safe_spec(runs_dir, spec)
                if safe:
                    specs.append((None, safe))
                else:
                    skipped.append(spec)
    if skipped:
        st.caption("Not opened (outside the runs folder or behind a symlink; add them above by hand if you trust "
                   "them): " + ", ".join(f"`{s}`" for s in skipped[:8]) + (" …" if len(skipped) > 8 else ""))
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
    def _size(t) -> str:  # the reached vocabulary, and the requested one when the run fell short of it
        req = tokbench.requested_vocab(t)
        return f"{t.vocab_size:,} tokens" + (f", {req:,} requested" if req is not None and req != t.vocab_size else "")

    st.markdown("**Tokenizers:** " + " · ".join(f"`{n}` ({_size(t)})" for n, t in toks.items()))

tab_metrics, tab_prem, tab_seg, tab_num, tab_vocab, tab_diff = st.tabs(
    ["Metrics", "Token premiums", "Segmentation", "Numbers", "Vocabulary", "Vocabulary diff"])


def _vocab_sizes(runs: list, toks: dict) -> dict[str, tuple]:
    """subject -> (requested, reached) vocabulary: an evaluation's own record of each tokenizer (issue 12's
    `vocab_size_requested` / `vocab_size_reached`), a training run's, else the loaded tokenizer's."""
    sizes: dict[str, tuple] = {}
    for name, tok in toks.items():
        sizes[name] = (tokbench.requested_vocab(tok), tok.vocab_size)
    for r in runs:
        if r.kind == "text-bpe":
            req, got = describe.vocabulary(r)
            sizes[r.name] = (req, got if got is not None else sizes.get(r.name, (None, None))[1])
        report = r.report if isinstance(r.report, dict) else {}
        for info in report.get("tokenizers") or []:
            if isinstance(info, dict) and info.get("name"):
                sizes[str(info["name"])] = (info.get("vocab_size_requested"),
                                            info.get("vocab_size_reached", info.get("vocab_size")))
    return sizes


def evaluation_key(rows: pd.DataFrame) -> pd.Series:
    """One key per evaluation: rows with the same provenance (command, split, lines, bytes; issue 12) are the
    same lines scored the same way and may share a table; rows without one (older runs) stay with their run."""
    def key(row) -> str:
        if row.get("command") is None or row.get("command") != row.get("command"):
            return f"{row['run']} (no provenance)"
        lines, size = row.get("lines"), row.get("bytes")
        return (f"{row['command']} · {row.get('split') or '?'} · {data.fmt(lines)} lines · {data.fmt(size)} bytes")
    return rows.apply(key, axis=1) if not rows.empty else pd.Series(dtype=str)


@st.cache_data(show_spinner="Measuring…", max_entries=16)
def _live_metrics(key: str, _tokenizer, corpus: str, max_lines: int) -> dict:
    from tokbench import Corpus
    from tokbench.text.evaluate import basic_metrics, evaluation_lines

    lines = list(evaluation_lines(Corpus(corpus, split="heldout").text(max_chars=400_000).splitlines()))
    return basic_metrics(_tokenizer, lines[:max_lines])


# ---------------------------------------------------------------------------------------------- metrics
with tab_metrics:
    rows = data.metric_rows(runs)
    plain = rows[rows["language"].isna() & (rows["dataset"] != "training")] if not rows.empty else rows
    sizes = _vocab_sizes(runs, toks)
    if plain.empty:
        st.info("The compared runs hold no text metrics yet (`tokbench train-bpe` evaluates on held-out text; "
                "`tokbench eval-text` compares tokenizers on any corpora).")
    else:
        datasets = sorted(plain["dataset"].dropna().unique())
        left, right = st.columns(2)
        ds = left.selectbox("Dataset", datasets, key="metrics_dataset", format_func=data.short_name)
        sub = plain[plain["dataset"] == ds].copy()
        # one evaluation per table: the same label scored by two commands (or on other lines) is two sets
        sub["evaluation"] = evaluation_key(sub)
        sources = sorted(sub["evaluation"].unique(),
                         key=lambda e: (-sub.loc[sub["evaluation"] == e, "subject"].nunique(), e))
        source = right.selectbox("Evaluation", sources, key="metrics_evaluation",
                                 help="Rows from one evaluation only: command, split, lines and bytes scored")
        sub = sub[sub["evaluation"] == source]
        if sub.groupby(["subject", "metric"])["run"].nunique().max() > 1:  # two runs, one subject, same lines
            sub = sub.sort_values("run").drop_duplicates(["subject", "metric"], keep="last")
        wide = sub.pivot_table(index="subject", columns="metric", values="value", aggfunc="first")
        order = [m for m in PREFERRED if m in wide.columns] + sorted(c for c in wide.columns if c not in PREFERRED)
        wide = wide[order]
        wide.insert(0, "vocab_reached", [sizes.get(n, (None, None))[1] for n in wide.index])
        wide.insert(0, "vocab_requested", [sizes.get(n, (None, None))[0] for n in wide.index])
        st.subheader(f"Metrics on {data.short_name(ds)}")
        tables.show(wide, "metrics_table", name=f"text-metrics-{data.short_name(ds)}")
        metric = st.selectbox("Chart a metric", order, key="metrics_chart_metric")
        chart_frame = wide[[metric]].reset_index().rename(columns={metric: "value"}).dropna()
        chart_frame["dataset"] = ds
        st.altair_chart(charts.bars(chart_frame, "subject", "value", "subject", metric), width="stretch")
    hand = [n for n in toks if n not in set(plain["subject"]) ] if not plain.empty else list(toks)
    st.subheader("Live metrics")
    st.caption("Every loaded tokenizer (those added by hand too) on the same held-out lines, measured now "
               "(`basic_metrics`: bytes/token, chars/token, tokens/word, utilization, round trip)."
               + (f" Not in any evaluation above: {', '.join(f'`{n}`' for n in hand)}." if hand else ""))
    added = bool((st.session_state.get("extra_tokenizers") or "").strip())  # hand-added: measured at once
    live_on = st.toggle("Measure every tokenizer now", key="live_on", disabled=added) or added
    if live_on and toks:
        c1, c2 = st.columns([3, 1])
        corpus = c1.text_input("Corpus (held-out split)", value="builtin:english", key="live_corpus")
        max_lines = c2.number_input("Lines", 10, 20_000, 500, step=100, key="live_lines")
        live = {}
        for name, tok in toks.items():
            try:
                live[name] = _live_metrics(f"{name}|{getattr(tok, 'path', '')}", tok, corpus, int(max_lines))
            except Exception as exc:  # noqa: BLE001 - a bad corpus spec or tokenizer: said, not fatal
                st.warning(f"{name}: cannot measure on {corpus} ({exc})")
        if live:
            frame = pd.DataFrame(live).T
            frame.insert(0, "vocab_reached", [sizes.get(n, (None, None))[1] for n in frame.index])
            frame.insert(0, "vocab_requested", [sizes.get(n, (None, None))[0] for n in frame.index])
            frame.index.name = "subject"
            tables.show(frame, "live_metrics_table", name=f"live-metrics-{corpus}")

# ---------------------------------------------------------------------------------------------- premiums
with tab_prem:
    rows = data.metric_rows(runs)
    langs = rows[rows["language"].notna()].copy() if not rows.empty else rows
    if langs.empty:
        st.info("No per-language rows yet. `tokbench eval-text RUN ...` on a parallel corpus (the default includes "
                "`builtin:parallel-sentences`) reports token premiums per language, with English = 1.0.")
    else:
        metrics = sorted(langs["metric"].unique(), key=lambda m: ("premium" not in m, m))
        left, mid, right = st.columns(3)
        metric = left.selectbox("Measure", metrics, key="premium_metric")
        datasets = sorted(langs.loc[langs["metric"] == metric, "dataset"].dropna().unique()) or ["—"]
        ds = mid.selectbox("Parallel corpus", datasets, key="premium_dataset", format_func=data.short_name)
        sort = right.radio("Sort languages by", charts.SORTS, horizontal=True, key="premium_sort")
        picked = langs[(langs["metric"] == metric) & ((langs["dataset"] == ds) | (ds == "—"))]
        subjects = sorted(picked["subject"].dropna().unique())
        chosen = st.multiselect("Tokenizers", subjects, default=subjects, key="premium_subjects")
        frame = picked[picked["subject"].isin(chosen or subjects)]
        frame = frame[["subject", "language", "script", "value"]].dropna(subset=["value"])
        scripts = sorted(frame["script"].dropna().unique())
        keep = st.multiselect("Scripts", scripts, key="premium_scripts")
        if keep:
            frame = frame[frame["script"].isin(keep)]
        order = charts.premium_order(frame, sort)
        st.subheader(f"{metric} per language (English = 1.0)")
        st.altair_chart(charts.premiums(frame, order, metric), width="stretch")
        parity = langs[(langs["metric"] == "parity") & ((langs["dataset"] == ds) | (ds == "—"))]
        summary = {}
        for subject, group in frame.groupby("subject"):
            stats = premiums.spread(group["value"].tolist())
            par = parity[(parity["subject"] == subject) & parity["language"].isin(group["language"])]["value"]
            summary[subject] = {"languages": stats["n"], "min": stats["min"], "max": stats["max"],
                                "mean": stats["mean"], "max/min": stats["max_over_min"], "cv": stats["cv"],
                                "mean parity": float(par.mean()) if len(par) else None}
        st.markdown(f"**Spread across {frame['language'].nunique()} languages** (lower max/min and cv are fairer; "
                    "parity: mean per-sentence length ratio, 1 = parity)")
        spread = pd.DataFrame(summary).T
        spread.index.name = "tokenizer"
        tables.show(spread, "premium_spread", name=f"{metric}-spread")
        st.markdown("**Side by side** (click a header to sort)")
        side = frame.pivot_table(index=["language", "script"], columns="subject", values="value").reset_index()
        side["script"] = side["script"].fillna("")
        side = side.set_index("language").reindex(order).reset_index()
        tables.sortable(side, "premium_side", name=f"{metric}-by-language", height=min(600, 40 + 35 * len(side)))

# ---------------------------------------------------------------------------------------------- segmentation
with tab_seg:
    text = st.text_area("Text to segment", value=SAMPLE, key="seg_text", height=110)
    if not toks:
        st.info("No tokenizer to run: compare a text-bpe run or name a tokenizer file above.")
    elif text:
        names = list(toks)
        left, right = st.columns([3, 1])
        shown = left.multiselect("Tokenizers shown", names, default=names[:4], key="seg_shown") or names[:1]
        ref = right.selectbox("Ring tokens that differ from", shown, key="seg_reference",
                              help="Each tokenizer is compared with this one; it is compared with all shown")
        segs = [spans.segment(toks[name], text, name) for name in shown]
        rings = spans.disagreements(segs, reference=shown.index(ref) if len(segs) > 2 else None)
        st.caption("Colour follows the token id; hover a token for its id and bytes. · is a space, → a tab, "
                   "↵ a newline; a token holding part of a character shows the characters it completes "
                   "(dotted), faded where it holds only part of one; [e3] and the like are the triad markers. "
                   + (f"Red rings mark tokens that {ref} splits differently (and, on {ref}, that any other does)."
                      if len(segs) > 2 else "Red rings mark tokens the other tokenizer splits differently."
                      if len(segs) == 2 else ""))
        n_bytes = len(text.encode("utf-8"))
        per_row = min(3, len(segs))
        for start in range(0, len(segs), per_row):
            cols = st.columns(per_row)
            for col, seg, ringed in zip(cols, segs[start:start + per_row], rings[start:start + per_row]):
                with col:
                    st.markdown(f"#### {seg.name}")
                    st.caption(f"{len(seg.spans)} tokens · {n_bytes / max(len(seg.spans), 1):.2f} bytes/token"
                               + (f" · {len(ringed)} split differently" if len(segs) > 1 else "")
                               + ("" if seg.aligned else " · token bytes do not spell the text (transformed); "
                                  "not compared"))
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
        st.table(frame.set_index("number"))  # integers and labels only: nothing to format
        tables.download(frame, "numbers_table", name="number-splits")

# ---------------------------------------------------------------------------------------------- vocabulary
with tab_vocab:
    if not toks:
        st.info("No tokenizer to browse.")
    else:
        name = st.selectbox("Tokenizer", list(toks), key="vocab_tok")
        rows = pd.DataFrame(data.vocab_table(name, toks[name]))
        has_rank = rows["merge_rank"].notna().any()
        sorts = ["id", "length", "frequency"] + (["merge rank"] if has_rank else []) + \
            (["unigram score"] if "unigram_score" in rows else []) + ["script"]
        c1, c2, c3 = st.columns([2, 2, 2])
        query = c1.text_input("Search tokens", key="vocab_query")
        sort = c2.selectbox("Sort by", sorts, key="vocab_sort")
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
                          | shown["token"].str.contains(spans.readable(query), regex=False)]
        if scripts:
            shown = shown[shown["script"].isin(scripts)]
        key = {"id": ("id", True), "length": ("bytes", False), "frequency": ("frequency", False),
               "merge rank": ("merge_rank", True), "unigram score": ("unigram_score", False),
               "script": ("script", True)}[sort]
        shown = shown.sort_values([key[0], "id"], ascending=[key[1], True], na_position="last")
        drop = ["raw", "special"] + ([] if has_rank else ["merge_rank"])
        st.subheader(f"{len(shown):,} of {len(rows):,} tokens of {name}")
        n_special = int(rows["special"].sum())
        st.caption(f"{n_special} special token{'s' if n_special != 1 else ''} (kind = special)"
                   + ("; byte tokens are written <0xE2>" if (rows["kind"] == "byte").any() else "")
                   + ("; unigram score: the piece's log probability in the sentencepiece unigram model"
                      if "unigram_score" in rows else "")
                   + ("" if has_rank else "; this format records no merge order"))
        tables.sortable(shown.drop(columns=drop).head(2000), "vocab_table", name=f"{name}-vocabulary",
                        widths={"token": "medium"})
        by_script = rows.groupby("script").size().sort_values(ascending=False).reset_index(name="tokens")
        st.caption("Tokens per script: " + ", ".join(f"{s} {n}" for s, n in by_script.itertuples(index=False)))

# ---------------------------------------------------------------------------------------------- diff
with tab_diff:
    if len(toks) < 2:
        st.info("Pick two text runs in the sidebar (or name another tokenizer above) to diff their vocabularies.")
    else:
        names = list(toks)
        left, right, order_col = st.columns(3)
        a = left.selectbox("A", names, index=0, key="diff_a")
        b = right.selectbox("B", names, index=1, key="diff_b")
        order_by = order_col.selectbox("Order", vocab.DIFF_ORDERS, key="diff_order")
        diff = data.vocab_diff(a, toks[a], b, toks[b])
        m1, m2, m3 = st.columns(3)
        m1.metric(f"only in {a}", f"{len(diff.only_a):,}")
        m2.metric(f"only in {b}", f"{len(diff.only_b):,}")
        m3.metric("shared", f"{diff.shared:,}")
        l2, r2 = st.columns(2)
        for col, name, only in ((l2, a, diff.only_a), (r2, b, diff.only_b)):
            by_raw = {r["raw"]: r for r in data.vocab_table(name, toks[name])}
            rows = vocab.diff_order([by_raw[x] for x in only if x in by_raw], order_by)
            frame = pd.DataFrame(rows, columns=["id", "token", "bytes", "script", "merge_rank", "raw"])
            if not frame["merge_rank"].notna().any():
                frame = frame.drop(columns=["merge_rank"])
            with col:
                st.markdown(f"**Only in {name}** ({order_by})")
                tables.sortable(frame.drop(columns=["raw"]).head(500), f"diff_{'a' if name == a else 'b'}",
                                name=f"only-in-{name}", widths={"token": "medium", "script": "small"})
