"""The cost model's arithmetic, on cases worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from chaton.costs.model import (
    Period,
    Reserved,
    compute,
    largest_remainder,
    round_half_up,
)
from chaton.model import Collective, Structure
from costs.builders import collective as build_collective
from costs.builders import server


def test_round_half_up() -> None:
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(3, 2)) == 2  # not banker's rounding
    assert round_half_up(Decimal("2.4999")) == 2
    assert round_half_up(Fraction(-5, 2)) == -3


def test_largest_remainder_by_hand() -> None:
    # 100 in thirds: 33 each, one cent left, ties go to the first.
    assert largest_remainder(100, [1, 1, 1]) == (34, 33, 33)
    # 10 for 1:2:3 -> 1.67, 3.33, 5 -> 1, 3, 5 and one left to the largest remainder (.67).
    assert largest_remainder(10, [1, 2, 3]) == (2, 3, 5)
    assert largest_remainder(7, [0, 5]) == (0, 7)
    with pytest.raises(ValueError):
        largest_remainder(7, [0, 0])


def test_period_hours_and_end() -> None:
    assert Period.year(2025).hours == 8760
    assert Period.year(2024).hours == 8784
    assert Period(date(2025, 1, 31), 1).end == date(2025, 2, 28)
    assert Period(date(2025, 3, 1), 6).label == "2025-03-01+6m"
    assert Period.year(2025).last_day == date(2025, 12, 31)


def _collective(**allocation: object) -> Collective:
    base = build_collective(server("s-1", 4, 4000, 100), server("s-2", 4, 4000, 100))
    data = base.model_dump(mode="python")
    data["allocation"] = allocation
    return Collective.model_validate(data)


def _structure(slug: str, status: str = "active") -> Structure:
    return Structure.model_validate(
        {
            "name": slug,
            "slug": slug,
            "contacts": [{"name": "X", "email": f"x@{slug}.org"}],
            "tier": "member",
            "status": status,
        }
    )


def test_an_idle_server_is_shared_by_resources_or_carried() -> None:
    structures = {"aa": _structure("aa"), "bb": _structure("bb")}
    # Only s-1 has instances: aa reserves 1000 MB there, bb 3000 MB (RAM only, weights 1/1/1).
    usage = {
        "s-1": {"aa": Reserved(ram_mb=Decimal(1000)), "bb": Reserved(ram_mb=Decimal(3000))},
        "s-2": {},
    }
    shared = compute(_collective(headroom="shared"), structures, usage, Period.year(2025))
    # aa: 10^6 x (1000/4000) / 3 = 83,333 ppm; bb: 250,000 ppm.
    assert shared.structure("aa").ppm["s-1"] == 83333
    idle = shared.pool("hosting:s-2")  # 20 EUR x 12 = 24,000 cents, by resources.
    assert idle.basis == "resources"
    assert idle.shares == (6000, 18000, 0)  # 83,333 : 250,000 -> 5999.99..., 18000.0...
    carried = compute(_collective(headroom="carried"), structures, usage, Period.year(2025))
    assert carried.pool("hosting:s-2").shares == (0, 0, 24000)
    # On s-1 the association carries 10^6 - 333,333 ppm of 24,000: 16,000 cents.
    assert carried.pool("hosting:s-1").shares == (2000, 6000, 16000)


def test_suspended_and_leaving_structures_keep_their_share() -> None:
    structures = {
        "aa": _structure("aa", "suspended"),
        "bb": _structure("bb", "leaving"),
        "cc": _structure("cc"),
    }
    report = compute(_collective(), structures, {}, Period.year(2025))
    # Administration: 1 h x 12 x 20 EUR = 240 EUR, half paid: 12,000 cents equally.
    assert report.pool("admin:paid").shares == (4000, 4000, 4000, 0)
    assert [item.status for item in report.structures] == ["suspended", "leaving", "active"]


def test_nobody_to_share_with_means_the_association_carries() -> None:
    report = compute(_collective(), {}, {}, Period.year(2025))
    assert report.carried == sum(pool.amount for pool in report.cost_pools if pool.billable)
    assert report.billed_total == 0
    assert report.solidarity_balance == report.total_cost - report.volunteer_value
