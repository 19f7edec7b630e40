"""Token premiums on the two built-in parallel corpora, side by side: sentences (Django's translation catalogs,
`builtin:parallel-sentences`) against display-name labels (CLDR / iso-codes, `builtin:parallel`), for the
default BPE recipe at 32k. Reports each language's premium on both, their Spearman rank correlation and the
median ratio labels / sentences: how far the label corpus can stand in for sentences.

    .venv/bin/python benchmarks/premiums.py [--vocab-size 32000] [--corpus builtin:english-large] [--write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOKBENCH_PROGRESS", "0")

from tokbench.sources.parallel_sentences import LABELS_NAME, SENTENCES_NAME  # noqa: E402
from tokbench.sources.text import builtin_names  # noqa: E402
from tokbench.text.bpe import train_bpe  # noqa: E402
from tokbench.text.evaluate import evaluate_text  # noqa: E402


def premiums_by_language(report, dataset: str) -> dict[str, float]:
    return {r["language"]: r["value"] for r in report.rows
            if r["dataset"] == dataset and r["metric"] == "token_premium" and r["value"] is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--corpus", default="builtin:english-large" if "english-large" in builtin_names() else "builtin:english")
    ap.add_argument("--write", action="store_true", help="record the figures in benchmarks/RESULTS.md")
    args = ap.parse_args()
    from scipy.stats import spearmanr

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trained = train_bpe(args.corpus, vocab_size=args.vocab_size, runs_dir=tmp, name="bpe", evaluate=False)
        report = evaluate_text([str(trained.run_dir)], [], [SENTENCES_NAME, LABELS_NAME])
    seconds = time.perf_counter() - start
    sentences = premiums_by_language(report, SENTENCES_NAME)
    labels = premiums_by_language(report, LABELS_NAME)
    common = sorted(lang for lang in set(sentences) & set(labels) if lang != "en")
    rho = spearmanr([sentences[k] for k in common], [labels[k] for k in common]).statistic
    median_ratio = statistics.median(labels[k] / sentences[k] for k in common)
    summary = {p["name"]: p for p in report.parallel}
    print(f"default BPE on {args.corpus}: {trained.vocab['reached']:,} tokens reached of {trained.vocab['requested']:,}")
    print(f"{len(common)} languages in both corpora; Spearman rho {rho:.3f}; median premium ratio labels/sentences "
          f"{median_ratio:.3f}; {seconds:.0f} s")
    lines = ["| language | script | premium, sentences | premium, labels | labels / sentences |", "|---|---|---|---|---|"]
    scripts = {r["language"]: r["script"] for r in report.rows if r.get("language")}
    for lang in sorted(common, key=lambda k: -sentences[k]):
        lines.append(f"| {lang} | {scripts.get(lang, '')} | {sentences[lang]:.2f} | {labels[lang]:.2f} | "
                     f"{labels[lang] / sentences[lang]:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        from _results import load_note, machine, write_section

        s, lab = summary[SENTENCES_NAME], summary[LABELS_NAME]
        body = f"""Command: `.venv/bin/python benchmarks/premiums.py --write` ({machine()}; {load_note()}; {seconds:.0f} s).

Tokenizer: the default `train-bpe` recipe (byte-level BPE, GPT-4 split, min frequency 2) trained on `{args.corpus}`
with `-v {args.vocab_size}`: {trained.vocab['reached']:,} tokens reached. Premium = CTC_L / CTC_en over the entries
each language shares with English (Petrov et al. 2023; Arnett et al. 2025).

- `{SENTENCES_NAME}`: {s['languages']} languages, {s['pairs']:,} aligned pairs, {s['dropped_misaligned']:,} misaligned
  entries dropped. Measures {s['measures']}.
- `{LABELS_NAME}`: {lab['languages']} languages, {lab['pairs']:,} aligned pairs. Measures {lab['measures']}.

Over the {len(common)} languages in both: **Spearman rank correlation {rho:.3f}**, **median premium ratio labels /
sentences {median_ratio:.3f}**. The label corpus orders languages much as sentences do but shrinks their premiums,
so premiums to quote are the sentence ones (the default of `eval-text`).

{table}
"""
        write_section("Token premiums: sentences vs labels (issue 12)", body)


if __name__ == "__main__":
    main()
