"""The postgresql role on its test host: each instance reaches its own database, and only it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

HOST = "chaton-test-postgresql"
SCENARIO = Path(__file__).resolve().parents[1]
ROOT = SCENARIO.parents[3]

# The instances of vars/instances.yml: Unix user, database (= its owner role), password.
A = ("chaton-test-a", "test_a", "fake-password-of-a")
B = ("chaton-test-b", "test_b", "fake-password-of-b")
C = ("chaton-test-c", "test_c", "fake-password-of-c")
# None: the local socket.
TRANSPORTS = [None, "127.0.0.1", "::1"]


def psql(host, unix_user, role, database, password=None, address=None, sql="SELECT current_user"):
    """Run psql as `unix_user`, never prompting for a password (-w)."""
    env = "env -u PGPASSWORD "
    if password is not None:
        env = f"env PGPASSWORD={shlex.quote(password)} "
    where = f"-h {shlex.quote(address)} " if address else ""
    return host.run(
        f"cd / && {env}runuser -u {unix_user} -- psql -XAtq -w {where}"
        f"-U {role} -d {database} -c {shlex.quote(sql)}"
    )


def as_postgres(host, sql):
    return host.check_output(f"cd / && runuser -u postgres -- psql -XAtq -c {shlex.quote(sql)}")


def test_server_runs_and_listens_on_loopback_only(host):
    assert host.service("postgresql@15-main").is_running
    listening = host.check_output("ss -Hltn 'sport = :5432'").splitlines()
    addresses = sorted(line.split()[3].rsplit(":", 1)[0] for line in listening)
    assert addresses == ["127.0.0.1", "[::1]"]


def test_settings_in_force(host):
    settings = dict(
        line.split("|")
        for line in as_postgres(
            host,
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
            "('password_encryption', 'listen_addresses', 'max_connections', 'shared_buffers', "
            "'effective_cache_size', 'work_mem', 'maintenance_work_mem')",
        ).splitlines()
    )
    # vars/instances.yml: a 512 MiB budget and 40 connections.
    assert settings == {
        "password_encryption": "scram-sha-256",
        "listen_addresses": "127.0.0.1,::1",
        "max_connections": "40",
        "shared_buffers": "128MB",
        "effective_cache_size": "384MB",
        "maintenance_work_mem": "32MB",
        "work_mem": "3276kB",
    }
    assert as_postgres(host, "SELECT count(*) FROM pg_settings WHERE pending_restart") == "0"
    errors = "SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL"
    assert as_postgres(host, errors) == "0"
    errors = "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"
    assert as_postgres(host, errors) == "0"


def test_pg_hba_opens_each_database_to_its_owner_only(host):
    rules = as_postgres(
        host,
        "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','), "
        "coalesce(address, ''), auth_method FROM pg_hba_file_rules ORDER BY line_number",
    ).splitlines()
    assert rules == [
        "local|all|postgres||peer",
        "local|test_a|test_a||scram-sha-256",
        "host|test_a|test_a|127.0.0.1|scram-sha-256",
        "host|test_a|test_a|::1|scram-sha-256",
        "local|test_b|test_b||scram-sha-256",
        "host|test_b|test_b|127.0.0.1|scram-sha-256",
        "host|test_b|test_b|::1|scram-sha-256",
    ]


def test_passwords_are_stored_as_scram_sha_256(host):
    rows = as_postgres(
        host,
        "SELECT rolname || '|' || (rolpassword LIKE 'SCRAM-SHA-256$%') FROM pg_authid "
        "WHERE rolname LIKE 'test\\_%' ORDER BY rolname",
    ).splitlines()
    assert rows == ["test_a|true", "test_b|true", "test_c|true"]


def test_databases_are_owned_by_their_role_and_closed_to_public(host):
    rows = as_postgres(
        host,
        "SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), "
        "has_database_privilege('test_a', 'test_b', 'CONNECT'), "
        "has_database_privilege('test_b', 'test_a', 'CONNECT'), "
        "has_database_privilege('test_a', datname, 'TEMPORARY') "
        "FROM pg_database WHERE datname LIKE 'test\\_%' ORDER BY datname",
    ).splitlines()
    assert rows == [
        "test_a|test_a|UTF8|f|f|t",
        "test_b|test_b|UTF8|f|f|f",
        "test_c|test_c|UTF8|f|f|f",
    ]


@pytest.mark.parametrize("address", TRANSPORTS, ids=["socket", "ipv4", "ipv6"])
@pytest.mark.parametrize("instance", [A, B], ids=["A", "B"])
def test_each_instance_connects_to_its_own_database(host, instance, address):
    unix_user, name, password = instance
    sql = "SELECT current_user || '@' || current_database()"
    result = psql(host, unix_user, name, name, password, address, sql)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == f"{name}@{name}"


@pytest.mark.parametrize("address", TRANSPORTS, ids=["socket", "ipv4", "ipv6"])
def test_a_cannot_reach_b_database_with_its_own_credentials(host, address):
    unix_user, role, password = A
    result = psql(host, unix_user, role, B[1], password, address)
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr
    assert f'user "{role}", database "{B[1]}"' in result.stderr


@pytest.mark.parametrize("address", TRANSPORTS, ids=["socket", "ipv4", "ipv6"])
def test_a_cannot_log_in_as_b_without_b_password(host, address):
    unix_user, _role, password = A
    without = psql(host, unix_user, B[1], B[1], None, address)
    assert without.rc != 0
    assert "no password supplied" in without.stderr
    with_a_password = psql(host, unix_user, B[1], B[1], password, address)
    assert with_a_password.rc != 0
    assert f'password authentication failed for user "{B[1]}"' in with_a_password.stderr


def test_no_password_free_way_in(host):
    # Not even to its own database through the socket (no peer or trust for the instances)…
    own = psql(host, A[0], A[1], A[1], None, None)
    assert own.rc != 0
    assert "no password supplied" in own.stderr
    # … and not as the administrator.
    admin = psql(host, A[0], "postgres", "postgres", None, None)
    assert admin.rc != 0
    assert 'Peer authentication failed for user "postgres"' in admin.stderr


@pytest.mark.parametrize("address", TRANSPORTS, ids=["socket", "ipv4", "ipv6"])
def test_a_suspended_instance_cannot_log_in_but_keeps_its_database(host, address):
    unix_user, name, password = C
    result = psql(host, unix_user, name, name, password, address)
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr
    assert as_postgres(host, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'test_c'") == "f"
    assert as_postgres(host, "SELECT count(*) FROM pg_database WHERE datname = 'test_c'") == "1"


def test_bad_configuration_is_refused_and_the_files_in_force_stay(host):
    files = "/etc/postgresql/15/main/pg_hba.conf /etc/postgresql/15/main/conf.d/50-chaton.conf"
    before = host.check_output(f"sha256sum {files}")
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_CACHE_PLUGIN="memory",
    )
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            f"{HOST},",
            "-c",
            "containers.podman.podman",
            str(SCENARIO / "refuse_bad_config.yml"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "rescued=2" in run.stdout
    assert host.check_output(f"sha256sum {files}") == before
    assert not host.file("/etc/postgresql/15/main/pg_hba.conf.chaton-previous").exists
    # The server still runs on the rules in force.
    result = psql(host, A[0], A[1], A[1], A[2], "127.0.0.1")
    assert result.rc == 0, result.stderr
