"""Triadic suffix tokenization: the transform (hand cases, property-based round trips), the numbers corpus,
and the trained variant end to end (load_tokenizer, CLI)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbench.text import triad
from tokbench.text.triad import (ESC, GEN, LEVEL_CHARS, PAD_CHARS, SCI_CHARS, STYLE_CHARS, STYLES, TriadTransform,
                                 parse_numbers)

T = TriadTransform()
U, K, M = LEVEL_CHARS[0], LEVEL_CHARS[3], LEVEL_CHARS[6]
F1, F2 = LEVEL_CHARS[-3], LEVEL_CHARS[-6]


def style(sep: str, scheme: str, dec: str) -> str:
    return STYLE_CHARS[STYLES.index((sep, scheme, dec))]


HAND_CASES = [
    ("1234567", f"001{M}234{K}567{U}"),
    ("0", f"000{U}"),
    ("0.25", f"000{U}250{F1}{PAD_CHARS[1]}"),
    ("0.250", f"000{U}250{F1}"),
    ("3.1415", f"003{U}141{F1}500{F2}{PAD_CHARS[2]}"),
    ("1,234,567.8", f"{style(',', 'western', '.')}001{M}234{K}567{U}800{F1}{PAD_CHARS[2]}"),
    ("1.234.567,8", f"{style('.', 'western', ',')}001{M}234{K}567{U}800{F1}{PAD_CHARS[2]}"),
    ("12,34,567", f"{style(',', 'indian', '.')}001{M}234{K}567{U}"),
    ("1 234 567", f"{style(' ', 'western', '.')}001{M}234{K}567{U}"),
    ("1\u00a0234,5", f"{style(chr(0xA0), 'western', ',')}001{K}234{U}500{F1}{PAD_CHARS[2]}"),
    ("1'234.5", f"{style(chr(39), 'western', '.')}001{K}234{U}500{F1}{PAD_CHARS[2]}"),
    ("1,5", f"{style('', 'western', ',')}001{U}500{F1}{PAD_CHARS[2]}"),
    ("$1,234", f"${style(',', 'western', '.')}001{K}234{U}"),
    ("-42%", f"-042{U}%"),
    ("€5", f"€005{U}"),
    ("6.02e23", f"006{U}020{F1}{PAD_CHARS[1]}{SCI_CHARS['e']}023{U}"),
    ("1E-9", f"001{U}{SCI_CHARS['E']}-009{U}"),
    ("1e05", f"001{U}{SCI_CHARS['e']}05"),  # exponent with a leading zero: kept as digits
    ("123456789012345678901", f"123{LEVEL_CHARS[18]}456{LEVEL_CHARS[15]}789{LEVEL_CHARS[12]}012{LEVEL_CHARS[9]}"
                              f"345{M}678{K}901{U}"),
    ("1234567890123456789012", f"001{GEN}21{GEN}234{LEVEL_CHARS[18]}567{LEVEL_CHARS[15]}890{LEVEL_CHARS[12]}"
                               f"123{LEVEL_CHARS[9]}456{M}789{K}012{U}"),
    ("0.000000000000001", f"000{U}000{F1}000{F2}000{LEVEL_CHARS[-9]}000{LEVEL_CHARS[-12]}001{LEVEL_CHARS[-15]}"),
]


@pytest.mark.parametrize("text,encoded", HAND_CASES)
def test_hand_cases(text: str, encoded: str) -> None:
    assert T.encode_text(text) == encoded
    assert T.decode_text(encoded) == text


@pytest.mark.parametrize("text", ["x86", "sha256", "3.11.2", "007", "2024-01-05", ".5", "v2.0", "a1b2"])
def test_not_numbers_keep_their_digits(text: str) -> None:
    out = T.encode_text(text)
    assert T.decode_text(out) == text
    for bad in ("x86", "sha256", "3.11.2", "007", "a1b2"):
        if text == bad:
            assert out == text


def test_unsupported_magnitudes_are_verbatim() -> None:
    huge = "9" * (triad.MAX_INT_DIGITS + 1)
    deep = "0." + "1" * (triad.MAX_FRAC_DIGITS + 1)
    for text in (huge, deep, f"total {huge} units", "-" + deep):
        assert T.encode_text(text) == text
        assert T.decode_text(text) == text
    assert not any(n.supported for n in parse_numbers(huge))


def test_reserved_characters_are_escaped() -> None:
    text = f"{ESC}{U} 5{PAD_CHARS[1]} {GEN}12{GEN} {STYLE_CHARS[2]}7"
    out = T.encode_text(text)
    assert T.decode_text(out) == text
    assert out.count(ESC) >= 2 * text.count(ESC)


def test_magnitude_of_parsed_numbers() -> None:
    got = {text[n.start:n.end]: n.exponent for text in ["0.0025 1234 9.5e3 0 12,34,567"] for n in parse_numbers(text)}
    assert got == {"0.0025": -3, "1234": 3, "9.5e3": 3, "0": None, "12,34,567": 6}


def _grouped(digits: str, sep: str, scheme: str) -> str:
    from tokbench.sources.numbers import group_digits

    return group_digits(digits, sep, scheme)


@st.composite
def formatted_numbers(draw) -> str:
    sep, scheme, dec = draw(st.sampled_from(STYLES))
    integer = str(draw(st.integers(min_value=0, max_value=10 ** 20)))
    frac = draw(st.text(alphabet="0123456789", max_size=18))
    body = _grouped(integer, sep, scheme) + (dec + frac if frac else "")
    if not sep and dec == "." and draw(st.booleans()):
        body += draw(st.sampled_from("eE")) + draw(st.sampled_from(["", "+", "-"])) + str(draw(st.integers(0, 400)))
    prefix = draw(st.sampled_from(["", "-", "+", "−", "$", "€", "£ ", "USD "]))
    suffix = draw(st.sampled_from(["", "%", " €", " kg", ".", ","]))
    return prefix + body + suffix


@settings(max_examples=400, deadline=None)
@given(st.lists(formatted_numbers(), min_size=1, max_size=4), st.sampled_from([" ", "; ", " and ", "\n", "|"]))
def test_round_trip_formatted_numbers(numbers: list[str], joiner: str) -> None:
    text = joiner.join(numbers)
    assert T.decode_text(T.encode_text(text)) == text


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789,.' eE+-%$\u00a0\u202f\u2009ab_\n") +
                                        [chr(c) for c in range(0xE000, 0xE040, 3)] + ["\ue03f", "\U0001f600"]),
               max_size=40))
def test_round_trip_number_like_text(text: str) -> None:
    assert T.decode_text(T.encode_text(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_round_trip_any_text(text: str) -> None:
    assert T.decode_text(T.encode_text(text)) == text


def test_formed_numbers_are_transformed_whole() -> None:
    """Every generated number of the numbers corpus is found whole (no separators left outside)."""
    from tokbench.sources.numbers import format_number
    import random

    rng = random.Random(3)
    for _ in range(300):
        num = format_number(rng)
        found = list(parse_numbers(num))
        assert len(found) == 1 and (found[0].start, found[0].end) == (0, len(num)), num
        assert found[0].supported


def test_numbers_corpus_is_deterministic_and_registered() -> None:
    from tokbench.sources.numbers import number_documents
    from tokbench.sources.text import builtin_names

    assert "numbers" in builtin_names()
    first = list(number_documents(n=30))
    assert first == list(number_documents(n=30))
    assert sum(len(list(parse_numbers(d))) for d in first) > 100


def test_added_tokens_per_form() -> None:
    vocab = TriadTransform("vocab").added_tokens()
    suffix = TriadTransform("suffix").added_tokens()
    assert len([t for t in vocab if t[:3].isdigit()]) == 12_000  # 1,000 triads x 12 named levels
    assert len(vocab) == len(set(vocab)) and len(suffix) == len(set(suffix))
    assert len(suffix) < 1100
    with pytest.raises(Exception, match="unknown triad form"):
        TriadTransform("bogus")


def test_named_form_covers_the_papers_magnitudes() -> None:
    """Named markers from 10^-15 up to the 10^18 level (digits to 10^20); beyond that the generic form. Runs made
    with transform version 1 (10^-12 .. 10^15 levels) keep encoding as they did."""
    from tokbench.text.triad import coverage_note, transform_from_config

    assert TriadTransform().named_range() == (-15, 18)
    assert GEN not in T.encode_text("999999999999999999999") and GEN not in T.encode_text("0.123456789012345")
    assert GEN in T.encode_text("1000000000000000000000")  # 10^21
    assert "10^-15 to 10^20" in coverage_note(T)
    old = transform_from_config({"name": "triad", "form": "vocab", "version": 1})
    assert old.named_range() == (-12, 15) and f"{GEN}18{GEN}" in old.encode_text("1000000000000000000")
    assert len([t for t in old.added_tokens() if t[:3].isdigit()]) == 10_000
    with pytest.raises(Exception, match="newer"):
        transform_from_config({"version": 3})


# ---------------------------------------------------------------------------------------------- trained
@pytest.fixture(scope="module")
def numbers_file(tmp_path_factory):
    from tokbench.sources.numbers import number_documents

    path = tmp_path_factory.mktemp("numbers") / "numbers.txt"
    path.write_text("\n\n".join(number_documents(n=250, seed=5)) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("form", ["vocab", "suffix"])
def test_trained_triad_loads_and_round_trips(tmp_path, numbers_file, form) -> None:
    from tokbench.text.bpe import train_bpe
    from tokbench.text.tokenizer import load_tokenizer

    res = train_bpe(str(numbers_file), vocab_size=400, variant="triad", runs_dir=tmp_path,
                    options={"triad_form": form, "numbers": str(numbers_file)})
    manifest = json.loads((res.run_dir / "artifacts" / "tokbench.json").read_text())
    assert manifest["transform"] == {"name": "triad", "form": form, "version": 2}
    tok = load_tokenizer(res.run_dir)
    samples = ["Revenue rose to $1,234,567.89 (+12.5%) in 2024.", "1.234.567,8 € and 12,34,567 ₹",
               "6.022e23 atoms; 1E-9 s", f"odd {ESC}{U}9 text", "0.000001 and 999999999999999.5", "plain words only"]
    for text in samples:
        ids = tok.encode(text)
        assert tok.decode(ids) == text
    m = res.metrics[f"{numbers_file}/heldout"]
    assert m["triad_round_trip_rate"] == 1.0
    assert m["triad_magnitude_only_fraction"] == 1.0
    assert m["plain_magnitude_only_fraction"] < 1.0
    assert res.metrics[f"{numbers_file}/heldout"]["round_trip_rate"] == 1.0
    if form == "vocab":  # one token per triad: "1,234" is style + 2 triads
        assert len(tok.encode("1,234")) == 3
        assert m["triad_tokens_per_number"] < m["plain_tokens_per_number"]


def test_cli_triad_end_to_end(tmp_path, numbers_file, capsys) -> None:
    from tokbench.cli import main

    rc = main(["train-bpe", "--corpus", str(numbers_file), "--variant", "triad", "--triad-form", "suffix",
               "--vocab-size", "400", "--runs-dir", str(tmp_path), "--json", "--option", f"numbers={numbers_file}",
               "--option", "compare=false"])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    from tokbench.text.tokenizer import load_tokenizer

    tok = load_tokenizer(payload["run_dir"])
    assert tok.decode(tok.encode("12,34,567.05 and -3.2E+4")) == "12,34,567.05 and -3.2E+4"
    rc = main(["train-bpe", "--corpus", str(numbers_file), "--variant", "triad", "--triad-form", "nope",
               "--vocab-size", "400", "--runs-dir", str(tmp_path)])
    assert rc == 2
    assert "unknown triad form" in capsys.readouterr().err
