"""Reading an inventory: the I/O edge between the operator's YAML files and the pure model.

`check_inventory(root)` reads `collective.yml` and `structures/*.yml`, and returns the models that
are valid together with EVERY error found, in every file, each placed at `file:line:column` with
the dotted path of the field and a message in the operator's language. `load_inventory(root)` is
the same for commands that need a valid inventory: it raises `InvalidInventory` (exit code 2).

The YAML is composed into nodes (PyYAML, with libyaml when available) to keep the line and column
of every key and value; values are then built from the nodes by hand, which lets us refuse what a
plain `safe_load` silently accepts: duplicate keys, merge keys, unknown tags, keys that are not
text. Nothing here evaluates anything: tags beyond YAML's own scalar types are errors.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import types
import typing
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from chaton.errors import BadInput
from chaton.i18n import _
from chaton.model import Collective, Structure
from chaton.model.types import ERROR_TYPE, TEMPLATE_KEY, Domain, Identifier, show
from chaton.names import RESERVED_MASTODON_USERNAMES, ReservedNames
from chaton.validation import (
    COLLECTIVE_FILE,
    STRUCTURES_DIR,
    Finding,
    StructureKeys,
    structure_document,
    validate,
)

FieldPath = tuple[str | int, ...]

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_NODES = 100_000

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _YAML_TAG + "map"
_SEQ_TAG = _YAML_TAG + "seq"
_STR_TAG = _YAML_TAG + "str"
_MERGE_TAG = _YAML_TAG + "merge"
_SCALAR_TAGS = frozenset(
    _YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp")
)


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


@dataclass(frozen=True)
class CheckResult:
    """What `check_inventory` found: the valid models and every error."""

    root: Path
    collective: Collective | None
    # Valid structures by file name (stem); with no errors, stems equal slugs.
    structures: Mapping[str, Structure]
    errors: tuple[LoadError, ...]
    # How many structure files there were, valid or not.
    structure_files: int = 0

    @property
    def valid(self) -> bool:
        return not self.errors and self.collective is not None


@dataclass(frozen=True)
class Inventory:
    """A valid inventory: the collective and its structures by slug."""

    root: Path
    collective: Collective
    structures: Mapping[str, Structure]


class InvalidInventory(BadInput):
    """The inventory has errors; `errors` holds them all."""

    def __init__(self, errors: Iterable[LoadError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


# ---------------------------------------------------------------------------------------------
# YAML with positions


@dataclass
class SourceMap:
    """Where each key and value of a document sits (0-based line and column from PyYAML)."""

    keys: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    values: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: FieldPath, at_key: bool = False) -> tuple[int, int]:
        """1-based line and column of `path` (its key or its value); falls back to the nearest
        enclosing field that exists, then to the start of the file."""
        if at_key and path in self.keys:
            return _one_based(self.keys[path])
        if path in self.values:
            return _one_based(self.values[path])
        for end in range(len(path) - 1, -1, -1):
            parent = path[:end]
            if parent in self.keys:
                return _one_based(self.keys[parent])
            if parent in self.values:
                return _one_based(self.values[parent])
        return (1, 1)


def _one_based(mark: tuple[int, int]) -> tuple[int, int]:
    return (mark[0] + 1, mark[1] + 1)


@dataclass(frozen=True)
class _Problem:
    path: FieldPath
    line: int
    column: int
    message: str


class _Builder:
    """Builds plain Python data from composed YAML nodes, recording positions and problems."""

    def __init__(self) -> None:
        self.marks = SourceMap()
        self.problems: list[_Problem] = []
        # Paths whose value could not be read: model errors at or below them are noise.
        self.broken: set[FieldPath] = set()
        self._constructor = yaml.constructor.SafeConstructor()
        self._count = 0

    def problem(
        self, path: FieldPath, node: yaml.Node, template: str, broken: bool = True, **values: Any
    ) -> None:
        """Report a problem at `node`; a `broken` path's model errors are not reported."""
        if broken:
            self.broken.add(path)
        self.problems.append(
            _Problem(
                path,
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                _(template, **values),
            )
        )

    def build(self, node: yaml.Node, path: FieldPath, depth: int = 0) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooLargeError(node)
        if depth > MAX_DEPTH:
            raise _TooDeepError(node)
        self.marks.values[path] = (node.start_mark.line, node.start_mark.column)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                self.problem(
                    path, node, "the tag {tag} is not allowed here", tag=_tag_name(node.tag)
                )
                return None
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self.problem(
                    path, node, "the tag {tag} is not allowed here", tag=_tag_name(node.tag)
                )
                return None
            return [
                self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)
            ]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: FieldPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.problem(path, node, "the tag {tag} is not allowed here", tag=_tag_name(node.tag))
            return None
        try:
            return self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as error:
            self.problem(
                path,
                node,
                "this value cannot be read: {problem}",
                problem=getattr(error, "problem", None) or str(error),
            )
            return None

    def _mapping(self, node: yaml.MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self.problem(
                    path,
                    key_node,
                    "YAML merge keys (<<) are not supported: write the fields out",
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                self.problem(path, key_node, "a key must be plain text", broken=False)
                continue
            try:
                key = self._constructor.construct_object(key_node)
            except (yaml.YAMLError, ValueError, OverflowError):
                key = None
            if not isinstance(key, str):
                self.problem(
                    path,
                    key_node,
                    "the key {key} must be text: put it between quotes",
                    broken=False,
                    key=show(key_node.value),
                )
                continue
            child = (*path, key)
            if key in first_seen:
                self.problem(
                    child,
                    key_node,
                    "duplicate key {key}: it is already set on line {line}",
                    broken=False,
                    key=show(key),
                    line=first_seen[key],
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.marks.keys[child] = (key_node.start_mark.line, key_node.start_mark.column)
            result[key] = self.build(value_node, child, depth + 1)
        return result


def _tag_name(tag: str) -> str:
    """A tag as written in YAML: `!!python/object` rather than `tag:yaml.org,2002:python/object`."""
    return show("!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag)


class _TooDeepError(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _TooLargeError(_TooDeepError):
    pass


@dataclass
class ParsedDocument:
    """A YAML document read into plain data (None when it could not be read) and its positions."""

    data: dict[str, Any] | None
    marks: SourceMap
    problems: list[_Problem]
    broken: set[FieldPath]


def parse_document(text: str) -> ParsedDocument:
    """Parse one YAML document whose top level must be a mapping."""
    builder = _Builder()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        message = _("the file is too large (more than {limit} bytes)", limit=MAX_FILE_BYTES)
        return ParsedDocument(None, builder.marks, [_Problem((), 1, 1, message)], set())
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        message = _("the YAML syntax is broken here: {problem}", problem=problem)
        return ParsedDocument(None, builder.marks, [_Problem((), line, column, message)], set())
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        message = _(
            "the file contains a character YAML does not allow ({character})",
            character=show(chr(error.character) if isinstance(error.character, int) else ""),
        )
        return ParsedDocument(None, builder.marks, [_Problem((), line, column, message)], set())
    except yaml.YAMLError as error:  # pragma: no cover - any other libyaml complaint
        message = _("the YAML syntax is broken: {problem}", problem=str(error))
        return ParsedDocument(None, builder.marks, [_Problem((), 1, 1, message)], set())
    finally:
        loader.dispose()
    if node is None:
        message = _("the file is empty: expected fields such as `name: ...`")
        return ParsedDocument(None, builder.marks, [_Problem((), 1, 1, message)], set())
    if not isinstance(node, yaml.MappingNode) or node.tag != _MAP_TAG:
        message = _("the file must be a mapping of fields (`key: value` lines) at its top level")
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        return ParsedDocument(None, builder.marks, [_Problem((), line, column, message)], set())
    try:
        data = builder.build(node, ())
    except _TooLargeError as error:
        message = _("the document is too large (too many values or aliases)")
        line, column = error.node.start_mark.line + 1, error.node.start_mark.column + 1
        return ParsedDocument(None, builder.marks, [_Problem((), line, column, message)], set())
    except _TooDeepError as error:
        message = _("the document is nested too deeply")
        line, column = error.node.start_mark.line + 1, error.node.start_mark.column + 1
        return ParsedDocument(None, builder.marks, [_Problem((), line, column, message)], set())
    return ParsedDocument(data, builder.marks, builder.problems, builder.broken)


# ---------------------------------------------------------------------------------------------
# pydantic errors in the operator's words

_PYDANTIC_MESSAGES = {
    "missing": "this field is required",
    "int_type": "must be a whole number, not {got}",
    "int_parsing": "must be a whole number, not {got}",
    "int_from_float": "must be a whole number, not {got}",
    "string_type": "must be text, not {got}",
    "bool_type": "must be true or false, not {got}",
    "model_type": "must be a mapping of fields (`key: value` lines), not {got}",
    "model_attributes_type": "must be a mapping of fields (`key: value` lines), not {got}",
    "dict_type": "must be a mapping (`key: value` lines), not {got}",
    "tuple_type": "must be a list, not {got}",
    "list_type": "must be a list, not {got}",
    "literal_error": "must be one of: {expected}",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_too_short": "must be at least {min_length} character(s) long",
    "string_too_long": "must be at most {max_length} characters long",
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
    known = _PYDANTIC_MESSAGES.get(kind)
    if known is None:
        return str(error.get("msg", kind))
    return _safe_format(known, {**context, "got": _describe(error.get("input"))}, error)


def _safe_format(template: str, values: Mapping[str, Any], error: Mapping[str, Any]) -> str:
    try:
        return _(template, **values)
    except (KeyError, IndexError, ValueError):  # pragma: no cover - a template/catalogue slip
        return str(error.get("msg", template))


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


def _model_errors(
    root: type[BaseModel], error: ValidationError, parsed: ParsedDocument, file: Path
) -> list[LoadError]:
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


# ---------------------------------------------------------------------------------------------
# The inventory


def _document_errors(file: Path, parsed: ParsedDocument) -> list[LoadError]:
    return [
        LoadError(file, problem.line, problem.column, _display_path(problem.path), problem.message)
        for problem in parsed.problems
    ]


_M = typing.TypeVar("_M", bound=BaseModel)


def _parse_model(
    model: type[_M], text: str, file: Path
) -> tuple[_M | None, ParsedDocument, list[LoadError]]:
    parsed = parse_document(text)
    errors = _document_errors(file, parsed)
    if parsed.data is None:
        return None, parsed, errors
    try:
        instance = model.model_validate(parsed.data)
    except ValidationError as error:
        errors.extend(_model_errors(model, error, parsed, file))
        return None, parsed, errors
    except RecursionError:  # pragma: no cover - guarded by MAX_DEPTH
        errors.append(LoadError(file, 1, 1, "", _("the document is nested too deeply")))
        return None, parsed, errors
    # A value that could not be read (bad tag, duplicate key) is an error even if the model,
    # seeing a default or the first occurrence, would accept the document.
    return (None if errors else instance), parsed, errors


def check_texts(
    root: Path,
    collective_text: str | None,
    structure_texts: Mapping[str, str],
    reserved: ReservedNames | None = None,
) -> CheckResult:
    """Check an inventory given as texts: `structure_texts` maps file names (stems) to YAML.
    A `collective_text` of None means collective.yml could not be read (already reported).
    `reserved`: the names the inventory's Ansible variables give the hosting association."""
    errors: list[LoadError] = []
    marks: dict[str, SourceMap] = {}
    collective: Collective | None = None
    if collective_text is not None:
        collective_file = root / COLLECTIVE_FILE
        collective, parsed, found = _parse_model(Collective, collective_text, collective_file)
        errors.extend(found)
        marks[COLLECTIVE_FILE] = parsed.marks
    structures: dict[str, Structure] = {}
    partial: dict[str, StructureKeys] = {}
    for stem in sorted(structure_texts):
        document = structure_document(stem)
        structure, parsed, found = _parse_model(Structure, structure_texts[stem], root / document)
        errors.extend(found)
        marks[document] = parsed.marks
        if structure is not None:
            structures[stem] = structure
        elif parsed.data is not None:
            partial[stem] = _partial_keys(parsed.data)
    findings = validate(collective, structures, partial, reserved)
    errors.extend(_finding_errors(root, findings, marks))
    return CheckResult(
        root=root,
        collective=collective,
        structures=structures,
        errors=tuple(_ordered(root, errors)),
        structure_files=len(structure_texts),
    )


_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
_DOMAIN: TypeAdapter[str] = TypeAdapter(Domain)


def _valid_or_none(adapter: TypeAdapter[str], value: object) -> str | None:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _partial_keys(data: Mapping[str, Any]) -> StructureKeys:
    """The slug, tier, server and domains of an invalid structure that are valid on their own."""
    raw_domains = data.get("domains")
    domains: list[tuple[int, str]] = []
    if isinstance(raw_domains, list):
        for index, value in enumerate(raw_domains):
            domain = _valid_or_none(_DOMAIN, value)
            if domain is not None:
                domains.append((index, domain))
    return StructureKeys(
        slug=_valid_or_none(_IDENTIFIER, data.get("slug")),
        tier=_valid_or_none(_IDENTIFIER, data.get("tier")),
        placement=_valid_or_none(_IDENTIFIER, data.get("placement")),
        domains=tuple(domains),
    )


def _finding_errors(
    root: Path, findings: Iterable[Finding], marks: Mapping[str, SourceMap]
) -> list[LoadError]:
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


def _ordered(root: Path, errors: list[LoadError]) -> list[LoadError]:
    collective_file = root / COLLECTIVE_FILE

    def key(error: LoadError) -> tuple[bool, str, int, int, str, str]:
        return (
            error.file != collective_file,
            str(error.file),
            error.line,
            error.column,
            error.path,
            error.message,
        )

    return sorted(set(errors), key=key)


class UnreadableFile(Exception):
    """Why a file was refused unread (its message, in the operator's language)."""


class FileTooLarge(UnreadableFile):
    """The file is over the limit it was read with."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes. Refused unread
    (UnreadableFile): what is not a regular file (a FIFO would block, a device never end; opened
    without waiting, its kind read from the open file) and, by its size before reading it, a
    file over `limit` (FileTooLarge)."""
    too_large = _("the file is too large (more than {limit} bytes)", limit=limit)
    try:
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise UnreadableFile(_("the file is not a regular file"))
            if info.st_size > limit:
                raise FileTooLarge(too_large)
            data = stream.read(limit + 1)
    except OSError as error:
        raise UnreadableFile(_("cannot read the file: {reason}", reason=error.strerror)) from None
    if len(data) > limit:  # it grew while it was read
        raise FileTooLarge(too_large)
    return data


def _read(file: Path, root: Path, errors: list[LoadError]) -> str | None:
    """The text of an inventory file, or None with the reason in `errors`. Refused unread: a
    file that is, or lies in, a link to a place outside the inventory `root` (a structure file
    sent as a link must not make chaton read, and show in its errors, a file of the operator's
    machine), what is not a regular file (a FIFO would block, a device never end), a file over
    MAX_FILE_BYTES (by its size, before reading it)."""

    def refuse(message: str) -> None:
        errors.append(LoadError(file, 1, 1, "", message))

    target = file.resolve()
    if not target.is_relative_to(root.resolve()):
        refuse(
            _(
                "the file leads outside the inventory (to {target}): inventory files must be "
                "in the inventory folder, not links to elsewhere",
                target=show(str(target), limit=240),
            )
        )
        return None
    try:
        data = read_regular_file(target, MAX_FILE_BYTES)
    except UnreadableFile as error:
        refuse(str(error))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        errors.append(LoadError(file, line, column, "", _("the file is not valid UTF-8 text")))
        return None


class _AnsibleVarsLoader(yaml.SafeLoader):
    """Reads an Ansible variables file for plain values: its tags (`!vault`, `!unsafe`) give
    None, never an error."""


_AnsibleVarsLoader.add_multi_constructor("!", lambda _loader, _suffix, _node: None)


def group_vars(root: Path) -> list[dict[str, Any]]:
    """The variables of the inventory's group_vars, file by file as Ansible reads them
    (`group_vars/<group>.yml`, then `group_vars/<group>/*.yml`), plain values only: tags
    (`!vault`, `!unsafe`) read as None. A file YAML cannot read (a vault) is skipped: Ansible
    reports it."""
    folder = root / "group_vars"
    if not folder.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for file in sorted(folder.glob("*.yml")) + sorted(folder.glob("*/*.yml")):
        try:
            data = yaml.load(file.read_text(encoding="utf-8"), Loader=_AnsibleVarsLoader)  # noqa: S506
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            found.append(data)
    return found


def reserved_names(root: Path) -> ReservedNames:
    """The names the inventory's group_vars give the hosting association: its administrators'
    Unix accounts (`common_admins[].name`) and the Mastodon administrator's account
    (`mastodon_admin_username`, besides the role's default and `admin`)."""
    users: set[str] = set()
    accounts: set[str] = set(RESERVED_MASTODON_USERNAMES)
    for data in group_vars(root):
        admins = data.get("common_admins")
        if isinstance(admins, list):
            users.update(
                admin["name"]
                for admin in admins
                if isinstance(admin, dict) and isinstance(admin.get("name"), str)
            )
        account = data.get("mastodon_admin_username")
        if isinstance(account, str):
            accounts.add(account.lower())
    return ReservedNames(unix_users=frozenset(users), mastodon_accounts=frozenset(accounts))


def check_inventory(root: Path) -> CheckResult:
    """Read and check a whole inventory folder. Raises BadInput when there is no inventory."""
    collective_file = root / COLLECTIVE_FILE
    if not root.is_dir():
        raise BadInput(_("no inventory folder at {path}", path=str(root)))
    if not collective_file.exists():
        raise BadInput(
            _("{path} is missing: an inventory needs a collective.yml", path=str(collective_file))
        )
    read_errors: list[LoadError] = []
    collective_text = _read(collective_file, root, read_errors)
    structure_texts: dict[str, str] = {}
    unreadable = 0
    structures_dir = root / STRUCTURES_DIR
    if structures_dir.is_dir():
        for file in sorted(structures_dir.iterdir()):
            if file.name.startswith(".") or not file.is_file():
                continue
            if file.suffix == ".yaml":
                read_errors.append(
                    LoadError(
                        file,
                        1,
                        1,
                        "",
                        _(
                            "structure files end in .yml: rename it to {name}",
                            name=file.stem + ".yml",
                        ),
                    )
                )
                unreadable += 1
                continue
            if file.suffix != ".yml":
                continue
            text = _read(file, root, read_errors)
            if text is None:
                unreadable += 1
            else:
                structure_texts[file.stem] = text
    result = check_texts(root, collective_text, structure_texts, reserved_names(root))
    if not read_errors:
        return result
    return CheckResult(
        root=result.root,
        collective=result.collective,
        structures=result.structures,
        errors=tuple(_ordered(root, [*read_errors, *result.errors])),
        structure_files=result.structure_files + unreadable,
    )


def load_inventory(root: Path) -> Inventory:
    """A valid inventory, or `InvalidInventory` with every error."""
    result = check_inventory(root)
    if not result.valid or result.collective is None:
        raise InvalidInventory(result.errors)
    return Inventory(root=root, collective=result.collective, structures=dict(result.structures))


def errors_as_json(result: CheckResult) -> str:
    """The check's outcome as JSON for machines."""
    collective = result.collective
    return json.dumps(
        {
            "valid": result.valid,
            "structures": result.structure_files,
            "servers": len(collective.servers) if collective is not None else None,
            "errors": [error.as_dict() for error in result.errors],
        },
        ensure_ascii=False,
        indent=2,
    )
