"""The DNS records each structure publishes for its list domain, so that its mail is delivered
and trusted: MX (where the domain's mail goes), SPF (who may send it), DKIM (the key that signs
it) and DMARC (what a receiver does with mail that fails both).

The records are computed from what `chaton render` wrote (`opendkim_keys` in the host_vars, the
keys in the vault) and from the collective (each server's `public_name`): they describe what is
deployed, never a guess. DKIM keys are generated once by `chaton render` and kept in the vault,
so a record published once stays valid when the server is rebuilt.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaton.errors import BadInput
from chaton.i18n import _
from chaton.render import HOST_VARS
from chaton.yamlio import load_vars

TTL = 3600
MX_PREFERENCE = 10
# Only the server the MX names sends the domain's mail (Mailman delivers through its Postfix).
SPF = "v=spf1 mx -all"
# Mail from the list domain that passes neither an aligned SPF nor an aligned DKIM check goes to
# the receiver's spam folder. List mail is signed with the list domain (Mailman rewrites From: to
# the list's address), so it aligns.
DMARC = "v=DMARC1; p=quarantine"
# A TXT record is made of strings of at most 255 bytes (RFC 1035 §3.3); receivers join them.
TXT_CHUNK = 255


@dataclass(frozen=True)
class Record:
    """One DNS record: owner name (absolute, ASCII), type and value (a TXT's full text)."""

    name: str
    type: str
    value: str
    ttl: int = TTL

    def zone_line(self) -> str:
        """The record as a line of a zone file (BIND syntax), TXT values quoted and split."""
        if self.type == "TXT":
            data = " ".join(f'"{chunk}"' for chunk in txt_strings(self.value))
        else:
            data = self.value
        return f"{self.name:<44} {self.ttl} IN {self.type:<4} {data}"


@dataclass(frozen=True)
class MailDomain:
    """A structure's list domain on a server, and the records it publishes."""

    structure: str
    structure_name: str
    server: str
    domain: str
    records: tuple[Record, ...]
    # The server has no public_name: the MX names a placeholder.
    placeholder: bool = field(default=False)


def txt_strings(value: str) -> list[str]:
    """`value` cut into the ≤255-byte strings of a TXT record (the values here are ASCII)."""
    data = value.encode("ascii")
    return [data[i : i + TXT_CHUNK].decode("ascii") for i in range(0, len(data), TXT_CHUNK)]


def dkim_value(private_key_pem: str) -> str:
    """The DKIM key record's text for a PEM private key (RFC 6376 §3.6.1): its public key, as
    the base64 of the DER SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    try:
        key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise BadInput(
            _("a DKIM key in the vault cannot be read: {reason}", reason=str(error))
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise BadInput(
            _("a DKIM key in the vault cannot be read: {reason}", reason=_("not an RSA key"))
        )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode('ascii')}"


def mail_records(
    domain: str, selector: str, private_key_pem: str, mail_exchanger: str
) -> tuple[Record, ...]:
    """The MX, SPF, DKIM and DMARC records of a list domain; `mail_exchanger` is an absolute
    name (ending with a dot), or a placeholder."""
    return (
        Record(f"{domain}.", "MX", f"{MX_PREFERENCE} {mail_exchanger}"),
        Record(f"{domain}.", "TXT", SPF),
        Record(f"{selector}._domainkey.{domain}.", "TXT", dkim_value(private_key_pem)),
        Record(f"_dmarc.{domain}.", "TXT", DMARC),
    )


def placeholder_name(server: str) -> str:
    name = _("public name of {server}", server=server)
    return f"<{name}>"


def mail_domains(
    generated: Path, secrets: Mapping[str, str], public_names: Mapping[str, str | None]
) -> list[MailDomain]:
    """Every list domain the rendered host_vars sign mail for, with its records, by structure."""
    found: list[MailDomain] = []
    for path in sorted((generated / HOST_VARS).glob("*.yml")):
        server = path.stem
        data: dict[str, Any] = load_vars(path.read_text(encoding="utf-8")) or {}
        names = {d["domain"]: d["structure_name"] for d in data.get("mailman_domains", [])}
        public_name = public_names.get(server)
        for key in data.get("opendkim_keys", []):
            reference = key["secrets"]["private_key"]
            if reference not in secrets:
                raise BadInput(
                    _(
                        "the vault has no {reference}: run `chaton render` first",
                        reference=reference,
                    )
                )
            found.append(
                MailDomain(
                    structure=key["structure"],
                    structure_name=names.get(key["domain"], key["structure"]),
                    server=server,
                    domain=key["domain"],
                    records=mail_records(
                        key["domain"],
                        key["selector"],
                        secrets[reference],
                        f"{public_name}." if public_name else placeholder_name(server),
                    ),
                    placeholder=public_name is None,
                )
            )
    return sorted(found, key=lambda item: (item.structure, item.domain))
