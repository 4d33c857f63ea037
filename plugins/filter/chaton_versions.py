"""Version filters: whether a version satisfies a requirement, and a runtime's version from what
its `--version` prints.

A release's manifest states the runtimes it needs as upstream's release notes and files do
(`.ruby-version`, `package.json`'s `engines`): `{"ruby": ">= 3.2.0", "node": ">= 20"}`. A
requirement is one or more clauses separated by commas (">= 18, < 24"); a clause without an
operator means ">=". Versions compare number by number, missing numbers counting as 0 (20 is
20.0.0).

    {{ '3.3.6' | chaton_version_satisfies('>= 3.2.0') }}           -> True
    {{ 'ruby 3.1.2p20 (2022-04-12) [x86_64-linux]' | chaton_runtime_version('ruby') }} -> '3.1.2'
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<)?\s*([0-9]+(?:\.[0-9]+)*)$")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
# What `ruby --version` and `node --version` print first: "ruby 3.1.2p20 (…)", "v18.19.0".
_RUNTIME_OUTPUT = {
    "ruby": re.compile(r"^ruby ([0-9]+\.[0-9]+\.[0-9]+)"),
    "node": re.compile(r"^v([0-9]+\.[0-9]+\.[0-9]+)\b"),
}


def _numbers(version: str, width: int) -> tuple[int, ...]:
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (width - len(parts)))


def chaton_version_satisfies(version: Any, requirement: Any) -> bool:
    """True when `version` ("3.3.6") meets every clause of `requirement` (">= 3.2.0, < 4")."""
    version = str(version).strip()
    if not _VERSION.match(version):
        raise AnsibleFilterError(f"chaton_version_satisfies: not a version: {version!r}")
    clauses = [clause.strip() for clause in str(requirement).split(",")]
    if not clauses or not all(clauses):
        raise AnsibleFilterError(f"chaton_version_satisfies: empty requirement: {requirement!r}")
    for clause in clauses:
        found = _CLAUSE.match(clause)
        if not found:
            raise AnsibleFilterError(
                f"chaton_version_satisfies: {clause!r} of {requirement!r} is not a clause such"
                " as '>= 3.2.0' (operators >=, <=, ==, !=, >, <)"
            )
        compare = _OPERATORS[found.group(1) or ">="]
        wanted = found.group(2)
        width = max(version.count("."), wanted.count(".")) + 1
        if not compare(_numbers(version, width), _numbers(wanted, width)):
            return False
    return True


def chaton_runtime_version(output: Any, name: str) -> str:
    """The version in what `ruby --version` or `node --version` printed; "" when it is not
    there (another program, an error message)."""
    pattern = _RUNTIME_OUTPUT.get(name)
    if pattern is None:
        known = ", ".join(_RUNTIME_OUTPUT)
        raise AnsibleFilterError(f"chaton_runtime_version: unknown runtime {name!r} ({known})")
    found = pattern.match(str(output).strip())
    return found.group(1) if found else ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "chaton_version_satisfies": chaton_version_satisfies,
            "chaton_runtime_version": chaton_runtime_version,
        }
