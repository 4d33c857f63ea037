"""Placement: footprints, headroom, the choice of a server, pins, stability, refusals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from builders import WEBSITE, collective, server, structure

from chaton.errors import ExitCode
from chaton.loader import load_inventory
from chaton.placement import (
    Amount,
    DoesNotFit,
    capacity,
    headroom,
    instances,
    moved,
    place,
    removed,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "inventories" / "example"


def test_example_footprints_and_totals_worked_out_by_hand() -> None:
    inventory = load_inventory(EXAMPLE)
    by_id = {i.id: i for i in instances(inventory.collective, inventory.structures)}
    # velo-cite: Nextcloud 512 + 15 x 32 MB; 2 GB + 50 GB of storage; 0.25 + 15 x 0.02 cores.
    assert by_id["nextcloud/velo-cite"].footprint == Amount(
        Decimal(992), Decimal(52), Decimal("0.55")
    )
    # The shared Mastodon: 1 (epicerie) + 1 (theatre) + 2 (velo) = 4 accounts.
    # 3072 + 4 x 16 MB, 60 + 4 x 2 GB, 1 + 4 x 0.01 cores.
    assert by_id["mastodon/shared"].footprint == Amount(Decimal(3136), Decimal(68), Decimal("1.04"))
    assert by_id["mastodon/shared"].structure is None
    # reseau-jardins' dedicated instance, 60 accounts: 2560 + 960, 40 + 120, 1 + 0.6.
    assert by_id["mastodon/reseau-jardins"].footprint == Amount(
        Decimal(3520), Decimal(160), Decimal("1.6")
    )
    # epicerie-coop's three lists at 0.2 GB each; Mailman itself is the server's, not here.
    assert by_id["lists/epicerie-coop"].footprint == Amount(disk_gb=Decimal("0.6"))
    assert "lists/theatre-du-lien" not in by_id  # no lists asked for
    assert len(by_id) == 14

    plan = place(inventory.collective, inventory.structures)
    (fabrique,) = plan.servers
    # 32768 - 4096 MB, 2000 - 100 GB, 8 - 1 cores.
    assert fabrique.capacity == Amount(Decimal(28672), Decimal(1900), Decimal(7))
    assert fabrique.mailman == Amount(Decimal(512), Decimal(2), Decimal("0.1"))
    # Sum of the 14 footprints and Mailman once (added up by hand from collective.yml).
    assert fabrique.reserved == Amount(Decimal(11520), Decimal("603.4"), Decimal("5.18"))
    # CPU is the tightest: (7 - 5.18) / 7 = 0.26.
    assert fabrique.headroom == Decimal("0.26")
    assert {p.source for p in fabrique.instances} == {"chosen"}


def test_headroom_is_the_smallest_fraction_left() -> None:
    total = Amount(Decimal(1000), Decimal(100), Decimal(4))
    assert headroom(total, Amount(Decimal(500), Decimal(10), Decimal(1))) == Decimal("0.5")
    assert headroom(total, Amount(Decimal(0), Decimal(90), Decimal(0))) == Decimal("0.1")
    assert headroom(total, Amount(cpu_share=Decimal(5))) == Decimal("-0.25")


def test_capacity_is_resources_minus_reserve() -> None:
    reserve = {"ram_mb": 1000, "disk_gb": 50, "cpu_share": 0.5}
    c = collective(server("alpha", 4, 8000, 500, system_reserve=reserve))
    assert capacity(c.servers[0]) == Amount(Decimal(7000), Decimal(450), Decimal("3.5"))


def test_most_headroom_is_judged_on_the_tightest_resource() -> None:
    # a has far more free RAM, but only 2 cores; b is balanced.
    c = collective(server("alpha", 2, 64000, 1000), server("beta", 8, 8000, 1000))
    s = structure("velo", nextcloud={"accounts": 1, "storage_gb": 1})
    # Footprint: 1010 MB, 11 GB, 0.51 cores.
    # After on a: min(62990/64000, 989/1000, 1.49/2 = 0.745) = 0.745.
    # After on b: min(6990/8000 = 0.87375, 989/1000, 7.49/8) = 0.87375 -> b.
    plan = place(c, {"velo": s})
    assert plan.placements == {"nextcloud/velo": "beta"}


def test_ties_go_to_the_first_server_and_load_spreads() -> None:
    c = collective(server("alpha", 8, 16384, 1000), server("beta", 8, 16384, 1000))
    structures = {slug: structure(slug, website=WEBSITE) for slug in ("s1", "s2", "s3")}
    plan = place(c, structures)
    # s1: tie -> a; s2: b has more headroom; s3: tie again -> a.
    assert plan.placements == {"website/s1": "alpha", "website/s2": "beta", "website/s3": "alpha"}


def test_recorded_instances_stay_when_a_structure_is_added() -> None:
    c = collective(server("alpha", 8, 16384, 1000), server("beta", 8, 16384, 1000))
    structures = {slug: structure(slug, website=WEBSITE) for slug in ("s1", "s2", "s3")}
    first = place(c, structures).placements
    # s0 sorts first: placed from scratch it would take a and push the others around.
    structures["s0"] = structure("s0", website=WEBSITE)
    fresh = place(c, structures).placements
    assert fresh == {
        "website/s0": "alpha",
        "website/s1": "beta",
        "website/s2": "alpha",
        "website/s3": "beta",
    }
    # With the record of the first placement, nothing moves and s0 goes to b (1 site vs 2).
    again = place(c, structures, recorded=first)
    assert {k: again.placements[k] for k in first} == first
    assert again.placements["website/s0"] == "beta"
    sources = {p.instance.id: p.source for s in again.servers for p in s.instances}
    assert sources == {
        "website/s0": "chosen",
        "website/s1": "kept",
        "website/s2": "kept",
        "website/s3": "kept",
    }
    assert moved(again, first) == []


def test_a_pin_wins_over_the_record_and_over_headroom() -> None:
    c = collective(server("alpha", 8, 16384, 1000), server("beta", 8, 16384, 1000))
    structures = {
        "s1": structure("s1", website=WEBSITE),
        "s2": structure("s2", website=WEBSITE, placement="alpha"),
    }
    plan = place(c, structures, recorded={"website/s2": "beta"})
    # Pins are placed first: s2 on a, then s1 (new) goes to the emptier b.
    assert plan.placements == {"website/s1": "beta", "website/s2": "alpha"}
    assert moved(plan, {"website/s2": "beta"}) == [("website/s2", "beta", "alpha")]


def test_shared_mastodon_is_not_moved_by_a_structure_pin() -> None:
    c = collective(server("alpha", 8, 16384, 1000), server("beta", 8, 16384, 1000))
    structures = {
        "s1": structure(
            "s1",
            placement="beta",
            mastodon={"accounts": 3},
            nextcloud={"accounts": 1, "storage_gb": 1},
        )
    }
    plan = place(c, structures)
    # The pinned Nextcloud is placed first on b; the shared instance then goes to the emptier a.
    assert plan.placements == {"nextcloud/s1": "beta", "mastodon/shared": "alpha"}
    shared = next(i for i in instances(c, structures) if i.id == "mastodon/shared")
    # 2000 + 3 x 10 MB, 50 + 3 x 1 GB, 1 + 3 x 0.01 cores.
    assert shared.footprint == Amount(Decimal(2030), Decimal(53), Decimal("1.03"))


def test_mailman_is_counted_once_per_server() -> None:
    c = collective(server("alpha", 8, 16384, 1000))
    lists = [{"name": "info", "owners": ["x@y.org"]}, {"name": "ca", "owners": ["x@y.org"]}]
    structures = {slug: structure(slug, lists=lists) for slug in ("s1", "s2")}
    (alpha,) = place(c, structures).servers
    assert alpha.mailman == Amount(Decimal(500), Decimal(2), Decimal("0.1"))
    # Mailman (500 MB, 2 GB, 0.1) once, plus 2 x 2 lists x 0.5 GB.
    assert alpha.reserved == Amount(Decimal(500), Decimal(4), Decimal("0.1"))


def test_nothing_fits_names_every_server_and_resource() -> None:
    c = collective(server("alpha", 8, 16384, 100), server("beta", 8, 16384, 200))
    structures = {"big": structure("big", nextcloud={"accounts": 1, "storage_gb": 500})}
    with pytest.raises(DoesNotFit) as caught:
        place(c, structures)
    error = caught.value
    assert error.code == ExitCode.FAILED
    (refusal,) = error.refusals
    assert refusal.instance == "nextcloud/big"
    # Needs 10 + 500 = 510 GB: a has 100 (short by 410), b has 200 (short by 310).
    assert "alpha: disk (GB) short by 410 (needs 510, 100 left of 100)" in refusal.reason
    assert "beta: disk (GB) short by 310 (needs 510, 200 left of 200)" in refusal.reason
    assert "RAM" not in refusal.reason


def test_a_pinned_instance_that_does_not_fit_is_refused_and_the_rest_placed() -> None:
    c = collective(server("alpha", 8, 16384, 100), server("beta", 8, 16384, 1000))
    structures = {
        "big": structure("big", nextcloud={"accounts": 1, "storage_gb": 500}, placement="alpha"),
        "small": structure("small", website=WEBSITE),
    }
    with pytest.raises(DoesNotFit) as caught:
        place(c, structures)
    (refusal,) = caught.value.refusals
    assert refusal.instance == "nextcloud/big"
    assert refusal.reason.startswith(
        "does not fit on alpha, where it is pinned: disk (GB) short by 410"
    )
    assert caught.value.plan.placements == {"website/small": "alpha"}


def test_a_kept_instance_on_a_removed_server_is_placed_again() -> None:
    c = collective(server("alpha", 8, 16384, 1000))
    structures = {"s1": structure("s1", website=WEBSITE)}
    plan = place(c, structures, recorded={"website/s1": "gone", "website/old": "alpha"})
    assert plan.placements == {"website/s1": "alpha"}
    assert removed(plan, {"website/s1": "gone", "website/old": "alpha"}) == ["website/old"]


def test_suspended_structures_keep_their_room() -> None:
    c = collective(server("alpha", 8, 16384, 1000))
    structures = {"s1": structure("s1", website=WEBSITE, status="suspended")}
    assert place(c, structures).placements == {"website/s1": "alpha"}


def test_placement_is_deterministic() -> None:
    c = collective(server("alpha", 32, 16384, 1000), server("beta", 16, 32768, 500))
    slugs = [f"s{n:02d}" for n in range(12)]
    forward = {
        s: structure(s, website=WEBSITE, nextcloud={"accounts": 2, "storage_gb": 5}) for s in slugs
    }
    backward = {s: forward[s] for s in reversed(slugs)}
    assert place(c, forward) == place(c, backward)
