"""`chaton validate` from the command line: exit codes, one error per line, JSON, French."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chaton.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example"
ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<rest>.+)$")

BAD_STRUCTURE = """\
name: Zèbre
slug: zz-case
contacts:
  - name: Zoé
    email: zoe
tier: gold
domains: [velo-cite.fr]
"""


@pytest.fixture
def broken(inventory: Path) -> Path:
    (inventory / "structures" / "zz-case.yml").write_text(BAD_STRUCTURE, encoding="utf-8")
    return inventory


@pytest.mark.usefixtures("english")
def test_valid_example_exits_0_with_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    structures = len(list((EXAMPLE / "structures").glob("*.yml")))
    assert out == f"{EXAMPLE}: {structures} structures, 1 servers: valid\n"


@pytest.mark.usefixtures("english")
def test_default_inventory_is_the_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLE.parents[1])
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("inventories/example: ")


@pytest.mark.usefixtures("english")
def test_invalid_exits_2_with_every_error_on_its_line(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--inventory", str(broken)]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    file = broken / "structures" / "zz-case.yml"
    assert lines == [
        f"{file}:5:12: contacts[0].email: 'zoe' is not a valid email address "
        "(expected something like name@example.org)",
        f"{file}:6:7: tier: unknown tier 'gold'; the collective's tiers are: "
        "member, solidarity, standard",
        f"{file}:7:11: domains[0]: domain 'velo-cite.fr' is already used by "
        "structures/velo-cite.yml",
    ]
    for line in lines:
        assert ERROR_LINE.match(line)
    assert captured.err == "3 error(s): the inventory is not valid\n"


@pytest.mark.usefixtures("english")
def test_json_output(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(broken), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["servers"] == 1
    assert report["structures"] == len(list((broken / "structures").glob("*.yml")))
    assert [(e["line"], e["column"], e["path"]) for e in report["errors"]] == [
        (5, 12, "contacts[0].email"),
        (6, 7, "tier"),
        (7, 11, "domains[0]"),
    ]
    assert report["errors"][1]["file"] == str(broken / "structures" / "zz-case.yml")


@pytest.mark.usefixtures("english")
def test_json_output_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(EXAMPLE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["errors"] == []


@pytest.mark.usefixtures("french")
def test_french_output(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(broken)]) == 2
    captured = capsys.readouterr()
    file = broken / "structures" / "zz-case.yml"
    assert captured.out.splitlines() == [
        f"{file}:5:12: contacts[0].email: 'zoe' n'est pas une adresse e-mail valide "
        "(attendu : quelque chose comme nom@exemple.org)",
        f"{file}:6:7: tier: formule inconnue 'gold' ; les formules du collectif sont : "
        "member, solidarity, standard",
        f"{file}:7:11: domains[0]: le domaine 'velo-cite.fr' est déjà utilisé par "
        "structures/velo-cite.yml",
    ]
    assert captured.err == "3 erreur(s) : l'inventaire n'est pas valide\n"


@pytest.mark.usefixtures("french")
def test_french_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.endswith(" serveurs : valide\n")


@pytest.mark.usefixtures("english")
def test_help_mentions_the_error_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "--inventory" in out
    assert "--json" in out
    assert "file:line:column" in out


@pytest.mark.usefixtures("english")
def test_missing_inventory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(tmp_path / "nowhere")]) == 2
    assert "no inventory folder" in capsys.readouterr().err
