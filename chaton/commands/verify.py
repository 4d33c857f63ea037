"""`chaton verify`: check the deployed collective from the outside, as a visitor would."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chaton.commands.options import add_inventory_argument
from chaton.commands.output import print_checks
from chaton.generated import generated_dir, not_rendered
from chaton.i18n import _, n_
from chaton.render import HOST_VARS
from chaton.servers import inventory_file, server_addresses, server_shells
from chaton.verify import MIN_CERT_DAYS, check_collective


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


def run(args: argparse.Namespace) -> int:
    generated = generated_dir(args.inventory)
    if not (generated / HOST_VARS).is_dir():
        raise not_rendered(args.inventory)
    # The servers chaton rendered: the inventory's other hosts (a backup host) serve no site.
    servers = {path.stem for path in (generated / HOST_VARS).glob("*.yml")}
    addresses = server_addresses(inventory_file(args.inventory), servers)
    shells = None if args.no_units else server_shells(inventory_file(args.inventory), servers)
    checks = check_collective(generated, addresses, args.ca_file, shells)
    if args.json:
        print(json.dumps([asdict(c) | {"ok": c.ok} for c in checks], indent=2))
    else:
        print_checks(checks)
        failed = sum(not c.ok for c in checks)
        print(
            n_(
                "{checked} checked, {failed} failed",
                "{checked} checked, {failed} failed",
                len(checks),
                checked=len(checks),
                failed=failed,
            )
        )
    return 0 if all(c.ok for c in checks) else 1
