"""Whose a change is: the structure index built from rendered host_vars, and a real run's
per-structure table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import ROOT

from chaton.attribution import StructureIndex, event_values
from chaton.runner import RunResult, run_playbook
from chaton.yamlio import load_vars

GOLDEN = ROOT / "tests" / "render" / "golden" / "example" / "host_vars" / "fabrique-1.yml"


@pytest.fixture(scope="module")
def example() -> StructureIndex:
    return StructureIndex.from_host_vars(load_vars(GOLDEN.read_text(encoding="utf-8")))


# Names and paths as the roles write them (by hand, from the roles' tasks and the example).
@pytest.mark.parametrize(
    ("values", "structure"),
    [
        ({"dest": "/etc/nginx/sites-available/nextcloud-velo-cite.conf"}, "velo-cite"),
        (
            {"argv": ["php", "/srv/nextcloud/epicerie-coop/release/occ", "status"]},
            "epicerie-coop",
        ),
        ({"name": "nextcloud-cron@monnaie-locale.timer", "state": "started"}, "monnaie-locale"),
        (
            {"name": "nextcloud_theatre_du_lien", "owner": "nextcloud_theatre_du_lien"},
            "theatre-du-lien",
        ),
        ({"item": {"name": "nextcloud_velo_cite", "instance": "nextcloud/velo-cite"}}, "velo-cite"),
        ({"path": "/srv/www/reseau-jardins/public"}, "reseau-jardins"),
        ({"address": "adherents@lists.velo-cite.fr"}, "velo-cite"),
        ({"dest": "/etc/opendkim/keys/chaton._domainkey.lists.lesoulibre.org.private"}, None),
        # The collective's shared Mastodon is nobody's: the server's own.
        ({"dest": "/etc/redis/mastodon-shared.conf"}, None),
        # Two structures named: the server's own (a shared file).
        (
            {"content": "velo-cite.fr\nepicerie-coop.fr\n", "x": ["velo-cite", "epicerie-coop"]},
            None,
        ),
        ({"name": ["php8.2-fpm", "php8.2-pgsql"], "state": "present"}, None),
    ],
)
def test_a_change_is_the_structure_its_names_say(
    example: StructureIndex, values: object, structure: str | None
) -> None:
    assert example.structure_of(values) == structure


def test_databases_are_their_instances_structures(example: StructureIndex) -> None:
    # Named by the instance they serve (postgresql_databases has no structure key).
    assert example.structure_of("nextcloud_theatre_du_lien") == "theatre-du-lien"
    assert example.structure_of("mastodon_reseau_jardins") == "reseau-jardins"
    assert example.structure_of("mailman3") is None


def test_event_values_leave_the_output_out() -> None:
    result = {
        "item": {"name": "a"},
        "_ansible_item_label": "a",
        "dest": "/srv/a/x",
        "invocation": {"module_args": {"dest": "/srv/a/x"}},
        "stdout": "b c d",
        "diff": {"after": "b"},
        "changed": True,
    }
    values = event_values(result)
    assert values == [{"name": "a"}, "a", "/srv/a/x", {"module_args": {"dest": "/srv/a/x"}}, True]


def test_a_runs_changes_are_counted_per_structure(tmp_path: Path) -> None:
    sites = [
        {"name": name, "structure": name, "domain": f"{name}.example", "home": str(tmp_path / name)}
        for name in ("alpha", "beta")
    ]
    for site in sites:
        Path(site["home"]).mkdir()
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {ROOT / '.venv' / 'bin' / 'python'}\n"
        f"      play_dir: {tmp_path}\n"
    )
    index = StructureIndex.from_host_vars({"website_sites": sites})

    def run() -> RunResult:
        return run_playbook(
            ROOT / "tests" / "runner_fixtures" / "structures_play.yml",
            hosts,
            runs_dir=tmp_path / "runs",
            fact_cache=tmp_path / "facts",
            extra_args=["--extra-vars", json.dumps({"website_sites": sites})],
            indexes={"h1": index},
        )

    result = run()
    assert result.succeeded, result.output_tail
    # Per structure: its file and its page (an included task); the server: its file. The
    # secrets' task (no_log) hides even that it changed: it is in the host's stats only.
    assert result.structure_changes == {"h1": {"alpha": 2, "beta": 2, "": 1}}
    assert result.hosts["h1"].changed == 5  # the included task counts once per site
    # A rerun changes nothing, for anyone.
    assert run().structure_changes == {}
