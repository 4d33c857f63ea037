"""A member structure of the collective: `inventories/<collective>/structures/<slug>.yml`.

Pure data. Checks that involve several fields or other files (the slug equals the file name,
the tier exists, domains are unique…) live in `chaton.validation`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr, field_validator, model_validator

from chaton.model.collective import FrozenModel
from chaton.model.types import (
    AccountName,
    AppId,
    Domain,
    Email,
    FreeText,
    GitRef,
    Identifier,
    PositiveInt,
    SshPublicKey,
    check_https_url,
    fail,
)


class Contact(FrozenModel):
    name: FreeText
    email: Email
    role: FreeText | None = None


class NextcloudAccount(FrozenModel):
    """An account created on the structure's Nextcloud (never deleted by a deploy)."""

    id: AccountName
    name: FreeText
    # Where the welcome mail goes: its link lets the person choose a password.
    email: Email | None = None
    groups: tuple[AccountName, ...] = ()
    # Its own quota instead of the instance's default share.
    quota_gb: PositiveInt | None = None


class NextcloudService(FrozenModel):
    # Accounts the structure pays for (sizing, costs), and its storage.
    accounts: PositiveInt
    storage_gb: PositiveInt
    # Accounts created at deploy, at most `accounts`; groups created; apps enabled (shipped with
    # the release: servers never download from the app store).
    users: tuple[NextcloudAccount, ...] = ()
    groups: tuple[AccountName, ...] = ()
    apps: tuple[AppId, ...] = ()

    @model_validator(mode="after")
    def _accounts_fit(self) -> NextcloudService:
        ids = [user.id for user in self.users]
        for index, login in enumerate(ids):
            if login in ids[:index]:
                raise fail("the login {login} is used twice", login=login)
        if len(ids) > self.accounts:
            raise fail(
                "{count} users for {accounts} accounts: raise accounts or remove users",
                count=len(ids),
                accounts=self.accounts,
            )
        quotas = sum(user.quota_gb or 0 for user in self.users)
        if quotas > self.storage_gb:
            raise fail(
                "the users' own quotas add up to {total} GB, more than storage_gb ({storage})",
                total=quotas,
                storage=self.storage_gb,
            )
        return self


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
    # The webmasters' SSH public keys: the way into the site's SFTP account (passwords are off
    # unless the hosting association turns them on).
    sftp_keys: Annotated[tuple[SshPublicKey, ...], Field(max_length=20)] = ()

    @field_validator("sftp_keys")
    @classmethod
    def _keys_once(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        blobs = [key.split()[1] for key in keys]
        for index, blob in enumerate(blobs):
            if blob in blobs[:index]:
                raise fail("sftp_keys[{index}] is the same key as an earlier one", index=index)
        return keys

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
    "NextcloudAccount",
    "NextcloudService",
    "Services",
    "Structure",
    "WebsiteService",
]
