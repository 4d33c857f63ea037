"""The pure cross-document checks, on models built in memory (no files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaton.loader import load_inventory
from chaton.model import Collective, Structure
from chaton.validation import StructureKeys, validate

EXAMPLE = Path(__file__).resolve().parents[1] / "inventories" / "example"

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(scope="module")
def collective() -> Collective:
    return load_inventory(EXAMPLE).collective


def _structure(slug: str, **fields: Any) -> Structure:
    data: dict[str, Any] = {
        "name": slug.title(),
        "slug": slug,
        "contacts": [{"name": "Alex", "email": f"alex@{slug}.org"}],
        "tier": "member",
        "domains": [f"{slug}.org"],
    }
    data.update(fields)
    return Structure.model_validate(data)


def test_distinct_structures_have_no_finding(collective: Collective) -> None:
    structures = {"aa-one": _structure("aa-one"), "bb-two": _structure("bb-two")}
    assert validate(collective, structures) == []


def test_a_domain_is_reported_on_the_second_file_only(collective: Collective) -> None:
    structures = {
        "aa-one": _structure("aa-one", domains=["shared.org"]),
        "bb-two": _structure("bb-two", domains=["bb-two.org", "shared.org"]),
    }
    findings = validate(collective, structures)
    assert [(f.document, f.path) for f in findings] == [("structures/bb-two.yml", ("domains", 1))]
    assert findings[0].values["other"] == "structures/aa-one.yml"


def test_unicode_and_punycode_forms_are_the_same_domain(collective: Collective) -> None:
    structures = {
        "aa-one": _structure("aa-one", domains=["café.org"]),
        "bb-two": _structure("bb-two", domains=["xn--caf-dma.org"]),
    }
    findings = validate(collective, structures)
    assert [f.template for f in findings] == ["domain {value} is already used by {other}"]


def test_subdomain_of_the_collective_is_allowed(collective: Collective) -> None:
    # Structures without a domain of their own get one under the collective's.
    structures = {"aa-one": _structure("aa-one", domains=["aa-one.fabrique-transition.org"])}
    assert validate(collective, structures) == []


def test_partial_keys_are_checked_when_the_structure_is_invalid(collective: Collective) -> None:
    partial = {"zz-bad": StructureKeys(slug="zz-bad", tier="gold", domains=((0, "aa-one.org"),))}
    findings = validate(collective, {"aa-one": _structure("aa-one")}, partial)
    assert sorted(f.path for f in findings) == [("domains", 0), ("tier",)]


def test_checks_against_the_collective_are_skipped_without_one() -> None:
    structures = {"aa-one": _structure("aa-one", tier="unknown", placement="nowhere")}
    assert validate(None, structures) == []


def test_dedicated_mastodon_needs_a_domain_but_shared_does_not(collective: Collective) -> None:
    shared = _structure("aa-one", domains=[], services={"mastodon": {"accounts": 2}})
    dedicated = _structure(
        "bb-two", domains=[], services={"mastodon": {"mode": "dedicated", "accounts": 2}}
    )
    findings = validate(collective, {"aa-one": shared, "bb-two": dedicated})
    assert [(f.document, f.path) for f in findings] == [
        ("structures/bb-two.yml", ("services", "mastodon"))
    ]


def test_too_many_lists(collective: Collective) -> None:
    lists = [{"name": f"list-{n}", "owners": ["a@aa-one.org"]} for n in range(21)]
    findings = validate(collective, {"aa-one": _structure("aa-one", services={"lists": lists})})
    assert [(f.path, f.values) for f in findings] == [
        (("services", "lists"), {"value": 21, "limit": 20})
    ]
