"""The container harness: apt sources read from the host, settings shared with molecule."""

from __future__ import annotations

import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from support import ROOT, run_group

from chaton import containers
from chaton.errors import ChatonError

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.test/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.test/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://thirdparty.test/node_20.x
Suites: nodistro
Components: main

Types: deb-src
URIs: http://mirror.test/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://mirror.test/disabled
Suites: bookworm-backports
Components: main
Enabled: no
"""

ONE_LINE = """\
deb [arch=amd64] https://cloud.test/apt cloud-sdk-bookworm main
deb http://old.test/debian bookworm-backports main non-free
# deb http://commented.test/debian bookworm main
"""


def test_parse_keeps_only_debian_bookworm_binary_sources() -> None:
    found = containers.parse_apt_sources([DEB822], [ONE_LINE])
    assert found == [
        containers.AptSource(
            ("http://mirror.test/debian",),
            ("bookworm", "bookworm-updates"),
            ("main", "contrib"),
            "/usr/share/keyrings/debian-archive-keyring.gpg",
        ),
        containers.AptSource(
            ("http://mirror.test/debian-security",),
            ("bookworm-security",),
            ("main",),
            "/usr/share/keyrings/debian-archive-keyring.gpg",
        ),
        containers.AptSource(
            ("http://old.test/debian",), ("bookworm-backports",), ("main", "non-free")
        ),
    ]


def test_render_sources_is_deb822_apt_can_read() -> None:
    text = containers.render_sources(containers.parse_apt_sources([DEB822], []))
    stanzas = text.strip().split("\n\n")
    assert len(stanzas) == 2
    assert stanzas[0].splitlines() == [
        "Types: deb",
        "URIs: http://mirror.test/debian",
        "Suites: bookworm bookworm-updates",
        "Components: main contrib",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
    ]


def test_host_without_debian_mirror_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb https://thirdparty.test/apt stable main\n")
    with pytest.raises(ChatonError, match="no Debian bookworm mirror"):
        containers.host_apt_sources(tmp_path)


def test_containers_conf_is_what_the_hosts_need() -> None:
    conf = tomllib.loads((ROOT / ".config" / "containers.conf").read_text())
    assert conf["engine"]["runtime"] == "runc"
    ulimits = dict(u.split("=", 1) for u in conf["containers"]["default_ulimits"])
    soft, hard = (int(v) for v in ulimits["nofile"].split(":"))
    assert soft <= hard <= 20000  # the hosts' hard limit on open files
    assert "NET_ADMIN" in conf["containers"]["default_capabilities"]
    # Each container has its own apt cache: apt locks its archive folder, a shared one fails.
    assert "volumes" not in conf["containers"]
    assert containers.apt_cache_dir("a") != containers.apt_cache_dir("b")


def test_molecule_uses_the_harness_and_the_shared_conf() -> None:
    base = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    playbooks = base["ansible"]["playbooks"]
    assert playbooks["create"].endswith("/molecule/shared/create.yml")
    assert playbooks["destroy"].endswith("/molecule/shared/destroy.yml")
    assert base["ansible"]["env"]["CONTAINERS_CONF"].endswith("/.config/containers.conf")
    create = (ROOT / "molecule" / "shared" / "create.yml").read_text()
    assert "'container', 'start'" in create
    # A scenario's published ports go to the harness, which refuses anything but 127.0.0.1.
    assert "published_ports" in create and "--publish=" in create


def test_ports_are_published_on_loopback_only() -> None:
    host = containers.TestHost(name="chaton-test-never-started", publish=("8443:443",))
    with pytest.raises(ChatonError, match=r"127\.0\.0\.1 only"):
        containers.start(host)
    assert not containers.exists(host.name)


def test_a_timed_out_command_takes_its_children_along(tmp_path: Path) -> None:
    """run_group (the molecule steps' runner): on timeout, the child the command started dies
    too, not the command alone."""
    pid_file = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pid_file}; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        run_group(["sh", "-c", script], timeout=2)
    child = int(pid_file.read_text())
    for _attempt in range(50):
        if not Path(f"/proc/{child}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists()
    # Without a timeout, its output comes back as subprocess.run's would.
    done = run_group(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
