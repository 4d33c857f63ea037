"""The `chaton_version_satisfies` and `chaton_runtime_version` filters (plugins/filter), which the
mastodon role uses to check a release's runtimes against what its manifest says it needs, and
`chaton.versions`, which both the filters and the control node (`chaton artifacts add`) use."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from packaging.specifiers import SpecifierSet
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


# The comparison is packaging's: each upstream clause is rewritten into a PEP 440 specifier first,
# since `SpecifierSet` has no bare-version clause ("20" means ">= 20" upstream) and chaton does not
# rely on it reading a space after the operator.
@pytest.mark.parametrize(
    ("requirement", "pep440"),
    [
        ("20", ">=20"),
        (">= 3.2.0", ">=3.2.0"),
        (">=3.2.0", ">=3.2.0"),
        (">=   3.2.0", ">=3.2.0"),
        (" >= 18 ,  < 24 ", ">=18,<24"),
        ("18, != 19.1", ">=18,!=19.1"),
        ("== 20", "==20"),
    ],
)
def test_a_requirement_becomes_a_pep_440_specifier_set(requirement, pep440):
    assert versions.specifiers(requirement) == SpecifierSet(pep440)


@pytest.mark.parametrize(
    ("version", "requirement", "expected"),
    [
        ("20.0.0", "20", True),
        ("19.9.9", "20", False),
        ("3.2.0", ">=   3.2", True),
        # PEP 440 pads the shorter release with zeros for == and != as well.
        ("20.0.0", "!= 20", False),
        ("20.0.1", "== 20", False),
        ("3.2.0.0", "== 3.2", True),
    ],
)
def test_the_upstream_spellings_keep_their_meaning(version, requirement, expected):
    assert versions.satisfies(version, requirement) is expected


@pytest.mark.parametrize(
    ("version", "requirement", "message"),
    [
        # PEP 440 reads these; chaton's requirements do not (the role and the manifests use the
        # six operators and digits-and-dots versions only).
        ("3.3.6", "~= 3.2", "is not a clause"),
        ("3.3.6", "=== 3.2", "is not a clause"),
        ("3.3.6", "== 3.*", "is not a clause"),
        ("3.3.6", ">= 3.2rc1", "is not a clause"),
        ("3.3.6", ">= 3.2 || < 2", "is not a clause"),
        # PEP 440 versions that are no runtime's release number.
        ("3.4.0rc1", ">= 3.2", "not a version: '3.4.0rc1'"),
        ("v3.3.6", ">= 3.2", "not a version: 'v3.3.6'"),
        ("3.3.6+deb12", ">= 3.2", "not a version: '3.3.6+deb12'"),
        ("3.3.6.post1", ">= 3.2", "not a version: '3.3.6.post1'"),
    ],
)
def test_what_pep_440_reads_beyond_chatons_syntax_stays_an_error(version, requirement, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        versions.satisfies(version, requirement)
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
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
