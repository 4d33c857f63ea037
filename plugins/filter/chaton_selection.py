"""The `chaton_selected` filter: the items of a rendered list that a deploy is about.

`chaton deploy --structure SLUG` gives each server a `chaton_selection` (chaton.selection):
the structure's slug and the instance ids that serve it on that server (its own, and the shared
ones it uses: the collective's Mastodon, the server's Mailman). A role's per-item loops run on
`items | chaton_selected(chaton_selection | default(none))`; the files shared by every item
(maps, tables, pg_hba.conf) and the removal of what is no longer listed keep reading the whole
list, so the other structures' pieces are neither touched nor taken for unlisted.

Without a selection (a whole deploy) every item is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _names_structure(item: Mapping[str, Any], slug: str) -> bool:
    accounts = item.get("accounts")
    return isinstance(accounts, list) and any(
        isinstance(account, Mapping) and account.get("structure") == slug for account in accounts
    )


def chaton_selected(items: Iterable[Any], selection: Mapping[str, Any] | None) -> list[Any]:
    """The items of `items` that `selection` ({"structure": slug, "instances": [ids]}) is about:
    the structure's own (`structure`), those of a selected instance (`instance`, or `kind` and
    `instance` for a vhost), and the shared instances with an account of the structure."""
    kept = list(items)
    if not selection:
        return kept
    slug = selection.get("structure")
    instances = set(selection.get("instances") or ())
    found = []
    for item in kept:
        if not isinstance(item, Mapping):
            raise TypeError(f"chaton_selected: an item is not a mapping: {item!r}")
        instance = item.get("instance")
        if (
            item.get("structure") == slug
            or instance in instances
            or f"{item.get('kind')}/{instance}" in instances
            or _names_structure(item, str(slug))
        ):
            found.append(item)
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"chaton_selected": chaton_selected}
