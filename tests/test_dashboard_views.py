"""The dashboard's pure view helpers (apps/tbdash): byte fragments, disagreement rings, scripts, merge
ranks, image grids and spectrograms, checked against hand-computed values."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "apps"))

from tbdash import data, media, spans, vocab  # noqa: E402
from tokbench.runs import RunRecord  # noqa: E402


class ByteTokenizer:
    """Every byte its own token (id = byte value), or fixed cut points: enough to know the answer by hand."""

    name = "bytes"
    special_ids = frozenset()

    def __init__(self, cuts: tuple[int, ...] = ()) -> None:
        self.cuts = cuts
        self._table: dict[bytes, int] = {}

    def encode(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        edges = [0, *self.cuts, len(raw)] if self.cuts else list(range(len(raw) + 1))
        ids = []
        for a, b in zip(edges, edges[1:]):
            ids.append(self._table.setdefault(raw[a:b], 1000 + len(self._table)) if b - a > 1 else raw[a])
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        if token_id < 256:
            return bytes([token_id])
        return {v: k for k, v in self._table.items()}[token_id]


def test_pieces_show_fragments_as_bytes() -> None:
    assert spans.pieces("é".encode()) == [("text", "é")]
    assert spans.pieces(b" \xe6\x97") == [("text", " "), ("bytes", "E6 97")]
    assert spans.label(b"a \xff") == "a·<0xFF>"  # ASCII, so no font draws it as tofu (issue 16)


def test_rings_mark_exactly_the_disagreeing_tokens() -> None:
    text = "abcd"  # A: ab|cd   B: a|bcd   -> A's both tokens differ; B's 'a' and 'bcd' differ
    seg_a = spans.segment(ByteTokenizer((2,)), text, "A")
    seg_b = spans.segment(ByteTokenizer((1,)), text, "B")
    seg_c = spans.segment(ByteTokenizer((2,)), text, "C")
    assert spans.disagreements([seg_a, seg_c]) == [set(), set()]
    assert spans.disagreements([seg_a, seg_b]) == [{0, 1}, {0, 1}]
    html = spans.segmentation_html(seg_a, {1})
    assert html.count("outline:2px solid") == 1 and "title=\"id " in html


def test_utf8_fragment_spans_render_hex() -> None:
    seg = spans.segment(ByteTokenizer(), "日")  # three one-byte tokens, none valid UTF-8 alone
    assert [s.id for s in seg.spans] == list("日".encode())
    html = spans.segmentation_html(seg)  # the bytes in the titles; the last one completes the character
    assert html.count("&lt;0x") == 3 and html.count("dotted #553'>日</span>") == 1
    assert html.count("opacity:0.35'>日</span>") == 2  # the first two bytes start the character, faded


def test_token_script() -> None:
    assert vocab.token_script("hello".encode()) == "Latin"
    assert vocab.token_script("日本".encode()) == "Han"
    assert vocab.token_script("привет".encode()) == "Cyrillic"
    assert vocab.token_script(b"  ") == "Whitespace"
    assert vocab.token_script(b"123") == "Digits"
    assert vocab.token_script(b"\xe6") == "Bytes"


def test_merge_ranks_from_hf_bpe(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(["low lower lowest"] * 20, trainers.BpeTrainer(vocab_size=300, show_progress=False))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    from tokbench import load_tokenizer

    loaded = load_tokenizer(f"hf:{path}")
    ranks = vocab.merge_ranks(loaded)
    merges = json.loads(path.read_text())["model"]["merges"]
    first = merges[0] if isinstance(merges[0], str) else " ".join(merges[0])
    assert loaded.id_to_token(next(i for i, r in ranks.items() if r == 0)) == first.replace(" ", "")


def test_column_and_spectrogram() -> None:
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5, 1)
    grid = media.column(images, 2, scale=2, pad=1)
    assert grid.shape == (2 * 8 + 1, 10, 3) and (grid[8] == 255).all()
    rate, freq = 16000, 1000.0
    t = np.arange(rate // 2) / rate
    db = media.spectrogram_db(np.sin(2 * np.pi * freq * t))
    assert abs(int(np.argmax(db.mean(axis=1))) - round(freq / (rate / 512))) <= 1
    assert media.spectrogram_image(np.sin(2 * np.pi * freq * t)).shape[2] == 3


def test_run_summaries(tmp_path: Path) -> None:
    rec = RunRecord(path=tmp_path / "r", info={"kind": "text-bpe", "data": [
        {"source": "/a/b/english.txt", "split": "train"}, {"source": "builtin:code", "split": "train"}]},
        metrics={"training": {"train_seconds": 1.5}, "x/heldout": {"bytes_per_token": 4.123456}})
    assert data.data_summary(rec) == "english.txt (train), builtin:code (train)"
    assert data.key_metrics(rec).startswith("bytes_per_token=4.123")
    bench = RunRecord(path=tmp_path / "b", info={"kind": "bench"}, report={"rows": [
        {"subject": "m", "dataset": "N=1", "metric": "speedup_vs_cdist", "value": v} for v in (0.5, 2.5)]})
    assert data.key_metrics(bench) == "best speedup_vs_cdist=2.5; 1 subject, 2 rows"
    assert data.short_name("/tmp/x/english-small.txt/heldout") == "english-small.txt/heldout"
    assert data.fmt(1234.5) == "1,234"  # Python's round-half-to-even
    assert data.fmt(None) == "—" and data.fmt(0.123456) == "0.1235"


@pytest.mark.parametrize("value,expected", [(3, "3"), (2.0, "2"), (float("nan"), "—")])
def test_fmt(value, expected) -> None:
    assert data.fmt(value) == expected


def test_visual_variant_names_our_1d_options(tmp_path: Path) -> None:
    """The runs table tells a recipe run (our latent_mixing / pixel_head) from the published architecture."""
    from tbdash import describe

    def visual(model: dict) -> RunRecord:
        return RunRecord(path=tmp_path / "v", info={"kind": "visual-vq", "config": {
            "family": "latent1d", "model": {"quantizer": "vq", "codebook_size": 1024, **model}}})

    assert describe.summary(visual({}))["variant"] == "latent1d"
    assert describe.summary(visual({"latent_mixing": "none", "pixel_head": "linear"}))["variant"] == "latent1d"
    assert describe.summary(visual({"latent_mixing": "raster", "pixel_head": "conv"}))["variant"] == \
        "latent1d (raster mixing, conv head)"
    assert describe.summary(visual({"pixel_head": "conv"}))["variant"] == "latent1d (conv head)"
