"""What each structure reserves on each server, read from a placement plan. Pure.

A structure's own instances count with their footprint (`chaton.placement`). Two things are shared
and belong to no structure; their footprint is attributed to the structures that use them:

- the collective's shared Mastodon, in proportion to each structure's accounts on it;
- Mailman on a server, in proportion to each structure's number of lists on that server.

Each attributed part is rounded half up to a thousandth (of a MB, GB or core), so that what the
sheets show is exactly what the keys are computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from chaton.costs.model import NOTHING, Reserved, Usage
from chaton.model import Structure
from chaton.placement import SHARED, Amount, Plan

THOUSANDTH = Decimal("0.001")


def _reserved(amount: Amount) -> Reserved:
    return Reserved(amount.ram_mb, amount.disk_gb, amount.cpu_share)


def _part(amount: Amount, part: int, whole: int) -> Reserved:
    def share(value: Decimal) -> Decimal:
        return (value * part / whole).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)

    return Reserved(share(amount.ram_mb), share(amount.disk_gb), share(amount.cpu_share))


def usage_from_plan(plan: Plan, structures: Mapping[str, Structure]) -> Usage:
    """Server → slug → what the structure reserves there (its part of shared instances included)."""
    shared_accounts = {
        slug: structure.services.mastodon.accounts
        for slug, structure in structures.items()
        if structure.services.mastodon is not None and structure.services.mastodon.mode == "shared"
    }
    table: dict[str, dict[str, Reserved]] = {}
    for server in plan.servers:
        own: dict[str, Reserved] = {}
        lists: dict[str, int] = {}
        for placed in server.instances:
            instance = placed.instance
            if instance.structure is not None:
                slug = instance.structure
                own[slug] = own.get(slug, NOTHING) + _reserved(instance.footprint)
                if instance.kind == "lists":
                    lists[slug] = len(structures[slug].services.lists)
            elif instance.kind == "mastodon" and instance.name == SHARED:
                whole = sum(shared_accounts.values())
                for slug, count in shared_accounts.items():
                    own[slug] = own.get(slug, NOTHING) + _part(instance.footprint, count, whole)
        if lists:
            whole = sum(lists.values())
            for slug, count in lists.items():
                own[slug] = own.get(slug, NOTHING) + _part(server.mailman, count, whole)
        table[server.name] = own
    return table
