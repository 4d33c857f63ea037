"""Versions of the runtimes a release needs: whether a version satisfies a requirement, and a
runtime's version from what its `--version` prints. One reading for the control node
(`chaton artifacts add`, chaton.prepared) and the servers (the mastodon role, through the
`chaton_versions` filter plugin).

A release states the runtimes it needs as upstream's files do (the Gemfile's `ruby` line,
package.json's `engines`): {"ruby": ">= 3.2.0", "node": ">= 20"}. A requirement is one or more
clauses separated by commas (">= 18, < 24"); a clause without an operator means ">=". Versions
compare number by number, missing numbers counting as 0 (20 is 20.0.0).

The comparison is `packaging`'s (PEP 440 `Version` and `SpecifierSet`), on a deliberately small
part of what it reads: versions are ASCII digits and dots only (a runtime's release, never
"3.4.0rc1", "v3.3.6" or "3.3.6+deb12", which `Version` would take), and a clause is one of the
six operators >=, <=, ==, !=, >, < and such a version (never "~=", "===" or "==3.*"). Each clause
is rewritten into a PEP 440 specifier before `SpecifierSet` reads it ("20" -> ">=20",
">= 3.2.0" -> ">=3.2.0"), so the upstream spellings mean what they meant: on release numbers,
PEP 440 pads the shorter version with zeros, also for == and != ("== 20" holds for 20.0.0).
"""

from __future__ import annotations

import re

from packaging.specifiers import SpecifierSet
from packaging.version import Version

VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<)?\s*([0-9]+(?:\.[0-9]+)*)$")
# What `ruby --version` and `node --version` print first: "ruby 3.1.2p20 (…)", "v18.19.0".
RUNTIME_OUTPUT = {
    "ruby": re.compile(r"^ruby ([0-9]+\.[0-9]+\.[0-9]+)"),
    "node": re.compile(r"^v([0-9]+\.[0-9]+\.[0-9]+)\b"),
}


def specifiers(requirement: object) -> SpecifierSet:
    """The PEP 440 form of `requirement` (">= 18, < 24" -> SpecifierSet("<24,>=18"), "20" ->
    SpecifierSet(">=20")); ValueError for what is not a requirement chaton reads."""
    clauses = [clause.strip() for clause in str(requirement).split(",")]
    if not all(clauses):
        raise ValueError(f"empty requirement: {requirement!r}")
    found = []
    for clause in clauses:
        match = CLAUSE.match(clause)
        if not match:
            raise ValueError(
                f"{clause!r} of {requirement!r} is not a clause such as '>= 3.2.0'"
                " (operators >=, <=, ==, !=, >, <)"
            )
        found.append(f"{match.group(1) or '>='}{match.group(2)}")
    return SpecifierSet(",".join(found))


def satisfies(version: object, requirement: object) -> bool:
    """True when `version` ("3.3.6") meets every clause of `requirement` (">= 3.2.0, < 4");
    ValueError for what is not a version or a requirement."""
    version = str(version).strip()
    if not VERSION.match(version):
        raise ValueError(f"not a version: {version!r}")
    return specifiers(requirement).contains(Version(version))


def runtime_version(output: object, name: str) -> str:
    """The version in what `ruby --version` or `node --version` printed; "" when it is not
    there (another program, an error message); ValueError for an unknown runtime."""
    pattern = RUNTIME_OUTPUT.get(name)
    if pattern is None:
        raise ValueError(f"unknown runtime {name!r} ({', '.join(RUNTIME_OUTPUT)})")
    found = pattern.match(str(output).strip())
    return found.group(1) if found else ""
