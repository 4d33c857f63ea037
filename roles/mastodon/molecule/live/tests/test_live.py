"""The real Mastodon, deployed by the role: each instance answers through nginx as itself, at the
version asked for, its streaming server too, its units sandboxed, its accounts created."""

from __future__ import annotations

import json
import os
import re
import shlex

import pytest

VERSION = os.environ["MASTODON_LIVE_VERSION"]
DOMAINS = {"shared": "social.collectif.example", "gamma": "social.gamma.example"}


def fetch(host, name: str, path: str) -> str:
    domain = DOMAINS[name]
    answer = host.run(
        f"curl -sfk --max-time 30 --resolve {domain}:443:127.0.0.1 "
        + shlex.quote(f"https://{domain}{path}")
    )
    assert answer.rc == 0, answer.stderr
    return answer.stdout


@pytest.mark.parametrize("name", ["shared", "gamma"])
def test_each_instance_answers_as_itself_at_the_version_asked_for(host, name):
    assert fetch(host, name, "/health") == "OK"
    assert fetch(host, name, "/api/v1/streaming/health") == "OK"
    instance = json.loads(fetch(host, name, "/api/v2/instance"))
    assert instance["domain"] == DOMAINS[name]
    assert instance["version"].startswith(VERSION)
    assert "test release" not in instance.get("title", "").lower()


@pytest.mark.parametrize("process", ["web", "sidekiq", "streaming"])
@pytest.mark.parametrize("name", ["shared", "gamma"])
def test_units_run_sandboxed(host, name, process):
    unit = f"mastodon-{process}@{name}.service"
    assert host.service(unit).is_running
    analysed = host.run(f"systemd-analyze security --offline=no --no-pager {unit}").stdout
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", analysed)
    assert level and float(level.group(1)) <= 3.0, analysed[-500:]


def test_accounts_exist_on_the_shared_instance(host):
    query = shlex.quote("SELECT username FROM accounts WHERE domain IS NULL ORDER BY username")
    rows = host.check_output(
        f"runuser -u postgres -- psql --no-psqlrc -tA -d mastodon_shared -c {query}"
    ).split()
    assert {"chaton_admin", "alpha_asso", "beta"} <= set(rows)
