"""The systemd units each kind of instance runs, from its rendered item: what `chaton verify`
expects active, and what a server's record of an instance names (plugins/filter/chaton_instances.py,
which Ansible loads from the same virtualenv)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MASTODON_PROCESSES = ("web", "sidekiq", "streaming")
# The kinds of instance that run units of their own, each with its list in a server's rendered
# host_vars (in the order `chaton verify` lists a structure's units).
INSTANCE_LISTS = {
    "website": "website_sites",
    "nextcloud": "nextcloud_instances",
    "mastodon": "mastodon_instances",
}


def instance_units(kind: str, item: Mapping[str, Any]) -> list[str]:
    """The units of one instance of `kind` (nextcloud, website, mastodon), its Redis last.

    A website runs a unit only when it is built from git (its build timer)."""
    name = item["name"]
    if kind == "nextcloud":
        units = [f"nextcloud-cron@{name}.timer"]
    elif kind == "website":
        units = [f"chaton-website-build-{name}.timer"] if item.get("git") else []
    elif kind == "mastodon":
        units = [f"mastodon-{process}@{name}.service" for process in MASTODON_PROCESSES]
        units.append(f"mastodon-cleanup@{name}.timer")
    else:
        raise ValueError(f"no units known for instances of kind {kind!r}")
    if item.get("redis"):
        units.append(f"redis-server@{item['redis']}.service")
    return units
