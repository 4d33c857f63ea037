"""The offers catalogue: each offer's yearly unit price per tier, from the same cost model. Pure.

From a cost report (the collective as it is), the price of one unit of each kind of key:

- per structure: the paid pools shared equally, divided by the number of structures;
- per account: the paid pools shared by accounts, divided by the number of accounts;
- per ppm of a server: the server's paid pools divided by the weights they are shared by (with
  `headroom: carried` that is the whole server, 10⁶ ppm), plus the pools shared by resources on all
  servers divided by the structures' total ppm.

An offer's unit (an instance, an account, a GB of storage, a list, a site) is priced by the ppm of
its footprint on each server (exact, not rounded) at that server's price, averaged over the
servers. The shared Mastodon's own footprint is spread over the accounts on it, Mailman's over all
lists. Each tier pays `unit * (share_paid + solidarity_contribution)`, rounded to the cent.
Volunteer time is not billed, so it is in no price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from chaton.costs.model import PPM, RESOURCES, CostReport, Reserved, round_half_up
from chaton.model import Footprint, Structure


@dataclass(frozen=True)
class CatalogRow:
    offer: str
    # "membership", "instance", "account", "storage", "list" or "site".
    unit: str
    # Exact yearly cost of one unit, in cents.
    cost: Fraction
    # Tier → yearly price in cents.
    prices: dict[str, int]


def _reserved(footprint: Footprint, times: Fraction = Fraction(1)) -> Reserved:
    return Reserved(
        Decimal(footprint.ram_mb) * Decimal(times.numerator) / Decimal(times.denominator),
        footprint.disk_gb * Decimal(times.numerator) / Decimal(times.denominator),
        footprint.cpu_share * Decimal(times.numerator) / Decimal(times.denominator),
    )


def unit_rates(report: CostReport) -> tuple[Fraction, Fraction, dict[str, Fraction]]:
    """(cents per structure, cents per account, server → cents per ppm) over the period."""
    count = len(report.parties)
    paid = [pool for pool in report.pools if pool.billable]

    def total(basis: str) -> int:
        return sum(pool.amount for pool in paid if pool.basis == basis)

    per_structure = Fraction(total("structures"), count) if count else Fraction(0)
    accounts = sum(item.accounts for item in report.structures)
    per_account = Fraction(total("accounts"), accounts) if accounts else Fraction(0)
    resources = sum(sum(item.ppm.values()) for item in report.structures)
    per_resources = Fraction(total("resources"), resources) if resources else Fraction(0)
    per_ppm: dict[str, Fraction] = {}
    for server in report.collective.servers:
        basis = f"server:{server.name}"
        pools = [pool for pool in paid if pool.basis == basis]
        weight = sum(pools[0].weights) if pools else 0
        own = Fraction(sum(pool.amount for pool in pools), weight) if weight else Fraction(0)
        per_ppm[server.name] = own + per_resources
    return per_structure, per_account, per_ppm


def _ppm(report: CostReport, server: str, footprint: Reserved) -> Fraction:
    weights = report.collective.allocation.weights
    capacity = report.capacities[server]
    mixed = sum(
        (
            Fraction(getattr(weights, resource))
            * Fraction(footprint.get(resource))
            / Fraction(capacity.get(resource))
            for resource in RESOURCES
            if capacity.get(resource) > 0
        ),
        Fraction(0),
    )
    weight_sum = Fraction(weights.ram_mb + weights.disk_gb + weights.cpu_share)
    return PPM * mixed / weight_sum


def catalog(report: CostReport, structures: Mapping[str, Structure]) -> list[CatalogRow]:
    """The catalogue's rows, in the order of the offers (membership first)."""
    collective, offers = report.collective, report.collective.offers
    per_structure, per_account, per_ppm = unit_rates(report)
    yearly = Fraction(12, report.period.months)

    def footprint_cost(footprint: Reserved) -> Fraction:
        costs = [_ppm(report, name, footprint) * rate for name, rate in per_ppm.items()]
        return sum(costs, Fraction(0)) / len(costs)

    rows: list[tuple[str, str, Fraction]] = [
        (collective.name, "membership", per_structure),
    ]
    if offers.nextcloud is not None:
        offer = offers.nextcloud
        rows += [
            (offer.label, "instance", footprint_cost(_reserved(offer.instance))),
            (offer.label, "account", footprint_cost(_reserved(offer.per_account)) + per_account),
            (offer.label, "storage", footprint_cost(Reserved(disk_gb=Decimal(1)))),
        ]
    if offers.mastodon_shared is not None:
        shared = offers.mastodon_shared
        on_it = sum(
            structure.services.mastodon.accounts
            for structure in structures.values()
            if structure.services.mastodon is not None
            and structure.services.mastodon.mode == "shared"
        )
        instance = _reserved(shared.instance, Fraction(1, max(on_it, 1)))
        rows.append(
            (
                shared.label,
                "account",
                footprint_cost(instance + _reserved(shared.per_account)) + per_account,
            )
        )
    if offers.mastodon_dedicated is not None:
        dedicated = offers.mastodon_dedicated
        rows += [
            (dedicated.label, "instance", footprint_cost(_reserved(dedicated.instance))),
            (
                dedicated.label,
                "account",
                footprint_cost(_reserved(dedicated.per_account)) + per_account,
            ),
        ]
    if offers.mailing_lists is not None:
        lists_offer = offers.mailing_lists
        lists = sum(len(structure.services.lists) for structure in structures.values())
        mailman = _reserved(lists_offer.instance, Fraction(1, max(lists, 1)))
        rows.append(
            (
                lists_offer.label,
                "list",
                footprint_cost(mailman + _reserved(lists_offer.per_list)),
            )
        )
    if offers.website is not None:
        rows.append(
            (offers.website.label, "site", footprint_cost(_reserved(offers.website.instance)))
        )
    return [
        CatalogRow(
            offer,
            unit,
            cost * yearly,
            {
                name: round_half_up(
                    cost * yearly * Fraction(tier.share_paid + tier.solidarity_contribution)
                )
                for name, tier in collective.tiers.items()
            },
        )
        for offer, unit, cost in rows
    ]
