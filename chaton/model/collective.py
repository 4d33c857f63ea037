"""The collective: its hosting association, servers, costs, people's time, offers and tiers.

Read from `inventories/<collective>/collective.yml`. Pure data: no I/O, no computation beyond
checking each field. Checks that involve several fields (unique server names, a system reserve
smaller than the server) live in `chaton.validation`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from chaton.model.types import (
    Domain,
    Email,
    FreeText,
    Hours,
    HttpsUrl,
    Identifier,
    Money,
    NonNegativeInt,
    PositiveInt,
    Quantity,
    Ratio,
    UnitPrice,
    _decimal_places,
    _to_decimal,
    fail,
)

# How a cost is shared between the structures (see docs/costs.md): in proportion to the resources
# their instances reserve on the servers, to their accounts (Nextcloud and Mastodon), or equally.
AllocationKey = Literal["resources", "accounts", "structures"]
# A relative weight of a resource in the resources key: 0 to 100, two decimals at most.
Weight = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=100), _decimal_places(2)]
# Power usage effectiveness of a data centre: 1 (no overhead) to 3, two decimals at most.
Pue = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=1, le=3), _decimal_places(2)]
# Grams of CO2 equivalent per kWh of electricity: 0 to 2,000, one decimal at most.
CarbonIntensity = Annotated[
    Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=2000), _decimal_places(1)
]


class FrozenModel(BaseModel):
    """Base of every model: immutable, and unknown keys are errors (typos never pass silently)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class HostingAssociation(FrozenModel):
    """The association that runs the servers (the CHATON itself)."""

    name: FreeText
    chatons_member: StrictBool = False
    website: HttpsUrl | None = None
    contact_email: Email


class Resources(FrozenModel):
    """What a server offers: CPU cores, RAM in MB (MiB), disk in GB."""

    cores: Annotated[StrictInt, Field(gt=0, le=1024)]
    ram_mb: PositiveInt
    disk_gb: PositiveInt


class Footprint(FrozenModel):
    """Resources used by one unit of something: RAM in MB, disk in GB, share of one CPU core."""

    ram_mb: NonNegativeInt = 0
    disk_gb: Quantity = Decimal(0)
    cpu_share: Quantity = Decimal(0)


ZERO = Footprint()


class ServerCosts(FrozenModel):
    """What a server costs: bought once and spread over its life, hosted and powered monthly."""

    purchase_price: Money
    lifetime_years: Annotated[StrictInt, Field(ge=1, le=30)]
    monthly_hosting: Money
    power_draw_watts: Annotated[StrictInt, Field(ge=0, le=10_000)]
    # The data centre's overhead on the power draw (cooling…): 1.5 counts 1.5 kWh per kWh drawn.
    pue: Pue = Decimal(1)
    # Greenhouse gases emitted to make the server, in kgCO2e, spread over its lifetime.
    embodied_kgco2e: Quantity = Decimal(0)


class Server(FrozenModel):
    """One machine of the collective (an Ansible host of the same name in hosts.yml)."""

    name: Identifier
    description: FreeText | None = None
    # Its public DNS name: the mail exchanger of the list domains placed on it, the name the
    # structures' DNS records point to (`chaton dns`).
    public_name: Domain | None = None
    resources: Resources
    # Kept for the system, the web server, the databases: never given to instances.
    system_reserve: Footprint = ZERO
    costs: ServerCosts


class RecurringCost(FrozenModel):
    """Any other cost of the collective: domain names, backups space, insurance, bank fees…"""

    label: FreeText
    amount: Money
    period: Literal["monthly", "yearly"]
    # How it is shared between the structures (see AllocationKey).
    allocation: AllocationKey = "structures"


class SolidarityFunding(FrozenModel):
    """A grant or a donation that funds the solidarity between tiers."""

    label: FreeText
    amount: Money
    period: Literal["monthly", "yearly"]


class ResourceWeights(FrozenModel):
    """How much RAM, disk and CPU count, relative to each other, in the resources key."""

    ram_mb: Weight = Decimal(1)
    disk_gb: Weight = Decimal(1)
    cpu_share: Weight = Decimal(1)

    @model_validator(mode="after")
    def _not_all_zero(self) -> ResourceWeights:
        if not (self.ram_mb or self.disk_gb or self.cpu_share):
            raise fail("at least one of the resource weights must be more than 0")
        return self


class Allocation(FrozenModel):
    """How the cost sheets share the costs between the structures (see docs/costs.md)."""

    weights: ResourceWeights = ResourceWeights()
    # A server's capacity no instance reserves: "shared" out between the structures in
    # proportion to what they reserve, or "carried" by the hosting association.
    headroom: Literal["shared", "carried"] = "shared"
    admin_time: AllocationKey = "structures"
    moderation_time: AllocationKey = "accounts"


class People(FrozenModel):
    """People's time spent running the collective, and what an hour is worth."""

    admin_hours_per_month: Hours
    moderation_hours_per_month: Hours
    hourly_rate: Money
    # Share of those hours given by volunteers (0 = all paid, 1 = all volunteer).
    volunteer_share: Ratio


class NextcloudOffer(FrozenModel):
    """One Nextcloud instance per structure. Storage counts as disk, one GB per GB of quota."""

    label: FreeText = "Nextcloud"
    instance: Footprint
    per_account: Footprint = ZERO
    max_accounts: PositiveInt
    max_storage_gb: PositiveInt


class MastodonSharedOffer(FrozenModel):
    """Accounts on the collective's shared Mastodon (its footprint is counted once)."""

    label: FreeText = "Mastodon (shared instance)"
    instance: Footprint
    per_account: Footprint = ZERO
    max_accounts: PositiveInt


class MastodonDedicatedOffer(FrozenModel):
    """A Mastodon instance of the structure's own."""

    label: FreeText = "Mastodon (dedicated instance)"
    instance: Footprint
    per_account: Footprint = ZERO
    max_accounts: PositiveInt


class MailingListsOffer(FrozenModel):
    """Mailing lists on the server's Mailman (its footprint is counted once per server)."""

    label: FreeText = "Mailing lists"
    instance: Footprint
    per_list: Footprint = ZERO
    max_lists: PositiveInt
    max_owners_per_list: PositiveInt = 10


class WebsiteOffer(FrozenModel):
    """A static website per structure, uploaded by SFTP or built from a git repository."""

    label: FreeText = "Website"
    instance: Footprint


class Offers(FrozenModel):
    """The catalogue: an offer left out is not available to structures."""

    nextcloud: NextcloudOffer | None = None
    mastodon_shared: MastodonSharedOffer | None = None
    mastodon_dedicated: MastodonDedicatedOffer | None = None
    mailing_lists: MailingListsOffer | None = None
    website: WebsiteOffer | None = None


class Tier(FrozenModel):
    """A pricing tier: the share of its own costs a structure pays, plus a solidarity top-up."""

    label: FreeText
    description: FreeText | None = None
    # 1 = pays its whole share of the costs, 0.3 = pays 30 % of it.
    share_paid: Ratio
    # Added on top of what it pays, to fund the structures of the solidarity tier (0.1 = +10 %).
    solidarity_contribution: Ratio = Decimal(0)


class Collective(FrozenModel):
    """The whole collective: `inventories/<collective>/collective.yml`."""

    name: FreeText
    # The collective's own domain, for shared services (the shared Mastodon, the catalogue page).
    domain: Domain
    hosting_association: HostingAssociation
    currency: Literal["EUR"] = "EUR"
    electricity_price_per_kwh: UnitPrice
    # Emissions of the grid's electricity, in gCO2e per kWh (0: energy's carbon not counted).
    grid_carbon_intensity_g_per_kwh: CarbonIntensity = Decimal(0)
    servers: Annotated[tuple[Server, ...], Field(min_length=1)]
    recurring_costs: tuple[RecurringCost, ...] = ()
    people: People
    offers: Offers
    tiers: Annotated[dict[Identifier, Tier], Field(min_length=1)]
    # How the cost sheets share the costs (every setting has a default).
    allocation: Allocation = Allocation()
    # Grants and donations that fund the solidarity tier, shown on the collective's cost summary.
    solidarity_funding: tuple[SolidarityFunding, ...] = ()

    def server(self, name: str) -> Server | None:
        """The server called `name`, if any."""
        return next((server for server in self.servers if server.name == name), None)
