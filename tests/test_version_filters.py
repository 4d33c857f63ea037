"""The `chaton_version_satisfies` and `chaton_runtime_version` filters (plugins/filter), which the
mastodon role uses to check a release's runtimes against what its manifest says it needs, and
`chaton.versions`, which both the filters and the control node (`chaton artifacts add`) use."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from support import filter_plugin

from chaton import versions

satisfies = filter_plugin("chaton_versions", "chaton_version_satisfies")
runtime_version = filter_plugin("chaton_versions", "chaton_runtime_version")


@pytest.mark.parametrize(
    ("version", "requirement", "expected"),
    [
        # Upstream's notes: Mastodon 4.3 needs Ruby 3.1 and Node.js 18 or newer.
        ("3.1.2", ">= 3.1.0", True),
        ("18.19.0", ">= 18", True),
        # 4.4 needs Ruby 3.2 and Node.js 20: Debian 12's 3.1.2 and 18.19.0 do not do.
        ("3.1.2", ">= 3.2.0", False),
        ("18.19.0", ">= 20", False),
        ("3.3.6", ">= 3.2.0", True),
        ("22.11.0", ">= 20", True),
        # Missing numbers count as 0: 20 is 20.0.0; a clause without operator means >=.
        ("20", ">= 20.0.0", True),
        ("20.0.0", "== 20", True),
        ("3.2.0", "3.2", True),
        ("3.1.9", "3.2", False),
        # Numbers compare as numbers, not as text.
        ("3.10.0", ">= 3.9", True),
        ("3.9.0", "< 3.10", True),
        # Every clause must hold.
        ("22.11.0", ">= 18, < 24", True),
        ("24.0.0", ">= 18, < 24", False),
        ("17.9.1", ">= 18, < 24", False),
        ("3.3.0", "> 3.2.9, != 3.3.0", False),
        ("3.3.1", "> 3.2.9, != 3.3.0", True),
        ("3.2.9", "<= 3.2.9", True),
        ("3.2.9", "> 3.2.9", False),
    ],
)
def test_a_version_meets_every_clause_of_a_requirement(version, requirement, expected):
    assert satisfies(version, requirement) is expected
    # `chaton artifacts add` checks a bundled runtime on the control node as the role does.
    assert versions.satisfies(version, requirement) is expected


@pytest.mark.parametrize(
    ("version", "requirement", "message"),
    [
        ("3.3.6", "~> 3.2", "'~> 3.2' of '~> 3.2' is not a clause"),
        ("3.3.6", ">= 3.2,", "empty requirement"),
        ("3.3.6", "", "empty requirement"),
        ("3.3.6", ">= three", "is not a clause"),
        ("3.3.6p20", ">= 3.2", "not a version: '3.3.6p20'"),
        ("", ">= 3.2", "not a version: ''"),
    ],
)
def test_a_malformed_requirement_or_version_is_an_error_not_a_no(version, requirement, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(")):
        satisfies(version, requirement)


@pytest.mark.parametrize(
    ("output", "name", "expected"),
    [
        # Debian 12's packages print these (ruby 3.1.2, nodejs 18.19.0).
        ("ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]\n", "ruby", "3.1.2"),
        ("v18.19.0\n", "node", "18.19.0"),
        ("ruby 3.3.6 (2024-11-05 revision 75015d4c1f) [x86_64-linux]", "ruby", "3.3.6"),
        ("v22.11.0", "node", "22.11.0"),
        # Not a runtime's answer: no version.
        ("sh: 1: ruby: not found", "ruby", ""),
        ("v18.19.0", "ruby", ""),
        ("ruby 3.1.2p20", "node", ""),
        ("", "node", ""),
    ],
)
def test_the_version_is_read_from_what_the_runtime_printed(output, name, expected):
    assert runtime_version(output, name) == expected


def test_an_unknown_runtime_is_an_error():
    with pytest.raises(AnsibleFilterError, match="unknown runtime 'python' \\(ruby, node\\)"):
        runtime_version("Python 3.11.2", "python")
