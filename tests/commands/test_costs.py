"""`chaton costs` and `chaton catalog` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from costs.support import EXAMPLE, WORKED

from chaton.cli import main


def test_bad_format_is_bad_input(
    tmp_path: Path, english: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["costs", "-i", str(WORKED), "--year", "2025", "--out", str(tmp_path), "--format", "xls"]
    )
    assert code == 2
    assert "unknown format xls" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_months_is_bad_input(tmp_path: Path, english: None) -> None:
    assert main(["costs", "-i", str(WORKED), "--months", "0", "--out", str(tmp_path)]) == 2


def test_french_sheets_and_files(
    tmp_path: Path, english: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "costs",
            "-i",
            str(EXAMPLE),
            "--year",
            "2025",
            "--out",
            str(tmp_path),
            "--format",
            "html,csv,ods",
            "--lang",
            "fr",
        ]
    )
    assert code == 0
    names = sorted(path.name for path in tmp_path.iterdir())
    slugs = ["epicerie-coop", "monnaie-locale", "reseau-jardins", "theatre-du-lien", "velo-cite"]
    expected = sorted(
        [f"{slug}.{ext}" for slug in [*slugs, "summary"] for ext in ("html", "csv", "ods")]
        + ["pools.csv", "totals.csv"]
    )
    assert names == expected
    page = (tmp_path / "monnaie-locale.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in page
    assert "Ce que vous payez" in page and "Formule" in page
    assert "wrote 20 files" in capsys.readouterr().out


def test_a_period_of_six_months(
    tmp_path: Path, english: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code = main(
        [
            "costs",
            "-i",
            str(WORKED),
            "--period-start",
            "2025-07",
            "--months",
            "6",
            "--out",
            str(tmp_path),
            "--format",
            "csv",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["period"] == {
        "start": "2025-07-01",
        "last_day": "2025-12-31",
        "months": 6,
        "hours": 4416,
    }
    # Half a year: purchase 150 EUR, hosting 60 EUR, domains 18 EUR, backups 30 EUR, time 360 EUR
    # (half volunteer); energy 50 W x 4,416 h x 1.2 = 264.96 kWh x 0.20 = 52.99 EUR (52.992).
    assert data["total_cost"] == "670.99"
