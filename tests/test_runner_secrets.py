"""Canary secrets: nothing the runner keeps or prints holds a secret of the vault.

The canaries travel as `chaton deploy` passes the real ones (an ansible-vault file given with
--extra-vars and --vault-password-file) through tasks that handle them as the roles do (no_log),
one of which fails: a failure's event is the one the runner writes in full.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from support import ROOT

from chaton.runner import run_playbook
from chaton.vault import encrypt_secrets

PLAY = ROOT / "tests" / "runner_fixtures" / "secrets_play.yml"


def test_no_canary_in_run_folder_or_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    canaries = {f"canary/{n}": f"CANARY{secrets.token_hex(12)}" for n in ("one", "two", "three")}
    password = tmp_path / "vault-password"
    password.write_text("test-vault-password\n")
    vault = tmp_path / "secrets.vault.yml"
    vault.write_bytes(encrypt_secrets(canaries, b"test-vault-password"))
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  hosts:\n    canary-host:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {ROOT / '.venv' / 'bin' / 'python'}\n"
        f"      secrets_play_dir: {tmp_path}\n"
    )
    runs = tmp_path / "runs"
    result = run_playbook(
        PLAY,
        hosts,
        runs_dir=runs,
        fact_cache=tmp_path / "facts",
        quiet=False,
        extra_args=["--extra-vars", f"@{vault}", "--vault-password-file", str(password)],
    )
    # The play ran: the secret reached the file it configures, and the failure was recorded.
    assert (tmp_path / "config").read_text() == f"password = {canaries['canary/one']}\n"
    assert result.hosts["canary-host"].failures == 0  # ignored
    printed = capsys.readouterr()
    kept = [p for p in runs.rglob("*") if p.is_file()]
    # The failure's event is kept in full (with its task and censored result).
    assert any(b'"runner_on_failed"' in p.read_bytes() for p in kept), kept
    for value in canaries.values():
        assert value not in printed.out and value not in printed.err
        for path in kept:
            assert value.encode() not in path.read_bytes(), path
        assert value not in repr(result)
