"""`tokbench eval-text`, `sweep-vocab`, `inspect`, `diff` and `probe`: compare text tokenizers (issue 4)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import (DEFAULT_RUNS_DIR, CorpusOpt, ErrorsOpt, JsonOpt, NameOpt, RunsDirOpt, emit, fmt,
                                 stderr, stdout)
from tokbench.errors import TokbenchError

TokOpt = Annotated[Optional[list[str]], typer.Option(
    "--tokenizer", "-t", help="Tokenizer, repeatable: a run folder, hf:tokenizer.json, spm:x.model, tiktoken:ranks[#pattern], "
    "ref:NAME (a reference tokenizer an installed package ships); NAME=SPEC labels it.")]
CsvOpt = Annotated[Optional[Path], typer.Option("--csv", help="Also write the rows as CSV files into this folder.")]
ParallelOpt = Annotated[Optional[list[str]], typer.Option(
    "--parallel", "-p", help="Parallel corpus, repeatable: builtin:parallel, a FLORES-style folder, .tsv, .jsonl, .po/.mo.")]
PivotOpt = Annotated[Optional[str], typer.Option("--pivot", help="Pivot language of parallel corpora (default English).")]

#: `inspect` draws every token of its text: past this many characters the view is unreadable and slow
#: (segmenting and drawing cost ~10-20 s per MB), so longer texts are refused, not cut silently.
INSPECT_MAX_CHARS = 100_000

#: span colours, cycled: four clearly different hues in dark text, so any two neighbouring tokens differ
_COLORS = ("black on #ffd787", "black on #87d7ff", "black on #d7afff", "black on #afffaf")


def _tokenizer_list(tokenizer: list[str] | None, positional: list[str] | None = None) -> list[str]:
    specs = list(positional or []) + list(tokenizer or [])
    if not specs:
        raise TokbenchError("no tokenizer given (use -t SPEC, repeatable)")
    return specs


def _empty_corpus(c) -> str:
    """The message for a corpus with no non-blank line to look at (as eval-text refuses it)."""
    hint = ("; files hold out every tenth line (train-bpe's rule)" if c.split == "heldout" else "")
    return f"corpus {c.name} ({c.split}) has no non-blank lines{hint}"


def _check_csv_dir(csv_dir: Path | None) -> None:
    """--csv names a folder: refuse a file or device (or a path under one) before any work is done."""
    if csv_dir is None:
        return
    if csv_dir.exists() and not csv_dir.is_dir():
        raise TokbenchError(f"--csv {csv_dir}: not a folder (it names a file or device; give a folder to write "
                            "the CSV files into)")
    parent = next((p for p in csv_dir.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise TokbenchError(f"--csv {csv_dir}: cannot create the folder ({parent} is not a folder)")


# ---------------------------------------------------------------------------------------------- eval-text
@app.command("eval-text")
def eval_text_command(
    tokenizers: Annotated[Optional[list[str]], typer.Argument(help="Tokenizers (same forms as -t).")] = None,
    tokenizer: TokOpt = None,
    corpus: CorpusOpt = None,
    parallel: ParallelOpt = None,
    split: Annotated[Optional[str], typer.Option("--split", help="all, train or heldout (default: heldout, by "
                                                 "train-bpe's rule: built-ins by document, files every tenth line).")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="Tokenizer name for normalized sequence "
                                                     "length (default: the first).")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Rényi efficiency order, a finite number above 0.")] = 2.5,
    pivot: PivotOpt = None,
    min_entries: Annotated[int, typer.Option("--min-entries", min=1, help="Drop parallel languages with fewer aligned entries.")] = 1,
    max_lines: Annotated[Optional[int], typer.Option("--max-lines", min=1, help="Evaluate at most this many lines per corpus (default: all).")] = None,
    no_fast: Annotated[bool, typer.Option("--no-fast", help="Always encode with the tokenizer's own backend.")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="Shard the corpus metrics on a distributed "
                      "engine (dask): a local cluster, or the one at --scheduler.")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="--engine dask: address of a running "
                         "cluster (tcp://host:8786).")] = None,
    errors: ErrorsOpt = "strict",
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    name: NameOpt = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not write a text-eval run folder.")] = False,
    csv_dir: CsvOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate tokenizers on corpora and parallel corpora: compression, fertility, entropy, exactness,
    numbers and token premiums per language.

    With no **--corpus** / **--parallel** it uses the built-in corpora's held-out splits
    and **builtin:parallel-sentences**. Every corpus is scored on its held-out lines unless **--split**
    says otherwise (the rule train-bpe trains by); a warning says when a tokenizer is scored on lines it
    was trained on. Byte-level HF tokenizers are encoded by a tiktoken-based encoder
    verified identical to HF first (the report says when it falls back).
    """
    from tokbench import evaluate_text

    specs = _tokenizer_list(tokenizer, tokenizers)
    _check_csv_dir(csv_dir)
    if not (math.isfinite(alpha) and alpha > 0):
        raise TokbenchError(f"--alpha {alpha}: the Rényi order must be a finite number above 0 (default 2.5)")
    report = evaluate_text(specs, corpus, parallel, split=split, reference=reference, alpha=alpha, fast=not no_fast,
                           max_lines=max_lines, pivot=pivot, min_entries=min_entries, errors=errors,
                           runs_dir=None if no_run else runs_dir, name=name,
                           **({"engine": engine, "scheduler": scheduler} if engine or scheduler else {}))
    for warning in report.warnings:
        stderr.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if csv_dir is not None:
        report.write_csv(csv_dir)
    emit(report.to_dict(), json_out, _render_eval)


def _best_marks(values: list[Any], direction: int) -> list[bool]:
    """Which cells hold the best value of a row (ties all marked; none when the row has no better direction)."""
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if direction == 0 or len(nums) < 2:
        return [False] * len(values)
    best = max(nums) if direction > 0 else min(nums)
    return [isinstance(v, (int, float)) and not isinstance(v, bool) and v == best for v in values]


def _render_eval(payload: dict[str, Any]) -> None:
    from rich.table import Table

    from tokbench.text.evaluate import metric_direction

    rows = payload["rows"]
    subjects = list(dict.fromkeys(r["subject"] for r in rows))
    plain = [r for r in rows if "language" not in r]
    datasets = list(dict.fromkeys(r["dataset"] for r in plain))
    vocab = {t["name"]: t for t in payload.get("tokenizers", [])}
    arrows = {1: "↑ higher", -1: "↓ lower", 0: ""}
    for ds in datasets:
        first = next(r for r in plain if r["dataset"] == ds)
        prov = f"{first.get('command', '')}, split {first.get('split', '?')}, {fmt(first.get('lines', 0))} lines, " \
               f"{fmt(first.get('bytes', 0))} bytes" if "lines" in first else ""
        table = Table(title=f"{ds} ({prov}); * = best in the row" if prov else f"{ds}; * = best in the row")
        table.add_column("metric", style="bold")
        table.add_column("better")
        for s in subjects:
            table.add_column(s, justify="right")
        table.add_row("vocab requested", "", *[fmt(vocab.get(s, {}).get("vocab_size_requested")) if
                                               vocab.get(s, {}).get("vocab_size_requested") is not None else "-"
                                               for s in subjects])
        table.add_row("vocab reached", "", *[fmt(vocab[s]["vocab_size_reached"]) if s in vocab else "-"
                                             for s in subjects], end_section=True)
        metrics = list(dict.fromkeys(r["metric"] for r in plain if r["dataset"] == ds))
        values = {(r["subject"], r["metric"]): r["value"] for r in plain if r["dataset"] == ds}
        for m in metrics:
            direction = metric_direction(m)
            cells = [values.get((s, m)) for s in subjects]
            marks = _best_marks(cells, direction)
            table.add_row(m, arrows[direction], *[("-" if v is None else fmt(v)) + (" *" if best else "")
                                                  for v, best in zip(cells, marks)])
        stdout.print(table)
    prem = [r for r in rows if r["metric"] == "token_premium"]
    if prem:
        table = Table(title="token premium (CTC_L / CTC_pivot, lower is better): the 10 highest and 5 lowest of the "
                            "first tokenizer")
        table.add_column("language")
        table.add_column("script")
        for s in subjects:
            table.add_column(s, justify="right")
        by = {(r["subject"], r["dataset"], r["language"]): r for r in prem}
        first = [r for r in prem if r["subject"] == subjects[0]]
        first.sort(key=lambda r: -(r["value"] or 0))
        for r in first[:10] + first[-5:]:
            table.add_row(r["language"], r["script"],
                          *[fmt(by.get((s, r["dataset"], r["language"]), {}).get("value", "")) for s in subjects])
        stdout.print(table)
        stdout.print(f"{len({r['language'] for r in prem})} languages; spread rows (max/min, CV) are in the tables above.")
    for t in payload["tokenizers"]:
        fe = t.get("fast_encoder") or {}
        if t.get("kind") == "hf":
            stdout.print(f"{t['name']}: fast encoder {'[green]used[/green]' if fe.get('used') else '[yellow]not used[/yellow]'}"
                         f" ({fe.get('reason')})")
    for p in payload.get("parallel", []):
        stdout.print(f"{p['name']}: {p['languages']} languages, {p['pairs']:,} aligned pairs, "
                     f"{p['dropped_misaligned']:,} misaligned entries dropped", markup=False)
        if p.get("measures"):
            stdout.print(f"  measures: {p['measures']}", markup=False)
    for u in payload.get("unavailable", []):
        stdout.print(f"[dim]unavailable: {u['metric']}{' (' + u['subject'] + ')' if u.get('subject') else ''}: {u['reason']}[/dim]")
    if payload.get("run_dir"):
        stdout.print(f"run: [bold]{payload['run_dir']}[/bold]")


# ---------------------------------------------------------------------------------------------- sweep-vocab
@app.command("sweep-vocab")
def sweep_vocab_command(
    corpus: Annotated[Optional[str], typer.Option("--corpus", "-c", help="Monolingual corpus (train/held-out split; default builtin:english-large, or builtin:english when that is not installed).")] = None,
    parallel: Annotated[Optional[str], typer.Option("--parallel", "-p", help="Parallel corpus: one fit per language.")] = None,
    sizes: Annotated[Optional[str], typer.Option("--sizes", help="Comma-separated vocabulary sizes "
                                                 "(default: 4096 to 65536, doubling).")] = None,
    reference_size: Annotated[Optional[int], typer.Option("--reference-size", help="Pivot vocabulary size the "
                                                          "criterion matches (default: the largest).")] = None,
    pivot: PivotOpt = None,
    language: Annotated[Optional[list[str]], typer.Option("--language", "-l", help="Only these languages (repeatable).")] = None,
    max_languages: Annotated[Optional[int], typer.Option("--max-languages", min=1, help="At most this many languages (default: all).")] = None,
    min_entries: Annotated[int, typer.Option("--min-entries", min=1, help="Skip languages with fewer aligned entries.")] = 100,
    pretokenizer: Annotated[str, typer.Option("--pretokenizer", help="Split regex preset (as train-bpe).")] = "gpt4",
    min_frequency: Annotated[int, typer.Option("--min-frequency", help="Minimum pair count for a merge.")] = 2,
    errors: ErrorsOpt = "strict",
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    name: NameOpt = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not write a run folder.")] = False,
    csv_dir: CsvOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train the same BPE recipe at several vocabulary sizes (default 4k to 64k on the largest English
    built-in), fit token count = a·V^b over the sizes actually reached, and (on a parallel corpus)
    recommend a vocabulary size per language: the one at which its token premium reaches 1."""
    from tokbench import sweep_vocab
    from tokbench.text.sweep import DEFAULT_SWEEP_SIZES

    _check_csv_dir(csv_dir)
    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()] if sizes is not None else list(DEFAULT_SWEEP_SIZES)
    except ValueError:
        raise TokbenchError(f"--sizes {sizes!r}: expected comma-separated integers") from None
    result = sweep_vocab(corpus, parallel, sizes=size_list, reference_size=reference_size, pivot=pivot,
                         min_entries=min_entries, languages=language, max_languages=max_languages,
                         spec={"pretokenizer": pretokenizer, "min_frequency": min_frequency},
                         runs_dir=None if no_run else runs_dir, name=name, errors=errors)
    if csv_dir is not None:
        result.write_csv(csv_dir)

    def render(payload: dict[str, Any]) -> None:
        from rich.table import Table

        title = (f"{payload['dataset']}: held-out corpus token count (lower is better) per requested vocabulary "
                 f"size; reached size in brackets when short ({payload['criterion']})")
        scored = payload.get("scored", {})
        if list(payload["ctc"]) == ["all"]:  # one corpus: one row per size, nothing squeezed
            prov = scored.get("all", {})
            table = Table(title=f"{payload['dataset']} ({prov.get('lines', 0):,} lines, {prov.get('bytes', 0):,} "
                                "bytes): held-out corpus token count (lower is better) per vocabulary size")
            for col in ("V requested", "V reached", "corpus token count"):
                table.add_column(col, justify="right")
            for size in payload["sizes"]:
                table.add_row(fmt(size), fmt(payload["reached"]["all"][size]), fmt(payload["ctc"]["all"][size]))
            stdout.print(table)
            fit = payload["fits"].get("all")
            if fit:
                stdout.print(f"power law over the reached sizes: CTC = {fit['a']:.4g} · V^{fit['b']:.4f} "
                             f"(r2 {fit['r2']:.4f})")
            for note in payload["notes"][:20]:
                stdout.print(f"note: {note}", markup=False)
            if payload.get("run_dir"):
                stdout.print(f"run: [bold]{payload['run_dir']}[/bold]")
            return
        table = Table(title=title)
        table.add_column("language")
        for s in payload["sizes"]:
            table.add_column(f"V={s:,}", justify="right", overflow="fold")
        for col in ("b", "r2", "recommended V", "held-out entries", "bytes"):
            table.add_column(col, justify="right", overflow="fold")
        for lang, by_size in payload["ctc"].items():
            fit = payload["fits"].get(lang, {})
            rec = payload["recommended"].get(lang)
            reached = payload.get("reached", {}).get(lang, {})
            cells = [fmt(by_size[s]) + (f" [{reached[s]:,}]" if reached.get(s, s) < s else "")
                     for s in payload["sizes"]]
            prov = scored.get(lang, {})
            table.add_row(lang, *cells, fmt(fit.get("b", "")), fmt(fit.get("r2", "")),
                          fmt(rec) if rec is not None else "-", fmt(prov.get("lines", "")), fmt(prov.get("bytes", "")))
        stdout.print(table)
        for note in payload["notes"][:20]:
            stdout.print(f"note: {note}")
        if payload.get("run_dir"):
            stdout.print(f"run: [bold]{payload['run_dir']}[/bold]")

    emit(result.to_dict(), json_out, render)


# ---------------------------------------------------------------------------------------------- inspect
def _span_text(spans, show_ids: bool):
    """Coloured spans for a terminal: labels are already escaped (`visible`), ids stand apart after a space."""
    from rich.text import Text

    out = Text()
    for k, s in enumerate(spans):
        style = _COLORS[k % len(_COLORS)] + (" bold red" if s.text is None else "") + (" italic" if s.special else "")
        if k:
            out.append(" ")
        out.append(s.label(), style=style)
        if show_ids:
            out.append(f" {s.id}", style="dim")
    return out


@app.command("inspect")
def inspect_command(
    text: Annotated[Optional[str], typer.Argument(help="Text to segment (or --file).")] = None,
    tokenizer: TokOpt = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Segment this file's text instead.")] = None,
    ids: Annotated[bool, typer.Option("--ids/--no-ids", help="Show each token's id after it.")] = True,
    max_chars: Annotated[int, typer.Option("--max-chars", min=1, max=INSPECT_MAX_CHARS, help="Cut --file text to "
                                           "this many characters (at most 100,000).")] = 4000,
    json_out: JsonOpt = False,
) -> None:
    """Each tokenizer's segmentation of a text, side by side: colored spans with ids, whitespace made
    visible (· space, → tab, ↵ newline), byte fragments of multi-byte characters shown as `<hex bytes>`."""
    from tokbench import load_tokenizer, requested_vocab, segment

    if (text is None) == (file is None):
        raise TokbenchError("give the text to inspect, or --file PATH (one of them)")
    if file is not None:
        if file.exists() and not file.is_file():  # a FIFO or device would block or never end
            raise TokbenchError(f"{file}: not a regular file")
        try:
            with open(file, encoding="utf-8", newline="") as fh:  # reads only what is shown
                text = fh.read(max_chars)
        except (OSError, UnicodeDecodeError) as exc:
            raise TokbenchError(f"{file}: cannot read as UTF-8 ({exc})") from None
    elif len(text) > INSPECT_MAX_CHARS:
        raise TokbenchError(f"text of {len(text):,} characters: inspect shows at most {INSPECT_MAX_CHARS:,} "
                            "(use --file with --max-chars, or eval-text for whole corpora)")
    toks = [load_tokenizer(s) for s in _tokenizer_list(tokenizer)]
    results = []
    for tok in toks:
        spans = segment(tok, text)
        results.append({"tokenizer": tok.name, "kind": tok.kind, "vocab_size_requested": requested_vocab(tok),
                        "vocab_size_reached": tok.vocab_size, "tokens": len(spans),
                        "fragments": sum(s.text is None for s in spans), "spans": [s.to_dict() for s in spans],
                        "_spans": spans})

    def render(payload: dict[str, Any]) -> None:
        from rich.columns import Columns
        from rich.panel import Panel
        from rich.text import Text

        from tokbench.text.inspect import plain_segmentation, visible

        def head(r: dict[str, Any]) -> str:
            req, got = r["vocab_size_requested"], r["vocab_size_reached"]
            size = f"vocab {got:,}" + (f" of {req:,} requested" if req is not None and req != got else "")
            return f"{visible(r['tokenizer'])} ({r['kind']}, {size})"

        if not stdout.is_terminal:  # piped: plain text, boundaries as spaces, ids in brackets, no colour
            for r in payload["results"]:
                stdout.out(f"{head(r)}: {r['tokens']} tokens, {r['fragments']} byte fragments", highlight=False)
                stdout.out(plain_segmentation(r["_spans"], ids), highlight=False)
            return
        panels = [Panel(_span_text(r["_spans"], ids), title=Text(head(r)),
                        subtitle=Text(f"{r['tokens']} tokens, {r['fragments']} byte fragments"), expand=True)
                  for r in payload["results"]]
        stdout.print(Columns(panels, equal=True, expand=True) if len(panels) > 1 else panels[0])

    payload = {"text": text, "results": results}
    if json_out:
        payload = {"text": text, "results": [{k: v for k, v in r.items() if k != "_spans"} for r in results]}
    emit(payload, json_out, render)


# ---------------------------------------------------------------------------------------------- diff
@app.command("diff")
def diff_command(
    a: Annotated[str, typer.Argument(help="First tokenizer.")],
    b: Annotated[str, typer.Argument(help="Second tokenizer.")],
    corpus: CorpusOpt = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many lines / tokens to show.")] = 10,
    max_lines: Annotated[int, typer.Option("--max-lines", min=1, help="Compare at most this many corpus lines.")] = 20000,
    errors: ErrorsOpt = "strict",
    json_out: JsonOpt = False,
) -> None:
    """Vocabulary added / removed / shared (by token bytes), and the corpus lines whose segmentations
    differ most (default corpus: builtin:english held-out)."""
    from tokbench.sources.text import Corpus, evaluation_split
    from tokbench import load_tokenizer, most_different_lines, requested_vocab, vocab_diff

    ta, tb = load_tokenizer(a), load_tokenizer(b)
    specs = corpus or ["builtin:english"]
    c = Corpus(specs, split=evaluation_split(specs), errors=errors)
    vd = vocab_diff(ta, tb)
    scored: dict[str, int] = {}
    lines = most_different_lines(ta, tb, c.lines(), top=top, max_lines=max_lines, scored=scored)
    if not scored.get("lines"):
        raise TokbenchError(_empty_corpus(c))
    payload = {"a": ta.name, "b": tb.name, "vocab": vd.to_dict(limit=top), "corpus": c.name, "lines": lines,
               "provenance": {"corpus": c.name, "split": c.split, **scored},
               "vocab_sizes": {ta.name: {"requested": requested_vocab(ta), "reached": ta.vocab_size},
                               tb.name: {"requested": requested_vocab(tb), "reached": tb.vocab_size}}}

    def render(p: dict[str, Any]) -> None:
        v = p["vocab"]
        for name, size in p["vocab_sizes"].items():
            req = size["requested"]
            stdout.print(f"{name}: vocab {size['reached']:,}" +
                         (f" of {req:,} requested" if req is not None and req != size["reached"] else ""), markup=False)
        stdout.print(f"[bold]{p['a']}[/bold] vs [bold]{p['b']}[/bold]: {fmt(v['shared'])} tokens shared, "
                     f"{fmt(v['only_a'])} only in {p['a']}, {fmt(v['only_b'])} only in {p['b']}")
        stdout.print(f"  only in {p['a']}: " + "  ".join(v["examples_only_a"][:top]))
        stdout.print(f"  only in {p['b']}: " + "  ".join(v["examples_only_b"][:top]))
        prov = p["provenance"]
        stdout.print(f"lines of {prov['corpus']} ({prov['split']} split, {prov['lines']:,} non-blank lines, "
                     f"{prov['bytes']:,} bytes compared) whose segmentation differs most:", markup=False)
        for ln in p["lines"]:
            stdout.print(f"[dim]line {ln['line_number']}, distance {ln['distance']:.2f}, "
                         f"{ln['tokens_a']} vs {ln['tokens_b']} tokens[/dim]")
            stdout.print("  " + p["a"] + ": " + " | ".join(ln["segments_a"]), markup=False)
            stdout.print("  " + p["b"] + ": " + " | ".join(ln["segments_b"]), markup=False)

    emit(payload, json_out, render)


# ---------------------------------------------------------------------------------------------- probe
@app.command("probe")
def probe_command(
    tokenizer: TokOpt = None,
    corpus: CorpusOpt = None,
    max_lines: Annotated[int, typer.Option("--max-lines", min=1, help="Probe at most this many corpus lines.")] = 5000,
    top: Annotated[int, typer.Option("--top", min=1, help="Most frequent cases shown per category.")] = 10,
    errors: ErrorsOpt = "strict",
    json_out: JsonOpt = False,
) -> None:
    """Non-unique encodings: words encoded differently depending on context (whitespace-boundary shifts,
    intra-word resegmentation) and vocabulary tokens with another id sequence decoding to the same string."""
    from tokbench.sources.text import Corpus, evaluation_split
    from tokbench import load_tokenizer, probe_nonunique

    specs = corpus or ["builtin:english"]
    c = Corpus(specs, split=evaluation_split(specs), errors=errors)
    out = []
    for spec in _tokenizer_list(tokenizer):
        tok = load_tokenizer(spec)
        out.append({"tokenizer": tok.name, **probe_nonunique(tok, c.lines(), max_lines=max_lines, top=top).to_dict()})
        if not out[-1].get("lines"):
            raise TokbenchError(_empty_corpus(c))

    def render(p: dict[str, Any]) -> None:
        from rich.table import Table
        from rich.text import Text

        for r in p["results"]:
            table = Table(title=f"{r['tokenizer']} on {p['corpus']} ({p['split']} split, {r['lines']:,} lines, "
                                f"{r['bytes']:,} bytes): {r['contexts']:,} word occurrences, {r['words']:,} distinct "
                                f"words, {r['tokens_checked']:,} vocabulary tokens checked")
            for col in ("category", "rate", "count", "most frequent cases"):
                table.add_column(col)
            for cat, rate_ in r["rates"].items():
                cases = []
                for e in r["examples"].get(cat, [])[:5]:
                    if cat == "decode_collision":
                        cases.append(f"{e['string']!r}: {e['ids_a']} ~ {e['ids_b']}")
                    else:
                        cases.append(f"{e['string']!r}: {'|'.join(e['alone'])} vs {'|'.join(e['in_context'])} ×{e['count']}")
                table.add_row(cat, fmt(rate_) if rate_ is not None else "n/a", fmt(r["counts"].get(cat, 0)),
                              Text("\n".join(cases)))
            stdout.print(table)
            for note in r.get("notes", []):
                stdout.print(f"note: {note}")

    emit({"corpus": c.name, "split": c.split, "results": out}, json_out, render)
