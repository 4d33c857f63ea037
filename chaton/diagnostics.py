"""Errors in the operator's words, each placed at `file:line:column` with the dotted field path.

`LoadError` is one such error. `document_errors` places the problems YAML parsing found,
`model_errors` turns pydantic's validation errors into sentences in the operator's language
(unknown fields with a suggestion, the kind of value found instead of the one expected…), and
`finding_errors` places the findings of the checks across fields and files (`chaton.validation`).
`printable` shows a file name without letting the terminal obey it.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chaton.i18n import N_, Nn_, _, n_
from chaton.model.types import ERROR_TYPE, TEMPLATE_KEY, show
from chaton.validation import Finding
from chaton.yamlsource import FieldPath, ParsedDocument, SourceMap


def printable(text: str) -> str:
    """`text` with its control, format and undecodable characters (terminal escapes, bidi
    overrides, bytes that are not UTF-8) written as escapes: a file name is shown to the
    operator as it is, never obeyed by the terminal."""
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in ("Cc", "Cf", "Cs")
        else char
        for char in text
    )


@dataclass(frozen=True, order=True)
class LoadError:
    """One error, placed in a file. `line` and `column` count from 1."""

    file: Path
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{printable(str(self.file))}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


def document_errors(file: Path, parsed: ParsedDocument) -> list[LoadError]:
    """The problems met while parsing `file`, as errors of that file."""
    return [
        LoadError(file, problem.line, problem.column, _display_path(problem.path), problem.message)
        for problem in parsed.problems
    ]


# ---------------------------------------------------------------------------------------------
# pydantic errors in the operator's words

_PYDANTIC_MESSAGES = {
    "missing": N_("this field is required"),
    "int_type": N_("must be a whole number, not {got}"),
    "int_parsing": N_("must be a whole number, not {got}"),
    "int_from_float": N_("must be a whole number, not {got}"),
    "string_type": N_("must be text, not {got}"),
    "bool_type": N_("must be true or false, not {got}"),
    "model_type": N_("must be a mapping of fields (`key: value` lines), not {got}"),
    "model_attributes_type": N_("must be a mapping of fields (`key: value` lines), not {got}"),
    "dict_type": N_("must be a mapping (`key: value` lines), not {got}"),
    "tuple_type": N_("must be a list, not {got}"),
    "list_type": N_("must be a list, not {got}"),
    "literal_error": N_("must be one of: {expected}"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
}
# pydantic's errors whose message counts something: kind → (the key of the count in the error's
# context, the English singular and plural).
_PYDANTIC_PLURALS = {
    "too_short": (
        "min_length",
        *Nn_("must have at least {min_length} item", "must have at least {min_length} items"),
    ),
    "too_long": (
        "max_length",
        *Nn_("must have at most {max_length} item", "must have at most {max_length} items"),
    ),
    "string_too_short": (
        "min_length",
        *Nn_(
            "must be at least {min_length} character long",
            "must be at least {min_length} characters long",
        ),
    ),
    "string_too_long": (
        "max_length",
        *Nn_(
            "must be at most {max_length} character long",
            "must be at most {max_length} characters long",
        ),
    ),
}


def _describe(value: object) -> str:
    """What kind of value the operator wrote, in words."""
    if value is None:
        return _("an empty value")
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, int):
        return _("the number {value}", value=value)
    if isinstance(value, float | Decimal):
        return _("the decimal number {value}", value=value)
    if isinstance(value, str):
        return _("the text {value}", value=show(value, 40))
    if isinstance(value, datetime | date):
        return _("a date")
    if isinstance(value, bytes):
        return _("binary data")
    if isinstance(value, list | tuple):
        return _("a list")
    if isinstance(value, dict):
        return _("a mapping")
    return type(value).__name__  # pragma: no cover - YAML builds nothing else


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            candidates = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = candidates[0] if len(candidates) == 1 else Any
        else:
            return annotation


def _model_at(root: type[BaseModel], loc: FieldPath) -> type[BaseModel] | None:
    """The model class that validates the value at `loc` inside `root`, if it is a model."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        elif origin in (tuple, list) and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif origin is dict and isinstance(part, str):
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _render_pydantic(root: type[BaseModel], error: Mapping[str, Any], loc: FieldPath) -> str:
    kind = error["type"]
    context = dict(error.get("ctx") or {})
    if kind == ERROR_TYPE and TEMPLATE_KEY in context:
        template = str(context.pop(TEMPLATE_KEY))
        return _safe_format(template, context, error)
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = sorted(model.model_fields) if model is not None else []
        name = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        if close:
            return _(
                "unknown field {field}: did you mean {suggestion}? (allowed here: {allowed})",
                field=show(name),
                suggestion=show(close[0]),
                allowed=", ".join(allowed),
            )
        return _(
            "unknown field {field} (allowed here: {allowed})",
            field=show(name),
            allowed=", ".join(allowed) or "-",
        )
    if kind == "literal_error":
        context["expected"] = str(context.get("expected", "")).replace(" or ", ", ")
    if kind in _PYDANTIC_PLURALS:
        key, singular, plural = _PYDANTIC_PLURALS[kind]
        count = context.get(key)
        if isinstance(count, int):
            return _safe_format_plural(singular, plural, count, context, error)
    known = _PYDANTIC_MESSAGES.get(kind)
    if known is None:
        return str(error.get("msg", kind))
    return _safe_format(known, {**context, "got": _describe(error.get("input"))}, error)


def _safe_format(template: str, values: Mapping[str, Any], error: Mapping[str, Any]) -> str:
    try:
        return _(template, **values)
    except (KeyError, IndexError, ValueError):  # pragma: no cover - a template/catalogue slip
        return str(error.get("msg", template))


def _safe_format_plural(
    singular: str, plural: str, count: int, values: Mapping[str, Any], error: Mapping[str, Any]
) -> str:
    try:
        return n_(singular, plural, count, **{k: v for k, v in values.items() if k != "count"})
    except (KeyError, IndexError, ValueError):  # pragma: no cover - a template/catalogue slip
        return str(error.get("msg", singular))


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _display_path(path: FieldPath) -> str:
    """`services.lists[0].name`; a key that is not a plain word is quoted: `tiers['Or fin']`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) is None:
            text += f"[{show(part, 40)}]"
        else:
            text += f".{part}" if text else part
    return text


def _is_under(path: FieldPath, broken: set[FieldPath]) -> bool:
    return any(path[: len(candidate)] == candidate for candidate in broken)


def model_errors(
    root: type[BaseModel], error: ValidationError, parsed: ParsedDocument, file: Path
) -> list[LoadError]:
    """pydantic's errors validating `file` as `root`, placed and said in the operator's words;
    none at or below a value that could not be read (already reported)."""
    found: list[LoadError] = []
    items = error.errors(include_url=False)
    # pydantic adds "too short" to a list whose items failed: only the items' errors matter.
    failed_inside = {tuple(item["loc"][:end]) for item in items for end in range(len(item["loc"]))}
    for item in items:
        if item["type"] == "too_short" and tuple(item["loc"]) in failed_inside:
            continue
        raw = tuple(item["loc"])
        at_key = False
        if raw and raw[-1] == "[key]":
            raw, at_key = raw[:-1], True
        loc: FieldPath = tuple(part for part in raw if isinstance(part, int | str))
        if _is_under(loc, parsed.broken):
            continue
        kind = item["type"]
        at_key = at_key or kind == "extra_forbidden"
        line, column = parsed.marks.locate(loc, at_key=at_key)
        found.append(
            LoadError(file, line, column, _display_path(loc), _render_pydantic(root, item, loc))
        )
    return found


def finding_errors(
    root: Path, findings: Iterable[Finding], marks: Mapping[str, SourceMap]
) -> list[LoadError]:
    """The findings of the checks across fields and files, placed in the inventory `root` by
    the source maps of its documents (`marks`, by document path)."""
    errors = []
    for finding in findings:
        source = marks.get(finding.document, SourceMap())
        line, column = source.locate(finding.path, at_key=finding.at_key)
        errors.append(
            LoadError(
                root / finding.document,
                line,
                column,
                _display_path(finding.path),
                _(finding.template, **finding.values),
            )
        )
    return errors
