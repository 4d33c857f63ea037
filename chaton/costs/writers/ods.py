"""The cost sheets as OpenDocument spreadsheets, with formulas: the sheet is the explanation.

Every input (prices, hours, weights, tiers, each structure's reserved resources) is a cell; every
figure is a formula over them, down to the largest-remainder split of each pool, so a reader who
changes an input sees every total follow in LibreOffice. Each formula cell also carries chaton's
value, for viewers that do not recompute (LibreOffice recomputes files written by other programs).

- `summary.ods`: the whole collective: Summary, Structures, Inputs, Pools, Keys, Allocation.
- `<slug>.ods`: one structure: what it pays, its share of each pool (the largest-remainder unit is
  a value there, since it depends on the other structures), its resources, the inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from odf.number import Number, NumberStyle  # type: ignore[import-untyped]
from odf.opendocument import OpenDocumentSpreadsheet  # type: ignore[import-untyped]
from odf.style import Style, TableCellProperties, TableColumnProperties, TextProperties  # type: ignore[import-untyped]
from odf.table import Table, TableCell, TableColumn, TableRow  # type: ignore[import-untyped]
from odf.text import P  # type: ignore[import-untyped]

from chaton.costs.labels import key_label, pool_label
from chaton.costs.model import PPM, CostReport, Pool, StructureCosts

Value = Decimal | int | float


@dataclass(frozen=True)
class Text:
    text: str
    style: str = ""


@dataclass(frozen=True)
class Num:
    value: Value
    style: str = "plain"


@dataclass(frozen=True)
class Formula:
    expr: str
    cached: Value | None = None
    style: str = "money"


Cell = Text | Num | Formula | None


def column(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class Sheet:
    name: str
    widths: Sequence[float] = (6.0,)
    rows: list[list[Cell]] = field(default_factory=list)

    def add(self, *cells: Cell) -> int:
        """Append a row; its number (from 1)."""
        self.rows.append(list(cells))
        return len(self.rows)

    def set(self, row: int, col: int, cell: Cell) -> None:
        line = self.rows[row - 1]
        line.extend([None] * (col + 1 - len(line)))
        line[col] = cell

    def ref(self, col: int, row: int) -> str:
        """An absolute reference to a cell of this sheet, usable from any sheet."""
        quoted = self.name.replace("'", "''")
        return f"[$'{quoted}'.${column(col)}${row}]"

    def row_range(self, first_col: int, last_col: int, row: int) -> str:
        quoted = self.name.replace("'", "''")
        return f"[$'{quoted}'.${column(first_col)}${row}:.${column(last_col)}${row}]"

    def range(self, col: int, first: int, last: int) -> str:
        quoted = self.name.replace("'", "''")
        return f"[$'{quoted}'.${column(col)}${first}:.${column(col)}${last}]"


# ---------------------------------------------------------------------------------------------
# Writing the document


def _styles(doc: OpenDocumentSpreadsheet) -> dict[str, Style]:
    styles: dict[str, Style] = {}
    for name, places in (("money", 2), ("plain", -1), ("int", 0), ("kilo", 3), ("ratio", 4)):
        if places < 0:
            styles[name] = Style(name=f"c-{name}", family="table-cell")
        else:
            number = NumberStyle(name=f"n-{name}")
            number.addElement(Number(decimalplaces=places, minintegerdigits=1, grouping=True))
            doc.automaticstyles.addElement(number)
            styles[name] = Style(name=f"c-{name}", family="table-cell", datastylename=number)
        doc.automaticstyles.addElement(styles[name])
    title = Style(name="c-title", family="table-cell")
    title.addElement(TextProperties(fontweight="bold", fontsize="14pt"))
    head = Style(name="c-head", family="table-cell")
    head.addElement(TextProperties(fontweight="bold"))
    head.addElement(TableCellProperties(backgroundcolor="#e8eef4", wrapoption="wrap"))
    bold = Style(name="c-bold", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    for style in (title, head, bold):
        doc.automaticstyles.addElement(style)
    styles.update(title=title, head=head, bold=bold)
    return styles


def _odf_cell(cell: Cell, styles: dict[str, Style]) -> TableCell:
    if cell is None:
        return TableCell()
    if isinstance(cell, Text):
        element = (
            TableCell(valuetype="string", stylename=styles[cell.style])
            if cell.style
            else TableCell(valuetype="string")
        )
        element.addElement(P(text=cell.text), check_grammar=False)
        return element
    if isinstance(cell, Num):
        return TableCell(valuetype="float", value=str(cell.value), stylename=styles[cell.style])
    if cell.cached is None:
        return TableCell(formula="of:=" + cell.expr, stylename=styles[cell.style])
    return TableCell(
        formula="of:=" + cell.expr,
        valuetype="float",
        value=str(cell.cached),
        stylename=styles[cell.style],
    )


def document(sheets: Iterable[Sheet]) -> OpenDocumentSpreadsheet:
    doc = OpenDocumentSpreadsheet()
    styles = _styles(doc)
    for sheet in sheets:
        table = Table(name=sheet.name)
        for index, width in enumerate(sheet.widths):
            style = Style(name=f"w-{sheet.name}-{index}".replace(" ", "_"), family="table-column")
            style.addElement(TableColumnProperties(columnwidth=f"{width}cm"))
            doc.automaticstyles.addElement(style)
            table.addElement(TableColumn(stylename=style))
        for row in sheet.rows:
            element = TableRow()
            for cell in row:
                element.addElement(_odf_cell(cell, styles), check_grammar=False)
            table.addElement(element, check_grammar=False)
        doc.spreadsheet.addElement(table)
    return doc


def save(sheets: Iterable[Sheet], path: Path) -> None:
    document(sheets).save(str(path))


# ---------------------------------------------------------------------------------------------
# Inputs and pools, shared by both workbooks


@dataclass
class InputRefs:
    months: str = ""
    hours: str = ""
    price: str = ""
    intensity: str = ""
    weights: tuple[str, str, str] = ("", "", "")
    headroom: str = ""
    admin_hours: str = ""
    moderation_hours: str = ""
    rate: str = ""
    volunteer: str = ""
    # Server name → column name → reference.
    servers: dict[str, dict[str, str]] = field(default_factory=dict)
    # Recurring cost index → (amount, times per year).
    recurring: dict[int, tuple[str, str]] = field(default_factory=dict)
    # Tier → (share paid, solidarity contribution).
    tiers: dict[str, tuple[str, str]] = field(default_factory=dict)
    funding: list[tuple[str, str, str]] = field(default_factory=list)


SERVER_COLUMNS = (
    "name",
    "purchase",
    "lifetime",
    "hosting",
    "watts",
    "pue",
    "embodied",
    "ram_mb",
    "disk_gb",
    "cpu_share",
)


def write_inputs(sheet: Sheet, report: CostReport, t: dict[str, str]) -> InputRefs:
    """The inputs block, appended to `sheet` (labels in column A, values in column B)."""
    collective, period = report.collective, report.period
    refs = InputRefs()

    def line(label: str, value: Value, style: str = "plain") -> str:
        row = sheet.add(Text(label), Num(value, style))
        return sheet.ref(1, row)

    sheet.add(Text(t["sheet_inputs"], "bold"))
    sheet.add(Text(t["period_start"]), Text(period.start.isoformat()))
    sheet.add(Text(t["period_end"]), Text(period.last_day.isoformat()))
    refs.months = line(t["months"], period.months)
    refs.hours = line(t["hours"], period.hours)
    refs.price = line(t["electricity_price"], collective.electricity_price_per_kwh)
    refs.intensity = line(t["grid_intensity"], collective.grid_carbon_intensity_g_per_kwh)
    weights = collective.allocation.weights
    refs.weights = (
        line(t["weight_ram"], weights.ram_mb),
        line(t["weight_disk"], weights.disk_gb),
        line(t["weight_cpu"], weights.cpu_share),
    )
    refs.headroom = line(
        t["headroom_carried"], 1 if collective.allocation.headroom == "carried" else 0
    )
    people = collective.people
    refs.admin_hours = line(t["admin_hours"], people.admin_hours_per_month)
    refs.moderation_hours = line(t["moderation_hours"], people.moderation_hours_per_month)
    refs.rate = line(t["hourly_rate"], people.hourly_rate, "money")
    refs.volunteer = line(t["volunteer_share"], people.volunteer_share)
    sheet.add()
    sheet.add(Text(t["servers"], "bold"))
    sheet.add(
        *(
            Text(t[key], "head")
            for key in (
                "server",
                "purchase_price",
                "lifetime_years",
                "monthly_hosting",
                "power_draw",
                "pue",
                "embodied",
                "capacity_ram",
                "capacity_disk",
                "capacity_cpu",
            )
        )
    )
    for server in collective.servers:
        costs, cap = server.costs, report.capacities[server.name]
        row = sheet.add(
            Text(server.name),
            Num(costs.purchase_price, "money"),
            Num(costs.lifetime_years),
            Num(costs.monthly_hosting, "money"),
            Num(costs.power_draw_watts),
            Num(costs.pue),
            Num(costs.embodied_kgco2e),
            Num(cap.ram_mb),
            Num(cap.disk_gb),
            Num(cap.cpu_share),
        )
        refs.servers[server.name] = {
            name: sheet.ref(index, row) for index, name in enumerate(SERVER_COLUMNS)
        }
    sheet.add()
    sheet.add(Text(t["recurring_costs"], "bold"))
    sheet.add(*(Text(t[key], "head") for key in ("label", "amount", "times_per_year", "key")))
    for index, recurring in enumerate(collective.recurring_costs):
        row = sheet.add(
            Text(recurring.label),
            Num(recurring.amount, "money"),
            Num(12 if recurring.period == "monthly" else 1),
            Text(t["key_" + recurring.allocation]),
        )
        refs.recurring[index] = (sheet.ref(1, row), sheet.ref(2, row))
    sheet.add()
    sheet.add(Text(t["tiers"], "bold"))
    sheet.add(*(Text(t[key], "head") for key in ("tier", "label", "share_paid", "solidarity_rate")))
    for name, tier in collective.tiers.items():
        row = sheet.add(
            Text(name), Text(tier.label), Num(tier.share_paid), Num(tier.solidarity_contribution)
        )
        refs.tiers[name] = (sheet.ref(2, row), sheet.ref(3, row))
    if collective.solidarity_funding:
        sheet.add()
        sheet.add(Text(t["funding"], "bold"))
        sheet.add(*(Text(t[key], "head") for key in ("label", "amount", "times_per_year")))
        for item in collective.solidarity_funding:
            row = sheet.add(
                Text(item.label),
                Num(item.amount, "money"),
                Num(12 if item.period == "monthly" else 1),
            )
            refs.funding.append((item.label, sheet.ref(1, row), sheet.ref(2, row)))
    return refs


def shown_divisor(pool: Pool) -> int:
    return 100 if pool.unit == "cents" else 1000


def unit_label(pool: Pool) -> str:
    return {"cents": "€", "Wh": "kWh", "g": "kgCO2e"}[pool.unit]


class PoolFormulas:
    """The formula of each pool's amount, over the inputs (and over the energy pool for the
    energy's cost and carbon). `amount_ref` is filled as the pools are written."""

    def __init__(self, refs: InputRefs, time_totals: dict[str, str]) -> None:
        self.refs = refs
        self.time_totals = time_totals
        self.amount_ref: dict[str, str] = {}

    def time_total(self, category: str) -> str:
        hours = self.refs.admin_hours if category == "admin" else self.refs.moderation_hours
        return f"ROUND({hours}*{self.refs.months}*{self.refs.rate}*100;0)"

    def formula(self, pool: Pool) -> str:
        r = self.refs
        if pool.server is not None:
            s = r.servers[pool.server]
            energy = self.amount_ref.get(f"energy_wh:{pool.server}", "0")
            return {
                "purchase": f"ROUND(100*{s['purchase']}*{r.months}/(12*{s['lifetime']});0)",
                "hosting": f"ROUND(100*{s['hosting']}*{r.months};0)",
                "energy_wh": f"ROUND({s['watts']}*{r.hours}*{s['pue']};0)",
                "energy": f"ROUND({energy}*{r.price}/10;0)",
                "carbon_grid_g": f"ROUND({energy}*{r.intensity}/1000;0)",
                "carbon_embodied_g": (
                    f"ROUND(1000*{s['embodied']}*{r.months}/(12*{s['lifetime']});0)"
                ),
            }[pool.category]
        if pool.category == "recurring":
            amount, times = r.recurring[pool.index]
            return f"ROUND(100*{amount}*{r.months}*{times}/12;0)"
        total = self.time_totals[pool.category]
        volunteer = f"ROUND({total}*{r.volunteer};0)"
        if pool.volunteer:
            return volunteer
        return f"{total}-{self.amount_ref[pool.category + ':volunteer']}"


# ---------------------------------------------------------------------------------------------
# The collective's workbook


def _sum_expr(refs: Sequence[str]) -> str:
    return "+".join(refs) if refs else "0"


def collective_sheets(report: CostReport, t: dict[str, str], cached: bool = True) -> list[Sheet]:
    """The sheets of `summary.ods` (see the module's docstring)."""

    def value(amount: Value) -> Value | None:
        return amount if cached else None

    collective = report.collective
    count = len(report.parties)
    first, last = 4, 3 + max(count, 1)
    assoc, total_row = last + 1, last + 2

    inputs = Sheet(t["sheet_inputs"], (9.0, 3.0, 3.0, 3.0, 3.0, 2.0, 3.0, 3.0, 3.0, 3.0))
    inputs.add(Text(f"{collective.name} — {t['period']} {report.period.label}", "title"))
    inputs.add()
    refs = write_inputs(inputs, report, t)

    pools_sheet = Sheet(t["sheet_pools"], (9.0, 5.0, 6.0, 4.0, 4.0, 2.0))
    pools_sheet.add(Text(t["sheet_pools"], "title"))
    pools_sheet.add(Text(t["lr_note"]))
    pools_sheet.add(
        *(
            Text(t[key], "head")
            for key in ("pool", "category", "key", "amount_unit", "amount_shown")
        )
    )
    time_totals: dict[str, str] = {}
    formulas = PoolFormulas(refs, time_totals)
    # First the rows (a formula may refer to a pool written after it), then the cells.
    layout: list[tuple[int, Pool | str]] = []
    row = len(pools_sheet.rows) + 1
    for pool in report.pools:
        if pool.category in ("admin", "moderation") and pool.category not in time_totals:
            time_totals[pool.category] = pools_sheet.ref(3, row)
            layout.append((row, pool.category))
            row += 1
        formulas.amount_ref[pool.id] = pools_sheet.ref(3, row)
        layout.append((row, pool))
        row += 1
    for row, entry in layout:
        if isinstance(entry, str):
            total = report.pool(f"{entry}:paid").amount + report.pool(f"{entry}:volunteer").amount
            pools_sheet.add(
                Text(f"{t['cat_' + entry]} — {t['total_time']}"),
                Text(t["cat_" + entry]),
                None,
                Formula(formulas.time_total(entry), value(total), "int"),
                Formula(f"{pools_sheet.ref(3, row)}/100", value(Decimal(total) / 100)),
                Text("€"),
            )
            continue
        pools_sheet.add(
            Text(pool_label(entry, t)),
            Text(t["cat_" + entry.category]),
            Text(key_label(entry, t)),
            Formula(formulas.formula(entry), value(entry.amount), "int"),
            Formula(
                f"{pools_sheet.ref(3, row)}/{shown_divisor(entry)}",
                value(Decimal(entry.amount) / shown_divisor(entry)),
                "money" if entry.unit == "cents" else "kilo",
            ),
            Text(unit_label(entry)),
        )

    # Keys: each party's weight in each key.
    servers = [server.name for server in collective.servers]
    keys = Sheet(t["sheet_keys"], (4.0, 6.0, 3.0, 3.0, *([2.5] * (2 + 5 * len(servers) + 1))))
    keys.add(Text(t["sheet_keys"], "title"))
    keys.add(*([None] * 6), *(cell for s in servers for cell in (Text(s, "bold"), *[None] * 4)))
    keys.add(
        *(Text(t[k], "head") for k in ("slug", "name", "tier", "status", "accounts")),
        Text(t["per_structure"], "head"),
        *(
            Text(t[k], "head")
            for _s in servers
            for k in ("ram_mb", "disk_gb", "cpu_share", "ppm", "weight")
        ),
        Text(t["resources_ppm"], "head"),
    )
    res_col = 6 + 5 * len(servers)
    ppm_col = {name: 6 + 5 * index + 3 for index, name in enumerate(servers)}
    weight_col = {name: 6 + 5 * index + 4 for index, name in enumerate(servers)}
    k_ram, k_disk, k_cpu = refs.weights
    for index, sheet in enumerate(report.structures):
        row = first + index
        cells: list[Cell] = [
            Text(sheet.slug),
            Text(sheet.name),
            Text(sheet.tier),
            Text(t["status_" + sheet.status]),
            Num(sheet.accounts),
            Num(1),
        ]
        for name in servers:
            reserved, s = sheet.reserved[name], refs.servers[name]
            ram, disk, cpu = (keys.ref(c, row) for c in range(len(cells), len(cells) + 3))
            ppm_expr = (
                f"ROUND({PPM}*({k_ram}*{ram}/{s['ram_mb']}+{k_disk}*{disk}/{s['disk_gb']}"
                f"+{k_cpu}*{cpu}/{s['cpu_share']})/({k_ram}+{k_disk}+{k_cpu});0)"
            )
            ppm_ref, ppm_range = (
                keys.ref(ppm_col[name], row),
                keys.range(ppm_col[name], first, last),
            )
            pool_weight = report.pool(f"purchase:{name}").weights[index]
            cells += [
                Num(reserved.ram_mb),
                Num(reserved.disk_gb),
                Num(reserved.cpu_share),
                Formula(ppm_expr, value(sheet.ppm[name]), "int"),
                Formula(
                    f"IF({refs.headroom}=1;{ppm_ref};IF(SUM({ppm_range})>0;{ppm_ref};"
                    f"{keys.ref(res_col, row)}))",
                    value(pool_weight),
                    "int",
                ),
            ]
        cells.append(
            Formula(
                _sum_expr([keys.ref(ppm_col[name], row) for name in servers]),
                value(sum(sheet.ppm.values())),
                "int",
            )
        )
        keys.add(*cells)
    while len(keys.rows) < last:
        keys.add()
    association: list[Cell] = [Text(t["association"], "bold"), None, None, None]

    def fallback(col: int, weight: int) -> Formula:
        return Formula(f"IF(SUM({keys.range(col, first, last)})>0;0;1)", value(weight), "int")

    association += [
        fallback(4, 0 if any(item.accounts for item in report.structures) else 1),
        fallback(5, 0 if report.structures else 1),
    ]
    for name in servers:
        ppm_range = keys.range(ppm_col[name], first, last)
        res_range = keys.range(res_col, first, last)
        association += [
            None,
            None,
            None,
            None,
            Formula(
                f"IF({refs.headroom}=1;MAX(0;{PPM}-SUM({ppm_range}));IF(SUM({ppm_range})>0;0;"
                f"IF(SUM({res_range})>0;0;1)))",
                value(report.pool(f"purchase:{name}").weights[-1]),
                "int",
            ),
        ]
    association.append(
        fallback(res_col, 0 if any(sum(i.ppm.values()) for i in report.structures) else 1)
    )
    keys.add(*association)
    weight_columns = [4, 5, res_col, *weight_col.values()]
    totals: list[Cell] = [Text(t["total"], "bold")] + [None] * res_col
    for col in weight_columns:
        totals[col] = Formula(f"SUM({keys.range(col, first, assoc)})", None, "int")
    keys.add(*totals)

    def key_column(pool: Pool) -> int:
        if pool.server is not None:
            return weight_col[pool.server]
        return {"accounts": 4, "structures": 5, "resources": res_col}[pool.key]

    # Allocation: the largest remainder, pool by pool.
    ordered = list(report.pools)
    allocation = Sheet(t["sheet_allocation"], (4.0, 6.0, *([2.6] * (3 * len(ordered)))))
    header1: list[Cell] = [Text(t["sheet_allocation"], "title"), None]
    header2: list[Cell] = [Text(t["lr_note"]), None]
    header3: list[Cell] = [Text(t["slug"], "head"), Text(t["name"], "head")]
    share_col: dict[str, int] = {}
    for number, pool in enumerate(ordered):
        col = 2 + 3 * number
        share_col[pool.id] = col + 2
        header1 += [Text(pool_label(pool, t), "bold"), None, None]
        left = pool.amount - sum(
            pool.amount * weight // sum(pool.weights) for weight in pool.weights
        )
        header2 += [
            Text(t["left_over"]),
            Formula(
                f"{formulas.amount_ref[pool.id]}-SUM({allocation.range(col + 1, first, assoc)})",
                value(left),
                "int",
            ),
            Formula(f"SUM({allocation.range(col + 2, first, assoc)})", value(pool.amount), "int"),
        ]
        header3 += [
            Text(t["remainder"], "head"),
            Text(t["floor"], "head"),
            Text(t["share"], "head"),
        ]
    allocation.add(*header1)
    allocation.add(*header2)
    allocation.add(*header3)
    party_rows = [(first + index, index) for index in range(count)] + [(assoc, count)]
    rows_cells: dict[int, list[Cell]] = {}
    for index, sheet in enumerate(report.structures):
        rows_cells[first + index] = [Text(sheet.slug), Text(sheet.name)]
    rows_cells[assoc] = [Text(t["association"], "bold"), None]
    for number, pool in enumerate(ordered):
        col = 2 + 3 * number
        amount = formulas.amount_ref[pool.id]
        kcol = key_column(pool)
        big_w = keys.ref(kcol, total_row)
        left_ref = allocation.ref(col + 1, 2)
        weight_total = sum(pool.weights)
        for row, party in party_rows:
            weight = keys.ref(kcol, row)
            rem, floor = allocation.ref(col, row), allocation.ref(col + 1, row)
            exact = pool.amount * pool.weights[party]
            rows_cells[row] += [
                Formula(f"MOD({amount}*{weight};{big_w})", value(exact % weight_total), "int"),
                Formula(f"({amount}*{weight}-{rem})/{big_w}", value(exact // weight_total), "int"),
                Formula(
                    f"{floor}+IF(SUMPRODUCT(({allocation.range(col, first, assoc)}>{rem})*1)"
                    f"+SUMPRODUCT(({allocation.range(col, 3, row - 1)}={rem})*1)<{left_ref};1;0)",
                    value(pool.shares[party]),
                    "int",
                ),
            ]
    for row in range(first, assoc + 1):
        allocation.add(*rows_cells.get(row, []))

    # Structures: each one's fair share, tier, bill, energy and carbon.
    structures = Sheet(t["sheet_structures"], (4.0, 7.0, 3.0, 3.0, *([3.2] * 16)))
    structures.add(Text(f"{t['sheet_structures']} — {report.period.label}", "title"))
    structures.add(Text(t["how_to_read"]))
    categories = ("purchase", "hosting", "energy", "recurring", "admin", "moderation")
    structures.add(
        *(Text(t[k], "head") for k in ("slug", "name", "tier", "status")),
        *(Text(t["cat_" + c], "head") for c in categories),
        *(
            Text(t[k], "head")
            for k in (
                "fair_share",
                "share_paid",
                "paid",
                "solidarity_rate",
                "contribution",
                "billed",
                "waived",
                "volunteer_value",
                "energy_kwh",
                "carbon_kg",
            )
        ),
    )

    def shares_sum(row: int, chosen: Iterable[Pool], divisor: int) -> str:
        cells = [allocation.ref(share_col[pool.id], row) for pool in chosen]
        return f"({_sum_expr(cells)})/{divisor}"

    def party_row(row: int, party: int, item: StructureCosts | None) -> list[Cell]:
        cells: list[Cell] = []
        for category in categories:
            chosen = [p for p in report.pools if p.category == category and p.billable]
            cells.append(
                Formula(
                    shares_sum(row, chosen, 100),
                    value(Decimal(sum(p.shares[party] for p in chosen)) / 100),
                )
            )
        fair = sum(p.shares[party] for p in report.pools if p.billable)
        fair_ref = structures.ref(10, row)
        cells.append(Formula(f"SUM({structures.row_range(4, 9, row)})", value(Decimal(fair) / 100)))
        if item is not None:
            paid_rate, contribution_rate = refs.tiers[item.tier]
            cells += [
                Formula(paid_rate, value(collective.tiers[item.tier].share_paid), "ratio"),
                Formula(
                    f"ROUND({fair_ref}*{structures.ref(11, row)};2)",
                    value(Decimal(item.paid) / 100),
                ),
                Formula(
                    contribution_rate,
                    value(collective.tiers[item.tier].solidarity_contribution),
                    "ratio",
                ),
                Formula(
                    f"ROUND({fair_ref}*{structures.ref(13, row)};2)",
                    value(Decimal(item.contribution) / 100),
                ),
                Formula(
                    f"{structures.ref(12, row)}+{structures.ref(14, row)}",
                    value(Decimal(item.billed) / 100),
                ),
                Formula(
                    f"{structures.ref(10, row)}-{structures.ref(12, row)}",
                    value(Decimal(item.waived) / 100),
                ),
            ]
        else:
            cells += [None] * 6
        volunteer = [p for p in report.pools if p.volunteer]
        energy = [p for p in report.pools if p.unit == "Wh"]
        carbon = [p for p in report.pools if p.unit == "g"]
        cells += [
            Formula(
                shares_sum(row, volunteer, 100),
                value(Decimal(sum(p.shares[party] for p in volunteer)) / 100),
            ),
            Formula(
                shares_sum(row, energy, 1000),
                value(Decimal(sum(p.shares[party] for p in energy)) / 1000),
                "kilo",
            ),
            Formula(
                shares_sum(row, carbon, 1000),
                value(Decimal(sum(p.shares[party] for p in carbon)) / 1000),
                "kilo",
            ),
        ]
        return cells

    for index, item in enumerate(report.structures):
        structures.add(
            Text(item.slug),
            Text(item.name),
            Text(collective.tiers[item.tier].label),
            Text(t["status_" + item.status]),
            *party_row(first + index, index, item),
        )
    while len(structures.rows) < last:
        structures.add()
    structures.add(Text(t["carried_row"], "bold"), None, None, None, *party_row(assoc, count, None))
    total_cells: list[Cell] = [Text(t["total"], "bold"), None, None, None]
    for col in range(4, 20):
        if col in (11, 13):
            total_cells.append(None)
            continue
        total_cells.append(
            Formula(
                f"SUM({structures.range(col, first, assoc)})",
                None,
                "kilo" if col >= 18 else "money",
            )
        )
    structures.add(*total_cells)

    # Summary.
    summary = Sheet(t["sheet_summary"], (12.0, 4.0))
    summary.add(Text(f"{t['cost_summary']} — {collective.name}", "title"))
    summary.add(
        Text(
            f"{t['period']}: {report.period.start.isoformat()} — "
            f"{report.period.last_day.isoformat()}"
        )
    )
    summary.add(Text(t["summary_intro"]))
    summary.add()
    cost_refs = [formulas.amount_ref[p.id] for p in report.pools if p.unit == "cents"]
    volunteer_refs = [formulas.amount_ref[p.id] for p in report.pools if p.volunteer]

    def money_line(label: str, expr: str, cents: int, style: str = "plain") -> str:
        row = summary.add(
            Text(label, "bold" if style == "bold" else ""),
            Formula(expr, value(Decimal(cents) / 100)),
        )
        return summary.ref(1, row)

    total_ref = money_line(
        t["total_cost"], f"({_sum_expr(cost_refs)})/100", report.total_cost, "bold"
    )
    volunteer_ref = money_line(
        t["of_which_volunteer"], f"({_sum_expr(volunteer_refs)})/100", report.volunteer_value
    )
    summary.add()
    money_line(t["fair_total"], f"SUM({structures.range(10, first, last)})", report.fair_total)
    carried_ref = money_line(t["carried"], structures.ref(10, assoc), report.carried)
    billed_ref = money_line(
        t["billed_total"], f"SUM({structures.range(15, first, last)})", report.billed_total, "bold"
    )
    waived_ref = money_line(
        t["waived_total"], f"SUM({structures.range(16, first, last)})", report.waived_total
    )
    contributions_ref = money_line(
        t["contributions_total"],
        f"SUM({structures.range(14, first, last)})",
        report.contributions_total,
    )
    balance_ref = money_line(
        t["solidarity_balance"],
        f"{waived_ref}+{carried_ref}-{contributions_ref}",
        report.solidarity_balance,
        "bold",
    )
    money_line(t["check"], f"{billed_ref}+{balance_ref}+{volunteer_ref}", report.total_cost)
    del total_ref
    summary.add()
    funding_refs = []
    for (label, amount, times), funded in zip(refs.funding, report.funding, strict=True):
        funding_refs.append(
            money_line(label, f"ROUND(100*{amount}*{refs.months}*{times}/12;0)/100", funded.amount)
        )
    funding_total = money_line(t["funding_total"], _sum_expr(funding_refs), report.funding_total)
    money_line(t["remaining"], f"{balance_ref}-{funding_total}", report.remaining, "bold")
    summary.add()
    row = summary.add(
        Text(t["energy_kwh"]),
        Formula(
            f"SUM({structures.range(18, first, assoc)})",
            value(Decimal(report.energy_wh) / 1000),
            "kilo",
        ),
    )
    summary.add(
        Text(t["carbon_kg"]),
        Formula(
            f"SUM({structures.range(19, first, assoc)})",
            value(Decimal(report.carbon_g) / 1000),
            "kilo",
        ),
    )
    del row
    summary.add()
    summary.add(Text(t["breakdown"], "head"), Text(t["amount"], "head"))
    for category in categories:
        chosen = [formulas.amount_ref[p.id] for p in report.pools if p.category == category]
        summary.add(
            Text(t["cat_" + category]),
            Formula(
                f"({_sum_expr(chosen)})/100",
                value(Decimal(sum(p.amount for p in report.pools if p.category == category)) / 100),
            ),
        )
    summary.add()
    summary.add(Text(t["generated_by"]))
    return [summary, structures, inputs, pools_sheet, keys, allocation]


# ---------------------------------------------------------------------------------------------
# One structure's workbook


def structure_sheets(
    report: CostReport, slug: str, t: dict[str, str], cached: bool = True
) -> list[Sheet]:
    """The sheets of `<slug>.ods` (see the module's docstring)."""

    def value(amount: Value) -> Value | None:
        return amount if cached else None

    collective = report.collective
    party = report.parties.index(slug)
    item = report.structures[party]
    tier = collective.tiers[item.tier]
    inputs = Sheet(t["sheet_inputs"], (9.0, 3.0, 3.0, 3.0, 3.0, 2.0, 3.0, 3.0, 3.0, 3.0))
    refs = write_inputs(inputs, report, t)
    sheet = Sheet(t["sheet_sheet"], (9.0, 5.0, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2))
    sheet.add(Text(f"{t['cost_sheet']} — {item.name}", "title"))
    sheet.add(
        Text(
            f"{t['period']}: {report.period.start.isoformat()} — "
            f"{report.period.last_day.isoformat()} · {collective.name}"
        )
    )
    sheet.add(Text(f"{t['tier']}: {tier.label} · {t['status']}: {t['status_' + item.status]}"))
    sheet.add(Text(t["how_to_read"]))
    sheet.add()
    sheet.add(Text(t["what_you_pay"], "head"), Text(t["amount"], "head"))
    pay_rows = {
        name: sheet.add()
        for name in (
            "fair_share",
            "share_paid",
            "paid",
            "solidarity_rate",
            "contribution",
            "billed",
            "volunteer_value",
            "energy_kwh",
            "carbon_kg",
        )
    }
    sheet.add()
    # Resources: what the structure reserves on each server, and the ppm it weighs there.
    sheet.add(Text(t["your_resources"], "head"))
    sheet.add(
        *(Text(t[key], "head") for key in ("server", "ram_mb", "disk_gb", "cpu_share", "ppm"))
    )
    k_ram, k_disk, k_cpu = refs.weights
    ppm_ref: dict[str, str] = {}
    for server in collective.servers:
        reserved, s, row = (
            item.reserved[server.name],
            refs.servers[server.name],
            len(sheet.rows) + 1,
        )
        ram, disk, cpu = (sheet.ref(col, row) for col in (1, 2, 3))
        sheet.add(
            Text(server.name),
            Num(reserved.ram_mb),
            Num(reserved.disk_gb),
            Num(reserved.cpu_share),
            Formula(
                f"ROUND({PPM}*({k_ram}*{ram}/{s['ram_mb']}+{k_disk}*{disk}/{s['disk_gb']}"
                f"+{k_cpu}*{cpu}/{s['cpu_share']})/({k_ram}+{k_disk}+{k_cpu});0)",
                value(item.ppm[server.name]),
                "int",
            ),
        )
        ppm_ref[server.name] = sheet.ref(4, row)
    row = sheet.add(
        Text(t["resources_ppm"]),
        None,
        None,
        None,
        Formula(_sum_expr(list(ppm_ref.values())), value(sum(item.ppm.values())), "int"),
    )
    resources_ref = sheet.ref(4, row)
    row = sheet.add(Text(t["accounts"]), None, None, None, Num(item.accounts))
    accounts_ref = sheet.ref(4, row)
    sheet.add()
    sheet.add(Text(t["lr_note"]))
    sheet.add(
        *(
            Text(t[key], "head")
            for key in (
                "pool",
                "key",
                "amount_unit",
                "your_weight",
                "all_weights",
                "exact_share",
                "floor",
                "lr_cent",
                "your_share",
                "amount_shown",
            )
        )
    )
    formulas = PoolFormulas(refs, {})
    for category in ("admin", "moderation"):
        formulas.time_totals[category] = formulas.time_total(category)
    first = len(sheet.rows) + 1
    for number, pool in enumerate(report.pools):
        formulas.amount_ref[pool.id] = sheet.ref(2, first + number)
    shown: dict[str, str] = {}
    for number, pool in enumerate(report.pools):
        row = first + number
        amount, weight, total = (sheet.ref(col, row) for col in (2, 3, 4))
        if pool.basis.startswith("server:"):
            weight_cell: Cell = Formula(ppm_ref[pool.basis[7:]], value(pool.weights[party]), "int")
        elif pool.basis == "resources":
            weight_cell = Formula(resources_ref, value(pool.weights[party]), "int")
        elif pool.basis == "accounts":
            weight_cell = Formula(accounts_ref, value(pool.weights[party]), "int")
        else:
            weight_cell = Num(pool.weights[party], "int")
        weight_total = sum(pool.weights)
        exact = pool.amount * pool.weights[party]
        floor = exact // weight_total
        divisor = shown_divisor(pool)
        sheet.add(
            Text(pool_label(pool, t)),
            Text(key_label(pool, t)),
            Formula(formulas.formula(pool), value(pool.amount), "int"),
            weight_cell,
            Num(weight_total, "int"),
            Formula(f"{amount}*{weight}/{total}", value(Decimal(exact) / weight_total), "money"),
            Formula(
                f"({amount}*{weight}-MOD({amount}*{weight};{total}))/{total}", value(floor), "int"
            ),
            Num(pool.shares[party] - floor, "int"),
            Formula(f"{sheet.ref(6, row)}+{sheet.ref(7, row)}", value(pool.shares[party]), "int"),
            Formula(
                f"{sheet.ref(8, row)}/{divisor}",
                value(Decimal(pool.shares[party]) / divisor),
                "money" if pool.unit == "cents" else "kilo",
            ),
        )
        shown[pool.id] = sheet.ref(9, row)
    paid_rate, contribution_rate = refs.tiers[item.tier]
    fair = sheet.ref(1, pay_rows["fair_share"])
    lines: dict[str, tuple[str, Value, str]] = {
        "fair_share": (
            _sum_expr([shown[p.id] for p in report.pools if p.billable]),
            Decimal(item.fair_share) / 100,
            "money",
        ),
        "share_paid": (paid_rate, tier.share_paid, "ratio"),
        "paid": (
            f"ROUND({fair}*{sheet.ref(1, pay_rows['share_paid'])};2)",
            Decimal(item.paid) / 100,
            "money",
        ),
        "solidarity_rate": (contribution_rate, tier.solidarity_contribution, "ratio"),
        "contribution": (
            f"ROUND({fair}*{sheet.ref(1, pay_rows['solidarity_rate'])};2)",
            Decimal(item.contribution) / 100,
            "money",
        ),
        "billed": (
            f"{sheet.ref(1, pay_rows['paid'])}+{sheet.ref(1, pay_rows['contribution'])}",
            Decimal(item.billed) / 100,
            "money",
        ),
        "volunteer_value": (
            _sum_expr([shown[p.id] for p in report.pools if p.volunteer]),
            Decimal(item.volunteer_value) / 100,
            "money",
        ),
        "energy_kwh": (
            _sum_expr([shown[p.id] for p in report.pools if p.unit == "Wh"]),
            Decimal(item.energy_wh) / 1000,
            "kilo",
        ),
        "carbon_kg": (
            _sum_expr([shown[p.id] for p in report.pools if p.unit == "g"]),
            Decimal(item.carbon_g) / 1000,
            "kilo",
        ),
    }
    for name, (expr, result, style) in lines.items():
        sheet.set(pay_rows[name], 0, Text(t[name], "bold" if name == "billed" else ""))
        sheet.set(pay_rows[name], 1, Formula(expr, value(result), style))
    return [sheet, inputs]
