"""Aligned multilingual text: FLORES-style folders, aligned TSV / JSONL, gettext catalogs, `builtin:parallel`.

A `ParallelCorpus` holds, per language, the list of (pivot line, language line) pairs that are aligned with
the pivot (English unless told otherwise). Keeping the pivot side per pair matters: catalogs translate
different subsets of entries, so a language's token premium must compare it with the English of exactly
the entries it has.

Misaligned entries are dropped and counted per language (`dropped`), never silently kept:
- folder: a line empty on either side; a whole file whose line count differs from the pivot's;
- TSV: a row with the wrong number of cells, or an empty cell; JSONL: a record without the pivot, or with
  non-string values;
- gettext: fuzzy entries and translations whose placeholders (`%s`, `%(name)s`, `{name}`) or line counts
  differ from the msgid. Untranslated entries are *missing* (counted separately), not misaligned.

`builtin:parallel` is built once (cached under `cache_dir()/parallel`) from what installed packages ship:
Babel's CLDR display names (territories, languages, scripts, currencies) and pycountry's iso-codes gettext
catalogs (ISO 3166-1 countries, ISO 639-3 languages, ISO 4217 currencies, ISO 15924 scripts), aligned on
the English string, keeping languages with at least `BUILTIN_MIN_ENTRIES` aligned entries.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokbench.errors import TokbenchError
from tokbench.sources.text import cache_dir

BUILTIN_NAME = "builtin:parallel"
BUILTIN_MIN_ENTRIES = 300
BUILTIN_VERSION = 1
_PIVOT_CANDIDATES = ("en", "eng", "eng_Latn", "en_US", "en_GB")
_PLACEHOLDER = re.compile(r"%\([A-Za-z0-9_]+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%[-#0 +]*\d*(?:\.\d+)?[sdifxXeEgGcru]|\{[A-Za-z0-9_]*\}")


@dataclass
class ParallelCorpus:
    """Aligned (pivot, language) line pairs per language, with what was dropped and each language's script."""

    name: str
    pivot: str
    pairs: dict[str, list[tuple[str, str]]]
    dropped: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    scripts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def languages(self) -> list[str]:
        return sorted(self.pairs)

    def script(self, lang: str) -> str:
        return self.scripts.get(lang) or language_script(lang)

    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def filter(self, min_entries: int) -> ParallelCorpus:
        """Only the languages with at least `min_entries` aligned pairs (the pivot always stays)."""
        keep = {k: v for k, v in self.pairs.items() if len(v) >= min_entries or k == self.pivot}
        out = ParallelCorpus(self.name, self.pivot, keep, dict(self.dropped), dict(self.missing),
                             dict(self.scripts), list(self.notes))
        gone = len(self.pairs) - len(keep)
        if gone:
            out.notes.append(f"{gone} languages with fewer than {min_entries} aligned entries left out")
        return out

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "pivot": self.pivot, "languages": len(self.pairs),
                "pairs": sum(len(v) for v in self.pairs.values()), "dropped_misaligned": self.total_dropped(),
                "dropped_by_language": {k: v for k, v in sorted(self.dropped.items()) if v},
                "notes": self.notes}

    def fingerprint(self) -> list[dict]:
        h = hashlib.sha256()
        for lang in self.languages:
            for a, b in self.pairs[lang]:
                h.update(f"{lang}\t{a}\t{b}\n".encode("utf-8"))
        return [{"source": self.name, "languages": len(self.pairs), "pairs": sum(len(v) for v in self.pairs.values()),
                 "sha256": h.hexdigest()}]


# ---------------------------------------------------------------------------------------------- scripts
def language_script(code: str) -> str:
    """ISO 15924 script of a language code: an explicit suffix (`eng_Latn`, `sr_Latn`, `sr@latin`) wins,
    else CLDR's likely subtags via Babel (`ru` -> Cyrl), else "Zzzz" (unknown)."""
    code = code.replace("-", "_")
    if "@" in code:
        mod = code.split("@", 1)[1].lower()
        return {"latin": "Latn", "cyrillic": "Cyrl", "arabic": "Arab", "devanagari": "Deva"}.get(mod, "Zzzz")
    parts = code.split("_")
    for p in parts[1:]:
        if len(p) == 4 and p.isalpha():
            return p.title()
    try:
        from babel.core import get_global
    except ImportError:
        return "Zzzz"
    likely = get_global("likely_subtags")
    lang = parts[0].lower()
    if len(lang) == 3:
        try:
            import pycountry

            rec = pycountry.languages.get(alpha_3=lang)
            if rec is not None and getattr(rec, "alpha_2", None):
                lang = rec.alpha_2
        except ImportError:
            pass
    for key in ("_".join([lang, *parts[1:]]), lang):
        value = likely.get(key)
        if value:
            for p in value.split("_")[1:]:
                if len(p) == 4 and p.isalpha():
                    return p
    return "Zzzz"


def _pick_pivot(langs: Iterable[str], pivot: str | None) -> str:
    langs = list(langs)
    if pivot is not None:
        if pivot not in langs:
            raise TokbenchError(f"pivot language {pivot!r} not found (have: {', '.join(sorted(langs)[:20])}...)")
        return pivot
    for cand in _PIVOT_CANDIDATES:
        if cand in langs:
            return cand
    for lang in langs:
        if lang.split("_")[0].split(".")[0] in ("en", "eng"):
            return lang
    raise TokbenchError("no English file found to use as the pivot; name it with --pivot LANG")


# ---------------------------------------------------------------------------------------------- folders, TSV, JSONL
def _lang_of_file(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise TokbenchError(f"{path}: invalid UTF-8 at byte offset {exc.start}") from None
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read ({exc.strerror})") from None


def load_folder(path: Path, pivot: str | None = None) -> ParallelCorpus:
    """A FLORES-200-style folder: one file per language (`eng_Latn.devtest`, `fra_Latn.dev`, `en.txt`),
    line i of every file translating line i of the pivot."""
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise TokbenchError(f"{path}: folder holds no files")
    if any(p.suffix in (".po", ".mo") for p in files):
        return load_gettext(files, name=str(path), pivot=pivot)
    by_lang: dict[str, Path] = {}
    for p in files:
        lang = _lang_of_file(p)
        if lang in by_lang:
            raise TokbenchError(f"{path}: two files for language {lang!r} ({by_lang[lang].name}, {p.name})")
        by_lang[lang] = p
    piv = _pick_pivot(by_lang, pivot)
    pivot_lines = _read_lines(by_lang[piv])
    corpus = ParallelCorpus(str(path), piv, {})
    for lang, p in sorted(by_lang.items()):
        lines = _read_lines(p)
        corpus.scripts[lang] = language_script(lang)
        if len(lines) != len(pivot_lines):
            corpus.dropped[lang] = len(lines)
            corpus.notes.append(f"{p.name}: {len(lines)} lines but the pivot has {len(pivot_lines)}; "
                                "not aligned, language left out")
            continue
        pairs, bad = [], 0
        for a, b in zip(pivot_lines, lines):
            if a.strip() and b.strip():
                pairs.append((a, b))
            else:
                bad += 1
        corpus.pairs[lang] = pairs
        corpus.dropped[lang] = bad
    return corpus


def load_tsv(path: Path, pivot: str | None = None) -> ParallelCorpus:
    """Aligned TSV: a header row of language codes, then one aligned entry per row."""
    try:
        fh = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        try:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        except UnicodeDecodeError as exc:
            raise TokbenchError(f"{path}: invalid UTF-8 at byte offset {exc.start}") from None
    if not rows:
        raise TokbenchError(f"{path}: empty TSV (expected a header row of language codes)")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header) or not all(header):
        raise TokbenchError(f"{path}: the header row must name each language once")
    piv = _pick_pivot(header, pivot)
    records = (dict(zip(header, r)) if len(r) == len(header) else None for r in rows[1:])
    return _from_records(str(path), piv, header, records)


def load_jsonl(path: Path, pivot: str | None = None) -> ParallelCorpus:
    """Aligned JSONL: one object per line mapping language codes to the entry's text."""
    records: list[dict | None] = []
    langs: set[str] = set()
    for lineno, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            records.append(None)
            continue
        if not isinstance(obj, dict):
            records.append(None)
            continue
        langs.update(obj)
        records.append(obj)
    if not langs:
        raise TokbenchError(f"{path}: no JSON objects found")
    piv = _pick_pivot(langs, pivot)
    return _from_records(str(path), piv, sorted(langs), iter(records))


def _from_records(name: str, piv: str, langs: list[str], records: Iterator[dict | None]) -> ParallelCorpus:
    corpus = ParallelCorpus(name, piv, {lang: [] for lang in langs})
    corpus.dropped = {lang: 0 for lang in langs}
    for rec in records:
        if rec is None or not isinstance(rec.get(piv), str) or not rec[piv].strip():
            for lang in langs:  # the whole entry is unusable
                corpus.dropped[lang] += 1
            continue
        a = rec[piv]
        for lang in langs:
            b = rec.get(lang)
            if b is None:
                continue
            if isinstance(b, str) and b.strip() and "\n" not in b.strip():
                corpus.pairs[lang].append((a, b))
            else:
                corpus.dropped[lang] += 1
    corpus.scripts = {lang: language_script(lang) for lang in langs}
    return corpus


# ---------------------------------------------------------------------------------------------- gettext
@dataclass
class CatalogEntry:
    msgid: str
    msgstr: str
    fuzzy: bool = False
    context: str | None = None


def _catalog_entries(catalog) -> tuple[dict[str, str], list[CatalogEntry]]:
    """(header fields, entries) of a polib catalog; plural entries keep their singular form (msgstr[0]),
    obsolete (`#~`) entries are left out."""
    entries = []
    for e in catalog:
        if e.obsolete:
            continue
        msgstr = e.msgstr_plural.get(0, "") if e.msgid_plural else e.msgstr
        entries.append(CatalogEntry(e.msgid, msgstr or "", "fuzzy" in e.flags, e.msgctxt))
    return dict(catalog.metadata), entries


def _read_catalog(path: Path, read, kind: str) -> tuple[dict[str, str], list[CatalogEntry]]:
    """Read a catalog with polib's `read` (which decodes in the charset the file declares), refusing in one
    line what polib cannot read."""
    try:
        with open(path, "rb") as fh:  # polib would take a path it cannot open for catalog text
            size = len(fh.read(28))
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read ({exc.strerror})") from None
    if kind == ".mo" and size < 28:
        raise TokbenchError(f"{path}: not a .mo file (too short)")
    try:
        catalog = read(str(path))
    except OSError as exc:  # polib's syntax errors and bad magic numbers
        msg = "bad magic number" if "magic" in str(exc) else str(exc)
        raise TokbenchError(f"{path}: not a valid {kind} file ({msg})") from None
    except (UnicodeDecodeError, LookupError, ValueError, IndexError, struct.error) as exc:
        raise TokbenchError(f"{path}: corrupt {kind} file ({type(exc).__name__}: {exc})") from None
    return _catalog_entries(catalog)


def parse_po(path: Path) -> tuple[dict[str, str], list[CatalogEntry]]:
    """A .po catalog: (header fields, entries), read by polib (`polib.pofile`) in the charset its header
    declares. Fuzzy entries are marked; plural entries keep their singular form (msgstr[0]); obsolete entries
    are left out. A malformed file is a one-line TokbenchError.
    polib rather than Babel's `read_po` / `read_mo`: Babel refuses catalogs whose header dates it cannot parse
    (`2001-07-28 11:19GMT+0200`, in 9 of the 614 pycountry catalogs `builtin:parallel` reads)."""
    import polib

    return _read_catalog(path, polib.pofile, ".po")


def parse_mo(path: Path) -> tuple[dict[str, str], list[CatalogEntry]]:
    """A compiled .mo catalog (GNU gettext binary format, either byte order), read by polib (`polib.mofile`)
    in the charset its header declares."""
    import polib

    return _read_catalog(path, polib.mofile, ".mo")


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


def catalog_pairs(entries: Iterable[CatalogEntry]) -> tuple[list[tuple[str, str]], int, int]:
    """(aligned (msgid, msgstr) pairs, misaligned dropped, untranslated missing) of one catalog."""
    pairs, dropped, missing, seen = [], 0, 0, set()
    for e in entries:
        if not e.msgid.strip():
            continue
        if not e.msgstr.strip():
            missing += 1
            continue
        if (e.fuzzy or _placeholders(e.msgid) != _placeholders(e.msgstr)
                or e.msgid.count("\n") != e.msgstr.count("\n")):
            dropped += 1
            continue
        if e.msgid in seen:
            continue
        seen.add(e.msgid)
        pairs.append((e.msgid, e.msgstr))
    return pairs, dropped, missing


def _catalog_language(path: Path, header: dict[str, str]) -> str:
    lang = header.get("Language", "").strip()
    if lang:
        return lang.replace("-", "_")
    if path.parent.name == "LC_MESSAGES":
        return path.parent.parent.name
    return path.stem


def load_gettext(paths: Iterable[Path], name: str, pivot: str | None = None) -> ParallelCorpus:
    """Gettext catalogs (.po/.mo): the msgid is the pivot (English) side of each entry."""
    corpus = ParallelCorpus(name, pivot or "en", {})
    for path in paths:
        header, entries = parse_po(path) if path.suffix == ".po" else parse_mo(path)
        lang = _catalog_language(path, header)
        pairs, dropped, missing = catalog_pairs(entries)
        have = corpus.pairs.setdefault(lang, [])
        known = {a for a, _ in have}
        have.extend(p for p in pairs if p[0] not in known)
        corpus.dropped[lang] = corpus.dropped.get(lang, 0) + dropped
        corpus.missing[lang] = corpus.missing.get(lang, 0) + missing
        corpus.scripts[lang] = language_script(lang)
    # the pivot side: English msgids aligned with themselves
    english = {a for pairs in corpus.pairs.values() for a, _ in pairs}
    corpus.pairs.setdefault(corpus.pivot, [(a, a) for a in sorted(english)])
    corpus.scripts.setdefault(corpus.pivot, language_script(corpus.pivot))
    return corpus


# ---------------------------------------------------------------------------------------------- builtin
_CLDR_CATEGORIES = ("territories", "languages", "scripts", "currencies")
_ISO_DOMAINS = ("iso3166-1", "iso639-3", "iso4217", "iso15924")
_POSIX_TO_CLDR = {"zh_CN": "zh_Hans", "zh_TW": "zh_Hant", "zh_HK": "zh_Hant_HK", "zh_SG": "zh_Hans_SG"}


def _cldr_entries() -> dict[str, list[tuple[str, str]]]:
    import os

    import babel
    from babel import Locale

    english = Locale("en")
    ref = {cat: dict(getattr(english, cat)) for cat in _CLDR_CATEGORIES}
    folder = Path(babel.__file__).parent / "locale-data"
    out: dict[str, list[tuple[str, str]]] = {}
    for fname in sorted(os.listdir(folder)):
        ident = fname[:-4] if fname.endswith(".dat") else None
        if not ident or ident in ("root", "en"):
            continue
        parts = ident.split("_")
        if len(parts) > 2 or (len(parts) == 2 and not (len(parts[1]) == 4 and parts[1].isalpha())):
            continue  # regional variants repeat their base language
        try:
            loc = Locale.parse(ident)
        except (ValueError, babel.UnknownLocaleError):
            continue
        pairs = []
        for cat in _CLDR_CATEGORIES:
            names = getattr(loc, cat)
            for code, en_name in ref[cat].items():
                value = names.get(code)
                if isinstance(value, str) and value and value != code and isinstance(en_name, str):
                    pairs.append((en_name, value))
        out[ident] = pairs
    return out


def _iso_entries() -> tuple[dict[str, list[tuple[str, str]]], dict[str, int]]:
    import pycountry

    root = Path(pycountry.__file__).parent / "locales"
    out: dict[str, list[tuple[str, str]]] = {}
    dropped: dict[str, int] = {}
    if not root.is_dir():
        return out, dropped
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        lang = folder.name.replace("@latin", "_Latn").replace("@cyrillic", "_Cyrl")
        lang = _POSIX_TO_CLDR.get(lang, lang)
        if "@" in lang or lang == "en":
            continue
        for domain in _ISO_DOMAINS:
            mo = folder / "LC_MESSAGES" / f"{domain}.mo"
            if not mo.is_file():
                continue
            _, entries = parse_mo(mo)
            pairs, bad, _ = catalog_pairs(entries)
            out.setdefault(lang, []).extend(pairs)
            dropped[lang] = dropped.get(lang, 0) + bad
    return out, dropped


def build_builtin(min_entries: int = BUILTIN_MIN_ENTRIES) -> ParallelCorpus:
    """Build `builtin:parallel` from Babel's CLDR data and pycountry's iso-codes catalogs (no network)."""
    try:
        cldr = _cldr_entries()
    except ImportError:
        cldr = {}
    try:
        iso, iso_dropped = _iso_entries()
    except ImportError:
        iso, iso_dropped = {}, {}
    if not cldr and not iso:
        raise TokbenchError("builtin:parallel needs babel or pycountry (pip install 'tokbench[parallel]')")
    corpus = ParallelCorpus(BUILTIN_NAME, "en", {})
    english: dict[str, None] = {}
    for lang in sorted(set(cldr) | set(iso)):
        merged: dict[str, str] = {}
        for src in (cldr.get(lang, []), iso.get(lang, [])):
            for a, b in src:
                a, b = a.strip(), b.strip()
                if a and b and "\n" not in a and "\n" not in b:
                    merged.setdefault(a, b)
        corpus.pairs[lang] = sorted(merged.items())
        corpus.dropped[lang] = iso_dropped.get(lang, 0)
        corpus.scripts[lang] = language_script(lang)
        english.update(dict.fromkeys(merged))
    corpus.pairs["en"] = [(a, a) for a in sorted(english)]
    corpus.scripts["en"] = "Latn"
    corpus.notes.append("sources: Babel CLDR display names (" + ", ".join(_CLDR_CATEGORIES) + ") and pycountry "
                        "iso-codes catalogs (" + ", ".join(_ISO_DOMAINS) + "), aligned on the English string")
    return corpus.filter(min_entries)


def _builtin_cache_path() -> Path:
    versions = []
    for mod in ("babel", "pycountry"):
        try:
            from importlib.metadata import version

            versions.append(f"{mod}{version(mod)}")
        except Exception:  # noqa: BLE001 - a missing package just changes the cache key
            versions.append(f"{mod}-none")
    return cache_dir() / "parallel" / f"builtin-v{BUILTIN_VERSION}-{'-'.join(versions)}.json"


def load_builtin() -> ParallelCorpus:
    """`builtin:parallel`, built on first use and cached as JSON."""
    from tokbench.runs import atomic_write_text

    path = _builtin_cache_path()
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return ParallelCorpus(data["name"], data["pivot"], {k: [tuple(p) for p in v] for k, v in data["pairs"].items()},
                                  data["dropped"], data.get("missing", {}), data["scripts"], data["notes"])
        except (json.JSONDecodeError, KeyError, TypeError):
            pass  # a corrupt cache is rebuilt
    corpus = build_builtin()
    data = {"name": corpus.name, "pivot": corpus.pivot, "pairs": corpus.pairs, "dropped": corpus.dropped,
            "missing": corpus.missing, "scripts": corpus.scripts, "notes": corpus.notes}
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return corpus


def load_parallel(spec: str, pivot: str | None = None, min_entries: int = 1) -> ParallelCorpus:
    """Load a parallel corpus from `builtin:parallel`, a folder (FLORES-style or of gettext catalogs),
    a `.tsv`, a `.jsonl`, or a single `.po`/`.mo` catalog."""
    if spec == BUILTIN_NAME:
        corpus = load_builtin()
        if pivot not in (None, "en"):
            raise TokbenchError("builtin:parallel is aligned on English; --pivot cannot change it")
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            corpus = load_folder(path, pivot)
        elif path.is_file():
            if path.suffix in (".tsv", ".tab"):
                corpus = load_tsv(path, pivot)
            elif path.suffix in (".jsonl", ".ndjson"):
                corpus = load_jsonl(path, pivot)
            elif path.suffix in (".po", ".mo"):
                corpus = load_gettext([path], str(path), pivot)
            else:
                raise TokbenchError(f"{spec}: unknown parallel format (expected a folder, .tsv, .jsonl, .po or .mo)")
        elif spec.startswith("builtin:"):
            raise TokbenchError(f"unknown built-in parallel corpus {spec!r} (available: {BUILTIN_NAME})")
        else:
            raise TokbenchError(f"{spec}: no such parallel corpus file or folder")
    if min_entries > 1:
        corpus = corpus.filter(min_entries)
    if len(corpus.pairs) < 2:
        raise TokbenchError(f"{spec}: fewer than two aligned languages")
    return corpus
