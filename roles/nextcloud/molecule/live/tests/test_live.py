"""The real Nextcloud, deployed by the role: installed at the version asked for, its own setup
checks without an error, each vhost answering with Nextcloud's login page."""

from __future__ import annotations

import json
import os

import pytest
from scenario_tools import occ

VERSION = os.environ["NEXTCLOUD_LIVE_VERSION"]


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_installed_at_the_version_asked_for(host, name):
    status = json.loads(occ(host, name, "status", "--output=json").stdout)
    assert status["installed"] is True and status["versionstring"] == VERSION
    assert status["maintenance"] is False and status["needsDbUpgrade"] is False
    assert "test release" not in status.get("productname", "").lower()


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_setup_checks_report_no_error(host, name):
    checks = json.loads(occ(host, name, "setupchecks", "--output=json").stdout)
    errors = [
        f"{category}/{check}: {result.get('description')}"
        for category, results in checks.items()
        for check, result in results.items()
        if result.get("severity") == "error"
    ]
    assert errors == []


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_the_vhost_serves_nextclouds_login(host, name):
    domain = f"cloud.{name}.example"
    page = host.run(
        f"curl -skL --max-time 30 --resolve {domain}:443:127.0.0.1 https://{domain}/login"
    )
    assert page.rc == 0 and "Nextcloud" in page.stdout
