"""`chaton plan` from the command line: the table, JSON, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaton.cli import main

# English messages and `inventory`, a writable copy of the example: tests/conftest.py.
pytestmark = pytest.mark.usefixtures("english")


def test_plan_of_the_example(inventory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "-i", str(inventory)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Worked out by hand from collective.yml: see tests/test_placement.py.
    assert lines[0] == "fabrique-1: headroom 26 %"
    assert lines[1] == "  RAM (MB): 11520 reserved of 28672 (40 %), 17152 free"
    assert lines[2] == "  disk (GB): 603.4 reserved of 1900 (32 %), 1296.6 free"
    assert lines[3] == "  CPU (cores): 5.18 reserved of 7 (74 %), 1.82 free"
    rows = [line.split() for line in lines[5:]]
    assert ["nextcloud/velo-cite", "992", "52", "0.55", "chosen"] in rows
    assert len(rows) == 15  # Mailman and the 14 instances


def test_plan_json(inventory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "-i", str(inventory), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fits"] is True
    (server,) = result["servers"]
    assert server["capacity"] == {"ram_mb": 28672, "disk_gb": 1900, "cpu_share": 7}
    assert server["reserved"] == {"ram_mb": 11520, "disk_gb": 603.4, "cpu_share": 5.18}
    assert server["headroom"] == 0.26
    shared = next(i for i in server["instances"] if i["id"] == "mastodon/shared")
    assert shared == {
        "id": "mastodon/shared",
        "kind": "mastodon",
        "structure": None,
        "footprint": {"ram_mb": 3136, "disk_gb": 68, "cpu_share": 1.04},
        "placement": "chosen",
    }


def test_plan_after_render_keeps_and_reports_removals(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (inventory / "generated").mkdir()
    (inventory / "generated" / ".vault-password").write_text("pw\n")
    assert main(["render", "-i", str(inventory)]) == 0
    (inventory / "structures" / "monnaie-locale.yml").unlink()
    capsys.readouterr()
    assert main(["plan", "-i", str(inventory), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["removed"] == ["lists/monnaie-locale", "nextcloud/monnaie-locale"]
    sources = {i["placement"] for i in result["servers"][0]["instances"]}
    assert sources == {"kept"}


def test_plan_that_does_not_fit_exits_1_with_the_reason(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = inventory / "structures" / "velo-cite.yml"
    # 900 accounts: more than the offer allows, so raise the offer too.
    collective = inventory / "collective.yml"
    collective.write_text(collective.read_text().replace("max_accounts: 100", "max_accounts: 900"))
    path.write_text(path.read_text().replace("accounts: 15", "accounts: 900"))
    assert main(["plan", "-i", str(inventory)]) == 1
    err = capsys.readouterr().err
    # velo-cite's Nextcloud comes before its lists and website, after everything else:
    # RAM: needs 512 + 900 x 32 = 29312; left 28672 - (11520 - 992 - 32) = 18176.
    # CPU: needs 0.25 + 900 x 0.02 = 18.25; left 7 - (5.18 - 0.55 - 0.02) = 2.39.
    assert err == (
        "cannot place nextcloud/velo-cite: fits on no server: fabrique-1: "
        "RAM (MB) short by 11136 (needs 29312, 18176 left of 28672), "
        "CPU (cores) short by 15.86 (needs 18.25, 2.39 left of 7)\n"
    )
    assert main(["plan", "-i", str(inventory), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["fits"] is False
    assert [r["instance"] for r in result["refusals"]] == ["nextcloud/velo-cite"]


def test_plan_of_an_invalid_inventory_exits_2(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = inventory / "structures" / "velo-cite.yml"
    path.write_text(path.read_text().replace("tier: member", "tier: gold"))
    assert main(["plan", "-i", str(inventory)]) == 2
    assert "unknown tier 'gold'" in capsys.readouterr().err


def test_plan_in_french(
    inventory: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LANGUAGE")
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert main(["plan", "-i", str(inventory)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fabrique-1 : marge 26 %\n")
    assert "mémoire (Mo) : 11520 réservés sur 28672 (40 %), 17152 libres" in out
