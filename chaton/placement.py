"""Placing the instances of a collective's structures on its servers. Pure: data in, data out.

What is placed (an `Instance`, named `<kind>/<name>`):

- `nextcloud/<slug>`: the structure's Nextcloud. Footprint: the offer's `instance`, plus
  `per_account` times its accounts, plus its storage quota as disk (one GB per GB).
- `mastodon/<slug>`: a dedicated Mastodon. Footprint: `instance`, plus `per_account` times its
  accounts.
- `mastodon/shared`: the collective's shared Mastodon, when at least one structure has accounts
  on it. Footprint: the shared offer's `instance` once, plus `per_account` times all the accounts
  on it.
- `lists/<slug>`: the structure's mail domain on the server's Mailman. Footprint: `per_list`
  times its lists. The first mail domain on a server also brings Mailman itself (the offer's
  `instance`, counted once per server, shown as the `mailman` component of that server).
- `website/<slug>`: the structure's static website. Footprint: the website offer's `instance`.

Every structure is placed whatever its status: a suspended or leaving structure's data is still on
the server until it is offboarded.

What a server can give is its resources minus its system reserve. **Headroom** of a server is the
smallest, over RAM, disk and CPU, of the fraction of that capacity still free:
`min((capacity - reserved) / capacity)`. An instance fits on a server when, after adding it, no
resource is reserved beyond capacity.

Where an instance goes, in this order of precedence:

1. **pinned**: the structure's `placement` names a server: its instances go there (the shared
   Mastodon is the collective's, not the structure's: a pin never moves it);
2. **kept**: the instance was placed before (the rendered host_vars record each server's
   instances in `chaton_instances`): it stays where it is — adding, growing or removing another
   structure never moves an instance;
3. **chosen**: a new instance goes to the server with the most headroom *after* placing it; ties go
   to the server listed first in collective.yml. New instances are placed one after the other:
   the shared Mastodon first, then by structure slug, and for one structure Nextcloud, Mastodon,
   lists, website.

When an instance fits nowhere (or a pinned or kept one no longer fits where it is), placement goes
on with the others and then fails with every reason (`DoesNotFit`, exit code 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from chaton.errors import ChatonError, ExitCode
from chaton.i18n import _
from chaton.model import Collective, Footprint, Server, Structure

Kind = Literal["nextcloud", "mastodon", "lists", "website"]
KINDS: tuple[Kind, ...] = ("nextcloud", "mastodon", "lists", "website")
# The name of the collective's shared Mastodon instance (a reserved slug: see chaton.validation).
SHARED = "shared"
Source = Literal["pinned", "kept", "chosen"]
RESOURCES = ("ram_mb", "disk_gb", "cpu_share")


@dataclass(frozen=True)
class Amount:
    """An amount of each resource: RAM in MB, disk in GB, CPU as a share of one core."""

    ram_mb: Decimal = Decimal(0)
    disk_gb: Decimal = Decimal(0)
    cpu_share: Decimal = Decimal(0)

    @classmethod
    def of(cls, footprint: Footprint, times: int = 1) -> Amount:
        return cls(
            Decimal(footprint.ram_mb) * times,
            footprint.disk_gb * times,
            footprint.cpu_share * times,
        )

    def __add__(self, other: Amount) -> Amount:
        return Amount(
            self.ram_mb + other.ram_mb,
            self.disk_gb + other.disk_gb,
            self.cpu_share + other.cpu_share,
        )

    def __sub__(self, other: Amount) -> Amount:
        return Amount(
            self.ram_mb - other.ram_mb,
            self.disk_gb - other.disk_gb,
            self.cpu_share - other.cpu_share,
        )

    def get(self, resource: str) -> Decimal:
        value: Decimal = getattr(self, resource)
        return value


ZERO = Amount()


def capacity(server: Server) -> Amount:
    """What a server can give to instances: its resources minus its system reserve."""
    resources, reserve = server.resources, server.system_reserve
    return Amount(
        Decimal(resources.ram_mb - reserve.ram_mb),
        Decimal(resources.disk_gb) - reserve.disk_gb,
        Decimal(resources.cores) - reserve.cpu_share,
    )


def headroom(total: Amount, reserved: Amount) -> Decimal:
    """The smallest fraction of capacity left over the three resources (negative: overcommitted).
    A resource the server has none of (capacity 0) counts as full if anything uses it."""
    fractions = []
    for resource in RESOURCES:
        cap, used = total.get(resource), reserved.get(resource)
        if cap > 0:
            fractions.append((cap - used) / cap)
        else:
            fractions.append(Decimal(0) if used <= 0 else Decimal(-1))
    return min(fractions)


@dataclass(frozen=True)
class Instance:
    """Something placed on one server."""

    kind: Kind
    name: str
    # The structure it belongs to; None for the collective's shared Mastodon.
    structure: str | None
    footprint: Amount
    # The server the structure pins its instances to, if any.
    pinned: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


def _order(instance: Instance) -> tuple[bool, str, int]:
    return (instance.structure is not None, instance.name, KINDS.index(instance.kind))


def instances(collective: Collective, structures: Mapping[str, Structure]) -> list[Instance]:
    """Every instance the structures ask for, in placement order (see the module's docstring)."""
    offers = collective.offers
    found: list[Instance] = []
    shared_accounts = 0
    for slug in sorted(structures):
        structure = structures[slug]
        services, pin = structure.services, structure.placement
        if services.nextcloud is not None and offers.nextcloud is not None:
            offer = offers.nextcloud
            footprint = (
                Amount.of(offer.instance)
                + Amount.of(offer.per_account, services.nextcloud.accounts)
                + Amount(disk_gb=Decimal(services.nextcloud.storage_gb))
            )
            found.append(Instance("nextcloud", slug, slug, footprint, pin))
        mastodon = services.mastodon
        if mastodon is not None and mastodon.mode == "shared":
            shared_accounts += mastodon.accounts
        elif mastodon is not None and offers.mastodon_dedicated is not None:
            dedicated = offers.mastodon_dedicated
            footprint = Amount.of(dedicated.instance) + Amount.of(
                dedicated.per_account, mastodon.accounts
            )
            found.append(Instance("mastodon", slug, slug, footprint, pin))
        if services.lists and offers.mailing_lists is not None:
            footprint = Amount.of(offers.mailing_lists.per_list, len(services.lists))
            found.append(Instance("lists", slug, slug, footprint, pin))
        if services.website is not None and offers.website is not None:
            found.append(Instance("website", slug, slug, Amount.of(offers.website.instance), pin))
    if shared_accounts and offers.mastodon_shared is not None:
        shared = offers.mastodon_shared
        footprint = Amount.of(shared.instance) + Amount.of(shared.per_account, shared_accounts)
        found.append(Instance("mastodon", SHARED, None, footprint))
    return sorted(found, key=_order)


@dataclass(frozen=True)
class Placed:
    instance: Instance
    server: str
    source: Source


@dataclass(frozen=True)
class ServerLoad:
    """A server's capacity, what is reserved on it and its instances."""

    name: str
    capacity: Amount
    reserved: Amount
    # Mailman's own footprint when the server has at least one mail domain, else zero.
    mailman: Amount
    instances: tuple[Placed, ...]

    @property
    def headroom(self) -> Decimal:
        return headroom(self.capacity, self.reserved)


@dataclass(frozen=True)
class Plan:
    """Where every instance sits, and what each server has left."""

    servers: tuple[ServerLoad, ...]

    @property
    def placements(self) -> dict[str, str]:
        """Instance id → server name."""
        return {p.instance.id: s.name for s in self.servers for p in s.instances}

    def server_of(self, instance_id: str) -> str | None:
        return self.placements.get(instance_id)


@dataclass(frozen=True)
class Refusal:
    """Why one instance could not be placed."""

    instance: str
    reason: str


class DoesNotFit(ChatonError):
    """Some instances fit on no server: exit code 1, with every reason."""

    def __init__(self, refusals: Sequence[Refusal], plan: Plan) -> None:
        self.refusals = tuple(refusals)
        self.plan = plan
        lines = [f"{refusal.instance}: {refusal.reason}" for refusal in self.refusals]
        super().__init__("\n".join(lines), ExitCode.FAILED)


@dataclass
class _Server:
    server: Server
    capacity: Amount
    reserved: Amount = ZERO
    mailman: Amount = ZERO
    placed: list[Placed] = field(default_factory=list)

    def cost(self, instance: Instance, mailman: Amount) -> Amount:
        """What placing `instance` here adds (a first mail domain also brings Mailman)."""
        extra = mailman if instance.kind == "lists" and self.mailman == ZERO else ZERO
        return instance.footprint + extra

    def short(self, instance: Instance, mailman: Amount) -> list[str]:
        """The resources that would be exceeded by placing `instance` here, in words."""
        after = self.reserved + self.cost(instance, mailman)
        words = []
        for resource in RESOURCES:
            over = after.get(resource) - self.capacity.get(resource)
            if over > 0:
                words.append(
                    _(
                        "{resource} short by {amount} (needs {needed}, {left} left of {capacity})",
                        resource=_resource_name(resource),
                        amount=_number(over),
                        needed=_number(self.cost(instance, mailman).get(resource)),
                        left=_number(self.capacity.get(resource) - self.reserved.get(resource)),
                        capacity=_number(self.capacity.get(resource)),
                    )
                )
        return words

    def add(self, instance: Instance, source: Source, mailman: Amount) -> None:
        if instance.kind == "lists" and self.mailman == ZERO:
            self.mailman = mailman
            self.reserved = self.reserved + mailman
        self.reserved = self.reserved + instance.footprint
        self.placed.append(Placed(instance, self.server.name, source))


def _resource_name(resource: str) -> str:
    return {"ram_mb": _("RAM (MB)"), "disk_gb": _("disk (GB)"), "cpu_share": _("CPU (cores)")}[
        resource
    ]


def _number(value: Decimal) -> str:
    """A decimal for people: no exponent, no trailing zeros (`3.5`, `1792`)."""
    text = f"{value.normalize():f}"
    return text


def place(
    collective: Collective,
    structures: Mapping[str, Structure],
    recorded: Mapping[str, str] | None = None,
) -> Plan:
    """Place every instance (see the module's docstring). `recorded` maps instance ids to the
    server they were placed on by an earlier render. Raises `DoesNotFit` when some do not fit."""
    recorded = recorded or {}
    mailman = (
        Amount.of(collective.offers.mailing_lists.instance)
        if collective.offers.mailing_lists is not None
        else ZERO
    )
    servers = {server.name: _Server(server, capacity(server)) for server in collective.servers}
    order = list(servers)
    wanted = instances(collective, structures)
    refusals: list[Refusal] = []

    def fixed(instance: Instance, name: str, source: Source) -> None:
        target = servers[name]
        short = target.short(instance, mailman)
        if short:
            refusals.append(
                Refusal(
                    instance.id,
                    _(
                        "does not fit on {server}, where it is {how}: {why}",
                        server=name,
                        how=_("pinned") if source == "pinned" else _("already placed"),
                        why="; ".join(short),
                    ),
                )
            )
        else:
            target.add(instance, source, mailman)

    # Pinned, then kept, then chosen: the instances that stay put are counted before any choice.
    rest: list[Instance] = []
    for instance in wanted:
        if instance.pinned is not None and instance.pinned in servers:
            fixed(instance, instance.pinned, "pinned")
        else:
            rest.append(instance)
    new: list[Instance] = []
    for instance in rest:
        where = recorded.get(instance.id)
        if where is not None and where in servers:
            fixed(instance, where, "kept")
        else:
            new.append(instance)
    for instance in new:
        best: tuple[Decimal, int, _Server] | None = None
        for index, name in enumerate(order):
            candidate = servers[name]
            if candidate.short(instance, mailman):
                continue
            after = headroom(
                candidate.capacity, candidate.reserved + candidate.cost(instance, mailman)
            )
            if best is None or after > best[0]:
                best = (after, index, candidate)
        if best is None:
            reasons = "; ".join(
                f"{name}: {', '.join(servers[name].short(instance, mailman))}" for name in order
            )
            refusals.append(
                Refusal(instance.id, _("fits on no server: {reasons}", reasons=reasons))
            )
        else:
            best[2].add(instance, "chosen", mailman)
    plan = Plan(
        tuple(
            ServerLoad(
                name=name,
                capacity=servers[name].capacity,
                reserved=servers[name].reserved,
                mailman=servers[name].mailman,
                instances=tuple(sorted(servers[name].placed, key=lambda p: _order(p.instance))),
            )
            for name in order
        )
    )
    if refusals:
        raise DoesNotFit(refusals, plan)
    return plan


def moved(plan: Plan, recorded: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(instance id, from, to) for each recorded instance that a pin now places elsewhere."""
    placements = plan.placements
    return sorted(
        (instance, before, placements[instance])
        for instance, before in recorded.items()
        if instance in placements and placements[instance] != before
    )


def removed(plan: Plan, recorded: Mapping[str, str]) -> list[str]:
    """Recorded instances that no structure asks for any more."""
    placements = plan.placements
    return sorted(instance for instance in recorded if instance not in placements)


def all_instances(plan: Plan) -> Iterable[Placed]:
    for server in plan.servers:
        yield from server.instances
