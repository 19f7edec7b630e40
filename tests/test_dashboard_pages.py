"""What the dashboard's pages show (issue 16): the data behind every chart and table, checked in AppTest.

The runs are the session's real ones (conftest `dashboard_runs`: trained and evaluated by the library), copied
to a module folder and joined by a few that the issue's defects need: a binary-family run whose perplexity is
~1e37, a trained visual run never evaluated, and a sentencepiece unigram run (specials `<s>` / `</s>`, byte
tokens, unigram scores).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from tokbench import load_tokenizer
from tokbench.cli import main
from tokbench.runs import Run

APP = Path(__file__).resolve().parent.parent / "apps" / "dashboard.py"
sys.path.insert(0, str(APP.parent))

from tbdash import charts, crossmodal, data, spans, tables, vocab  # noqa: E402

PAGES = ("views/runs.py", "views/text.py", "views/visual.py", "views/audio.py", "views/overview.py",
         "views/kernels.py")
BINARY_PERPLEXITY = 3.2e37


def _binary_run(root: Path, rfid_reason: str) -> None:
    """A binary-family visual run as eval-vq reports one: 128-bit codes, a perplexity near 2^125."""
    config = {"family": "binary", "data": "builtin:digits", "model": {"bits": 128, "quantizer": "lfq"}}
    with Run.create(root, "visual-vq", config, name="vq-binary") as run:
        rows = []
        for budget, psnr in ((4, 9.6), (16, 12.4)):
            rows += [{"subject": "vq-binary", "dataset": "builtin:digits/test", "metric": m, "value": v,
                      "budget": budget} for m, v in (("psnr_db", psnr), ("bits_per_image", 128.0 * budget),
                                                     ("bits_per_pixel", 128.0 * budget / 64),
                                                     ("perplexity", BINARY_PERPLEXITY), ("codebook_usage", 0.5),
                                                     ("dead_codes", 49.0))]
        run.write_report({"schema": 1, "kind": "visual-eval", "rows": rows,
                          "unavailable": [{"metric": "rfid", "reason": rfid_reason}]})
        for step, (loss, perplexity) in enumerate(((0.9, 1e37), (0.7, 2e37), (0.5, 3e37)), start=1):
            run.log({"step": step, "loss": loss, "perplexity": perplexity})


@pytest.fixture(scope="module")
def pages_runs(dashboard_runs, tmp_path_factory) -> Path:
    from tokbench import evaluate_text, train_bpe

    source, _ = dashboard_runs
    root = tmp_path_factory.mktemp("pages") / "runs"
    shutil.copytree(source, root)
    grid = json.loads((root / "vq-grid" / "report.json").read_text())
    _binary_run(root, next(u["reason"] for u in grid["unavailable"] if u["metric"] == "rfid"))
    with Run.create(root, "visual-vq", {"family": "latent1d", "model": {"codebook_size": 64}}, name="vq-never"):
        pass
    corpus = source.parent / "english-small.txt"
    train_bpe(str(corpus), vocab_size=400, backend="spm", model_type="unigram", runs_dir=root, name="spm-uni")
    # a second evaluation of the same dataset label (`eval-text` on the held-out lines train-bpe scored)
    evaluate_text([str(root / "spm-uni")], [str(corpus)], [], runs_dir=root, name="eval-spm")
    shutil.copy(corpus, root.parent / corpus.name)  # for the live metrics
    return root


def _app(monkeypatch, root: Path, page: str | None = None) -> AppTest:
    monkeypatch.setenv("TOKBENCH_RUNS_DIR", str(root))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at: AppTest) -> list[tuple[dict, list[pd.DataFrame]]]:
    out = []
    for chart in at.get("vega_lite_chart"):
        frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets]
        out.append((json.loads(chart.proto.spec), frames))
    return out


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer") or [spec]


def _enc(spec: dict) -> dict:
    return _layers(spec)[0]["encoding"]


def _holds(domain: list[float], values) -> bool:
    return all(domain[0] < v < domain[1] for v in values)


def _shown_text(at: AppTest) -> list[str]:
    """Every cell and index label of every table and dataframe on the page, as displayed."""
    cells = []
    for table in list(at.table) + list(at.dataframe):
        frame = table.value
        cells += [str(v) for v in frame.to_numpy().ravel()] + [str(v) for v in frame.index]
    return cells


# ---------------------------------------------------------------------------------------------- formatting
@pytest.mark.parametrize("value,expected", [
    (None, "—"), (float("nan"), "—"), (pd.NA, "—"), (np.float64("nan"), "—"), ("None", "—"),
    (49.0, "49"), (np.int64(4096), "4,096"), (16, "16"), (0.123456, "0.1235"), (1234.5, "1,234"),
    (3.2e37, "3.200e+37"), (2.5e-5, "2.500e-05"), (float("inf"), "∞"), (True, "yes"),
])
def test_one_number_format_and_one_empty_marker(value, expected) -> None:
    assert data.fmt(value) == expected


def test_tables_format_cells_keep_index_labels_and_download_raw_csv() -> None:
    frame = pd.DataFrame({"budget": [4.0, np.nan], "psnr": [12.3456, None]}, index=pd.Index(["a", "b"], name="run"))
    shown = tables.formatted(frame)
    assert shown.loc["a", "budget"] == "4" and shown.loc["b", "psnr"] == data.EMPTY
    assert tables.csv_bytes(frame).decode().splitlines()[1] == "a,4.0,12.3456"


# ---------------------------------------------------------------------------------------------- every page
def test_no_table_on_any_page_or_tab_shows_nan_or_none_and_each_has_a_csv(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs)
    at.sidebar.multiselect(key="selected_runs").select("bpe-500").select("vq-flex").run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        bad = [c for c in _shown_text(at) if c in ("nan", "None", "NaN", "<NA>") or c.endswith(".0000")]
        assert not bad, (page, bad[:5])
        downloads = at.get("download_button")
        drawn = [t for t in list(at.table) + list(at.dataframe)
                 if not (page == "views/runs.py" and "reason" in t.value.columns)]  # the corrupt list: no numbers
        assert len(downloads) >= len(drawn), (page, len(downloads), len(drawn))


# ---------------------------------------------------------------------------------------------- visual
def test_visual_rate_distortion_domains_hold_every_point_and_lines_are_told_apart(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs, "views/visual.py")
    rd = [(s, f) for s, f in _charts(at) if _enc(s)["x"]["field"] == "bits_per_image"]
    assert len(rd) == 1
    spec, frames = rd[0]
    points = next(f for f in frames if "bits_per_image" in f.columns)
    assert set(points["tokenizer"]) == {"vq-grid", "vq-flex", "vq-binary"}
    enc = _enc(spec)
    assert _holds(enc["x"]["scale"]["domain"], points["bits_per_image"])
    baseline = [f for f in frames[1:] if "subject" in f.columns]
    assert _holds(enc["y"]["scale"]["domain"], list(points["value"]) + list(baseline[0]["value"]))
    assert enc["shape"]["field"] == enc["strokeDash"]["field"] == "tokenizer"  # not by colour alone
    # the table under it: one row per point, nothing empty
    table = at.table[0].value
    assert len(table) == len(points) and not any(v in ("nan", "—") for v in table.to_numpy().ravel())
    rfid = [w.value for w in at.warning if w.value.startswith("rfid unavailable")]
    assert len(rfid) == 1 and "vq-binary" in rfid[0]  # one warning naming every run it applies to
    assert any("vq-never" in i.value and "eval-vq" in i.value for i in at.info)


def test_visual_training_perplexity_on_a_log_axis_with_readable_labels(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs, "views/visual.py")
    at.multiselect(key="visual_curves").set_value(["perplexity"]).run()
    spec, frames = next((s, f) for s, f in _charts(at)
                        if _enc(s)["x"]["field"] == "step" and set(f[0].get("run", [])) >= {"vq-binary", "vq-grid"})
    y = _enc(spec)["y"]
    assert y["scale"]["type"] == "log" and _holds(y["scale"]["domain"], frames[0]["value"])
    assert y["axis"]["format"] == "~g"


def test_codebook_budgets_are_integers_and_histograms_start_at_their_data(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs, "views/visual.py")
    table = next(t.value for t in at.table if "perplexity" in t.value.columns)
    budgets = table.index.get_level_values("budget")
    assert all(isinstance(b, int) for b in budgets) and 16 in set(budgets)
    assert table.loc[("vq-binary", 16), "perplexity"] == "3.200e+37"
    assert table.loc[("vq-binary", 16), "dead_codes"] == "49"
    hists = [(s, f[0]) for s, f in _charts(at) if _enc(s)["x"]["field"] == "code rank"]
    assert hists
    for spec, frame in hists:
        x, y = _enc(spec)["x"]["scale"]["domain"], _enc(spec)["y"]["scale"]["domain"]
        assert 0 <= x[0] < 1 and x[1] >= frame["code rank"].max() and y[0] == 0 and y[1] >= frame["count"].max()


# ---------------------------------------------------------------------------------------------- runs
def test_runs_page_columns_compare_box_details_and_picks_across_folders(monkeypatch, pages_runs, tmp_path) -> None:
    at = _app(monkeypatch, pages_runs)
    table = at.table[0].value
    assert table.loc["bpe-500", "variant"] == "plain" and table.loc["bpe-500", "backend"] == "hf bpe"
    assert table.loc["bpe-500", "vocabulary"] == "500" and table.loc["spm-uni", "backend"] == "spm unigram"
    assert table.loc["vq-binary", "variant"] == "binary" and table.loc["codec-rvq", "vocabulary"] == "2 × 16"
    at.sidebar.multiselect(key="selected_runs").select("bpe-500").select("vq-grid").run()
    assert at.multiselect(key="runs_compare").value == ["bpe-500", "vq-grid"]  # the box shows the picks
    assert at.button[0].label == "Compare these runs" and not at.button[0].disabled
    compared = next(t.value for t in at.table if "bpe-500" in t.value.columns)
    assert "round_trip_rate" in set(compared.index.get_level_values("metric"))
    details = [d.value.set_index("setting")["value"] for d in at.dataframe
               if list(d.value.columns) == ["setting", "value"]]
    assert len(details) == 2  # one readable table per compared run
    first = next(d for d in details if d["kind"] == "text-bpe")
    assert first["config.spec.vocab_size"] == "500" and first["kind"] == "text-bpe"

    other = tmp_path / "elsewhere"
    other.mkdir()
    at.sidebar.text_input(key="runs_dir").input(str(other)).run()
    assert at.session_state["selected_runs"] == []
    at.sidebar.text_input(key="runs_dir").input(str(pages_runs)).run()
    assert at.session_state["selected_runs"] == ["bpe-500", "vq-grid"]


# ---------------------------------------------------------------------------------------------- text
def test_text_metrics_one_evaluation_with_requested_and_reached_vocabulary(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs, "views/text.py")
    report = json.loads((pages_runs / "eval-text" / "report.json").read_text())
    ds = next(r["dataset"] for r in report["rows"] if r["metric"] == "bytes_per_token")
    at.selectbox(key="metrics_dataset").select(ds).run()
    evaluations = at.selectbox(key="metrics_evaluation").options
    assert len(evaluations) == 1 and evaluations[0].startswith("eval-text · heldout")
    table = at.table[0].value
    sizes = {t["name"]: (t["vocab_size_requested"], t["vocab_size_reached"]) for t in report["tokenizers"]}
    for name, (requested, reached) in sizes.items():
        assert table.loc[name, "vocab_requested"] == data.fmt(requested)
        assert table.loc[name, "vocab_reached"] == data.fmt(reached)
    # the train-bpe report of the spm run: its own evaluation, never mixed into eval-text's rows
    spm_ds = next(d for d in json.loads((pages_runs / "spm-uni" / "metrics.json").read_text())
                  if d.endswith("/heldout"))
    at.selectbox(key="metrics_dataset").select(spm_ds).run()
    options = at.selectbox(key="metrics_evaluation").options
    assert [o.split(" · ")[0] for o in options] == ["train-bpe", "eval-text"]  # most tokenizers first
    at.selectbox(key="metrics_evaluation").select(options[0]).run()
    train = at.table[0].value
    assert sorted(train.index) == ["bpe-300", "bpe-500", "spm-uni"]
    trained = json.loads((pages_runs / "spm-uni" / "metrics.json").read_text())[spm_ds]
    assert train.loc["spm-uni", "bytes_per_token"] == data.fmt(trained["bytes_per_token"])
    at.selectbox(key="metrics_evaluation").select(options[1]).run()
    again = at.table[0].value
    rows = json.loads((pages_runs / "eval-spm" / "report.json").read_text())["rows"]
    assert list(again.index) == ["spm-uni"] and "canonicality_rate" in again.columns
    assert again.loc["spm-uni", "round_trip_rate"] == data.fmt(
        next(r["value"] for r in rows if r["metric"] == "round_trip_rate" and r["dataset"] == spm_ds))
    assert at.get("download_button")


def test_text_hand_added_tokenizer_gets_live_metrics(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs)
    at.sidebar.multiselect(key="selected_runs").select("bpe-500").run()
    at.switch_page("views/text.py").run()
    spec = f"spm:{pages_runs / 'spm-uni' / 'artifacts' / 'tokenizer.model'}"
    at.text_input(key="extra_tokenizers").input(spec).run()
    at.text_input(key="live_corpus").input(str(pages_runs.parent / "english-small.txt")).run()
    assert not at.exception, [e.value for e in at.exception]
    live = next(t.value for t in at.table if "bytes_per_token" in t.value.columns and spec in t.value.index)
    assert float(live.loc[spec, "bytes_per_token"]) > 1 and live.loc[spec, "vocab_reached"] == "400"


def test_vocabulary_flags_specials_spells_bytes_and_shows_unigram_scores(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs)
    at.sidebar.multiselect(key="selected_runs").select("spm-uni").select("bpe-500").run()
    at.switch_page("views/text.py").run()
    at.selectbox(key="vocab_tok").select("spm-uni").run()
    frame = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    rows = frame.set_index("id")
    tok = load_tokenizer(pages_runs / "spm-uni")
    for token_id in tok.special_ids:
        assert rows.loc[token_id, "kind"] == "special" and rows.loc[token_id, "token"] == tok.id_to_token(token_id)
    assert {"<s>", "</s>"} <= set(rows.loc[rows["kind"] == "special", "token"])
    assert "merge_rank" not in frame.columns and "unigram_score" in frame.columns
    scores = frame.loc[frame["kind"] == "", "unigram_score"].astype(float)
    assert (scores <= 0).all() and scores.nunique() > 10
    bytes_ = frame[frame["kind"] == "byte"]
    assert bytes_.empty or bytes_["token"].str.fullmatch(r"<0x[0-9A-F]{2}>").all()

    at.selectbox(key="vocab_tok").select("bpe-500").run()
    frame = next(d.value for d in at.dataframe if "kind" in d.value.columns).set_index("token")
    assert frame.loc["<|endoftext|>", "kind"] == "special" and frame.loc["<|pad|>", "kind"] == "special"
    assert frame.loc["<0xFF>", "kind"] == "byte"


def test_vocab_diff_longest_first_is_not_led_by_rule_lines() -> None:
    rows = [{"id": i, "raw": raw, "bytes": len(raw), "merge_rank": rank}
            for i, (raw, rank) in enumerate(((b"+-----------+", 9), (b"function", 3), (b"==========", 5),
                                             (b"the", 0), (b"\xe6", None)))]
    assert [r["raw"] for r in vocab.diff_order(rows, "longest first")][:2] == [b"function", b"the"]
    assert [r["raw"] for r in vocab.diff_order(rows, "earliest merge first")][0] == b"the"
    assert vocab.diff_order(rows, "earliest merge first")[-1]["raw"] == b"\xe6"


def test_segmentation_shows_completed_characters_markers_and_rings_against_a_reference() -> None:
    from tokbench.text import triad

    assert spans.label(triad.LEVEL_CHARS[3].encode()) == "[e3]" and spans.label(b"\xd1") == "<0xD1>"
    assert spans.completed_chars("дом", 0, 1) == "" and spans.completed_chars("дом", 1, 2) == "д"

    class Fixed:
        special_ids = frozenset()

        def __init__(self, cuts):
            self.cuts = cuts

        def encode(self, text):
            raw = text.encode()
            edges = [0, *self.cuts, len(raw)]
            return [int.from_bytes(raw[a:b], "big") % 1000 + 1000 * k for k, (a, b) in
                    enumerate(zip(edges, edges[1:]))]

        def token_bytes(self, i):
            raw = self._text.encode()
            edges = [0, *self.cuts, len(raw)]
            k = i // 1000
            return raw[edges[k]:edges[k + 1]]

    text = "abcdef"
    segs = []
    for name, cuts in (("ref", [2, 4]), ("same", [2, 4]), ("other", [3])):
        tok = Fixed(cuts)
        tok._text = text
        segs.append(spans.segment(tok, text, name))
    rings = spans.disagreements(segs, reference=0)
    assert rings[1] == set()  # identical to the reference: nothing ringed, whatever "other" does
    assert rings[2] == {0, 1} and rings[0] == {0, 1, 2}


# ---------------------------------------------------------------------------------------------- premiums
def test_premiums_side_by_side_table_with_spread_and_parity(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs, "views/text.py")
    rows = json.loads((pages_runs / "eval-text" / "report.json").read_text())["rows"]
    side = next(d.value for d in at.dataframe if "language" in d.value.columns and "script" in d.value.columns)
    want = {(r["language"], r["subject"]): r["value"] for r in rows if r["metric"] == "token_premium"}
    for (lang, subject), value in want.items():
        assert side.set_index("language").loc[lang, subject] == pytest.approx(value)
    spread = next(t.value for t in at.table if "max/min" in t.value.columns)
    for subject in {s for _, s in want}:
        values = [v for (_, s), v in want.items() if s == subject]
        parity = [r["value"] for r in rows if r["metric"] == "parity" and r["subject"] == subject]
        assert spread.loc[subject, "max/min"] == data.fmt(max(values) / min(values))
        assert spread.loc[subject, "mean parity"] == data.fmt(float(np.mean(parity)))
    at.multiselect(key="premium_subjects").set_value(["bpe-300"]).run()
    chart = next(f[0] for s, f in _charts(at) if _enc(s)["x"]["field"] == "language")
    assert set(chart["subject"]) == {"bpe-300"}


# ---------------------------------------------------------------------------------------------- audio
def test_audio_listen_is_one_clip_in_columns_with_labelled_spectrograms(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs, "views/audio.py")
    assert at.selectbox(key="audio_clip").options == ["codec-rvq · clip 1 of builtin:signals/test"]
    specs = [s for s, _ in _charts(at) if "spectrogram" in str(s.get("title", ""))]
    assert len(specs) == len(at.get("audio")) == 3
    for spec in specs:
        assert _enc(spec)["x"]["title"] == "time (s)" and _enc(spec)["y"]["title"] == "kHz"


# ---------------------------------------------------------------------------------------------- cross-modal
def test_cross_modal_rate_distortion_panels(monkeypatch, pages_runs) -> None:
    at = _app(monkeypatch, pages_runs, "views/overview.py")
    panels = [(s, f[0]) for s, f in _charts(at) if _enc(s)["x"]["field"] == "rate"]
    assert len(panels) == 3
    by_modality = {}
    for spec, frame in panels:
        assert _holds(_enc(spec)["x"]["scale"]["domain"], frame["rate"])
        assert _holds(_enc(spec)["y"]["scale"]["domain"], frame["fidelity"])
        assert _enc(spec)["x"]["scale"]["type"] == "log"
        by_modality[frame["modality"].iloc[0]] = frame
    assert set(by_modality) == {"text", "image", "audio"}
    report = json.loads((pages_runs / "eval-text" / "report.json").read_text())
    reached = {t["name"]: t["vocab_size_reached"] for t in report["tokenizers"]}
    bpt = next(r["value"] for r in report["rows"] if r["metric"] == "bytes_per_token" and r["subject"] == "bpe-500")
    text = by_modality["text"]
    got = text[(text["run"] == "eval-text") & text["tokenizer"].str.endswith("bpe-500")]["rate"].iloc[0]
    assert got == pytest.approx(math.log2(reached["bpe-500"]) / bpt)
    audio_rows = json.loads((pages_runs / "codec-rvq" / "report.json").read_text())["rows"]
    kbps = sorted(r["value"] * 1000 for r in audio_rows if r["metric"] == "kbps")
    assert sorted(by_modality["audio"]["rate"]) == pytest.approx(kbps)
    assert any("vq-never" in i.value for i in at.info)


def test_crossmodal_points_skip_rows_without_a_rate() -> None:
    assert crossmodal.points([]).empty
    assert charts.domain([5.0]) [0] < 5.0 < charts.domain([5.0])[1]
    assert charts.domain([1, 1000], log=True)[0] < 1 and charts.wants_log([1, 1e37])


# ---------------------------------------------------------------------------------------------- launch
def test_launched_streamlit_has_no_deploy_button(capsys, tmp_path: Path) -> None:
    assert main(["dashboard", str(tmp_path), "--dry-run"]) == 0
    assert "--client.toolbarMode minimal" in capsys.readouterr().out
