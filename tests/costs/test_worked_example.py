"""`chaton costs` finds, on the worked example, the figures docs/costs.md computes by hand.

Every expected value below is written from the arithmetic in the doc (steps 1 to 6), not copied
from the program's output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from chaton.cli import main
from costs.support import WORKED


@pytest.fixture
def result(tmp_path: Path, capsys: pytest.CaptureFixture[str], english: None) -> dict[str, object]:
    code = main(
        [
            "costs",
            "-i",
            str(WORKED),
            "--year",
            "2025",
            "--out",
            str(tmp_path / "out"),
            "--format",
            "csv,html",
            "--json",
        ]
    )
    assert code == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_collective_figures(result: dict[str, object]) -> None:
    # Step 1: 300 + 120 + 105.12 + 36 + 60 + 480 + 240.
    assert result["total_cost"] == "1341.12"
    assert result["volunteer_value"] == "360.00"
    # Step 6.
    assert result["carried"] == "416.81"  # 238.12 + 95.25 + 83.44
    assert result["billed_total"] == "504.80"  # 323.85 + 88.95 + 92.00
    assert result["waived_total"] == "88.95"
    assert result["contributions_total"] == "29.44"
    assert result["solidarity_balance"] == "476.32"  # 88.95 + 416.81 - 29.44
    assert result["funding_total"] == "100.00"
    assert result["remaining"] == "376.32"
    assert result["energy_kwh"] == "525.600"  # 50 W x 8760 h x 1.2
    assert result["carbon_kgco2e"] == "126.280"  # 26.28 + 100


def test_pool_shares_with_their_roundings(result: dict[str, object]) -> None:
    pools = {pool["id"]: pool for pool in result["pools"]}  # type: ignore[attr-defined]
    order = ("atelier", "bibliotheque", "chorale", "association")

    def shares(pool_id: str) -> tuple[int, ...]:
        return tuple(pools[pool_id]["shares"][party] for party in order)

    # Step 3: the tie at a remainder of 0.5 goes to the first listed (bibliotheque).
    assert shares("purchase:serveur-1") == (4500, 1688, 0, 23812)
    assert shares("hosting:serveur-1") == (1800, 675, 0, 9525)
    # Two cents left over: to the association (.9) and atelier (.8).
    assert shares("energy:serveur-1") == (1577, 591, 0, 8344)
    assert shares("energy_wh:serveur-1") == (78840, 29565, 0, 417195)
    assert shares("carbon_grid_g:serveur-1") == (3942, 1478, 0, 20860)
    assert shares("carbon_embodied_g:serveur-1") == (15000, 5625, 0, 79375)
    # Step 4.
    assert shares("recurring:0") == (1200, 1200, 1200, 0)
    assert shares("recurring:1") == (4364, 1636, 0, 0)
    assert shares("admin:paid") == shares("admin:volunteer") == (8000, 8000, 8000, 0)
    assert shares("moderation:paid") == shares("moderation:volunteer") == (8000, 4000, 0, 0)


def test_structure_figures(result: dict[str, object]) -> None:
    structures = {item["slug"]: item for item in result["structures"]}  # type: ignore[attr-defined]
    expected = {
        "atelier": ("294.41", "294.41", "29.44", "323.85", "0.00", "160.00", "78.840", "18.942"),
        "bibliotheque": ("177.90", "88.95", "0.00", "88.95", "88.95", "120.00", "29.565", "7.103"),
        "chorale": ("92.00", "92.00", "0.00", "92.00", "0.00", "80.00", "0.000", "0.000"),
    }
    fields = (
        "fair_share",
        "paid",
        "contribution",
        "billed",
        "waived",
        "volunteer_value",
        "energy_kwh",
        "carbon_kgco2e",
    )
    for slug, values in expected.items():
        assert tuple(structures[slug][name] for name in fields) == values, slug


def test_the_csv_sheets_show_the_same_bills(result: dict[str, object]) -> None:
    files = [Path(path) for path in result["files"]]  # type: ignore[attr-defined]
    summary = next(path for path in files if path.name == "summary.csv")
    rows = list(csv.reader(summary.read_text(encoding="utf-8").splitlines()))
    billed = rows[0].index("Billed")
    assert {row[0]: row[billed] for row in rows[1:4]} == {
        "atelier": "323.85",
        "bibliotheque": "88.95",
        "chorale": "92.00",
    }
    sheet = next(path for path in files if path.name == "atelier.csv").read_text(encoding="utf-8")
    assert "Billed,,,,,323.85,EUR" in sheet


def test_the_catalogue_prices_a_website_as_the_doc_does(
    tmp_path: Path, english: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "catalog.html"
    assert main(["catalog", "-i", str(WORKED), "--year", "2025", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    # 37,500 ppm x (52,512 / 10^6 + 6,000 / 206,250) = 3,060.11 cents a year.
    row = page[page.index("Website") :].split("</tr>")[0]
    assert [cell.split("<")[0] for cell in row.split('class="num">')[1:]] == [
        "€30.60",
        "€33.66",
        "€15.30",
    ]
    membership = page[page.index("Membership of the collective") :].split("</tr>")[0]
    assert "€92.00" in membership
