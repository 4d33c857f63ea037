"""Versions of the runtimes a release needs: whether a version satisfies a requirement, and a
runtime's version from what its `--version` prints. One reading for the control node
(`chaton artifacts add`, chaton.prepared) and the servers (the mastodon role, through the
`chaton_versions` filter plugin).

A release states the runtimes it needs as upstream's files do (the Gemfile's `ruby` line,
package.json's `engines`): {"ruby": ">= 3.2.0", "node": ">= 20"}. A requirement is one or more
clauses separated by commas (">= 18, < 24"); a clause without an operator means ">=". Versions
compare number by number, missing numbers counting as 0 (20 is 20.0.0).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<)?\s*([0-9]+(?:\.[0-9]+)*)$")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
# What `ruby --version` and `node --version` print first: "ruby 3.1.2p20 (…)", "v18.19.0".
RUNTIME_OUTPUT = {
    "ruby": re.compile(r"^ruby ([0-9]+\.[0-9]+\.[0-9]+)"),
    "node": re.compile(r"^v([0-9]+\.[0-9]+\.[0-9]+)\b"),
}


def _numbers(version: str, width: int) -> tuple[int, ...]:
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (width - len(parts)))


def satisfies(version: object, requirement: object) -> bool:
    """True when `version` ("3.3.6") meets every clause of `requirement` (">= 3.2.0, < 4");
    ValueError for what is not a version or a requirement."""
    version = str(version).strip()
    if not VERSION.match(version):
        raise ValueError(f"not a version: {version!r}")
    clauses = [clause.strip() for clause in str(requirement).split(",")]
    if not all(clauses):
        raise ValueError(f"empty requirement: {requirement!r}")
    for clause in clauses:
        found = CLAUSE.match(clause)
        if not found:
            raise ValueError(
                f"{clause!r} of {requirement!r} is not a clause such as '>= 3.2.0'"
                " (operators >=, <=, ==, !=, >, <)"
            )
        compare = _OPERATORS[found.group(1) or ">="]
        wanted = found.group(2)
        width = max(version.count("."), wanted.count(".")) + 1
        if not compare(_numbers(version, width), _numbers(wanted, width)):
            return False
    return True


def runtime_version(output: object, name: str) -> str:
    """The version in what `ruby --version` or `node --version` printed; "" when it is not
    there (another program, an error message); ValueError for an unknown runtime."""
    pattern = RUNTIME_OUTPUT.get(name)
    if pattern is None:
        raise ValueError(f"unknown runtime {name!r} ({', '.join(RUNTIME_OUTPUT)})")
    found = pattern.match(str(output).strip())
    return found.group(1) if found else ""
