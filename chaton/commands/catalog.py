"""`chaton catalog`: the offers catalogue, each unit's yearly price per tier, as an HTML page."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from chaton.commands.options import add_inventory_argument
from chaton.costs.model import Period
from chaton.costs.sheets import catalog_html, report_for_inventory
from chaton.errors import BadInput, ExitCode
from chaton.i18n import SUPPORTED, _, current_language


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "catalog",
        help=_("write the offers catalogue with each tier's prices"),
        description=_(
            "Write the offers catalogue as an HTML page the hosting association can publish: "
            "each offer's yearly unit price (an instance, an account, a GB, a list, a site, the "
            "membership) for each tier, derived from the collective's real costs with the same "
            "rules as `chaton costs`. See docs/costs.md."
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/catalog.html"),
        help=_("the page to write (default: %(default)s)"),
    )
    parser.add_argument(
        "--year",
        type=int,
        help=_("the calendar year whose costs set the prices (default: the current year)"),
    )
    parser.add_argument(
        "--lang",
        choices=SUPPORTED,
        help=_("the language of the page (default: the command line's)"),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    year = args.year if args.year is not None else date.today().year
    if not 1900 <= year <= 9998:
        raise BadInput(_("{value} is not a year", value=year))
    report, structures = report_for_inventory(args.inventory, Period.year(year))
    page = catalog_html(report, structures, args.lang or current_language())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(_("wrote {path}", path=str(args.out)))
    return int(ExitCode.OK)
