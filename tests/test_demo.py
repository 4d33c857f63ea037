"""Which hosts of an inventory the demo runs as local containers."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import ROOT

from chaton.commands.demo import container_hosts
from chaton.errors import BadInput


def test_example_server_is_the_demo_container() -> None:
    hosts = container_hosts(ROOT / "inventories" / "example" / "hosts.yml")
    assert hosts == {"fabrique-1": "chaton-demo-fabrique-1"}


def test_nested_groups_and_ssh_hosts(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n"
        "  children:\n"
        "    web:\n"
        "      children:\n"
        "        front:\n"
        "          hosts:\n"
        "            a: {ansible_connection: containers.podman.podman}\n"
        "            b: {ansible_host: 192.0.2.7}\n"
        "    lists:\n"
        "      hosts:\n"
        "        c: {ansible_connection: podman, ansible_host: demo-c}\n"
    )
    assert container_hosts(path) == {"a": "a", "c": "demo-c"}


def test_no_container_host_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    a: {ansible_host: 192.0.2.7}\n")
    with pytest.raises(BadInput, match="no host is reached through podman"):
        container_hosts(path)
