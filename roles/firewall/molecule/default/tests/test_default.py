"""The firewall role on a test host, checked from inside it and from a second container."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chaton import containers

HOST = "chaton-test-firewall"
PROBE = "chaton-test-firewall-probe"
BANNED = "198.51.100.7"  # TEST-NET-2: no real client is ever banned by the test

# Run inside the probe container: "open", "timeout" (the packet was dropped) or "refused".
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
else:
    print("open")
"""


def _ruleset(host) -> dict:
    out = host.check_output("nft --json list table inet chaton_filter")
    return json.loads(out)


def _chain(ruleset: dict, name: str) -> dict:
    for item in ruleset["nftables"]:
        if "chain" in item and item["chain"]["name"] == name:
            return item["chain"]
    raise AssertionError(f"no chain {name} in inet chaton_filter")


@pytest.fixture(scope="module")
def probe() -> Iterator[containers.TestHost]:
    with containers.running(containers.TestHost(name=PROBE)) as probe:
        yield probe


@pytest.fixture(scope="module")
def address() -> str:
    ip = containers.podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", HOST).stdout.strip()
    assert ip, f"{HOST} has no address on podman's network"
    return ip


def _connect(probe: containers.TestHost, address: str, port: int) -> str:
    result = containers.exec_in(probe.name, "python3", "-c", CONNECT, address, str(port))
    return result.stdout.strip()


def test_input_policy_is_drop(host):
    assert _chain(_ruleset(host), "input")["policy"] == "drop"
    assert _chain(_ruleset(host), "forward")["policy"] == "drop"
    assert _chain(_ruleset(host), "output")["policy"] == "accept"


def test_ruleset_file_replaces_only_its_table(host):
    statements = [
        line.strip()
        for line in host.file("/etc/nftables.conf").content_string.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert statements[:2] == ["table inet chaton_filter", "delete table inet chaton_filter"]
    assert not [s for s in statements if s.startswith("flush")]


def test_services_are_enabled_and_running(host):
    for name in ("nftables", "fail2ban"):
        service = host.service(name)
        assert service.is_enabled
    assert host.service("fail2ban").is_running
    assert host.run("systemctl is-active nftables").stdout.strip() == "active"


def test_listeners_run_on_both_ports(host):
    # Both answer on the host itself (loopback is accepted): only the firewall tells them apart.
    assert host.socket("tcp://0.0.0.0:8080").is_listening
    assert host.socket("tcp://0.0.0.0:8081").is_listening
    for port in (8080, 8081):
        assert host.run(f"python3 -c '{CONNECT}' 127.0.0.1 {port}").stdout.strip() == "open"


def test_fail2ban_watches_sshd_in_the_journal(host):
    status = host.run("fail2ban-client status sshd")
    assert status.rc == 0, status.stderr
    assert "Journal matches" in status.stdout
    assert "_COMM=sshd" in status.stdout


def test_opened_ports_answer_and_others_are_dropped(probe, address):
    assert _connect(probe, address, 22) == "open"
    assert _connect(probe, address, 8080) == "open"
    assert _connect(probe, address, 8081) == "timeout"


def test_reload_keeps_the_rules_and_fail2ban_bans(host, probe, address):
    host.check_output(f"fail2ban-client set sshd banip {BANNED}")
    try:
        assert BANNED in host.check_output("nft list table inet f2b-table")
        host.check_output("systemctl reload nftables")
        assert _chain(_ruleset(host), "input")["policy"] == "drop"
        assert BANNED in host.check_output("nft list table inet f2b-table")
        assert _connect(probe, address, 8080) == "open"
        assert _connect(probe, address, 8081) == "timeout"
    finally:
        host.run(f"fail2ban-client set sshd unbanip {BANNED}")
