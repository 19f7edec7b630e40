"""Vocabulary sweeps: the same BPE recipe at several vocabulary sizes, corpus token count against size, and a
power-law fit CTC(V) = a · V^b (per language on a parallel corpus), as in Arnett, Chang, Biderman & Bergen 2025,
"Explaining and Mitigating Crosslingual Tokenizer Inequities".

One training per corpus (or language), not one per size: greedy BPE is nested, so the tokenizer of size V is
the first V - base merges of a larger one (same corpus, same --min-frequency; tests check this against direct
training). A size the data cannot reach is never reported as if it had been: every point carries its
requested and reached vocabulary, the fit uses the reached sizes, and repeated reached sizes (the corpus ran
out of pairs) are left out of the fit with a note.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.metrics import premiums
from tokbench.progress import track
from tokbench.runs import Run
from tokbench.sources.parallel_sentences import load_any_parallel
from tokbench.sources.text import Corpus, builtin_names

#: sizes people train at: 4k to 64k
DEFAULT_SWEEP_SIZES = (4096, 8192, 16384, 32768, 65536)
#: the monolingual corpus swept when none is given: the largest English built-in there is
DEFAULT_SWEEP_CORPORA = ("builtin:english-large", "builtin:english")


def default_sweep_corpus() -> str:
    names = builtin_names()
    return next(c for c in DEFAULT_SWEEP_CORPORA if c.split(":", 1)[1] in names or c == DEFAULT_SWEEP_CORPORA[-1])


def _is_eval_entry(text: str) -> bool:
    """A fixed ~10% of entries (by content hash of the pivot side) are kept out of training."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] < 26


def _train_in_memory(texts: list[str], vocab_size: int, spec_kwargs: dict[str, Any]):
    """Train the plain byte-level HF recipe of `train_bpe` in memory (no run folder)."""
    from tokbench.text.bpe import BPESpec, build_hf_tokenizer, hf_trainer

    spec = BPESpec(vocab_size=vocab_size, **spec_kwargs)
    spec.validate()
    tok = build_hf_tokenizer(spec)
    trainer = hf_trainer(spec)
    trainer.show_progress = False
    tok.train_from_iterator(texts, trainer)
    return tok


def truncate_bpe(tok, size: int):
    """The BPE of `size` tokens nested in a larger trained one: ids below `size` and the merges that make them."""
    from tokenizers import Tokenizer

    data = json.loads(tok.to_str())
    full = tok.get_vocab_size(with_added_tokens=True)
    if size >= full:
        return tok
    merges = data["model"]["merges"]
    data["model"]["merges"] = merges[: max(0, len(merges) - (full - size))]
    data["model"]["vocab"] = {t: i for t, i in data["model"]["vocab"].items() if i < size}
    data["added_tokens"] = [t for t in data["added_tokens"] if t["id"] < size]
    return Tokenizer.from_str(json.dumps(data))


def _ctc(tok, texts: list[str]) -> int:
    return sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)) if texts else 0


@dataclass
class SweepResult:
    """Corpus token counts per requested size (with the size reached), power-law fits and recommended sizes."""

    sizes: list[int]
    ctc: dict[str, dict[int, int]]
    fits: dict[str, dict[str, float]]
    recommended: dict[str, float | None]
    criterion: str
    reference_size: int | None = None
    scripts: dict[str, str] = field(default_factory=dict)
    reached: dict[str, dict[int, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dataset: str = ""
    run_dir: str | None = None
    #: provenance per corpus key: held-out `lines` (entries) and their UTF-8 `bytes` counted, `train_lines`
    scored: dict[str, dict[str, int]] = field(default_factory=dict)

    def rows(self, dataset: str | None = None) -> list[dict[str, Any]]:
        dataset = dataset or self.dataset
        out = []
        for lang, by_size in self.ctc.items():
            extra = {"language": lang, "script": self.scripts[lang]} if lang in self.scripts else {}
            scored = self.scored.get(lang, {})
            prov = {"lines": scored.get("lines"), "bytes": scored.get("bytes")}
            for size, count in by_size.items():
                out.append({"subject": f"sweep:{size}", "dataset": dataset, "metric": "corpus_token_count",
                            "value": count, "budget": size, "vocab_size_requested": size,
                            "vocab_size_reached": self.reached.get(lang, {}).get(size), "command": "sweep-vocab",
                            "split": "heldout", **prov, **extra})
            fit = self.fits.get(lang)
            if fit:
                for k in ("a", "b", "r2"):
                    out.append({"subject": "sweep", "dataset": dataset, "metric": f"power_law_{k}",
                                "value": fit[k], "command": "sweep-vocab", **extra})
            if lang in self.recommended:
                out.append({"subject": "sweep", "dataset": dataset, "metric": "recommended_vocab_size",
                            "value": self.recommended[lang], **extra, "note": self.criterion})
        return out

    def to_dict(self, dataset: str = "") -> dict[str, Any]:
        return {"dataset": dataset or self.dataset, "sizes": self.sizes, "ctc": self.ctc, "reached": self.reached,
                "fits": self.fits, "recommended": self.recommended, "criterion": self.criterion,
                "reference_size": self.reference_size, "scripts": self.scripts, "notes": self.notes,
                "scored": self.scored,
                **({"run_dir": self.run_dir} if self.run_dir else {})}

    def write_csv(self, folder: str | Path) -> list[Path]:
        """`sweep.csv`: one row per (language, size, requested/reached, CTC) and per fit value."""
        from tokbench.text.evaluate import write_rows_csv

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [write_rows_csv(folder / "sweep.csv", self.rows())]


def _sweep_one(key: str, train: list[str], held: list[str], sizes: list[int], spec_kwargs: dict[str, Any],
               result: SweepResult) -> None:
    """Train once at the largest size, count held-out tokens at every nested size, fit on reached sizes."""
    big = _train_in_memory(train, sizes[-1], spec_kwargs)
    result.scored[key] = {"lines": len(held), "bytes": sum(len(t.encode("utf-8")) for t in held),
                          "train_lines": len(train)}
    full = big.get_vocab_size(with_added_tokens=True)
    result.ctc[key], result.reached[key] = {}, {}
    for size in sizes:
        tok = truncate_bpe(big, size)
        result.reached[key][size] = tok.get_vocab_size(with_added_tokens=True)
        result.ctc[key][size] = _ctc(tok, held)
    fit_sizes = sorted(set(result.reached[key].values()))
    unreached = [s for s in sizes if result.reached[key][s] < s]
    if unreached:
        result.notes.append(f"{key}: sizes {', '.join(f'{s:,}' for s in unreached)} not reached (the training data "
                            f"supports {full:,} tokens); the fit uses the reached sizes")
    if len(fit_sizes) < 2:
        result.notes.append(f"{key}: fewer than two distinct reached sizes; no power-law fit")
        return
    counts = {result.reached[key][s]: result.ctc[key][s] for s in sizes}
    result.fits[key] = premiums.fit_power_law(fit_sizes, [counts[v] for v in fit_sizes])


def sweep_vocab(corpus: str | None = None, parallel: str | None = None, *, sizes: Sequence[int] = DEFAULT_SWEEP_SIZES,
                reference_size: int | None = None, pivot: str | None = None, min_entries: int = 300,
                languages: Sequence[str] | None = None, max_languages: int | None = None,
                spec: dict[str, Any] | None = None, runs_dir: str | Path | None = None,
                name: str | None = None, errors: str = "strict") -> SweepResult:
    """Train the same recipe at several vocabulary sizes and fit CTC(V) = a · V^b over the *reached* sizes
    (per language on a parallel corpus).

    Monolingual (`corpus`, default: the largest English built-in): train on the train split, count tokens
    on the held-out split; no size is recommended (the criterion needs a pivot language).
    Parallel (`parallel`): per language, train a monolingual tokenizer on its training entries (~90% by
    hash) and count tokens on the held-out entries. Criterion (after Arnett et al. 2025, who fit a power law
    of CTC against vocabulary size per language to find the vocabulary size at which a language's
    tokenizer matches English): the recommended size for language L is the V at which L's fitted CTC equals
    the pivot tokenizer's CTC on the same held-out entries at the reference size (default: the largest
    swept size, or what the pivot reached), i.e. the vocabulary at which L's token premium is 1.
    Extrapolations beyond 4x the largest reached size are reported with a note. `errors`: what invalid
    UTF-8 in `corpus` does (strict, replace or skip, as train-bpe).
    """
    sizes = sorted({int(s) for s in sizes})
    if len(sizes) < 2:
        raise TokbenchError("sweep-vocab needs at least two vocabulary sizes")
    if corpus is not None and parallel is not None:
        raise TokbenchError("give at most one of --corpus or --parallel")
    if corpus is None and parallel is None:
        corpus = default_sweep_corpus()
    spec_kwargs = dict(spec or {})
    spec_kwargs.setdefault("min_frequency", 2)
    spec_kwargs.pop("vocab_size", None)
    if spec_kwargs.get("backend", "hf") != "hf" or spec_kwargs.get("variant", "plain") != "plain":
        raise TokbenchError("sweep-vocab trains the plain byte-level HF recipe (backend hf, variant plain)")
    from tokbench.text.bpe import BPESpec

    checks = [(sizes[0], "--sizes"), (sizes[-1], "--sizes")]
    if reference_size is not None:
        checks.append((reference_size, "--reference-size"))
    for size, flag in checks:  # bad sizes / options fail before any work, naming the option that gave them
        try:
            BPESpec(vocab_size=size, **spec_kwargs).validate()
        except TokbenchError as exc:
            raise TokbenchError(str(exc).replace("--vocab-size", flag)) from None
    result = SweepResult(sizes, {}, {}, {}, "")
    if corpus is not None:
        train = [ln for ln in Corpus(corpus, split="train", errors=errors).lines() if ln.strip()]
        held = [ln for ln in Corpus(corpus, split="heldout", errors=errors).lines() if ln.strip()]
        if not train or not held:
            raise TokbenchError(f"corpus {corpus} has an empty train or held-out split")
        _sweep_one("all", train, held, sizes, spec_kwargs, result)
        result.criterion = "none: a recommended size needs a parallel corpus (premium-1 criterion)"
        result.dataset = f"{corpus}/heldout"
        data = Corpus(corpus, split="all", errors=errors).fingerprint()
    else:
        pc = load_any_parallel(parallel, pivot=pivot, min_entries=min_entries)
        langs = [lang for lang in pc.languages if lang != pc.pivot]
        if languages:
            missing = sorted(set(languages) - set(langs))
            if missing:
                raise TokbenchError(f"languages not in {parallel}: {', '.join(missing)}")
            langs = [lang for lang in langs if lang in set(languages)]
        if max_languages is not None:
            langs = langs[:max_languages]
        pivot_train = [a for a, _ in pc.pairs[pc.pivot] if not _is_eval_entry(a)]
        pivot_tok = _train_in_memory(pivot_train, reference_size or sizes[-1], spec_kwargs)
        ref_size = pivot_tok.get_vocab_size(with_added_tokens=True)
        result.reference_size = ref_size
        if ref_size < (reference_size or sizes[-1]):
            result.notes.append(f"{pc.pivot}: the reference size {reference_size or sizes[-1]:,} was not reached; "
                                f"the pivot tokenizer has {ref_size:,} tokens")
        result.criterion = (f"V at which the language's fitted CTC equals the {pc.pivot} CTC of the same held-out "
                            f"entries at V={ref_size} (token premium 1; after Arnett et al. 2025)")
        for lang in track(langs, "sweep-vocab", total=len(langs)):
            pairs = pc.pairs[lang]
            train = [b for a, b in pairs if not _is_eval_entry(a)]
            held = [(a, b) for a, b in pairs if _is_eval_entry(a)]
            if len(held) < 5 or len(train) < 20:
                result.notes.append(f"{lang}: too few entries ({len(train)} train, {len(held)} held out)")
                continue
            result.scripts[lang] = pc.script(lang)
            _sweep_one(lang, train, [b for _, b in held], sizes, spec_kwargs, result)
            fit = result.fits.get(lang)
            if fit is None:
                continue
            target = _ctc(pivot_tok, [a for a, _ in held])
            v_star = premiums.vocab_for_target(fit, target)
            if not math.isfinite(v_star) or fit["b"] >= 0:
                result.recommended[lang] = None
                result.notes.append(f"{lang}: token count does not fall with vocabulary size; no recommendation")
            else:
                result.recommended[lang] = round(v_star)
                top = max(result.reached[lang].values())
                if v_star > 4 * top:
                    result.notes.append(f"{lang}: recommended size {round(v_star):,} extrapolates beyond 4x the "
                                        f"largest reached size ({top:,})")
        result.dataset = parallel
        data = pc.fingerprint()
    if runs_dir is not None:
        config = {"mode": "sweep-vocab", "corpus": corpus, "parallel": parallel, "sizes": sizes,
                  "reference_size": result.reference_size, "pivot": pivot, "min_entries": min_entries,
                  "spec": spec_kwargs}
        with Run.create(runs_dir, "text-eval", config, name=name, data=data, packages=("tokenizers",)) as run:
            result.run_dir = str(run.path)
            run.write_report({"schema": 1, "kind": "text-eval", "rows": result.rows(), "unavailable": [],
                              "sweep": result.to_dict()})
    return result
