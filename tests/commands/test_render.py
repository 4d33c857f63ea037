"""`chaton render` on disk: secrets generated once and never printed, --check, atomicity."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from support import VAULT_PASSWORD

from chaton import files
from chaton.cli import main
from chaton.errors import BadInput
from chaton.generated import read_recorded, render_inventory
from chaton.vault import PASSWORD_ENV, read_secrets
from chaton.yamlio import load_vars

# English messages, and no vault password from the machine's environment: the only one is the
# password `vault_inventory` (the writable example) holds in generated/. See tests/conftest.py.
pytestmark = pytest.mark.usefixtures("english", "no_outside_vault_password")

NEW_STRUCTURE = """\
name: Zèbre
slug: zebre
contacts:
  - name: Zoé
    email: zoe@zebre.fr
tier: member
domains: [zebre.fr]
services:
  nextcloud: {accounts: 3, storage_gb: 5}
  website: {source: none}
"""


def _secrets(root: Path) -> dict[str, str]:
    return read_secrets(root / "generated" / "secrets.vault.yml", VAULT_PASSWORD.encode())


def _snapshot(root: Path) -> dict[str, bytes]:
    out = root / "generated"
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_render_writes_host_vars_inventory_and_vault(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    out = capsys.readouterr().out
    generated = vault_inventory / "generated"
    assert f"wrote {generated}/host_vars/fabrique-1.yml" in out
    # 4 Nextclouds x 6 + 2 Mastodons x 8 + Mailman 6 + 4 websites x 1 + 4 list domains' DKIM
    # keys x 1 + the server's backup passphrase 1 = 55 secrets.
    assert "55 new secrets generated" in out
    vault = generated / "secrets.vault.yml"
    assert vault.read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    secrets = _secrets(vault_inventory)
    assert len(secrets) == 55
    assert len(secrets["nextcloud/velo-cite/db_password"]) == 32
    assert len(secrets["mastodon/shared/secret_key_base"]) == 128
    assert secrets["nextcloud/velo-cite/instanceid"].startswith("oc")
    # Every reference in the host_vars is in the vault.
    host_vars = load_vars((generated / "host_vars" / "fabrique-1.yml").read_text())
    references = (
        {
            ref
            for name, items in host_vars.items()
            if isinstance(items, list)
            for item in items
            if isinstance(item, dict)
            for ref in item.get("secrets", {}).values()
        }
        | set(host_vars["mailman_secrets"].values())
        | set(host_vars["backup_secrets"].values())
    )
    assert references == set(secrets)


def test_no_secret_is_printed_or_in_the_host_vars(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    assert main(["render", "-i", str(vault_inventory), "--check"]) == 0
    assert main(["render", "-i", str(vault_inventory), "--json"]) == 0
    assert main(["plan", "-i", str(vault_inventory), "--json"]) == 0
    captured = capsys.readouterr()
    texts = [captured.out, captured.err]
    generated = vault_inventory / "generated"
    texts += [p.read_text() for p in generated.rglob("*.yml") if p.name != "secrets.vault.yml"]
    values = _secrets(vault_inventory).values()
    assert len(values) == 55
    for value in values:
        for text in texts:
            assert value not in text


def test_same_input_same_bytes_and_secrets_never_regenerated(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    first = _snapshot(vault_inventory)
    before = _secrets(vault_inventory)
    assert main(["render", "-i", str(vault_inventory)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert _snapshot(vault_inventory) == first  # the vault file too, although encryption is salted
    # A new structure: its secrets are added, every existing one is kept as it was.
    (vault_inventory / "structures" / "zebre.yml").write_text(NEW_STRUCTURE, encoding="utf-8")
    assert main(["render", "-i", str(vault_inventory)]) == 0
    # Nextcloud 6 + website 1.
    assert "7 new secrets generated" in capsys.readouterr().out
    after = _secrets(vault_inventory)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {
        "nextcloud/zebre/admin_password",
        "nextcloud/zebre/db_password",
        "nextcloud/zebre/instanceid",
        "nextcloud/zebre/passwordsalt",
        "nextcloud/zebre/redis_password",
        "nextcloud/zebre/secret",
        "website/zebre/sftp_password",
    }


def test_secrets_of_a_removed_structure_are_kept_and_reported(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    before = _secrets(vault_inventory)
    (vault_inventory / "structures" / "monnaie-locale.yml").unlink()
    assert main(["render", "-i", str(vault_inventory)]) == 0
    err = capsys.readouterr().err
    # Its Nextcloud's 6 secrets and its list domain's DKIM key; its list goes, but Mailman stays
    # for the other structures.
    assert "7 secrets no instance uses any more are kept in the vault" in err
    assert "nextcloud/monnaie-locale/db_password" in err
    assert "dkim/lists.lesoulibre.org/private_key" in err
    assert _secrets(vault_inventory) == before


def test_check_says_stale_then_up_to_date(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generated = vault_inventory / "generated"
    assert main(["render", "-i", str(vault_inventory), "--check"]) == 1
    out = capsys.readouterr().out
    assert f"stale: {generated}/host_vars/fabrique-1.yml" in out
    assert f"stale: {generated}/secrets.vault.yml" in out
    assert not (generated / "host_vars").exists()  # --check writes nothing
    assert main(["render", "-i", str(vault_inventory)]) == 0
    capsys.readouterr()
    assert main(["render", "-i", str(vault_inventory), "--check"]) == 0
    assert capsys.readouterr().out == f"{generated}: up to date\n"
    # A structure changes its description: only the host_vars are stale, not the secrets.
    path = vault_inventory / "structures" / "velo-cite.yml"
    path.write_text(path.read_text().replace("Infos aux", "Nouvelles aux"), encoding="utf-8")
    assert main(["render", "-i", str(vault_inventory), "--check", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["stale"] == ["host_vars/fabrique-1.yml"]
    assert result["up_to_date"] is False
    # A hand edit of a generated file is stale too.
    assert main(["render", "-i", str(vault_inventory)]) == 0
    host_vars = generated / "host_vars" / "fabrique-1.yml"
    host_vars.write_text(host_vars.read_text() + "# edited\n")
    assert main(["render", "-i", str(vault_inventory), "--check"]) == 1


def test_without_a_vault_password_render_refuses_and_explains(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (vault_inventory / "generated" / ".vault-password").unlink()
    assert main(["render", "-i", str(vault_inventory)]) == 2
    err = capsys.readouterr().err
    assert "no vault password file at" in err
    assert "chaton render --init-vault" in err
    assert PASSWORD_ENV in err
    assert not (vault_inventory / "generated" / "host_vars").exists()


def test_init_vault_creates_a_private_random_password_once(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password = vault_inventory / "generated" / ".vault-password"
    password.unlink()
    assert main(["render", "-i", str(vault_inventory), "--init-vault"]) == 0
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    first = password.read_text()
    assert len(first.strip()) >= 40
    assert first.strip() not in capsys.readouterr().out
    assert main(["render", "-i", str(vault_inventory), "--init-vault"]) == 0
    assert password.read_text() == first
    assert "exists: it is kept" in capsys.readouterr().err


def test_password_file_from_option_and_environment(
    vault_inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("another password\n")
    (vault_inventory / "generated" / ".vault-password").unlink()
    assert (
        main(["render", "-i", str(vault_inventory), "--vault-password-file", str(elsewhere)]) == 0
    )
    assert read_secrets(vault_inventory / "generated" / "secrets.vault.yml", b"another password")
    monkeypatch.setenv(PASSWORD_ENV, str(elsewhere))
    assert main(["render", "-i", str(vault_inventory), "--check"]) == 0


def test_wrong_password_is_bad_input(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    (vault_inventory / "generated" / ".vault-password").write_text("wrong\n")
    before = _snapshot(vault_inventory)
    assert main(["render", "-i", str(vault_inventory)]) == 2
    assert "cannot decrypt" in capsys.readouterr().err
    assert _snapshot(vault_inventory) == before


def test_a_render_that_fails_midway_leaves_every_file_as_it_was(
    vault_inventory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    # Change two structures, so that the host_vars and the vault would both be rewritten.
    (vault_inventory / "structures" / "zebre.yml").write_text(NEW_STRUCTURE, encoding="utf-8")
    before = _snapshot(vault_inventory)
    real_prepare = files.prepare
    calls: list[Path] = []

    def failing_prepare(path: Path, data: bytes, mode: int = 0o644) -> Path:
        calls.append(path)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_prepare(path, data, mode)

    monkeypatch.setattr(files, "prepare", failing_prepare)
    with pytest.raises(OSError, match="No space left"):
        render_inventory(vault_inventory)
    assert len(calls) == 2  # the first file was prepared, the second failed
    assert _snapshot(vault_inventory) == before  # byte-identical, and no temporary file left behind
    assert not [p for p in (vault_inventory / "generated").rglob("*") if p.name.endswith(".tmp")]


def test_recorded_placements_are_read_back_and_a_broken_record_refused(
    vault_inventory: Path,
) -> None:
    render_inventory(vault_inventory)
    recorded = read_recorded(vault_inventory)
    assert recorded["nextcloud/velo-cite"] == "fabrique-1"
    assert len(recorded) == 14
    (vault_inventory / "generated" / "host_vars" / "fabrique-1.yml").write_text("nope: [\n")
    with pytest.raises(BadInput, match="not a host_vars file written by `chaton render`"):
        read_recorded(vault_inventory)


def test_a_removed_server_loses_its_host_vars(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-i", str(vault_inventory)]) == 0
    stale = vault_inventory / "generated" / "host_vars" / "old-server.yml"
    stale.write_text("---\nchaton_instances: !unsafe []\n")
    assert main(["render", "-i", str(vault_inventory), "--check"]) == 1
    assert main(["render", "-i", str(vault_inventory)]) == 0
    assert f"removed {stale}" in capsys.readouterr().out
    assert not stale.exists()


def test_doesnt_fit_is_exit_1_and_writes_nothing(
    vault_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = NEW_STRUCTURE.replace("storage_gb: 5", "storage_gb: 500").replace("zebre", "zz-big")
    for index in range(4):
        name = f"zz-big{index}"
        text = big.replace("zz-big", name)
        (vault_inventory / "structures" / f"{name}.yml").write_text(text, encoding="utf-8")
    assert main(["render", "-i", str(vault_inventory)]) == 1
    err = capsys.readouterr().err
    # 4 x 502 GB more on 1296.6 GB free: the first two fit, the third does not.
    assert "nextcloud/zz-big2: fits on no server: fabrique-1: disk (GB) short by" in err
    assert not (vault_inventory / "generated" / "host_vars").exists()
    assert [p.name for p in (vault_inventory / "generated").iterdir()] == [".vault-password"]
