"""`chaton verify`: check the deployed collective from the outside, as a visitor would."""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Collection
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chaton import containers
from chaton.cli import add_inventory_argument
from chaton.deploying import inventory_file, inventory_hosts, is_container
from chaton.errors import BadInput
from chaton.generated import generated_dir
from chaton.i18n import _
from chaton.render import HOST_VARS
from chaton.verify import MIN_CERT_DAYS, SERVER_UNITS, Address, Check, Shell, check_collective


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help=_("check the deployed services from the outside"),
        description=_(
            "For every server of the inventory, check that the systemd units of each "
            "structure's services are active (through podman exec for a local container, ssh "
            "otherwise), then each website, Nextcloud, lists page and Mastodon over HTTPS on "
            "the server's address: status 200, a certificate valid for its name for more than "
            "{days} days, content of its own (a website names its structure, a Nextcloud is "
            "installed and out of maintenance, Postorius shows the domain's lists, a Mastodon's "
            "API names its domain and its streaming server answers). Servers run as local "
            "containers are reached on the port they publish on 127.0.0.1. Exit code 0 when "
            "all pass, 1 when one fails, 2 when the inventory is not rendered.",
            days=MIN_CERT_DAYS,
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument(
        "--ca-file",
        type=Path,
        help=_("trust this CA's certificate (the demo's: .demo/ca/ca.pem) instead of the system's"),
    )
    parser.add_argument(
        "--json", action="store_true", help=_("print the result as JSON (for scripts)")
    )
    parser.add_argument(
        "--no-units",
        action="store_true",
        help=_("do not log in to the servers to check their systemd units (HTTPS checks only)"),
    )
    parser.set_defaults(func=run)


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


def print_table(checks: list[Check]) -> None:
    for check in checks:
        result = _("ok") if check.ok else _("FAILED: {problem}", problem=check.problem)
        days = "    -" if check.certificate_days is None else f"{check.certificate_days:>4}d"
        structure = _(SERVER_UNITS) if check.structure == SERVER_UNITS else check.structure
        print(
            f"{check.server:<12} {structure:<18} {check.name:<36} "
            f"{check.status or '-':<4} {days}  {result}"
        )
        if check.release:
            print(f"{'':<12} {'':<18} {_('release: {release}', release=check.release)}")


def run(args: argparse.Namespace) -> int:
    generated = generated_dir(args.inventory)
    if not (generated / HOST_VARS).is_dir():
        raise BadInput(
            _("{path}: not rendered yet: run `chaton render` first", path=str(generated))
        )
    # The servers chaton rendered: the inventory's other hosts (a backup host) serve no site.
    servers = {path.stem for path in (generated / HOST_VARS).glob("*.yml")}
    addresses = server_addresses(inventory_file(args.inventory), servers)
    shells = None if args.no_units else server_shells(inventory_file(args.inventory), servers)
    checks = check_collective(generated, addresses, args.ca_file, shells)
    if args.json:
        print(json.dumps([asdict(c) | {"ok": c.ok} for c in checks], indent=2))
    else:
        print_table(checks)
        failed = sum(not c.ok for c in checks)
        print(
            _(
                "{checked} checked, {failed} failed",
                checked=len(checks),
                failed=failed,
            )
        )
    return 0 if all(c.ok for c in checks) else 1
