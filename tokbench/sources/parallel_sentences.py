"""`builtin:parallel-sentences`: full sentences translated into many languages, aligned on the English source.

Why a second built-in: `builtin:parallel` holds display-name *labels* (country, language, currency names from
CLDR and iso-codes). Labels are short and name-like, so their token premiums rank languages much like
sentence-level premiums do but understate their size (about 0.6x of a sentence corpus's premium, see
benchmarks/RESULTS.md). Token premiums in the sense of Petrov et al. 2023 and Arnett et al. 2025 are measured on
parallel *sentences* (FLORES-200); this corpus is the closest thing that installed packages ship.

Source: the gettext catalogs (`.mo`) that Django (BSD-3-Clause) ships for its core and contrib apps, about 100
locales. Each entry's msgid is the English source string and its msgstr the translation, so entries align on the
source string by construction. Kept: entries whose English has at least `MIN_WORDS` words once placeholders are
removed (`%s`, `%(name)s`, `{name}` are deleted from both sides, so neither side pays for markup the other also
carries). Counted and dropped, per language: misaligned entries (placeholders or line counts that differ, as
`catalog_pairs` decides), entries with HTML markup, and translations identical to the English (untranslated,
counted as missing with the empty ones). Regional variants whose base language is present (es_AR, pt_BR, ...)
and English variants (en_GB, en_AU) are left out, so each language counts once. Languages with fewer than
`MIN_ENTRIES` sentences are left out.

`load_any_parallel` is what evaluation code calls: it serves this corpus and hands every other spec to
`tokbench.sources.parallel.load_parallel`.
"""

from __future__ import annotations

import re
from pathlib import Path

from tokbench.errors import TokbenchError
from tokbench.sources.parallel import (_PLACEHOLDER, ParallelCorpus, catalog_pairs, language_script, load_parallel,
                                       parse_mo)

SENTENCES_NAME = "builtin:parallel-sentences"
LABELS_NAME = "builtin:parallel"
MIN_WORDS = 4
MIN_ENTRIES = 100
PIVOT = "en"
_MARKUP = re.compile(r"<[A-Za-z/][^>]*>")
_SPACES = re.compile(r"\s+")

#: what each built-in parallel corpus measures, for reports and the README
MEASURES = {
    SENTENCES_NAME: "full sentences (>= 4 words) from Django's translation catalogs: sentence-level token premiums, "
                    "comparable in kind to FLORES-based figures",
    LABELS_NAME: "display-name labels (CLDR, iso-codes): short names, not sentences; ranks languages like sentences "
                 "do but understates premium size",
}


def _strip_placeholders(text: str) -> str:
    return _SPACES.sub(" ", _PLACEHOLDER.sub("", text)).strip()


def _catalog_files() -> list[Path]:
    try:
        import django
    except ImportError:
        raise TokbenchError(f"{SENTENCES_NAME} needs Django's translation catalogs "
                            "(pip install 'tokbench[parallel]')") from None
    root = Path(django.__file__).parent
    return sorted(root.rglob("locale/*/LC_MESSAGES/*.mo"))


def _keep_locale(lang: str, present: set[str]) -> bool:
    base = lang.split("_")[0]
    if base == PIVOT:
        return False
    suffix = lang.split("_")[1] if "_" in lang else ""
    is_script = len(suffix) == 4 and suffix.isalpha()  # sr_Latn, zh_Hans: a script, not a region
    return not suffix or is_script or base not in present


def build_sentences(min_entries: int = MIN_ENTRIES, files: list[Path] | None = None) -> ParallelCorpus:
    """Build the sentence corpus from gettext catalogs (default: Django's), counting what is dropped."""
    files = _catalog_files() if files is None else files
    by_lang: dict[str, list[Path]] = {}
    for f in files:
        by_lang.setdefault(f.parent.parent.name, []).append(f)
    present = set(by_lang)
    corpus = ParallelCorpus(SENTENCES_NAME, PIVOT, {})
    english: dict[str, None] = {}
    for lang in sorted(by_lang):
        if not _keep_locale(lang, present):
            continue
        pairs: dict[str, str] = {}
        dropped = missing = 0
        for path in by_lang[lang]:
            _, entries = parse_mo(path)
            aligned, bad, untranslated = catalog_pairs(entries)
            dropped += bad
            missing += untranslated
            for src, tgt in aligned:
                if _MARKUP.search(src) or _MARKUP.search(tgt):
                    dropped += 1
                    continue
                src, tgt = _strip_placeholders(src), _strip_placeholders(tgt)
                if len(src.split()) < MIN_WORDS:
                    continue
                if tgt == src:
                    missing += 1
                    continue
                pairs.setdefault(src, tgt)
        corpus.pairs[lang] = sorted(pairs.items())
        corpus.dropped[lang] = dropped
        corpus.missing[lang] = missing
        corpus.scripts[lang] = language_script(lang)
        english.update(dict.fromkeys(pairs))
    corpus.pairs[PIVOT] = [(a, a) for a in sorted(english)]
    corpus.scripts[PIVOT] = "Latn"
    corpus.notes.append(f"source: Django's gettext catalogs ({len(files)} files); English sentences of at least "
                        f"{MIN_WORDS} words, placeholders removed on both sides, aligned on the English source")
    if not files:
        raise TokbenchError(f"{SENTENCES_NAME}: no translation catalogs found")
    return corpus.filter(min_entries)


_CACHE: dict[int, ParallelCorpus] = {}


def load_sentences(min_entries: int = MIN_ENTRIES) -> ParallelCorpus:
    """`builtin:parallel-sentences` (built in well under a second; kept in memory for the process)."""
    if min_entries not in _CACHE:
        _CACHE[min_entries] = build_sentences(min_entries)
    return _CACHE[min_entries]


def load_any_parallel(spec: str, pivot: str | None = None, min_entries: int = 1) -> ParallelCorpus:
    """`builtin:parallel-sentences`, or anything `load_parallel` reads (`builtin:parallel`, folders, files)."""
    if spec != SENTENCES_NAME:
        return load_parallel(spec, pivot=pivot, min_entries=min_entries)
    if pivot not in (None, PIVOT):
        raise TokbenchError(f"{SENTENCES_NAME} is aligned on English; --pivot cannot change it")
    corpus = load_sentences()
    return corpus.filter(min_entries) if min_entries > MIN_ENTRIES else corpus


def measures(spec: str) -> str:
    """One line on what a parallel corpus measures (empty for a user's own corpus)."""
    return MEASURES.get(spec, "")
