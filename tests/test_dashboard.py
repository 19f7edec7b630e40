"""The dashboard driven through Streamlit's AppTest: every page, with real and contract-built run folders,
checking the values shown and the data behind the charts against what the run folders hold."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from test_dashboard_fixtures import AUDIO_QUANTIZERS, FLEX_TOKENS, PARALLEL, TEXT_VOCABS
from tokbench import load_tokenizer
from tokbench.cli import main

APP = Path(__file__).resolve().parent.parent / "apps" / "dashboard.py"


def fmt(value: float) -> str:
    """A number as the dashboard's tables show it (`tbdash.data.fmt`; pivoted columns hold floats)."""
    import sys

    sys.path.insert(0, str(APP.parent))
    from tbdash.data import fmt as dashboard_fmt

    return dashboard_fmt(float(value))
PAGES = ("views/runs.py", "views/text.py", "views/visual.py", "views/audio.py", "views/kernels.py")


@pytest.fixture(scope="session")
def runs(dashboard_runs) -> tuple[Path, dict]:
    """Real runs: trained, then evaluated by evaluate_text / evaluate_vq / evaluate_audio (conftest.py)."""
    return dashboard_runs


def _report_rows(root: Path, run: str) -> list[dict]:
    return json.loads((root / run / "report.json").read_text())["rows"]


def _app(monkeypatch, runs_dir: Path) -> AppTest:
    monkeypatch.setenv("TOKBENCH_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(str(APP), default_timeout=60)
    return at.run()


def _page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at: AppTest) -> list[tuple[dict, list[pd.DataFrame]]]:
    """(vega-lite spec, its datasets) for every chart on the page."""
    out = []
    for chart in at.get("vega_lite_chart"):
        proto = chart.proto
        frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in proto.datasets]
        out.append((json.loads(proto.spec), frames))
    return out


def _enc(spec: dict) -> dict:
    """The encoding of a chart, or of the first layer of a layered chart."""
    return spec["encoding"] if "encoding" in spec else spec["layer"][0]["encoding"]


def _table(at: AppTest, index: int) -> pd.DataFrame:
    return at.table[index].value


# ---------------------------------------------------------------------------------------------- empty
def test_empty_or_missing_runs_folder_shows_guidance(monkeypatch, tmp_path: Path) -> None:
    at = _app(monkeypatch, tmp_path / "nothing-here")
    assert not at.exception
    guidance = " ".join(i.value for i in at.info)
    assert "make demo" in guidance and "tokbench train-bpe" in guidance
    for page in PAGES[1:]:
        _page(at, page)
        assert at.info, f"{page} shows no guidance"


# ---------------------------------------------------------------------------------------------- runs
def test_runs_page_lists_filters_and_selects(monkeypatch, runs) -> None:
    root, names = runs
    at = _app(monkeypatch, root)
    assert not at.exception
    table = _table(at, 0)
    expected = names["text"] + names["visual"] + names["audio"] + names["bench"]
    assert sorted(table.index) == sorted(expected)
    assert table.loc["bpe-500", "kind"] == "text-bpe" and table.loc["bench-cpu", "status"] == "done"
    metrics = json.loads((root / "bpe-500" / "metrics.json").read_text())
    bpt = next(v["bytes_per_token"] for v in metrics.values() if "bytes_per_token" in v)
    assert f"bytes_per_token={bpt:.4g}" in table.loc["bpe-500", "key metrics"]
    assert "english-small.txt (train)" in table.loc["bpe-500", "data"]
    corrupt = _table(at, 1)
    assert list(corrupt["folder"]) == ["broken-run"] and list(corrupt["status"]) == ["corrupt"]

    at.multiselect(key="runs_kind_filter").select("visual-vq").run()
    assert sorted(_table(at, 0).index) == ["vq-flex", "vq-grid"]
    at.multiselect(key="runs_kind_filter").unselect("visual-vq").run()
    at.text_input(key="runs_query").input("bpe-3").run()
    assert list(_table(at, 0).index) == ["bpe-300"]
    at.text_input(key="runs_query").input("").run()

    at.multiselect(key="runs_compare").select("bpe-500").select("vq-flex").run()
    at.button[0].click().run()
    assert at.session_state["selected_runs"] == ["bpe-500", "vq-flex"]
    assert at.sidebar.multiselect(key="selected_runs").value == ["bpe-500", "vq-flex"]
    assert any("`bpe-500` (text-bpe)" in m.value for m in at.markdown)


# ---------------------------------------------------------------------------------------------- text
def test_text_metrics_and_premiums(monkeypatch, runs) -> None:
    root, _ = runs
    rows = _report_rows(root, "eval-text")
    corpus_ds = next(r["dataset"] for r in rows if r["metric"] == "bytes_per_token")
    names = [f"bpe-{v}" for v in TEXT_VOCABS]

    def value(subject, metric):
        return next(r["value"] for r in rows if (r["subject"], r["dataset"], r["metric"]) ==
                    (subject, corpus_ds, metric))

    at = _page(_app(monkeypatch, root), "views/text.py")
    at.selectbox(key="metrics_dataset").select(corpus_ds).run()
    wide = _table(at, 0)
    assert sorted(wide.index) == sorted(names)  # eval-text's metrics.json summary is not a tokenizer
    for name in names:
        for metric in ("bytes_per_token", "fertility_corpus", "fertility_words_alone", "vocab_utilization",
                       "round_trip_rate"):
            assert wide.loc[name, metric] == fmt(value(name, metric)), (name, metric)
    # the bar chart under the table draws exactly the chosen metric per tokenizer
    at.selectbox(key="metrics_chart_metric").select("bytes_per_token").run()
    spec, frames = _charts(at)[0]
    bars = frames[0].set_index("subject")["value"]
    assert bars.to_dict() == pytest.approx({n: value(n, "bytes_per_token") for n in names})

    premium_spec, premium_frames = _charts(at)[1]
    frame = premium_frames[0]
    assert set(frame["language"]) == set(PARALLEL)
    eng = frame[frame["language"] == "eng_Latn"]["value"]
    assert (eng == 1.0).all()
    want = {(r["subject"], r["language"]): r["value"] for r in rows if r["metric"] == "token_premium"}
    got = frame.set_index(["subject", "language"])["value"].to_dict()
    assert got == pytest.approx(want)
    script = {r["language"]: r["script"] for r in rows if r["metric"] == "token_premium"}
    assert script["rus_Cyrl"] == "Cyrl" and script["jpn_Jpan"] == "Jpan"
    order = premium_spec["layer"][0]["encoding"]["x"]["sort"]
    assert [script[lang] for lang in order] == sorted(script[lang] for lang in order)  # grouped by script
    at.radio(key="premium_sort").set_value("premium").run()
    order = _charts(at)[1][0]["layer"][0]["encoding"]["x"]["sort"]
    means = [np.mean([want[(n, lang)] for n in names]) for lang in order]
    assert means == sorted(means)
    at.multiselect(key="premium_scripts").select("Cyrl").run()
    assert set(_charts(at)[1][1][0]["language"]) == {"rus_Cyrl"}


def _spans(markdown: str) -> list[tuple[int, str]]:
    """(id, visible text) of each token span in the rendered segmentation HTML."""
    out = []
    for m in re.finditer(r"data-id='(\d+)'[^>]*>(.*?)</span>(?=<span class='tok'|</div>)", markdown):
        inner = re.sub(r"<br>", "", re.sub(r"<span[^>]*>|</span>", "", m.group(2)))
        out.append((int(m.group(1)), html.unescape(inner)))
    return out


def test_text_live_segmentation_side_by_side(monkeypatch, runs) -> None:
    root, _ = runs
    at = _page(_app(monkeypatch, root), "views/text.py")
    text = "Tokenizers split naïve text 12345 differently: 日本"
    at.text_area(key="seg_text").input(text).run()
    assert not at.exception
    rendered = {m.value.split("#### ")[1]: None for m in at.markdown if m.value.startswith("#### ")}
    segs = [m.value for m in at.markdown if m.value.startswith("<div class='tokbench-seg'")]
    assert sorted(rendered) == ["bpe-300", "bpe-500"] and len(segs) == 2
    boundaries = []
    for name, html_text in zip(rendered, segs):
        tok = load_tokenizer(root / name)
        ids = tok.encode(text)
        spans = _spans(html_text)
        assert [i for i, _ in spans] == ids  # one span per token, in order, with its id
        assert f"title=\"id {ids[0]} · " in html_text  # ids on hover
        # the CJK characters need byte fragments in a 300/500-token vocabulary: the bytes are in the hover
        # title as <0xE6>, the pill shows the character a fragment completes (issue 16)
        assert "&lt;0x" in html_text and "本" in html_text
        pos, cuts = 0, {0}
        for i in ids:
            pos += len(tok.token_bytes(i))
            cuts.add(pos)
        boundaries.append(cuts)
    # ringed spans are exactly the tokens whose byte range is not one token in the other tokenizer
    for k, (name, html_text) in enumerate(zip(rendered, segs)):
        tok = load_tokenizer(root / name)
        other = boundaries[1 - k]
        pos, expected = 0, 0
        for i in tok.encode(text):
            n = len(tok.token_bytes(i))
            if not (pos in other and pos + n in other and not any(pos < b < pos + n for b in other)):
                expected += 1
            pos += n
        assert html_text.count("outline:2px solid") == expected
        assert any(f"{expected} split differently" in c.value for c in at.caption)


def test_text_numbers_vocabulary_and_diff(monkeypatch, runs) -> None:
    root, _ = runs
    at = _page(_app(monkeypatch, root), "views/text.py")
    at.text_area(key="numbers_text").input("7\n1234567\n3.14159").run()
    numbers = next(t.value for t in at.table if "digits" in t.value.columns)
    tok = load_tokenizer(root / "bpe-500")
    assert numbers.loc["1234567", "bpe-500 tokens"] == len(tok.encode("1234567"))
    assert numbers.loc["1234567", "bpe-500"].replace("|", "") == "1234567"

    vocab_df = next(d.value for d in at.dataframe if "merge_rank" in d.value.columns and "token" in d.value.columns)
    assert len(vocab_df) == min(2000, load_tokenizer(root / at.selectbox(key="vocab_tok").value).vocab_size)
    at.selectbox(key="vocab_tok").select("bpe-500").run()
    at.selectbox(key="vocab_sort").select("length").run()
    vocab_df = next(d.value for d in at.dataframe if "merge_rank" in d.value.columns and "token" in d.value.columns)
    assert len(vocab_df) == tok.vocab_size
    assert vocab_df["bytes"].iloc[0] == max(len(tok.token_bytes(i)) for i in range(tok.vocab_size))
    at.selectbox(key="vocab_sort").select("merge rank").run()
    vocab_df = next(d.value for d in at.dataframe if "merge_rank" in d.value.columns and "token" in d.value.columns)
    assert int(vocab_df["merge_rank"].iloc[0]) == 0 and vocab_df["bytes"].iloc[0] == 2  # the first merge joins 2 bytes
    at.text_input(key="vocab_query").input("ing").run()
    vocab_df = next(d.value for d in at.dataframe if "merge_rank" in d.value.columns and "token" in d.value.columns)
    assert len(vocab_df) >= 1 and vocab_df["token"].str.contains("ing").all()

    small = load_tokenizer(root / "bpe-300")
    vocab_a = {tok.token_bytes(i) for i in range(tok.vocab_size) if i not in tok.special_ids}
    vocab_b = {small.token_bytes(i) for i in range(small.vocab_size) if i not in small.special_ids}
    metrics = {m.label: m.value for m in at.metric}
    first = at.selectbox(key="diff_a").value
    a, b = (vocab_a, vocab_b) if first == "bpe-500" else (vocab_b, vocab_a)
    assert metrics[f"only in {first}"] == f"{len(a - b):,}"
    assert metrics["shared"] == f"{len(a & b):,}" and metrics[f"only in {at.selectbox(key='diff_b').value}"] \
        == f"{len(b - a):,}"


# ---------------------------------------------------------------------------------------------- visual
def test_visual_page(monkeypatch, runs) -> None:
    root, _ = runs
    at = _page(_app(monkeypatch, root), "views/visual.py")
    info = {n: json.loads((root / n / "artifacts" / "model.json").read_text()) for n in ("vq-grid", "vq-flex")}
    grid_tokens = info["vq-grid"]["tokens_per_image"]
    assert info["vq-flex"]["tokens_per_image"] == FLEX_TOKENS
    captions = [c for img in at.get("image") for c in [i.caption for i in img.proto.imgs]]
    assert "original" in captions and f"vq-grid · {grid_tokens} tokens" in captions
    assert f"vq-flex · {FLEX_TOKENS} tokens" in captions
    strip = [k for k in range(1, FLEX_TOKENS + 1) if k & (k - 1) == 0]  # the flexible strip at 1, 2, 4, ...
    assert {f"{k} token{'s' * (k != 1)}" for k in strip} <= set(captions) and "1 token" in captions
    assert any(f"vq-flex: reconstructions at {', '.join(map(str, strip))} tokens" in h.value for h in at.subheader)
    runs_line = next(m.value for m in at.markdown if m.value.startswith("**Runs:**"))
    for name in ("vq-grid", "vq-flex"):  # each run with the images its evaluation used (codebook use depends on it)
        evaluation = next(iter(json.loads((root / name / "report.json").read_text())["evaluations"].values()))
        assert f"`{name}` (" in runs_line and f"evaluated on {evaluation['images']:,} images of" in runs_line

    rows = _report_rows(root, "vq-flex")
    psnr = {r["budget"]: r["value"] for r in rows if r["metric"] == "psnr_db" and r.get("budget") is not None}
    assert sorted(psnr) == list(range(1, FLEX_TOKENS + 1))
    charts = _charts(at)
    rd = next(f[0] for s, f in charts if _enc(s)["x"]["field"] == "bits_per_image")
    flex = rd[rd["tokenizer"] == "vq-flex"].set_index("budget")
    assert flex["value"].to_dict() == pytest.approx(psnr)
    bits = {r["budget"]: r["value"] for r in rows if r["metric"] == "bits_per_image"}
    assert flex["bits_per_image"].to_dict() == pytest.approx(bits)
    assert bits[4] == pytest.approx(4 * info["vq-flex"]["bits_per_token"])
    assert any("rfid unavailable" in w.value for w in at.warning)
    baseline = next(r["value"] for r in rows if r["subject"] == "baseline:mean-image" and r["metric"] == "psnr_db")
    assert any(f"baseline:mean-image = {baseline:.4g}" in c.value for c in at.caption)
    curves = [f[0] for s, f in charts if _enc(s)["x"]["field"] == "step" and _enc(s)["y"]["field"] == "value"]
    log = [json.loads(line) for line in (root / "vq-grid" / "log.jsonl").read_text().splitlines()]
    assert any(set(c["run"]) == {"vq-grid", "vq-flex"} and
               c[c["run"] == "vq-grid"]["value"].tolist() == pytest.approx([r["loss"] for r in log]) for c in curves)
    usage = [f[0] for s, f in charts if _enc(s)["x"]["field"] == "code rank"]
    with np.load(root / "vq-flex" / "artifacts" / "eval" / "reconstructions.npz") as npz:
        counts = np.bincount(npz["codes"].ravel())
    assert any(u["count"].sum() == counts.sum() and u["count"].iloc[0] == counts.max() for u in usage)


# ---------------------------------------------------------------------------------------------- audio
def test_audio_page(monkeypatch, runs) -> None:
    root, _ = runs
    at = _page(_app(monkeypatch, root), "views/audio.py")
    rows = _report_rows(root, "codec-rvq")
    want = {r["budget"]: r["value"] for r in rows if r["metric"] == "si_snr_db"}
    kbps = {r["budget"]: r["value"] for r in rows if r["metric"] == "kbps"}
    assert sorted(want) == list(AUDIO_QUANTIZERS)
    charts = {_enc(s)["y"]["title"]: f[0] for s, f in _charts(at) if _enc(s)["x"]["field"] == "kbps"}
    assert set(charts) == {"si_snr_db", "mel_distance"}  # the default measures
    got = charts["si_snr_db"].set_index("budget")
    assert got["value"].to_dict() == pytest.approx(want) and got["kbps"].to_dict() == pytest.approx(kbps)
    table = _table(at, 0)
    for q in AUDIO_QUANTIZERS:  # every measure eval-audio wrote, STOI and PESQ included, in the table
        for metric in ("si_snr_db", "sdr_db", "stoi", "pesq_wb"):
            value = next(r["value"] for r in rows if r["metric"] == metric and r.get("budget") == q)
            assert table.loc[("codec-rvq", q), metric] == fmt(value), (q, metric)
    assert len(at.get("audio")) == 1 + len(AUDIO_QUANTIZERS)
    spectro = [s["title"]["text"] for s, _ in _charts(at) if "spectrogram" in str(s.get("title", ""))]
    assert "original: spectrogram (0–8000 Hz, dB)" in spectro and len(spectro) == 1 + len(AUDIO_QUANTIZERS)


# ---------------------------------------------------------------------------------------------- kernels
def test_kernels_page(monkeypatch, runs) -> None:
    root, _ = runs
    at = _page(_app(monkeypatch, root), "views/kernels.py")
    seconds = _table(at, 0)
    shape = "N=4096,K=1024,D=64,dtype=float32"
    assert seconds.loc[shape, "tiled_torch"] == "0.008" and seconds.loc[shape, "cdist_argmin"] == "0.02"
    spec, frames = _charts(at)[0]
    speed = frames[0].set_index(["dataset", "method"])["value"]
    assert speed[(shape, "tiled_torch")] == pytest.approx(0.020 / 0.008)
    assert speed[(shape, "cdist_argmin")] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------- the CLI
def _tree_digest(root: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_page_leaves_run_folders_untouched(monkeypatch, runs) -> None:
    root, _ = runs
    before = _tree_digest(root)
    at = _app(monkeypatch, root)
    for page in PAGES[1:]:
        _page(at, page)
    assert _tree_digest(root) == before


def test_cli_dashboard_command_line(capsys, tmp_path: Path) -> None:
    assert main(["dashboard", str(tmp_path), "--port", "8765", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--server.address 127.0.0.1" in out and "--server.port 8765" in out and "--server.headless true" in out
    assert str(APP) in out and out.strip().endswith(str(tmp_path.resolve()))


def test_cli_dashboard_bad_input(capsys, tmp_path: Path) -> None:
    import socket

    assert main(["dashboard", "--port", "70000"]) == 2
    assert "expected 1..65535" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["dashboard", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", str(tmp_path), "--port", str(port)]) == 2
    assert "in use" in capsys.readouterr().err
