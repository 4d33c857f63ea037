"""The names a structure's slug becomes on the servers, in one place: `chaton render` writes
them, `chaton validate` proves them unique across the structures before anything is rendered.

- Unix users (`website-`, `nextcloud-`, `mastodon-` + slug, cut to useradd's 32 characters with
  a digest when longer); each instance's PHP-FPM pool and Redis take its user's name.
- Databases and their roles (`nextcloud_`, `mastodon_` + slug, hyphens as underscores): a slug
  has no underscore, so two slugs never give one database name.
- The structure's account on a shared Mastodon: the slug, hyphens as underscores, cut to
  Mastodon's 30 characters (the mastodon role's default `username`, roles/mastodon/tasks/
  mastodon_accounts.yml).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

UNIX_NAME_MAX = 32
# The services whose instances run as a Unix user of their own, named after the slug.
UNIX_PREFIXES = ("website", "nextcloud", "mastodon")
DATABASE_PREFIXES = ("nextcloud", "mastodon")
MASTODON_USERNAME_MAX = 30
# Accounts a shared Mastodon holds besides the structures': the role's administrator
# (mastodon_admin_username's default) and the name every instance keeps for its administrator.
RESERVED_MASTODON_USERNAMES = frozenset({"chaton_admin", "admin"})


@dataclass(frozen=True)
class ReservedNames:
    """Names the inventory's Ansible variables give to the hosting association (group_vars):
    its administrators' Unix accounts (the common role's `common_admins`) and the administrator's
    account on every Mastodon (`mastodon_admin_username`). A structure's derived names must not
    be one of them: the roles would take that account over."""

    unix_users: frozenset[str] = frozenset()
    mastodon_accounts: frozenset[str] = RESERVED_MASTODON_USERNAMES


def unix_name(prefix: str, name: str) -> str:
    """`<prefix>-<name>`, shortened to 32 characters (useradd's limit) when longer: the name is
    cut and the first 6 hex digits of its SHA-256 are appended, so that it stays unique."""
    full = f"{prefix}-{name}"
    if len(full) <= UNIX_NAME_MAX:
        return full
    digest = hashlib.sha256(name.encode("ascii")).hexdigest()[:6]
    keep = UNIX_NAME_MAX - len(prefix) - 1 - 1 - len(digest)
    return f"{prefix}-{name[:keep].rstrip('-')}-{digest}"


def database_name(prefix: str, name: str) -> str:
    """`<prefix>_<name>` with hyphens as underscores (at most 10 + 31 characters: below
    PostgreSQL's 63)."""
    return f"{prefix}_{name.replace('-', '_')}"


def mastodon_username(slug: str) -> str:
    """The structure's account on a shared Mastodon (compared by Mastodon in lowercase: a slug
    is lowercase already)."""
    return slug.replace("-", "_")[:MASTODON_USERNAME_MAX]


def unix_names(slug: str) -> list[str]:
    """Every Unix user name the structure `slug` may be given, whatever services it asks now."""
    return [unix_name(prefix, slug) for prefix in UNIX_PREFIXES]
