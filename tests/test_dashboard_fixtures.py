"""Run folders of every kind for the dashboard tests, made by the library itself, and checks that they
follow the contracts.

Text, visual and audio runs are real and tiny: `train_bpe` on a small cut of `builtin:english` and
`evaluate_text` on it and a small parallel corpus; `fit_vq` (grid2d and flexible) on `builtin:digits` then
`evaluate_vq`; `fit_audio` on `builtin:signals` then `evaluate_audio`. So the dashboard is tested on exactly
the rows, files and names the evaluations write (issue 19), not on a hand-written imitation of them. Only the
bench run (timings) and the corrupt folder are written by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tokbench.runs import Run, list_runs

#: a small aligned corpus (FLORES-style codes carry the script): a few real translations per language
PARALLEL = {
    "eng_Latn": ["the house", "red", "water", "good morning", "thank you very much",
                 "the weather is nice today"],
    "fra_Latn": ["la maison", "rouge", "eau", "bonjour", "merci beaucoup", "il fait beau aujourd'hui"],
    "deu_Latn": ["das Haus", "rot", "Wasser", "guten Morgen", "vielen Dank", "das Wetter ist heute schön"],
    "rus_Cyrl": ["дом", "красный", "вода", "доброе утро", "большое спасибо", "сегодня хорошая погода"],
    "ell_Grek": ["το σπίτι", "κόκκινο", "νερό", "καλημέρα", "ευχαριστώ πολύ",
                 "ο καιρός είναι ωραίος σήμερα"],
    "jpn_Jpan": ["家", "赤", "水", "おはようございます", "どうもありがとうございます", "今日はいい天気です"],
    "arb_Arab": ["المنزل", "أحمر", "ماء", "صباح الخير", "شكرا جزيلا", "الطقس جميل اليوم"],
}
TEXT_VOCABS = (500, 300)
DIGITS = "builtin:digits"  # 8x8 images: real data, tiny models
VISUAL_TRAIN = {"image_size": 8, "log_every": 1, "batch_size": 16, "warmup_steps": 2}
VISUAL_MODELS = {  # run name -> (family, model knobs)
    "vq-grid": ("grid2d", {"width": 8, "depth": 1, "codebook_size": 32, "code_dim": 4}),
    "vq-flex": ("flexible", {"width": 16, "heads": 2, "patch_size": 2, "num_tokens": 8, "quantizer": "vq",
                             "codebook_size": 32, "code_dim": 4}),
}
FLEX_TOKENS = 8
AUDIO = dict(n_q=2, codebook_size=16, dim=8, channels=4, batch_size=4, segment_seconds=0.12, seed=7,
             data="builtin:signals", log_every=1, ckpt_every=2, threads=1)
AUDIO_QUANTIZERS = (1, 2)
BENCH_SHAPES = ("N=4096,K=1024,D=64,dtype=float32", "N=16384,K=8192,D=32,dtype=float32")


def corpus_file(folder: Path, chars: int = 60_000) -> Path:
    from tokbench import Corpus

    path = folder / "english-small.txt"
    if not path.exists():
        path.write_text(Corpus("builtin:english", split="train").text(max_chars=chars), encoding="utf-8")
    return path


def parallel_file(folder: Path) -> Path:
    path = folder / "parallel-small.tsv"
    langs = list(PARALLEL)
    rows = ["\t".join(langs)] + ["\t".join(PARALLEL[lang][i] for lang in langs)
                                 for i in range(len(PARALLEL["eng_Latn"]))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def make_text_runs(root: Path, corpus: Path, scratch: Path) -> list[str]:
    """Two trained BPE runs and the text-eval run `evaluate_text` writes for them."""
    from tokbench import evaluate_text, train_bpe

    names = []
    for vocab in TEXT_VOCABS:
        train_bpe(str(corpus), vocab_size=vocab, runs_dir=root, name=f"bpe-{vocab}")
        names.append(f"bpe-{vocab}")
    evaluate_text([str(root / n) for n in names], [str(corpus)], [str(parallel_file(scratch))], max_lines=300,
                  runs_dir=root, name="eval-text")
    return names + ["eval-text"]


def make_visual_runs(root: Path) -> list[str]:
    """Two tiny visual tokenizers trained for a few steps, each evaluated by `evaluate_vq`."""
    from tokbench.visual.evaluate import evaluate_vq
    from tokbench.visual.train import fit_vq

    for name, (family, model) in VISUAL_MODELS.items():
        fit_vq(family, DIGITS, steps=3, config={**VISUAL_TRAIN, **model}, runs_dir=root, name=name, device="cpu",
               checkpoint_every=3, threads=1)
        evaluate_vq(root / name, DIGITS, split="test", limit=48, batch_size=48, examples=8)
    return list(VISUAL_MODELS)


def make_audio_run(root: Path) -> str:
    """A tiny residual-VQ codec trained for two steps and evaluated by `evaluate_audio`."""
    from tokbench.audio.evaluate import evaluate_audio
    from tokbench.audio.train import fit_audio

    run_dir = fit_audio(steps=2, runs_dir=root, name="codec-rvq", **AUDIO)["run_dir"]
    evaluate_audio(run_dir, AUDIO["data"], split="test", max_clips=2, n_wavs=1)
    return "codec-rvq"


def make_bench_run(root: Path) -> str:
    with Run.create(root, "bench", {"device": "cpu"}, name="bench-cpu") as run:
        rows = []
        for shape, (cd, tiled) in zip(BENCH_SHAPES, ((0.020, 0.008), (0.310, 0.090))):
            n, k, d, dtype = (p.split("=")[1] for p in shape.split(","))
            extra = {"n": int(n), "k": int(k), "d": int(d), "dtype": dtype}
            for method, sec in (("cdist_argmin", cd), ("tiled_torch", tiled)):
                rows += [dict(extra, subject=method, dataset=shape, metric="seconds", value=sec),
                         dict(extra, subject=method, dataset=shape, metric="speedup_vs_cdist", value=cd / sec)]
        run.write_report({"schema": 1, "kind": "bench", "rows": rows})
    return "bench-cpu"


def make_corrupt(root: Path) -> str:
    folder = root / "broken-run"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{not json")
    return "broken-run"


def build_all(root: Path, scratch: Path) -> dict[str, list[str]]:
    """Every kind of run under `root`; returns the names by kind group."""
    return {"text": make_text_runs(root, corpus_file(scratch), scratch), "visual": make_visual_runs(root),
            "audio": [make_audio_run(root)], "bench": [make_bench_run(root)], "corrupt": [make_corrupt(root)]}


def test_fixture_runs_follow_the_contracts(dashboard_runs) -> None:
    root, names = dashboard_runs
    records = {r.name: r for r in list_runs(root)}
    assert records["broken-run"].error and records["broken-run"].status == "corrupt"
    kinds = {"bpe-500": "text-bpe", "eval-text": "text-eval", "vq-grid": "visual-vq", "vq-flex": "visual-vq",
             "codec-rvq": "audio-codec", "bench-cpu": "bench"}
    for name, kind in kinds.items():
        rec = records[name]
        assert rec.error is None and rec.status == "done" and rec.kind == kind
    for name in ("eval-text", "vq-grid", "vq-flex", "codec-rvq", "bench-cpu"):
        rows = records[name].report["rows"]
        assert records[name].report["schema"] == 1 and rows
        assert all({"subject", "dataset", "metric", "value"} <= set(r) for r in rows)
    # what eval-text really writes: no "fertility" row, both named fertilities, premiums for every language
    metrics = {r["metric"] for r in records["eval-text"].report["rows"]}
    assert "fertility" not in metrics and {"fertility_corpus", "fertility_words_alone", "token_premium"} <= metrics
    premium_langs = {r["language"] for r in records["eval-text"].report["rows"] if r["metric"] == "token_premium"}
    assert premium_langs == set(PARALLEL)
    with np.load(records["vq-flex"].artifacts / "eval" / "reconstructions.npz") as npz:
        assert npz["original"].dtype == np.uint8 and npz[f"budget_{FLEX_TOKENS}"].shape == npz["original"].shape
        assert {f"budget_{k}" for k in range(1, FLEX_TOKENS + 1)} <= set(npz.files)
    flex_budgets = sorted(r["budget"] for r in records["vq-flex"].report["rows"] if r["metric"] == "psnr_db"
                          and r.get("budget") is not None)
    assert flex_budgets == list(range(1, FLEX_TOKENS + 1))
    audio = {(r["metric"], r["budget"]) for r in records["codec-rvq"].report["rows"] if "budget" in r}
    assert {("si_snr_db", q) for q in AUDIO_QUANTIZERS} <= audio
