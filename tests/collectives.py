"""Small collectives for the tests that run the CLI end to end on test hosts: the example's
collective and settings, its server renamed, with structures and hosts of the test's own."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from support import ROOT

CHATON = ROOT / ".venv" / "bin" / "chaton"
EXAMPLE = ROOT / "inventories" / "example"
COMMAND_TIMEOUT = 3000


def collective(
    folder: Path,
    server: str,
    hosts: Mapping[str, Any],
    structures: Mapping[str, str],
    group_vars: Mapping[str, Any] | None = None,
) -> Path:
    """`folder`/collective: the example's collective.yml with its server renamed `server` (its
    facts are cached under its name, not the demo's), the example's group_vars (and
    `group_vars`, written to group_vars/all.yml), `hosts` as hosts.yml, and {slug: text}
    structure files."""
    root = folder / "collective"
    (root / "structures").mkdir(parents=True)
    (root / "group_vars").mkdir()
    text = (EXAMPLE / "collective.yml").read_text(encoding="utf-8")
    (root / "collective.yml").write_text(text.replace("fabrique-1", server), encoding="utf-8")
    for path in (EXAMPLE / "group_vars").glob("*.yml"):
        (root / "group_vars" / path.name).write_text(path.read_text(encoding="utf-8"))
    if group_vars:
        (root / "group_vars" / "all.yml").write_text(yaml.safe_dump(dict(group_vars)))
    write_hosts(root, hosts)
    for slug, body in structures.items():
        add_structure(root, slug, body)
    return root


def container_server(container: str, folder: Path) -> dict[str, Any]:
    """The host variables of a server run as local container `container`: reached through
    podman, certificates from a CA of the test's own (in `folder`/ca)."""
    return {
        "ansible_host": container,
        "ansible_connection": "podman",
        "acme_mode": "local",
        "acme_local_ca_dir": str(folder / "ca"),
        # A podman container cannot give Redis's units their own user namespace.
        "redis_private_users_enabled": False,
    }


def write_hosts(root: Path, hosts: Mapping[str, Any]) -> None:
    (root / "hosts.yml").write_text(yaml.safe_dump(dict(hosts)), encoding="utf-8")


def add_structure(root: Path, slug: str, body: str) -> None:
    (root / "structures" / f"{slug}.yml").write_text(body, encoding="utf-8")


def chaton(
    *args: str,
    password: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, in English."""
    vault = ["--vault-password-file", str(password)] if password else []
    return subprocess.run(
        [str(CHATON), *args, *vault],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "LANG": "C.UTF-8", **(env or {})},
    )
