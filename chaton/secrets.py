"""The collective's secrets: what kinds there are, which an instance needs, how to make them.

The rendered host_vars never hold a secret: they name its *reference*
(`<kind>/<instance>/<purpose>`, e.g. `nextcloud/velo-cite/db_password`), and the roles read
`chaton_secrets[reference]`. This module is pure: it generates values with Python's `secrets`
(and `cryptography` for the key pairs) and decides which to add; `chaton.vault` keeps them,
ansible-vault encrypted.

Rules:
- a secret is generated the first time an instance needs it, and never again: a later render keeps
  every existing value, whatever changed in the inventory;
- secrets no instance needs any more (a structure left, a service was dropped) are **kept**, and
  `chaton render` says how many and which references: the database or the data they protect may
  still be on a server, and a structure that comes back finds its passwords again. Removing them is
  a deliberate act (`ansible-vault edit`), never a side effect;
- values are never printed, logged or written anywhere but the vault file.
"""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

SECRETS_VARIABLE = "chaton_secrets"

SecretKind = Literal[
    "password",
    "hex128",
    "key32",
    "token48",
    "salt30",
    "nextcloud_instanceid",
    "dkim_rsa2048",
    "vapid_p256",
]

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
# kind → (alphabet, length, prefix)
_KINDS: dict[str, tuple[str, int, str]] = {
    # A password for a database, Redis, an admin account, SFTP, a REST API.
    "password": (_ALNUM, 32, ""),
    # Mastodon's SECRET_KEY_BASE and OTP_SECRET (what `rails secret` prints: 128 hex digits).
    "hex128": ("0123456789abcdef", 128, ""),
    # Mastodon's Active Record encryption keys and salt (what `rails db:encryption:init` prints).
    "key32": (_ALNUM, 32, ""),
    # Nextcloud's `secret`, Django's SECRET_KEY for Mailman's web interface, an API key.
    "token48": (_ALNUM, 48, ""),
    # Nextcloud's `passwordsalt`.
    "salt30": (_ALNUM, 30, ""),
    # Nextcloud's `instanceid`: "oc" and 10 lowercase letters or digits.
    "nextcloud_instanceid": (_LOWER_ALNUM, 10, "oc"),
}


@dataclass(frozen=True, order=True)
class SecretSpec:
    """A secret an instance needs: its reference and how to make one."""

    reference: str
    kind: SecretKind = "password"


# A DKIM signing key (RFC 6376, RFC 8301: RSA of at least 1024 bits, 2048 recommended): PEM,
# PKCS#8. Its public half is what `chaton dns` prints for the domain's DKIM record.
DKIM_KEY_BITS = 2048


def generate(kind: SecretKind) -> str:
    """A new random value of `kind`, from the operating system's random source."""
    if kind == "dkim_rsa2048":
        return _rsa_private_key(DKIM_KEY_BITS)
    if kind == "vapid_p256":
        return _vapid_key_pair()
    alphabet, length, prefix = _KINDS[kind]
    return prefix + "".join(secrets.choice(alphabet) for _index in range(length))


def _rsa_private_key(bits: int) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii")


def _vapid_key_pair() -> str:
    """Mastodon's Web Push (VAPID, RFC 8292) key pair: an EC key on P-256, as the two lines
    `rake mastodon:webpush:generate_vapid_key` prints for .env.production. Both values are
    URL-safe base64 with padding (the webpush gem's encoding): the private scalar on 32 bytes,
    the public point uncompressed (65 bytes, 0x04 || X || Y)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    encode = base64.urlsafe_b64encode
    return (
        f"VAPID_PRIVATE_KEY={encode(private).decode('ascii')}\n"
        f"VAPID_PUBLIC_KEY={encode(public).decode('ascii')}"
    )


@dataclass(frozen=True)
class SecretsUpdate:
    """The secrets after a render: every value, and which references were added or are unused."""

    values: Mapping[str, str]
    created: tuple[str, ...]
    unused: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.created)


def complete(existing: Mapping[str, str], needed: Iterable[SecretSpec]) -> SecretsUpdate:
    """Keep every existing secret, generate the needed ones that are missing."""
    values = dict(existing)
    created = []
    wanted = set()
    for spec in sorted(set(needed)):
        wanted.add(spec.reference)
        if spec.reference not in values:
            values[spec.reference] = generate(spec.kind)
            created.append(spec.reference)
    unused = sorted(reference for reference in values if reference not in wanted)
    return SecretsUpdate(dict(sorted(values.items())), tuple(created), tuple(unused))
