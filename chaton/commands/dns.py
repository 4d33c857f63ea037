"""`chaton dns`: the DNS records each structure publishes for its list domain."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from chaton.commands.options import add_inventory_argument, add_vault_password_argument
from chaton.dns import SPF, mail_domains
from chaton.errors import BadInput
from chaton.generated import generated_dir, not_rendered
from chaton.i18n import _
from chaton.loader import load_inventory
from chaton.model import domain_to_ascii


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dns",
        help=_("print the DNS records each structure must publish for its mail"),
        description=_(
            "For each structure's list domain, print the records to publish in its DNS zone: "
            "MX (its mail goes to the server that hosts its lists), SPF ({spf}), DKIM (the "
            "public half of the key that signs its mail, kept in the vault) and DMARC. They "
            "are read from what `chaton render` wrote: run it first. Zone file syntax, or JSON "
            "with --json. Exit code 0, or 2 on bad input (not rendered, stale, unknown "
            "structure).",
            spf=SPF,
        ),
    )
    add_inventory_argument(parser)
    add_vault_password_argument(parser)
    parser.add_argument(
        "--structure",
        metavar="SLUG",
        help=_("only this structure's records"),
    )
    parser.add_argument(
        "--json", action="store_true", help=_("print the result as JSON (for scripts)")
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chaton.deploying import current_render

    root = args.inventory
    generated = generated_dir(root)
    checked = current_render(root, args.vault_password_file)
    if checked is None:
        load_inventory(root)  # what is wrong in the inventory is said before "render first"
        raise not_rendered(root)
    inventory = checked.inventory
    if args.structure is not None and args.structure not in inventory.structures:
        raise BadInput(
            _(
                "no structure {slug} in {root}: the slugs are {slugs}",
                slug=args.structure,
                root=str(root),
                slugs=", ".join(sorted(inventory.structures)),
            )
        )
    secrets = checked.secrets  # the vault, as the check that the render is current read it
    public_names = {
        server.name: domain_to_ascii(server.public_name) if server.public_name else None
        for server in inventory.collective.servers
    }
    domains = [
        domain
        for domain in mail_domains(generated, secrets, public_names)
        if args.structure is None or domain.structure == args.structure
    ]
    for server in sorted({d.server for d in domains if d.placeholder}):
        print(
            _(
                "warning: server {server} has no public_name in collective.yml: its MX records "
                "show a placeholder to replace with its public DNS name",
                server=server,
            ),
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps([asdict(domain) for domain in domains], indent=2, ensure_ascii=False))
        return 0
    if not domains:
        if args.structure is not None:
            print(_("{slug} has no mailing lists: no record to publish", slug=args.structure))
        else:
            print(_("no structure has mailing lists: no record to publish"))
        return 0
    for index, domain in enumerate(domains):
        if index:
            print()
        print(
            "; "
            + _(
                "{name} ({slug}): {domain}, lists on {server}",
                name=domain.structure_name,
                slug=domain.structure,
                domain=domain.domain,
                server=domain.server,
            )
        )
        for record in domain.records:
            print(record.zone_line())
        print(
            "; "
            + _(
                "and {domain}'s A/AAAA records: the addresses of {server} (the lists' web pages)",
                domain=domain.domain,
                server=public_names[domain.server] or domain.server,
            )
        )
    return 0
