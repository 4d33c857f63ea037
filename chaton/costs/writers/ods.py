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


CATEGORIES = ("purchase", "hosting", "energy", "recurring", "admin", "moderation")


@dataclass(frozen=True)
class _Book:
    """What the sheets of `summary.ods` share: the report, the texts, whether formula cells carry
    chaton's values, and the parties' rows on Keys, Allocation and Structures (the structures from
    `first` to `last`, the association on `assoc`, the totals on `total_row`)."""

    report: CostReport
    t: dict[str, str]
    cached: bool

    @property
    def count(self) -> int:
        return len(self.report.parties)

    @property
    def first(self) -> int:
        return 4

    @property
    def last(self) -> int:
        return 3 + max(self.count, 1)

    @property
    def assoc(self) -> int:
        return self.last + 1

    @property
    def total_row(self) -> int:
        return self.last + 2

    def value(self, amount: Value) -> Value | None:
        """A formula cell's cached value: `amount`, or None when the workbook carries none."""
        return amount if self.cached else None


@dataclass(frozen=True)
class _Keys:
    """The Keys sheet and its columns: five a server from column 6 (RAM, disk, CPU, ppm,
    weight), then the resources' ppm."""

    sheet: Sheet
    servers: list[str]

    @property
    def res_col(self) -> int:
        return 6 + 5 * len(self.servers)

    def ppm_col(self, server: str) -> int:
        return 6 + 5 * self.servers.index(server) + 3

    def weight_col(self, server: str) -> int:
        return 6 + 5 * self.servers.index(server) + 4

    def column(self, pool: Pool) -> int:
        """The column of the weights `pool` is shared by."""
        if pool.server is not None:
            return self.weight_col(pool.server)
        return {"accounts": 4, "structures": 5, "resources": self.res_col}[pool.key]


@dataclass(frozen=True)
class _Allocation:
    """The Allocation sheet and the column of each pool's shares on it."""

    sheet: Sheet
    share_col: dict[str, int]

    def shares_sum(self, row: int, chosen: Iterable[Pool], divisor: int) -> str:
        cells = [self.sheet.ref(self.share_col[pool.id], row) for pool in chosen]
        return f"({_sum_expr(cells)})/{divisor}"


def collective_sheets(report: CostReport, t: dict[str, str], cached: bool = True) -> list[Sheet]:
    """The sheets of `summary.ods` (see the module's docstring)."""
    book = _Book(report, t, cached)
    inputs, refs = _inputs_sheet(book)
    pools, formulas = _pools_sheet(book, refs)
    keys = _keys_sheet(book, refs)
    allocation = _allocation_sheet(book, keys, formulas)
    structures = _structures_sheet(book, refs, allocation)
    summary = _summary_sheet(book, refs, formulas, structures)
    return [summary, structures, inputs, pools, keys.sheet, allocation.sheet]


def _inputs_sheet(book: _Book) -> tuple[Sheet, InputRefs]:
    """The Inputs sheet of `summary.ods`: a title, then the inputs block."""
    t, report = book.t, book.report
    inputs = Sheet(t["sheet_inputs"], (9.0, 3.0, 3.0, 3.0, 3.0, 2.0, 3.0, 3.0, 3.0, 3.0))
    inputs.add(Text(f"{report.collective.name} — {t['period']} {report.period.label}", "title"))
    inputs.add()
    return inputs, write_inputs(inputs, report, t)


def _pools_sheet(book: _Book, refs: InputRefs) -> tuple[Sheet, PoolFormulas]:
    """The Pools sheet: each pool's amount (and each time category's total) as a formula."""
    t, report, value = book.t, book.report, book.value
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
    return pools_sheet, formulas


def _keys_sheet(book: _Book, refs: InputRefs) -> _Keys:
    """The Keys sheet: each party's weight in each key."""
    t, report = book.t, book.report
    servers = [server.name for server in report.collective.servers]
    sheet = Sheet(t["sheet_keys"], (4.0, 6.0, 3.0, 3.0, *([2.5] * (2 + 5 * len(servers) + 1))))
    keys = _Keys(sheet, servers)
    sheet.add(Text(t["sheet_keys"], "title"))
    sheet.add(*([None] * 6), *(cell for s in servers for cell in (Text(s, "bold"), *[None] * 4)))
    sheet.add(
        *(Text(t[k], "head") for k in ("slug", "name", "tier", "status", "accounts")),
        Text(t["per_structure"], "head"),
        *(
            Text(t[k], "head")
            for _s in servers
            for k in ("ram_mb", "disk_gb", "cpu_share", "ppm", "weight")
        ),
        Text(t["resources_ppm"], "head"),
    )
    for index, item in enumerate(report.structures):
        sheet.add(*_keys_structure_row(book, keys, refs, index, item))
    while len(sheet.rows) < book.last:
        sheet.add()
    sheet.add(*_keys_association_row(book, keys, refs))
    weight_columns = [4, 5, keys.res_col, *(keys.weight_col(name) for name in servers)]
    totals: list[Cell] = [Text(t["total"], "bold")] + [None] * keys.res_col
    for col in weight_columns:
        totals[col] = Formula(f"SUM({sheet.range(col, book.first, book.assoc)})", None, "int")
    sheet.add(*totals)
    return keys


def _keys_structure_row(
    book: _Book, keys: _Keys, refs: InputRefs, index: int, item: StructureCosts
) -> list[Cell]:
    """A structure's row of the Keys sheet: its accounts, reserved resources, ppm and weights."""
    value, sheet, first, last = book.value, keys.sheet, book.first, book.last
    row = first + index
    cells: list[Cell] = [
        Text(item.slug),
        Text(item.name),
        Text(item.tier),
        Text(book.t["status_" + item.status]),
        Num(item.accounts),
        Num(1),
    ]
    for name in keys.servers:
        reserved = item.reserved[name]
        ram, disk, cpu = (sheet.ref(c, row) for c in range(len(cells), len(cells) + 3))
        ppm_expr = ppm_formula(refs, name, ram, disk, cpu)
        ppm_ref = sheet.ref(keys.ppm_col(name), row)
        ppm_range = sheet.range(keys.ppm_col(name), first, last)
        pool_weight = book.report.pool(f"purchase:{name}").weights[index]
        cells += [
            Num(reserved.ram_mb),
            Num(reserved.disk_gb),
            Num(reserved.cpu_share),
            Formula(ppm_expr, value(item.ppm[name]), "int"),
            Formula(
                f"IF({refs.headroom}=1;{ppm_ref};IF(SUM({ppm_range})>0;{ppm_ref};"
                f"{sheet.ref(keys.res_col, row)}))",
                value(pool_weight),
                "int",
            ),
        ]
    cells.append(
        Formula(
            _sum_expr([sheet.ref(keys.ppm_col(name), row) for name in keys.servers]),
            value(sum(item.ppm.values())),
            "int",
        )
    )
    return cells


def _keys_association_row(book: _Book, keys: _Keys, refs: InputRefs) -> list[Cell]:
    """The association's row of the Keys sheet: the weight it takes when nobody else has any."""
    report, sheet, first, last = book.report, keys.sheet, book.first, book.last

    def fallback(col: int, weight: int) -> Formula:
        return Formula(f"IF(SUM({sheet.range(col, first, last)})>0;0;1)", book.value(weight), "int")

    cells: list[Cell] = [Text(book.t["association"], "bold"), None, None, None]
    cells += [
        fallback(4, 0 if any(item.accounts for item in report.structures) else 1),
        fallback(5, 0 if report.structures else 1),
    ]
    res_range = sheet.range(keys.res_col, first, last)
    for name in keys.servers:
        ppm_range = sheet.range(keys.ppm_col(name), first, last)
        cells += [
            None,
            None,
            None,
            None,
            Formula(
                f"IF({refs.headroom}=1;MAX(0;{PPM}-SUM({ppm_range}));IF(SUM({ppm_range})>0;0;"
                f"IF(SUM({res_range})>0;0;1)))",
                book.value(report.pool(f"purchase:{name}").weights[-1]),
                "int",
            ),
        ]
    cells.append(
        fallback(keys.res_col, 0 if any(sum(i.ppm.values()) for i in report.structures) else 1)
    )
    return cells


def _allocation_sheet(book: _Book, keys: _Keys, formulas: PoolFormulas) -> _Allocation:
    """The Allocation sheet: the largest remainder, pool by pool."""
    t, report, value = book.t, book.report, book.value
    first, assoc = book.first, book.assoc
    ordered = list(report.pools)
    sheet = Sheet(t["sheet_allocation"], (4.0, 6.0, *([2.6] * (3 * len(ordered)))))
    allocation = _Allocation(sheet, {})
    _allocation_header(book, allocation, formulas)
    party_rows = [(first + index, index) for index in range(book.count)] + [(assoc, book.count)]
    rows_cells: dict[int, list[Cell]] = {}
    for index, item in enumerate(report.structures):
        rows_cells[first + index] = [Text(item.slug), Text(item.name)]
    rows_cells[assoc] = [Text(t["association"], "bold"), None]
    for number, pool in enumerate(ordered):
        col = 2 + 3 * number
        amount = formulas.amount_ref[pool.id]
        kcol = keys.column(pool)
        big_w = keys.sheet.ref(kcol, book.total_row)
        left_ref = sheet.ref(col + 1, 2)
        weight_total = sum(pool.weights)
        for row, party in party_rows:
            weight = keys.sheet.ref(kcol, row)
            rem, floor = sheet.ref(col, row), sheet.ref(col + 1, row)
            exact = pool.amount * pool.weights[party]
            rows_cells[row] += [
                Formula(f"MOD({amount}*{weight};{big_w})", value(exact % weight_total), "int"),
                Formula(f"({amount}*{weight}-{rem})/{big_w}", value(exact // weight_total), "int"),
                Formula(
                    f"{floor}+IF(SUMPRODUCT(({sheet.range(col, first, assoc)}>{rem})*1)"
                    f"+SUMPRODUCT(({sheet.range(col, 3, row - 1)}={rem})*1)<{left_ref};1;0)",
                    value(pool.shares[party]),
                    "int",
                ),
            ]
    for row in range(first, assoc + 1):
        sheet.add(*rows_cells.get(row, []))
    return allocation


def _allocation_header(book: _Book, allocation: _Allocation, formulas: PoolFormulas) -> None:
    """The Allocation sheet's header rows; fills each pool's share column in `allocation`."""
    t, sheet, first, assoc = book.t, allocation.sheet, book.first, book.assoc
    header1: list[Cell] = [Text(t["sheet_allocation"], "title"), None]
    header2: list[Cell] = [Text(t["lr_note"]), None]
    header3: list[Cell] = [Text(t["slug"], "head"), Text(t["name"], "head")]
    for number, pool in enumerate(book.report.pools):
        col = 2 + 3 * number
        allocation.share_col[pool.id] = col + 2
        header1 += [Text(pool_label(pool, t), "bold"), None, None]
        left = pool.amount - sum(
            pool.amount * weight // sum(pool.weights) for weight in pool.weights
        )
        header2 += [
            Text(t["left_over"]),
            Formula(
                f"{formulas.amount_ref[pool.id]}-SUM({sheet.range(col + 1, first, assoc)})",
                book.value(left),
                "int",
            ),
            Formula(f"SUM({sheet.range(col + 2, first, assoc)})", book.value(pool.amount), "int"),
        ]
        header3 += [
            Text(t["remainder"], "head"),
            Text(t["floor"], "head"),
            Text(t["share"], "head"),
        ]
    sheet.add(*header1)
    sheet.add(*header2)
    sheet.add(*header3)


def _structures_sheet(book: _Book, refs: InputRefs, allocation: _Allocation) -> Sheet:
    """The Structures sheet: each one's fair share, tier, bill, energy and carbon."""
    t, report = book.t, book.report
    structures = Sheet(t["sheet_structures"], (4.0, 7.0, 3.0, 3.0, *([3.2] * 16)))
    structures.add(Text(f"{t['sheet_structures']} — {report.period.label}", "title"))
    structures.add(Text(t["how_to_read"]))
    structures.add(
        *(Text(t[k], "head") for k in ("slug", "name", "tier", "status")),
        *(Text(t["cat_" + c], "head") for c in CATEGORIES),
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
    for index, item in enumerate(report.structures):
        structures.add(
            Text(item.slug),
            Text(item.name),
            Text(report.collective.tiers[item.tier].label),
            Text(t["status_" + item.status]),
            *_structures_party_row(book, refs, structures, allocation, index, item),
        )
    while len(structures.rows) < book.last:
        structures.add()
    structures.add(
        Text(t["carried_row"], "bold"),
        None,
        None,
        None,
        *_structures_party_row(book, refs, structures, allocation, book.count, None),
    )
    total_cells: list[Cell] = [Text(t["total"], "bold"), None, None, None]
    for col in range(4, 20):
        if col in (11, 13):
            total_cells.append(None)
            continue
        total_cells.append(
            Formula(
                f"SUM({structures.range(col, book.first, book.assoc)})",
                None,
                "kilo" if col >= 18 else "money",
            )
        )
    structures.add(*total_cells)
    return structures


def _shares_total(
    book: _Book,
    allocation: _Allocation,
    row: int,
    party: int,
    chosen: Sequence[Pool],
    divisor: int,
    style: str = "money",
) -> Formula:
    """A Structures cell: the party's shares of the `chosen` pools, in euros or kilos."""
    return Formula(
        allocation.shares_sum(row, chosen, divisor),
        book.value(Decimal(sum(p.shares[party] for p in chosen)) / divisor),
        style,
    )


def _structures_party_row(
    book: _Book,
    refs: InputRefs,
    structures: Sheet,
    allocation: _Allocation,
    party: int,
    item: StructureCosts | None,
) -> list[Cell]:
    """A party's figures on the Structures sheet (`item` None for the association's row)."""
    pools = book.report.pools
    row = book.first + party if item is not None else book.assoc
    cells: list[Cell] = []
    for category in CATEGORIES:
        chosen = [p for p in pools if p.category == category and p.billable]
        cells.append(_shares_total(book, allocation, row, party, chosen, 100))
    fair = sum(p.shares[party] for p in pools if p.billable)
    cells.append(
        Formula(f"SUM({structures.row_range(4, 9, row)})", book.value(Decimal(fair) / 100))
    )
    if item is not None:
        cells += _structures_tier_cells(book, refs, structures, row, item)
    else:
        cells += [None] * 6
    volunteer = [p for p in pools if p.volunteer]
    energy = [p for p in pools if p.unit == "Wh"]
    carbon = [p for p in pools if p.unit == "g"]
    cells += [
        _shares_total(book, allocation, row, party, volunteer, 100),
        _shares_total(book, allocation, row, party, energy, 1000, "kilo"),
        _shares_total(book, allocation, row, party, carbon, 1000, "kilo"),
    ]
    return cells


def _structures_tier_cells(
    book: _Book, refs: InputRefs, structures: Sheet, row: int, item: StructureCosts
) -> list[Cell]:
    """A structure's tier on the Structures sheet: share paid, contribution, bill, waived."""
    value, tier = book.value, book.report.collective.tiers[item.tier]
    paid_rate, contribution_rate = refs.tiers[item.tier]
    fair_ref = structures.ref(10, row)
    return [
        Formula(paid_rate, value(tier.share_paid), "ratio"),
        Formula(
            f"ROUND({fair_ref}*{structures.ref(11, row)};2)",
            value(Decimal(item.paid) / 100),
        ),
        Formula(contribution_rate, value(tier.solidarity_contribution), "ratio"),
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


def _summary_sheet(
    book: _Book, refs: InputRefs, formulas: PoolFormulas, structures: Sheet
) -> Sheet:
    """The Summary sheet: the totals, the solidarity balance, its funding and the breakdown."""
    t, report, value = book.t, book.report, book.value
    summary = Sheet(t["sheet_summary"], (12.0, 4.0))
    summary.add(Text(f"{t['cost_summary']} — {report.collective.name}", "title"))
    summary.add(
        Text(
            f"{t['period']}: {report.period.start.isoformat()} — "
            f"{report.period.last_day.isoformat()}"
        )
    )
    summary.add(Text(t["summary_intro"]))
    summary.add()
    balance_ref = _summary_balance(book, summary, formulas, structures)
    summary.add()
    funding_refs = [
        _money_line(
            book,
            summary,
            label,
            f"ROUND(100*{amount}*{refs.months}*{times}/12;0)/100",
            funded.amount,
        )
        for (label, amount, times), funded in zip(refs.funding, report.funding, strict=True)
    ]
    funding_total = _money_line(
        book, summary, t["funding_total"], _sum_expr(funding_refs), report.funding_total
    )
    _money_line(
        book, summary, t["remaining"], f"{balance_ref}-{funding_total}", report.remaining, "bold"
    )
    summary.add()
    for key, col, total in (
        ("energy_kwh", 18, report.energy_wh),
        ("carbon_kg", 19, report.carbon_g),
    ):
        summary.add(
            Text(t[key]),
            Formula(
                f"SUM({structures.range(col, book.first, book.assoc)})",
                value(Decimal(total) / 1000),
                "kilo",
            ),
        )
    summary.add()
    summary.add(Text(t["breakdown"], "head"), Text(t["amount"], "head"))
    for category in CATEGORIES:
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
    return summary


def _money_line(
    book: _Book, summary: Sheet, label: str, expr: str, cents: int, style: str = "plain"
) -> str:
    """A Summary row (a label, a formula in euros); the reference of its figure."""
    row = summary.add(
        Text(label, "bold" if style == "bold" else ""),
        Formula(expr, book.value(Decimal(cents) / 100)),
    )
    return summary.ref(1, row)


def _summary_balance(book: _Book, summary: Sheet, formulas: PoolFormulas, structures: Sheet) -> str:
    """The Summary sheet's totals down to the check; the solidarity balance's reference."""
    t, report, first, last = book.t, book.report, book.first, book.last

    def line(key: str, expr: str, cents: int, style: str = "plain") -> str:
        return _money_line(book, summary, t[key], expr, cents, style)

    def column_sum(col: int) -> str:
        return f"SUM({structures.range(col, first, last)})"

    cost_refs = [formulas.amount_ref[p.id] for p in report.pools if p.unit == "cents"]
    volunteer_refs = [formulas.amount_ref[p.id] for p in report.pools if p.volunteer]
    line("total_cost", f"({_sum_expr(cost_refs)})/100", report.total_cost, "bold")
    volunteer = line(
        "of_which_volunteer", f"({_sum_expr(volunteer_refs)})/100", report.volunteer_value
    )
    summary.add()
    line("fair_total", column_sum(10), report.fair_total)
    carried = line("carried", structures.ref(10, book.assoc), report.carried)
    billed = line("billed_total", column_sum(15), report.billed_total, "bold")
    waived = line("waived_total", column_sum(16), report.waived_total)
    contributions = line("contributions_total", column_sum(14), report.contributions_total)
    balance = line(
        "solidarity_balance",
        f"{waived}+{carried}-{contributions}",
        report.solidarity_balance,
        "bold",
    )
    line("check", f"{billed}+{balance}+{volunteer}", report.total_cost)
    return balance


# ---------------------------------------------------------------------------------------------
# One structure's workbook


def ppm_formula(refs: InputRefs, server: str, ram: str, disk: str, cpu: str) -> str:
    """A party's ppm of `server`, from the cells of what it reserves there (`ram`, `disk`,
    `cpu`): the resources key, as chaton.costs.model computes it."""
    k_ram, k_disk, k_cpu = refs.weights
    s = refs.servers[server]
    return (
        f"ROUND({PPM}*({k_ram}*{ram}/{s['ram_mb']}+{k_disk}*{disk}/{s['disk_gb']}"
        f"+{k_cpu}*{cpu}/{s['cpu_share']})/({k_ram}+{k_disk}+{k_cpu});0)"
    )


@dataclass(frozen=True)
class _Party:
    """What the sheets of one structure's `<slug>.ods` share: the report, the texts, whether
    formula cells carry chaton's values, the structure's place among the parties, the Inputs
    sheet's references and the Sheet sheet being written."""

    report: CostReport
    t: dict[str, str]
    cached: bool
    party: int
    refs: InputRefs
    sheet: Sheet

    @property
    def item(self) -> StructureCosts:
        return self.report.structures[self.party]

    def value(self, amount: Value) -> Value | None:
        """A formula cell's cached value: `amount`, or None when the workbook carries none."""
        return amount if self.cached else None


PAY_LINES = (
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


def structure_sheets(
    report: CostReport, slug: str, t: dict[str, str], cached: bool = True
) -> list[Sheet]:
    """The sheets of `<slug>.ods` (see the module's docstring)."""
    inputs = Sheet(t["sheet_inputs"], (9.0, 3.0, 3.0, 3.0, 3.0, 2.0, 3.0, 3.0, 3.0, 3.0))
    refs = write_inputs(inputs, report, t)
    sheet = Sheet(t["sheet_sheet"], (9.0, 5.0, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2))
    book = _Party(report, t, cached, report.parties.index(slug), refs, sheet)
    pay_rows = _party_header(book)
    weights = _party_resources(book)
    shown = _party_pools(book, weights)
    _party_pay_lines(book, pay_rows, shown)
    return [sheet, inputs]


def _party_header(book: _Party) -> dict[str, int]:
    """The Sheet sheet's title lines, and a row left for each line of what the structure pays
    (filled by `_party_pay_lines` once the pools' rows are known)."""
    report, t, sheet, item = book.report, book.t, book.sheet, book.item
    collective = report.collective
    tier = collective.tiers[item.tier]
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
    pay_rows = {name: sheet.add() for name in PAY_LINES}
    sheet.add()
    return pay_rows


def _party_resources(book: _Party) -> dict[str, str]:
    """What the structure reserves on each server and the ppm it weighs there, its resources'
    ppm and its accounts; the cell of its weight for each basis ("server:<name>", "resources",
    "accounts")."""
    t, sheet, item = book.t, book.sheet, book.item
    sheet.add(Text(t["your_resources"], "head"))
    sheet.add(
        *(Text(t[key], "head") for key in ("server", "ram_mb", "disk_gb", "cpu_share", "ppm"))
    )
    weights: dict[str, str] = {}
    for server in book.report.collective.servers:
        reserved, row = item.reserved[server.name], len(sheet.rows) + 1
        ram, disk, cpu = (sheet.ref(col, row) for col in (1, 2, 3))
        sheet.add(
            Text(server.name),
            Num(reserved.ram_mb),
            Num(reserved.disk_gb),
            Num(reserved.cpu_share),
            Formula(
                ppm_formula(book.refs, server.name, ram, disk, cpu),
                book.value(item.ppm[server.name]),
                "int",
            ),
        )
        weights[f"server:{server.name}"] = sheet.ref(4, row)
    row = sheet.add(
        Text(t["resources_ppm"]),
        None,
        None,
        None,
        Formula(_sum_expr(list(weights.values())), book.value(sum(item.ppm.values())), "int"),
    )
    weights["resources"] = sheet.ref(4, row)
    row = sheet.add(Text(t["accounts"]), None, None, None, Num(item.accounts))
    weights["accounts"] = sheet.ref(4, row)
    sheet.add()
    return weights


def _party_pools(book: _Party, weights: dict[str, str]) -> dict[str, str]:
    """Each pool's line: its amount, the structure's weight in its key, the largest-remainder
    share; the cell of the amount shown, by pool."""
    report, t, sheet, party = book.report, book.t, book.sheet, book.party
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
    formulas = PoolFormulas(book.refs, {})
    for category in ("admin", "moderation"):
        formulas.time_totals[category] = formulas.time_total(category)
    first = len(sheet.rows) + 1
    for number, pool in enumerate(report.pools):
        formulas.amount_ref[pool.id] = sheet.ref(2, first + number)
    shown: dict[str, str] = {}
    for number, pool in enumerate(report.pools):
        row = first + number
        amount, weight, total = (sheet.ref(col, row) for col in (2, 3, 4))
        weight_cell: Cell = (
            Formula(weights[pool.basis], book.value(pool.weights[party]), "int")
            if pool.basis in weights
            else Num(pool.weights[party], "int")
        )
        weight_total = sum(pool.weights)
        exact = pool.amount * pool.weights[party]
        floor = exact // weight_total
        divisor = shown_divisor(pool)
        sheet.add(
            Text(pool_label(pool, t)),
            Text(key_label(pool, t)),
            Formula(formulas.formula(pool), book.value(pool.amount), "int"),
            weight_cell,
            Num(weight_total, "int"),
            Formula(
                f"{amount}*{weight}/{total}", book.value(Decimal(exact) / weight_total), "money"
            ),
            Formula(
                f"({amount}*{weight}-MOD({amount}*{weight};{total}))/{total}",
                book.value(floor),
                "int",
            ),
            Num(pool.shares[party] - floor, "int"),
            Formula(
                f"{sheet.ref(6, row)}+{sheet.ref(7, row)}",
                book.value(pool.shares[party]),
                "int",
            ),
            Formula(
                f"{sheet.ref(8, row)}/{divisor}",
                book.value(Decimal(pool.shares[party]) / divisor),
                "money" if pool.unit == "cents" else "kilo",
            ),
        )
        shown[pool.id] = sheet.ref(9, row)
    return shown


def _party_pay_lines(book: _Party, pay_rows: dict[str, int], shown: dict[str, str]) -> None:
    """What the structure pays, at the top of the sheet: its fair share of the billable pools,
    its tier's rates, what it is billed; its volunteer time, energy and carbon."""
    report, t, sheet, item = book.report, book.t, book.sheet, book.item
    tier = report.collective.tiers[item.tier]
    paid_rate, contribution_rate = book.refs.tiers[item.tier]
    fair = sheet.ref(1, pay_rows["fair_share"])

    def pools_sum(chosen: Iterable[Pool]) -> str:
        return _sum_expr([shown[pool.id] for pool in chosen])

    lines: dict[str, tuple[str, Value, str]] = {
        "fair_share": (
            pools_sum(p for p in report.pools if p.billable),
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
            pools_sum(p for p in report.pools if p.volunteer),
            Decimal(item.volunteer_value) / 100,
            "money",
        ),
        "energy_kwh": (
            pools_sum(p for p in report.pools if p.unit == "Wh"),
            Decimal(item.energy_wh) / 1000,
            "kilo",
        ),
        "carbon_kg": (
            pools_sum(p for p in report.pools if p.unit == "g"),
            Decimal(item.carbon_g) / 1000,
            "kilo",
        ),
    }
    for name, (expr, result, style) in lines.items():
        sheet.set(pay_rows[name], 0, Text(t[name], "bold" if name == "billed" else ""))
        sheet.set(pay_rows[name], 1, Formula(expr, book.value(result), style))
