"""The `chaton_instance_records` filter: what each instance of a server is made of.

A deploy writes one record per instance of a server (playbooks/instances.yml) in
/etc/chaton/instances/<kind>.<name>.json: its own item (the Nextcloud, the website, the
Mastodon), and the names of its pieces in the other roles' lists: its databases, its Redis, its
PHP-FPM pool, its vhosts, its backups, its units. An instance that the rendered configuration no
longer lists (a service taken out of a structure file, a structure gone) is then still known on
the server: it is kept, stopped, and backed up, until `chaton remove` exports it, backs it up one
last time and removes each piece the record names (playbooks/remove.yml). No secret is written in
a record: the vault's references, the accounts and a site's git address are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chaton.units import INSTANCE_LISTS, instance_units

# The kinds of instance that have pieces of their own on a server (a structure's lists live in
# the server's Mailman, which is not theirs alone), each with its own list of items.
RECORDED_KINDS = tuple(INSTANCE_LISTS)
# The keys of an item a record keeps.
KEPT_KEYS = (
    "name",
    "structure",
    "structure_name",
    "domain",
    "aliases",
    "user",
    "home",
    "database",
    "redis",
    "php_fpm_pool",
    "shared",
)


def _of(items: Any, key: str, value: str) -> list[Mapping[str, Any]]:
    return [i for i in items or () if isinstance(i, Mapping) and i.get(key) == value]


def chaton_instance_records(ids: Iterable[str], lists: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per id of `ids` (chaton_instances: `<kind>/<name>`) of a recorded kind, from
    the host's rendered `lists` (nextcloud_instances, website_sites, mastodon_instances,
    postgresql_databases, redis_instances, php_fpm_pools, nginx_vhosts, backup_instances)."""
    records = []
    for instance_id in ids:
        kind, _, name = str(instance_id).partition("/")
        if kind not in RECORDED_KINDS:
            continue
        own = _of(lists.get(INSTANCE_LISTS[kind]), "name", name)
        if len(own) != 1:
            raise ValueError(
                f"chaton_instance_records: {instance_id} is not once in {INSTANCE_LISTS[kind]}"
            )
        item = own[0]
        records.append(
            {
                "id": instance_id,
                "kind": kind,
                "name": name,
                "structure": item.get("structure"),
                "item": {key: item[key] for key in KEPT_KEYS if key in item},
                "units": instance_units(kind, item),
                "databases": [
                    {"name": d["name"], "owner": d.get("owner", d["name"])}
                    for d in _of(lists.get("postgresql_databases"), "instance", instance_id)
                ],
                "redis_instances": [
                    r["name"] for r in _of(lists.get("redis_instances"), "instance", instance_id)
                ],
                "php_fpm_pools": [
                    p["name"] for p in _of(lists.get("php_fpm_pools"), "instance", instance_id)
                ],
                "nginx_vhosts": [
                    v["name"]
                    for v in _of(lists.get("nginx_vhosts"), "instance", name)
                    if v.get("kind") == kind
                ],
                "backup_instances": [
                    dict(b) for b in _of(lists.get("backup_instances"), "instance", instance_id)
                ],
            }
        )
    return records


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"chaton_instance_records": chaton_instance_records}
