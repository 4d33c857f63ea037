"""The cost model: what the collective costs over a period, and each structure's fair share of it.

Pure: data in, data out (no file, no clock). The rules are explained for people, with a worked
example computed by hand, in `docs/costs.md` (French: `docs/costs.fr.md`); in short:

**Pools.** Every cost of the period is a *pool*, an amount in integer cents, rounded half up once:

- per server: its purchase price over its lifetime (`price * months / (12 * lifetime_years)`), its
  hosting (`monthly_hosting * months`) and its energy (`watts * hours * PUE` in Wh, rounded to the
  Wh, at the price per kWh);
- each recurring cost (`amount * months`, or `amount * months / 12` when yearly);
- people's time, administration and moderation: `hours per month * months * hourly rate`, split into
  a volunteer pool (`* volunteer_share`, valued but not billed) and a paid pool (the rest).

**Keys.** A pool is shared between the *parties* (the structures, in slug order, then the hosting
association) in proportion to integer weights, by its key:

- `server` (the server's own pools): each structure's reserved resources on that server as a share
  of the server's capacity (resources minus system reserve), in millionths (*ppm*):
  `round(10⁶ * Σ w_r * reserved_r / capacity_r / Σ w_r)` over RAM, disk and CPU with the weights of
  `allocation.weights`. With `allocation.headroom: carried` the hosting association weighs what is
  left (`10⁶ - Σ ppm`): it carries the unreserved capacity; with `shared` it weighs 0 and the
  structures share the whole server. A server no structure uses is shared by the `resources` key
  (`shared`), or carried by the association (`carried`);
- `resources`: the sum of the structure's ppm over all servers;
- `accounts`: its Nextcloud plus Mastodon accounts;
- `structures`: 1 each.

A pool whose key weighs nothing for every structure (no accounts at all, no structure…) is carried
by the hosting association.

**Largest remainder.** Party `i` gets `⌊T * wᵢ / W⌋` cents; the cents left over go one each to the
largest remainders `T * wᵢ mod W` (ties: the first party in order). So the shares of every pool add
up to the pool, exactly.

**Tiers.** A structure's *fair share* is the sum of its shares of the paid pools. It is billed
`round(fair * share_paid) + round(fair * solidarity_contribution)`. What lower tiers are not billed
(*waived*), plus what the association carries, minus the solidarity contributions, is the
*solidarity balance*: what grants, donations (`solidarity_funding`) or the association's reserves
must cover. `billed + solidarity balance + volunteer value = total cost`, to the cent.

**Energy and carbon.** Each server's energy (Wh) and carbon (grams: grid intensity * kWh, plus the
embodied emissions * months / (12 * lifetime)) are shared by the same weights as its costs.

**Statuses.** Suspended and leaving structures keep their instances (and their data) on the servers
until they are offboarded: they take part in every key like active ones, and their sheets say their
status. Removing a structure's file takes it out of the next period's sheets.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from chaton.model import Collective, Structure

PPM = 1_000_000
RESOURCES = ("ram_mb", "disk_gb", "cpu_share")

Category = Literal[
    "purchase",
    "hosting",
    "energy",
    "recurring",
    "admin",
    "moderation",
    "energy_wh",
    "carbon_grid_g",
    "carbon_embodied_g",
]
COST_CATEGORIES: tuple[Category, ...] = (
    "purchase",
    "hosting",
    "energy",
    "recurring",
    "admin",
    "moderation",
)
Unit = Literal["cents", "Wh", "g"]
KeyName = Literal["server", "resources", "accounts", "structures"]


# ---------------------------------------------------------------------------------------------
# Arithmetic


def round_half_up(value: Fraction | Decimal | int) -> int:
    """The nearest integer, halves away from zero (what a spreadsheet's ROUND does)."""
    exact = Fraction(value)
    rounded = (abs(exact.numerator) * 2 + exact.denominator) // (2 * exact.denominator)
    return rounded if exact >= 0 else -rounded


def largest_remainder(total: int, weights: Sequence[int]) -> tuple[int, ...]:
    """Split `total` in proportion to non-negative integer `weights` (not all zero): each gets the
    floor of its quota, and what is left goes one unit each to the largest remainders (ties: the
    first in order). The result adds up to `total`."""
    weight = sum(weights)
    if weight <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative and not all zero")
    floors = [total * w // weight for w in weights]
    remainders = [total * w % weight for w in weights]
    left = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda index: (-remainders[index], index))
    for index in order[:left]:
        floors[index] += 1
    return tuple(floors)


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Period:
    """From `start` (included) for `months` whole months."""

    start: date
    months: int = 12

    def __post_init__(self) -> None:
        if not 1 <= self.months <= 120:
            raise ValueError("a period lasts 1 to 120 months")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), 12)

    @property
    def end(self) -> date:
        """The first day after the period."""
        month0 = self.start.month - 1 + self.months
        year, month = self.start.year + month0 // 12, month0 % 12 + 1
        day = min(self.start.day, calendar.monthrange(year, month)[1])
        return date(year, month, day)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def hours(self) -> int:
        """Hours in the period (days * 24: daylight saving time is ignored)."""
        return (self.end - self.start).days * 24

    @property
    def label(self) -> str:
        """`2025` for a calendar year, else `2025-03-01+6m`."""
        if self.start.month == 1 and self.start.day == 1 and self.months == 12:
            return str(self.start.year)
        return f"{self.start.isoformat()}+{self.months}m"


@dataclass(frozen=True)
class Reserved:
    """Resources reserved: RAM in MB, disk in GB, CPU in cores."""

    ram_mb: Decimal = Decimal(0)
    disk_gb: Decimal = Decimal(0)
    cpu_share: Decimal = Decimal(0)

    def get(self, resource: str) -> Decimal:
        value: Decimal = getattr(self, resource)
        return value

    def __add__(self, other: Reserved) -> Reserved:
        return Reserved(
            self.ram_mb + other.ram_mb,
            self.disk_gb + other.disk_gb,
            self.cpu_share + other.cpu_share,
        )

    def times(self, factor: Decimal | int) -> Reserved:
        return Reserved(self.ram_mb * factor, self.disk_gb * factor, self.cpu_share * factor)


NOTHING = Reserved()

# Server name → structure slug → what the structure's instances (and its part of the shared ones)
# reserve on that server. See `chaton.costs.usage` for how it is read from a placement plan.
Usage = Mapping[str, Mapping[str, Reserved]]


def capacity(collective: Collective, server: str) -> Reserved:
    """What a server gives to instances: its resources minus its system reserve."""
    found = collective.server(server)
    if found is None:
        raise KeyError(server)
    resources, reserve = found.resources, found.system_reserve
    return Reserved(
        Decimal(resources.ram_mb - reserve.ram_mb),
        Decimal(resources.disk_gb) - reserve.disk_gb,
        Decimal(resources.cores) - reserve.cpu_share,
    )


def accounts(structure: Structure) -> int:
    """Accounts counted by the `accounts` key: Nextcloud plus Mastodon (shared or dedicated)."""
    services = structure.services
    nextcloud = services.nextcloud.accounts if services.nextcloud is not None else 0
    mastodon = services.mastodon.accounts if services.mastodon is not None else 0
    return nextcloud + mastodon


def ppm(collective: Collective, reserved: Reserved, total: Reserved) -> int:
    """A weighted share of a server's capacity `total`, in millionths, rounded half up."""
    weights = collective.allocation.weights
    weight_sum = Fraction(sum((weights.ram_mb, weights.disk_gb, weights.cpu_share), Decimal(0)))
    mixed = Fraction(0)
    for resource in RESOURCES:
        cap = total.get(resource)
        if cap > 0:
            mixed += (
                Fraction(getattr(weights, resource))
                * Fraction(reserved.get(resource))
                / (Fraction(cap))
            )
    return round_half_up(PPM * mixed / weight_sum)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Pool:
    """One amount of the period, shared between the parties (structures in order, then the
    association) by `weights`; `shares` add up to `amount`."""

    id: str
    category: Category
    unit: Unit
    amount: int
    # The key the inventory asks for, and the one applied (`association` when nobody else weighs).
    key: KeyName
    basis: str
    weights: tuple[int, ...]
    shares: tuple[int, ...]
    server: str | None = None
    # The recurring cost's label (free text from the inventory); empty for the other pools.
    label: str = ""
    # People's time given by volunteers: valued, not billed.
    volunteer: bool = False
    # Index of the recurring cost in collective.yml, for the writers.
    index: int = -1

    @property
    def billable(self) -> bool:
        return self.unit == "cents" and not self.volunteer

    @property
    def association_share(self) -> int:
        return self.shares[-1]


@dataclass(frozen=True)
class StructureCosts:
    """One structure's sheet: its shares, what its tier makes it pay, its energy and carbon."""

    slug: str
    name: str
    tier: str
    status: str
    accounts: int
    # Server → resources reserved there and the ppm they weigh.
    reserved: Mapping[str, Reserved]
    ppm: Mapping[str, int]
    # Pool id → this structure's share (cents, Wh or g).
    shares: Mapping[str, int]
    fair_share: int
    paid: int
    contribution: int
    volunteer_value: int
    energy_wh: int
    carbon_g: int
    by_category: Mapping[str, int] = field(default_factory=dict)

    @property
    def billed(self) -> int:
        return self.paid + self.contribution

    @property
    def waived(self) -> int:
        return self.fair_share - self.paid


@dataclass(frozen=True)
class Funding:
    label: str
    amount: int


@dataclass(frozen=True)
class CostReport:
    """Everything the sheets show, in integer cents, Wh and grams."""

    period: Period
    collective: Collective
    parties: tuple[str, ...]
    pools: tuple[Pool, ...]
    structures: tuple[StructureCosts, ...]
    # Server → its capacity, and the association's weight on it (headroom it carries).
    capacities: Mapping[str, Reserved]
    funding: tuple[Funding, ...] = ()

    def pool(self, pool_id: str) -> Pool:
        return next(pool for pool in self.pools if pool.id == pool_id)

    def structure(self, slug: str) -> StructureCosts:
        return next(item for item in self.structures if item.slug == slug)

    @property
    def cost_pools(self) -> tuple[Pool, ...]:
        return tuple(pool for pool in self.pools if pool.unit == "cents")

    @property
    def total_cost(self) -> int:
        return sum(pool.amount for pool in self.cost_pools)

    @property
    def volunteer_value(self) -> int:
        return sum(pool.amount for pool in self.cost_pools if pool.volunteer)

    @property
    def fair_total(self) -> int:
        return sum(item.fair_share for item in self.structures)

    @property
    def billed_total(self) -> int:
        return sum(item.billed for item in self.structures)

    @property
    def waived_total(self) -> int:
        return sum(item.waived for item in self.structures)

    @property
    def contributions_total(self) -> int:
        return sum(item.contribution for item in self.structures)

    @property
    def carried(self) -> int:
        """What the hosting association carries: headroom, and pools nobody else weighs in."""
        return sum(pool.association_share for pool in self.cost_pools if pool.billable)

    @property
    def solidarity_balance(self) -> int:
        """Waived + carried - contributions: what grants, donations or reserves must cover."""
        return self.waived_total + self.carried - self.contributions_total

    @property
    def funding_total(self) -> int:
        return sum(item.amount for item in self.funding)

    @property
    def remaining(self) -> int:
        """The solidarity balance once grants and donations are counted (negative: a surplus)."""
        return self.solidarity_balance - self.funding_total

    def total(self, category: str, party: int | None = None) -> int:
        """A category's total (billable pools only for money), or one party's part of it."""
        return sum(
            pool.amount if party is None else pool.shares[party]
            for pool in self.pools
            if pool.category == category and not pool.volunteer
        )

    @property
    def energy_wh(self) -> int:
        return self.total("energy_wh")

    @property
    def carbon_g(self) -> int:
        return self.total("carbon_grid_g") + self.total("carbon_embodied_g")


# ---------------------------------------------------------------------------------------------
# The computation


def _times_in_period(period_kind: str, months: int) -> Fraction:
    return Fraction(months) if period_kind == "monthly" else Fraction(months, 12)


def compute(
    collective: Collective,
    structures: Mapping[str, Structure],
    usage: Usage,
    period: Period,
) -> CostReport:
    """The cost report of `structures` over `period` (see the module's docstring)."""
    slugs = tuple(sorted(structures))
    count = len(slugs)
    allocation = collective.allocation
    carried_headroom = allocation.headroom == "carried"
    months, hours = period.months, period.hours

    capacities = {server.name: capacity(collective, server.name) for server in collective.servers}
    server_ppm: dict[str, tuple[int, ...]] = {}
    for server in collective.servers:
        on_server = usage.get(server.name, {})
        server_ppm[server.name] = tuple(
            ppm(collective, on_server.get(slug, NOTHING), capacities[server.name]) for slug in slugs
        )
    resources_weights = tuple(
        sum(server_ppm[server.name][index] for server in collective.servers)
        for index in range(count)
    )
    account_weights = tuple(accounts(structures[slug]) for slug in slugs)
    keys: dict[str, tuple[int, ...]] = {
        "resources": resources_weights,
        "accounts": account_weights,
        "structures": (1,) * count,
    }

    def weigh(key: str) -> tuple[str, tuple[int, ...]]:
        weights = keys[key]
        if sum(weights) > 0:
            return key, (*weights, 0)
        return "association", (0,) * count + (1,)

    def server_weights(name: str) -> tuple[str, tuple[int, ...]]:
        own = server_ppm[name]
        if carried_headroom:
            return f"server:{name}", (*own, max(0, PPM - sum(own)))
        if sum(own) > 0:
            return f"server:{name}", (*own, 0)
        return weigh("resources")

    pools: list[Pool] = []

    def add(
        pool_id: str,
        category: Category,
        unit: Unit,
        amount: int,
        key: KeyName,
        basis_weights: tuple[str, tuple[int, ...]],
        *,
        server: str | None = None,
        label: str = "",
        volunteer: bool = False,
        index: int = -1,
    ) -> None:
        basis, weights = basis_weights
        shares = largest_remainder(amount, weights)
        pools.append(
            Pool(
                pool_id,
                category,
                unit,
                amount,
                key,
                basis,
                weights,
                shares,
                server=server,
                label=label,
                volunteer=volunteer,
                index=index,
            )
        )

    for server in collective.servers:
        costs, name = server.costs, server.name
        weights = server_weights(name)
        purchase = round_half_up(
            Fraction(costs.purchase_price) * 100 * months / (12 * costs.lifetime_years)
        )
        hosting = round_half_up(Fraction(costs.monthly_hosting) * 100 * months)
        energy_wh = round_half_up(Fraction(costs.power_draw_watts) * hours * Fraction(costs.pue))
        energy = round_half_up(
            Fraction(energy_wh) * Fraction(collective.electricity_price_per_kwh) / 10
        )
        grid_g = round_half_up(
            Fraction(energy_wh) * Fraction(collective.grid_carbon_intensity_g_per_kwh) / 1000
        )
        embodied_g = round_half_up(
            Fraction(costs.embodied_kgco2e) * 1000 * months / (12 * costs.lifetime_years)
        )
        server_pools: tuple[tuple[Category, Unit, int], ...] = (
            ("purchase", "cents", purchase),
            ("hosting", "cents", hosting),
            ("energy", "cents", energy),
            ("energy_wh", "Wh", energy_wh),
            ("carbon_grid_g", "g", grid_g),
            ("carbon_embodied_g", "g", embodied_g),
        )
        for category, unit, amount in server_pools:
            add(f"{category}:{name}", category, unit, amount, "server", weights, server=name)

    for index, recurring in enumerate(collective.recurring_costs):
        amount = round_half_up(
            Fraction(recurring.amount) * 100 * _times_in_period(recurring.period, months)
        )
        add(
            f"recurring:{index}",
            "recurring",
            "cents",
            amount,
            recurring.allocation,
            weigh(recurring.allocation),
            label=recurring.label,
            index=index,
        )

    people = collective.people
    time_pools: tuple[tuple[Category, Decimal, KeyName], ...] = (
        ("admin", people.admin_hours_per_month, allocation.admin_time),
        ("moderation", people.moderation_hours_per_month, allocation.moderation_time),
    )
    for category, hours_per_month, key in time_pools:
        total = round_half_up(
            Fraction(hours_per_month) * months * Fraction(people.hourly_rate) * 100
        )
        volunteer = round_half_up(total * Fraction(people.volunteer_share))
        add(f"{category}:paid", category, "cents", total - volunteer, key, weigh(key))
        add(f"{category}:volunteer", category, "cents", volunteer, key, weigh(key), volunteer=True)

    sheets = []
    for index, slug in enumerate(slugs):
        structure = structures[slug]
        tier = collective.tiers[structure.tier]
        shares = {pool.id: pool.shares[index] for pool in pools}
        fair = sum(pool.shares[index] for pool in pools if pool.billable)
        sheets.append(
            StructureCosts(
                slug=slug,
                name=structure.name,
                tier=structure.tier,
                status=structure.status,
                accounts=account_weights[index],
                reserved={
                    server.name: usage.get(server.name, {}).get(slug, NOTHING)
                    for server in collective.servers
                },
                ppm={server.name: server_ppm[server.name][index] for server in collective.servers},
                shares=shares,
                fair_share=fair,
                paid=round_half_up(fair * Fraction(tier.share_paid)),
                contribution=round_half_up(fair * Fraction(tier.solidarity_contribution)),
                volunteer_value=sum(pool.shares[index] for pool in pools if pool.volunteer),
                energy_wh=sum(p.shares[index] for p in pools if p.category == "energy_wh"),
                carbon_g=sum(p.shares[index] for p in pools if p.unit == "g"),
                by_category={
                    category: sum(
                        pool.shares[index]
                        for pool in pools
                        if pool.category == category and pool.billable
                    )
                    for category in COST_CATEGORIES
                },
            )
        )
    funding = tuple(
        Funding(
            item.label,
            round_half_up(Fraction(item.amount) * 100 * _times_in_period(item.period, months)),
        )
        for item in collective.solidarity_funding
    )
    return CostReport(
        period=period,
        collective=collective,
        parties=slugs,
        pools=tuple(pools),
        structures=tuple(sheets),
        capacities=capacities,
        funding=funding,
    )
