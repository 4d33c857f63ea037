"""A member structure of the collective: `inventories/<collective>/structures/<slug>.yml`.

Pure data. Checks that involve several fields or other files (the slug equals the file name,
the tier exists, domains are unique…) live in `chaton.validation`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr, field_validator

from chaton.model.collective import FrozenModel
from chaton.model.types import (
    Domain,
    Email,
    FreeText,
    GitRef,
    Identifier,
    PositiveInt,
    check_https_url,
)


class Contact(FrozenModel):
    name: FreeText
    email: Email
    role: FreeText | None = None


class NextcloudService(FrozenModel):
    accounts: PositiveInt
    storage_gb: PositiveInt


class MastodonService(FrozenModel):
    mode: Literal["shared", "dedicated"] = "shared"
    accounts: PositiveInt


class MailingList(FrozenModel):
    name: Identifier
    description: FreeText | None = None
    owners: Annotated[tuple[Email, ...], Field(min_length=1)]


class WebsiteService(FrozenModel):
    # "none": files uploaded by SFTP; otherwise the https address of a git repository to build from.
    source: StrictStr = "none"
    branch: GitRef | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return value if value == "none" else check_https_url(value)

    @property
    def git_url(self) -> str | None:
        return None if self.source == "none" else self.source


class Services(FrozenModel):
    nextcloud: NextcloudService | None = None
    mastodon: MastodonService | None = None
    lists: tuple[MailingList, ...] = ()
    website: WebsiteService | None = None


class Structure(FrozenModel):
    name: FreeText
    slug: Identifier
    contacts: Annotated[tuple[Contact, ...], Field(min_length=1)]
    tier: Identifier
    status: Literal["active", "suspended", "leaving"] = "active"
    # The first domain is the structure's main one: its services are named after it.
    domains: tuple[Domain, ...] = ()
    services: Services = Services()
    # Pin the structure's instances on this server instead of letting `chaton plan` choose.
    placement: Identifier | None = None


__all__ = [
    "Contact",
    "MailingList",
    "MastodonService",
    "NextcloudService",
    "Services",
    "Structure",
    "WebsiteService",
]
