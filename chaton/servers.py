"""The servers of a hand-written inventory (`hosts.yml`) and how to reach them: where their
HTTPS answers, how a command runs on them (podman exec for a local container, ssh otherwise)."""

from __future__ import annotations

import shlex
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from chaton import containers
from chaton.errors import BadInput
from chaton.i18n import _
from chaton.verify import Address, Shell


def inventory_file(inventory: Path) -> Path:
    hosts = inventory / "hosts.yml"
    if not hosts.is_file():
        raise BadInput(_("{path}: no such inventory file", path=hosts))
    return hosts


def inventory_hosts(hosts_file: Path) -> dict[str, dict[str, Any]]:
    """{host name: its variables} for every host of a hand-written inventory (any group depth)."""
    data = yaml.safe_load(hosts_file.read_text(encoding="utf-8")) or {}
    found: dict[str, dict[str, Any]] = {}

    def walk(group: dict[str, Any]) -> None:
        for name, hostvars in (group.get("hosts") or {}).items():
            found[name] = hostvars or {}
        for child in (group.get("children") or {}).values():
            walk(child or {})

    for group in data.values():
        walk(group or {})
    return found


def is_container(hostvars: dict[str, Any]) -> bool:
    """Whether Ansible reaches the host through podman (a local container)."""
    return str(hostvars.get("ansible_connection", "")).endswith("podman")


def server_addresses(hosts_file: Path, only: Collection[str] | None = None) -> dict[str, Address]:
    """{server: where its HTTPS answers}: the published port of a podman host, else the host's
    ansible_host (or its name) on 443. `only`: these hosts (the servers; not a backup host)."""
    found: dict[str, Address] = {}
    for name, hostvars in _hosts(hosts_file, only).items():
        target = str(hostvars.get("ansible_host", name))
        if not is_container(hostvars):
            found[name] = Address(target)
            continue
        port = containers.published_port(target, 443)
        if port is None:
            raise BadInput(
                _(
                    "{name}: its container {container} publishes no HTTPS port on "
                    "127.0.0.1 (is the demo running?)",
                    name=name,
                    container=target,
                )
            )
        found[name] = Address("127.0.0.1", port)
    return found


def _hosts(hosts_file: Path, only: Collection[str] | None) -> dict[str, dict[str, Any]]:
    hosts = inventory_hosts(hosts_file)
    return hosts if only is None else {name: v for name, v in hosts.items() if name in only}


def server_shells(hosts_file: Path, only: Collection[str] | None = None) -> dict[str, Shell]:
    """{server: how a command runs on it}: `podman exec` for a podman host, else ssh with the
    host's ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file and
    ansible_ssh_common_args (never a password: BatchMode)."""
    shells: dict[str, Shell] = {}
    for name, hostvars in _hosts(hosts_file, only).items():
        target = str(hostvars.get("ansible_host", name))
        if is_container(hostvars):
            conf = containers.podman_env()["CONTAINERS_CONF"]
            shells[name] = Shell(("podman", "exec", target), extra_env=(("CONTAINERS_CONF", conf),))
            continue
        command = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        for variable, option in (
            ("ansible_port", "-p"),
            ("ansible_user", "-l"),
            ("ansible_ssh_private_key_file", "-i"),
        ):
            if hostvars.get(variable) is not None:
                command += [option, str(hostvars[variable])]
        command += shlex.split(str(hostvars.get("ansible_ssh_common_args", "")))
        shells[name] = Shell((*command, "--", target), ssh=True)
    return shells
