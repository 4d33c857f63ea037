"""Mastodon's VAPID key pair (secret kind `vapid_p256`), checked against OpenSSL and the P-256
curve rather than against the program's own output: the private value must be a scalar of P-256
whose public point OpenSSL derives to exactly the public value, both in the encoding Mastodon's
.env.production takes (URL-safe base64 with padding, as the webpush gem writes them)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chaton.render import MASTODON_SECRETS
from chaton.secrets import SecretSpec, complete, generate

# English messages, and no vault password from the machine's environment
# (CHATON_VAULT_PASSWORD_FILE unset): tests/conftest.py.
pytestmark = pytest.mark.usefixtures("english", "no_outside_vault_password")

# The order of P-256 (SEC 2, secp256r1): a private scalar lies in [1, n - 1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
LINES = re.compile(
    r"\AVAPID_PRIVATE_KEY=([A-Za-z0-9_-]{43}=)\nVAPID_PUBLIC_KEY=([A-Za-z0-9_-]{87}=)\Z"
)


def _pair(value: str) -> tuple[bytes, bytes]:
    match = LINES.match(value)
    assert match, "two .env lines, URL-safe base64 with padding"
    return base64.urlsafe_b64decode(match.group(1)), base64.urlsafe_b64decode(match.group(2))


def test_the_value_is_the_two_env_lines_of_a_p256_key_pair() -> None:
    private, public = _pair(generate("vapid_p256"))
    assert len(private) == 32 and 1 <= int.from_bytes(private, "big") < P256_ORDER
    # Uncompressed point: 0x04, then X and Y, and the point lies on the curve.
    assert len(public) == 65 and public[0] == 4
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    assert point.curve.name == "secp256r1"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_derives_the_same_public_key(tmp_path: Path) -> None:
    private, public = _pair(generate("vapid_p256"))
    key = ec.derive_private_key(int.from_bytes(private, "big"), ec.SECP256R1())
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    text = subprocess.run(
        ["openssl", "ec", "-in", str(pem), "-noout", "-text", "-conv_form", "uncompressed"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "ASN1 OID: prime256v1" in text
    # openssl prints "priv:" then "pub:" as hex bytes separated by colons, over several lines.
    blocks = re.findall(r"(priv|pub):\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    found = {name: bytes.fromhex(re.sub(r"[\s:]", "", hexes)) for name, hexes in blocks}
    assert int.from_bytes(found["priv"], "big") == int.from_bytes(private, "big")
    assert found["pub"] == public


def test_two_pairs_differ_and_a_kept_pair_is_never_regenerated() -> None:
    first, second = generate("vapid_p256"), generate("vapid_p256")
    assert first != second
    spec = SecretSpec("mastodon/shared/vapid_keys", "vapid_p256")
    created = complete({}, [spec])
    assert created.created == ("mastodon/shared/vapid_keys",)
    _pair(created.values["mastodon/shared/vapid_keys"])
    again = complete(created.values, [spec])
    assert again.values == created.values and not again.changed


def test_every_mastodon_instance_gets_a_vapid_pair() -> None:
    assert MASTODON_SECRETS["vapid_keys"] == "vapid_p256"
