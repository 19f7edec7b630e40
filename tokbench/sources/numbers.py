"""`builtin:numbers`: a generated corpus of prose, tables and statements full of numbers.

Made by the project itself (seeded, so every machine builds the same bytes): magnitudes span 10^-6 to 10^15,
written in the conventions a numeric tokenizer must survive: plain digits, thousands separators
(1,234,567.8 / 1.234.567,8 / Indian 12,34,567 / spaces and no-break spaces / Swiss apostrophes), decimal
commas, signs, currency symbols, percentages and scientific notation. It exists to measure numeric
tokenization (the `triad` variant) without any download.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from tokbench.sources.text import register_builtin

SEED = 20240613
N_DOCUMENTS = 2400
MIN_EXPONENT, MAX_EXPONENT = -6, 15

#: (thousands separator, grouping, decimal mark): the writing conventions the generator draws from.
CONVENTIONS = (
    ("", "western", "."),
    ("", "western", ","),
    (",", "western", "."),
    (",", "indian", "."),
    (".", "western", ","),
    ("\u00a0", "western", ","),
    ("\u202f", "western", ","),
    (" ", "western", "."),
    ("'", "western", "."),
)
CURRENCIES = ("$", "€", "£", "¥", "₹", "CHF ", "USD ", "")
SUBJECTS = ("revenue", "operating cost", "net income", "population", "distance", "mass", "voltage",
            "dosage", "interest rate", "tolerance", "wavelength", "budget", "debt", "yield", "inventory")
UNITS = ("m", "kg", "km", "s", "ms", "mol", "V", "mg", "nm", "units", "people", "tonnes")
PLACES = ("the northern district", "Lyon", "Pune", "the Zurich branch", "segment B", "the pilot plant",
          "region 4", "the Osaka office", "the test bench", "the reserve fund")


def group_digits(digits: str, sep: str, scheme: str) -> str:
    """Write an integer's digits with a thousands separator: groups of 3, or Indian 2-2-3 when `scheme` is
    "indian" (12,34,567); no separator, or 3 digits or fewer, leaves them as they are."""
    if not sep or len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    size = 2 if scheme == "indian" else 3
    groups = []
    while head:
        groups.append(head[-size:])
        head = head[:-size]
    return sep.join(reversed(groups)) + sep + tail


def format_number(rng: random.Random, exponent: int | None = None) -> str:
    """One number with a random magnitude in 10^-6..10^15 and a random writing convention."""
    e = rng.randint(MIN_EXPONENT, MAX_EXPONENT) if exponent is None else exponent
    if rng.random() < 0.07 and e != 0:
        mantissa = f"{rng.uniform(1, 9.99):.{rng.randint(0, 4)}f}"
        sign = "-" if e < 0 else rng.choice(("", "+"))
        return f"{mantissa}{rng.choice('eE')}{sign}{abs(e)}"
    sep, scheme, dec = rng.choice(CONVENTIONS)
    if e >= 0:
        integer = str(rng.randint(10 ** e, 10 ** (e + 1) - 1))
        frac_len = rng.choice((0, 0, 0, 1, 2, 2, 3, 4)) if e < 9 else 0
    else:
        integer = "0"
        frac_len = -e + rng.randint(0, 3)
    frac = "".join(str(rng.randint(0, 9)) for _ in range(frac_len))
    if e < 0:  # a significant digit at the drawn depth
        frac = "0" * (-e - 1) + str(rng.randint(1, 9)) + frac[-e:]
    if sep == " " and len(integer) <= 6:  # a lone ordinary space is ambiguous; writers use it for long numbers
        sep = ""
    text = group_digits(integer, sep, scheme)
    return text + (dec + frac if frac else "")


def _money(rng: random.Random) -> str:
    cur = rng.choice(CURRENCIES)
    num = format_number(rng, rng.randint(0, 12))
    return f"{cur}{num}" if cur else f"{num} €"


def _percent(rng: random.Random) -> str:
    return f"{rng.choice(('', '-', '+', '−'))}{format_number(rng, rng.randint(-3, 2))}%"


def _prose(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(2, 5)):
        kind = rng.random()
        if kind < 0.3:
            sentences.append(f"In {rng.randint(1990, 2030)}, the {rng.choice(SUBJECTS)} of {rng.choice(PLACES)} "
                             f"reached {_money(rng)}, a change of {_percent(rng)} on the year before.")
        elif kind < 0.6:
            sentences.append(f"The measured {rng.choice(SUBJECTS)} was {format_number(rng)} "
                             f"{rng.choice(UNITS)} (tolerance ±{format_number(rng, rng.randint(-6, 1))}).")
        elif kind < 0.8:
            sentences.append(f"A total of {format_number(rng, rng.randint(2, 15))} {rng.choice(UNITS)} were "
                             f"recorded across {rng.randint(2, 40)} sites, against {format_number(rng)} expected.")
        else:
            sentences.append(f"Section {rng.randint(1, 30)}.{rng.randint(1, 9)} sets the limit at "
                             f"{format_number(rng)} with a margin of {_percent(rng)}.")
    return " ".join(sentences)


def _table(rng: random.Random) -> str:
    cols = rng.randint(3, 5)
    header = "| item | " + " | ".join(rng.sample(SUBJECTS, cols - 1)) + " |"
    rows = [header, "|" + "---|" * cols]
    for i in range(rng.randint(3, 8)):
        cells = [f"{rng.choice(PLACES)} {i + 1}"] + [format_number(rng) for _ in range(cols - 1)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _statement(rng: random.Random) -> str:
    lines = [f"STATEMENT {rng.randint(1, 999)} / {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}"]
    balance_label = rng.choice(("Opening balance", "Balance brought forward"))
    lines.append(f"{balance_label}: {_money(rng)}")
    for _ in range(rng.randint(3, 7)):
        sign = rng.choice(("-", "+", ""))
        lines.append(f"  {rng.choice(PLACES):<22} {sign}{_money(rng)}")
    lines.append(f"Closing balance: {_money(rng)}  (rate {_percent(rng)})")
    return "\n".join(lines)


def number_documents(n: int = N_DOCUMENTS, seed: int = SEED) -> Iterator[str]:
    """The documents of `builtin:numbers`, always the same for the same seed."""
    rng = random.Random(seed)
    makers = (_prose, _table, _statement)
    for _ in range(n):
        yield rng.choice(makers)(rng)


register_builtin("numbers", number_documents,
                 "generated prose, tables and statements with numbers from 1e-6 to 1e15 in many conventions")
