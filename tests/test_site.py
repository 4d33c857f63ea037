"""The whole site on a fresh test host standing in for the example's server.

The first deploy runs with the accelerator (Mitogen), the second with Ansible's standard
strategy: the standard path works, and the site is idempotent (changed == 0, from the stats).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support import ROOT

from chaton import containers
from chaton.runner import run_playbook

SITE = ROOT / "playbooks" / "site.yml"
EXAMPLE = ROOT / "inventories" / "example"
HOST = containers.TestHost(name="chaton-test-site", hostname="fabrique-1")


def inventory_for_test_host(tmp_path: Path) -> Path:
    """The example inventory, with fabrique-1 reached as the test host."""
    data = yaml.safe_load((EXAMPLE / "hosts.yml").read_text())
    servers = data["all"]["children"]["chaton_servers"]["hosts"]
    assert list(servers) == ["fabrique-1"]
    servers["fabrique-1"]["ansible_host"] = HOST.name
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(data))
    (tmp_path / "group_vars").symlink_to(EXAMPLE / "group_vars")
    return tmp_path / "hosts.yml"


@pytest.mark.container
def test_site_converges_then_is_idempotent_on_the_standard_path(tmp_path: Path) -> None:
    inventory = inventory_for_test_host(tmp_path)
    # Facts are cached for this test only: each test host is new.
    cached = {"runs_dir": tmp_path / "runs", "fact_cache": tmp_path / "facts"}
    with containers.running(HOST):
        first = run_playbook(SITE, inventory, **cached)
        assert first.succeeded, first.failed_tasks or first.output_tail
        assert first.hosts["fabrique-1"].changed > 0
        second = run_playbook(SITE, inventory, accelerator=False, **cached)
        assert second.succeeded, second.failed_tasks or second.output_tail
        assert second.hosts["fabrique-1"].changed == 0, second.changed_tasks
        # The base is really there: key-only sshd, the firewall's table, the admin account.
        sshd = containers.exec_in(HOST.name, "sshd", "-T").stdout.splitlines()
        assert "passwordauthentication no" in sshd
        table = containers.exec_in(HOST.name, "nft", "list", "table", "inet", "chaton_filter")
        assert "policy drop" in table.stdout
        assert containers.exec_in(HOST.name, "id", "-nG", "camille").stdout.split() == [
            "camille",
            "chaton-admins",
        ]
    assert not containers.exists(HOST.name)
