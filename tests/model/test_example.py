"""The example collective is valid, and says what docs/schema.md says it says."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from chaton.loader import check_inventory, load_inventory

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example"

pytestmark = pytest.mark.usefixtures("english")


def test_example_inventory_is_valid() -> None:
    result = check_inventory(EXAMPLE)
    assert result.errors == ()
    assert result.valid


def test_example_collective_figures() -> None:
    inventory = load_inventory(EXAMPLE)
    collective = inventory.collective
    assert collective.name == "La Fabrique de la Transition"
    assert collective.hosting_association.name == "Alolise"
    assert collective.hosting_association.chatons_member is True
    # The playbooks and the demo container know the server by this name.
    assert [server.name for server in collective.servers] == ["fabrique-1"]
    costs = collective.servers[0].costs
    assert costs.purchase_price == Decimal("1500")
    assert costs.lifetime_years == 5
    assert costs.monthly_hosting == Decimal("30")
    assert costs.power_draw_watts == 60
    # Amounts are exact decimals, read from the text of the YAML number.
    assert collective.electricity_price_per_kwh == Decimal("0.2516")
    assert collective.recurring_costs[-1].amount == Decimal("4.50")
    assert set(collective.tiers) == {"member", "solidarity", "standard"}
    assert collective.tiers["solidarity"].share_paid == Decimal("0.3")


def test_example_structures_cover_sizes_tiers_and_services() -> None:
    structures = load_inventory(EXAMPLE).structures
    assert set(structures) >= {"velo-cite", "epicerie-coop", "monnaie-locale", "theatre-du-lien"}
    assert len(structures) >= 4
    assert {structure.tier for structure in structures.values()} == {
        "member",
        "solidarity",
        "standard",
    }
    for slug, structure in structures.items():
        assert structure.slug == slug
    modes = {s.services.mastodon.mode for s in structures.values() if s.services.mastodon}
    assert modes == {"shared", "dedicated"}
    storage = sorted(
        s.services.nextcloud.storage_gb for s in structures.values() if s.services.nextcloud
    )
    assert storage[0] < storage[-1]
    # An internationalised domain is part of the example.
    assert "théâtre-du-lien.fr" in structures["theatre-du-lien"].domains
    assert structures["epicerie-coop"].services.website is not None
    assert structures["epicerie-coop"].services.website.git_url is not None


def test_example_hosts_are_not_this_loaders_business(tmp_path: Path) -> None:
    # Files other than collective.yml and structures/*.yml (hosts.yml, generated/) are ignored.
    (tmp_path / "structures").mkdir()
    (tmp_path / "collective.yml").write_bytes((EXAMPLE / "collective.yml").read_bytes())
    (tmp_path / "hosts.yml").write_text("all: {hosts: {fabrique-1: {}}}\n", encoding="utf-8")
    (tmp_path / "structures" / "README.md").write_text("not a structure\n", encoding="utf-8")
    result = check_inventory(tmp_path)
    assert result.valid
    assert result.structures == {}
