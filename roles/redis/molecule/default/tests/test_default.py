"""The redis role on its test host: each instance reaches its own Redis, and only it."""

from __future__ import annotations

import shlex

import pytest

# The instances of converge.yml: name (= its Unix user and ACL user), password.
A = ("chaton-test-a", "fake-redis-password-of-a")
B = ("chaton-test-b", "fake-redis-password-of-b")
C = ("chaton-test-c", "fake-redis-password-of-c")
WEB = "chaton-test-web"  # member of the group B's socket is shared with


def socket(name: str) -> str:
    return f"/run/redis-{name}/redis-server.sock"


def cli(host, unix_user, name, *command, password=None, acl_user=None):
    """redis-cli as `unix_user` on the socket of instance `name`; output of stdout and stderr."""
    auth = ""
    if password is not None:
        auth = f"--pass {shlex.quote(password)} --no-auth-warning "
        if acl_user is not None:
            auth = f"--user {shlex.quote(acl_user)} " + auth
    args = " ".join(shlex.quote(c) for c in command)
    result = host.run(f"cd / && runuser -u {unix_user} -- redis-cli -s {socket(name)} {auth}{args}")
    return (result.stdout + result.stderr).strip()


def main_pid_status(host, name):
    pid = host.check_output(f"systemctl show -p MainPID --value redis-server@{name}.service")
    assert pid != "0", f"redis-server@{name} has no main process"
    return dict(
        line.split(":", 1) for line in host.file(f"/proc/{pid}/status").content_string.splitlines()
    )


@pytest.mark.parametrize("name", [A[0], B[0]])
def test_instances_run_as_their_own_user(host, name):
    service = host.service(f"redis-server@{name}")
    assert service.is_enabled
    assert service.is_running
    status = main_pid_status(host, name)
    uid = host.user(name).uid
    assert status["Uid"].split() == [str(uid)] * 4


def test_no_tcp_port(host):
    assert "redis" not in host.check_output("ss -Hltnp")
    assert host.check_output("ss -Hltn 'sport = :6379'") == ""


def test_sockets_belong_to_their_instance(host):
    a = host.file(socket(A[0]))
    assert a.is_socket
    assert (a.user, a.group, a.mode) == (A[0], A[0], 0o660)
    b = host.file(socket(B[0]))
    assert (b.user, b.group, b.mode) == (B[0], WEB, 0o660)


def test_configuration_is_root_only(host):
    for name, password in (A, B, C):
        conf = host.file(f"/etc/redis/redis-{name}.conf")
        assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o600)
        assert f'requirepass "{password}"' in conf.content_string
        assert "port 0" in conf.content_string
    # The instance itself cannot read it: systemd hands it over on standard input.
    denied = host.run(f"runuser -u {A[0]} -- cat /etc/redis/redis-{A[0]}.conf")
    assert denied.rc != 0
    assert "Permission denied" in denied.stderr


@pytest.mark.parametrize("acl_user", [None, A[0]], ids=["default-user", "acl-user"])
def test_a_uses_its_own_redis(host, acl_user):
    name, password = A
    assert cli(host, name, name, "SET", "owner", "a", password=password, acl_user=acl_user) == "OK"
    assert cli(host, name, name, "GET", "owner", password=password, acl_user=acl_user) == "a"
    whoami = cli(host, name, name, "ACL", "WHOAMI", password=password, acl_user=acl_user)
    assert whoami == (acl_user or "default")


def test_b_uses_its_own_redis_through_its_shared_group(host):
    name, password = B
    assert cli(host, name, name, "SET", "owner", "b", password=password) == "OK"
    assert cli(host, WEB, name, "GET", "owner", password=password, acl_user=name) == "b"


def test_a_cannot_reach_b_socket(host):
    out = cli(host, A[0], B[0], "PING", password=A[1])
    assert "Permission denied" in out
    out = cli(host, A[0], B[0], "PING")
    assert "Permission denied" in out


@pytest.mark.parametrize("acl_user", [None, A[0]], ids=["default-user", "acl-user"])
def test_a_password_does_not_open_b(host, acl_user):
    # From a client allowed on B's socket (root, then B's shared group): A's password fails.
    for unix_user in ("root", WEB):
        out = cli(host, unix_user, B[0], "GET", "owner", password=A[1], acl_user=acl_user)
        assert "WRONGPASS" in out
        assert "b" not in out.split()


def test_no_password_no_access(host):
    for name, unix_user in ((A[0], A[0]), (B[0], WEB)):
        assert "NOAUTH" in cli(host, unix_user, name, "GET", "owner")
        assert "NOAUTH" in cli(host, unix_user, name, "KEYS", "*")


def test_each_instance_has_its_own_keys(host):
    cli(host, A[0], A[0], "SET", "only-in-a", "1", password=A[1])
    assert cli(host, B[0], B[0], "EXISTS", "only-in-a", password=B[1]) == "0"


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("CONFIG", "GET", "dir"),
        ("CONFIG", "SET", "dir", "/var/lib"),
        ("DEBUG", "SLEEP", "0"),
        ("ACL", "SETUSER", "intruder", "on", ">x", "+@all"),
        ("MODULE", "LIST"),
        ("MONITOR",),
        ("SHUTDOWN",),
        ("BGSAVE",),
    ],
    ids=lambda c: "-".join(c[:2]).lower(),
)
@pytest.mark.parametrize("acl_user", [None, A[0]], ids=["default-user", "acl-user"])
def test_administration_is_denied(host, acl_user, command):
    out = cli(host, A[0], A[0], *command, password=A[1], acl_user=acl_user)
    # Denied by the ACL, or for DEBUG before it by enable-debug-command no.
    assert out.startswith("NOPERM") or out.startswith("ERR DEBUG command not allowed"), out
    assert host.service(f"redis-server@{A[0]}").is_running


def test_memory_limit_and_policy(host):
    def info(name, password):
        lines = cli(host, name, name, "INFO", "memory", password=password).splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    a = info(*A)
    assert (a["maxmemory"], a["maxmemory_policy"]) == (str(64 * 2**20), "volatile-lru")
    b = info(*B)
    assert (b["maxmemory"], b["maxmemory_policy"]) == (str(32 * 2**20), "allkeys-lru")


def test_no_persistence(host):
    name, password = A
    persistence = cli(host, name, name, "INFO", "persistence", password=password)
    assert "aof_enabled:0" in persistence
    assert 'save ""' in host.file(f"/etc/redis/redis-{name}.conf").content_string
    data = host.file(f"/var/lib/redis-{name}")
    assert (data.user, data.mode) == (name, 0o700)
    assert host.check_output(f"ls -A /var/lib/redis-{name}") == ""


def test_suspended_instance_is_stopped(host):
    service = host.service(f"redis-server@{C[0]}")
    assert not service.is_running
    assert not service.is_enabled
    assert host.file(f"/etc/redis/redis-{C[0]}.conf").exists


def test_default_instance_is_off(host):
    service = host.service("redis-server")
    assert not service.is_running
    assert not service.is_enabled
