"""The nextcloud role against the real Nextcloud release (roles/nextcloud/molecule/live).

It needs what these test machines do not have: Nextcloud's release server, and the project's
copy of Nextcloud's signing key (chaton/artifact_keys/nextcloud.asc). Where either is missing the
test is skipped and says which; elsewhere it fetches and verifies the release with `chaton
artifacts fetch`, then runs the scenario."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import BIN, run_live_scenario, tool_env

from chaton import artifacts

pytestmark = pytest.mark.container

# The release the live scenario deploys (override with NEXTCLOUD_LIVE_VERSION).
VERSION = os.environ.get("NEXTCLOUD_LIVE_VERSION", "31.0.0")


def upstream_problem() -> str | None:
    """Why Nextcloud's release server cannot be used from here, or None."""
    url = artifacts.artifact_kind("nextcloud").base_url
    try:
        # The release folder of KINDS: an https address written in the code.
        request = urllib.request.Request(url, method="HEAD")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            return None
    except (urllib.error.URLError, OSError) as error:
        return f"{url} is out of reach ({error})"


def test_live_release(tmp_path: Path) -> None:
    problem = upstream_problem()
    if problem is not None:
        pytest.skip(f"live Nextcloud scenario skipped: {problem}")
    key = artifacts.KEYS_DIR / "nextcloud.asc"
    if not key.is_file():
        pytest.skip(
            f"live Nextcloud scenario skipped: no signing key at {key} (see chaton artifacts)"
        )
    cache = tmp_path / "artifacts"
    env = tool_env(CHATON_ARTIFACTS_DIR=str(cache), NEXTCLOUD_LIVE_VERSION=VERSION)
    fetched = subprocess.run(
        [str(BIN / "chaton"), "artifacts", "fetch", "nextcloud", VERSION],
        env=env, capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    run_live_scenario("nextcloud", env)
