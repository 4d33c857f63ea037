"""The PDF sheets show the chart and the table: rendered to PNG (kept under runs/artifacts/ for a
person to look at) and read back as text."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from chaton.costs.labels import texts
from chaton.costs.model import Period
from chaton.costs.sheets import report_for_inventory
from chaton.costs.writers.html import pdf, structure_html, summary_html
from costs.support import ARTIFACTS, EXAMPLE, WORKED, needs

weasyprint = pytest.importorskip("weasyprint", reason="WeasyPrint is not installed")


@needs("pdftoppm")
@needs("pdftotext")
@pytest.mark.parametrize(
    ("inventory", "name", "lang", "figures"),
    [
        # docs/costs.fr.md, step 5: atelier is billed 323,85 EUR.
        (WORKED, "atelier", "fr", ["323,85", "Ce que vous payez", "Répartition des coûts"]),
        (WORKED, "summary", "en", ["504.80", "476.32", "Breakdown of the costs"]),
        (EXAMPLE, "summary", "fr", ["Synthèse des coûts", "Solde de solidarité"]),
    ],
)
def test_pdf_pages_show_chart_and_table(
    inventory: Path, name: str, lang: str, figures: list[str], tmp_path: Path
) -> None:
    report, _ = report_for_inventory(inventory, Period.year(2025))
    t = texts(lang)
    html = (
        summary_html(report, t, lang)
        if name == "summary"
        else structure_html(report, name, t, lang)
    )
    assert "<svg" in html and "<rect" in html  # the chart is drawn by the template
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf(html))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    for figure in figures:
        assert figure in text.replace("\u202f", " ").replace(" ", " "), figure
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = ARTIFACTS / f"costs-{inventory.name}-{name}-{lang}"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(path),
            str(prefix),
        ],
        check=True,
    )
    png = prefix.with_suffix(".png")
    assert png.stat().st_size > 20_000  # a page with a chart, not a blank one
    shutil.copy(path, prefix.with_suffix(".pdf"))
