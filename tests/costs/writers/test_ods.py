"""The ODS workbooks open in LibreOffice, which recomputes them from their formulas: the totals
it finds equal chaton's, and changing an input cell changes them the way chaton would."""

from __future__ import annotations

import csv
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from odf.namespaces import OFFICENS  # type: ignore[import-untyped]
from odf.opendocument import load  # type: ignore[import-untyped]
from odf.table import Table, TableCell, TableRow  # type: ignore[import-untyped]

from chaton.costs.formatting import euros
from chaton.costs.labels import texts
from chaton.costs.model import CostReport, Period
from chaton.costs.sheets import report_for_inventory
from chaton.costs.writers import ods
from costs.support import EXAMPLE, WORKED, needs

pytestmark = needs("soffice")
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def recomputed(path: Path) -> dict[str, list[list[str]]]:
    """Every sheet of `path` as LibreOffice computes it (raw values, not as displayed)."""
    out = path.parent / "lo"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{path.parent / 'lo-profile'}",
            "--headless",
            "--convert-to",
            CSV_FILTER,
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return {
        csv_path.stem.removeprefix(path.stem + "-"): list(
            csv.reader(csv_path.read_text(encoding="utf-8").splitlines())
        )
        for csv_path in out.glob(f"{path.stem}-*.csv")
    }


def cents(text: str) -> str:
    """A number LibreOffice wrote (`3073.42`, `2880`) as two-decimal euros."""
    return f"{Decimal(text):.2f}"


def check_summary(sheets: dict[str, list[list[str]]], report: CostReport) -> None:
    t = texts("en")
    summary = {row[0]: row[1] for row in sheets[t["sheet_summary"]] if len(row) > 1 and row[1]}
    assert cents(summary[t["total_cost"]]) == euros(report.total_cost)
    assert cents(summary[t["of_which_volunteer"]]) == euros(report.volunteer_value)
    assert cents(summary[t["billed_total"]]) == euros(report.billed_total)
    assert cents(summary[t["carried"]]) == euros(report.carried)
    assert cents(summary[t["solidarity_balance"]]) == euros(report.solidarity_balance)
    assert cents(summary[t["check"]]) == euros(report.total_cost)
    assert cents(summary[t["remaining"]]) == euros(report.remaining)
    assert Decimal(summary[t["energy_kwh"]]) == Decimal(report.energy_wh) / 1000
    assert Decimal(summary[t["carbon_kg"]]) == Decimal(report.carbon_g) / 1000
    rows = sheets[t["sheet_structures"]]
    header = rows[2]
    billed, fair = header.index(t["billed"]), header.index(t["fair_share"])
    found = {
        row[0]: (cents(row[fair]), cents(row[billed])) for row in rows[3 : 3 + len(report.parties)]
    }
    assert found == {
        item.slug: (euros(item.fair_share), euros(item.billed)) for item in report.structures
    }


@pytest.mark.parametrize("inventory", [WORKED, EXAMPLE], ids=["worked", "example"])
def test_libreoffice_recomputes_chatons_totals(inventory: Path, tmp_path: Path) -> None:
    report, _ = report_for_inventory(inventory, Period.year(2025))
    path = tmp_path / "summary.ods"
    # No cached values: whatever LibreOffice shows, it computed from the formulas.
    ods.save(ods.collective_sheets(report, texts("en"), cached=False), path)
    check_summary(recomputed(path), report)


def test_a_structures_own_workbook_recomputes_its_bill(tmp_path: Path) -> None:
    report, _ = report_for_inventory(WORKED, Period.year(2025))
    path = tmp_path / "atelier.ods"
    ods.save(ods.structure_sheets(report, "atelier", texts("en"), cached=False), path)
    sheet = recomputed(path)[texts("en")["sheet_sheet"]]
    values = {row[0]: row[1] for row in sheet if len(row) > 1 and row[1]}
    assert cents(values["Billed"]) == "323.85"  # docs/costs.md, step 5
    assert cents(values["Fair share of the costs"]) == "294.41"


def set_input(path: Path, label: str, value: str) -> None:
    """Change the value next to `label` on the Inputs sheet, as a reader would."""
    doc = load(str(path))
    for table in doc.spreadsheet.getElementsByType(Table):
        if table.getAttribute("name") != texts("en")["sheet_inputs"]:
            continue
        for row in table.getElementsByType(TableRow):
            cells = row.getElementsByType(TableCell)
            if len(cells) > 1 and str(cells[0]) == label:
                cells[1].setAttrNS(OFFICENS, "value", value)
                doc.save(str(path))
                return
    raise AssertionError(f"no input {label}")


def test_changing_an_input_cell_recomputes_the_totals(tmp_path: Path) -> None:
    report, _ = report_for_inventory(WORKED, Period.year(2025))
    path = tmp_path / "summary.ods"
    # Without cached values: a file edited outside LibreOffice is recomputed when opened (in
    # LibreOffice itself, editing a cell recomputes what depends on it).
    ods.save(ods.collective_sheets(report, texts("en"), cached=False), path)
    # The hourly rate goes from 20 to 30 EUR: administration 2 h x 12 x 30 = 720 EUR (was 480)
    # and moderation 360 EUR (was 240), half volunteer each (docs/costs.md, step 1):
    # total 1,341.12 + 240 + 120 = 1,701.12 EUR; volunteer 360 + 180 = 540 EUR.
    set_input(path, texts("en")["hourly_rate"], "30")
    sheets = recomputed(path)
    summary = {row[0]: row[1] for row in sheets["Summary"] if len(row) > 1 and row[1]}
    assert cents(summary["Total cost of the period"]) == "1701.12"
    assert cents(summary["of which volunteer time (valued, not billed)"]) == "540.00"
    # chorale pays domain names 12 EUR + a third of the paid administration (360 / 3 = 120 EUR).
    rows = sheets["Structures"]
    billed = rows[2].index("Billed")
    assert {row[0]: cents(row[billed]) for row in rows[3:6]}["chorale"] == "132.00"
