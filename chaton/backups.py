"""What `chaton backup` and `chaton restore` work on, from the rendered host_vars: pure.

Every instance is backed up on its own (`backup_instances`, roles/backup): its archives are
named after it, so restoring one structure's instance never touches another structure's. Two
kinds of instance hold several structures' data and are not restored for one structure: the
server's Mailman (every structure's lists of the server) and the collective's shared Mastodon
(every structure's accounts on it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chaton.errors import BadInput
from chaton.i18n import _
from chaton.model.types import IDENTIFIER_RE
from chaton.selection import server_selection

RESTORE_VAR = "chaton_restore"
BACKUP_NOW_VAR = "chaton_backup_now"
# The services a structure's restore can be limited to (--service), and their instance kinds.
SERVICES = {"website": "website", "nextcloud": "nextcloud", "mastodon": "mastodon", "lists": None}
AT_PATTERN = re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d(:\d\d(:\d\d)?)?)?")


def _backup_items(host_vars: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = host_vars.get("backup_instances")
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _kind(item: Mapping[str, Any]) -> str:
    return str(item.get("instance", "")).split("/", 1)[0]


def secrets_base(server: str) -> str:
    """Where a server's backup secrets are in the vault (`chaton render` makes them)."""
    return f"backup/{server}"


def restore_source(server: str | None) -> dict[str, str] | None:
    """`--from SERVER`: the repository a restore reads, as roles/backup takes it (the server,
    the vault reference of its passphrase); None: each server's own."""
    if server is None:
        return None
    if IDENTIFIER_RE.fullmatch(server) is None:
        raise BadInput(_("--from {server}: not a server name", server=server))
    return {"server": server, "passphrase": f"{secrets_base(server)}/passphrase"}


def check_at(at: str | None) -> str | None:
    """`--at`: a day (2026-11-27) or a time (2026-11-27T03:00), else BadInput."""
    if at is not None and AT_PATTERN.fullmatch(at) is None:
        raise BadInput(_("--at {at}: give a day (2026-11-27) or a time (2026-11-27T03:00)", at=at))
    return at


def restore_plan(
    host_vars: Mapping[str, Mapping[str, Any]], slug: str, service: str | None = None
) -> dict[str, list[str]]:
    """{server: names of the backup instances to restore} for structure `slug` (its own
    instances, or only those of `service`). BadInput when there is nothing it can restore
    alone."""
    if service == "lists":
        raise BadInput(
            _(
                "{slug}'s lists are in its server's Mailman, with the other structures' lists: "
                "they are backed up with it and cannot be restored for one structure alone",
                slug=slug,
            )
        )
    found: dict[str, list[str]] = {}
    shared_mastodon = False
    for server, variables in sorted(host_vars.items()):
        for item in _backup_items(variables):
            if service is not None and _kind(item) != SERVICES[service]:
                continue
            if item.get("structure") == slug:
                found.setdefault(server, []).append(str(item["name"]))
        for social in variables.get("mastodon_instances") or []:
            accounts = social.get("accounts") or [] if isinstance(social, Mapping) else []
            if social.get("structure") is None and any(
                isinstance(a, Mapping) and a.get("structure") == slug for a in accounts
            ):
                shared_mastodon = True
    if found:
        return {server: sorted(names) for server, names in found.items()}
    if service == "mastodon" and shared_mastodon:
        raise BadInput(
            _(
                "{slug}'s Mastodon accounts are on the collective's shared instance, with the "
                "other structures' accounts: it cannot be restored for one structure alone",
                slug=slug,
            )
        )
    what = _("{service} instance", service=service) if service else _("instance")
    raise BadInput(_("{slug} has no {what} of its own to restore", slug=slug, what=what))


def server_restore_plan(
    host_vars: Mapping[str, Mapping[str, Any]], server: str, service: str | None = None
) -> dict[str, list[str]]:
    """{server: names of every backup instance of `server`} (or those of `service`, `lists`
    being the server's Mailman), for a rebuilt server: the shared instances too."""
    if server not in host_vars:
        raise BadInput(
            _(
                "no server {server} in the rendered inventory (known: {known})",
                server=server,
                known=", ".join(sorted(host_vars)),
            )
        )
    kind = None if service is None else SERVICES[service] or "mailman"
    names = sorted(
        str(item["name"])
        for item in _backup_items(host_vars[server])
        if kind is None or _kind(item) == kind
    )
    if not names:
        raise BadInput(_("{server} has nothing to restore", server=server))
    return {server: names}


def backup_plan(
    host_vars: Mapping[str, Mapping[str, Any]], slug: str | None = None
) -> dict[str, list[str]]:
    """{server: names of the backup instances to back up now}: every instance of every server
    (slug None), or the structure's own and the shared ones holding its data (its lists'
    Mailman, the shared Mastodon it has accounts on)."""
    found: dict[str, list[str]] = {}
    for server, variables in sorted(host_vars.items()):
        items = _backup_items(variables)
        if slug is None:
            names = [str(i["name"]) for i in items]
        else:
            # The instances `chaton deploy --structure` works on hold the structure's data.
            selection = server_selection(variables, slug)
            mine = set(selection["instances"]) if selection else set()
            names = [str(i["name"]) for i in items if i.get("instance") in mine]
        if names:
            found[server] = sorted(names)
    return found


def plan_inventory(variable: str, per_server: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An Ansible inventory (YAML data) that gives each server its `variable`."""
    return {
        "all": {"hosts": {server: {variable: dict(value)} for server, value in per_server.items()}}
    }
