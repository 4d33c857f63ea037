"""The mastodon role against a prepared real Mastodon release (roles/mastodon/molecule/live).

A prepared release (Mastodon's source at its tag, its gems vendored, its assets compiled) is made
where Mastodon's sources, gems and npm packages can be downloaded, then put in the control
node's artifact cache (roles/mastodon/README.md). These test machines cannot download them: where
the cache holds no prepared release of the version, the test is skipped and says so."""

from __future__ import annotations

import os

import pytest
from support import run_live_scenario, tool_env

from chaton import artifacts
from chaton.commands.demo import real_release_ok

pytestmark = pytest.mark.container

# The release the live scenario deploys (override with MASTODON_LIVE_VERSION).
VERSION = os.environ.get("MASTODON_LIVE_VERSION", "4.3.0")


def test_live_release() -> None:
    cache = artifacts.default_cache()
    if not real_release_ok("mastodon", VERSION):
        pytest.skip(
            f"live Mastodon scenario skipped: no prepared release of Mastodon {VERSION} in the "
            f"artifact cache {cache / 'mastodon' / VERSION} (roles/mastodon/README.md says what "
            "a prepared release is; its sources and gems cannot be downloaded here)"
        )
    env = tool_env(CHATON_ARTIFACTS_DIR=str(cache), MASTODON_LIVE_VERSION=VERSION)
    run_live_scenario("mastodon", env)
