"""`tools/mutate.py`'s survivor explanations: a malformed `tools/mutants/<group>.toml` is refused in one line, and
a pattern explains only the mutants it names (a string where a list belongs must not explain everything)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("mutate_tool", Path(__file__).parents[1] / "tools" / "mutate.py")
mutate = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mutate)


def _entries(tmp_path, monkeypatch, text: str | bytes):
    monkeypatch.setattr(mutate, "EXPLAINED", tmp_path)
    path = tmp_path / "g.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return mutate.explanations("g")


def test_patterns_explain_only_the_mutants_they_name(tmp_path, monkeypatch):
    entries = _entries(tmp_path, monkeypatch, '[[explained]]\nmutants = ["m.x_f__mutmut_1?", "m.x_g__mutmut_3"]\n'
                                              'why = "equivalent: same value"\n')
    assert mutate.why_survived("m.x_f__mutmut_12", entries) == "equivalent: same value"
    assert mutate.why_survived("m.x_g__mutmut_3", entries) == "equivalent: same value"
    assert mutate.why_survived("m.x_f__mutmut_2", entries) is None
    assert mutate.why_survived("m.x_g__mutmut_30", entries) is None
    monkeypatch.setattr(mutate, "EXPLAINED", tmp_path / "none")
    assert mutate.explanations("g") == []  # no file: nothing is explained


@pytest.mark.parametrize("text, says", [
    ('[[explained]]\nmutants = "m.x_f__mutmut_*"\nwhy = "all"\n', "a non-empty list"),
    ('[[explained]]\nmutants = []\nwhy = "x"\n', "a non-empty list"),
    ('[[explained]]\nmutants = [1]\nwhy = "x"\n', "a non-empty list"),
    ('[[explained]]\nmutants = ["m.x"]\nwhy = ""\n', "`why`, a non-empty string"),
    ('[[explained]]\nmutants = ["m.x"]\n', "`why`, a non-empty string"),
    ('explained = "oops"\n', "must be an array of tables"),
    ("explained = [1, 2]\n", "a non-empty list"),
    ("[[explained]\n", "cannot read it"),
    (b"why = '\xff'\n", "cannot read it"),
])
def test_malformed_explanations_are_one_line(tmp_path, monkeypatch, text, says):
    with pytest.raises(SystemExit) as stop:
        _entries(tmp_path, monkeypatch, text)
    message = str(stop.value.code)
    assert says in message and "g.toml" in message and "\n" not in message
