"""Parallel corpora: every format aligns, drops misaligned entries and says how many."""

from __future__ import annotations

import json
import struct

import pytest

from tokbench.errors import TokbenchError
from tokbench.sources.parallel import (catalog_pairs, language_script, load_parallel, parse_mo, parse_po)


def test_flores_folder_drops_empty_and_misaligned(tmp_path):
    (tmp_path / "eng_Latn.devtest").write_text("Hello.\nGood morning.\n\nThe end.\n", encoding="utf-8")
    (tmp_path / "fra_Latn.devtest").write_text("Bonjour.\n\nMerci.\nLa fin.\n", encoding="utf-8")
    (tmp_path / "rus_Cyrl.devtest").write_text("Привет.\nДоброе утро.\nСпасибо.\nКонец.\n", encoding="utf-8")
    (tmp_path / "deu_Latn.devtest").write_text("Hallo.\nGuten Morgen.\n", encoding="utf-8")  # 2 lines: misaligned
    pc = load_parallel(str(tmp_path))
    assert pc.pivot == "eng_Latn"
    assert pc.pairs["fra_Latn"] == [("Hello.", "Bonjour."), ("The end.", "La fin.")]
    assert pc.dropped["fra_Latn"] == 2  # one empty on the French side, one on the English side
    assert pc.dropped["rus_Cyrl"] == 1 and len(pc.pairs["rus_Cyrl"]) == 3
    assert "deu_Latn" not in pc.pairs and pc.dropped["deu_Latn"] == 2
    assert any("deu_Latn" in n for n in pc.notes)
    assert pc.script("rus_Cyrl") == "Cyrl"
    assert pc.dropped["eng_Latn"] == 1 and pc.summary()["dropped_misaligned"] == 6


def test_plain_language_names_and_pivot_option(tmp_path):
    (tmp_path / "en.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "es.txt").write_text("uno\ndos\n", encoding="utf-8")
    assert load_parallel(str(tmp_path)).pivot == "en"
    pc = load_parallel(str(tmp_path), pivot="es")
    assert pc.pivot == "es" and pc.pairs["en"] == [("uno", "one"), ("dos", "two")]
    with pytest.raises(TokbenchError):
        load_parallel(str(tmp_path), pivot="xx")


def test_tsv_rows_with_wrong_cell_count_are_dropped(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("en\tde\tja\nhouse\tHaus\t家\ncat\tKatze\nwater\t\t水\n\tleer\t空\n", encoding="utf-8")
    pc = load_parallel(str(path))
    assert pc.pairs["de"] == [("house", "Haus")]
    assert pc.pairs["ja"] == [("house", "家"), ("water", "水")]
    # "cat" row (2 cells) and the row with no English: dropped for every language; the empty German cell once
    assert pc.dropped == {"en": 2, "de": 3, "ja": 2}


def test_jsonl_records(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"en": "yes", "fr": "oui"}, {"fr": "sans anglais"}, {"en": "no", "fr": 3}, "not an object"]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")
    pc = load_parallel(str(path))
    assert pc.pairs["fr"] == [("yes", "oui")]
    assert pc.dropped["fr"] == 4  # no English, non-string, not an object, unparsable line


PO = r'''
msgid ""
msgstr ""
"Language: de\n"
"Content-Type: text/plain; charset=UTF-8\n"

msgid "Open file"
msgstr "Datei öffnen"

#, fuzzy
msgid "Close"
msgstr "Schließen"

msgid "%(count)s files"
msgstr "Dateien"

msgid "Untranslated"
msgstr ""

msgctxt "menu"
msgid "Save"
msgstr ""
"Spei"
"chern"
msgid "Two\nlines"
msgstr "Eine Zeile"
'''


def test_po_catalog_fuzzy_and_placeholder_mismatch_dropped(tmp_path):
    path = tmp_path / "de.po"
    path.write_text(PO, encoding="utf-8")
    header, entries = parse_po(path)
    assert header["Language"] == "de"
    pairs, dropped, missing = catalog_pairs(entries)
    assert pairs == [("Open file", "Datei öffnen"), ("Save", "Speichern")]
    assert dropped == 3 and missing == 1  # fuzzy, placeholder lost, line count differs; one untranslated
    pc = load_parallel(str(path))
    assert pc.pairs["de"] == pairs and pc.dropped["de"] == 3 and pc.missing["de"] == 1
    assert pc.pairs["en"] == [("Open file", "Open file"), ("Save", "Save")]


def _write_mo(path, catalog: dict[str, str]) -> None:
    """A minimal GNU .mo writer (the format: header, two offset tables, strings)."""
    keys = sorted(catalog)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(catalog[k].encode() + b"\0" for k in keys)
    n = len(keys)
    start = 28 + 16 * n
    o_tab, t_tab, off = [], [], 0
    for k in keys:
        o_tab.append((len(k.encode()), start + off))
        off += len(k.encode()) + 1
    ids_end = start + len(ids)
    off = 0
    for k in keys:
        t_tab.append((len(catalog[k].encode()), ids_end + off))
        off += len(catalog[k].encode()) + 1
    data = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    data += b"".join(struct.pack("<2I", *x) for x in o_tab) + b"".join(struct.pack("<2I", *x) for x in t_tab)
    path.write_bytes(data + ids + strs)


def test_mo_catalogs_in_a_folder(tmp_path):
    _write_mo(tmp_path / "fr.mo", {"": "Language: fr\n", "France": "France", "Germany": "Allemagne",
                                   "%s items": "éléments"})
    _write_mo(tmp_path / "ru.mo", {"": "Language: ru\n", "Germany": "Германия", "Spain": ""})
    header, entries = parse_mo(tmp_path / "fr.mo")
    assert header["Language"] == "fr" and len(entries) == 3
    pc = load_parallel(str(tmp_path))
    assert dict(pc.pairs["fr"]) == {"France": "France", "Germany": "Allemagne"}
    assert pc.dropped["fr"] == 1 and pc.missing["ru"] == 1
    assert pc.script("ru") == "Cyrl"


def test_bad_inputs_are_one_line_errors(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(TokbenchError):
        load_parallel(str(tmp_path / "x.csv"))
    with pytest.raises(TokbenchError):
        load_parallel(str(tmp_path / "missing"))
    (tmp_path / "bad.mo").write_bytes(b"\x00" * 40)
    with pytest.raises(TokbenchError, match="magic"):
        load_parallel(str(tmp_path / "bad.mo"))
    with pytest.raises(TokbenchError, match="unknown built-in"):
        load_parallel("builtin:nothing")


@pytest.mark.parametrize("code,script", [("eng_Latn", "Latn"), ("ru", "Cyrl"), ("sr@latin", "Latn"),
                                         ("sr_Latn", "Latn"), ("ja", "Jpan"), ("zh_Hant", "Hant"), ("ar", "Arab"),
                                         ("hin", "Deva"), ("el", "Grek")])
def test_language_script(code, script):
    assert language_script(code) == script


@pytest.mark.slow
def test_builtin_parallel_has_80_languages_and_many_scripts():
    pc = load_parallel("builtin:parallel")
    assert pc.pivot == "en"
    assert len(pc.languages) >= 80
    assert all(len(pc.pairs[lang]) >= 300 for lang in pc.languages)
    scripts = {pc.script(lang) for lang in pc.languages}
    assert {"Latn", "Cyrl", "Arab", "Deva", "Hans", "Jpan"} <= scripts
    fr = dict(pc.pairs["fr"])
    assert fr["Germany"] == "Allemagne"


PO_LATIN1 = '''msgid ""
msgstr ""
"Language: fr\\n"
"Content-Type: text/plain; charset=ISO-8859-1\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"

msgid "Summer"
msgstr "Été"

msgid "%d file"
msgid_plural "%d files"
msgstr[0] "%d fichier"
msgstr[1] "%d fichiers"

#~ msgid "Gone"
#~ msgstr "Parti"

msgctxt "month"
msgid "May"
msgstr "mai"
'''


def test_po_declared_charset_plurals_obsolete_and_context(tmp_path):
    path = tmp_path / "fr.po"
    path.write_bytes(PO_LATIN1.encode("latin-1"))
    header, entries = parse_po(path)
    assert header["Language"] == "fr" and header["Plural-Forms"].startswith("nplurals=2")
    got = [(e.msgid, e.msgstr, e.fuzzy, e.context) for e in entries]
    # decoded as the header says; the plural keeps its singular form; the obsolete entry is left out
    assert got == [("Summer", "Été", False, None), ("%d file", "%d fichier", False, None),
                   ("May", "mai", False, "month")]


def test_mo_written_by_babel_reads_back(tmp_path):
    """Babel writes the catalog (a second implementation of the format), ours reads it."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale="de")
    catalog.add("Open", "Öffnen")
    catalog.add(("%d file", "%d files"), ("%d Datei", "%d Dateien"))
    catalog.add("May", "Mai", context="month")
    catalog.add("Untranslated", "")
    with open(tmp_path / "de.mo", "wb") as fh:
        write_mo(fh, catalog)
    header, entries = parse_mo(tmp_path / "de.mo")
    assert header["Language"] == "de"
    # write_mo leaves untranslated entries out of a compiled catalog
    assert sorted((e.msgid, e.msgstr, e.context) for e in entries) == [
        ("%d file", "%d Datei", None), ("May", "Mai", "month"), ("Open", "Öffnen", None)]


@pytest.mark.parametrize("name,data,match", [
    ("bad.po", b'msgid "a"\nmsgstr "b"\nthis is not po\n', "not a valid .po"),
    ("bad.po", b'msgid "a" junk\nmsgstr "b"\n', "not a valid .po"),
    ("bad.po", b'msgid "a"\nmsgstr "\xff\xfe"\n', "corrupt .po"),
    ("short.mo", b"\xde\x12\x04\x95" + b"\x00" * 10, "too short"),
    ("bad.mo", b"\x00" * 40, "magic"),
])
def test_malformed_catalogs_are_one_line_errors(tmp_path, name, data, match):
    path = tmp_path / name
    path.write_bytes(data)
    parse = parse_po if name.endswith(".po") else parse_mo
    with pytest.raises(TokbenchError, match=match):
        parse(path)
    with pytest.raises(TokbenchError, match="cannot read"):
        parse(tmp_path / ("missing" + path.suffix))
