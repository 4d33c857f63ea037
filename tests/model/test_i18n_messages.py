"""Every message of the package (its model, checks, loader and commands) has a French
translation with the same placeholders."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from chaton.i18n import _catalogue

ROOT = Path(__file__).resolve().parents[2]
# Every module of the package (the cost sheets' texts are checked by tests/costs).
SOURCES = sorted(
    path for path in (ROOT / "chaton").rglob("*.py") if "costs" not in path.relative_to(ROOT).parts
)


def _string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def templates() -> set[str]:
    """The English templates: first argument of `_()` and `fail()`, the template of a `Finding`
    and of `problem()`, the values of the loader's table of pydantic messages."""
    found: set[str] = set()
    for source in SOURCES:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                args = node.args
                if isinstance(node.func, ast.Name):
                    if node.func.id in ("_", "fail") and args and (text := _string(args[0])):
                        found.add(text)
                    if node.func.id == "Finding" and len(args) >= 3 and (text := _string(args[2])):
                        found.add(text)
                elif (
                    isinstance(node.func, ast.Attribute)
                    and node.func.attr == "problem"
                    and len(args) >= 3
                    and (text := _string(args[2]))
                ):
                    found.add(text)
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "_PYDANTIC_MESSAGES"
                for target in node.targets
            ):
                assert isinstance(node.value, ast.Dict)
                found.update(text for v in node.value.values if v and (text := _string(v)))
    return found


TEMPLATES = sorted(templates())


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_collector_finds_the_messages() -> None:
    assert "this field is required" in TEMPLATES
    assert "unknown tier {value}; the collective's tiers are: {known}" in TEMPLATES
    assert "duplicate key {key}: it is already set on line {line}" in TEMPLATES
    assert len(TEMPLATES) > 80


# Messages whose French is the English (checked by hand).
SAME_IN_FRENCH = frozenset({"true/false", "structure", "instance"})


@pytest.mark.parametrize("template", TEMPLATES)
def test_french_translation_exists_with_the_same_placeholders(template: str) -> None:
    french = _catalogue("fr").get(template)
    assert french is not None, f"no French for: {template}"
    assert french != template or template in SAME_IN_FRENCH
    assert _fields(french) == _fields(template)
