"""What `chaton deploy --structure SLUG` is about on each server.

A structure's deploy works on its own instances and on the shared ones it uses, and on nothing
else: the roles' per-item loops keep only the items `chaton_selected` (plugins/filter) finds in
the server's `chaton_selection`, written here from the rendered host_vars:

- `structure`: the slug (items whose `structure` is it: its websites, Nextcloud, lists, list
  domain, DKIM key, vhosts);
- `instances`: the instance ids that serve it there: its own (`nextcloud/<slug>`,
  `website/<slug>`, `lists/<slug>`, a dedicated `mastodon/<slug>`), the collective's Mastodon
  when it has accounts on it (`mastodon/shared`), and the server's Mailman (`mailman/<server>`)
  when its lists are there, with their databases, Redis instances and PHP-FPM pools.

The files every item shares (Postfix maps, DKIM tables, pg_hba.conf, Mailman's settings) are
still written from the whole lists, and what is no longer listed is still looked for against
them: the other structures' pieces are neither changed nor taken for removed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaton.attribution import INSTANCE_KINDS

SELECTION_VAR = "chaton_selection"


def _items(host_vars: Mapping[str, Any], variable: str) -> list[Mapping[str, Any]]:
    value = host_vars.get(variable)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def server_selection(host_vars: Mapping[str, Any], slug: str) -> dict[str, Any] | None:
    """The `chaton_selection` of one server for structure `slug`, or None when the structure has
    nothing on that server."""
    instances: set[str] = set()
    for variable, kind in INSTANCE_KINDS.items():
        for item in _items(host_vars, variable):
            accounts = item.get("accounts")
            has_account = isinstance(accounts, list) and any(
                isinstance(a, Mapping) and a.get("structure") == slug for a in accounts
            )
            if item.get("structure") == slug or has_account:
                instances.add(f"{kind}/{item.get('name')}")
    if any(d.get("structure") == slug for d in _items(host_vars, "mailman_domains")):
        instances.add(f"lists/{slug}")
        # Mailman itself serves the lists: its database is the server's.
        for database in _items(host_vars, "postgresql_databases"):
            instance = str(database.get("instance", ""))
            if instance.startswith("mailman/"):
                instances.add(instance)
    if not instances:
        return None
    return {"structure": slug, "instances": sorted(instances)}


def selections(host_vars: Mapping[str, Mapping[str, Any]], slug: str) -> dict[str, dict[str, Any]]:
    """{server: its chaton_selection} for the servers where `slug` has something."""
    found = {}
    for server, variables in sorted(host_vars.items()):
        selection = server_selection(variables, slug)
        if selection is not None:
            found[server] = selection
    return found


def selection_inventory(found: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An Ansible inventory (YAML data) that gives each server its chaton_selection."""
    return {
        "all": {
            "hosts": {
                server: {SELECTION_VAR: dict(selection)} for server, selection in found.items()
            }
        }
    }
