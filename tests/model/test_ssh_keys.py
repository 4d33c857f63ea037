"""The webmasters' SSH public keys (services.website.sftp_keys): keys made by the cryptography
library, in OpenSSH's own format, checked by chaton's parser; the refusals built by hand."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import TypeAdapter, ValidationError

from chaton.cli import main
from chaton.model.structure import WebsiteService
from chaton.model.types import TEMPLATE_KEY, SshPublicKey

KEY: TypeAdapter[object] = TypeAdapter(SshPublicKey)


def _openssh(public_key: PublicKeyTypes) -> str:
    return public_key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def _template(value: object) -> str:
    with pytest.raises(ValidationError) as caught:
        KEY.validate_python(value)
    (error,) = caught.value.errors()
    return str((error.get("ctx") or {}).get(TEMPLATE_KEY, error["type"]))


ED25519 = _openssh(ed25519.Ed25519PrivateKey.generate().public_key())
ECDSA = _openssh(ec.generate_private_key(ec.SECP384R1()).public_key())
RSA_3072 = _openssh(rsa.generate_private_key(public_exponent=65537, key_size=3072).public_key())


def _blob(text: str) -> str:
    return text.split()[1]


@pytest.mark.parametrize(
    "value",
    [
        ED25519,
        ED25519 + " webmestre@velo-cite.fr",
        ED25519 + " Camille, webmestre (portable)",
        ECDSA + " ecdsa@example",
        RSA_3072 + " rsa@example",
    ],
    ids=["ed25519", "ed25519-comment", "ed25519-spaces", "ecdsa", "rsa-3072"],
)
def test_keys_made_by_ssh_tools_are_accepted(value: str) -> None:
    assert KEY.validate_python(value) == value


def test_a_weak_rsa_key_is_refused_with_its_size() -> None:
    # A weak key on purpose: what the check must refuse.
    weak = _openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key())  # noqa: S505
    with pytest.raises(ValidationError) as caught:
        KEY.validate_python(weak)
    assert "1024 bits is too weak" in str(caught.value)


def _with_type(key: str, claimed: str) -> str:
    return f"{claimed} {_blob(key)}"


def _corrupted(key: str) -> str:
    raw = bytearray(base64.b64decode(_blob(key)))
    # The first field's length now says more bytes than the blob holds.
    raw[0:4] = (len(raw) + 10).to_bytes(4, "big")
    return f"ssh-ed25519 {base64.b64encode(bytes(raw)).decode()}"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        # A type that is not the blob's: an ed25519 blob announced as RSA.
        (_with_type(ED25519, "ssh-rsa"), "is not of the type it names"),
        (_corrupted(ED25519), "is damaged"),
        ("ssh-ed25519 not-base64!", "is not an SSH public key"),
        ("ssh-ed25519 QUFBQQ=", "is damaged"),
        # DSA: OpenSSH no longer accepts it.
        ("ssh-dss " + _blob(ED25519), "is not an SSH public key"),
        # Options before the key: the role writes the key alone.
        ('command="/bin/sh" ' + ED25519, "is not an SSH public key"),
        ('from="*" ' + ED25519, "is not an SSH public key"),
        # Two keys, or a key and an option, on two lines.
        (ED25519 + "\n" + ECDSA, "a single line"),
        (ED25519 + " comment\rno-pty", "a single line"),
        ("", "is not an SSH public key"),
    ],
    ids=[
        "type-mismatch",
        "truncated",
        "not-base64",
        "bad-padding",
        "dsa",
        "command-option",
        "from-option",
        "two-lines",
        "carriage-return",
        "empty",
    ],
)
def test_what_is_not_one_public_key_is_refused(value: str, reason: str) -> None:
    assert reason in _template(value)


def test_the_same_key_twice_is_refused_even_with_another_comment() -> None:
    with pytest.raises(ValidationError) as caught:
        WebsiteService.model_validate(
            {"sftp_keys": [ED25519 + " laptop", ECDSA, ED25519 + " desktop"]}
        )
    assert "sftp_keys[2] is the same key as an earlier one" in str(caught.value)


def test_at_most_twenty_keys() -> None:
    keys = [_openssh(ed25519.Ed25519PrivateKey.generate().public_key()) for _ in range(21)]
    with pytest.raises(ValidationError):
        WebsiteService.model_validate({"sftp_keys": keys})
    assert len(WebsiteService.model_validate({"sftp_keys": keys[:20]}).sftp_keys) == 20


WEAK_KEY_STRUCTURE = """\
name: Zèbre
slug: zz-keys
contacts:
  - name: Zoé
    email: zoe@zebre.example
tier: member
domains: [zebre.example]
services:
  website:
    source: none
    sftp_keys:
      - {key}
"""


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("english", "is not of the type it names (ssh-rsa)"),
        ("french", "n'est pas du type qu'elle annonce (ssh-rsa)"),
    ],
)
def test_chaton_validate_names_the_line_of_a_bad_key(
    inventory: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    language: str,
    message: str,
) -> None:
    request.getfixturevalue(language)
    path = inventory / "structures" / "zz-keys.yml"
    path.write_text(WEAK_KEY_STRUCTURE.format(key=_with_type(ED25519, "ssh-rsa")), encoding="utf-8")
    assert main(["validate", "-i", str(inventory)]) == 2
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{path}:12:9: services.website.sftp_keys[0]: ")
    assert line.endswith(message)
