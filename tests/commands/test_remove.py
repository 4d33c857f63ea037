"""What a server records of each instance (the `chaton_instance_records` filter, worked out by
hand from the example's structure files through tests/render/golden), and what `chaton remove`
refuses and prints. The removal itself runs on a real server in tests/test_backup_drill.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import ROOT, filter_plugin

from chaton.cli import main
from chaton.commands.remove import export_dir, print_outcomes
from chaton.runner import HostStats, RunResult
from chaton.units import instance_units
from chaton.yamlio import load_vars

pytestmark = pytest.mark.usefixtures("english")

GOLDEN = ROOT / "tests" / "render" / "golden" / "example" / "host_vars" / "fabrique-1.yml"


chaton_instance_records = filter_plugin("chaton_instances", "chaton_instance_records")


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return dict(load_vars(GOLDEN.read_text(encoding="utf-8")))


def test_a_nextclouds_record_names_each_of_its_pieces(example: dict[str, Any]) -> None:
    # By hand: Vélo-Cité's Nextcloud (structures/velo-cite.yml) is user, pool, Redis and vhost
    # nextcloud-velo-cite, database nextcloud_velo_cite, at /srv/nextcloud/velo-cite, its tmp
    # folder not backed up.
    (record,) = chaton_instance_records(["nextcloud/velo-cite"], example)
    assert record == {
        "id": "nextcloud/velo-cite",
        "kind": "nextcloud",
        "name": "velo-cite",
        "structure": "velo-cite",
        "item": {
            "name": "velo-cite",
            "structure": "velo-cite",
            "structure_name": "Vélo-Cité",
            "domain": "cloud.velo-cite.fr",
            "aliases": [],
            "user": "nextcloud-velo-cite",
            "home": "/srv/nextcloud/velo-cite",
            "database": "nextcloud_velo_cite",
            "redis": "nextcloud-velo-cite",
            "php_fpm_pool": "nextcloud-velo-cite",
        },
        "units": ["nextcloud-cron@velo-cite.timer", "redis-server@nextcloud-velo-cite.service"],
        "databases": [{"name": "nextcloud_velo_cite", "owner": "nextcloud_velo_cite"}],
        "redis_instances": ["nextcloud-velo-cite"],
        "php_fpm_pools": ["nextcloud-velo-cite"],
        "nginx_vhosts": ["nextcloud-velo-cite"],
        "backup_instances": [
            {
                "name": "nextcloud-velo-cite",
                "instance": "nextcloud/velo-cite",
                "structure": "velo-cite",
                "paths": ["/srv/nextcloud/velo-cite"],
                "exclude": ["/srv/nextcloud/velo-cite/tmp"],
                "databases": ["nextcloud_velo_cite"],
            }
        ],
    }


def test_a_record_holds_no_secret_nor_account(example: dict[str, Any]) -> None:
    records = chaton_instance_records(example["chaton_instances"], example)
    text = json.dumps(records)
    assert "secrets" not in text and "password" not in text
    # Nobody's address: the Nextcloud accounts, the Mastodon accounts and admin addresses stay
    # out (every address the host's lists hold, looked for one by one).
    addresses = {
        person["email"]
        for key in ("nextcloud_instances", "mastodon_instances")
        for item in example[key]
        for person in item.get("users", []) + item.get("accounts", [])
    } | {item["admin_email"] for item in example["nextcloud_instances"]}
    assert len(addresses) > 5
    assert not [address for address in addresses if address in text]
    # A website built from git keeps no address of its repository (it may hold a token).
    assert "framagit" not in text


def test_a_sites_record_and_a_mastodons(example: dict[str, Any]) -> None:
    site, social = chaton_instance_records(
        ["website/epicerie-coop", "mastodon/reseau-jardins"], example
    )
    # L'Épicerie's site builds from git: its build timer is its unit; no database, no Redis.
    assert site["units"] == ["chaton-website-build-epicerie-coop.timer"]
    assert site["item"]["home"] == "/srv/www/epicerie-coop"
    assert (site["databases"], site["redis_instances"], site["php_fpm_pools"]) == ([], [], [])
    assert site["nginx_vhosts"] == ["website-epicerie-coop"]
    assert [b["name"] for b in site["backup_instances"]] == ["website-epicerie-coop"]
    # The Réseau des Jardins's own Mastodon: three processes, its cleanup timer, its Redis.
    assert social["units"] == [
        "mastodon-web@reseau-jardins.service",
        "mastodon-sidekiq@reseau-jardins.service",
        "mastodon-streaming@reseau-jardins.service",
        "mastodon-cleanup@reseau-jardins.timer",
        "redis-server@mastodon-reseau-jardins.service",
    ]
    assert social["databases"] == [
        {"name": "mastodon_reseau_jardins", "owner": "mastodon_reseau_jardins"}
    ]


def test_lists_have_no_record_of_their_own(example: dict[str, Any]) -> None:
    # A structure's lists live in the server's Mailman: nothing is theirs alone to remove.
    assert chaton_instance_records(["lists/velo-cite"], example) == []
    ids = [r["id"] for r in chaton_instance_records(example["chaton_instances"], example)]
    assert ids == [i for i in example["chaton_instances"] if not i.startswith("lists/")]


def test_an_instance_missing_from_its_list_is_an_error(example: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="nextcloud/inconnue is not once in nextcloud_instances"):
        chaton_instance_records(["nextcloud/inconnue"], example)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["remove", "Velo_Cite"], "Velo_Cite is not a structure's slug"),
        (["remove", "../etc"], "../etc is not a structure's slug"),
    ],
)
def test_remove_refuses_a_bad_slug(
    rendered: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([*args, "--inventory", str(rendered)]) == 2
    assert message in capsys.readouterr().err
    assert not (rendered / "exports").exists()


def test_remove_refuses_an_inventory_not_rendered(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["remove", "velo-cite", "--inventory", str(inventory)]) == 2
    assert "not rendered yet" in capsys.readouterr().err


# What the playbook writes for each instance (playbooks/remove.yml), written here by hand.
RECORD = {
    "item": {"home": "/srv/nextcloud/velo-cite", "user": "nextcloud-velo-cite"},
    "databases": [{"name": "nextcloud_velo_cite", "owner": "nextcloud_velo_cite"}],
    "redis_instances": ["nextcloud-velo-cite"],
    "php_fpm_pools": ["nextcloud-velo-cite"],
    "nginx_vhosts": ["nextcloud-velo-cite"],
    "units": ["nextcloud-cron@velo-cite.timer"],
}
WOULD = {
    "server": "fabrique-1",
    "id": "nextcloud/velo-cite",
    "kind": "nextcloud",
    "structure": "velo-cite",
    "dry_run": True,
    "rc": 0,
    "removable": True,
    "backed_up": False,
    "export_dir": "/inv/exports/velo-cite",
    "pieces": RECORD,
}
# A test double of a report for a kind of instance the removal playbook does not know how to
# remove (every recorded kind is removable today: chaton_removable_kinds in playbooks/remove.yml).
KEPT_UNKNOWN_KIND = {**WOULD, "id": "peertube/velo-cite", "kind": "peertube", "removable": False}
REMOVED = {
    "server": "fabrique-1",
    "id": "nextcloud/velo-cite",
    "kind": "nextcloud",
    "structure": "velo-cite",
    "dry_run": False,
    "rc": 0,
    "backed_up": True,
    "export": {"file": "/inv/exports/velo-cite/x.tar.gz", "sha256": "ab12", "bytes": 2048},
}
FAILED = {**REMOVED, "rc": 1, "error": "Dump its databases: pg_dump: error"}


def run(rc: int = 0) -> RunResult:
    """A run's result as the runner returns it (a test double: no playbook ran)."""
    return RunResult(
        status="successful" if rc == 0 else "failed", rc=rc, hosts={"fabrique-1": HostStats()}
    )


def test_a_dry_run_says_what_each_piece_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_outcomes("velo-cite", [WOULD], run(), dry_run=True, as_json=False) == 0
    out = capsys.readouterr().out
    assert "fabrique-1 nextcloud/velo-cite: would be removed:" in out
    assert "NOT backed up first: its server has no backup repository" in out
    assert "exported into /inv/exports/velo-cite" in out
    assert "its folder /srv/nextcloud/velo-cite and its account nextcloud-velo-cite" in out
    assert "databases: nextcloud_velo_cite" in out
    assert "vhosts and certificates: nextcloud-velo-cite" in out
    assert "Nothing was changed: run again with --yes to remove." in out


def test_a_kind_not_removable_yet_is_said_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = [WOULD, KEPT_UNKNOWN_KIND]
    assert print_outcomes("velo-cite", outcomes, run(), dry_run=True, as_json=False) == 1
    out = capsys.readouterr().out
    assert "peertube/velo-cite: stays kept: removing a peertube instance is not done yet" in out
    assert "run again with --yes" not in out


def test_a_removal_says_where_the_export_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_outcomes("velo-cite", [REMOVED], run(), dry_run=False, as_json=False) == 0
    out = capsys.readouterr().out
    assert "fabrique-1 nextcloud/velo-cite: removed" in out
    assert "backed up one last time (its archives stay in the repository)" in out
    assert "its export: /inv/exports/velo-cite/x.tar.gz (2048 bytes, SHA-256 ab12)" in out


def test_a_failed_removal_says_why_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_outcomes("velo-cite", [REMOVED, FAILED], run(), dry_run=False, as_json=True) == 1
    assert json.loads(capsys.readouterr().out)["instances"][1]["error"].startswith("Dump its")


def test_nothing_to_remove_says_how_a_service_is_removed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert print_outcomes("velo-cite", [], run(), dry_run=True, as_json=False) == 0
    out = capsys.readouterr().out
    assert "Nothing of velo-cite to remove" in out
    assert "take it out of the structure's file" in out
    assert "Nothing was changed" not in out


def test_a_run_that_failed_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_outcomes("velo-cite", [], run(rc=2), dry_run=True, as_json=False) == 1


def test_exports_are_kept_per_structure_in_the_inventory(tmp_path: Path) -> None:
    assert export_dir(tmp_path, "velo-cite") == tmp_path / "exports" / "velo-cite"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/inventories/*/exports/" in ignored


def test_the_export_is_fetched_as_a_stream_not_through_memory() -> None:
    # Ansible's fetch with become reads the whole file in memory (slurp, base64): an export of a
    # Nextcloud can be gigabytes. It is fetched as the login account, which alone may read it.
    (block,) = yaml.safe_load((ROOT / "playbooks/tasks/remove_instance.yml").read_text())
    tasks = block["block"]
    fetches = [t for t in tasks if "ansible.builtin.fetch" in t]
    assert len(fetches) == 1 and fetches[0].get("become") is False
    position = {t["name"].split(":")[0]: i for i, t in enumerate(tasks)}
    handed = tasks[position["Let that account read the export, and no one else"]]
    assert handed["ansible.builtin.file"]["owner"] == "{{ __chaton_login_user.stdout }}"
    assert handed["ansible.builtin.file"]["mode"] == "0400"
    assert (
        position["Make the export file, readable by root only"]
        < position["Pack its files and its dumps"]
        < position["Let that account read the export, and no one else"]
        < tasks.index(fetches[0])
    )


def test_every_recorded_kind_is_removable_by_its_role() -> None:
    recorded = filter_plugin("chaton_instances", "RECORDED_KINDS")
    play = yaml.safe_load((ROOT / "playbooks/remove.yml").read_text())[0]
    assert sorted(play["vars"]["chaton_removable_kinds"]) == sorted(recorded)
    for kind in recorded:
        assert (ROOT / "roles" / kind / "tasks" / "remove.yml").is_file(), kind
        specs = yaml.safe_load((ROOT / "roles" / kind / "meta" / "argument_specs.yml").read_text())
        assert f"{kind}_remove" in specs["argument_specs"]["remove"]["options"], kind


def test_a_kind_without_known_units_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(ValueError, match="peertube"):
        instance_units("peertube", {"name": "velo-cite"})
    # A site not built from git runs no unit of its own; with git, its build timer.
    assert instance_units("website", {"name": "a"}) == []
    assert instance_units("website", {"name": "a", "git": {}}) == []
    assert instance_units("website", {"name": "a", "git": {"url": "x"}}) == [
        "chaton-website-build-a.timer"
    ]
