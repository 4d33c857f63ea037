"""`chaton deploy`: run the site playbook on the collective's servers."""

from __future__ import annotations

import argparse
from typing import Any

from chaton.cli import add_inventory_argument, add_vault_password_argument
from chaton.deploying import deploy, print_summary
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


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check", action="store_true", help=_("show what would change, change nothing")
    )
    parser.add_argument("--limit", metavar="HOSTS", help=_("only these servers (Ansible pattern)"))
    parser.add_argument(
        "--no-accelerator",
        dest="accelerator",
        action="store_false",
        help=_("run Ansible's standard strategy instead of the Mitogen accelerator"),
    )
    parser.add_argument("--json", action="store_true", help=_("print the summary as JSON"))
    add_vault_password_argument(parser)


def _deploy(args: argparse.Namespace) -> int:
    return print_summary(deploy(args), as_json=args.json)
