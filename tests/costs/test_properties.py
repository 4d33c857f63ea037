"""Properties of the cost model over random collectives (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chaton.costs.model import CostReport, Period, Reserved, compute
from chaton.model import Collective, Structure
from costs.builders import collective as build_collective
from costs.builders import server

KEYS = st.sampled_from(["resources", "accounts", "structures"])
money = st.integers(0, 500_000).map(lambda cents: Decimal(cents) / 100)
ratio = st.integers(0, 10_000).map(lambda n: Decimal(n) / 10_000)


@st.composite
def collectives(draw: st.DrawFn) -> Collective:
    servers = []
    for index in range(draw(st.integers(1, 3))):
        spec = server(
            f"s-{index}",
            draw(st.integers(1, 64)),
            draw(st.integers(1024, 262_144)),
            draw(st.integers(10, 20_000)),
        )
        spec["costs"] = {
            "purchase_price": draw(money),
            "lifetime_years": draw(st.integers(1, 10)),
            "monthly_hosting": draw(money),
            "power_draw_watts": draw(st.integers(0, 2000)),
            "pue": Decimal(draw(st.integers(100, 300))) / 100,
            "embodied_kgco2e": draw(st.integers(0, 5000)),
        }
        servers.append(spec)
    tiers = {
        f"tier-{index}": {
            "label": f"Tier {index}",
            "share_paid": draw(ratio),
            "solidarity_contribution": draw(ratio),
        }
        for index in range(draw(st.integers(1, 3)))
    }
    extra: dict[str, Any] = {
        "recurring_costs": [
            {
                "label": f"cost {index}",
                "amount": draw(money),
                "period": draw(st.sampled_from(["monthly", "yearly"])),
                "allocation": draw(KEYS),
            }
            for index in range(draw(st.integers(0, 4)))
        ],
        "people": {
            "admin_hours_per_month": Decimal(draw(st.integers(0, 20_000))) / 100,
            "moderation_hours_per_month": Decimal(draw(st.integers(0, 20_000))) / 100,
            "hourly_rate": draw(money),
            "volunteer_share": draw(ratio),
        },
        "allocation": {
            "weights": {
                "ram_mb": draw(st.integers(1, 5)),
                "disk_gb": draw(st.integers(0, 5)),
                "cpu_share": draw(st.integers(0, 5)),
            },
            "headroom": draw(st.sampled_from(["shared", "carried"])),
            "admin_time": draw(KEYS),
            "moderation_time": draw(KEYS),
        },
        "grid_carbon_intensity_g_per_kwh": draw(st.integers(0, 900)),
    }
    return build_collective(*servers, tiers=tiers, **extra)


def structure(slug: str, tier: str, accounts: int) -> Structure:
    services: dict[str, Any] = (
        {"nextcloud": {"accounts": accounts, "storage_gb": 1}} if accounts else {}
    )
    return Structure.model_validate(
        {
            "name": slug,
            "slug": slug,
            "contacts": [{"name": "X", "email": f"x@{slug}.org"}],
            "tier": tier,
            "domains": [f"{slug}.org"],
            "services": services,
        }
    )


reserved = st.builds(
    Reserved,
    st.integers(0, 50_000).map(Decimal),
    st.integers(0, 5_000_000).map(lambda n: Decimal(n) / 1000),
    st.integers(0, 16_000).map(lambda n: Decimal(n) / 1000),
)


@st.composite
def cases(
    draw: st.DrawFn,
) -> tuple[Collective, dict[str, Structure], dict[str, dict[str, Reserved]]]:
    collective = draw(collectives())
    tiers = sorted(collective.tiers)
    count = draw(st.integers(0, 8))
    structures = {
        f"st-{index}": structure(
            f"st-{index}", draw(st.sampled_from(tiers)), draw(st.integers(0, 50))
        )
        for index in range(count)
    }
    usage = {
        server.name: {slug: draw(reserved) for slug in structures if draw(st.booleans())}
        for server in collective.servers
    }
    return collective, structures, usage


PERIOD = Period.year(2025)


def run(
    case: tuple[Collective, dict[str, Structure], dict[str, dict[str, Reserved]]],
) -> CostReport:
    return compute(*case, PERIOD)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_every_pool_is_shared_to_the_cent(case: Any) -> None:
    report = run(case)
    for pool in report.pools:
        assert sum(pool.shares) == pool.amount, pool.id
        assert all(share >= 0 for share in pool.shares)
        assert len(pool.shares) == len(report.parties) + 1


@settings(max_examples=150, deadline=None)
@given(cases())
def test_billed_plus_balance_plus_volunteer_is_the_total_cost(case: Any) -> None:
    report = run(case)
    total = sum(pool.amount for pool in report.pools if pool.unit == "cents")
    billed = sum(item.billed for item in report.structures)
    volunteer = sum(item.volunteer_value for item in report.structures) + sum(
        pool.association_share for pool in report.pools if pool.volunteer
    )
    assert billed + report.solidarity_balance + volunteer == total
    assert report.fair_total + report.carried + report.volunteer_value == total


@settings(max_examples=150, deadline=None)
@given(cases())
def test_a_structure_without_services_pays_only_per_structure_shares(case: Any) -> None:
    collective, structures, usage = case
    idle = structure("zz-idle", sorted(collective.tiers)[0], 0)
    report = compute(collective, {**structures, "zz-idle": idle}, usage, PERIOD)
    index = report.parties.index("zz-idle")
    for pool in report.pools:
        if pool.basis != "structures":
            assert pool.shares[index] == 0, pool.id
    fair = report.structure("zz-idle").fair_share
    assert fair == sum(
        p.shares[index] for p in report.pools if p.billable and p.key == "structures"
    )


@settings(max_examples=150, deadline=None)
@given(cases(), st.data())
def test_doubling_a_structures_resources_never_lowers_its_share(
    case: Any, data: st.DataObject
) -> None:
    collective, structures, usage = case
    if not structures:
        return
    slug = data.draw(st.sampled_from(sorted(structures)))
    doubled = {
        name: {
            other: (amount.times(2) if other == slug else amount) for other, amount in table.items()
        }
        for name, table in usage.items()
    }
    before, after = run(case), compute(collective, structures, doubled, PERIOD)
    index = before.parties.index(slug)
    for old, new in zip(before.pools, after.pools, strict=True):
        assert new.shares[index] >= old.shares[index], old.id
    assert after.structure(slug).fair_share >= before.structure(slug).fair_share
    assert after.structure(slug).billed >= before.structure(slug).billed


def test_replace_keeps_reserved_frozen() -> None:
    amount = Reserved(Decimal(1), Decimal(2), Decimal(3))
    assert replace(amount, ram_mb=Decimal(5)).ram_mb == 5
    assert amount.times(2) == Reserved(Decimal(2), Decimal(4), Decimal(6))
