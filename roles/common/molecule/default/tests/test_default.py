"""Verify the common role on its test host (testinfra, podman backend)."""

import pytest

KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIFHmTNyYrBLBt0TIgWTTEtesQJVUNDSq3O2bsd+u8nKo"


@pytest.mark.parametrize("name", ["curl", "locales", "sudo", "tzdata", "jq", "unattended-upgrades"])
def test_packages_installed(host, name):
    assert host.package(name).is_installed


def test_hostname(host):
    assert host.check_output("hostname") == "chaton-test-common"


def test_timezone(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Paris"
    assert host.file("/etc/timezone").content == b"Europe/Paris\n"
    # The zone is really in force: Paris is UTC+1 or UTC+2.
    assert host.check_output("date +%z") in ("+0100", "+0200")


def test_locales(host):
    available = host.check_output("locale -a").split()
    assert "fr_FR.utf8" in available
    assert "en_US.utf8" in available
    assert "LANG=fr_FR.UTF-8" in host.file("/etc/default/locale").content_string


def test_unattended_upgrades_policy(host):
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert "label=Debian-Security" in dump
    assert 'Unattended-Upgrade::Mail "admins@alolise.example";' in dump
    # unattended-upgrades itself accepts the configuration (dry run, no download).
    run = host.run("unattended-upgrade --dry-run --debug 2>&1 | head -50")
    assert "Allowed origins are:" in run.stdout
    assert "label=Debian-Security" in run.stdout


def test_journald_retention(host):
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=500M" in config
    assert "MaxRetentionSec=1month" in config
    assert host.service("systemd-journald").is_running


def test_admin_account(host):
    user = host.user("camille")
    assert user.exists
    assert "chaton-admins" in user.groups
    assert user.shell == "/bin/bash"
    keys = host.file("/home/camille/.ssh/authorized_keys")
    assert keys.user == "camille"
    assert keys.mode == 0o600
    assert KEY in keys.content_string
    # Password login impossible: the password field is locked.
    assert host.check_output("getent shadow camille").split(":")[1] == "!"


def test_admin_sudo_without_password(host):
    assert host.run("sudo -n -u camille sudo -n true").rc == 0
    assert host.run("visudo -c").rc == 0


def test_former_admin_removed(host):
    assert not host.user("former-admin").exists
