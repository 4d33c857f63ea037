"""The sshd role on its test host: logins, algorithms and forwarding tried with Debian's ssh client
from inside the host, the effective configuration (`sshd -T`), and the role applied again with
settings it must refuse, or that must keep root's keys (each such test puts the scenario's
converge back when it has changed sshd_config)."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from scenario_tools import ansible_playbook, converge

HOST = "chaton-test-sshd"
SCENARIO = Path(__file__).resolve().parents[1]
SSHD_CONFIG = "/etc/ssh/sshd_config"
KEY = "/root/.ssh/test_key"  # prepare.yml's, authorised for testadmin and for root
SSH = [
    "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
]  # fmt: skip


def ssh(host, user: str, *options: str, command: str | None = None):
    """ssh on the test host to its own sshd (127.0.0.1), as `user`: `command`, or none (-W)."""
    return host.run(
        shlex.join([*SSH, *options, f"{user}@127.0.0.1", *([command] if command else [])])
    )


def key_login(host, user: str):
    return ssh(host, user, "-i", KEY, command="id -un")


def effective(host) -> list[str]:
    """The configuration sshd runs with (`sshd -T`), one line per keyword."""
    return host.check_output("sshd -T").splitlines()


@contextlib.contextmanager
def scenario_restored(host) -> Iterator[None]:
    """Apply the scenario's converge again after the block if sshd_config has changed (also when
    the block fails), and require the file to be back as it was."""
    before = host.file(SSHD_CONFIG).sha256sum
    try:
        yield
    finally:
        if host.file(SSHD_CONFIG).sha256sum != before:
            restored = converge(HOST, SCENARIO)
            assert restored.returncode == 0, restored.stdout[-3000:]
            assert host.file(SSHD_CONFIG).sha256sum == before


def assert_roots_login_closed_again(host) -> None:
    """The scenario's settings applied again: root's login is closed, the key login works."""
    assert "permitrootlogin no" in effective(host)
    assert key_login(host, "root").rc == 255
    assert key_login(host, "testadmin").stdout.strip() == "testadmin"


def test_an_administrator_logs_in_with_a_key(host):
    login = key_login(host, "testadmin")
    assert login.rc == 0, login.stderr
    assert login.stdout.strip() == "testadmin"


def test_no_password_method_is_offered(host):
    """testadmin has a password (prepare.yml): the server offers only public keys."""
    login = ssh(
        host,
        "testadmin",
        "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password,keyboard-interactive",
        command="true",
    )  # fmt: skip
    assert login.rc == 255
    assert "Permission denied (publickey)" in login.stderr


def test_roots_login_is_refused_even_with_a_key(host):
    """testadmin can log in with its key: root's login is closed, keys or not."""
    login = key_login(host, "root")
    assert login.rc == 255
    assert "Permission denied" in login.stderr
    assert login.stdout == ""


def test_an_old_cipher_is_refused(host):
    login = ssh(host, "testadmin", "-c", "aes128-cbc", "-i", KEY, command="true")
    assert login.rc == 255
    assert "no matching cipher" in login.stderr


def test_a_session_cannot_forward(host):
    """An administrator's session may not carry forwardings either (a tunnel into the loopback
    services: PostgreSQL, Redis, Mailman's REST API): stdio forwarding to sshd itself."""
    forward = ssh(
        host, "testadmin", "-i", KEY, "-o", "ExitOnForwardFailure=yes", "-W", "127.0.0.1:22"
    )
    assert forward.rc != 0
    assert "administratively prohibited" in forward.stderr
    assert "SSH-2.0" not in forward.stdout


@pytest.mark.parametrize(
    "line",
    [
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "permitrootlogin no",
        "authenticationmethods publickey",
        "loglevel VERBOSE",
        "allowtcpforwarding no",
        "allowstreamlocalforwarding no",
        "gatewayports no",
        "permittunnel no",
    ],
)
def test_effective_configuration(host, line):
    assert line in effective(host)


def test_post_quantum_key_exchange_comes_first(host):
    kex = [line for line in effective(host) if line.startswith("kexalgorithms sntrup761x25519")]
    assert len(kex) == 1, kex


def assert_refused(host, playbook_file):
    """The scenario's playbook `playbook_file` applies the role with a setting it must refuse:
    its rescue ran, and sshd_config is as it was."""
    before = host.file(SSHD_CONFIG).sha256sum
    playbook = ansible_playbook(HOST, SCENARIO / playbook_file)
    assert playbook.returncode == 0, playbook.stdout[-3000:]
    assert "rescued=1" in playbook.stdout, playbook.stdout[-3000:]
    assert host.file(SSHD_CONFIG).sha256sum == before


def test_a_configuration_sshd_refuses_is_never_installed(host):
    with scenario_restored(host):
        assert_refused(host, "refuse_unknown_keyword.yml")
        # ssh started again on the file in place: the key still works.
        assert host.run("systemctl restart ssh").rc == 0
        login = key_login(host, "testadmin")
        assert login.stdout.strip() == "testadmin", login.stderr


def test_roots_keys_are_kept_while_no_administrator_can_log_in(host):
    """Root's login stays open while no administrator could log in instead (ghost has no
    account); the scenario's settings close it again."""
    with scenario_restored(host):
        applied = converge(HOST, SCENARIO, sshd_admin_accounts=["ghost"])
        assert applied.returncode == 0, applied.stdout[-3000:]
        login = key_login(host, "root")
        assert login.stdout.strip() == "root", login.stderr
    assert_roots_login_closed_again(host)


def test_roots_keys_are_kept_while_ansible_logs_in_as_root_over_ssh(host):
    """The next run would be locked out: the run keeps root's keys and names the way out.
    `__sshd_root_over_ssh` is a test double of the role's finding (podman exec here, never
    SSH)."""
    with scenario_restored(host):
        applied = converge(
            HOST, SCENARIO, sshd_admin_accounts=["testadmin"], __sshd_root_over_ssh=True
        )
        assert applied.returncode == 0, applied.stdout[-3000:]
        assert "ansible_user: testadmin" in applied.stdout, applied.stdout[-3000:]
        login = key_login(host, "root")
        assert login.stdout.strip() == "root", login.stderr
    assert_roots_login_closed_again(host)


def test_no_root_login_is_refused_while_ansible_logs_in_as_root_over_ssh(host):
    with scenario_restored(host):
        assert_refused(host, "refuse_locking_ansible_out.yml")
    assert_roots_login_closed_again(host)
