"""What `chaton backup` and `chaton restore` work on, worked out by hand from the example's
structure files (tests/render/golden: one server, fabrique-1), and what they refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import ROOT

from chaton.backups import (
    backup_plan,
    check_at,
    restore_plan,
    restore_source,
    server_restore_plan,
)
from chaton.cli import main
from chaton.commands import backup as backup_command
from chaton.errors import BadInput
from chaton.runner import HostStats, RunResult
from chaton.yamlio import load_vars

pytestmark = pytest.mark.usefixtures("english")

GOLDEN = ROOT / "tests" / "render" / "golden" / "example" / "host_vars" / "fabrique-1.yml"


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return {"fabrique-1": load_vars(GOLDEN.read_text(encoding="utf-8"))}


def test_a_structures_restore_is_its_own_instances(example: dict[str, Any]) -> None:
    # Vélo-Cité: a website, a Nextcloud, lists (the server's Mailman), accounts on the shared
    # Mastodon: only the first two are its own.
    assert restore_plan(example, "velo-cite") == {
        "fabrique-1": ["nextcloud-velo-cite", "website-velo-cite"]
    }
    assert restore_plan(example, "velo-cite", "nextcloud") == {
        "fabrique-1": ["nextcloud-velo-cite"]
    }
    # The Réseau des Jardins has a Mastodon of its own.
    assert restore_plan(example, "reseau-jardins", "mastodon") == {
        "fabrique-1": ["mastodon-reseau-jardins"]
    }


@pytest.mark.parametrize(
    ("slug", "service", "message"),
    [
        ("velo-cite", "lists", "velo-cite's lists are in its server's Mailman"),
        ("velo-cite", "mastodon", "velo-cite's Mastodon accounts are on the collective's shared"),
        ("monnaie-locale", "website", "monnaie-locale has no website instance of its own"),
        ("inconnue", None, "inconnue has no instance of its own to restore"),
    ],
)
def test_what_cannot_be_restored_for_one_structure_is_refused(
    example: dict[str, Any], slug: str, service: str | None, message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        restore_plan(example, slug, service)


def test_a_rebuilt_servers_restore_is_every_instance_of_it(example: dict[str, Any]) -> None:
    everything = server_restore_plan(example, "fabrique-1")["fabrique-1"]
    assert len(everything) == 11 and "mastodon-shared" in everything
    assert server_restore_plan(example, "fabrique-1", "lists") == {
        "fabrique-1": ["mailman-fabrique-1"]
    }
    with pytest.raises(BadInput, match=r"no server fabrique-9 in the rendered inventory"):
        server_restore_plan(example, "fabrique-9")


def test_a_backup_now_takes_the_structures_data_wherever_it_is(example: dict[str, Any]) -> None:
    assert backup_plan(example, "velo-cite") == {
        "fabrique-1": [
            "mailman-fabrique-1",
            "mastodon-shared",
            "nextcloud-velo-cite",
            "website-velo-cite",
        ]
    }
    # The Monnaie locale: a Nextcloud and lists, no website, no Mastodon.
    assert backup_plan(example, "monnaie-locale") == {
        "fabrique-1": ["mailman-fabrique-1", "nextcloud-monnaie-locale"]
    }
    everything = backup_plan(example)["fabrique-1"]
    assert len(everything) == 11  # 4 websites, 4 Nextclouds, 2 Mastodons, Mailman
    assert backup_plan({"empty-1": {}}) == {}


@pytest.mark.parametrize("at", ["2026-11-27", "2026-11-27T03:00", "2026-11-27 03:00:59"])
def test_a_date_or_a_time_is_accepted(at: str) -> None:
    assert check_at(at) == at


@pytest.mark.parametrize("at", ["hier", "27/11/2026", "2026-11-27T3h", "2026-11-27;rm"])
def test_anything_else_is_refused(at: str) -> None:
    with pytest.raises(BadInput, match="give a day"):
        check_at(at)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["restore", "inconnue"], "no structure inconnue in the inventory"),
        (["restore", "velo-cite", "--service", "lists"], "velo-cite's lists are in its server"),
        (["restore", "velo-cite", "--at", "hier"], "--at hier: give a day"),
        (["backup", "--structure", "inconnue"], "no structure inconnue in the inventory"),
        (["restore"], "name a structure (SLUG) or a server (--server NAME), not both"),
        (["restore", "velo-cite", "--server", "fabrique-1"], "name a structure (SLUG) or"),
        (["restore", "--server", "fabrique-9"], "no server fabrique-9 in the rendered"),
        (["restore", "velo-cite", "--from", "../fabrique-1"], "--from ../fabrique-1: not a server"),
    ],
)
def test_the_commands_refuse_before_any_server_is_reached(
    rendered: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    password = ["--vault-password-file", str(rendered.parent / "vault-password")]
    assert main([*args, "--inventory", str(rendered), *password]) == 2
    assert message in capsys.readouterr().err


def test_the_commands_refuse_an_inventory_not_rendered(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["restore", "velo-cite"], ["restore", "--server", "x"], ["backup"]):
        assert main([*command, "--inventory", str(inventory)]) == 2
        assert "not rendered yet" in capsys.readouterr().err


def test_another_servers_repository_is_read_with_its_own_passphrase(
    example: dict[str, Any],
) -> None:
    assert restore_source(None) is None
    # The reference `chaton render` gave fabrique-1's passphrase (the golden host_vars): the
    # one a server of another name finds in the vault once fabrique-1 is gone.
    assert restore_source("fabrique-1") == {
        "server": "fabrique-1",
        "passphrase": example["fabrique-1"]["backup_secrets"]["passphrase"],
    }
    reference = example["fabrique-1"]["backup_secrets"]["passphrase"]
    assert reference == "backup/fabrique-1/passphrase"


def test_from_gives_the_other_servers_repository_to_the_servers_restored(
    rendered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[dict[str, Any]] = []

    def recording_run_plan(
        collective: Any, playbook: Path, variable: str, per_server: dict[str, dict[str, Any]]
    ) -> RunResult:
        """A test double of run_plan: records what each server is given, runs nothing."""
        given.append({"variable": variable, **per_server})
        return RunResult("failed", 2, {server: HostStats(failures=1) for server in per_server})

    monkeypatch.setattr(backup_command, "run_plan", recording_run_plan)
    password = rendered.parent / "vault-password"
    inventory = ["--inventory", str(rendered), "--vault-password-file", str(password)]
    assert main(["restore", "velo-cite", "--from", "fabrique-0", *inventory]) == 1
    assert main(["restore", "velo-cite", "--from", "fabrique-1", *inventory]) == 1
    assert main(["restore", "--server", "fabrique-1", *inventory]) == 1
    moved, same, own = given
    assert moved["variable"] == "chaton_restore"
    assert moved["fabrique-1"]["source"] == {
        "server": "fabrique-0",
        "passphrase": "backup/fabrique-0/passphrase",
    }
    assert moved["fabrique-1"]["instances"] == ["nextcloud-velo-cite", "website-velo-cite"]
    assert moved["fabrique-1"]["dry_run"] is True
    # From the server the instances are on: its own repository, as without --from.
    assert "source" not in same["fabrique-1"]
    assert "source" not in own["fabrique-1"]
