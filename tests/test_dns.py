"""`chaton dns`: the records printed for each list domain, the DKIM key checked against OpenSSL."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from support import VAULT_PASSWORD

from chaton.cli import main
from chaton.dns import TXT_CHUNK, dkim_value, txt_strings
from chaton.errors import BadInput
from chaton.secrets import generate
from chaton.vault import read_secrets

# English messages, and no vault password from the machine's environment: the only one is the
# password `vault_inventory` (the writable example) holds in generated/. See tests/conftest.py.
pytestmark = pytest.mark.usefixtures("english", "no_outside_vault_password")

LIST_DOMAINS = {
    "epicerie-coop": "lists.epicerie-coop.fr",
    "monnaie-locale": "lists.lesoulibre.org",
    "reseau-jardins": "lists.reseau-jardins.org",
    "velo-cite": "lists.velo-cite.fr",
}


def openssl_public_key(private_pem: str, tmp_path: Path) -> str:
    """The base64 DER public key of `private_pem`, derived by OpenSSL (not by the code tested)."""
    key = tmp_path / "key.pem"
    key.write_text(private_pem, encoding="ascii")
    der = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return base64.b64encode(der).decode("ascii")


@pytest.fixture
def rendered(vault_inventory: Path) -> Path:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    return vault_inventory


def secrets_of(root: Path) -> dict[str, str]:
    return read_secrets(root / "generated" / "secrets.vault.yml", VAULT_PASSWORD.encode())


def test_a_generated_dkim_key_is_rsa_2048_in_pkcs8(tmp_path: Path) -> None:
    pem = generate("dkim_rsa2048")
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    key = tmp_path / "key.pem"
    key.write_text(pem, encoding="ascii")
    text = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-noout", "-text"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "Private-Key: (2048 bit, 2 primes)" in text
    assert generate("dkim_rsa2048") != pem


def test_the_dkim_record_carries_the_public_key_openssl_derives(tmp_path: Path) -> None:
    pem = generate("dkim_rsa2048")
    assert dkim_value(pem) == f"v=DKIM1; k=rsa; p={openssl_public_key(pem, tmp_path)}"


def test_a_key_that_is_not_rsa_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )
    with pytest.raises(BadInput, match="not an RSA key"):
        dkim_value(pem)
    with pytest.raises(BadInput, match="cannot be read"):
        dkim_value("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_long_txt_values_are_split_in_strings_of_at_most_255_bytes() -> None:
    value = "v=DKIM1; k=rsa; p=" + "A" * 400
    chunks = txt_strings(value)
    assert [len(chunk) for chunk in chunks] == [255, 163]
    assert "".join(chunks) == value
    assert txt_strings("v=spf1 mx -all") == ["v=spf1 mx -all"]
    assert TXT_CHUNK == 255


def test_a_structures_records_in_zone_syntax(
    rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dns", "-i", str(rendered), "--structure", "velo-cite"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [shlex.split(line) for line in lines if not line.startswith(";")]
    assert records[0] == ["lists.velo-cite.fr.", "3600", "IN", "MX", "10", "fabrique-1.alolise.fr."]
    assert records[1] == ["lists.velo-cite.fr.", "3600", "IN", "TXT", "v=spf1 mx -all"]
    assert records[2][:4] == ["chaton._domainkey.lists.velo-cite.fr.", "3600", "IN", "TXT"]
    dmarc = ["_dmarc.lists.velo-cite.fr.", "3600", "IN", "TXT", "v=DMARC1; p=quarantine"]
    assert records[3] == dmarc
    assert len(records) == 4
    # The DKIM record's strings, joined, name the public half of the key the vault holds.
    key = secrets_of(rendered)["dkim/lists.velo-cite.fr/private_key"]
    strings = records[2][4:]
    assert all(len(s) <= 255 for s in strings) and len(strings) == 2
    assert "".join(strings) == f"v=DKIM1; k=rsa; p={openssl_public_key(key, tmp_path)}"
    assert lines[0] == "; Vélo-Cité (velo-cite): lists.velo-cite.fr, lists on fabrique-1"


def test_json_lists_every_list_domain_and_the_same_key_each_time(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dns", "-i", str(rendered), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert {item["structure"]: item["domain"] for item in first} == LIST_DOMAINS
    for item in first:
        assert item["server"] == "fabrique-1"
        assert [r["type"] for r in item["records"]] == ["MX", "TXT", "TXT", "TXT"]
    # A second render keeps the keys: the records do not change.
    assert main(["render", "-i", str(rendered)]) == 0
    capsys.readouterr()
    assert main(["dns", "-i", str(rendered), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first


def test_a_structure_without_lists_has_nothing_to_publish(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dns", "-i", str(rendered), "--structure", "theatre-du-lien"]) == 0
    assert capsys.readouterr().out == "theatre-du-lien has no mailing lists: no record to publish\n"


def test_without_public_name_the_mx_is_a_placeholder_and_a_warning_says_so(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collective = rendered / "collective.yml"
    text = collective.read_text(encoding="utf-8")
    collective.write_text(text.replace("    public_name: fabrique-1.alolise.fr\n", ""))
    assert main(["dns", "-i", str(rendered), "--structure", "velo-cite"]) == 0
    captured = capsys.readouterr()
    assert "IN MX   10 <public name of fabrique-1>\n" in captured.out
    assert "server fabrique-1 has no public_name in collective.yml" in captured.err


def test_unknown_structure_not_rendered_or_stale_is_bad_input(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dns", "-i", str(vault_inventory)]) == 2
    assert "not rendered yet: run `chaton render` first" in capsys.readouterr().err
    assert main(["render", "-i", str(vault_inventory)]) == 0
    assert main(["dns", "-i", str(vault_inventory), "--structure", "zebre"]) == 2
    assert "no structure zebre in" in capsys.readouterr().err
    structure = vault_inventory / "structures" / "velo-cite.yml"
    data = yaml.safe_load(structure.read_text(encoding="utf-8"))
    data["services"]["lists"].append({"name": "nouvelle", "owners": ["bureau@velo-cite.fr"]})
    structure.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["dns", "-i", str(vault_inventory)]) == 2
    assert "the generated files are stale" in capsys.readouterr().err


def test_in_french(rendered: Path, french: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dns", "-i", str(rendered), "--structure", "theatre-du-lien"]) == 0
    out = capsys.readouterr().out
    assert out == "theatre-du-lien n'a pas de liste de diffusion : aucun enregistrement à publier\n"
