"""`chaton deploy`: run the site playbook on the collective's servers."""

from __future__ import annotations

import argparse
from typing import Any

from chaton.commands.options import add_inventory_argument, add_run_options
from chaton.commands.output import print_summary
from chaton.deploying import deploy, read_rendered
from chaton.i18n import _


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help=_("deploy the services on the collective's servers"),
        description=_("Run the site playbook through ansible-runner and summarise what changed."),
    )
    add_inventory_argument(parser)
    parser.add_argument(
        "--structure",
        metavar="SLUG",
        help=_(
            "deploy only what this structure needs: its instances and the shared ones it uses, "
            "on the servers where they are (the other structures' pieces are not touched)"
        ),
    )
    add_run_options(parser)
    parser.set_defaults(func=_deploy)


def _deploy(args: argparse.Namespace) -> int:
    collective = read_rendered(args.inventory, args.vault_password_file)
    result = deploy(
        collective,
        structure=args.structure,
        limit=args.limit,
        check=args.check,
        accelerator=args.accelerator,
    )
    return print_summary(result, as_json=args.json)
