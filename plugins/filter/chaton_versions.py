"""Version filters for the mastodon role: whether a version satisfies a requirement, and a
runtime's version from what its `--version` prints. The reading is chaton.versions', the one
`chaton artifacts add` uses on the control node (this plugin runs there too, in the project's
virtualenv).

    {{ '3.3.6' | chaton_version_satisfies('>= 3.2.0') }}           -> True
    {{ 'ruby 3.1.2p20 (2022-04-12) [x86_64-linux]' | chaton_runtime_version('ruby') }} -> '3.1.2'
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from chaton import versions


def chaton_version_satisfies(version: Any, requirement: Any) -> bool:
    """True when `version` ("3.3.6") meets every clause of `requirement` (">= 3.2.0, < 4")."""
    try:
        return versions.satisfies(version, requirement)
    except ValueError as error:
        raise AnsibleFilterError(f"chaton_version_satisfies: {error}") from None


def chaton_runtime_version(output: Any, name: str) -> str:
    """The version in what `ruby --version` or `node --version` printed; "" when it is not
    there (another program, an error message)."""
    try:
        return versions.runtime_version(output, name)
    except ValueError as error:
        raise AnsibleFilterError(f"chaton_runtime_version: {error}") from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "chaton_version_satisfies": chaton_version_satisfies,
            "chaton_runtime_version": chaton_runtime_version,
        }
