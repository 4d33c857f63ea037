"""Checks that the models alone cannot make: across fields, across files, against the collective.

Pure functions from models to a list of `Finding`s. A finding names the document it belongs to
(its path inside the inventory, e.g. `structures/velo-cite.yml`), the field path inside that
document, and an English message template with its values; the loader turns it into
`file:line:column: field.path: message` in the operator's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chaton.model import Collective, Structure, domain_to_ascii
from chaton.model.types import show
from chaton.names import ReservedNames, mastodon_username, unix_names

COLLECTIVE_FILE = "collective.yml"
STRUCTURES_DIR = "structures"
# Slugs that name something of the collective's own: `shared` is the shared Mastodon instance
# (chaton.placement.SHARED), which sits next to the structures' dedicated instances.
RESERVED_SLUGS = frozenset({"shared"})

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    """One problem: where (document, field path) and what (English template and its values)."""

    document: str
    path: Path
    template: str
    values: Mapping[str, Any] = field(default_factory=dict)
    # Point at the key of `path` (the field's name) rather than at its value.
    at_key: bool = False


@dataclass(frozen=True)
class StructureKeys:
    """What the checks across files need from a structure. Built from a valid structure, or from
    the fields that are valid on their own in a structure whose file has other errors, so that a
    bad email does not hide an unknown tier or a domain already taken."""

    slug: str | None = None
    tier: str | None = None
    placement: str | None = None
    # (position in `domains`, domain) of the valid domains.
    domains: tuple[tuple[int, str], ...] = ()

    @classmethod
    def of(cls, structure: Structure) -> StructureKeys:
        return cls(
            slug=structure.slug,
            tier=structure.tier,
            placement=structure.placement,
            domains=tuple(enumerate(structure.domains)),
        )


def structure_document(stem: str) -> str:
    """The inventory-relative name of a structure's file."""
    return f"{STRUCTURES_DIR}/{stem}.yml"


def _names(names: list[str]) -> str:
    return ", ".join(sorted(names)) or "-"


def check_collective(collective: Collective) -> list[Finding]:
    """Checks inside collective.yml that involve several fields."""
    findings: list[Finding] = []
    seen: dict[str, int] = {}
    for index, server in enumerate(collective.servers):
        if server.name in seen:
            findings.append(
                Finding(
                    COLLECTIVE_FILE,
                    ("servers", index, "name"),
                    "server name {value} is already used by servers[{other}]",
                    {"value": show(server.name), "other": seen[server.name]},
                )
            )
        else:
            seen[server.name] = index
        reserve, resources = server.system_reserve, server.resources
        where: Path = ("servers", index, "system_reserve")
        if reserve.ram_mb >= resources.ram_mb:
            findings.append(
                Finding(
                    COLLECTIVE_FILE,
                    (*where, "ram_mb"),
                    "the system reserve ({reserve} MB) must be smaller than the server's RAM "
                    "({total} MB)",
                    {"reserve": reserve.ram_mb, "total": resources.ram_mb},
                )
            )
        if reserve.disk_gb >= resources.disk_gb:
            findings.append(
                Finding(
                    COLLECTIVE_FILE,
                    (*where, "disk_gb"),
                    "the system reserve ({reserve} GB) must be smaller than the server's disk "
                    "({total} GB)",
                    {"reserve": reserve.disk_gb, "total": resources.disk_gb},
                )
            )
        if reserve.cpu_share >= resources.cores:
            findings.append(
                Finding(
                    COLLECTIVE_FILE,
                    (*where, "cpu_share"),
                    "the system reserve ({reserve} cores) must be smaller than the server's "
                    "cores ({total})",
                    {"reserve": reserve.cpu_share, "total": resources.cores},
                )
            )
    return findings


def _needs_domain(document: str, service: str) -> Finding:
    return Finding(
        document,
        ("services", service),
        "this service needs a domain: add at least one to `domains`",
        at_key=True,
    )


def check_structure(stem: str, structure: Structure) -> list[Finding]:
    """Checks inside one structure file that involve several fields or its file name."""
    document = structure_document(stem)
    findings: list[Finding] = []
    seen_domains: dict[str, int] = {}
    for index, domain in enumerate(structure.domains):
        key = domain_to_ascii(domain)
        if key in seen_domains:
            findings.append(
                Finding(
                    document,
                    ("domains", index),
                    "domain {value} is listed twice",
                    {"value": show(domain)},
                )
            )
        seen_domains.setdefault(key, index)

    services = structure.services
    if not structure.domains:
        if services.nextcloud is not None:
            findings.append(_needs_domain(document, "nextcloud"))
        if services.mastodon is not None and services.mastodon.mode == "dedicated":
            findings.append(_needs_domain(document, "mastodon"))
        if services.lists:
            findings.append(_needs_domain(document, "lists"))
        if services.website is not None:
            findings.append(_needs_domain(document, "website"))

    seen_lists: set[str] = set()
    for index, mailing_list in enumerate(services.lists):
        if mailing_list.name in seen_lists:
            findings.append(
                Finding(
                    document,
                    ("services", "lists", index, "name"),
                    "there is already a list named {value} in this structure",
                    {"value": show(mailing_list.name)},
                )
            )
        seen_lists.add(mailing_list.name)
        seen_owners: set[str] = set()
        for owner_index, owner in enumerate(mailing_list.owners):
            if owner.lower() in seen_owners:
                findings.append(
                    Finding(
                        document,
                        ("services", "lists", index, "owners", owner_index),
                        "owner {value} is listed twice",
                        {"value": show(owner)},
                    )
                )
            seen_owners.add(owner.lower())

    website = services.website
    if website is not None and website.branch is not None and website.git_url is None:
        findings.append(
            Finding(
                document,
                ("services", "website", "branch"),
                "a branch only makes sense with a git repository as `source`",
            )
        )
    return findings


def _over_limit(document: str, path: Path, value: int, limit: int, offer: str) -> Finding:
    return Finding(
        document,
        path,
        "{value} is more than the offer allows ({limit}, set by offers.{offer} in collective.yml)",
        {"value": value, "limit": limit, "offer": offer},
    )


def _not_offered(document: str, path: Path, offer: str) -> Finding:
    return Finding(
        document,
        path,
        "the collective does not offer this service: there is no offers.{offer} in collective.yml",
        {"offer": offer},
        at_key=True,
    )


def check_keys(stem: str, keys: StructureKeys, collective: Collective | None) -> list[Finding]:
    """Checks of a structure's slug, tier, server and domains against its file name and the
    collective (skipped when the collective itself is invalid)."""
    document = structure_document(stem)
    findings: list[Finding] = []
    if keys.slug is not None and keys.slug != stem:
        findings.append(
            Finding(
                document,
                ("slug",),
                "the slug {value} must be the file's name: rename the file to {expected} or "
                "set the slug to {stem}",
                {
                    "value": show(keys.slug),
                    "expected": show(f"{keys.slug}.yml"),
                    "stem": show(stem),
                },
            )
        )
    if keys.slug in RESERVED_SLUGS:
        findings.append(
            Finding(
                document,
                ("slug",),
                "the slug {value} is reserved for the collective's own services: choose another",
                {"value": show(keys.slug)},
            )
        )
    if collective is None:
        return findings
    if keys.tier is not None and keys.tier not in collective.tiers:
        findings.append(
            Finding(
                document,
                ("tier",),
                "unknown tier {value}; the collective's tiers are: {known}",
                {"value": show(keys.tier), "known": _names(list(collective.tiers))},
            )
        )
    if keys.placement is not None and collective.server(keys.placement) is None:
        findings.append(
            Finding(
                document,
                ("placement",),
                "unknown server {value}; the collective's servers are: {known}",
                {
                    "value": show(keys.placement),
                    "known": _names([server.name for server in collective.servers]),
                },
            )
        )
    collective_domain = domain_to_ascii(collective.domain)
    reserved = _reserved_domains(collective)
    for index, domain in keys.domains:
        key = domain_to_ascii(domain)
        if key == collective_domain:
            findings.append(
                Finding(
                    document,
                    ("domains", index),
                    "domain {value} is the collective's own domain",
                    {"value": show(domain)},
                )
            )
            continue
        under_collective = key.endswith("." + collective_domain)
        owner = next(
            (
                name
                for name, server in reserved
                if (key == name or key.endswith("." + name)) and (server or not under_collective)
            ),
            None,
        )
        if owner is not None:
            findings.append(
                Finding(
                    document,
                    ("domains", index),
                    "domain {value} belongs to the hosting association ({owner}): a structure "
                    "cannot claim it",
                    {"value": show(domain), "owner": show(owner)},
                )
            )
    return findings


def _reserved_domains(collective: Collective) -> list[tuple[str, bool]]:
    """The domains of the hosting association, which no structure may claim (nor a name under
    them), each with whether it is a server's: its website's host (without a leading `www.`),
    but for the collective's own domain and the names under it, which the structures may use
    when the association's and the collective's are one; and each server's public name (the
    mail exchanger of the list domains, the name the structures' DNS records point to)."""
    reserved = []
    website = collective.hosting_association.website
    if website is not None:
        host = (urlsplit(website).hostname or "").removeprefix("www.")
        if "." in host:
            reserved.append((domain_to_ascii(host), False))
    reserved += [
        (domain_to_ascii(s.public_name), True) for s in collective.servers if s.public_name
    ]
    return reserved


def check_structure_against(
    stem: str, structure: Structure, collective: Collective
) -> list[Finding]:
    """Checks of one valid structure against the collective's offers and their limits."""
    document = structure_document(stem)
    findings: list[Finding] = []
    offers, services = collective.offers, structure.services
    nextcloud = services.nextcloud
    if nextcloud is not None:
        if offers.nextcloud is None:
            findings.append(_not_offered(document, ("services", "nextcloud"), "nextcloud"))
        else:
            limit = offers.nextcloud
            if nextcloud.accounts > limit.max_accounts:
                findings.append(
                    _over_limit(
                        document,
                        ("services", "nextcloud", "accounts"),
                        nextcloud.accounts,
                        limit.max_accounts,
                        "nextcloud.max_accounts",
                    )
                )
            if nextcloud.storage_gb > limit.max_storage_gb:
                findings.append(
                    _over_limit(
                        document,
                        ("services", "nextcloud", "storage_gb"),
                        nextcloud.storage_gb,
                        limit.max_storage_gb,
                        "nextcloud.max_storage_gb",
                    )
                )
    mastodon = services.mastodon
    if mastodon is not None:
        mastodon_offer = (
            offers.mastodon_shared if mastodon.mode == "shared" else offers.mastodon_dedicated
        )
        name = f"mastodon_{mastodon.mode}"
        if mastodon_offer is None:
            findings.append(_not_offered(document, ("services", "mastodon"), name))
        elif mastodon.accounts > mastodon_offer.max_accounts:
            findings.append(
                _over_limit(
                    document,
                    ("services", "mastodon", "accounts"),
                    mastodon.accounts,
                    mastodon_offer.max_accounts,
                    f"{name}.max_accounts",
                )
            )
    if services.lists:
        lists_offer = offers.mailing_lists
        if lists_offer is None:
            findings.append(_not_offered(document, ("services", "lists"), "mailing_lists"))
        else:
            if len(services.lists) > lists_offer.max_lists:
                findings.append(
                    Finding(
                        document,
                        ("services", "lists"),
                        "{value} lists is more than the offer allows ({limit}, set by "
                        "offers.mailing_lists.max_lists in collective.yml)",
                        {"value": len(services.lists), "limit": lists_offer.max_lists},
                        at_key=True,
                    )
                )
            for index, mailing_list in enumerate(services.lists):
                if len(mailing_list.owners) > lists_offer.max_owners_per_list:
                    findings.append(
                        Finding(
                            document,
                            ("services", "lists", index, "owners"),
                            "{value} owners is more than the offer allows ({limit}, set by "
                            "offers.mailing_lists.max_owners_per_list in collective.yml)",
                            {
                                "value": len(mailing_list.owners),
                                "limit": lists_offer.max_owners_per_list,
                            },
                            at_key=True,
                        )
                    )
    if services.website is not None and offers.website is None:
        findings.append(_not_offered(document, ("services", "website"), "website"))
    return findings


def check_structures_together(
    keys: Mapping[str, StructureKeys], reserved: ReservedNames | None = None
) -> list[Finding]:
    """Checks across structure files: unique slugs, unique domains, no one else's subdomain,
    no derived name that is another's or the hosting association's (`reserved`). The first
    file in alphabetical order keeps a slug or domain; the others are reported."""
    findings: list[Finding] = []
    slugs: dict[str, str] = {}
    domains: dict[str, str] = {}
    for stem in sorted(keys):
        slug = keys[stem].slug
        if slug is None:
            continue
        if slug in slugs:
            findings.append(
                Finding(
                    structure_document(stem),
                    ("slug",),
                    "slug {value} is already used by {other}",
                    {"value": show(slug), "other": structure_document(slugs[slug])},
                )
            )
        else:
            slugs[slug] = stem
    findings += _derived_names_clash(keys, slugs, reserved or ReservedNames())
    for stem in sorted(keys):
        for _index, domain in keys[stem].domains:
            domains.setdefault(domain_to_ascii(domain), stem)
    for stem in sorted(keys):
        document = structure_document(stem)
        reported: set[str] = set()
        for index, domain in keys[stem].domains:
            key = domain_to_ascii(domain)
            owner = domains.get(key)
            if owner is not None and owner != stem:
                if key not in reported:
                    reported.add(key)
                    findings.append(
                        Finding(
                            document,
                            ("domains", index),
                            "domain {value} is already used by {other}",
                            {"value": show(domain), "other": structure_document(owner)},
                        )
                    )
                continue
            labels = key.split(".")
            for start in range(1, len(labels) - 1):
                parent = ".".join(labels[start:])
                parent_owner = domains.get(parent)
                if parent_owner is not None and parent_owner != stem:
                    findings.append(
                        Finding(
                            document,
                            ("domains", index),
                            "domain {value} is under {parent}, which belongs to {other}",
                            {
                                "value": show(domain),
                                "parent": show(parent),
                                "other": structure_document(parent_owner),
                            },
                        )
                    )
                    break
    return findings


def _derived_names_clash(
    keys: Mapping[str, StructureKeys], slugs: Mapping[str, str], reserved: ReservedNames
) -> list[Finding]:
    """The names each slug becomes on the servers (chaton.names), unique across the structures:
    a Unix user (and its pool and Redis), an account on the shared Mastodon. Cut to their
    limits, two slugs could give one name, and a slug be crafted to give another's: the first
    file in alphabetical order keeps it, each other is reported on its slug. Checked whatever
    services a structure asks now, since it may ask for the others later. A slug already
    reported as used is not reported again."""
    findings: list[Finding] = []
    users: dict[str, str] = {}
    accounts: dict[str, str] = {}
    for stem in sorted(keys):
        slug = keys[stem].slug
        if slug is None or slugs.get(slug) != stem:
            continue
        document = structure_document(stem)
        for user in unix_names(slug):
            if user in reserved.unix_users:
                findings.append(
                    Finding(
                        document,
                        ("slug",),
                        "slug {value} makes the Unix user {name}, which is an account of the "
                        "hosting association's administrators (common_admins): choose another "
                        "slug",
                        {"value": show(slug), "name": show(user)},
                    )
                )
                continue
            other = users.setdefault(user, stem)
            if other != stem:
                findings.append(
                    Finding(
                        document,
                        ("slug",),
                        "slug {value} makes the Unix user {name}, which {other} already makes: "
                        "choose another slug",
                        {
                            "value": show(slug),
                            "name": show(user),
                            "other": structure_document(other),
                        },
                    )
                )
        account = mastodon_username(slug)
        if account in reserved.mastodon_accounts:
            findings.append(
                Finding(
                    document,
                    ("slug",),
                    "slug {value} makes the Mastodon account {name}, which is the "
                    "administrator's: choose another slug",
                    {"value": show(slug), "name": show(account)},
                )
            )
            continue
        other = accounts.setdefault(account, stem)
        if other != stem:
            findings.append(
                Finding(
                    document,
                    ("slug",),
                    "slug {value} makes the Mastodon account {name}, which {other} already "
                    "makes: choose another slug",
                    {
                        "value": show(slug),
                        "name": show(account),
                        "other": structure_document(other),
                    },
                )
            )
    return findings


def validate(
    collective: Collective | None,
    structures: Mapping[str, Structure],
    partial: Mapping[str, StructureKeys] | None = None,
    reserved: ReservedNames | None = None,
) -> list[Finding]:
    """Every cross-field and cross-document check.

    `structures` maps file names (stems) to valid structures; `partial` maps the stems of the
    invalid ones to the keys that could still be read from them. When the collective itself is
    invalid (None), the checks against it are skipped.
    """
    keys: dict[str, StructureKeys] = dict(partial or {})
    keys.update({stem: StructureKeys.of(structure) for stem, structure in structures.items()})
    findings: list[Finding] = []
    if collective is not None:
        findings.extend(check_collective(collective))
    for stem in sorted(keys):
        findings.extend(check_keys(stem, keys[stem], collective))
        structure = structures.get(stem)
        if structure is not None:
            findings.extend(check_structure(stem, structure))
            if collective is not None:
                findings.extend(check_structure_against(stem, structure, collective))
    findings.extend(check_structures_together(keys, reserved))
    return findings
