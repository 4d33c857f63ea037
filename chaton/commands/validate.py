"""`chaton validate`: check the collective and every structure, report every error at once."""

from __future__ import annotations

import argparse
import sys

from chaton.commands.options import add_inventory_argument
from chaton.errors import ExitCode
from chaton.i18n import _, n_
from chaton.loader import check_inventory, errors_as_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help=_("check the collective and its structures"),
        description=_(
            "Check collective.yml and every structures/*.yml of an inventory: the fields, their "
            "types and formats (identifiers, domains, emails), and what ties the files together "
            "(unique slugs and domains, tiers, offers and servers that exist, sizes within the "
            "offers' limits). Every error is printed as file:line:column: field: message. "
            "Exit code 0 when valid, 2 when not."
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help=_("print the result as JSON (for scripts)"),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = check_inventory(args.inventory)
    if args.json:
        print(errors_as_json(result))
    elif result.valid and result.collective is not None:
        print(
            _(
                "{root}: {structures}, {servers}: valid",
                root=str(args.inventory),
                structures=n_("{count} structure", "{count} structures", len(result.structures)),
                servers=n_("{count} server", "{count} servers", len(result.collective.servers)),
            )
        )
    else:
        for error in result.errors:
            print(error)
        print(
            n_(
                "{count} error: the inventory is not valid",
                "{count} errors: the inventory is not valid",
                len(result.errors),
            ),
            file=sys.stderr,
        )
    return int(ExitCode.OK if result.valid else ExitCode.BAD_INPUT)
