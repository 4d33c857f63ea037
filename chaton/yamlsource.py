"""The operator's YAML files as they are written: read safely, parsed with the place of every value.

`read_regular_file(path, limit)` reads a file only when it is a regular file within a size limit
(a FIFO, a device or an oversized file is refused unread). `parse_document(text)` parses one YAML
document whose top level is a mapping into plain data, keeping the line and column of every key
and value (`SourceMap`) and the problems found on the way (`Problem`).

The YAML is composed into nodes (PyYAML, with libyaml when available); values are then built from
the nodes by hand, which lets us refuse what a plain `safe_load` silently accepts: duplicate keys,
merge keys, unknown tags, keys that are not text. Nothing here evaluates anything: tags beyond
YAML's own scalar types are problems. Documents too large or nested too deeply are refused.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaton.i18n import _
from chaton.model.types import show

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
class Problem:
    """What is wrong at one place of a document: 1-based line and column, message translated."""

    path: FieldPath
    line: int
    column: int
    message: str


class _Builder:
    """Builds plain Python data from composed YAML nodes, recording positions and problems."""

    def __init__(self) -> None:
        self.marks = SourceMap()
        self.problems: list[Problem] = []
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
            Problem(
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
    problems: list[Problem]
    broken: set[FieldPath]


def parse_document(text: str) -> ParsedDocument:
    """Parse one YAML document whose top level must be a mapping."""
    builder = _Builder()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        message = _("the file is too large (more than {limit} bytes)", limit=MAX_FILE_BYTES)
        return ParsedDocument(None, builder.marks, [Problem((), 1, 1, message)], set())
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        message = _("the YAML syntax is broken here: {problem}", problem=problem)
        return ParsedDocument(None, builder.marks, [Problem((), line, column, message)], set())
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        message = _(
            "the file contains a character YAML does not allow ({character})",
            character=show(chr(error.character) if isinstance(error.character, int) else ""),
        )
        return ParsedDocument(None, builder.marks, [Problem((), line, column, message)], set())
    except yaml.YAMLError as error:  # pragma: no cover - any other libyaml complaint
        message = _("the YAML syntax is broken: {problem}", problem=str(error))
        return ParsedDocument(None, builder.marks, [Problem((), 1, 1, message)], set())
    finally:
        loader.dispose()
    if node is None:
        message = _("the file is empty: expected fields such as `name: ...`")
        return ParsedDocument(None, builder.marks, [Problem((), 1, 1, message)], set())
    if not isinstance(node, yaml.MappingNode) or node.tag != _MAP_TAG:
        message = _("the file must be a mapping of fields (`key: value` lines) at its top level")
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        return ParsedDocument(None, builder.marks, [Problem((), line, column, message)], set())
    try:
        data = builder.build(node, ())
    except _TooLargeError as error:
        message = _("the document is too large (too many values or aliases)")
        line, column = error.node.start_mark.line + 1, error.node.start_mark.column + 1
        return ParsedDocument(None, builder.marks, [Problem((), line, column, message)], set())
    except _TooDeepError as error:
        message = _("the document is nested too deeply")
        line, column = error.node.start_mark.line + 1, error.node.start_mark.column + 1
        return ParsedDocument(None, builder.marks, [Problem((), line, column, message)], set())
    return ParsedDocument(data, builder.marks, builder.problems, builder.broken)


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
