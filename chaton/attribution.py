"""Which structure a change served: the per-structure table of `chaton deploy`.

Ansible's events say which host and task changed and, in a loop, the item. The rendered host_vars
say whose each instance is: its instance id (`nextcloud/velo-cite`), names (database, Redis,
PHP-FPM pool, vhost, Unix user), folders and domains. A change belongs to the structure whose
names appear in the task's item, item label or module arguments (whole strings, folders and what
is under them, path components, `unit@instance` names). A change that names no structure, or
names several, is the server's own: packages, shared configuration (the Postfix maps, nginx's
main file, Mailman's settings). A task that hides its result (`no_log`) says nothing, not even
that it changed something: it is in the host's totals (Ansible's stats) only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Variables whose items are instances of a kind, named `<kind>/<item name>` in instance ids.
INSTANCE_KINDS = {
    "nextcloud_instances": "nextcloud",
    "mastodon_instances": "mastodon",
    "website_sites": "website",
}
# The keys of an item that name something of its own (a string, or a list of strings).
NAME_KEYS = (
    "name",
    "user",
    "domain",
    "aliases",
    "server_names",
    "database",
    "redis",
    "php_fpm_pool",
    "address",
    "listen",
)
FOLDER_KEYS = ("home",)


@dataclass
class StructureIndex:
    """The names and folders of one server's instances, each mapped to its structure's slug."""

    names: dict[str, str] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_host_vars(cls, host_vars: Mapping[str, Any]) -> StructureIndex:
        index = cls()
        instances: dict[str, str] = {}
        unowned: list[Mapping[str, Any]] = []
        for variable, value in host_vars.items():
            if not isinstance(value, list):
                continue
            for item in value:
                if not isinstance(item, Mapping):
                    continue
                slug = item.get("structure")
                if not isinstance(slug, str):
                    unowned.append(item)
                    continue
                index._add(item, slug)
                kind = INSTANCE_KINDS.get(variable)
                if kind is not None and isinstance(item.get("name"), str):
                    instances[f"{kind}/{item['name']}"] = slug
                if variable == "mailman_domains":
                    instances[f"lists/{slug}"] = slug
        index.names.update(instances)
        # Databases, Redis instances and pools name the instance they serve.
        for item in unowned:
            slug = instances.get(str(item.get("instance", "")))
            if slug is not None:
                index._add(item, slug)
        return index

    def _add(self, item: Mapping[str, Any], slug: str) -> None:
        for key in NAME_KEYS:
            for name in _as_strings(item.get(key)):
                self.names.setdefault(name, slug)
        for key in FOLDER_KEYS:
            for folder in _as_strings(item.get(key)):
                self.folders.setdefault(folder.rstrip("/"), slug)

    def structure_of(self, *values: Any) -> str | None:
        """The one structure whose names appear in `values` (nested data), or None."""
        found = {slug for text in _strings(values) for slug in self._matches(text)}
        return found.pop() if len(found) == 1 else None

    def _matches(self, text: str) -> Iterator[str]:
        if text in self.names:
            yield self.names[text]
            return
        for folder, slug in self.folders.items():
            if text == folder or text.startswith(folder + "/"):
                yield slug
        if "/" in text or "@" in text:
            for part in text.replace("@", "/").split("/"):
                # The part, without its last suffix (nextcloud-a.conf, cloud.a.fr.pem), and
                # without all of them (a.timer).
                for candidate in (part, part.rsplit(".", 1)[0], part.split(".", 1)[0]):
                    if candidate in self.names:
                        yield self.names[candidate]
                        break


def _as_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string in nested data (bounded depth: module arguments can be large)."""
    if depth > 6:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, depth + 1)


# Keys of a task's result that hold output rather than what the task acted on.
OUTPUT_KEYS = frozenset(
    {"diff", "msg", "results", "stdout", "stdout_lines", "stderr", "stderr_lines", "content"}
)


def event_values(result: Mapping[str, Any]) -> list[Any]:
    """What of a task's result may name its structure: the loop item and its label, the module's
    arguments and the result's own fields (dest, path, name…), not its output. A result hidden
    by no_log holds none of them."""
    return [value for key, value in result.items() if key not in OUTPUT_KEYS]
