"""YAML for Ansible, written by a dumper (never by string formatting) and read back by chaton.

`dump_vars(header, variables)` writes a vars file (host_vars, the secrets) where:

- every variable's value is a list or a mapping written with the tag `!unsafe`: Ansible never
  templates anything inside it, whatever the text (`{{ lookup('pipe','id') }}`, `{% raw %}`…), and
  every value read from an inventory is inside such a value;
- every string is quoted (single quotes, or double quotes when it needs escapes), so that it stays
  a string: `'no'`, `'1789'` and `''` are text, not a boolean, a number and null;
- keys are chaton's own names; a key is quoted only when YAML would read it as something else;
- mappings are sorted by key, lists keep the order chaton gives them (sorted where order means
  nothing), lines end with `\\n`, non-ASCII text is written as UTF-8.

Why the tag is on the collection rather than on each string: Ansible 2.19 re-reads the text of a
`!unsafe` scalar as if it were unquoted (`!unsafe '1789'` loads as the number 1789, `!unsafe 'no'`
as false, `!unsafe ''` as null), whereas the strings inside an `!unsafe` list or mapping keep their
type and are all marked unsafe (Ansible counts the `!unsafe` depth while building them; older
versions wrap every value inside too).

`load_vars(text)` reads such a file back (it accepts the `!unsafe` tag and nothing else beyond
YAML's own types).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

UNSAFE_TAG = "!unsafe"
_STR_TAG = "tag:yaml.org,2002:str"


class UnsafeList(list[Any]):
    """A list written with the `!unsafe` tag."""


class UnsafeDict(dict[str, Any]):
    """A mapping written with the `!unsafe` tag (keys sorted)."""


class AnsibleVarsDumper(yaml.SafeDumper):
    """A safe dumper that quotes every string and tags `UnsafeList`/`UnsafeDict` `!unsafe`."""

    def represent_quoted_str(self, data: str) -> yaml.ScalarNode:
        return self.represent_scalar(_STR_TAG, data, style="'")

    def represent_sorted_mapping(self, tag: str, data: Mapping[str, Any]) -> yaml.MappingNode:
        node = yaml.MappingNode(tag, [], flow_style=False)
        for key in sorted(data):
            if not isinstance(key, str):
                raise TypeError(f"keys must be text, not {key!r}")
            plain = self.resolve(yaml.ScalarNode, key, (True, False)) == _STR_TAG  # type: ignore[no-untyped-call]
            key_node = yaml.ScalarNode(_STR_TAG, key, style=None if plain else "'")
            node.value.append((key_node, self.represent_data(data[key])))
        return node

    def represent_plain_dict(self, data: dict[str, Any]) -> yaml.MappingNode:
        return self.represent_sorted_mapping("tag:yaml.org,2002:map", data)

    def represent_unsafe_dict(self, data: UnsafeDict) -> yaml.MappingNode:
        return self.represent_sorted_mapping(UNSAFE_TAG, data)

    def represent_unsafe_list(self, data: UnsafeList) -> yaml.SequenceNode:
        return self.represent_sequence(UNSAFE_TAG, data, flow_style=False)

    def ignore_aliases(self, data: Any) -> bool:
        # Every value written out in full: no `&anchor`/`*alias` even for repeated objects.
        return True


AnsibleVarsDumper.add_representer(str, AnsibleVarsDumper.represent_quoted_str)
AnsibleVarsDumper.add_representer(dict, AnsibleVarsDumper.represent_plain_dict)
AnsibleVarsDumper.add_representer(UnsafeDict, AnsibleVarsDumper.represent_unsafe_dict)
AnsibleVarsDumper.add_representer(UnsafeList, AnsibleVarsDumper.represent_unsafe_list)


def _fast_dumper() -> type[AnsibleVarsDumper]:
    """`AnsibleVarsDumper` with libyaml's emitter (same representers, same resolver, same
    output): the pure-Python emitter is ten times slower on a thousand structures."""
    try:
        from yaml._yaml import CEmitter
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        return AnsibleVarsDumper

    class FastAnsibleVarsDumper(CEmitter, AnsibleVarsDumper):
        def __init__(
            self,
            stream: Any,
            default_style: str | None = None,
            default_flow_style: bool = False,
            canonical: bool | None = None,
            indent: int | None = None,
            width: int | None = None,
            allow_unicode: bool | None = None,
            line_break: str | None = None,
            encoding: str | None = None,
            explicit_start: bool | None = None,
            explicit_end: bool | None = None,
            version: tuple[int, int] | None = None,
            tags: dict[str, str] | None = None,
            sort_keys: bool = True,
        ) -> None:
            CEmitter.__init__(
                self,
                stream,
                canonical=canonical,
                indent=indent,
                width=width,
                encoding=encoding,
                allow_unicode=allow_unicode,
                line_break=line_break,
                explicit_start=explicit_start,
                explicit_end=explicit_end,
                version=version,
                tags=tags,
            )
            yaml.representer.SafeRepresenter.__init__(
                self,
                default_style=default_style,
                default_flow_style=default_flow_style,
                sort_keys=sort_keys,
            )
            yaml.resolver.Resolver.__init__(self)

    return FastAnsibleVarsDumper


_Dumper = _fast_dumper()


def unsafe(value: Any) -> UnsafeList | UnsafeDict:
    """`value` (a list or a mapping) marked to be written `!unsafe`."""
    if isinstance(value, Mapping):
        return UnsafeDict(value)
    if isinstance(value, list | tuple):
        return UnsafeList(value)
    raise TypeError(f"only lists and mappings are written !unsafe, not {type(value).__name__}")


def dump_vars(header: str, variables: Mapping[str, Any]) -> str:
    """A vars file: `header` as comment lines, then each variable, its value tagged `!unsafe`."""
    body = yaml.dump(
        {name: unsafe(value) for name, value in variables.items()},
        Dumper=_Dumper,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
        explicit_start=True,
        line_break="\n",
    )
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + body


class _VarsLoader(yaml.SafeLoader):
    """Reads what `dump_vars` writes: `!unsafe` builds the list or mapping it tags."""


def _construct_unsafe(loader: _VarsLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_VarsLoader.add_constructor(UNSAFE_TAG, _construct_unsafe)


def load_vars(text: str) -> Any:
    """Read a vars file written by `dump_vars` (raises yaml.YAMLError when it cannot)."""
    return yaml.load(text, Loader=_VarsLoader)  # noqa: S506 - a SafeLoader subclass
