"""Every message of chaton costs and chaton catalog has a French translation with the same
placeholders, and the French sheets are in French."""

from __future__ import annotations

import ast
import string

import pytest

from chaton.costs.labels import texts
from chaton.i18n import _catalogue
from chaton.paths import PROJECT_ROOT

SOURCES = [
    *sorted((PROJECT_ROOT / "chaton" / "costs").rglob("*.py")),
    PROJECT_ROOT / "chaton" / "commands" / "costs.py",
    PROJECT_ROOT / "chaton" / "commands" / "catalog.py",
]


def _messages() -> list[str]:
    found: set[str] = set()
    for source in SOURCES:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "fail")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return sorted(found)


MESSAGES = _messages()


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_collector_finds_the_messages() -> None:
    assert "Fair share of the costs" in MESSAGES
    assert len(MESSAGES) > 100


@pytest.mark.parametrize("message", MESSAGES)
def test_french_translation(message: str) -> None:
    french = _catalogue("fr").get(message)
    assert french is not None, f"no French for: {message}"
    assert _fields(french) == _fields(message)


def test_the_labels_differ_in_french() -> None:
    english, french = texts("en"), texts("fr")
    assert english.keys() == french.keys()
    assert french["fair_share"] == "Juste part des coûts"
    same = {key for key in english if english[key] == french[key]}
    assert same <= {
        "structures_sheet",
        "sheet_structures",
        "structure",
        "total",
        "pue",
        "status_active",
    }
