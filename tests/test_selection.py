"""`chaton deploy --structure`: what each server's chaton_selection names, what the roles'
`chaton_selected` filter keeps of the rendered lists, and a real run that reads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import ROOT, filter_plugin

from chaton.deploying import read_rendered
from chaton.errors import BadInput
from chaton.runner import run_playbook
from chaton.selection import selection_inventory, selections, server_selection
from chaton.yamlio import load_vars

GOLDEN = ROOT / "tests" / "render" / "golden" / "example" / "host_vars" / "fabrique-1.yml"

pytestmark = pytest.mark.usefixtures("english")


chaton_selected = filter_plugin("chaton_selection", "chaton_selected")


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return load_vars(GOLDEN.read_text(encoding="utf-8"))


# By hand, from inventories/example/structures/*.yml: Vélo-Cité has a Nextcloud, accounts on
# the shared Mastodon, lists and a website; the Réseau des Jardins its own Mastodon, lists and a
# website; the Monnaie locale a Nextcloud and lists. Lists bring the server's Mailman.
@pytest.mark.parametrize(
    ("slug", "instances"),
    [
        (
            "velo-cite",
            [
                "lists/velo-cite",
                "mailman/fabrique-1",
                "mastodon/shared",
                "nextcloud/velo-cite",
                "website/velo-cite",
            ],
        ),
        (
            "reseau-jardins",
            [
                "lists/reseau-jardins",
                "mailman/fabrique-1",
                "mastodon/reseau-jardins",
                "website/reseau-jardins",
            ],
        ),
        (
            "monnaie-locale",
            ["lists/monnaie-locale", "mailman/fabrique-1", "nextcloud/monnaie-locale"],
        ),
    ],
)
def test_a_structures_selection_names_its_instances_and_the_shared_ones_it_uses(
    example: dict[str, Any], slug: str, instances: list[str]
) -> None:
    assert server_selection(example, slug) == {"structure": slug, "instances": instances}


def test_a_structure_with_nothing_on_a_server_has_no_selection_there(
    example: dict[str, Any],
) -> None:
    assert server_selection(example, "absente") is None
    assert selections({"fabrique-1": example, "vide": {}}, "velo-cite").keys() == {"fabrique-1"}


def names(items: list[dict[str, Any]], key: str = "name") -> list[str]:
    return sorted(str(item[key]) for item in items)


def test_the_filter_keeps_velo_cites_pieces_and_the_shared_ones_it_uses(
    example: dict[str, Any],
) -> None:
    selection = server_selection(example, "velo-cite")

    def kept(variable: str, key: str = "name") -> list[str]:
        return names(chaton_selected(example[variable], selection), key)

    assert kept("website_sites") == ["velo-cite"]
    assert kept("nextcloud_instances") == ["velo-cite"]
    assert kept("mastodon_instances") == ["shared"]  # Vélo-Cité has accounts there
    assert kept("nginx_vhosts") == [
        "mailman-velo-cite",
        "mastodon-shared",
        "nextcloud-velo-cite",
        "website-velo-cite",
    ]
    assert kept("postgresql_databases") == [
        "mailman3",
        "mailman3web",
        "mastodon_shared",
        "nextcloud_velo_cite",
    ]
    assert kept("redis_instances") == ["mastodon-shared", "nextcloud-velo-cite"]
    assert kept("php_fpm_pools") == ["nextcloud-velo-cite"]
    assert kept("mailman_domains", "domain") == ["lists.velo-cite.fr"]
    assert kept("mailman_lists", "address") == [
        "adherents@lists.velo-cite.fr",
        "atelier@lists.velo-cite.fr",
    ]
    assert kept("opendkim_keys", "domain") == ["lists.velo-cite.fr"]


def test_a_dedicated_mastodon_is_its_structures_only(example: dict[str, Any]) -> None:
    selection = server_selection(example, "reseau-jardins")
    assert names(chaton_selected(example["mastodon_instances"], selection)) == ["reseau-jardins"]
    assert names(chaton_selected(example["redis_instances"], selection)) == [
        "mastodon-reseau-jardins"
    ]


def test_without_a_selection_everything_is_kept(example: dict[str, Any]) -> None:
    assert chaton_selected(example["nginx_vhosts"], None) == example["nginx_vhosts"]
    assert chaton_selected(example["nginx_vhosts"], {}) == example["nginx_vhosts"]


def test_an_item_that_is_not_a_mapping_is_an_error() -> None:
    with pytest.raises(TypeError, match="not a mapping"):
        chaton_selected(["velo-cite"], {"structure": "velo-cite", "instances": []})


def test_a_run_works_on_the_selected_items_and_writes_the_shared_file_whole(
    tmp_path: Path,
) -> None:
    """The selection reaches the play as a host variable of an extra inventory (as `chaton
    deploy --structure` gives it), and the project's ansible.cfg finds the filter."""
    sites = [
        {"name": name, "structure": name, "domain": f"{name}.example"} for name in ("alpha", "beta")
    ]
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {ROOT / '.venv' / 'bin' / 'python'}\n"
        f"      play_dir: {tmp_path}\n"
    )
    chosen = tmp_path / "selection.yml"
    chosen.write_text(
        yaml.safe_dump(selection_inventory({"h1": {"structure": "beta", "instances": []}}))
    )
    result = run_playbook(
        ROOT / "tests" / "runner_fixtures" / "selection_play.yml",
        [hosts, chosen],
        runs_dir=tmp_path / "runs",
        fact_cache=tmp_path / "facts",
        extra_args=["--extra-vars", json.dumps({"website_sites": sites})],
    )
    assert result.succeeded, result.output_tail
    assert (tmp_path / "beta.conf").read_text() == "beta.example\n"
    assert not (tmp_path / "alpha.conf").exists()
    assert (tmp_path / "shared.conf").read_text() == "alpha.example\nbeta.example\n"


def test_deploy_structure_selects_the_servers_with_the_structure(rendered: Path) -> None:
    found = read_rendered(rendered, rendered.parent / "vault-password").selection("velo-cite")
    assert list(found) == ["fabrique-1"]
    assert found["fabrique-1"]["structure"] == "velo-cite"


@pytest.mark.parametrize(
    ("slug", "limit", "message"),
    [
        ("inconnue", None, "no structure inconnue in the inventory (known: epicerie-coop,"),
        ("velo-cite", "fabrique-1", "--structure chooses the servers itself: leave --limit out"),
    ],
)
def test_deploy_structure_refuses_bad_input(
    rendered: Path, slug: str, limit: str | None, message: str
) -> None:
    with pytest.raises(BadInput, match=message.replace("(", r"\(")):
        read_rendered(rendered, rendered.parent / "vault-password").selection(slug, limit)


def test_deploy_structure_before_a_render_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "example"
    shutil.copytree(
        ROOT / "inventories" / "example", root, ignore=shutil.ignore_patterns("generated")
    )
    with pytest.raises(BadInput, match="not rendered yet"):
        read_rendered(root).selection("velo-cite")
