"""The cost sheets as CSV, for any tool: comma-separated, UTF-8, numbers with a dot.

- `summary.csv`: one row per structure (then the hosting association's part, then the total);
- `pools.csv`: each pool, its key, its amount and the association's part;
- `<slug>.csv`: one structure's share of each pool, then what it pays.

Text that comes from the inventory (a structure's name, a pool's or a funding's label) could
start like a formula: a spreadsheet opening the CSV would compute it (LibreOffice does: `=1+1`
shows 2, `=HYPERLINK(…)` a link). Every cell that starts with a character that opens a formula and
is not one of the sheet's own numbers is written with a leading apostrophe, as OWASP's "CSV
injection" advice says: the cell is then text, shown as written with that apostrophe.
"""

from __future__ import annotations

import csv
import io
import re

from chaton.costs.formatting import euros, thousandths
from chaton.costs.labels import key_label, pool_label
from chaton.costs.model import COST_CATEGORIES, CostReport, Pool


def _amount(pool: Pool, value: int) -> str:
    return euros(value) if pool.unit == "cents" else thousandths(value)


def _unit(pool: Pool) -> str:
    return {"cents": "EUR", "Wh": "kWh", "g": "kgCO2e"}[pool.unit]


# What opens a formula at the start of a cell (OWASP's list: = + - @ TAB CR), and the same
# signs in their full-width forms, which some spreadsheets read the same way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# The sheets' own numbers (euros, thousandths, weights): a leading minus is theirs.
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def neutral(cell: str) -> str:
    """`cell` as a spreadsheet will show it and never compute it."""
    if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([[neutral(c) for c in row] for row in rows])
    return buffer.getvalue()


def summary_csv(report: CostReport, t: dict[str, str]) -> str:
    header = [
        t["slug"],
        t["name"],
        t["tier"],
        t["status"],
        *(t["cat_" + category] for category in COST_CATEGORIES),
        t["fair_share"],
        t["paid"],
        t["contribution"],
        t["billed"],
        t["waived"],
        t["volunteer_value"],
        t["energy_kwh"],
        t["carbon_kg"],
    ]
    rows = [header]
    for item in report.structures:
        rows.append(
            [
                item.slug,
                item.name,
                item.tier,
                item.status,
                *(euros(item.by_category[category]) for category in COST_CATEGORIES),
                euros(item.fair_share),
                euros(item.paid),
                euros(item.contribution),
                euros(item.billed),
                euros(item.waived),
                euros(item.volunteer_value),
                thousandths(item.energy_wh),
                thousandths(item.carbon_g),
            ]
        )
    association = len(report.parties)
    rows.append(
        [
            "",
            t["carried_row"],
            "",
            "",
            *(euros(report.total(category, association)) for category in COST_CATEGORIES),
            euros(report.carried),
            "",
            "",
            "",
            "",
            euros(sum(p.shares[association] for p in report.pools if p.volunteer)),
            thousandths(report.total("energy_wh", association)),
            thousandths(
                report.total("carbon_grid_g", association)
                + report.total("carbon_embodied_g", association)
            ),
        ]
    )
    rows.append(
        [
            "",
            t["total"],
            "",
            "",
            *(euros(report.total(category)) for category in COST_CATEGORIES),
            euros(report.fair_total + report.carried),
            euros(sum(item.paid for item in report.structures)),
            euros(report.contributions_total),
            euros(report.billed_total),
            euros(report.waived_total),
            euros(report.volunteer_value),
            thousandths(report.energy_wh),
            thousandths(report.carbon_g),
        ]
    )
    return _text(rows)


def totals_csv(report: CostReport, t: dict[str, str]) -> str:
    rows = [
        [t["label"], t["amount"]],
        [t["total_cost"], euros(report.total_cost)],
        [t["of_which_volunteer"], euros(report.volunteer_value)],
        [t["fair_total"], euros(report.fair_total)],
        [t["carried"], euros(report.carried)],
        [t["billed_total"], euros(report.billed_total)],
        [t["waived_total"], euros(report.waived_total)],
        [t["contributions_total"], euros(report.contributions_total)],
        [t["solidarity_balance"], euros(report.solidarity_balance)],
        *([item.label, euros(item.amount)] for item in report.funding),
        [t["funding_total"], euros(report.funding_total)],
        [t["remaining"], euros(report.remaining)],
        [t["energy_kwh"], thousandths(report.energy_wh)],
        [t["carbon_kg"], thousandths(report.carbon_g)],
    ]
    return _text(rows)


def pools_csv(report: CostReport, t: dict[str, str]) -> str:
    rows = [[t["pool"], t["category"], t["key"], t["amount_shown"], t["unit"], t["carried_row"]]]
    for pool in report.pools:
        rows.append(
            [
                pool_label(pool, t),
                t["cat_" + pool.category],
                key_label(pool, t),
                _amount(pool, pool.amount),
                _unit(pool),
                _amount(pool, pool.association_share),
            ]
        )
    return _text(rows)


def structure_csv(report: CostReport, slug: str, t: dict[str, str]) -> str:
    party = report.parties.index(slug)
    item = report.structures[party]
    rows = [
        [
            t["pool"],
            t["key"],
            t["amount_shown"],
            t["your_weight"],
            t["all_weights"],
            t["your_share"],
            t["unit"],
        ]
    ]
    for pool in report.pools:
        rows.append(
            [
                pool_label(pool, t),
                key_label(pool, t),
                _amount(pool, pool.amount),
                str(pool.weights[party]),
                str(sum(pool.weights)),
                _amount(pool, pool.shares[party]),
                _unit(pool),
            ]
        )
    rows += [
        [],
        [t["fair_share"], "", "", "", "", euros(item.fair_share), "EUR"],
        [t["paid"], "", "", "", "", euros(item.paid), "EUR"],
        [t["contribution"], "", "", "", "", euros(item.contribution), "EUR"],
        [t["billed"], "", "", "", "", euros(item.billed), "EUR"],
        [t["volunteer_value"], "", "", "", "", euros(item.volunteer_value), "EUR"],
        [t["energy_kwh"], "", "", "", "", thousandths(item.energy_wh), "kWh"],
        [t["carbon_kg"], "", "", "", "", thousandths(item.carbon_g), "kgCO2e"],
    ]
    return _text(rows)
