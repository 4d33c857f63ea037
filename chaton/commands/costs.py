"""`chaton costs`: the cost sheets of a period, one per structure and a collective summary."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from chaton.commands.options import add_inventory_argument
from chaton.commands.output import print_written
from chaton.costs.formatting import euros, thousandths
from chaton.costs.model import CostReport, Period
from chaton.costs.sheets import FORMATS, report_for_inventory, write_sheets
from chaton.errors import BadInput, ExitCode
from chaton.i18n import SUPPORTED, _, current_language


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "costs",
        help=_("write the cost sheets of a period"),
        description=_(
            "Compute what the collective costs over a period (a year by default) and each "
            "structure's fair share of it: servers (purchase over their lifetime, hosting, "
            "energy), recurring costs, people's time (volunteer time valued, not billed), shared "
            "by the keys of collective.yml, in cents by largest remainder; then what each tier "
            "pays, the solidarity balance, energy and carbon. Writes one sheet per structure and "
            "a summary, as ODS (with formulas), CSV, HTML and PDF. See docs/costs.md. Exit code "
            "0 when written, 1 when the instances do not fit on the servers, 2 on bad input."
        ),
    )
    add_inventory_argument(parser)
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--year",
        type=int,
        help=_("the calendar year (default: the current year)"),
    )
    when.add_argument(
        "--period-start",
        type=_date,
        metavar="YYYY-MM-DD",
        help=_("the first day of the period (YYYY-MM-DD or YYYY-MM)"),
    )
    parser.add_argument(
        "--months",
        type=int,
        default=12,
        help=_("how many months the period lasts (default: %(default)s)"),
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=_("the folder to write the sheets into (default: runs/costs/<period>)"),
    )
    parser.add_argument(
        "--format",
        default=",".join(FORMATS),
        help=_("the formats, separated by commas (default: %(default)s)"),
    )
    parser.add_argument(
        "--lang",
        choices=SUPPORTED,
        help=_("the language of the sheets (default: the command line's)"),
    )
    parser.add_argument(
        "--json", action="store_true", help=_("print the result as JSON (for scripts)")
    )
    parser.set_defaults(func=run)


def _date(text: str) -> date:
    try:
        if len(text) == 7:
            return date.fromisoformat(text + "-01")
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{value} is not a date like 2025-01-01", value=text)
        ) from None


def period_from(args: argparse.Namespace) -> Period:
    if not 1 <= args.months <= 120:
        raise BadInput(_("--months must be between 1 and 120"))
    if args.period_start is not None:
        return Period(args.period_start, args.months)
    year = args.year if args.year is not None else date.today().year
    if not 1900 <= year <= 9998:
        raise BadInput(_("{value} is not a year", value=year))
    return Period(date(year, 1, 1), args.months)


def formats_from(text: str) -> list[str]:
    chosen = [item.strip().lower() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in FORMATS]
    if unknown or not chosen:
        raise BadInput(
            _(
                "unknown format {value}; the formats are: {known}",
                value=", ".join(unknown) or repr(text),
                known=", ".join(FORMATS),
            )
        )
    return chosen


def report_as_dict(report: CostReport, files: list[Path]) -> dict[str, Any]:
    return {
        "period": {
            "start": report.period.start.isoformat(),
            "last_day": report.period.last_day.isoformat(),
            "months": report.period.months,
            "hours": report.period.hours,
        },
        "currency": report.collective.currency,
        "total_cost": euros(report.total_cost),
        "volunteer_value": euros(report.volunteer_value),
        "fair_total": euros(report.fair_total),
        "carried": euros(report.carried),
        "billed_total": euros(report.billed_total),
        "waived_total": euros(report.waived_total),
        "contributions_total": euros(report.contributions_total),
        "solidarity_balance": euros(report.solidarity_balance),
        "funding_total": euros(report.funding_total),
        "remaining": euros(report.remaining),
        "energy_kwh": thousandths(report.energy_wh),
        "carbon_kgco2e": thousandths(report.carbon_g),
        "pools": [
            {
                "id": pool.id,
                "category": pool.category,
                "unit": pool.unit,
                "amount": pool.amount,
                "key": pool.key,
                "basis": pool.basis,
                "volunteer": pool.volunteer,
                "shares": dict(zip([*report.parties, "association"], pool.shares, strict=True)),
            }
            for pool in report.pools
        ],
        "structures": [
            {
                "slug": item.slug,
                "name": item.name,
                "tier": item.tier,
                "status": item.status,
                "fair_share": euros(item.fair_share),
                "paid": euros(item.paid),
                "contribution": euros(item.contribution),
                "billed": euros(item.billed),
                "waived": euros(item.waived),
                "volunteer_value": euros(item.volunteer_value),
                "energy_kwh": thousandths(item.energy_wh),
                "carbon_kgco2e": thousandths(item.carbon_g),
            }
            for item in report.structures
        ],
        "files": [str(path) for path in files],
    }


def run(args: argparse.Namespace) -> int:
    period = period_from(args)
    formats = formats_from(args.format)
    lang = args.lang or current_language()
    report, _structures = report_for_inventory(args.inventory, period)
    out = args.out if args.out is not None else Path("runs") / "costs" / period.label
    files = write_sheets(report, out, formats, lang)
    if args.json:
        print(json.dumps(report_as_dict(report, files), ensure_ascii=False, indent=2))
        return int(ExitCode.OK)
    print_written(report, files, out)
    return int(ExitCode.OK)
